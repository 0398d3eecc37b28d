package sync_test

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/source"
)

// TestMirrorAddedWhileTheOriginIsDown: the origin answers 403 to
// everything (the incident) when a written mirror is added beside one
// that serves the current verified revision. The sync is not skipped: it
// brings the new mirror to that revision from the mirror beside, every
// file checked, asking the origin for nothing but repomd.xml; the dry run
// says so first. With every mirror current it is skipped as before; a
// mirror beside that holds a damaged package fails the sync with one
// error naming the package and the mirror, and the mirror being added
// stays as it was.
func TestMirrorAddedWhileTheOriginIsDown(t *testing.T) {
	key := testrepo.TestKey(t)
	dir := filepath.Join(t.TempDir(), "v1")
	pkgs := testrepo.DemoPackages(key)
	buildRepo(t, dir, "", testrepo.RepoOpts{Revision: "1", SignRepomd: key}, pkgs...)
	o := newOrigin(t, dir)
	h := newHarness(t, o, key.PublicPath)
	all := h.repo.Mirrors
	h.repo.Mirrors = all[:1]
	h.mustSync()
	o.requested()

	o.setStatus(http.StatusForbidden)
	if rep := h.sync(); !rep.Skipped || rep.FromMirror != "" || !errors.Is(rep.Err, source.ErrNoUsableUpstream) {
		t.Errorf("every mirror current, the origin down: skipped %v, from mirror %q, err %v; want skipped", rep.Skipped, rep.FromMirror, rep.Err)
	}

	h.repo.Mirrors = all // "two" added
	dry := h.engine(true).Sync(context.Background(), h.repo)
	if dry.Err != nil || dry.Skipped || dry.FromMirror != "one" || len(dry.WouldFetch) != 0 || dry.WouldTakeFromMirrors != len(pkgs) {
		t.Errorf("dry run of a mirror added with the origin down: err %v, skipped %v, from mirror %q, would fetch %q, take %d; want every package taken from mirror one", dry.Err, dry.Skipped, dry.FromMirror, dry.WouldFetch, dry.WouldTakeFromMirrors)
	}
	if _, err := os.Stat(h.mirrors[1]); err == nil {
		if ents, _ := os.ReadDir(h.mirrors[1]); len(ents) > 0 {
			t.Errorf("the dry run wrote to the added mirror: %v", ents)
		}
	}
	rep := h.sync()
	if rep.Err != nil || rep.Skipped || rep.FromMirror != "one" || rep.Fetched != 0 || rep.FromMirrors != len(pkgs) {
		t.Fatalf("sync of a mirror added with the origin down: err %v, skipped %v, from mirror %q, fetched %d, taken %d; want all %d taken from mirror one", rep.Err, rep.Skipped, rep.FromMirror, rep.Fetched, rep.FromMirrors, len(pkgs))
	}
	for _, p := range o.requested() {
		if !strings.HasPrefix(p, "repodata/repomd.xml") {
			t.Errorf("the origin was asked for %s; want only repomd.xml and its signature and key", p)
		}
	}
	for _, u := range rep.Upstreams {
		if u.State != source.Skipped {
			t.Errorf("upstream %s: %s; want skipped", u.URL, u.State)
		}
	}
	checkConsistent(t, h.mirrors[1])
	for _, f := range []string{"repodata/repomd.xml", "repodata/repomd.xml.asc"} {
		a, err1 := os.ReadFile(filepath.Join(h.mirrors[0], f))
		b, err2 := os.ReadFile(filepath.Join(h.mirrors[1], f))
		if err1 != nil || err2 != nil || string(a) != string(b) {
			t.Errorf("%s: the added mirror's differs from mirror one's (%v, %v)", f, err1, err2)
		}
	}
	if got, want := h.dnfList(1), nevras(pkgs); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("dnf lists %q in the added mirror, want %q", got, want)
	}

	// A package damaged in place (one and two share it): a third mirror
	// cannot be filled, and stays empty.
	var victim string
	filepath.WalkDir(h.mirrors[0], func(p string, d fs.DirEntry, err error) error {
		if err == nil && victim == "" && strings.HasSuffix(p, ".rpm") {
			victim = p
		}
		return nil
	})
	good, err := os.ReadFile(victim)
	if err != nil {
		t.Fatal(err)
	}
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
	rep = h.sync()
	var lf *source.LocalFileError
	rel, _ := filepath.Rel(h.mirrors[0], victim)
	if !errors.As(rep.Err, &lf) || lf.Mirror != "one" || lf.Href != filepath.ToSlash(rel) || !strings.Contains(rep.Err.Error(), "rpmirror verify") {
		t.Errorf("a damaged package in the mirror taken from: %v; want a *source.LocalFileError naming %s and mirror one", rep.Err, rel)
	}
	if _, err := os.Stat(filepath.Join(third, "repodata", "repomd.xml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the third mirror has a repomd.xml after the failed sync: %v", err)
	}

	// Mended in mirror one (a new file, as verify --repair writes one):
	// the next sync fills the third mirror. (The damaged copy the failed
	// sync linked into the cache once stayed there, and every later sync
	// failed on it: a reviewer's.)
	if err := os.WriteFile(victim+".new", good, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(victim+".new", victim); err != nil {
		t.Fatal(err)
	}
	if rep := h.sync(); rep.Err != nil || rep.FromMirror != "one" {
		t.Fatalf("the sync after mirror one was mended: %v (from mirror %q)", rep.Err, rep.FromMirror)
	}
	checkConsistent(t, third)

	// A package gone from every mirror here (deleted by hand): the error
	// says what the mirrors hold, not that a file of the download cache
	// is missing (an operator tester's).
	for _, m := range []string{h.mirrors[0], h.mirrors[1], third} {
		if err := os.Remove(filepath.Join(m, rel)); err != nil {
			t.Fatal(err)
		}
	}
	h.repo.Mirrors = append(h.repo.Mirrors, config.Mirror{Name: "four", Path: filepath.Join(filepath.Dir(h.mirrors[0]), "four")})
	rep = h.sync()
	if !errors.As(rep.Err, &lf) || strings.Contains(rep.Err.Error(), "cache") || !strings.Contains(rep.Err.Error(), "exporting "+filepath.ToSlash(rel)) {
		t.Errorf("a package no mirror here holds: %v; want a *source.LocalFileError saying the mirrors do not hold it", rep.Err)
	}
}

