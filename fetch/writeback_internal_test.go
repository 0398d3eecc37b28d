package fetch

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	gosync "sync"
	"testing"
)

// TestWritebackStartsPerDownload: every large verified download has its
// writeback started as soon as it is complete (before it gets its final
// name), so that the flush before the commit finds the data mostly
// on disk already instead of writing all of it then (issue 10: 16 MiB
// packages at the rate of curl to disk, with every file durable before
// the commit). A download its check refuses is not written back, nor is
// a small one (the flush writes those together for less).
func TestWritebackStartsPerDownload(t *testing.T) {
	var mu gosync.Mutex
	var started []string
	old := startWriteback
	startWriteback = func(p string) {
		mu.Lock()
		started = append(started, p)
		mu.Unlock()
		old(p)
	}
	t.Cleanup(func() { startWriteback = old })

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/small" {
			fmt.Fprint(w, "a small file")
			return
		}
		w.Write(make([]byte, writebackMin+1))
	}))
	defer srv.Close()
	f := New(Options{})
	dir := t.TempDir()
	accept := func(r io.Reader) error { _, err := io.Copy(io.Discard, r); return err }
	refuse := func(r io.Reader) error { io.Copy(io.Discard, r); return fmt.Errorf("refused") }
	var want []string
	for i, tc := range []struct {
		path  string
		check Check
	}{{"/big", accept}, {"/big", accept}, {"/big", refuse}, {"/small", accept}, {"/big", accept}} {
		dst := filepath.Join(dir, fmt.Sprint("file-", i))
		_, err := f.File(context.Background(), srv.URL+tc.path, dst, -1, tc.check)
		if (err != nil) != (i == 2) {
			t.Fatalf("download %d: err = %v", i, err)
		}
		if err == nil && tc.path == "/big" {
			want = append(want, dst+".part")
			if _, err := os.Stat(dst); err != nil {
				t.Fatal(err)
			}
		}
	}
	slices.Sort(started)
	if !slices.Equal(started, want) {
		t.Errorf("writeback started for %q, want %q", started, want)
	}
}

// TestLargeBuffers: a large download reaches its check in pieces larger
// than 64 KiB, the buffer grab was given before: each piece is a socket
// read, a write to the part file and a hand-over between goroutines, and
// 256 KiB pieces took the initial sync of 20 x 16 MiB about a tenth
// faster, with less CPU (issue 10: large packages at the rate of curl to
// disk). A small file still gets a buffer no larger than itself.
func TestLargeBuffers(t *testing.T) {
	const size = 8 << 20
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(size))
		w.Write(make([]byte, size))
	}))
	defer srv.Close()
	var largest int
	check := func(r io.Reader) error {
		buf := make([]byte, 4<<20)
		for {
			n, err := r.Read(buf)
			largest = max(largest, n)
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
		}
	}
	dst := filepath.Join(t.TempDir(), "big")
	if _, err := New(Options{}).File(context.Background(), srv.URL+"/big", dst, size, check); err != nil {
		t.Fatal(err)
	}
	if largest <= 64<<10 || largest > largeBuffer {
		t.Errorf("the check got pieces of at most %d bytes, want more than %d and at most %d", largest, 64<<10, largeBuffer)
	}
}
