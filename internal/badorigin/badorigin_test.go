package badorigin_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/internal/badorigin"
	"github.com/rpmirror/rpmirror/internal/testrepo"
)

const size = 200_000

// files writes a small tree: f (size random bytes) and sub/g.
func files(t *testing.T, content string) (string, []byte) {
	t.Helper()
	dir := t.TempDir()
	body := make([]byte, size)
	r := rand.NewChaCha8([32]byte{1})
	r.Read(body)
	if err := os.WriteFile(filepath.Join(dir, "f"), body, 0o644); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	if err := os.WriteFile(filepath.Join(dir, "sub", "g"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, body
}

// get fetches u with a client that follows no redirects and gives up after
// timeout, returning status, body read (even when cut short) and error.
func get(t *testing.T, c *http.Client, u, rng string, timeout time.Duration) (int, []byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func plainClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

func TestFaults(t *testing.T) {
	dir, body := files(t, "hello")
	for _, tc := range []struct {
		name    string
		faults  []badorigin.Fault
		rng     string
		status  int
		body    []byte // want exactly this much (nil: don't care)
		wantErr func(error) bool
		timeout time.Duration
	}{
		{name: "no fault", status: 200, body: body},
		{name: "honours Range", rng: "bytes=1000-", status: 206, body: body[1000:]},
		{name: "status 503", faults: []badorigin.Fault{badorigin.Status(503)}, status: 503},
		{name: "status 429", faults: []badorigin.Fault{badorigin.Status(429)}, status: 429},
		{name: "ignores Range", faults: []badorigin.Fault{badorigin.IgnoreRange()}, rng: "bytes=1000-", status: 200, body: body},
		{
			name: "cut after 1000 bytes", faults: []badorigin.Fault{badorigin.CutAfter(1000)}, status: 200, body: body[:1000],
			wantErr: func(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) },
		},
		{
			name: "cut a ranged answer", faults: []badorigin.Fault{badorigin.CutAfter(10)}, rng: "bytes=100-", status: 206, body: body[100:110],
			wantErr: func(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) },
		},
		{
			name: "reset after 1000 bytes", faults: []badorigin.Fault{badorigin.ResetAfter(1000)}, status: 200,
			wantErr: func(err error) bool {
				return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF)
			},
		},
		{
			name: "stall after 1000 bytes", faults: []badorigin.Fault{badorigin.StallAfter(1000)}, status: 200, body: body[:1000],
			wantErr: func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }, timeout: 300 * time.Millisecond,
		},
		{
			name: "hang", faults: []badorigin.Fault{badorigin.Hang()},
			wantErr: func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }, timeout: 300 * time.Millisecond,
		},
		{
			name: "Content-Length too small", faults: []badorigin.Fault{badorigin.LieLength(-500)}, status: 200, body: body[:size-500],
		},
		{
			name: "Content-Length too large", faults: []badorigin.Fault{badorigin.LieLength(500)}, status: 200, body: body,
			wantErr: func(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) },
		},
		{name: "chunked", faults: []badorigin.Fault{badorigin.Chunked()}, status: 200, body: body},
		{name: "redirect", faults: []badorigin.Fault{badorigin.Redirect("sub/g")}, status: 302},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := badorigin.Start(t, dir)
			srv.On(badorigin.Paths("f"), tc.faults...)
			timeout := tc.timeout
			if timeout == 0 {
				timeout = 5 * time.Second
			}
			status, got, err := get(t, plainClient(), srv.URL()+"f", tc.rng, timeout)
			if tc.wantErr != nil {
				if !tc.wantErr(err) {
					t.Errorf("err = %v", err)
				}
			} else if err != nil {
				t.Fatalf("GET: %v", err)
			}
			if status != tc.status {
				t.Errorf("status %d, want %d", status, tc.status)
			}
			if tc.body != nil && !bytes.Equal(got, tc.body) {
				t.Errorf("got %d bytes, want %d", len(got), len(tc.body))
			}
			if tc.rng != "" {
				if got := srv.Ranges("f"); !reflect.DeepEqual(got, []string{tc.rng}) {
					t.Errorf("Ranges = %q", got)
				}
			}
		})
	}
}

