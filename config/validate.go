package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// maxNameLen bounds repo and mirror names, which become file names.
const maxNameLen = 128

// nameProblem says what is wrong with a repo or mirror name, or "".
func nameProblem(name string) string {
	switch {
	case name == "":
		return "must not be empty"
	case len(name) > maxNameLen:
		return fmt.Sprintf("longer than %d characters", maxNameLen)
	case name == "." || name == "..":
		return `must not be "." or ".."`
	}
	for _, c := range name {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return "may only hold letters, digits, '.', '_' and '-'"
		}
	}
	return ""
}

// checkURL validates raw as an origin (allowFile) or mirror URL and returns
// it normalized: scheme in lower case, path ending in "/". The problem it
// returns never repeats raw, which may hold a password.
func checkURL(raw string, allowFile bool) (normalized, problem string) {
	want := "http:// or https://"
	if allowFile {
		want = "http://, https:// or file://"
	}
	if raw == "" {
		return "", "empty URL"
	}
	u, err := url.Parse(raw)
	if err != nil {
		// The parser's message may quote part of the URL; only use it when
		// there is no userinfo to leak.
		var ue *url.Error
		if errors.As(err, &ue) && !strings.Contains(raw, "@") {
			return "", "not a valid URL: " + ue.Err.Error()
		}
		return "", "not a valid URL"
	}
	if u.User != nil {
		if allowFile {
			return "", "credentials must not be written in the URL: put them in a file and name it with origin_auth_file"
		}
		return "", "credentials must not be written in the URL: a mirror's URL is published in the mirrorlist and metalink for every client to read"
	}
	switch u.Scheme = strings.ToLower(u.Scheme); u.Scheme {
	case "":
		return "", "not an absolute URL: want " + want
	case "http", "https":
		if u.Opaque != "" || u.Hostname() == "" {
			return "", "no host: want " + u.Scheme + "://HOST/PATH"
		}
	case "file":
		if !allowFile {
			return "", "scheme file is not supported here: want " + want
		}
		if u.Host != "" && u.Host != "localhost" {
			return "", fmt.Sprintf("a file URL has no host (found %q): write file:///absolute/path", u.Host)
		}
		if u.Opaque != "" || !path.IsAbs(u.Path) {
			return "", "a file URL needs an absolute path: write file:///absolute/path"
		}
		u.Host = ""
		u.Path = path.Clean(u.Path)
		u.RawPath = ""
	default:
		return "", fmt.Sprintf("scheme %q is not supported: want %s", u.Scheme, want)
	}
	if u.RawQuery != "" || u.ForceQuery {
		return "", "a query (?...) is not allowed"
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return "", "a fragment (#...) is not allowed"
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
		if u.RawPath != "" {
			u.RawPath += "/"
		}
	}
	return u.String(), ""
}

// checkListURL validates raw as the URL of a metalink or mirrorlist and
// returns it with its scheme in lower case. Unlike a repository's URL it
// may have a query (?repo=epel-9&arch=x86_64) and is not made to end in
// "/". The problem it returns never repeats raw.
func checkListURL(raw string) (normalized, problem string) {
	if raw == "" {
		return "", "empty URL"
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) && !strings.Contains(raw, "@") {
			return "", "not a valid URL: " + ue.Err.Error()
		}
		return "", "not a valid URL"
	}
	if u.User != nil {
		return "", "credentials must not be written in the URL: put them in a file and name it with origin_auth_file"
	}
	switch u.Scheme = strings.ToLower(u.Scheme); u.Scheme {
	case "http", "https":
		if u.Opaque != "" || u.Hostname() == "" {
			return "", "no host: want " + u.Scheme + "://HOST/PATH"
		}
	case "file":
		if u.Opaque != "" || !path.IsAbs(u.Path) || (u.Host != "" && u.Host != "localhost") {
			return "", "a file URL needs an absolute path and no host: write file:///absolute/path"
		}
	case "":
		return "", "not an absolute URL: want http://, https:// or file://"
	default:
		return "", fmt.Sprintf("scheme %q is not supported: want http://, https:// or file://", u.Scheme)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return "", "a fragment (#...) is not allowed"
	}
	return u.String(), ""
}

// listenProblem says what is wrong with a listen address, or "".
func listenProblem(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "want HOST:PORT, such as 127.0.0.1:8080 or :8080"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Sprintf("port %q is not a number from 0 to 65535", port)
	}
	if host != "" && net.ParseIP(host) == nil && nameProblem(host) != "" && !strings.Contains(host, ".") {
		return fmt.Sprintf("host %q is not an IP address or a host name", host)
	}
	return ""
}

// webhookProblem says what is wrong with an alert webhook URL, or "". A
// query is allowed (webhook services put tokens there); credentials in
// the URL are not.
func webhookProblem(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "not a valid URL"
	}
	if u.User != nil {
		return "credentials must not be written in the URL"
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "want an http:// or https:// URL"
	}
	if u.Host == "" {
		return "no host: want " + u.Scheme + "://HOST/PATH"
	}
	return ""
}

// redact hides the userinfo of a URL for messages: the password of
// "https://user:pass@host/" and all of "https://token@host/". A string
// that does not parse as a URL with a host but holds an "@" is redacted
// up to its last "@".
func redact(s string) string {
	at := strings.LastIndex(s, "@")
	if at < 0 {
		return s
	}
	if u, err := url.Parse(s); err == nil && u.Host != "" {
		if u.User == nil {
			return s // the "@" is in the path, query or fragment
		}
		start := strings.Index(s, "//") + 2
		authority := s[start:]
		if end := strings.IndexAny(authority, "/?#"); end >= 0 {
			authority = authority[:end]
		}
		userinfo := authority[:strings.LastIndex(authority, "@")]
		hidden := "xxxxx"
		if user, _, hasPass := strings.Cut(userinfo, ":"); hasPass {
			hidden = user + ":xxxxx"
		}
		return s[:start] + hidden + s[start+len(userinfo):]
	}
	start := 0
	if i := strings.Index(s, "://"); i >= 0 && i < at {
		start = i + 3
	}
	return s[:start] + "xxxxx" + s[at:]
}

