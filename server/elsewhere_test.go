package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rpmirror/rpmirror/mirrorlist"
	"github.com/rpmirror/rpmirror/selection"
)

// originFiles serves nothing from the mirrors; the origin has every file.
type originFiles struct{ origin string }

func (originFiles) Serves(int, string) bool { return false }
func (originFiles) Base(int) string         { return "" }
func (f originFiles) Origin(string) string  { return f.origin }

// TestProtocolNotOfTheOrigin: a request for ?protocol=https that no
// mirror offers is not answered with the origin when the origin is
// http, the last resort the lists fall back to (a failover test with
// dnf got the http origin for protocol=https); a request for http gets
// the mirror, and one without a protocol the fallback as before. The
// same for redirects.
func TestProtocolNotOfTheOrigin(t *testing.T) {
	const origin = "http://origin.example/el9/"
	cur := mirrorlist.Describe([]byte("<repomd/>"), 1)
	down := []mirrorlist.Mirror{{URL: "http://down.example/el9/"}}
	fb := mirrorlist.Fallback{URL: origin, Comment: "no mirror is healthy: serving the origin instead"}
	nfb := mirrorlist.Fallback{Comment: "no listed mirror offers the protocol asked, and the origin is http: listing nothing"}
	now := time.Unix(0, 0)
	live := &Live{}
	live.Store(&Repo{
		Set:   selection.NewSet([]selection.Mirror{{URL: down[0].URL, Weight: 100}}),
		Lists: mirrorlist.NewTemplate(cur, nil, down, mirrorlist.TextFallback(nil, fb), mirrorlist.MetalinkFallback(cur, nil, nil, fb, now), now),
		Files: originFiles{origin},
		Elsewhere: Elsewhere{Scheme: "http", Text: mirrorlist.TextFallback(nil, nfb),
			Metalink: mirrorlist.MetalinkFallback(cur, nil, nil, nfb, now)},
	})
	src := fixed{ms: &Mirrors{Catalog: NewCatalog([]Entry{{Name: "el9", MirrorlistName: "el9"}}), Live: []*Live{live}}}
	h := New(src, prometheus.NewRegistry(), nil)
	get := func(path string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.RemoteAddr = "127.0.0.1:4444"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for _, c := range []struct {
		path, want, not string
	}{
		{"/mirrorlist?repo=el9&protocol=https", "listing nothing", origin},
		{"/metalink?repo=el9&protocol=https", "listing nothing", origin},
		{"/mirrorlist?repo=el9&protocol=HTTPS", "listing nothing", origin}, // in any case, as country
		{"/mirrorlist?repo=el9&protocol=http", down[0].URL, origin},
		{"/mirrorlist?repo=el9", down[0].URL, origin},
	} {
		rec := get(c.path)
		if body := rec.Body.String(); rec.Code != 200 || !strings.Contains(body, c.want) || strings.Contains(body, c.not) {
			t.Errorf("%s: %d\n%s\nwant %q and not %q", c.path, rec.Code, body, c.want, c.not)
		}
	}
	if rec := get("/r/el9/Packages/a-1.rpm?protocol=https"); rec.Code != http.StatusNotFound {
		t.Errorf("redirect for https to an http origin: %d %s", rec.Code, rec.Header().Get("Location"))
	}
	if rec := get("/r/el9/Packages/a-1.rpm"); rec.Code != http.StatusFound || rec.Header().Get("Location") != origin+"Packages/a-1.rpm" {
		t.Errorf("redirect with no protocol asked: %d %q, want the origin", rec.Code, rec.Header().Get("Location"))
	}
}

// TestProtocolNoneOfTheMirrors: with mirrors listed, none of the
// protocol asked, and a last resort that lists nothing (the origin's
// revision refused), a request for that protocol is told no listed
// mirror offers it, not the last resort's reason that no mirror at all
// is up (an operator tester's); without a protocol, or with the
// mirrors', it gets the mirrors.
func TestProtocolNoneOfTheMirrors(t *testing.T) {
	cur := mirrorlist.Describe([]byte("<repomd/>"), 1)
	up := []mirrorlist.Mirror{{URL: "http://up.example/el9/"}}
	fb := mirrorlist.Fallback{Comment: "no mirror can be listed (none is up and serving a verified revision), and the origin's revision 7 failed verification: listing nothing"}
	nfb := mirrorlist.Fallback{Comment: "no listed mirror offers the protocol asked: listing nothing"}
	now := time.Unix(0, 0)
	live := &Live{}
	live.Store(&Repo{
		Set:   selection.NewSet([]selection.Mirror{{URL: up[0].URL, Weight: 100}}),
		Lists: mirrorlist.NewTemplate(cur, nil, up, mirrorlist.TextFallback(nil, fb), mirrorlist.MetalinkFallback(cur, nil, nil, fb, now), now),
		Elsewhere: Elsewhere{Any: true, Text: mirrorlist.TextFallback(nil, nfb),
			Metalink: mirrorlist.MetalinkFallback(cur, nil, nil, nfb, now)},
	})
	src := fixed{ms: &Mirrors{Catalog: NewCatalog([]Entry{{Name: "el9", MirrorlistName: "el9"}}), Live: []*Live{live}}}
	h := New(src, prometheus.NewRegistry(), nil)
	for _, c := range []struct {
		path, want, not string
	}{
		{"/mirrorlist?repo=el9&protocol=https", "no listed mirror offers the protocol asked", "failed verification"},
		{"/metalink?repo=el9&protocol=https", "no listed mirror offers the protocol asked", "failed verification"},
		{"/mirrorlist?repo=el9&protocol=http", up[0].URL, "listing nothing"},
		{"/mirrorlist?repo=el9", up[0].URL, "listing nothing"},
		{"/metalink?repo=el9", up[0].URL, "listing nothing"},
	} {
		req := httptest.NewRequest(http.MethodGet, c.path, nil)
		req.RemoteAddr = "127.0.0.1:4444"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if body := rec.Body.String(); rec.Code != 200 || !strings.Contains(body, c.want) || strings.Contains(body, c.not) {
			t.Errorf("%s: %d\n%s\nwant %q and not %q", c.path, rec.Code, body, c.want, c.not)
		}
	}
}

func TestHasScheme(t *testing.T) {
	for _, c := range []struct {
		u, s string
		want bool
	}{
		{"http://o.example/", "http", true},
		{"HTTPS://o.example/", "https", true},
		{"https://o.example/", "http", false},
		{"http:/o.example/", "http", false},
		{"http", "http", false},
	} {
		if got := hasScheme(c.u, c.s); got != c.want {
			t.Errorf("hasScheme(%q, %q) = %v, want %v", c.u, c.s, got, c.want)
		}
	}
}
