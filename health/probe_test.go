package health

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/repodata"
)

// The demo origin's revisions, as written in their repomd.xml.
const (
	revV1 = "1795537924"
	revV2 = "1795624324"
)

func TestProbe(t *testing.T) {
	v1, v2 := demoRepomd(t, "v1"), demoRepomd(t, "v2")
	pkgs := demoPackages(t, "v1")
	pkg := pkgs[2].Href // what fixed(2) picks
	rpm, err := os.ReadFile(filepath.Join(demoDir("v1"), filepath.FromSlash(pkg)))
	if err != nil {
		t.Fatal(err)
	}
	size := pkgs[2].Size
	if size != int64(len(rpm)) {
		t.Fatalf("demo primary.xml gives %s %d bytes; the file has %d", pkg, size, len(rpm))
	}
	// The package cut short by a byte, and replaced by another one of
	// the same name (another demo package: another size).
	short := rpm[:len(rpm)-1]
	other, err := os.ReadFile(filepath.Join(demoDir("v1"), filepath.FromSlash(pkgs[0].Href)))
	if err != nil || len(other) == len(rpm) {
		t.Fatalf("another demo package of another size: %d bytes, %v", len(other), err)
	}
	// The same packages with no size known, as in state recorded before
	// sizes were.
	unsized := make([]Package, len(pkgs))
	for i, p := range pkgs {
		unsized[i] = Package{Href: p.Href}
	}
	sizeErr := func(op string, got int) *SizeError {
		if op == "GET" {
			op += " " + pkg + " (Range bytes=0-0)"
		} else {
			op += " " + pkg
		}
		return &SizeError{Op: op, Package: pkg, Want: size, Got: int64(got)}
	}

	type server struct {
		base   string
		client *http.Client
	}
	// serveTLS serves h over TLS; trusted says whether the client knows the
	// server's CA.
	serveTLS := func(h http.Handler, trusted bool) func(t *testing.T) server {
		return func(t *testing.T) server {
			srv := httptest.NewTLSServer(h)
			t.Cleanup(srv.Close)
			if trusted {
				return server{srv.URL + "/", srv.Client()}
			}
			tr := &http.Transport{}
			t.Cleanup(tr.CloseIdleConnections)
			return server{srv.URL + "/", &http.Client{Transport: tr}}
		}
	}

	tests := []struct {
		name     string
		handler  http.Handler            // served on loopback at "/"
		server   func(*testing.T) server // instead of handler
		path     string                  // the base URL's path, default "/"
		want     []byte                  // the origin's repomd.xml; nil: an origin probe
		packages []Package
		timeout  time.Duration // default 5s
		max      int64         // MaxRepomd

		state    State
		reason   string // exact; "" with contains "" means no reason
		contains string // a part of the reason, when it is not predictable
		revision string
		pkg      string
		// sizeErr is the *SizeError expected in Result.Err (Mirror set
		// by the test); sizeUnknown: an error wrapping ErrSizeUnknown.
		sizeErr     *SizeError
		sizeUnknown bool
	}{
		{
			name:    "ok",
			handler: mirror("v1"), want: v1, packages: pkgs,
			state: OK, revision: revV1, pkg: pkg,
		},
		{
			name:    "ok without packages to check",
			handler: mirror("v1"), want: v1,
			state: OK, revision: revV1,
		},
		{
			name:    "stale: an older revision",
			handler: mirror("v1"), want: v2, packages: demoPackages(t, "v2"),
			state:    Stale,
			reason:   "repomd.xml differs from the origin's (revision " + revV1 + " vs " + revV2 + ")",
			revision: revV1,
		},
		{
			name: "stale: same revision, other bytes",
			handler: override("v1", isRepomd, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Write(append(bytes.Clone(v1), '\n'))
			})),
			want: v1, packages: pkgs,
			state:    Stale,
			reason:   "repomd.xml differs from the origin's (same revision " + revV1 + ", other content)",
			revision: revV1,
		},
		{
			name:    "403 to everything (the incident)",
			handler: statusAll(http.StatusForbidden), want: v1, packages: pkgs,
			state: Down, reason: "GET repodata/repomd.xml: 403 Forbidden",
		},
		{
			name:    "404 repomd.xml",
			handler: override("v1", isRepomd, http.NotFoundHandler()), want: v1, packages: pkgs,
			state: Down, reason: "GET repodata/repomd.xml: 404 Not Found",
		},
		{
			name:    "500",
			handler: statusAll(http.StatusInternalServerError), want: v1, packages: pkgs,
			state: Down, reason: "GET repodata/repomd.xml: 500 Internal Server Error",
		},
		{
			name:    "503 with a made-up reason phrase",
			handler: statusAll(http.StatusServiceUnavailable), want: v1,
			state: Down, reason: "GET repodata/repomd.xml: 503 Service Unavailable",
		},
		{
			name:    "stall before the headers",
			handler: stallHeaders(), want: v1, packages: pkgs, timeout: 300 * time.Millisecond,
			state: Down, reason: "GET repodata/repomd.xml: timeout after 300ms",
		},
		{
			name:    "stall mid-body",
			handler: override("v1", isRepomd, stallAfter(v1, len(v1)/2)), want: v1, packages: pkgs,
			timeout: 300 * time.Millisecond,
			state:   Down, reason: "GET repodata/repomd.xml: timeout after 300ms",
		},
		{
			name: "body cut short",
			handler: override("v1", isRepomd, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "100000")
				w.Write(v1[:100])
			})),
			want: v1, packages: pkgs,
			state: Down, reason: "GET repodata/repomd.xml: unexpected EOF",
		},
		{
			name:    "200 with an HTML page",
			handler: htmlPage(), want: v1, packages: pkgs,
			state:  Down,
			reason: "GET repodata/repomd.xml: 200 OK but not a repomd.xml: repomd.xml:1: <!DOCTYPE> is not allowed (DOCTYPE and entity declarations are refused)",
		},
		{
			name: "200 with XML that is not a repomd.xml",
			handler: override("v1", isRepomd, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte("<?xml version=\"1.0\"?>\n<error>disk failure</error>\n"))
			})),
			want: v1, packages: pkgs,
			state:  Down,
			reason: "GET repodata/repomd.xml: 200 OK but not a repomd.xml: repomd.xml:2: root element is <error>, want <repomd>",
		},
		{
			name: "200 with an empty body",
			handler: override("v1", isRepomd, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusOK)
			})),
			want: v1, packages: pkgs,
			state:  Down,
			reason: "GET repodata/repomd.xml: 200 OK but not a repomd.xml: repomd.xml: no <repomd> element",
		},
		{
			name:    "repomd.xml larger than MaxRepomd",
			handler: mirror("v1"), want: v1, packages: pkgs, max: 1000,
			state: Down, reason: "GET repodata/repomd.xml: 200 OK but the body is larger than 1000 bytes",
		},
		{
			name:    "metadata ok, package 403",
			handler: override("v1", isPackage, statusAll(http.StatusForbidden)), want: v1, packages: pkgs,
			state: Down, reason: "HEAD " + pkg + ": 403 Forbidden", revision: revV1, pkg: pkg,
		},
		{
			name:    "metadata ok, package 404",
			handler: mirror("v1"), want: v1, packages: []Package{{Href: "Packages/x/missing-1-1.noarch.rpm"}},
			state: Down, reason: "HEAD Packages/x/missing-1-1.noarch.rpm: 404 Not Found", revision: revV1,
			pkg: "Packages/x/missing-1-1.noarch.rpm",
		},
		{
			name:    "metadata ok, package HEAD stalls",
			handler: override("v1", isPackage, stallHeaders()), want: v1, packages: pkgs,
			timeout: 300 * time.Millisecond,
			state:   Down, reason: "HEAD " + pkg + ": timeout after 300ms", revision: revV1, pkg: pkg,
		},
		{
			name:    "HEAD refused with 405, Range GET ok",
			handler: headRefused("v1", http.StatusMethodNotAllowed), want: v1, packages: pkgs,
			state: OK, revision: revV1, pkg: pkg,
		},
		{
			name:    "HEAD refused with 501, Range GET ok",
			handler: headRefused("v1", http.StatusNotImplemented), want: v1, packages: pkgs,
			state: OK, revision: revV1, pkg: pkg,
		},
		{
			name: "HEAD refused, Range ignored, whole package sent",
			handler: override("v1", isPackage, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodHead {
					http.Error(w, "no HEAD", http.StatusMethodNotAllowed)
					return
				}
				fullBody(rpm).ServeHTTP(w, r)
			})),
			want: v1, packages: pkgs,
			state: OK, revision: revV1, pkg: pkg,
		},
		{
			name: "HEAD refused, Range GET 403",
			handler: override("v1", isPackage, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				code := http.StatusForbidden
				if r.Method == http.MethodHead {
					code = http.StatusMethodNotAllowed
				}
				http.Error(w, http.StatusText(code), code)
			})),
			want: v1, packages: pkgs,
			state: Down, reason: "GET " + pkg + " (Range bytes=0-0): 403 Forbidden", revision: revV1, pkg: pkg,
		},
		{
			name: "HEAD refused, Range GET gives an HTML page",
			handler: override("v1", isPackage, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodHead {
					http.Error(w, "no HEAD", http.StatusMethodNotAllowed)
					return
				}
				htmlPage().ServeHTTP(w, r)
			})),
			want: v1, packages: pkgs,
			state:    Down,
			reason:   "GET " + pkg + " (Range bytes=0-0): 200 OK but not an RPM package (it starts with '<')",
			revision: revV1, pkg: pkg,
		},

		// The size served against the metadata's.
		{
			name:    "package truncated by one byte",
			handler: altered(t, "v1", pkg, short), want: v1, packages: pkgs,
			state: Down, revision: revV1, pkg: pkg,
			reason:  fmt.Sprintf("HEAD %s: %d bytes served, the verified metadata says %d: truncated or replaced", pkg, len(short), size),
			sizeErr: sizeErr("HEAD", len(short)),
		},
		{
			name:    "package replaced by another file of the same name",
			handler: altered(t, "v1", pkg, other), want: v1, packages: pkgs,
			state: Down, revision: revV1, pkg: pkg,
			sizeErr: sizeErr("HEAD", len(other)),
		},
		{
			name:    "package replaced by an empty file",
			handler: altered(t, "v1", pkg, nil), want: v1, packages: pkgs,
			state: Down, revision: revV1, pkg: pkg,
			sizeErr: sizeErr("HEAD", 0),
		},
		{
			name:    "package truncated, size not known: checked for presence only",
			handler: altered(t, "v1", pkg, short), want: v1, packages: unsized,
			state: OK, revision: revV1, pkg: pkg,
		},
		{
			name:    "HEAD without Content-Length, Range GET tells the size",
			handler: headWithoutLength(mirror("v1")), want: v1, packages: pkgs,
			state: OK, revision: revV1, pkg: pkg,
		},
		{
			name:    "HEAD without Content-Length, package truncated",
			handler: headWithoutLength(altered(t, "v1", pkg, short)), want: v1, packages: pkgs,
			state: Down, revision: revV1, pkg: pkg,
			reason:  fmt.Sprintf("GET %s (Range bytes=0-0): %d bytes served, the verified metadata says %d: truncated or replaced", pkg, len(short), size),
			sizeErr: sizeErr("GET", len(short)),
		},
		{
			name:    "HEAD refused, package replaced",
			handler: headRefusedBy(altered(t, "v1", pkg, other)), want: v1, packages: pkgs,
			state: Down, revision: revV1, pkg: pkg,
			sizeErr: sizeErr("GET", len(other)),
		},
		{
			name:    "HEAD refused, package empty",
			handler: headRefusedBy(altered(t, "v1", pkg, nil)), want: v1, packages: pkgs,
			state: Down, revision: revV1, pkg: pkg,
			sizeErr: sizeErr("GET", 0),
		},
		{
			name: "HEAD refused, empty package answered 416 (bytes */0)",
			handler: override("v1", isPackage, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodHead {
					http.Error(w, "no HEAD", http.StatusMethodNotAllowed)
					return
				}
				w.Header().Set("Content-Range", "bytes */0")
				http.Error(w, "range not satisfiable", http.StatusRequestedRangeNotSatisfiable)
			})),
			want: v1, packages: pkgs,
			state: Down, revision: revV1, pkg: pkg,
			sizeErr: sizeErr("GET", 0),
		},
		{
			name: "HEAD refused, Range ignored, truncated package sent whole",
			handler: override("v1", isPackage, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodHead {
					http.Error(w, "no HEAD", http.StatusMethodNotAllowed)
					return
				}
				fullBody(short).ServeHTTP(w, r)
			})),
			want: v1, packages: pkgs,
			state: Down, revision: revV1, pkg: pkg,
			sizeErr: sizeErr("GET", len(short)),
		},
		{
			name:    "no Content-Length and Range ignored: size unknown",
			handler: override("v1", isPackage, chunked(rpm)), want: v1, packages: pkgs,
			state: Down, revision: revV1, pkg: pkg,
			reason:      fmt.Sprintf("GET %s (Range bytes=0-0): 200 OK without the package's total size (no Content-Range total nor Content-Length; the verified metadata says %d bytes): the mirror does not tell the file's size", pkg, size),
			sizeUnknown: true,
		},
		{
			name:    "no Content-Length and Range ignored, size not known: ok",
			handler: override("v1", isPackage, chunked(rpm)), want: v1, packages: unsized,
			state: OK, revision: revV1, pkg: pkg,
		},
		{
			name: "redirected to where the repository is",
			handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if rest, ok := strings.CutPrefix(r.URL.Path, "/old/"); ok {
					http.Redirect(w, r, "/new/"+rest, http.StatusFound)
					return
				}
				http.StripPrefix("/new", mirror("v1")).ServeHTTP(w, r)
			}),
			path: "/old/", want: v1, packages: pkgs,
			state: OK, revision: revV1, pkg: pkg,
		},
		{
			name: "redirect loop",
			handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, r.URL.Path, http.StatusFound)
			}),
			want: v1, packages: pkgs,
			state: Down, reason: "GET repodata/repomd.xml: stopped after 10 redirects",
		},
		{
			name: "connection refused",
			server: func(t *testing.T) server {
				l, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				addr := l.Addr().String()
				l.Close()
				return server{"http://" + addr + "/", &http.Client{}}
			},
			want: v1, packages: pkgs,
			state: Down, contains: "connect: connection refused",
		},
		{
			name:   "TLS, CA known",
			server: serveTLS(mirror("v1"), true), want: v1, packages: pkgs,
			state: OK, revision: revV1, pkg: pkg,
		},
		{
			name:   "TLS, unknown CA",
			server: serveTLS(mirror("v1"), false), want: v1, packages: pkgs,
			state: Down, contains: "GET repodata/repomd.xml: tls: failed to verify certificate: x509: certificate signed by unknown authority",
		},

		// The origin itself: no repomd.xml to compare with.
		{
			name:    "origin ok",
			handler: mirror("v1"), packages: pkgs,
			state: OK, revision: revV1, pkg: pkg,
		},
		{
			name:    "origin at the next revision ok",
			handler: mirror("v2"), packages: demoPackages(t, "v2"),
			state: OK, revision: revV2, pkg: demoPackages(t, "v2")[2].Href,
		},
		{
			name:    "origin 403",
			handler: statusAll(http.StatusForbidden),
			state:   Down, reason: "GET repodata/repomd.xml: 403 Forbidden",
		},
		{
			name:    "origin serving HTML",
			handler: htmlPage(),
			state:   Down,
			reason:  "GET repodata/repomd.xml: 200 OK but not a repomd.xml: repomd.xml:1: <!DOCTYPE> is not allowed (DOCTYPE and entity declarations are refused)",
		},
		{
			name:    "origin not serving its packages",
			handler: override("v1", isPackage, http.NotFoundHandler()), packages: pkgs,
			state: Down, reason: "HEAD " + pkg + ": 404 Not Found", revision: revV1, pkg: pkg,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s server
			if tc.server != nil {
				s = tc.server(t)
			} else {
				tr := &http.Transport{}
				t.Cleanup(tr.CloseIdleConnections)
				srv := serve(t, tc.handler)
				path := tc.path
				if path == "" {
					path = "/"
				}
				s = server{srv.URL + path, &http.Client{Transport: tr}}
			}
			timeout := tc.timeout
			if timeout == 0 {
				timeout = 5 * time.Second
			}
			p := &Prober{Client: s.client, Timeout: timeout, MaxRepomd: tc.max, Rand: fixed(2)}

			start := time.Now()
			got := p.Probe(context.Background(), s.base, tc.want, tc.packages)
			elapsed := time.Since(start)

			if got.State != tc.state {
				t.Errorf("State = %q, want %q (reason %q)", got.State, tc.state, got.Reason)
			}
			switch {
			case tc.contains != "":
				if !strings.Contains(got.Reason, tc.contains) {
					t.Errorf("Reason = %q, want it to contain %q", got.Reason, tc.contains)
				}
			case tc.sizeErr != nil && tc.reason == "":
				// Checked against the SizeError below.
			case got.Reason != tc.reason:
				t.Errorf("Reason = %q, want %q", got.Reason, tc.reason)
			}
			if got.Revision != tc.revision {
				t.Errorf("Revision = %q, want %q", got.Revision, tc.revision)
			}
			if got.Package != tc.pkg {
				t.Errorf("Package = %q, want %q", got.Package, tc.pkg)
			}
			var se *SizeError
			switch {
			case tc.sizeErr != nil:
				want := *tc.sizeErr
				want.Mirror = s.base
				if !errors.As(got.Err, &se) || *se != want {
					t.Errorf("Err = %#v (reason %q), want %#v", got.Err, got.Reason, &want)
				} else if got.Reason != se.Error() {
					t.Errorf("Reason = %q, want Err's %q", got.Reason, se.Error())
				}
			case tc.sizeUnknown:
				if !errors.Is(got.Err, ErrSizeUnknown) || got.Reason != got.Err.Error() {
					t.Errorf("Err = %v, want one wrapping ErrSizeUnknown, and the Reason", got.Err)
				}
			case got.Err != nil:
				t.Errorf("Err = %v, want nil", got.Err)
			}
			if got.URL != s.base {
				t.Errorf("URL = %q, want %q", got.URL, s.base)
			}
			if got.Checked.Before(start) || got.Checked.After(start.Add(elapsed)) {
				t.Errorf("Checked = %v, want the start of the probe (%v)", got.Checked, start)
			}
			if (got.State == OK || got.State == Stale) && got.Latency <= 0 {
				t.Errorf("Latency = %v, want > 0", got.Latency)
			}
			if got.Latency > elapsed {
				t.Errorf("Latency = %v, more than the whole probe (%v)", got.Latency, elapsed)
			}
			// Never hang: a stalled server gives up within the timeout and
			// a generous margin (a bound on hanging, not a benchmark).
			if elapsed > timeout+2*time.Second {
				t.Errorf("probe took %v with Timeout %v", elapsed, timeout)
			}
		})
	}
}

