package fetch_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	gosync "sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/fetch"
	"github.com/rpmirror/rpmirror/verify"
)

var body = bytes.Repeat([]byte("0123456789abcdef"), 64<<10/16) // 64 KiB

// server answers /f with body, misbehaving as misbehave says for each
// request (numbered from 1).
func server(t *testing.T, misbehave func(n int, w http.ResponseWriter, r *http.Request) bool) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1))
		if misbehave != nil && misbehave(i, w, r) {
			return
		}
		http.ServeContent(w, r, "f", time.Time{}, bytes.NewReader(body))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func fetcher(retries int) *fetch.Fetcher {
	return fetch.New(fetch.Options{Retries: retries, Backoff: time.Millisecond, StallTimeout: 300 * time.Millisecond, ConnectTimeout: time.Second})
}

func accept(io.Reader) error { return nil }

func sameAsBody(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if !bytes.Equal(b, body) {
		return &verify.ChecksumError{Type: "test", Want: "body", Got: fmt.Sprintf("%d bytes", len(b))}
	}
	return nil
}

func TestFile(t *testing.T) {
	for _, tc := range []struct {
		name      string
		retries   int
		misbehave func(n int, w http.ResponseWriter, r *http.Request) bool
		check     fetch.Check
		requests  int32  // how many requests the server sees
		wantErr   string // "" for success
	}{
		{name: "plain", check: sameAsBody, requests: 1},
		{
			name: "500 then success", retries: 2, check: sameAsBody, requests: 3,
			misbehave: func(n int, w http.ResponseWriter, r *http.Request) bool {
				if n <= 2 {
					http.Error(w, "oops", http.StatusInternalServerError)
					return true
				}
				return false
			},
		},
		{
			name: "500 until retries run out", retries: 2, check: sameAsBody, requests: 3, wantErr: "server answered 500",
			misbehave: func(n int, w http.ResponseWriter, r *http.Request) bool {
				http.Error(w, "oops", http.StatusInternalServerError)
				return true
			},
		},
		{
			name: "403 is not retried", retries: 3, check: sameAsBody, requests: 1, wantErr: "server answered 403 Forbidden",
			misbehave: func(n int, w http.ResponseWriter, r *http.Request) bool {
				http.Error(w, "no", http.StatusForbidden)
				return true
			},
		},
		{
			// The retry resumes: a HEAD to learn that the server takes
			// Range, then a GET of the rest.
			name: "body cut short, then resumed", retries: 1, check: sameAsBody, requests: 3,
			misbehave: func(n int, w http.ResponseWriter, r *http.Request) bool {
				if n == 1 {
					w.Header().Set("Content-Length", fmt.Sprint(len(body)))
					w.Write(body[:1000])
					return true // the handler returns: the connection is closed mid-body
				}
				return false
			},
		},
		{
			name: "stall", retries: 0, check: sameAsBody, requests: 1, wantErr: "transfer stalled",
			misbehave: func(n int, w http.ResponseWriter, r *http.Request) bool {
				w.Header().Set("Content-Length", fmt.Sprint(len(body)))
				w.Write(body[:1000])
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
				}
				return true
			},
		},
		{
			name: "wrong content is retried, then given up", retries: 1, requests: 2, wantErr: "checksum mismatch",
			check: func(r io.Reader) error {
				io.Copy(io.Discard, r)
				return &verify.ChecksumError{Type: "sha256", Want: "a", Got: "b"}
			},
		},
		{
			name: "a bad signature is not retried", retries: 3, requests: 1, wantErr: "signature check failed",
			check: func(r io.Reader) error {
				io.Copy(io.Discard, r)
				return &verify.SignatureError{Reason: verify.ErrUnknownKey}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, n := server(t, tc.misbehave)
			dst := filepath.Join(t.TempDir(), "cache", "f")
			start := time.Now()
			_, err := fetcher(tc.retries).File(context.Background(), srv.URL+"/f", dst, int64(len(body)), tc.check)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("File: %v", err)
				}
				f, err := os.Open(dst)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if err := sameAsBody(f); err != nil {
					t.Errorf("result: %v", err)
				}
			} else {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("File: err = %v, want %q", err, tc.wantErr)
				}
				if _, err := os.Stat(dst); err == nil {
					t.Error("a failed download has its final name")
				}
			}
			if got := n.Load(); got != tc.requests {
				t.Errorf("server saw %d requests, want %d", got, tc.requests)
			}
			if time.Since(start) > 4*time.Second {
				t.Errorf("took %s", time.Since(start))
			}
		})
	}
}

