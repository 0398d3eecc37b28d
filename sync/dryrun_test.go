package sync_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/sync"
)

// TestDryRunMatchesSync runs a dry run and then the real sync at each
// step of a repository's life (first sync, an update that prunes, no
// change): the dry run's numbers are the sync's. It would fetch as many
// packages and package bytes as the sync fetches, it read as much metadata
// as the sync reads, and for each mirror it lists as many files to publish
// (repomd.xml.asc and .key included) and to delete as the sync publishes
// and deletes.
func TestDryRunMatchesSync(t *testing.T) {
	key := testrepo.TestKey(t)
	base := t.TempDir()
	v1, v2 := filepath.Join(base, "v1"), filepath.Join(base, "v2")
	buildRepo(t, v1, "", testrepo.RepoOpts{SignRepomd: key, Revision: "1"}, testrepo.DemoPackages(key)...)
	buildRepo(t, v2, v1, testrepo.RepoOpts{SignRepomd: key, Revision: "2"}, testrepo.DemoV2Packages(key)...)
	o := newOrigin(t, filepath.Join(base, "origin"))
	h := newHarness(t, o, key.PublicPath)
	for _, step := range []struct {
		name    string
		from    string // "" : the origin stays as it is
		deletes bool   // the sync deletes something
	}{
		{name: "first sync", from: v1},
		{name: "update, pruning at once", from: v2, deletes: true},
		{name: "no change"},
	} {
		t.Run(step.name, func(t *testing.T) {
			if step.from != "" {
				republish(t, o, step.from)
			}
			dry := h.engine(true).Sync(context.Background(), h.repo)
			if dry.Err != nil {
				t.Fatalf("dry run: %v", dry.Err)
			}
			real := h.mustSync()
			if len(dry.WouldFetch) != real.Fetched || dry.WouldFetchBytes != real.PackageBytes {
				t.Errorf("dry run: would fetch %d packages, %d bytes; the sync fetched %d, %d bytes", len(dry.WouldFetch), dry.WouldFetchBytes, real.Fetched, real.PackageBytes)
			}
			if meta := real.Bytes - real.PackageBytes; dry.Bytes != meta {
				t.Errorf("dry run read %d bytes of metadata, the sync %d", dry.Bytes, meta)
			}
			if dry.NoChange != real.NoChange {
				t.Errorf("dry run NoChange %v, sync %v", dry.NoChange, real.NoChange)
			}
			deleted := 0
			for i, dm := range dry.Mirrors {
				rm := real.Mirrors[i]
				if len(dm.Publish) != rm.Published || len(dm.Delete) != rm.Deleted || dm.UpToDate != rm.UpToDate {
					t.Errorf("mirror %s: the dry run would publish %d files, delete %d (current %v): %q, %q; the sync published %d, deleted %d (current %v)",
						dm.Name, len(dm.Publish), len(dm.Delete), dm.UpToDate, dm.Publish, dm.Delete, rm.Published, rm.Deleted, rm.UpToDate)
				}
				if !dm.UpToDate && !slices.Contains(dm.Publish, sync.AscPath) {
					t.Errorf("mirror %s: the dry run does not list %s: %q", dm.Name, sync.AscPath, dm.Publish)
				}
				deleted += rm.Deleted
			}
			if (deleted > 0) != step.deletes {
				t.Errorf("the sync deleted %d files: the step does not test what it says", deleted)
			}
		})
	}
}

// TestPlanRemovesOnlyWhatIsServed: the plan of a new mirror of an origin
// with no repomd.xml.asc or .key tells of no removal (a tester's dry run
// listed "remove repodata/repomd.xml.asc" for a mirror that had nothing),
// while the commit still clears those paths: a FIFO planted at
// repomd.xml.asc (which counts as no file: nothing is read from it) is
// gone after the next publish. A signature the mirror serves and the
// origin dropped is told of, and removed.
func TestPlanRemovesOnlyWhatIsServed(t *testing.T) {
	key := testrepo.TestKey(t)
	base := t.TempDir()
	v1, v2, v3 := filepath.Join(base, "v1"), filepath.Join(base, "v2"), filepath.Join(base, "v3")
	buildRepo(t, v1, "", testrepo.RepoOpts{Revision: "1"}, testrepo.DemoPackages(key)...)
	buildRepo(t, v2, v1, testrepo.RepoOpts{Revision: "2", SignRepomd: key}, testrepo.DemoV2Packages(key)...)
	buildRepo(t, v3, v2, testrepo.RepoOpts{Revision: "3"}, testrepo.DemoV2Packages(key)...)
	o := newOrigin(t, filepath.Join(base, "origin"))
	h := newHarness(t, o, key.PublicPath)
	removals := func(rep *sync.Report) []string {
		var out []string
		for _, l := range rep.Plan.Lines() {
			if strings.HasPrefix(l, "  remove ") {
				out = append(out, l)
			}
		}
		return out
	}

	republish(t, o, v1)
	dry := h.engine(true).Sync(context.Background(), h.repo)
	if dry.Err != nil {
		t.Fatal(dry.Err)
	}
	if got := removals(dry); len(got) > 0 {
		t.Errorf("the plan of new mirrors tells of removals: %q", got)
	}
	h.mustSync()

	asc := filepath.Join(h.mirrors[0], filepath.FromSlash(sync.AscPath))
	republish(t, o, v2) // signed: the mirrors get a signature
	h.mustSync()
	republish(t, o, v3) // unsigned again
	dry = h.engine(true).Sync(context.Background(), h.repo)
	if dry.Err != nil {
		t.Fatal(dry.Err)
	}
	var want []string
	for range h.mirrors {
		want = append(want, "  remove   "+sync.AscPath+" (the origin has none)", "  remove   "+sync.KeyPath+" (the origin has none)")
	}
	if got := removals(dry); !slices.Equal(got, want) {
		t.Errorf("the plan after the origin dropped its signature and key tells of %q, want %q", got, want)
	}
	h.mustSync()
	for _, m := range h.mirrors {
		if _, err := os.Lstat(filepath.Join(m, filepath.FromSlash(sync.AscPath))); !os.IsNotExist(err) {
			t.Errorf("%s: repomd.xml.asc after the origin dropped it: %v", m, err)
		}
	}

	// A FIFO planted while the mirror serves no signature: not told of
	// (no file a client could fetch goes), removed all the same.
	if err := syscall.Mkfifo(asc, 0o644); err != nil {
		t.Fatal(err)
	}
	buildRepo(t, filepath.Join(base, "v4"), v3, testrepo.RepoOpts{Revision: "4"}, testrepo.DemoPackages(key)...)
	republish(t, o, filepath.Join(base, "v4"))
	dry = h.engine(true).Sync(context.Background(), h.repo)
	if got := removals(dry); dry.Err != nil || len(got) > 0 {
		t.Errorf("the plan tells of removals where the mirrors serve nothing: %q, %v", got, dry.Err)
	}
	h.mustSync()
	if _, err := os.Lstat(asc); !os.IsNotExist(err) {
		t.Errorf("the FIFO planted at repomd.xml.asc is still there: %v", err)
	}
}
