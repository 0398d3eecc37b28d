package main

import (
	"bytes"
	"context"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/fetch"
	"github.com/rpmirror/rpmirror/state"
	"github.com/rpmirror/rpmirror/sync"
	"github.com/rpmirror/rpmirror/target"
	"github.com/rpmirror/rpmirror/target/local"
)

// TestWriteIndex: the index writeIndex makes of a mirror is byte for
// byte the one rpmirror wrote when it published that mirror.
func TestWriteIndex(t *testing.T) {
	srv := httptest.NewServer(http.FileServer(http.Dir(filepath.Join("..", "..", "..", "demo", "origin", "v1"))))
	defer srv.Close()
	base := t.TempDir()
	store, err := state.Open(filepath.Join(base, "state"))
	if err != nil {
		t.Fatal(err)
	}
	repo := &config.Repo{Name: "demo", Origin: srv.URL + "/", MinChecksum: config.DefaultMinChecksum,
		Mirrors: []config.Mirror{{Name: "m", Path: filepath.Join(base, "mirror")}}}
	eng := sync.New(sync.Options{
		Store:      store,
		Fetcher:    fetch.New(fetch.Options{Retries: 1, Backoff: time.Millisecond}),
		OpenTarget: func(_ context.Context, m config.Mirror) (target.Target, error) { return local.New(m.Path) },
	})
	if rep := eng.Sync(context.Background(), repo); rep.Err != nil {
		t.Fatal(rep.Err)
	}
	want, err := os.ReadFile(store.IndexPath("demo", "m"))
	if err != nil {
		t.Fatalf("the sync wrote no index: %v", err)
	}
	got := filepath.Join(base, "written.idx")
	if err := writeIndex(filepath.Join(base, "mirror"), got, false); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(got); !bytes.Equal(b, want) {
		t.Errorf("WriteIndex:\n%s\nthe sync's index:\n%s", b, want)
	}

	// With files, a mirror holding only the repodata gets each package,
	// of its size, where the sync put it.
	bare := filepath.Join(base, "bare")
	if err := os.CopyFS(filepath.Join(bare, "repodata"), os.DirFS(filepath.Join(base, "mirror", "repodata"))); err != nil {
		t.Fatal(err)
	}
	if err := writeIndex(bare, filepath.Join(base, "bare.idx"), true); err != nil {
		t.Fatal(err)
	}
	n := 0
	filepath.WalkDir(filepath.Join(base, "mirror"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || !strings.HasSuffix(p, ".rpm") {
			return nil
		}
		n++
		rel, _ := filepath.Rel(filepath.Join(base, "mirror"), p)
		want, _ := d.Info()
		got, err := os.Stat(filepath.Join(bare, rel))
		if err != nil || got.Size() != want.Size() {
			t.Errorf("%s with -files: %v; want %d bytes", rel, err, want.Size())
		}
		return nil
	})
	if n == 0 {
		t.Error("the synced mirror holds no package to compare with")
	}
}
