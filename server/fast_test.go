package server

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
)

// frontEnds are the two servers the routes run on: net/http, as a
// program embedding Handler serves it, and fasthttp (NewServer), as
// rpmirror serve does. The tests of the routes run on both.
var frontEnds = []string{"net/http", "fasthttp"}

func forEachFrontEnd(t *testing.T, test func(t *testing.T, fe string)) {
	for _, fe := range frontEnds {
		t.Run(fe, func(t *testing.T) { test(t, fe) })
	}
}

// serve starts h on loopback with the front-end fe and returns its base
// URL.
func serve(t testing.TB, h *Handler, fe string) string {
	t.Helper()
	if fe == "net/http" {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		return srv.URL
	}
	return serveFast(t, NewServer(h.ServeFast, nil, DefaultLimits))
}

// serveFast starts s on loopback and returns its base URL.
func serveFast(t testing.TB, s *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return "http://" + ln.Addr().String()
}

// requester returns a function that sends a request to h with the
// front-end fe: net/http's through ServeHTTP and a recorder, fasthttp's
// over TCP to a Server, its answer copied into a recorder. Redirects are
// not followed.
func requester(t *testing.T, h *Handler, fe string) func(t *testing.T, method, path string, hdr http.Header) *httptest.ResponseRecorder {
	if fe == "net/http" {
		return func(t *testing.T, method, path string, hdr http.Header) *httptest.ResponseRecorder {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(method, path, nil)
			maps(req.Header, hdr)
			h.ServeHTTP(rec, req)
			return rec
		}
	}
	return client(serve(t, h, fe))
}

// client returns a function that sends a request to the server at base
// over TCP and returns its answer in a recorder. Redirects are not
// followed.
func client(base string) func(t *testing.T, method, path string, hdr http.Header) *httptest.ResponseRecorder {
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return func(t *testing.T, method, path string, hdr http.Header) *httptest.ResponseRecorder {
		t.Helper()
		req, err := http.NewRequest(method, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		maps(req.Header, hdr)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		rec := httptest.NewRecorder()
		maps(rec.Header(), resp.Header)
		rec.WriteHeader(resp.StatusCode)
		io.Copy(rec, resp.Body)
		return rec
	}
}

func maps(dst, src http.Header) {
	for k, v := range src {
		dst[k] = v
	}
}

// TestFrontEndsAgree: net/http and fasthttp answer every route with the
// same status, headers and body (the Date aside, and for the pages that
// show the time, the body). Only the mirror routes are fasthttp's own;
// the rest pass through fasthttpadaptor, which must not change them.
func TestFrontEndsAgree(t *testing.T) {
	h := New(newFixed(), prometheus.NewRegistry(), nil, WithTrigger("secret-token-0123456789", func(repo string) bool { return repo == "demo" }))
	std, fast := client(serve(t, h, "net/http")), client(serve(t, h, "fasthttp"))
	auth := http.Header{"Authorization": {"Bearer secret-token-0123456789"}}
	for _, tc := range []struct {
		method, path string
		hdr          http.Header
		timely       bool // the body shows the time: compare headers only
	}{
		{"GET", "/mirrorlist?repo=demo", nil, false},
		{"HEAD", "/mirrorlist?repo=demo", nil, false},
		{"GET", "/metalink?repo=demo", nil, false},
		{"HEAD", "/metalink?repo=demo", nil, false},
		{"GET", "/mirrorlist?repo=nope&arch=x86_64", nil, false},
		{"HEAD", "/mirrorlist?repo=nope", nil, false},
		{"GET", "/metalink?repo=nope", nil, false},
		{"GET", "/mirrorlist", nil, false},
		{"GET", "/mirrorlist?repo=demo&protocol=ftp", nil, false},
		{"GET", "/mirrorlist?repo=demo&snapshot=20260101T000000Z", nil, false},
		{"GET", "/mirrorlist?repo=%zz&arch=x", nil, false},
		{"GET", "/r/demo/repodata/repomd.xml", nil, false},
		{"HEAD", "/r/demo/repodata/repomd.xml", nil, false},
		{"GET", "/r/nope/x86_64/Packages/a.rpm", nil, false},
		{"GET", "/r/demo/../../etc/passwd", nil, false},
		{"GET", "/r/demo/Packages/c++%20lib.rpm", nil, false},
		{"GET", "/r/demo/.rpmirror-lock", nil, false},
		{"GET", "/r/", nil, false},
		{"GET", "/mirrorlist/", nil, false},
		{"GET", "//mirrorlist?repo=demo", nil, false},
		{"POST", "/mirrorlist?repo=demo", nil, false},
		{"PUT", "/metalink?repo=demo", nil, false},
		{"POST", "/sync?repo=demo", nil, false},
		{"POST", "/sync?repo=demo", auth, false},
		{"POST", "/sync?repo=nope", auth, false},
		{"GET", "/healthz", nil, false},
		{"HEAD", "/healthz", nil, false},
		{"GET", "/", nil, false},
		{"GET", "/nope", nil, false},
		{"GET", "/snapshots.json", nil, true},
		{"GET", "/status.json", nil, true},
		{"GET", "/status", nil, true},
		{"GET", "/metrics", nil, true},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			a, b := std(t, tc.method, tc.path, tc.hdr), fast(t, tc.method, tc.path, tc.hdr)
			if a.Code != b.Code {
				t.Errorf("status: net/http %d, fasthttp %d", a.Code, b.Code)
			}
			ha, hb := a.Header().Clone(), b.Header().Clone()
			if hb.Get("Date") == "" {
				t.Error("fasthttp sent no Date")
			}
			if hb.Get("Server") != "" {
				t.Errorf("fasthttp sent Server: %s", hb.Get("Server"))
			}
			for _, h := range []http.Header{ha, hb} {
				h.Del("Date")
				if tc.timely {
					h.Del("Content-Length")
				}
			}
			if !equalHeaders(ha, hb) {
				t.Errorf("headers differ:\nnet/http %v\nfasthttp %v", ha, hb)
			}
			if !tc.timely && a.Body.String() != b.Body.String() {
				t.Errorf("bodies differ:\nnet/http %q\nfasthttp %q", a.Body.String(), b.Body.String())
			}
		})
	}
}