// The incident's lesson: a server that stalls mid-body must not hold the
// probe past its timeout.
func TestProbeStallReturnsWithinTimeout(t *testing.T) {
	v1 := demoRepomd(t, "v1")
	for _, tc := range []struct {
		name    string
		handler http.Handler
	}{
		{"mid-body", override("v1", isRepomd, stallAfter(v1, len(v1)/2))},
		{"before headers", stallHeaders()},
		{"after the headers", override("v1", isRepomd, stallAfter(v1, 0))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := serve(t, tc.handler)
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			p := &Prober{Client: &http.Client{Transport: tr}, Timeout: 300 * time.Millisecond}
			start := time.Now()
			got := p.Probe(context.Background(), srv.URL+"/", v1, nil)
			if elapsed := time.Since(start); elapsed > 2*time.Second {
				t.Errorf("probe returned after %v, want within 2s", elapsed)
			}
			if got.State != Down || !strings.Contains(got.Reason, "timeout after 300ms") {
				t.Errorf("got %q %q, want down with a timeout", got.State, got.Reason)
			}
			if got.Latency != 0 {
				t.Errorf("Latency = %v, want 0: the response never ended", got.Latency)
			}
		})
	}
}

// A probe its caller interrupts says nothing about the mirror.
func TestProbeInterrupted(t *testing.T) {
	v1 := demoRepomd(t, "v1")
	srv := serve(t, stallHeaders())
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	p := &Prober{Client: &http.Client{Transport: tr}, Timeout: time.Minute}

	t.Run("cancelled before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		got := p.Probe(ctx, srv.URL+"/", v1, nil)
		if got.State != Unknown || got.Reason != "probe interrupted: context canceled" {
			t.Errorf("got %q %q, want unknown, interrupted", got.State, got.Reason)
		}
	})
	t.Run("cancelled during", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		start := time.Now()
		got := p.Probe(ctx, srv.URL+"/", v1, nil)
		if got.State != Unknown || got.Reason != "probe interrupted: context canceled" {
			t.Errorf("got %q %q, want unknown, interrupted", got.State, got.Reason)
		}
		if elapsed := time.Since(start); elapsed > 10*time.Second {
			t.Errorf("probe returned %v after it was cancelled", elapsed)
		}
	})
}

