package sync_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/fetch"
	"github.com/rpmirror/rpmirror/state"
	"github.com/rpmirror/rpmirror/sync"
	"github.com/rpmirror/rpmirror/target"
	"github.com/rpmirror/rpmirror/target/local"
)

// signalOpen is a mirror that says when its primary metadata is opened.
type signalOpen struct {
	target.Target
	once   *gosync.Once
	opened chan struct{}
}

func (s signalOpen) Open(ctx context.Context, p string) (io.ReadCloser, error) {
	if strings.HasSuffix(p, "-primary.xml.gz") {
		s.once.Do(func() { close(s.opened) })
	}
	return s.Target.Open(ctx, p)
}

// TestMirrorPrimaryReadWhileOriginFetched: the primary metadata a behind
// mirror serves (rpmirror has no index of it: someone else published it)
// is read while the origin's metadata is still being downloaded, not
// after. The origin holds back its primary until the mirror's has been
// opened; a plan that read the mirror only after the download would
// wait for the origin's guard to give up and fail.
func TestMirrorPrimaryReadWhileOriginFetched(t *testing.T) {
	v1 := filepath.Join("..", "internal", "demo", "origin", "v1")
	v2 := filepath.Join("..", "internal", "demo", "origin", "v2")
	base := t.TempDir()
	mirror := filepath.Join(base, "mirror")
	if err := os.CopyFS(mirror, os.DirFS(v1)); err != nil {
		t.Fatal(err)
	}
	opened := make(chan struct{})
	fsrv := http.FileServer(http.Dir(v2))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "-primary.xml.gz") {
			select {
			case <-opened:
			case <-time.After(time.Minute): // a guard, not a measure
				http.Error(w, "the mirror's primary was not read meanwhile", http.StatusForbidden)
				return
			}
		}
		fsrv.ServeHTTP(w, r)
	}))
	defer srv.Close()
	store, err := state.Open(filepath.Join(base, "state"))
	if err != nil {
		t.Fatal(err)
	}
	repo := &config.Repo{Name: "test", Origin: srv.URL + "/", MinChecksum: config.DefaultMinChecksum,
		Mirrors: []config.Mirror{{Name: "m", Path: mirror}}}
	var once gosync.Once
	for _, dry := range []bool{true, false} {
		eng := sync.New(sync.Options{
			Store:   store,
			Fetcher: fetch.New(fetch.Options{Retries: 1, Backoff: time.Millisecond}),
			DryRun:  dry,
			OpenTarget: func(_ context.Context, m config.Mirror) (target.Target, error) {
				tg, err := local.New(m.Path)
				return signalOpen{tg, &once, opened}, err
			},
		})
		rep := eng.Sync(context.Background(), repo)
		if rep.Err != nil {
			t.Fatalf("dry run %v: %v", dry, rep.Err)
		}
		if dry && (len(rep.WouldFetch) == 0 || len(rep.WouldFetch) > 3) {
			t.Errorf("dry run: would fetch %q: not the packages that changed from v1 to v2", rep.WouldFetch)
		}
	}
}