func equalHeaders(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// TestXForwardedForLines: a trusted proxy's X-Forwarded-For sent as two
// header lines is read as one list, as net/http reads it, on both
// front-ends; from a peer that is not a trusted proxy, both lines are
// ignored.
func TestXForwardedForLines(t *testing.T) { forEachFrontEnd(t, testXForwardedForLines) }

func testXForwardedForLines(t *testing.T, fe string) {
	for _, tc := range []struct {
		name    string
		trusted []string
		want    [][]string
	}{
		{"trusted", []string{"127.0.0.0/8", "10.99.0.0/16"}, [][]string{{"university"}, {"fra", "ber"}, {"partner"}}},
		{"untrusted", []string{"10.99.0.0/16"}, [][]string{{"fra", "ber", "university"}, {"partner"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, fe, tc.trusted...)
			c, err := net.Dial("tcp", strings.TrimPrefix(w.url, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			// The client (in the USA), then a trusted proxy in 10.99/16,
			// each line written by one proxy.
			io.WriteString(c, "GET /mirrorlist?repo=example-9-BaseOS&arch=x86_64 HTTP/1.1\r\nHost: x\r\n"+
				"X-Forwarded-For: "+inCI+", "+inUSA+"\r\nX-Forwarded-For: 10.99.0.1\r\nConnection: close\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			if got := names(t, string(body)); !matchGroups(got, tc.want) {
				t.Errorf("order %v, want groups %v", got, tc.want)
			}
		})
	}
}

// TestServerLimits: the fasthttp server refuses a header over
// MaxHeaderBytes (431), cuts off a client that never finishes its
// request and a kept-alive connection left idle, and refuses a body over
// what POST /sync takes (413). Short timeouts stand in for the real ones;
// the mechanism is the same.
func TestServerLimits(t *testing.T) {
	h := New(newFixed(), prometheus.NewRegistry(), nil)
	lim := DefaultLimits
	if lim.MaxHeaderBytes != MaxHeaderBytes || lim.ReadTimeout != ReadHeaderTimeout || lim.WriteTimeout != WriteTimeout || lim.IdleTimeout != IdleTimeout {
		t.Fatalf("DefaultLimits are not NewHTTPServer's: %+v", lim)
	}
	lim.ReadTimeout, lim.IdleTimeout = 200*time.Millisecond, 300*time.Millisecond
	base := serveFast(t, NewServer(h.ServeFast, nil, lim))
	addr := strings.TrimPrefix(base, "http://")

	for _, tc := range []struct {
		name string
		path string
		size int
		want int
	}{
		{"a header within the limit", "/mirrorlist?repo=demo", MaxHeaderBytes / 2, http.StatusOK},
		{"a header over the limit, mirror route", "/mirrorlist?repo=demo", 2 * MaxHeaderBytes, http.StatusRequestHeaderFieldsTooLarge},
		{"a header over the limit, other route", "/healthz", 2 * MaxHeaderBytes, http.StatusRequestHeaderFieldsTooLarge},
		{"a request line over the limit", "/mirrorlist?repo=demo&x=" + strings.Repeat("a", 2*MaxHeaderBytes), 0, http.StatusRequestHeaderFieldsTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Over a connection of its own, written on another
			// goroutine: the server answers a header over the limit and
			// closes before reading the rest, and an http.Client still
			// writing it may report the reset instead of the answer
			// (CI on a loaded machine did).
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			req := "GET " + tc.path + " HTTP/1.1\r\nHost: x\r\n"
			if tc.size > 0 {
				req += "X-Big: " + strings.Repeat("a", tc.size) + "\r\n"
			}
			go io.WriteString(c, req+"Connection: close\r\n\r\n")
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}

	t.Run("a body over the limit", func(t *testing.T) {
		// Over a connection of its own: the server answers and closes
		// before the body is read, and an http.Client writing the body
		// meanwhile may report the broken pipe instead of the answer.
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		body := strings.Repeat("a", 64<<10)
		go func() {
			io.WriteString(c, "POST /sync?repo=demo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 65536\r\n\r\n"+body)
		}()
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("status %d, want 413", resp.StatusCode)
		}
	})

	// cutOff reports whether the server closes c by itself (within
	// a deadline far beyond the timeouts, so that a slow machine passes).
	cutOff := func(t *testing.T, c net.Conn) bool {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err := io.Copy(io.Discard, c)
		var ne net.Error
		return err == nil || !(errors.As(err, &ne) && ne.Timeout())
	}
	t.Run("unfinished headers", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET /mirrorlist?repo=demo HTTP/1.1\r\nHost: x\r\n")
		if !cutOff(t, c) {
			t.Error("a connection with unfinished headers stayed open")
		}
	})
	t.Run("idle keep-alive", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET /mirrorlist?repo=demo HTTP/1.1\r\nHost: x\r\n\r\n")
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != 200 || resp.Close {
			t.Fatalf("status %d, close %v: want a kept-alive 200", resp.StatusCode, resp.Close)
		}
		if !cutOff(t, c) {
			t.Error("an idle connection stayed open")
		}
	})
}

// TestServerShutdown: Shutdown lets a request in flight finish, closes
// idle connections, refuses new ones, and returns; Serve then returns
// nil.
func TestServerShutdown(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	s := NewServer(func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) == "/slow" {
			once.Do(func() { close(started) })
			<-release
		}
		ctx.SetBodyString("done")
	}, nil, DefaultLimits)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	base := "http://" + ln.Addr().String()

	// An idle kept-alive connection.
	idle, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	io.WriteString(idle, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(idle)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("first request: %v %v", resp, err)
	}
	io.Copy(io.Discard, resp.Body)

	got := make(chan string, 1)
	go func() {
		resp, err := http.Get(base + "/slow")
		if err != nil {
			got <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got <- string(b)
	}()
	<-started
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()

	idle.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("the idle connection: %v, want it closed (EOF)", err)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) while a request was in flight", err)
	default:
	}
	close(release)
	if b := <-got; b != "done" {
		t.Errorf("the request in flight got %q, want done", b)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("a connection was accepted after Shutdown")
	}
}