// When HEAD is refused, the package and the metadata file are checked
// with a GET of their first byte, and nothing more is asked for.
func TestProbeRangeFallback(t *testing.T) {
	v1 := demoRepomd(t, "v1")
	pkgs := demoPackages(t, "v1")
	for _, code := range []int{http.StatusMethodNotAllowed, http.StatusNotImplemented} {
		t.Run(status(code), func(t *testing.T) {
			rec := &recorder{h: headRefused("v1", code)}
			srv := serve(t, rec)
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			p := &Prober{Client: &http.Client{Transport: tr}, Rand: fixed(4)}
			got := p.Probe(context.Background(), srv.URL+"/", v1, pkgs)
			if got.State != OK {
				t.Fatalf("got %q %q, want ok", got.State, got.Reason)
			}
			md, err := repodata.ParseRepomd(v1)
			if err != nil {
				t.Fatal(err)
			}
			meta := md.Data[4%len(md.Data)].Href // Rand 4 again
			want := []string{
				"GET /repodata/repomd.xml",
				"HEAD /" + pkgs[4].Href,
				"GET /" + pkgs[4].Href + " Range: bytes=0-0",
				"HEAD /" + meta,
				"GET /" + meta + " Range: bytes=0-0", // not an RPM: its size is what counts
			}
			if log := rec.log(); !slices.Equal(log, want) {
				t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(log, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// A probe asks for what dnf asks for, relative to the base URL whether or
// not it ends in "/", and says who it is.
func TestProbeRequests(t *testing.T) {
	v1 := demoRepomd(t, "v1")
	pkgs := demoPackages(t, "v1")
	for _, tc := range []struct {
		name, path, agent, wantAgent string
	}{
		{"root", "", "", DefaultUserAgent},
		{"sub-directory", "/pub/demo/", "rpmirror/1.2 (probe)", "rpmirror/1.2 (probe)"},
		{"sub-directory without a trailing slash", "/pub/demo", "", DefaultUserAgent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h http.Handler = mirror("v1")
			if tc.path != "" {
				h = http.StripPrefix("/pub/demo", h)
			}
			rec := &recorder{h: h}
			srv := serve(t, rec)
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			p := &Prober{Client: &http.Client{Transport: tr}, Rand: fixed(0), UserAgent: tc.agent}
			got := p.Probe(context.Background(), srv.URL+tc.path, v1, pkgs)
			if got.State != OK {
				t.Fatalf("got %q %q, want ok", got.State, got.Reason)
			}
			prefix := strings.TrimSuffix(tc.path, "/")
			if got.URL != srv.URL+prefix+"/" {
				t.Errorf("URL = %q, want %q", got.URL, srv.URL+prefix+"/")
			}
			md, err := repodata.ParseRepomd(v1)
			if err != nil {
				t.Fatal(err)
			}
			want := []string{
				"GET " + prefix + "/repodata/repomd.xml",
				"HEAD " + prefix + "/" + pkgs[0].Href,
				"HEAD " + prefix + "/" + md.Data[0].Href, // Rand 0: the first metadata file
			}
			if got.Package != pkgs[0].Href || got.Metadata != md.Data[0].Href {
				t.Errorf("Package, Metadata = %q, %q; want %q, %q", got.Package, got.Metadata, pkgs[0].Href, md.Data[0].Href)
			}
			if log := rec.log(); !slices.Equal(log, want) {
				t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(log, "\n"), strings.Join(want, "\n"))
			}
			for _, a := range rec.agents {
				if a != tc.wantAgent {
					t.Errorf("User-Agent %q, want %q", a, tc.wantAgent)
				}
			}
		})
	}
}

// Hrefs are escaped as URL paths: a package name may hold characters
// that mean something in a URL.
func TestProbeEscapesHrefs(t *testing.T) {
	v1 := demoRepomd(t, "v1")
	metadata := mirror("v1")
	rec := &recorder{h: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case isRepomd(r):
			w.Write(v1)
		case strings.HasPrefix(r.URL.Path, "/repodata/"):
			metadata.ServeHTTP(w, r)
		}
	})}
	srv := serve(t, rec)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	p := &Prober{Client: &http.Client{Transport: tr}}
	href := "Packages/l/libstdc++-devel-1.0-1%2 #?.x86_64.rpm"
	got := p.Probe(context.Background(), srv.URL+"/", v1, []Package{{Href: href}})
	if got.State != OK {
		t.Fatalf("got %q %q, want ok", got.State, got.Reason)
	}
	if log := rec.log(); len(log) != 3 || log[1] != "HEAD /"+href {
		t.Errorf("requests %q, want the second to be %q", log, "HEAD /"+href)
	}
}

// Bad base URLs are Down, and reasons never repeat a URL, which could
// hold a password.
func TestProbeBaseURL(t *testing.T) {
	p := &Prober{Client: &http.Client{Transport: &http.Transport{}}}
	for _, tc := range []struct {
		base, reason string
	}{
		{"ftp://mirror.example/repo/", `parsing the mirror URL: scheme "ftp" is not http or https`},
		{"/srv/mirror/repo/", `parsing the mirror URL: scheme "" is not http or https`},
		{"http:///repo/", "parsing the mirror URL: no host"},
		{"http://user:secret@mirror.example:bad/", `parsing the mirror URL: invalid port ":bad" after host`},
	} {
		got := p.Probe(context.Background(), tc.base, nil, nil)
		if got.State != Down || got.Reason != tc.reason {
			t.Errorf("Probe(%q) = %q %q, want down %q", tc.base, got.State, got.Reason, tc.reason)
		}
	}

	// A password given in a URL is redacted in the result, and does not
	// appear in reasons.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	got := p.Probe(context.Background(), "http://user:secret@"+addr+"/repo/", nil, nil)
	if got.State != Down {
		t.Errorf("State = %q, want down", got.State)
	}
	if got.URL != "http://user:xxxxx@"+addr+"/repo/" {
		t.Errorf("URL = %q, want the password redacted", got.URL)
	}
	if strings.Contains(got.Reason, "secret") || strings.Contains(got.Reason, "http://") {
		t.Errorf("Reason = %q repeats the URL", got.Reason)
	}
}

// Rand picks the package; every package gets picked.
func TestProbePicksPackagesAtRandom(t *testing.T) {
	v1 := demoRepomd(t, "v1")
	pkgs := demoPackages(t, "v1")
	srv := serve(t, mirror("v1"))
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	for i := range pkgs {
		p := &Prober{Client: client, Rand: fixed(i)}
		if got := p.Probe(context.Background(), srv.URL+"/", v1, pkgs); got.State != OK || got.Package != pkgs[i].Href {
			t.Errorf("Rand %d: got %q %q package %q, want ok %q", i, got.State, got.Reason, got.Package, pkgs[i].Href)
		}
	}
	// The default Rand, and one that answers out of range.
	seen := map[string]bool{}
	p := &Prober{Client: client}
	for range 200 {
		got := p.Probe(context.Background(), srv.URL+"/", v1, pkgs)
		if got.State != OK {
			t.Fatalf("got %q %q, want ok", got.State, got.Reason)
		}
		seen[got.Package] = true
	}
	if len(seen) != len(pkgs) {
		t.Errorf("200 probes checked %d of %d packages", len(seen), len(pkgs))
	}
	p = &Prober{Client: client, Rand: func(n int) int { return n }}
	if got := p.Probe(context.Background(), srv.URL+"/", v1, pkgs); got.State != OK || got.Package != pkgs[0].Href {
		t.Errorf("Rand out of range: got %q %q package %q, want ok %q", got.State, got.Reason, got.Package, pkgs[0].Href)
	}
}

func TestLimitReason(t *testing.T) {
	long := strings.Repeat("é", maxReason) // 2 bytes each
	got := limitReason(long)
	if len(got) > maxReason+3 || !strings.HasSuffix(got, "...") {
		t.Errorf("limitReason: %d bytes, %q...", len(got), got[:20])
	}
	if trimmed := strings.TrimSuffix(got, "..."); strings.Trim(trimmed, "é") != "" {
		t.Errorf("limitReason cut a rune: %q", trimmed[len(trimmed)-4:])
	}
	if got := limitReason("short"); got != "short" {
		t.Errorf("limitReason(short) = %q", got)
	}
}

// TestCheckAccept: Check leaves the choice of accepted revisions to its
// caller: it hands over the parsed repomd.xml and its digest, checks a
// package of the revision accepted (the one the caller names, not the
// current revision's), and is Stale with the caller's reason otherwise.
func TestCheckAccept(t *testing.T) {
	srv := httptest.NewServer(mirror("v1"))
	defer srv.Close()
	v1 := demoRepomd(t, "v1")
	sum := sha256.Sum256(v1)
	v1sum := hex.EncodeToString(sum[:])
	v1pkgs, v2pkgs := demoPackages(t, "v1"), demoPackages(t, "v2")
	onlyV2 := v2pkgs[slices.IndexFunc(v2pkgs, func(p Package) bool { return !slices.Contains(v1pkgs, p) })]
	tests := []struct {
		name    string
		accept  Accept
		state   State
		reason  string
		pkgSeen string
	}{
		{"an earlier revision, with its packages", func(md *repodata.Repomd, s string) ([]Package, string, bool) {
			if s != v1sum || md.Revision == "" {
				return nil, "unexpected " + s, false
			}
			return v1pkgs[:1], "", true
		}, OK, "", v1pkgs[0].Href},
		{"accepted, but the package named is not served", func(*repodata.Repomd, string) ([]Package, string, bool) {
			return []Package{onlyV2}, "", true
		}, Down, "HEAD " + onlyV2.Href + ": 404 Not Found", onlyV2.Href},
		{"refused", func(md *repodata.Repomd, s string) ([]Package, string, bool) {
			return v1pkgs, "not verified: " + md.Revision, false
		}, Stale, "not verified: ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Prober{Rand: func(int) int { return 0 }}
			r := p.Check(context.Background(), srv.URL+"/", tt.accept)
			if r.State != tt.state || !strings.HasPrefix(r.Reason, tt.reason) || r.Package != tt.pkgSeen || r.SHA256 != v1sum {
				t.Errorf("got %s %q package %q sha256 %s; want %s %q package %q sha256 %s", r.State, r.Reason, r.Package, r.SHA256, tt.state, tt.reason, tt.pkgSeen, v1sum)
			}
		})
	}
}

