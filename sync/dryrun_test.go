package sync_test

import (
	"context"
	"path/filepath"
	"slices"
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
