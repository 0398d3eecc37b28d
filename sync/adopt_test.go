package sync_test

import (
	"bytes"
	"context"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/fetch"
	"github.com/rpmirror/rpmirror/state"
	"github.com/rpmirror/rpmirror/sync"
	"github.com/rpmirror/rpmirror/target"
	"github.com/rpmirror/rpmirror/target/local"
)

// TestAdoptedMirrorFilesChecked: a mirror rpmirror did not publish (a
// copy of the origin's revision 1, as rsync leaves one) has no index in
// state_dir, so what its own primary metadata says it serves is a claim:
// the first sync to revision 2 checks each file it keeps. A package the
// copy lost or that rotted on its disk is fetched again and replaced, and
// an intact one is kept without a download.
func TestAdoptedMirrorFilesChecked(t *testing.T) {
	v1 := filepath.Join("..", "internal", "demo", "origin", "v1")
	v2 := filepath.Join("..", "internal", "demo", "origin", "v2")
	// The packages both revisions carry unchanged.
	var same []string
	err := filepath.WalkDir(v1, func(p string, d fs.DirEntry, err error) error {
		if err != nil || filepath.Ext(p) != ".rpm" {
			return err
		}
		rel, _ := filepath.Rel(v1, p)
		a, _ := os.ReadFile(p)
		if b, err := os.ReadFile(filepath.Join(v2, rel)); err == nil && bytes.Equal(a, b) {
			same = append(same, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil || len(same) < 2 {
		t.Fatalf("want two packages unchanged from v1 to v2, have %q (%v)", same, err)
	}
	tests := []struct {
		name    string
		damage  func(t *testing.T, path string)
		fetched bool
	}{
		{"intact", func(*testing.T, string) {}, false},
		{"a byte flipped", func(t *testing.T, p string) {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)-10] ^= 0xff // same size: only its checksum tells
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"missing", func(t *testing.T, p string) {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}, true},
	}
	for _, dry := range []bool{true, false} {
		for _, tt := range tests {
			name := tt.name
			if dry {
				name += ", dry run"
			}
			t.Run(name, func(t *testing.T) {
				base := t.TempDir()
				mirror := filepath.Join(base, "mirror")
				if err := os.CopyFS(mirror, os.DirFS(v1)); err != nil {
					t.Fatal(err)
				}
				victim := same[0]
				tt.damage(t, filepath.Join(mirror, filepath.FromSlash(victim)))
				var gets []string
				fsrv := http.FileServer(http.Dir(v2))
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					gets = append(gets, r.URL.Path[1:])
					fsrv.ServeHTTP(w, r)
				}))
				defer srv.Close()
				store, err := state.Open(filepath.Join(base, "state"))
				if err != nil {
					t.Fatal(err)
				}
				repo := &config.Repo{Name: "test", Origin: srv.URL + "/", MinChecksum: config.DefaultMinChecksum,
					Mirrors: []config.Mirror{{Name: "m", Path: mirror}}}
				eng := sync.New(sync.Options{
					Store:      store,
					Fetcher:    fetch.New(fetch.Options{Retries: 1, Backoff: time.Millisecond}),
					DryRun:     dry,
					OpenTarget: func(_ context.Context, m config.Mirror) (target.Target, error) { return local.New(m.Path) },
				})
				rep := eng.Sync(context.Background(), repo)
				if rep.Err != nil {
					t.Fatal(rep.Err)
				}
				if got := slices.Contains(rep.WouldFetch, victim); got != tt.fetched {
					t.Errorf("%s in the plan's fetches: %v, want %v (%q)", victim, got, tt.fetched, rep.WouldFetch)
				}
				if slices.Contains(rep.WouldFetch, same[1]) {
					t.Errorf("the intact %s is fetched again", same[1])
				}
				if dry {
					return
				}
				if got := slices.Contains(gets, victim); got != tt.fetched {
					t.Errorf("%s downloaded: %v, want %v", victim, got, tt.fetched)
				}
				got, err := os.ReadFile(filepath.Join(mirror, filepath.FromSlash(victim)))
				want, _ := os.ReadFile(filepath.Join(v2, filepath.FromSlash(victim)))
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("after the sync, %s on the mirror is not the origin's (%v)", victim, err)
				}
			})
		}
	}
}