// TestRepomdParsedOnce: mirrors serving the same repomd.xml have it
// parsed once, whichever probe reads it first (accept gets the same
// parse every time); one serving another repomd.xml gets its own parse,
// and a repomd.xml that does not parse is reported each time, not kept.
func TestRepomdParsedOnce(t *testing.T) {
	var p Prober
	seen := map[string]*repodata.Repomd{}
	probe := func(base string) Result {
		return p.Check(t.Context(), base, func(md *repodata.Repomd, sum string) ([]Package, string, bool) {
			if prev, ok := seen[sum]; ok && prev != md {
				t.Errorf("repomd.xml %s parsed again", sum)
			}
			seen[sum] = md
			return nil, "", true
		})
	}
	v1a, v1b, v2 := serve(t, mirror("v1")), serve(t, mirror("v1")), serve(t, mirror("v2"))
	bad := serve(t, override("v1", isRepomd, fullBody([]byte("<repomd><data"))))
	for _, base := range []string{v1a.URL, v1b.URL, v2.URL, v1a.URL, v2.URL} {
		if r := probe(base); r.State != OK {
			t.Fatalf("%s: %s %s", base, r.State, r.Reason)
		}
	}
	if len(seen) != 2 {
		t.Errorf("%d repomd.xml seen, want 2", len(seen))
	}
	for range 2 {
		if r := probe(bad.URL); r.State != Down || !strings.Contains(r.Reason, "not a repomd.xml") {
			t.Errorf("a repomd.xml that does not parse: %s %q", r.State, r.Reason)
		}
	}
}

