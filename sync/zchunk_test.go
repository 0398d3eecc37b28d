package sync_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/sync"
	"github.com/rpmirror/rpmirror/target/local"
)

// zckRepo copies the demo origin's revision rev to dir and makes its
// repodata with createrepo_c --zck (zchunk copies of primary, filelists
// and other beside them, as Fedora publishes). It skips t when
// createrepo_c writes no zchunk files.
func zckRepo(t *testing.T, rev, dir string) {
	t.Helper()
	testrepo.RequireTools(t, "createrepo_c")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("..", "internal", "demo", "origin", rev))); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(filepath.Join(dir, "repodata"))
	if out, err := exec.Command("createrepo_c", "-q", "--zck", dir).CombinedOutput(); err != nil {
		t.Fatalf("createrepo_c --zck: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "repodata", "repomd.xml")); !bytes.Contains(b, []byte(`type="primary_zck"`)) {
		t.Skip("createrepo_c wrote no zchunk metadata (built without zchunk)")
	}
}

// TestZchunkCopyMustMatch syncs a repository with zchunk metadata, then
// one whose primary_zck holds other packages than its primary (found by
// an attacker's test: a mirror served a primary_zck naming a package it
// did not have, and verify said ok; dnf built with zchunk reads that file
// instead of primary). The second is refused and the mirrors keep the
// first.
func TestZchunkCopyMustMatch(t *testing.T) {
	base := t.TempDir()
	a, b := filepath.Join(base, "a"), filepath.Join(base, "b")
	zckRepo(t, "v1", a)
	zckRepo(t, "v2", b)
	o := newOrigin(t, filepath.Join(base, "origin"))
	republish(t, o, a)
	h := newHarness(t, o)
	h.mustSync()
	served, err := os.ReadFile(filepath.Join(h.mirrors[0], "repodata", "repomd.xml"))
	if err != nil {
		t.Fatal(err)
	}

	// a's repomd.xml with b's primary_zck (and its file) in place of a's.
	block := regexp.MustCompile(`(?s)\s*<data type="primary_zck">.*?</data>`)
	md, _ := os.ReadFile(filepath.Join(a, "repodata", "repomd.xml"))
	mdB, _ := os.ReadFile(filepath.Join(b, "repodata", "repomd.xml"))
	zB := block.Find(mdB)
	href := regexp.MustCompile(`href="([^"]+)"`).FindSubmatch(zB)[1]
	if err := os.Rename(filepath.Join(b, string(href)), filepath.Join(o.dir, string(href))); err != nil {
		t.Fatal(err)
	}
	mixed := block.ReplaceAllLiteral(md, zB)
	if bytes.Equal(mixed, md) {
		t.Fatal("the primary_zck entry was not replaced")
	}
	if err := os.WriteFile(filepath.Join(o.dir, "repodata", "repomd.xml"), mixed, 0o644); err != nil {
		t.Fatal(err)
	}
	rep := h.sync()
	var zm *sync.ZchunkMismatchError
	if !errors.As(rep.Err, &zm) || zm.Type != "primary_zck" || zm.Of != "primary" {
		t.Fatalf("a primary_zck of other packages: err = %v, want a *sync.ZchunkMismatchError for primary_zck", rep.Err)
	}
	if !strings.Contains(rep.Err.Error(), "open-checksum") {
		t.Errorf("the error does not say what differs: %v", rep.Err)
	}
	// A mirror filled by other means that serves such a repomd.xml is
	// named by verify.
	if err := os.WriteFile(filepath.Join(h.mirrors[1], "repodata", "repomd.xml"), mixed, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Link(filepath.Join(o.dir, string(href)), filepath.Join(h.mirrors[1], string(href)))
	tg, err := local.New(h.mirrors[1])
	if err != nil {
		t.Fatal(err)
	}
	problems, _, err := sync.CheckMirrorWith(context.Background(), tg, sync.CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(problems, func(p sync.Problem) bool { return errors.As(p.Err, &zm) }) {
		t.Errorf("verify of a mirror serving a mismatched primary_zck: %v, want a *sync.ZchunkMismatchError", problems)
	}
	os.WriteFile(filepath.Join(h.mirrors[1], "repodata", "repomd.xml"), served, 0o644)
	os.Remove(filepath.Join(h.mirrors[1], string(href)))
	for _, m := range h.mirrors {
		if got, _ := os.ReadFile(filepath.Join(m, "repodata", "repomd.xml")); !bytes.Equal(got, served) {
			t.Errorf("%s: repomd.xml changed after a refused revision", m)
		}
		if _, err := os.Stat(filepath.Join(m, string(href))); err == nil {
			t.Errorf("%s: the mismatched primary_zck was stored", m)
		}
	}
}
