package mirrorlist

import (
	"bytes"
	"cmp"
	"slices"
	"strings"
	"time"
)

// DefaultPriority is the priority of a Mirror whose Priority is 0 (not
// set): mirrors given an explicit priority below 100 come before it,
// those given one above 100 after it.
const DefaultPriority = 100

// Mirror is one healthy mirror to list.
type Mirror struct {
	// URL is the base URL of the repository on the mirror, the directory
	// holding repodata/, ending in "/". A query string is allowed (see
	// the package comment); a fragment is not.
	URL string
	// Priority orders mirrors: lower is preferred. 0 means DefaultPriority.
	Priority int
	// Latency is the measured probe latency. It breaks ties within a
	// priority, lower first; 0 means not measured and sorts after every
	// measured latency.
	Latency time.Duration
	// Location is the mirror's ISO 3166 country code ("DE"), written as
	// the metalink url's location attribute when not empty. Neither dnf
	// nor librepo reads it.
	Location string
}

// priority is m's effective priority.
func (m Mirror) priority() int {
	if m.Priority == 0 {
		return DefaultPriority
	}
	return m.Priority
}

// Sort orders mirrors by priority (lower first, 0 counting as
// DefaultPriority), then by latency (lower first, unmeasured last), then by
// URL. Mirrors equal in all three keep their order.
func Sort(ms []Mirror) {
	slices.SortStableFunc(ms, compare)
}

func compare(a, b Mirror) int {
	if c := cmp.Compare(a.priority(), b.priority()); c != 0 {
		return c
	}
	if (a.Latency == 0) != (b.Latency == 0) {
		if a.Latency == 0 {
			return 1
		}
		return -1
	}
	if c := cmp.Compare(a.Latency, b.Latency); c != 0 {
		return c
	}
	return strings.Compare(a.URL, b.URL)
}

// FallbackComment is the comment line Text writes, before the origin's
// URL, when no mirror is listed.
const FallbackComment = "# no mirror is healthy: serving the origin instead"

// Text renders a dnf/yum mirrorlist: one base URL per line, in the order
// of ms (call Sort first), each listed once. URLs dnf could not use (see
// Usable) are left out. When no mirror is left it returns FallbackComment
// and then origin, so that clients fall back to the origin rather than
// fail; an origin that is not Usable is left out too, and dnf then fails
// with "No URLs in mirrorlist".
func Text(ms []Mirror, origin string) []byte {
	return TextFallback(ms, Fallback{URL: origin, Comment: strings.TrimPrefix(FallbackComment, "# ")})
}

// Fallback is what a list holds when no mirror is left in it: the
// origin, as a last resort, or nothing, and why.
type Fallback struct {
	// URL is the origin's base URL, listed when Usable; "" lists nothing
	// (dnf then fails with "No URLs in mirrorlist", rather than fetch what
	// must not be fetched).
	URL string
	// Comment says why, in one line: written after "# " in a mirrorlist
	// and as an XML comment in a metalink. Control characters, and "--"
	// which XML comments may not hold, are replaced.
	Comment string
}

// comment returns fb.Comment made safe for one comment line of either
// format.
func (fb Fallback) comment() string {
	var b strings.Builder
	prev := rune(0)
	for _, c := range strings.ToValidUTF8(fb.Comment, "\uFFFD") {
		if c < ' ' || c == 0x7f || (0x80 <= c && c <= 0x9f) || c == 0x2028 || c == 0x2029 {
			c = ' '
		}
		if c == '-' && prev == '-' {
			b.WriteByte(' ')
		}
		b.WriteRune(c)
		prev = c
	}
	return strings.TrimSpace(b.String())
}

// TextFallback is Text with what to write when no mirror is listed.
func TextFallback(ms []Mirror, fb Fallback) []byte {
	listed := usableMirrors(ms)
	if len(listed) == 0 {
		var b bytes.Buffer
		b.WriteString("# ")
		b.WriteString(fb.comment())
		b.WriteByte('\n')
		if fb.URL != "" && Usable(fb.URL) {
			b.WriteString(baseURL(fb.URL))
			b.WriteByte('\n')
		}
		return b.Bytes()
	}
	n := 0
	for _, m := range listed {
		n += len(m.URL) + 1
	}
	b := make([]byte, 0, n)
	for _, m := range listed {
		b = append(b, m.URL...)
		b = append(b, '\n')
	}
	return b
}

// maxURLLen is the longest URL listed. librepo reads mirrorlist lines
// with fgets into a 4096-byte buffer and would split a longer one in two.
const maxURLLen = 4000

// Usable reports whether dnf can use url as a mirror's base URL and
// whether it can be written into a mirrorlist line or a metalink as it
// is: a scheme followed by "://", at most 4000 bytes, printable ASCII
// only (no spaces, control characters or raw non-ASCII: percent-encode
// them), and no fragment ('#'), which librepo would leave in the middle
// of every URL it builds from the base.
func Usable(url string) bool {
	if len(url) > maxURLLen {
		return false
	}
	i := strings.Index(url, "://")
	if i < 1 || !isScheme(url[:i]) || i+3 == len(url) {
		return false
	}
	for j := 0; j < len(url); j++ {
		if c := url[j]; c <= ' ' || c >= 0x7f || c == '#' {
			return false
		}
	}
	return true
}

// isScheme reports whether s is an RFC 3986 scheme.
func isScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return s != ""
}

// usableMirrors returns the mirrors of ms with a usable URL, in order, the
// URL normalized (see baseURL), each URL once.
func usableMirrors(ms []Mirror) []Mirror {
	out := make([]Mirror, 0, len(ms))
	var seen map[string]bool // for long lists; short ones are searched
	if len(ms) > 16 {
		seen = make(map[string]bool, len(ms))
	}
	for _, m := range ms {
		if !Usable(m.URL) {
			continue
		}
		m.URL = baseURL(m.URL)
		if seen != nil {
			if seen[m.URL] {
				continue
			}
			seen[m.URL] = true
		} else if slices.ContainsFunc(out, func(o Mirror) bool { return o.URL == m.URL }) {
			continue
		}
		out = append(out, m)
	}
	return out
}

// baseURL adds the trailing "/" to a base URL without one, unless it has a
// query string: librepo inserts paths before the '?', and a "/" added
// after the query would become part of its last value.
func baseURL(u string) string {
	if strings.HasSuffix(u, "/") || strings.Contains(u, "?") {
		return u
	}
	return u + "/"
}
