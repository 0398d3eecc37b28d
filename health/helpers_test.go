package health

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rpmirror/rpmirror/repodata"
)

// demoDir is the committed demo origin (real createrepo_c output) at
// revision rev, "v1" or "v2".
func demoDir(rev string) string {
	return filepath.Join("..", "internal", "demo", "origin", rev)
}

// demoRepomd returns the repomd.xml of revision rev of the demo origin.
func demoRepomd(t testing.TB, rev string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(demoDir(rev), "repodata", "repomd.xml"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// demoPrimary returns the uncompressed primary.xml of revision rev of the
// demo origin, found through its repomd.xml.
func demoPrimary(t testing.TB, rev string) []byte {
	t.Helper()
	md, err := repodata.ParseRepomd(demoRepomd(t, rev))
	if err != nil {
		t.Fatal(err)
	}
	d, ok := md.Find("primary")
	if !ok {
		t.Fatalf("demo %s: no primary in repomd.xml", rev)
	}
	f, err := os.Open(filepath.Join(demoDir(rev), filepath.FromSlash(d.Href)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rc, err := repodata.Decompress(f, d.Href)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// demoPackages returns every package of revision rev of the demo origin
// (href and size), in document order.
func demoPackages(t testing.TB, rev string) []Package {
	t.Helper()
	hrefs, err := SamplePackages(bytes.NewReader(demoPrimary(t, rev)), 1000, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(hrefs) == 0 {
		t.Fatalf("demo %s: no packages", rev)
	}
	return hrefs
}

// mirror serves revision rev of the demo origin, as a mirror that synced it
// would: http.FileServer answers GET, HEAD and Range requests.
func mirror(rev string) http.Handler {
	return http.FileServer(http.Dir(demoDir(rev)))
}

// isRepomd reports whether r asks for repodata/repomd.xml.
func isRepomd(r *http.Request) bool {
	return strings.HasSuffix(r.URL.Path, "/repodata/repomd.xml")
}

// isPackage reports whether r asks for a package file.
func isPackage(r *http.Request) bool {
	return strings.HasSuffix(r.URL.Path, ".rpm")
}

// statusAll answers every request with code: the incident's server, whose
// disk had failed, answered 403 to everything.
func statusAll(code int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, http.StatusText(code), code)
	})
}

// override answers the requests match selects with h, and the others from
// the demo mirror at revision rev.
func override(rev string, match func(*http.Request) bool, h http.Handler) http.Handler {
	m := mirror(rev)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if match(r) {
			h.ServeHTTP(w, r)
			return
		}
		m.ServeHTTP(w, r)
	})
}

// headRefused answers HEAD requests with code and serves the rest, as
// some object stores and CDNs do.
func headRefused(rev string, code int) http.Handler {
	return override(rev, func(r *http.Request) bool { return r.Method == http.MethodHead }, statusAll(code))
}

// stallAfter writes the first n bytes of body, flushes them and then
// waits, without ever finishing, until the client goes away.
func stallAfter(body []byte, n int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		w.Write(body[:n])
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
}

// stallHeaders never answers, until the client goes away.
func stallHeaders() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})
}

// htmlPage answers 200 with an HTML error page, as a misconfigured server
// or a captive portal does.
func htmlPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<!DOCTYPE html>\n<html><head><title>Service unavailable</title></head><body>Try later.</body></html>\n")
	})
}

// fullBody ignores Range and sends all of body with status 200.
func fullBody(body []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	})
}

// recorder records the method and Range header of every request it
// passes on to h.
type recorder struct {
	h  http.Handler
	mu sync.Mutex
	// requests are "METHOD path" or "METHOD path Range: ...".
	requests []string
	agents   []string
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	line := r.Method + " " + r.URL.Path
	if rg := r.Header.Get("Range"); rg != "" {
		line += " Range: " + rg
	}
	rec.mu.Lock()
	rec.requests = append(rec.requests, line)
	rec.agents = append(rec.agents, r.UserAgent())
	rec.mu.Unlock()
	rec.h.ServeHTTP(w, r)
}

func (rec *recorder) log() []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]string(nil), rec.requests...)
}

// serve starts a loopback HTTP server for h, closed when the test ends.
func serve(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// fixed returns a Rand that always picks index i (modulo n).
func fixed(i int) func(int) int {
	return func(n int) int { return i % n }
}

// altered serves revision rev of the demo origin from a copy in which the
// file at href holds content instead: a mirror where a disk that filled
// up during an rsync left a package cut short, or where someone replaced
// one.
func altered(t testing.TB, rev, href string, content []byte) http.Handler {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(demoDir(rev))); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(href)), content, 0o644); err != nil {
		t.Fatal(err)
	}
	return http.FileServer(http.Dir(dir))
}

// headWithoutLength answers HEAD with 200 and no Content-Length, as some
// proxies and dynamic servers do, and passes every other request to h.
func headWithoutLength(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead && isPackage(r) {
			w.Header().Set("Content-Type", "application/x-rpm")
			w.WriteHeader(http.StatusOK)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// chunked answers HEAD without Content-Length and every GET, Range or
// not, with 200 and all of body sent chunked: a server that never tells
// a package's size.
func chunked(body []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodHead {
			return
		}
		w.Write(body[:1])
		w.(http.Flusher).Flush() // before any Content-Length is known
		w.Write(body[1:])
	})
}

// headRefusedBy answers HEAD requests with 405 and passes the rest to h.
func headRefusedBy(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			http.Error(w, "no HEAD", http.StatusMethodNotAllowed)
			return
		}
		h.ServeHTTP(w, r)
	})
}
