package sync_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/fetch"
	"github.com/rpmirror/rpmirror/internal/benchgen"
	"github.com/rpmirror/rpmirror/state"
	"github.com/rpmirror/rpmirror/sync"
)

// BenchmarkPlan is a dry-run sync of a synthetic 20,000-package primary
// metadata (internal/benchgen) served over loopback HTTP to a mirror that
// serves the previous revision, in which 1% of the packages differ: fetch
// and verify primary, decompress, parse both revisions, diff. The mirror
// was not published by rpmirror (no index in state_dir), so the primary
// it serves is read, and it holds none of the synthetic packages: one
// listing finds every package missing, and every one is to fetch. Bytes
// are the origin's uncompressed primary.xml.
func BenchmarkPlan(b *testing.B) {
	const n = 20000
	dir := b.TempDir()
	rev1 := filepath.Join(dir, "rev1")
	if _, err := benchgen.WriteMetadataRepos(rev1, benchgen.PrimaryOpts{Packages: n, Revision: 1}); err != nil {
		b.Fatal(err)
	}
	st, err := benchgen.WriteMetadataRepos(filepath.Join(dir, "rev2"), benchgen.PrimaryOpts{Packages: n, Revision: 2, Changed: n / 100})
	if err != nil {
		b.Fatal(err)
	}
	for _, format := range []string{"gz", "zst"} {
		b.Run(format, func(b *testing.B) {
			srv := httptest.NewServer(http.FileServer(http.Dir(filepath.Join(dir, "rev2", format))))
			defer srv.Close()
			mirror := filepath.Join(dir, "mirror-"+format)
			os.RemoveAll(mirror) // from the run before, with -count
			if err := os.CopyFS(mirror, os.DirFS(filepath.Join(rev1, format))); err != nil {
				b.Fatal(err)
			}
			store, err := state.Open(filepath.Join(dir, "state-"+format))
			if err != nil {
				b.Fatal(err)
			}
			repo := &config.Repo{Name: "scale", Origin: srv.URL + "/", Mirrors: []config.Mirror{{Name: "m", Path: mirror}}}
			eng := sync.New(sync.Options{
				Store:   store,
				Fetcher: fetch.New(fetch.Options{Retries: 1, Backoff: time.Millisecond, StallTimeout: 10 * time.Second}),
				DryRun:  true,
			})
			b.SetBytes(st.OpenSize)
			b.ReportAllocs()
			for b.Loop() {
				rep := eng.Sync(context.Background(), repo)
				if rep.Err != nil {
					b.Fatal(rep.Err)
				}
				if len(rep.WouldFetch) != n {
					b.Fatalf("would fetch %d packages, want %d", len(rep.WouldFetch), n)
				}
			}
		})
	}
}

// BenchmarkSyncDir syncs the repository in $RPMIRROR_BENCH_ORIGIN (served
// over loopback HTTP, signatures checked against testdata/keys/test.pub)
// to a fresh mirror each iteration; for profiling a sync of the fixtures
// of scripts/bench-sync.sh. Skipped without the variable.
func BenchmarkSyncDir(b *testing.B) {
	dir := os.Getenv("RPMIRROR_BENCH_ORIGIN")
	if dir == "" {
		b.Skip("RPMIRROR_BENCH_ORIGIN is not set")
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer srv.Close()
	key, err := filepath.Abs("../testdata/keys/test.pub")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		b.StopTimer()
		base := b.TempDir()
		store, err := state.Open(filepath.Join(base, "state"))
		if err != nil {
			b.Fatal(err)
		}
		repo := &config.Repo{Name: "bench", Origin: srv.URL + "/", GPGKeys: []string{key},
			Mirrors: []config.Mirror{{Name: "m", Path: filepath.Join(base, "m")}}}
		eng := sync.New(sync.Options{Store: store, Fetcher: fetch.New(fetch.Options{Retries: 1, Backoff: time.Millisecond, StallTimeout: 10 * time.Second})})
		b.StartTimer()
		if rep := eng.Sync(context.Background(), repo); rep.Err != nil {
			b.Fatal(rep.Err)
		}
	}
}
