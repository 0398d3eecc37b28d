package sync_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/sync"
)

// TestPublishPutsBackWhatWasDeletedByHand: a package rpmirror published
// in a mirror, deleted there by hand since (one), or with its whole
// directory (two), is named by the next revision too: the sync that
// publishes it puts the packages back, and both mirrors are consistent
// after it. Before, the index of the published revision was trusted, and
// the new revision was published naming files the mirror did not have.
// The dry run says so.
func TestPublishPutsBackWhatWasDeletedByHand(t *testing.T) {
	key := testrepo.TestKey(t)
	dir := filepath.Join(t.TempDir(), "v1")
	buildRepo(t, dir, "", testrepo.RepoOpts{Revision: "1", SignRepomd: key}, testrepo.DemoPackages(key)...)
	o := newOrigin(t, dir)
	h := newHarness(t, o, key.PublicPath)
	h.mustSync()
	v2 := filepath.Join(filepath.Dir(dir), "v2")
	buildRepo(t, v2, dir, testrepo.RepoOpts{Revision: "2", SignRepomd: key}, testrepo.DemoV2Packages(key)...)
	var kept []string // packages of both revisions
	filepath.WalkDir(v2, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".rpm") {
			r, _ := filepath.Rel(v2, p)
			if _, err := os.Stat(filepath.Join(dir, r)); err == nil {
				kept = append(kept, filepath.ToSlash(r))
			}
		}
		return nil
	})
	if len(kept) < 2 {
		t.Fatalf("revisions 1 and 2 share %d packages, want 2 or more", len(kept))
	}
	if err := os.Remove(filepath.Join(h.mirrors[0], kept[0])); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(h.mirrors[1], filepath.Dir(kept[1]))); err != nil {
		t.Fatal(err)
	}
	republish(t, o, v2)
	dry := h.engine(true).Sync(context.Background(), h.repo)
	for i, want := range kept[:2] {
		mp := mirrorPlanOf(dry.Plan, h.repo.Mirrors[i].Name)
		if mp == nil || !slices.ContainsFunc(mp.Commit, func(p sync.Placement) bool { return p.Path == want && p.Reason == sync.ReasonRepair }) {
			t.Errorf("the dry run's plan for %s does not put back %s (repair)", h.repo.Mirrors[i].Name, want)
		}
	}
	h.mustSync()
	for _, m := range h.mirrors {
		checkConsistent(t, m)
	}
}

func mirrorPlanOf(p *sync.Plan, name string) *sync.MirrorPlan {
	if p == nil {
		return nil
	}
	for _, mp := range p.Mirrors {
		if mp.Name == name {
			return mp
		}
	}
	return nil
}