func TestResume(t *testing.T) {
	for _, tc := range []struct {
		name        string
		honourRange bool
		retries     int
	}{
		{"server honours Range", true, 0},
		{"server ignores Range", false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ranges []string
			srv, _ := server(t, func(n int, w http.ResponseWriter, r *http.Request) bool {
				if rg := r.Header.Get("Range"); rg != "" {
					ranges = append(ranges, rg)
					if !tc.honourRange {
						w.Header().Set("Content-Length", fmt.Sprint(len(body)))
						w.Write(body)
						return true
					}
				}
				return false
			})
			dst := filepath.Join(t.TempDir(), "f")
			os.WriteFile(dst+".part", body[:20000], 0o644) // what a killed run left
			n, err := fetcher(tc.retries).File(context.Background(), srv.URL+"/f", dst, int64(len(body)), sameAsBody)
			if err != nil {
				t.Fatalf("File: %v", err)
			}
			if b, err := os.ReadFile(dst); err != nil || !bytes.Equal(b, body) {
				t.Fatalf("result: %d bytes, %v", len(b), err)
			}
			if len(ranges) != 1 || ranges[0] != "bytes=20000-" {
				t.Errorf("Range requests: %q, want one for bytes=20000-", ranges)
			}
			if tc.honourRange && n != int64(len(body)-20000) {
				t.Errorf("transferred %d bytes, want the missing %d", n, len(body)-20000)
			}
			if _, err := os.Stat(dst + ".part"); !errors.Is(err, os.ErrNotExist) {
				t.Error("the part file is left behind")
			}
		})
	}
}

func TestFileAlreadyThere(t *testing.T) {
	srv, n := server(t, nil)
	dst := filepath.Join(t.TempDir(), "f")
	os.WriteFile(dst, body, 0o644)
	if _, err := fetcher(0).File(context.Background(), srv.URL+"/f", dst, int64(len(body)), sameAsBody); err != nil {
		t.Fatal(err)
	}
	if n.Load() != 0 {
		t.Errorf("a verified file in the cache was fetched again")
	}
}

func TestFetchBytes(t *testing.T) {
	srv, _ := server(t, nil)
	f := fetcher(0)
	b, err := f.FetchBytes(context.Background(), srv.URL+"/f", int64(len(body)))
	if err != nil || !bytes.Equal(b, body) {
		t.Fatalf("FetchBytes: %d bytes, %v", len(b), err)
	}
	if _, err := f.FetchBytes(context.Background(), srv.URL+"/f", 100); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("FetchBytes over the limit: err = %v", err)
	}
	// Over the limit is not transient: asked once, with retries allowed
	// (a tester's 22 MB repomd.xml.key was fetched three times, 7-10 s).
	big, hits := server(t, nil)
	var tooLarge *fetch.TooLargeError
	if _, err := fetcher(3).FetchBytes(context.Background(), big.URL+"/f", 100); !errors.As(err, &tooLarge) || fetch.Transient(err) || hits.Load() != 1 {
		t.Errorf("FetchBytes over the limit with 3 retries: err = %v (transient %v), asked %d times; want a *fetch.TooLargeError, not transient, asked once", err, fetch.Transient(err), hits.Load())
	}
	missing, _ := server(t, func(n int, w http.ResponseWriter, r *http.Request) bool {
		http.NotFound(w, r)
		return true
	})
	if _, err := f.FetchBytes(context.Background(), missing.URL+"/f", 100); !errors.Is(err, fetch.ErrNotFound) {
		t.Errorf("FetchBytes of a 404: err = %v, want ErrNotFound", err)
	}
}