func TestRulesTimesGlobAndHeal(t *testing.T) {
	dir, _ := files(t, "hello")
	srv := badorigin.Start(t, dir)
	srv.On(badorigin.Glob("sub/*"), badorigin.Status(500)).Times(2)
	c := plainClient()
	var codes []int
	for range 3 {
		code, _, err := get(t, c, srv.URL()+"sub/g", "", 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		codes = append(codes, code)
	}
	if !reflect.DeepEqual(codes, []int{500, 500, 200}) {
		t.Errorf("codes %v, want 500 twice then 200", codes)
	}
	if code, _, _ := get(t, c, srv.URL()+"f", "", 5*time.Second); code != 200 {
		t.Errorf("f (not matched by the glob): %d", code)
	}
	srv.On(nil, badorigin.Status(403))
	if code, _, _ := get(t, c, srv.URL()+"f", "", 5*time.Second); code != 403 {
		t.Errorf("global rule: %d", code)
	}
	srv.Heal()
	if code, _, _ := get(t, c, srv.URL()+"f", "", 5*time.Second); code != 200 {
		t.Errorf("after Heal: %d", code)
	}
	if n := srv.Count("sub/g"); n != 3 {
		t.Errorf("Count(sub/g) = %d, want 3", n)
	}
	if code, _, _ := get(t, c, srv.URL()+"../../etc/passwd", "", 5*time.Second); code != 404 {
		t.Errorf("path outside the directory: %d", code)
	}
}

func TestRedirects(t *testing.T) {
	dir, _ := files(t, "hello")
	srv := badorigin.Start(t, dir)
	srv.On(badorigin.Paths("a"), badorigin.Redirect("b"))
	srv.On(badorigin.Paths("b"), badorigin.Redirect("a"))
	srv.On(badorigin.Paths("sub/g"), badorigin.RedirectChain(4))
	c := &http.Client{} // follows up to 10 redirects
	if _, _, err := get(t, c, srv.URL()+"a", "", 5*time.Second); err == nil || !strings.Contains(err.Error(), "redirects") {
		t.Errorf("loop: err = %v", err)
	}
	if n := srv.Count("a") + srv.Count("b"); n != 10 {
		t.Errorf("loop: %d requests, want 10 (the client's limit)", n)
	}
	code, b, err := get(t, c, srv.URL()+"sub/g", "", 5*time.Second)
	if err != nil || code != 200 || string(b) != "hello" {
		t.Errorf("chain of 4: %d %q %v", code, b, err)
	}
	if n := srv.Count("sub/g"); n != 5 {
		t.Errorf("chain of 4: %d requests, want 5", n)
	}
}

func TestTrickle(t *testing.T) {
	dir, _ := files(t, "0123456789")
	srv := badorigin.Start(t, dir)
	srv.On(badorigin.Paths("sub/g"), badorigin.Trickle(1, 30*time.Millisecond))
	start := time.Now()
	code, b, err := get(t, plainClient(), srv.URL()+"sub/g", "", 5*time.Second)
	if err != nil || code != 200 || string(b) != "0123456789" {
		t.Fatalf("%d %q %v", code, b, err)
	}
	if d := time.Since(start); d < 9*30*time.Millisecond {
		t.Errorf("10 bytes at one per 30ms arrived in %s", d)
	}
}

func TestStallReleasedOnClose(t *testing.T) {
	dir, _ := files(t, "hello")
	srv := badorigin.Start(t, dir)
	srv.On(nil, badorigin.StallAfter(10))
	done := make(chan error, 1)
	go func() {
		_, _, err := get(t, plainClient(), srv.URL()+"f", "", time.Minute)
		done <- err
	}()
	for srv.Count("f") == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	closed := make(chan struct{})
	go func() { srv.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close blocked on a stalled request")
	}
	if err := <-done; err == nil {
		t.Error("the stalled body ended without an error")
	}
}

func TestSwap(t *testing.T) {
	v1, _ := files(t, "one")
	v2, _ := files(t, "two")
	read := func(srv *badorigin.Server, p string) string {
		_, b, err := get(t, plainClient(), srv.URL()+p, "", 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	t.Run("on path", func(t *testing.T) {
		srv := badorigin.Start(t, v1)
		srv.SwapOn(badorigin.Paths("f"), v2)
		var got []string
		got = append(got, read(srv, "sub/g"))
		read(srv, "f") // served from v1; swaps after
		got = append(got, read(srv, "sub/g"))
		if !reflect.DeepEqual(got, []string{"one", "two"}) {
			t.Errorf("got %q", got)
		}
		reqs := srv.Requests()
		if reqs[1].Dir != v1 || reqs[2].Dir != v2 {
			t.Errorf("dirs %q %q", reqs[1].Dir, reqs[2].Dir)
		}
	})
	t.Run("after n requests", func(t *testing.T) {
		srv := badorigin.Start(t, v1)
		srv.SwapAfter(2, v2)
		var got []string
		for range 3 {
			got = append(got, read(srv, "sub/g"))
		}
		if !reflect.DeepEqual(got, []string{"one", "one", "two"}) {
			t.Errorf("got %q", got)
		}
	})
}

func TestTLS(t *testing.T) {
	dir, _ := files(t, "hello")
	srv := badorigin.StartTLS(t, dir)
	if !strings.HasPrefix(srv.URL(), "https://127.0.0.1:") {
		t.Fatalf("URL %s", srv.URL())
	}
	_, _, err := get(t, &http.Client{}, srv.URL()+"sub/g", "", 5*time.Second)
	if err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Errorf("a client without the CA: err = %v", err)
	}
	trusting := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: srv.CertPool()}}}
	code, b, err := get(t, trusting, srv.URL()+"sub/g", "", 5*time.Second)
	if err != nil || code != 200 || string(b) != "hello" {
		t.Errorf("a client trusting CAPEM: %d %q %v", code, b, err)
	}
	// Faults work over TLS too.
	srv.On(nil, badorigin.ResetAfter(100))
	if _, _, err := get(t, trusting, srv.URL()+"f", "", 5*time.Second); err == nil {
		t.Error("reset over TLS: no error")
	}
	// Another server has another CA.
	other := badorigin.StartTLS(t, dir)
	if bytes.Equal(other.CAPEM, srv.CAPEM) {
		t.Error("two servers share a CA")
	}
	distrusting := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: other.CertPool()}}}
	if _, _, err := get(t, distrusting, srv.URL()+"sub/g", "", 5*time.Second); err == nil || !strings.Contains(err.Error(), "unknown authority") {
		t.Errorf("a client trusting another server's CA: err = %v", err)
	}
	p, err := srv.WriteCA(t.TempDir())
	if b, _ := os.ReadFile(p); err != nil || !bytes.Equal(b, srv.CAPEM) {
		t.Errorf("WriteCA: %v", err)
	}
}

// TestServesRealRepo serves a repository built by testrepo: the committed
// demo origin.
func TestServesRealRepo(t *testing.T) {
	dir := testrepo.DemoOrigin(t, "v1")
	srv := badorigin.Start(t, dir)
	want, err := os.ReadFile(filepath.Join(dir, "repodata", "repomd.xml"))
	if err != nil {
		t.Fatal(err)
	}
	_, got, err := get(t, plainClient(), srv.URL()+"repodata/repomd.xml", "", 5*time.Second)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("repomd.xml: %v", err)
	}
	if got := srv.Ranges("repodata/repomd.xml"); !reflect.DeepEqual(got, []string{""}) {
		t.Errorf("Ranges = %q", srv.Ranges("repodata/repomd.xml"))
	}
}