func TestRangeTotal(t *testing.T) {
	for _, tc := range []struct {
		in    string
		total int64
		ok    bool
	}{
		{"bytes 0-0/8589", 8589, true},
		{"bytes */0", 0, true},
		{"Bytes 0-0/12", 12, true},
		{"bytes 0-0/*", 0, false},
		{"bytes 0-0", 0, false},
		{"bytes 0-0/-3", 0, false},
		{"items 0-0/12", 0, false},
		{"", 0, false},
	} {
		if total, ok := rangeTotal(tc.in); total != tc.total || ok != tc.ok {
			t.Errorf("rangeTotal(%q) = %d, %v; want %d, %v", tc.in, total, ok, tc.total, tc.ok)
		}
	}
}

// TestProbeMetadata: besides a package, a probe checks one of the
// metadata files the repomd.xml lists against the <size> it gives, so a
// mirror whose primary.xml.gz (or any other) is cut short, replaced or
// missing is Down, naming the file; a mirror last Down on a metadata file
// that its repomd.xml names has that file checked again (CheckAgain),
// whichever Rand would pick.
func TestProbeMetadata(t *testing.T) {
	v1 := demoRepomd(t, "v1")
	pkgs := demoPackages(t, "v1")
	md, err := repodata.ParseRepomd(v1)
	if err != nil {
		t.Fatal(err)
	}
	if len(md.Data) < 3 {
		t.Fatalf("the demo's repomd.xml lists %d files; the test wants 3 or more", len(md.Data))
	}
	first, other := md.Data[0], md.Data[2]
	whole, err := os.ReadFile(filepath.Join(demoDir("v1"), filepath.FromSlash(first.Href)))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(v1)
	digest := hex.EncodeToString(sum[:])
	for _, tc := range []struct {
		name     string
		h        http.Handler
		last     Result
		wantMeta string
		wantSize int64 // the size served, when the probe must fail with a *SizeError; -1: OK
		wantIn   string
	}{
		{"served right", mirror("v1"), Result{}, first.Href, -1, ""},
		{"cut short", altered(t, "v1", first.Href, whole[:len(whole)/2]), Result{}, first.Href, int64(len(whole) / 2), "truncated or replaced"},
		{"replaced by a longer file", altered(t, "v1", first.Href, append(slices.Clone(whole), "junk"...)), Result{}, first.Href, int64(len(whole) + 4), "replaced or appended to"},
		{"missing", override("v1", func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, first.Href) }, statusAll(http.StatusNotFound)),
			Result{}, first.Href, -1, "HEAD " + first.Href + ": 404 Not Found"},
		{"down on another file last time: that one again", mirror("v1"), Result{State: Down, SHA256: digest, Metadata: other.Href}, other.Href, -1, ""},
		{"down last time on a file another revision named too: that one again", mirror("v1"), Result{State: Down, SHA256: "other", Metadata: other.Href}, other.Href, -1, ""},
		{"down last time on a file this revision does not name: Rand's", mirror("v1"), Result{State: Down, SHA256: "other", Metadata: "repodata/gone-other.xml.gz"}, first.Href, -1, ""},
		{"up last time: Rand's", mirror("v1"), Result{State: OK, SHA256: digest, Metadata: other.Href}, first.Href, -1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := serve(t, tc.h)
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			p := &Prober{Client: &http.Client{Transport: tr}, Rand: fixed(0)}
			got := p.CheckAgain(context.Background(), srv.URL+"/", func(*repodata.Repomd, string) ([]Package, string, bool) {
				return pkgs, "", true
			}, tc.last)
			if got.Metadata != tc.wantMeta || got.Package != pkgs[0].Href {
				t.Errorf("checked %q and %q, want %q and %q", got.Package, got.Metadata, pkgs[0].Href, tc.wantMeta)
			}
			wantOK := tc.wantSize < 0 && tc.wantIn == ""
			if (got.State == OK) != wantOK {
				t.Fatalf("got %q %q, want ok: %v", got.State, got.Reason, wantOK)
			}
			if !strings.Contains(got.Reason, tc.wantIn) {
				t.Errorf("reason %q, want it to say %q", got.Reason, tc.wantIn)
			}
			var se *SizeError
			if isSize := errors.As(got.Err, &se); isSize != (tc.wantSize >= 0) {
				t.Fatalf("Err = %v, want a *SizeError: %v", got.Err, tc.wantSize >= 0)
			}
			if se != nil && (!se.Metadata || se.Package != first.Href || se.Want != first.Size || se.Got != tc.wantSize) {
				t.Errorf("SizeError %+v, want metadata file %s, %d bytes wanted, %d served", se, first.Href, first.Size, tc.wantSize)
			}
		})
	}
}