func TestRedact(t *testing.T) {
	if got := fetch.Redact("https://user:secret@example.org/repo/"); strings.Contains(got, "secret") {
		t.Errorf("Redact left the password: %s", got)
	}
}

func TestCancel(t *testing.T) {
	srv, _ := server(t, func(n int, w http.ResponseWriter, r *http.Request) bool {
		<-r.Context().Done()
		return true
	})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := fetch.New(fetch.Options{Retries: 5}).File(ctx, srv.URL+"/f", filepath.Join(t.TempDir(), "f"), int64(len(body)), accept)
	if err == nil || time.Since(start) > 2*time.Second {
		t.Errorf("File after cancel: %v after %s", err, time.Since(start))
	}
}

// TestAuthOnlyUnderPrefix: credentials go with requests under the origin's
// URL, never to another host.
func TestAuthOnlyUnderPrefix(t *testing.T) {
	seen := map[string]bool{}
	srv, _ := server(t, func(n int, w http.ResponseWriter, r *http.Request) bool {
		_, _, ok := r.BasicAuth()
		seen[r.URL.Path] = ok
		return false
	})
	f := fetcher(0).WithAuth(srv.URL+"/origin/", "u", "p")
	f.FetchBytes(context.Background(), srv.URL+"/origin/f", 1<<20)
	f.FetchBytes(context.Background(), srv.URL+"/elsewhere/f", 1<<20)
	f.File(context.Background(), srv.URL+"/origin/g", filepath.Join(t.TempDir(), "g"), int64(len(body)), accept)
	if !seen["/origin/f"] || !seen["/origin/g"] || seen["/elsewhere/f"] {
		t.Errorf("credentials sent: %v; want only under /origin/", seen)
	}
}

// TestRetryAfter: a 503 or 429 with Retry-After is retried no sooner than
// the server asked.
func TestRetryAfter(t *testing.T) {
	for _, path := range []string{"bytes", "file"} {
		t.Run(path, func(t *testing.T) {
			var first time.Time
			var gap time.Duration
			srv, _ := server(t, func(n int, w http.ResponseWriter, r *http.Request) bool {
				if r.Method == http.MethodHead {
					return false
				}
				if first.IsZero() {
					first = time.Now()
					w.Header().Set("Retry-After", "1")
					http.Error(w, "busy", http.StatusServiceUnavailable)
					return true
				}
				gap = time.Since(first)
				return false
			})
			f := fetcher(2) // backoff 1ms: only Retry-After can make it wait
			var err error
			if path == "bytes" {
				_, err = f.FetchBytes(context.Background(), srv.URL+"/f", int64(len(body)))
			} else {
				_, err = f.File(context.Background(), srv.URL+"/f", filepath.Join(t.TempDir(), "f"), int64(len(body)), sameAsBody)
			}
			if err != nil {
				t.Fatal(err)
			}
			if gap < 900*time.Millisecond {
				t.Errorf("retried after %s, the server asked for 1s", gap)
			}
		})
	}
}

// TestFileMode: a downloaded file is 0644 whatever the umask: grab
// creates it 0666 less the umask, and File changes the mode only when
// that is not 0644 already (one call a file less in the usual case).
func TestFileMode(t *testing.T) {
	for _, tc := range []struct {
		name  string
		umask int
	}{
		{"umask 022: 0644 from the start", 0o022},
		{"umask 077: made 0644", 0o077},
		{"umask 000: made 0644", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := syscall.Umask(tc.umask)
			defer syscall.Umask(old)
			srv, _ := server(t, nil)
			dst := filepath.Join(t.TempDir(), "f")
			if _, err := fetcher(0).File(context.Background(), srv.URL+"/f", dst, int64(len(body)), sameAsBody); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(dst)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o644 {
				t.Errorf("%s is %v, want 0644", dst, fi.Mode().Perm())
			}
		})
	}
}

