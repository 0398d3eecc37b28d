package s3_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rpmirror/rpmirror/internal/s3test"
	"github.com/rpmirror/rpmirror/target"
	"github.com/rpmirror/rpmirror/target/s3"
)

// writeCalls returns how many write system calls this process has made
// (/proc/self/io's syscw), skipping the test where the kernel does not
// say.
func writeCalls(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Skipf("no count of system calls: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "syscw: "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("/proc/self/io: %q", line)
			}
			return n
		}
	}
	t.Skip("/proc/self/io has no syscw")
	return 0
}

// TestPutSendsTheFile: the body of a single PUT is the local file itself,
// which net/http sends with sendfile(2) over plain HTTP: one write for
// the request's head, none for its 4 MiB body (minio-go's readers around
// the file made net/http copy it in 32 KiB writes, 128 of them).
func TestPutSendsTheFile(t *testing.T) {
	srv := s3test.Start(t, "bkt")
	tg := newTarget(t, srv, "bkt", "", nil)
	content := bytes.Repeat([]byte("0123456789abcdef"), 4<<20/16)
	f := target.File{Path: "Packages/big.rpm", Local: writeFile(t, content), Size: int64(len(content)), SHA256: sha(content)}
	ctx := context.Background()
	// A first PUT opens the connection.
	if err := tg.Put(ctx, target.File{Path: "Packages/small.rpm", Local: writeFile(t, []byte("x")), Size: 1, SHA256: sha([]byte("x"))}); err != nil {
		t.Fatal(err)
	}
	before := writeCalls(t)
	if err := tg.Put(ctx, f); err != nil {
		t.Fatal(err)
	}
	// The head, and a few the runtime makes (waking its poller).
	if n := writeCalls(t) - before; n > 8 {
		t.Errorf("a single PUT of %d bytes made %d write system calls, want at most 8", len(content), n)
	}
	got, err := os.ReadFile(filepath.Join(srv.Dir, "bkt", f.Path))
	if err != nil || !bytes.Equal(got, content) {
		t.Errorf("the store holds %d bytes (%v), want the %d sent", len(got), err, len(content))
	}
}

// TestPutRetriedFromTheStart: a PUT that minio-go retries (the store
// answered 503 Slow Down, after reading the whole body or before reading
// any of it) sends the whole file again, from its first byte, with the
// x-amz-checksum-sha256 of a digest or the Content-MD5 without one. The
// first request's body is the file itself (sendfile); the retry reads
// the file at offsets, so that a first request still sending (its store
// answered before reading) cannot move what the retry sends.
func TestPutRetriedFromTheStart(t *testing.T) {
	srv := s3test.Start(t, "bkt")
	content := bytes.Repeat([]byte("rpm bytes "), 100000)
	for _, tc := range []struct {
		name string
		read bool // the store reads the refused body
		sum  string
	}{
		{"body read, digest", true, sha(content)},
		{"body read, no digest", true, ""},
		{"body unread, digest", false, sha(content)},
		{"body unread, no digest", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var refused atomic.Bool
			proxy := startPutProxy(t, srv, func(w http.ResponseWriter, r *http.Request) bool {
				if refused.Swap(true) {
					return false
				}
				if tc.read {
					io.Copy(io.Discard, r.Body)
				}
				w.Header().Set("Content-Type", "application/xml")
				w.Header().Set("Connection", "close")
				w.WriteHeader(http.StatusServiceUnavailable)
				io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`)
				return true
			})
			tg := newTarget(t, proxy.Server, "bkt", "", nil)
			f := target.File{Path: "Packages/" + strings.ReplaceAll(tc.name, " ", "-") + ".rpm", Local: writeFile(t, content), Size: int64(len(content)), SHA256: tc.sum}
			if err := tg.Put(context.Background(), f); err != nil {
				t.Fatalf("Put: %v", err)
			}
			if n := proxy.puts.Load(); n != 2 {
				t.Errorf("%d PUT requests, want 2 (one refused, one retried)", n)
			}
			got, err := os.ReadFile(filepath.Join(srv.Dir, "bkt", f.Path))
			if err != nil || !bytes.Equal(got, content) {
				t.Errorf("the store holds %d bytes (%v), want the %d sent", len(got), err, len(content))
			}
		})
	}
}

// TestEndpointThatIsNoStore: an endpoint that is a web server, not the
// store (the mirror's web front, say), answers with HTML pages; every
// operation's error is then one line saying so, with the answer's
// status, instead of the whole page (minio-go's message for an error
// body it cannot parse).
func TestEndpointThatIsNoStore(t *testing.T) {
	page := "<!DOCTYPE HTML>\n<html lang=\"en\">\n<head><title>Error response</title></head>\n<body><h1>Error response</h1>\n<p>Error code: %d</p></body>\n</html>\n"
	for _, tc := range []struct {
		name   string
		status int
		// page: the operation reads the page (not only a HEAD's
		// status, which minio-go words itself)
		page bool
		op   func(context.Context, *s3.S3) error
	}{
		{"lock, 501", http.StatusNotImplemented, true, func(ctx context.Context, tg *s3.S3) error { _, err := tg.Lock(ctx); return err }},
		{"put, 405", http.StatusMethodNotAllowed, true, func(ctx context.Context, tg *s3.S3) error {
			return tg.Put(ctx, target.File{Path: "Packages/a.rpm", Local: writeFile(t, []byte("a")), Size: 1, SHA256: sha([]byte("a"))})
		}},
		{"open, 403", http.StatusForbidden, false, func(ctx context.Context, tg *s3.S3) error {
			rc, err := tg.Open(ctx, "repodata/repomd.xml")
			if err == nil {
				rc.Close()
			}
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html;charset=utf-8")
				w.WriteHeader(tc.status)
				fmt.Fprintf(w, page, tc.status)
			}))
			defer web.Close()
			tg, err := s3.New(s3.Config{Endpoint: web.URL, Bucket: "mirrors", Prefix: "r/", Region: "us-east-1", Credentials: creds})
			if err != nil {
				t.Fatal(err)
			}
			err = tc.op(context.Background(), tg)
			if err == nil {
				t.Fatal("no error from a web server that is no store")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") || strings.Contains(msg, "<") || (tc.page && (!strings.Contains(msg, http.StatusText(tc.status)) || !strings.Contains(msg, "not an S3 error"))) {
				t.Errorf("error:\n%s\nwant one line naming the status %d and saying the answer is no S3 error", msg, tc.status)
			}
		})
	}
}
