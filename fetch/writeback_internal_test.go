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
