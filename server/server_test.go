package server

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rpmirror/rpmirror/mirrorlist"
	"github.com/rpmirror/rpmirror/selection"
)

// fixed is a Source with one repo, "demo" (mirrorlist_name "demo", no
// arch), listing five mirrors in that order (GeoIP, networks and weights
// play no part: the test of selection is in mirrors_test.go).
type fixed struct{ ms *Mirrors }

func (f fixed) Mirrors() *Mirrors { return f.ms }
func (f fixed) Status() *Status {
	return &Status{Generated: time.Now(), Repos: []RepoStatus{{
		Name: "demo", Origin: "https://origin.example/repo/", OriginState: "ok",
		Mirrors: []MirrorStatus{{Name: "m1", URL: "https://m1.example/<repo>/", State: "down", Reason: `GET repodata/repomd.xml: 403 Forbidden <script>`}},
	}}}
}

func newFixed() fixed {
	var ms []mirrorlist.Mirror
	var cands []selection.Mirror
	for i := range 5 {
		u := fmt.Sprintf("https://mirror%d.example/repo/", i)
		ms = append(ms, mirrorlist.Mirror{URL: u})
		cands = append(cands, selection.Mirror{URL: u, Priority: i + 1})
	}
	cur := mirrorlist.Describe([]byte("<repomd/>"), 1)
	live := &Live{}
	live.Store(&Repo{
		Set:   selection.NewSet(cands),
		Lists: mirrorlist.NewTemplate(cur, nil, ms, nil, nil, time.Unix(0, 0)),
	})
	return fixed{ms: &Mirrors{Catalog: NewCatalog([]Entry{{Name: "demo", MirrorlistName: "demo"}}), Live: []*Live{live}}}
}

func TestRoutes(t *testing.T) { forEachFrontEnd(t, testRoutes) }

func testRoutes(t *testing.T, fe string) {
	h := New(newFixed(), prometheus.NewRegistry(), nil)
	do := requester(t, h, fe)
	for _, tc := range []struct {
		method, path string
		code         int
		contentType  string
		body         string
	}{
		{"GET", "/mirrorlist?repo=demo", 200, "text/plain; charset=utf-8", "https://mirror0.example/repo/\n"},
		{"HEAD", "/mirrorlist?repo=demo", 200, "text/plain; charset=utf-8", ""},
		{"GET", "/metalink?repo=demo", 200, "application/metalink+xml", `<url protocol="https" type="https" preference="100">https://mirror0.example/repo/repodata/repomd.xml</url>`},
		{"GET", "/mirrorlist?repo=nope", 404, "text/plain; charset=utf-8", "# no repository for repo=nope\n# valid repo and arch pairs:\n#   repo=demo\n"},
		{"GET", "/metalink?repo=nope&arch=x86_64", 404, "application/metalink+xml", "<!--\n# no repository for repo=nope&arch=x86_64\n# valid repo and arch pairs:\n#   repo=demo\n-->"},
		{"GET", "/mirrorlist", 400, "", "missing ?repo=NAME"},
		{"GET", "/mirrorlist?repo=demo&protocol=ftp", 400, "", "protocol: want http or https"},
		{"GET", "/r/demo/repodata/repomd.xml", 404, "", "no mirror serves repodata/repomd.xml of demo"},
		{"POST", "/mirrorlist?repo=demo", 405, "", "read-only"},
		{"DELETE", "/status", 405, "", "read-only"},
		{"GET", "/healthz", 200, "text/plain; charset=utf-8", "ok"},
		{"GET", "/status.json", 200, "application/json", `"origin_state": "ok"`},
		{"GET", "/status", 200, "text/html; charset=utf-8", "403 Forbidden &lt;script&gt;"},
		{"GET", "/metrics", 200, "", ""},
		{"GET", "/", 302, "", ""},
		{"GET", "/../../etc/passwd", 307, "", ""}, // ServeMux redirects to the clean path, which is not a route
		{"GET", "/repodata/repomd.xml", 404, "", ""},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			rec := do(t, tc.method, tc.path, nil)
			if rec.Code != tc.code {
				t.Errorf("status %d, want %d", rec.Code, tc.code)
			}
			if tc.contentType != "" && rec.Header().Get("Content-Type") != tc.contentType {
				t.Errorf("Content-Type %q, want %q", rec.Header().Get("Content-Type"), tc.contentType)
			}
			if !strings.Contains(rec.Body.String(), tc.body) {
				t.Errorf("body %q does not contain %q", rec.Body.String(), tc.body)
			}
			if tc.method == "HEAD" && rec.Body.Len() != 0 {
				t.Error("HEAD answered with a body")
			}
		})
	}
}

// BenchmarkMirrorlist measures the handler path of /mirrorlist and
// /metalink, in parallel as a server would run it.
func BenchmarkMirrorlist(b *testing.B) {
	for _, path := range []string{"/mirrorlist?repo=demo", "/metalink?repo=demo"} {
		b.Run(strings.TrimPrefix(strings.Split(path, "?")[0], "/"), func(b *testing.B) {
			h := New(newFixed(), prometheus.NewRegistry(), nil)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req := httptest.NewRequest(http.MethodGet, path, nil)
				for pb.Next() {
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != 200 {
						b.Fatal(rec.Code)
					}
				}
			})
		})
	}
}