// TestServerShutdownBeforeServe: a Serve that starts after Shutdown
// (the daemon's context ended before its server goroutine ran) returns
// at once and closes its listener.
func TestServerShutdownBeforeServe(t *testing.T) {
	s := NewServer(func(ctx *fasthttp.RequestCtx) {}, nil, DefaultLimits)
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve after Shutdown: %v", err)
		}
	case <-time.After(10 * time.Second): // a generous bound: it returns at once
		ln.Close()
		t.Fatal("Serve after Shutdown is still serving")
	}
	if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		c.Close()
		t.Error("the listener is still open")
	}
}

// TestServeFastRoutesNatively: the mirror routes are answered by the
// fasthttp front-end itself; requests the mux would rewrite go to the
// net/http handlers.
func TestServeFastRoutesNatively(t *testing.T) {
	h := New(newFixed(), prometheus.NewRegistry(), nil)
	h.rest = func(ctx *fasthttp.RequestCtx) { ctx.SetStatusCode(299) } // marks what went to net/http
	for _, tc := range []struct {
		method, uri string
		native      bool
	}{
		{"GET", "/mirrorlist?repo=demo", true},
		{"HEAD", "/metalink?repo=demo", true},
		{"GET", "/mirrorlist#top", true},
		{"GET", "/metalink?repo=demo#top", true},
		{"GET", "/mirrorlists?repo=demo", false},
		{"GET", "/metalink.xml?repo=demo", false},
		{"GET", "/mirror%6Cist?repo=demo", false},
		{"GET", "http://example.org/mirrorlist?repo=demo", true},
		{"GET", "/r/demo/repodata/repomd.xml", true},
		{"POST", "/mirrorlist?repo=demo", false},
		{"GET", "/mirrorlist/", false},
		{"GET", "//mirrorlist", false},
		{"GET", "/r/demo/../x", false},
		{"GET", "/r/demo//x", false},
		{"GET", "/r/demo/a%20b", false},
		{"GET", "/healthz", false},
	} {
		var req fasthttp.Request
		req.Header.SetMethod(tc.method)
		req.SetRequestURI(tc.uri)
		var ctx fasthttp.RequestCtx
		ctx.Init(&req, &net.TCPAddr{IP: netip.MustParseAddr("192.0.2.1").AsSlice()}, nil)
		h.ServeFast(&ctx)
		if native := ctx.Response.StatusCode() != 299; native != tc.native {
			t.Errorf("%s %s: native %v, want %v", tc.method, tc.uri, native, tc.native)
		}
	}
}

