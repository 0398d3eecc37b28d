package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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
	if err := writeIndex(filepath.Join(base, "mirror"), got); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(got); !bytes.Equal(b, want) {
		t.Errorf("WriteIndex:\n%s\nthe sync's index:\n%s", b, want)
	}
}
