// Package redact hides the secrets a URL may carry (its userinfo and its
// query, where webhook services and presigned links put tokens) before the
// URL reaches a log, an error, the status page or a metric.
package redact

import (
	"errors"
	"net/url"
	"strings"
)

// Hidden replaces what is redacted.
const Hidden = "xxxxx"

// URL returns u with its secrets hidden: the password of
// "https://user:pass@host/" becomes "user:xxxxx", a userinfo without a
// password (a token) becomes "xxxxx", and a query becomes "?xxxxx". A
// string that does not parse as a URL is returned as "xxxxx" if it could
// hold a secret (an "@" or a "?"), as it is otherwise.
func URL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		for _, c := range u {
			if c == '@' || c == '?' {
				return Hidden
			}
		}
		return u
	}
	return hide(p).String()
}

func hide(p *url.URL) *url.URL {
	q := *p
	if q.User != nil {
		if _, ok := q.User.Password(); ok {
			q.User = url.UserPassword(q.User.Username(), Hidden)
		} else {
			q.User = url.User(Hidden)
		}
	}
	if q.RawQuery != "" {
		q.RawQuery = Hidden
	}
	q.ForceQuery = false
	return &q
}

// Error returns err with the secrets of the URLs that its chain names
// through *url.Error (which net/http's client returns, with the URL of the
// request that failed, redirects included) hidden from its message, even
// where a wrapper formatted that message already. The *url.Error values are
// changed in place, so errors.As finds them redacted too: call Error on
// errors this program just received. It returns nil for nil.
func Error(err error) error {
	if err == nil {
		return nil
	}
	var urls []string
	walk(err, func(ue *url.Error) {
		if r := URL(ue.URL); r != ue.URL {
			urls = append(urls, ue.URL, r)
			ue.URL = r
		}
	})
	if len(urls) == 0 {
		return err
	}
	msg := strings.NewReplacer(urls...).Replace(err.Error())
	return &redacted{msg: msg, err: err}
}

func walk(err error, fn func(*url.Error)) {
	for err != nil {
		if ue, ok := err.(*url.Error); ok {
			fn(ue)
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e, fn)
			}
			return
		}
		err = errors.Unwrap(err)
	}
}

// redacted is an error whose message had secrets taken out.
type redacted struct {
	msg string
	err error
}

func (r *redacted) Error() string { return r.msg }
func (r *redacted) Unwrap() error { return r.err }