// TestCheckAgainPackage: a mirror last Down on a package that the
// repomd.xml it serves names (the same revision, or one published since)
// has that package checked again, whichever Rand would pick; otherwise
// Rand picks.
func TestCheckAgainPackage(t *testing.T) {
	v1 := demoRepomd(t, "v1")
	pkgs := demoPackages(t, "v1")
	if len(pkgs) < 4 {
		t.Fatalf("the demo has %d packages; the test wants 4 or more", len(pkgs))
	}
	sum := sha256.Sum256(v1)
	digest := hex.EncodeToString(sum[:])
	srv := serve(t, mirror("v1"))
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	p := &Prober{Client: &http.Client{Transport: tr}, Rand: fixed(0)}
	for _, tc := range []struct {
		name string
		last Result
		want string
	}{
		{"down on a package last time: that one again", Result{State: Down, SHA256: digest, Package: pkgs[3].Href}, pkgs[3].Href},
		// A publish since does not mend a package the mirror keeps.
		{"down on a package of another revision that names it too: that one again", Result{State: Down, SHA256: "other", Package: pkgs[3].Href}, pkgs[3].Href},
		{"down on a package no longer sampled: Rand's", Result{State: Down, SHA256: digest, Package: "Packages/gone-1-1.noarch.rpm"}, pkgs[0].Href},
		{"up last time: Rand's", Result{State: OK, SHA256: digest, Package: pkgs[3].Href}, pkgs[0].Href},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := p.CheckAgain(context.Background(), srv.URL+"/", func(*repodata.Repomd, string) ([]Package, string, bool) {
				return pkgs, "", true
			}, tc.last)
			if got.State != OK || got.Package != tc.want {
				t.Errorf("got %s %q checking %q, want ok checking %q", got.State, got.Reason, got.Package, tc.want)
			}
		})
	}
}