func TestSyncTrigger(t *testing.T) {
	const token = "0123456789abcdef-secret"
	var triggered []string
	trigger := func(repo string) bool {
		if repo != "demo" {
			return false
		}
		triggered = append(triggered, repo)
		return true
	}
	with := New(newFixed(), prometheus.NewRegistry(), nil, WithTrigger(token, trigger))
	without := New(newFixed(), prometheus.NewRegistry(), nil, WithTrigger("", trigger))
	for _, tc := range []struct {
		name string
		h    http.Handler
		auth string
		path string
		code int
	}{
		{"no token configured", without, "Bearer " + token, "/sync?repo=demo", 405},
		{"no credentials", with, "", "/sync?repo=demo", 401},
		{"wrong token", with, "Bearer 0123456789abcdef-secreT", "/sync?repo=demo", 401},
		{"token prefix", with, "Bearer " + token[:10], "/sync?repo=demo", 401},
		{"basic instead of bearer", with, "Basic " + token, "/sync?repo=demo", 401},
		{"unknown repo", with, "Bearer " + token, "/sync?repo=nope", 404},
		{"good", with, "Bearer " + token, "/sync?repo=demo", 202},
		{"other routes stay read-only", with, "Bearer " + token, "/mirrorlist?repo=demo", 405},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, tc.path, nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			rec := httptest.NewRecorder()
			tc.h.ServeHTTP(rec, req)
			if rec.Code != tc.code {
				t.Errorf("status %d, want %d (%s)", rec.Code, tc.code, rec.Body.String())
			}
			if strings.Contains(rec.Body.String(), token) {
				t.Error("the answer leaks the token")
			}
		})
	}
	if len(triggered) != 1 {
		t.Errorf("trigger called %d times, want once (only for the good request)", len(triggered))
	}
}

// TestHTTPServerLimits: the server has timeouts on headers, reads, writes
// and idle connections, and refuses oversized headers.
func TestHTTPServerLimits(t *testing.T) {
	srv := NewHTTPServer(New(newFixed(), prometheus.NewRegistry(), nil), slog.New(slog.DiscardHandler))
	if srv.ReadHeaderTimeout == 0 || srv.ReadTimeout == 0 || srv.WriteTimeout == 0 || srv.IdleTimeout == 0 || srv.MaxHeaderBytes == 0 {
		t.Fatalf("a limit is missing: %+v", srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.ReadHeaderTimeout = 200 * time.Millisecond // the real one is 5s; the mechanism is the same
	go srv.Serve(ln)
	defer srv.Close()

	// Oversized headers: 431.
	req, _ := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+"/healthz", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 2*MaxHeaderBytes))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("oversized headers: %d, want 431", resp.StatusCode)
	}

	// A client that never finishes its headers is cut off.
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	io.ReadAll(c) // returns when the server closes the connection
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("a connection with unfinished headers stayed open %s", d)
	}
}

// emptyLists is a Source whose status has nil lists everywhere.
type emptyLists struct{ fixed }

func (emptyLists) Status() *Status {
	return &Status{Generated: time.Now(), Repos: []RepoStatus{{Name: "new", OriginState: "unknown"}}}
}

type noRepos struct{ fixed }

func (noRepos) Status() *Status { return &Status{Generated: time.Now()} }

// TestStatusJSONLists: every list in /status.json is [] when empty, never
// null, so a program can iterate over it without a special case.
func TestStatusJSONLists(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  Source
		want []string
	}{
		{"no repos", noRepos{}, []string{`"repos": []`, `"attention": []`, `"mirrors_by_state": {}`}},
		{"a repo with no mirror and no failure", emptyLists{}, []string{`"mirrors": []`, `"recent_failures": []`, `"attention": []`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			New(tc.src, prometheus.NewRegistry(), nil).ServeHTTP(rec, httptest.NewRequest("GET", "/status.json", nil))
			body := rec.Body.String()
			if strings.Contains(body, "null") {
				t.Errorf("/status.json has a null:\n%s", body)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("/status.json lacks %s:\n%s", w, body)
				}
			}
		})
	}
}

// TestRevisionAsDate: a revision that is a Unix time (createrepo_c's
// default) is shown as a date with the revision in its title; any other
// revision as it is, escaped.
func TestRevisionAsDate(t *testing.T) {
	for _, tc := range []struct{ rev, want string }{
		{"1795697997", `<time class="revision" datetime="2026-11-26T12:59:57Z" title="revision 1795697997">2026-11-26 12:59 UTC</time>`},
		{"", ""},
		{"42", "42"},
		{"fedora-41-<b>", "fedora-41-&lt;b&gt;"},
		{"99999999999", "99999999999"},
	} {
		if got := string(revisionHTML(tc.rev)); got != tc.want {
			t.Errorf("revisionHTML(%q) = %q, want %q", tc.rev, got, tc.want)
		}
	}
}

// TestStatusPageHeld renders /status for a held repository: the page
// says it is held and how to resume it, and goes on to the end (its
// mirrors and failures), where a template error would cut it short.
func TestStatusPageHeld(t *testing.T) {
	st := &Status{Generated: time.Now(), Repos: []RepoStatus{{
		Name: "demo", Origin: "https://origin.example/repo/", OriginState: "ok",
		Held:     &HoldStatus{Snapshot: "20261127T204106Z", Revision: "1795624324", By: "tester@ci", Since: time.Now()},
		Mirrors:  []MirrorStatus{{Name: "m1", URL: "https://m1.example/repo/", State: "ok"}},
		Failures: []FailureStatus{{Time: time.Now(), What: "mirror m1", Error: "a failure"}},
	}}}
	var b strings.Builder
	if err := statusPage().Execute(&b, withLists(st)); err != nil {
		t.Fatalf("rendering /status of a held repository: %v", err)
	}
	page := b.String()
	for _, want := range []string{"HELD", "20261127T204106Z", "tester@ci", "<code>rpmirror resume -c FILE --repo demo</code>", "https://m1.example/repo/", "a failure", "</html>"} {
		if !strings.Contains(page, want) {
			t.Errorf("/status of a held repository lacks %q", want)
		}
	}
}