// TestListTarget: the lists' request targets that listTarget takes
// without parsing the URI are those whose path fasthttp's URI reads as
// /mirrorlist or /metalink, with the query string it reads; it leaves
// the others (and those with a control byte, which the URI refuses) to
// the URI.
func TestListTarget(t *testing.T) {
	for _, raw := range []string{
		"/mirrorlist", "/metalink", "/mirrorlist?", "/mirrorlist?repo=demo&arch=x86_64",
		"/metalink?repo=demo#frag", "/mirrorlist#frag?repo=demo", "/mirrorlist?a=1?b=2",
		"/mirrorlist?repo=%64emo", "/mirrorlist?repo=a+b", "/metalink?repo=demo&x=\x7f",
		"/mirrorlist?repo=de\tmo", "/mirrorlist?repo=de\x00mo",
		"/mirrorlist/", "/mirrorlists", "/metalink.xml", "/mirror%6Cist", "//mirrorlist", "/./mirrorlist",
		"/Mirrorlist", "/", "/r/demo/x", "http://example.org/mirrorlist?repo=demo", "*",
	} {
		t.Run(raw, func(t *testing.T) {
			kind, query, ok := listTarget([]byte(raw))
			var u fasthttp.URI
			err := u.Parse([]byte("example.org"), []byte(raw))
			if !ok {
				if kind != "" || query != nil {
					t.Errorf("not a list target, yet kind %q, query %q", kind, query)
				}
				if err == nil && raw[0] == '/' && (string(u.PathOriginal()) == "/mirrorlist" || string(u.PathOriginal()) == "/metalink") {
					t.Errorf("not taken, yet the URI's path is %q", u.PathOriginal())
				}
				return
			}
			if err != nil {
				t.Fatalf("taken, yet the URI refuses it: %v", err)
			}
			want := map[string]string{"/mirrorlist": KindMirrorlist, "/metalink": KindMetalink}[string(u.PathOriginal())]
			if kind != want || string(query) != string(u.QueryString()) {
				t.Errorf("kind %q, query %q; the URI's path %q, query %q", kind, query, u.PathOriginal(), u.QueryString())
			}
		})
	}
}