// TestCheckAlways: a file accept marks Always (repomd.xml.asc of a
// signed revision) is checked by every probe, beside the package
// sampled: a mirror that lost it is down, naming it (an operator's test
// removed it from a bucket, and the mirror stayed ok and listed first
// while dnf with repo_gpgcheck refused it).
func TestCheckAlways(t *testing.T) {
	v1pkgs := demoPackages(t, "v1")
	asc := Package{Href: "repodata/repomd.xml.asc", Always: true}
	noAsc := override("v1", func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/repomd.xml.asc") }, statusAll(http.StatusNotFound))
	v1asc, err := os.ReadFile(filepath.Join(demoDir("v1"), "repodata", "repomd.xml.asc"))
	if err != nil {
		t.Fatal(err)
	}
	// Another signature of the same size: the previous revision's, as a
	// mirror that kept it serves.
	other := bytes.Clone(v1asc)
	other[len(other)/2] ^= 1
	for _, c := range []struct {
		name    string
		srv     http.Handler
		content string
		state   State
		reason  string
	}{
		{"served", mirror("v1"), "", OK, ""},
		{"missing", noAsc, "", Down, "HEAD repodata/repomd.xml.asc: 404 Not Found"},
		{"served, the one verified", mirror("v1"), string(v1asc), OK, ""},
		{"missing, content known", noAsc, string(v1asc), Down, "GET repodata/repomd.xml.asc: 404 Not Found"},
		{"another of the same size", mirror("v1"), string(other), Down, "GET repodata/repomd.xml.asc: 200 OK but not the one verified"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(c.srv)
			defer srv.Close()
			p := &Prober{Rand: func(int) int { return 0 }}
			accept := func(*repodata.Repomd, string) ([]Package, string, bool) {
				a := asc
				a.Content = c.content
				return []Package{a, v1pkgs[0]}, "", true
			}
			r := p.Check(context.Background(), srv.URL+"/", accept)
			if r.State != c.state || !strings.HasPrefix(r.Reason, c.reason) {
				t.Errorf("got %s %q, want %s %q", r.State, r.Reason, c.state, c.reason)
			}
			if c.state == OK && r.Package != v1pkgs[0].Href {
				t.Errorf("the package sampled was %q, want %q: the Always file is not one to sample", r.Package, v1pkgs[0].Href)
			}
		})
	}
}

