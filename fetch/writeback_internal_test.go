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
	"sync/atomic"
	"testing"
	"time"
)

// TestWritebackStartsPerDownload: every large verified download has its
// writeback started as soon as it is complete (before it gets its final
// name), so that the one syncfs before the commit finds the data mostly
// on disk already instead of writing all of it then (issue 10: 16 MiB
// packages at the rate of curl to disk, with every file durable before
// the commit). A download its check refuses is not written back, nor is
// a small one (syncfs writes those together for less).
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

// TestWritebackWhileArriving: a large download's writeback starts while
// it still arrives, a writebackChunk at a time, so that the flush before
// the commit waits for the end of each file only, not for whole files
// that completed just before it (issue 10: 20 x 16 MiB at the rate of
// curl to disk, every byte durable before the commit). The server holds
// the rest of the file back until a range was started: without the
// writeback while arriving, the download would only end by the server
// giving up and the test would fail.
func TestWritebackWhileArriving(t *testing.T) {
	type rng struct{ off, n int64 }
	var mu gosync.Mutex
	var ranges []rng
	started := make(chan struct{}, 1)
	old := startWritebackRange
	startWritebackRange = func(fd int, off, n int64) {
		mu.Lock()
		ranges = append(ranges, rng{off, n})
		mu.Unlock()
		select {
		case started <- struct{}{}:
		default:
		}
		old(fd, off, n)
	}
	t.Cleanup(func() { startWritebackRange = old })

	const size = 3*writebackChunk + 12345
	var heldBack atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(size))
		first := int64(writebackChunk + 64<<10)
		w.Write(make([]byte, first))
		w.(http.Flusher).Flush()
		select {
		case <-started:
		case <-r.Context().Done():
			return
		case <-time.After(30 * time.Second):
			heldBack.Store(true)
		}
		w.Write(make([]byte, size-first))
	}))
	defer srv.Close()
	dst := filepath.Join(t.TempDir(), "big")
	accept := func(r io.Reader) error { _, err := io.Copy(io.Discard, r); return err }
	if _, err := New(Options{}).File(context.Background(), srv.URL+"/big", dst, size, accept); err != nil {
		t.Fatal(err)
	}
	if heldBack.Load() {
		t.Fatal("no writeback was started while the download arrived")
	}
	mu.Lock()
	defer mu.Unlock()
	// The ranges follow each other from the start of the file and lie
	// within it.
	var at int64
	for _, r := range ranges {
		if r.off != at || r.n <= 0 || r.off+r.n > size {
			t.Fatalf("writeback ranges %v: not consecutive from 0 within %d bytes", ranges, size)
		}
		at += r.n
	}
	if at < writebackChunk {
		t.Errorf("writeback ranges %v cover %d bytes, want at least %d", ranges, at, writebackChunk)
	}
	if b, err := os.ReadFile(dst); err != nil || len(b) != size {
		t.Fatalf("downloaded %d bytes (%v), want %d", len(b), err, size)
	}
}
