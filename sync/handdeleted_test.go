package sync_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rpmirror/rpmirror/internal/safefs"
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
	h, o, dir, v2 := syncedWithNext(t)
	kept := sharedPackages(dir, v2)
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
		mp := dry.Plan.Mirror(h.repo.Mirrors[i].Name)
		if mp == nil || !slices.ContainsFunc(mp.Commit, func(p sync.Placement) bool { return p.Path == want && p.Reason == sync.ReasonRepair }) {
			t.Errorf("the dry run's plan for %s does not put back %s (repair)", h.repo.Mirrors[i].Name, want)
		}
	}
	h.mustSync()
	for _, m := range h.mirrors {
		checkConsistent(t, m)
	}
}

// TestPublishToAMirrorThatCannotBeListedAsItWas: before a publish, a
// mirror rpmirror published is listed where its packages are. A flat
// repository (packages at the top, as `createrepo_c .` makes one) is
// listed at its top: a package deleted there is put back. A mirror whose
// Packages/ directory became a symlink is refused at once with one error
// naming it (*sync.ListError wrapping a *safefs.SymlinkError; before, it
// was planned as if every package were gone), while the other mirror is
// published; one with a directory where a package goes fails naming it
// (*safefs.IsDirError; before, the error spoke of mount points). Neither
// changes.
func TestPublishToAMirrorThatCannotBeListedAsItWas(t *testing.T) {
	testrepo.RequireTools(t, "createrepo_c")
	t.Run("flat", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "flat")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		var names []string
		filepath.WalkDir(filepath.Join("..", "internal", "demo", "origin", "v1"), func(p string, d fs.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(p, ".rpm") {
				b, _ := os.ReadFile(p)
				os.WriteFile(filepath.Join(dir, d.Name()), b, 0o644)
				names = append(names, d.Name())
			}
			return nil
		})
		if err := testrepo.MakeRepo(dir, testrepo.RepoOpts{Revision: "1"}); err != nil {
			t.Fatal(err)
		}
		o := newOrigin(t, dir)
		h := newHarness(t, o, testrepo.Testdata(t, "keys", "test.pub"))
		h.mustSync()
		if err := os.Remove(filepath.Join(h.mirrors[0], names[0])); err != nil {
			t.Fatal(err)
		}
		if err := testrepo.MakeRepo(dir, testrepo.RepoOpts{Revision: "2"}); err != nil {
			t.Fatal(err)
		}
		h.mustSync()
		for _, m := range h.mirrors {
			checkConsistent(t, m)
		}
	})

	for _, tc := range []struct {
		name  string
		plant func(t *testing.T, mirror, pkg string)
		want  func(error) bool
	}{
		{"Packages/ a symlink", func(t *testing.T, mirror, _ string) {
			pk := filepath.Join(mirror, "Packages")
			if err := os.Rename(pk, pk+".real"); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(pk+".real", pk); err != nil {
				t.Fatal(err)
			}
		}, func(err error) bool {
			var le *sync.ListError
			var sym *safefs.SymlinkError
			return errors.As(err, &le) && errors.As(err, &sym) && le.Mirror == "one"
		}},
		{"a directory where a package goes", func(t *testing.T, mirror, pkg string) {
			p := filepath.Join(mirror, filepath.FromSlash(pkg))
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(p, "x"), 0o755); err != nil {
				t.Fatal(err)
			}
		}, func(err error) bool {
			var isDir *safefs.IsDirError
			return errors.As(err, &isDir)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, o, dir, v2 := syncedWithNext(t)
			kept := sharedPackages(dir, v2)[0]
			tc.plant(t, h.mirrors[0], kept)
			before, err := os.ReadFile(filepath.Join(h.mirrors[0], "repodata", "repomd.xml"))
			if err != nil {
				t.Fatal(err)
			}
			republish(t, o, v2)
			rep := h.sync()
			if !tc.want(rep.Err) {
				t.Errorf("sync: %v; want the error naming what is planted", rep.Err)
			}
			if after, _ := os.ReadFile(filepath.Join(h.mirrors[0], "repodata", "repomd.xml")); string(after) != string(before) {
				t.Error("mirror one's repomd.xml changed")
			}
			checkConsistent(t, h.mirrors[1])
			if b, _ := os.ReadFile(filepath.Join(h.mirrors[1], "repodata", "repomd.xml")); string(b) == string(before) {
				t.Error("mirror two was not published to")
			}
		})
	}
}

// sharedPackages returns the locations of the packages the repository in
// v2 keeps from the one in v1 (files at the same path in both).
func sharedPackages(v1, v2 string) []string {
	var kept []string
	filepath.WalkDir(v2, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".rpm") {
			r, _ := filepath.Rel(v2, p)
			if _, err := os.Stat(filepath.Join(v1, r)); err == nil {
				kept = append(kept, filepath.ToSlash(r))
			}
		}
		return nil
	})
	return kept
}

// syncedWithNext builds the demo repository, revision 1, serves it as
// origin o (o.dir is dir), syncs it to both mirrors of h (repomd.xml
// signed by the test key, packages checked with it), and builds revision
// 2 at v2 without publishing it: republish(t, o, v2) does.
func syncedWithNext(t *testing.T) (h *harness, o *origin, dir, v2 string) {
	t.Helper()
	key := testrepo.TestKey(t)
	dir = filepath.Join(t.TempDir(), "v1")
	buildRepo(t, dir, "", testrepo.RepoOpts{Revision: "1", SignRepomd: key}, testrepo.DemoPackages(key)...)
	o = newOrigin(t, dir)
	h = newHarness(t, o, key.PublicPath)
	h.mustSync()
	v2 = filepath.Join(filepath.Dir(dir), "v2")
	buildRepo(t, v2, dir, testrepo.RepoOpts{Revision: "2", SignRepomd: key}, testrepo.DemoV2Packages(key)...)
	return h, o, dir, v2
}