// TestFillTakesEveryFileFromTheMirrorNamed: with the origin down, a
// mirror behind by one revision (two) holds a damaged copy of a package
// the current revision keeps; a mirror added (three) is filled from the
// mirror serving the current revision (one) alone, never from the copy
// in the mirror behind (a reviewer's: that copy was linked first, and
// the fill failed, naming mirror one).
func TestFillTakesEveryFileFromTheMirrorNamed(t *testing.T) {
	h, o, dir, v2 := syncedWithNext(t)
	all := h.repo.Mirrors
	kept := sharedPackages(dir, v2)[0] // before the origin's directory holds v2
	republish(t, o, v2)
	h.repo.Mirrors = all[:1] // one moves to revision 2; two stays behind
	h.mustSync()
	damaged := filepath.Join(h.mirrors[1], filepath.FromSlash(kept))
	b, err := os.ReadFile(damaged)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-10] ^= 0xff
	if err := os.Remove(damaged); err != nil { // its own inode, not one's
		t.Fatal(err)
	}
	if err := os.WriteFile(damaged, b, 0o644); err != nil {
		t.Fatal(err)
	}
	o.setStatus(http.StatusForbidden)
	third := filepath.Join(filepath.Dir(h.mirrors[0]), "three")
	h.repo.Mirrors = append(append([]config.Mirror{}, all...), config.Mirror{Name: "three", Path: third})
	rep := h.sync()
	if rep.FromMirror != "one" {
		t.Fatalf("from mirror %q, want one: %v", rep.FromMirror, rep.Err)
	}
	if rep.Err != nil {
		t.Errorf("the fill failed: %v", rep.Err)
	}
	checkConsistent(t, third)
}
