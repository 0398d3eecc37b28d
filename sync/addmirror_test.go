package sync_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/internal/testrepo"
)

// TestMirrorAddedTakesWhatTheOthersHold: a written mirror added beside
// one that serves the revision (a tester's reload) takes the packages it
// holds, through hard links, checked as downloads are, instead of
// downloading them all again; one whose copy there is damaged (same size,
// other bytes) is downloaded, and the new mirror gets the good one. Every
// mirror is consistent, signatures checked.
func TestMirrorAddedTakesWhatTheOthersHold(t *testing.T) {
	key := testrepo.TestKey(t)
	dir := filepath.Join(t.TempDir(), "v1")
	pkgs := testrepo.DemoPackages(key)
	buildRepo(t, dir, "", testrepo.RepoOpts{Revision: "1", SignRepomd: key}, pkgs...)
	o := newOrigin(t, dir)
	h := newHarness(t, o, key.PublicPath)
	all := h.repo.Mirrors
	h.repo.Mirrors = all[:1]
	h.mustSync()
	if got := len(o.fetched()); got != len(pkgs) {
		t.Fatalf("the first sync fetched %d packages, want %d", got, len(pkgs))
	}
	ino := func(p string) uint64 {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Sys().(*syscall.Stat_t).Ino
	}
	var rels []string
	filepath.WalkDir(h.mirrors[0], func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".rpm") {
			r, _ := filepath.Rel(h.mirrors[0], p)
			rels = append(rels, r)
		}
		return nil
	})

	h.repo.Mirrors = all // "two" added
	dry := h.engine(true).Sync(context.Background(), h.repo)
	if dry.Err != nil || len(dry.WouldFetch) != 0 || dry.WouldFetchBytes != 0 || dry.WouldTakeFromMirrors != len(pkgs) {
		t.Errorf("the dry run of the added mirror would fetch %q (%d bytes) and take %d from the other, want nothing fetched and %d taken: %v", dry.WouldFetch, dry.WouldFetchBytes, dry.WouldTakeFromMirrors, len(pkgs), dry.Err)
	}
	rep := h.mustSync()
	if got := o.fetched(); len(got) != 0 || rep.Fetched != 0 || rep.FromMirrors != len(pkgs) {
		t.Errorf("adding a mirror: %d packages fetched (%q), %d taken from the other; want none fetched, %d taken", rep.Fetched, got, rep.FromMirrors, len(pkgs))
	}
	for _, r := range rels {
		if ino(filepath.Join(h.mirrors[1], r)) != ino(filepath.Join(h.mirrors[0], r)) {
			t.Errorf("%s: the added mirror holds a copy, not the file the other holds", r)
		}
	}
	for _, m := range h.mirrors {
		checkConsistent(t, m)
	}

	// Damaged in place in "one" (and so in "two", which shares it): a
	// third mirror downloads that one, and takes the rest.
	victim := filepath.Join(h.mirrors[0], rels[0])
	fh, err := os.OpenFile(victim, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fh.WriteAt([]byte("damaged"), 300); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	third := filepath.Join(filepath.Dir(h.mirrors[0]), "three")
	h.repo.Mirrors = append(h.repo.Mirrors, config.Mirror{Name: "three", Path: third})
	var log bytes.Buffer
	h.log = &log
	rep = h.mustSync()
	h.log = nil
	if w := grepLog(log.String(), "fails its checks"); !strings.Contains(w, filepath.ToSlash(rels[0])) || !strings.Contains(w, "mirror=one") {
		t.Errorf("no warning that mirror one holds a damaged %s:\n%s", rels[0], w)
	}
	if got := o.fetched(); len(got) != 1 || rep.Fetched != 1 || rep.FromMirrors != len(pkgs)-1 || !strings.HasSuffix(got[0], filepath.ToSlash(rels[0])) {
		t.Errorf("a third mirror beside a damaged package: fetched %q (%d), took %d; want %s alone fetched", got, rep.Fetched, rep.FromMirrors, rels[0])
	}
	checkConsistent(t, third)
	if ino(filepath.Join(third, rels[0])) == ino(victim) {
		t.Error("the third mirror links the damaged file")
	}

	// The origin moves on as a fourth mirror is added: the packages of
	// both revisions come from the mirrors behind (which serve them), the
	// new ones from the origin.
	v2 := filepath.Join(filepath.Dir(dir), "v2")
	buildRepo(t, v2, dir, testrepo.RepoOpts{Revision: "2", SignRepomd: key}, testrepo.DemoV2Packages(key)...)
	republish(t, o, v2)
	fourth := filepath.Join(filepath.Dir(h.mirrors[0]), "four")
	h.repo.Mirrors = append(h.repo.Mirrors, config.Mirror{Name: "four", Path: fourth})
	var kept, added int
	filepath.WalkDir(v2, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".rpm") {
			r, _ := filepath.Rel(v2, p)
			if _, err := os.Stat(filepath.Join(third, r)); err == nil {
				kept++
			} else {
				added++
			}
		}
		return nil
	})
	rep = h.mustSync()
	if got := o.fetched(); len(got) != added || rep.FromMirrors != kept {
		t.Errorf("a mirror added as the origin moved on: fetched %q, took %d; want the %d new packages fetched and the %d kept taken", got, rep.FromMirrors, added, kept)
	}
	for _, m := range []string{h.mirrors[0], h.mirrors[1], third, fourth} {
		checkConsistent(t, m)
	}
}
