package sync_test

import (
	"context"
	"log/slog"
	"path/filepath"
	gosync "sync"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/fetch"
	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/sync"
)

// TestProgressIsPerRepository syncs two repositories of different sizes
// at once through one Fetcher, as `rpmirror sync --parallel` does, each
// with its own Progress: every counter holds its own repository's numbers
// (packages and bytes), never the other's or a sum, and the bytes received
// for packages match the bytes planned.
func TestProgressIsPerRepository(t *testing.T) {
	key := testrepo.TestKey(t)
	base := t.TempDir()
	sizes := map[string]int{"big": 12, "small": 3}
	harnesses := map[string]*harness{}
	for name, n := range sizes {
		src := filepath.Join(base, name+"-src")
		buildRepo(t, src, "", testrepo.RepoOpts{}, testrepo.ManyPackages(n, key)...)
		o := newOrigin(t, filepath.Join(base, name+"-origin"))
		republish(t, o, src)
		h := newHarness(t, o, key.PublicPath)
		h.repo.Name = name
		harnesses[name] = h
	}
	f := fetch.New(fetch.Options{Retries: 1, Backoff: time.Millisecond})
	progs := map[string]*sync.Progress{}
	reports := map[string]*sync.Report{}
	var mu gosync.Mutex
	var wg gosync.WaitGroup
	for name, h := range harnesses {
		progs[name] = &sync.Progress{}
		eng := sync.New(sync.Options{Store: h.store, Fetcher: f, Logger: slog.New(slog.DiscardHandler), Concurrency: 2, Progress: progs[name]})
		wg.Go(func() {
			rep := eng.Sync(context.Background(), h.repo)
			mu.Lock()
			reports[name] = rep
			mu.Unlock()
		})
	}
	wg.Wait()
	var all int64
	for name, n := range sizes {
		rep, p := reports[name], progs[name]
		if rep.Err != nil {
			t.Fatalf("%s: %v", name, rep.Err)
		}
		all += rep.Bytes
		if got := *p.Repo.Load(); got != name {
			t.Errorf("progress of %s is labelled %q", name, got)
		}
		if got := *p.Phase.Load(); got != "done" {
			t.Errorf("%s: phase %q at the end", name, got)
		}
		if p.PackagesTotal.Load() != int64(n) || p.PackagesDone.Load() != int64(n) {
			t.Errorf("%s: %d of %d packages, want %d of %d", name, p.PackagesDone.Load(), p.PackagesTotal.Load(), n, n)
		}
		if p.BytesTotal.Load() != rep.WouldFetchBytes || p.BytesDone.Load() != p.BytesTotal.Load() {
			t.Errorf("%s: %d of %d package bytes, want %d of %d", name, p.BytesDone.Load(), p.BytesTotal.Load(), rep.WouldFetchBytes, rep.WouldFetchBytes)
		}
		if p.BytesDone.Load() >= rep.Bytes {
			t.Errorf("%s: %d package bytes of %d received in all: metadata counted as packages?", name, p.BytesDone.Load(), rep.Bytes)
		}
	}
	if got := f.Bytes.Load(); got != all {
		t.Errorf("the shared Fetcher counted %d bytes, the reports %d", got, all)
	}
}