// TestRedirectOnlyToHTTP: an origin answering a redirect to a file://
// URL (or any scheme but http and https) has it refused with a
// *fetch.RedirectError, not retried, and the local file is never read
// (a tester's origin had rpmirror publish a 0600 secret key as
// repomd.xml.key); FetchBytes and File alike.
func TestRedirectOnlyToHTTP(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, body, 0o600); err != nil {
		t.Fatal(err)
	}
	requests := 0
	srv, _ := server(t, func(n int, w http.ResponseWriter, r *http.Request) bool {
		requests++
		http.Redirect(w, r, "file://"+secret, http.StatusFound)
		return true
	})
	f := fetcher(2)
	var re *fetch.RedirectError
	if b, err := f.FetchBytes(context.Background(), srv.URL+"/repodata/repomd.xml.key", 1<<20); !errors.As(err, &re) || b != nil {
		t.Errorf("FetchBytes redirected to file://: %d bytes, %v; want a *fetch.RedirectError", len(b), err)
	}
	dst := filepath.Join(t.TempDir(), "p.rpm")
	if _, err := f.File(context.Background(), srv.URL+"/p.rpm", dst, int64(len(body)), accept); !errors.As(err, &re) {
		t.Errorf("File redirected to file://: %v; want a *fetch.RedirectError", err)
	}
	if _, err := os.Stat(dst); err == nil {
		t.Error("File wrote the local file it was redirected to")
	}
	if requests > 3 {
		t.Errorf("%d requests: a refused redirect was retried", requests)
	}
}

// TestAuthNotRedirectedElsewhere: credentials copied to a redirect (the
// http.Client does, to the same host on any port) go only to URLs under
// the origin's prefix: a redirect to another port or another path of the
// host gets none, one within the prefix keeps them.
func TestAuthNotRedirectedElsewhere(t *testing.T) {
	var mu gosync.Mutex
	seen := map[string]bool{}
	record := func(r *http.Request) {
		_, _, ok := r.BasicAuth()
		mu.Lock()
		seen[r.Host+r.URL.Path] = ok
		mu.Unlock()
	}
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		record(r)
		w.Write(body)
	}))
	t.Cleanup(other.Close)
	var srvURL string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		record(r)
		switch r.URL.Path {
		case "/origin/to-other-port":
			http.Redirect(w, r, other.URL+"/stolen", http.StatusFound)
		case "/origin/to-other-path":
			http.Redirect(w, r, srvURL+"/elsewhere/f", http.StatusFound)
		case "/origin/within":
			http.Redirect(w, r, srvURL+"/origin/f", http.StatusFound)
		default:
			w.Write(body)
		}
	}))
	t.Cleanup(srv.Close)
	srvURL = srv.URL
	f := fetcher(0).WithAuth(srv.URL+"/origin/", "u", "p")
	for _, p := range []string{"/origin/to-other-port", "/origin/to-other-path", "/origin/within"} {
		if _, err := f.FetchBytes(context.Background(), srv.URL+p, 1<<20); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	otherHost := strings.TrimPrefix(other.URL, "http://")
	check := func(how string) {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		for where, want := range map[string]bool{host + "/origin/within": true, host + "/origin/f": true, otherHost + "/stolen": false, host + "/elsewhere/f": false} {
			if got, ok := seen[where]; !ok || got != want {
				t.Errorf("%s, %s: credentials sent %v (requested %v), want %v", how, where, got, ok, want)
			}
		}
		clear(seen)
	}
	check("FetchBytes")
	// Downloads (grab) too.
	for _, p := range []string{"/origin/to-other-port", "/origin/to-other-path", "/origin/within"} {
		if _, err := f.File(context.Background(), srv.URL+p, filepath.Join(t.TempDir(), "f"), int64(len(body)), accept); err != nil {
			t.Fatalf("File %s: %v", p, err)
		}
	}
	check("File")
}