// within reports whether p is dir or inside it; both are clean absolute
// paths.
func within(p, dir string) bool {
	return p == dir || dir == "/" || (strings.HasPrefix(p, dir) && p[len(dir)] == '/')
}

// filePath returns the directory of a normalized file:// origin.
func filePath(origin string) (string, bool) {
	u, err := url.Parse(origin)
	if err != nil || u.Scheme != "file" {
		return "", false
	}
	return filepath.Clean(u.Path), true
}

// overlaps records written mirrors whose paths are the same as, or inside
// one another, or overlap state_dir or a file:// origin: one would
// overwrite or prune the other's files.
func (d *decoder) overlaps(c *Config) {
	type place struct {
		path string
		line int
		desc string
	}
	var origins []place
	for _, r := range c.Repos {
		for i, u := range r.OriginURLs() {
			if p, ok := filePath(u); ok {
				line := r.originLine
				if i < len(r.originLines) {
					line = r.originLines[i]
				}
				origins = append(origins, place{p, line, repoDesc(r)})
			}
		}
	}
	type bucketPlace struct {
		endpoint, bucket, prefix string
		line                     int
		desc                     string
	}
	var buckets []bucketPlace
	var written []place
	for _, r := range c.Repos {
		for _, m := range r.Mirrors {
			if m.S3 != nil {
				where := repoDesc(r) + ": " + mirrorDesc(m) + ": s3"
				here := bucketPlace{strings.ToLower(m.S3.Endpoint), m.S3.Bucket, m.S3.Prefix, or(m.S3.BucketLine, m.S3.Line), repoDesc(r) + " " + mirrorDesc(m)}
				for _, o := range buckets {
					if o.endpoint != here.endpoint || o.bucket != here.bucket {
						continue
					}
					switch {
					case here.prefix == o.prefix:
						d.errorf(here.line, where, "bucket %q prefix %q is also where %s is (line %d)", here.bucket, here.prefix, o.desc, o.line)
					case strings.HasPrefix(here.prefix, o.prefix):
						d.errorf(here.line, where, "bucket %q prefix %q is inside prefix %q of %s (line %d)", here.bucket, here.prefix, o.prefix, o.desc, o.line)
					case strings.HasPrefix(o.prefix, here.prefix):
						d.errorf(here.line, where, "bucket %q prefix %q contains prefix %q of %s (line %d)", here.bucket, here.prefix, o.prefix, o.desc, o.line)
					}
				}
				buckets = append(buckets, here)
			}
			if m.Path == "" {
				continue
			}
			where := repoDesc(r) + ": " + mirrorDesc(m)
			here := place{m.Path, m.pathLine, repoDesc(r) + " " + mirrorDesc(m)}
			for _, o := range written {
				switch {
				case here.path == o.path:
					d.errorf(here.line, where, "path %q is also the path of %s (line %d)", here.path, o.desc, o.line)
				case within(here.path, o.path):
					d.errorf(here.line, where, "path %q is inside the path %q of %s (line %d)", here.path, o.path, o.desc, o.line)
				case within(o.path, here.path):
					d.errorf(here.line, where, "path %q contains the path %q of %s (line %d)", here.path, o.path, o.desc, o.line)
				}
			}
			if s := c.StateDir; s != "" {
				switch {
				case within(here.path, s):
					d.errorf(here.line, where, "path %q is inside state_dir %q (line %d)", here.path, s, c.stateDirLine)
				case within(s, here.path):
					d.errorf(here.line, where, "path %q contains state_dir %q (line %d)", here.path, s, c.stateDirLine)
				}
			}
			for _, o := range origins {
				if within(here.path, o.path) || within(o.path, here.path) {
					d.errorf(here.line, where, "path %q overlaps the origin %q of %s (line %d)", here.path, "file://"+o.path, o.desc, o.line)
				}
			}
			written = append(written, here)
		}
	}
}

func repoDesc(r Repo) string {
	if r.Name == "" {
		return fmt.Sprintf("the repo at line %d", r.Line)
	}
	return fmt.Sprintf("repo %q", r.Name)
}

func mirrorDesc(m Mirror) string {
	if m.Name == "" {
		return fmt.Sprintf("the mirror at line %d", m.Line)
	}
	return fmt.Sprintf("mirror %q", m.Name)
}

// ChecksumTypes are the checksum types min_checksum accepts, weakest first.
var ChecksumTypes = []string{"md5", "sha1", "sha224", "sha256", "sha384", "sha512"}

// checksumStrength ranks a checksum type ("sha" is sha1); -1 for an
// unknown one.
func checksumStrength(typ string) int {
	if typ == "sha" {
		typ = "sha1"
	}
	return slices.Index(ChecksumTypes, strings.ToLower(typ))
}

// WeakerThan reports whether checksum type typ is weaker than min (both
// as min_checksum accepts them, "sha" meaning sha1); an unknown typ is
// weaker than anything.
func WeakerThan(typ, min string) bool {
	return checksumStrength(typ) < checksumStrength(min)
}

// parseSize parses "1048576", "512MiB", "4GiB", "2GB".
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("want a whole number of bytes, optionally with a unit (KiB, MiB, GiB, TiB)")
	}
	if n > (1<<62)/mult {
		return 0, fmt.Errorf("too large")
	}
	return n * mult, nil
}