// TestProbeTakesTurns: probes of one mirror, each carrying the last on
// (CheckAgain), check every package of the sample and every metadata
// file within as many probes as there are of each, from wherever the
// first started: a broken file is found within a bounded number of
// rounds (chosen at random each time, a failover test with dnf waited
// 9 to 89 s for one of six metadata files with probes 10 s apart).
func TestProbeTakesTurns(t *testing.T) {
	pkgs := demoPackages(t, "v1")
	srv := serve(t, mirror("v1"))
	md, err := repodata.ParseRepomd(demoRepomd(t, "v1"))
	if err != nil {
		t.Fatal(err)
	}
	accept := func(*repodata.Repomd, string) ([]Package, string, bool) { return pkgs, "", true }
	for _, start := range []int{0, 3, 1<<20 - 1} {
		p := &Prober{Rand: fixed(start)}
		seenPkg, seenMeta := map[string]bool{}, map[string]bool{}
		var last Result
		for range max(len(pkgs), len(md.Data)) {
			last = p.CheckAgain(context.Background(), srv.URL+"/", accept, last)
			if last.State != OK {
				t.Fatalf("start %d: %s %q", start, last.State, last.Reason)
			}
			seenPkg[last.Package], seenMeta[last.Metadata] = true, true
		}
		if len(seenPkg) != len(pkgs) || len(seenMeta) != len(md.Data) {
			t.Errorf("start %d: %d probes checked %d of %d packages and %d of %d metadata files", start, max(len(pkgs), len(md.Data)), len(seenPkg), len(pkgs), len(seenMeta), len(md.Data))
		}
	}
}

// TestCheckMirrorPublishedDuringProbe: a mirror that publishes its next
// revision between the probe's read of repomd.xml and its read of the
// signature (the previous .asc gone, the next one there) is probed once
// more, and found serving the next revision, OK: not Down (a tester's
// webhook had a written mirror go down and up again 0.3 s apart on the
// daemon's own publishes). A mirror whose repomd.xml did not change is
// Down as before.
func TestCheckMirrorPublishedDuringProbe(t *testing.T) {
	sig := func(rev string) string {
		b, err := os.ReadFile(filepath.Join(demoDir(rev), "repodata", "repomd.xml.asc"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	sums := map[string]string{}
	for _, rev := range []string{"v1", "v2"} {
		s := sha256.Sum256(demoRepomd(t, rev))
		sums[hex.EncodeToString(s[:])] = rev
	}
	accept := func(_ *repodata.Repomd, sum string) ([]Package, string, bool) {
		rev := sums[sum]
		return []Package{{Href: "repodata/repomd.xml.asc", Always: true, Content: sig(rev)}, demoPackages(t, rev)[0]}, "", true
	}
	for _, c := range []struct {
		name      string
		publishes bool // after the first repomd.xml, the mirror serves v2
		state     State
		rev       string
	}{
		{"published during the probe", true, OK, "v2"},
		{"the signature changed alone", false, Down, "v1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var repomds atomic.Int32
			v1, v2 := mirror("v1"), mirror("v2")
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				first := isRepomd(r) && repomds.Add(1) == 1
				switch {
				case first:
					v1.ServeHTTP(w, r)
				case c.publishes, strings.HasSuffix(r.URL.Path, ".asc"):
					v2.ServeHTTP(w, r) // the next revision's files, or its signature alone
				default:
					v1.ServeHTTP(w, r)
				}
			}))
			defer srv.Close()
			p := &Prober{Rand: func(int) int { return 0 }}
			r := p.Check(context.Background(), srv.URL+"/", accept)
			if r.State != c.state || sums[r.SHA256] != c.rev {
				t.Errorf("got %s (%s) serving %s, want %s serving %s", r.State, r.Reason, sums[r.SHA256], c.state, c.rev)
			}
		})
	}
}

// TestCheckAgainWithinTheDeadline: a probe that finds a mirror down past
// its repomd.xml, the mirror having published meanwhile, probes once
// more within what is left of its own deadline, not a fresh one: a
// mirror that then stalls is found down after Timeout, not nearly twice
// that.
func TestCheckAgainWithinTheDeadline(t *testing.T) {
	var repomds atomic.Int32
	v1, v2 := mirror("v1"), mirror("v2")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isRepomd(r) {
			if repomds.Add(1) == 1 {
				v1.ServeHTTP(w, r)
			} else {
				v2.ServeHTTP(w, r) // it published
			}
			return
		}
		if repomds.Load() == 1 {
			// The first probe's next file: slow, then gone.
			time.Sleep(700 * time.Millisecond)
			http.NotFound(w, r)
			return
		}
		// The probe again: it stalls.
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer srv.Close()
	accept := func(*repodata.Repomd, string) ([]Package, string, bool) {
		return []Package{demoPackages(t, "v1")[0]}, "", true
	}
	p := &Prober{Timeout: time.Second, Rand: func(int) int { return 0 }}
	start := time.Now()
	r := p.Check(context.Background(), srv.URL+"/", accept)
	took := time.Since(start)
	if r.State != Down {
		t.Errorf("got %s (%s), want down (the probe again stalled)", r.State, r.Reason)
	}
	if repomds.Load() < 2 {
		t.Fatalf("repomd.xml read %d times: the probe did not look again", repomds.Load())
	}
	if took > 1500*time.Millisecond {
		t.Errorf("the probe took %s with a 1 s timeout: its second look had a deadline of its own", took.Round(time.Millisecond))
	}
}
