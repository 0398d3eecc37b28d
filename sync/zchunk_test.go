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

// zckSynced makes, under a temporary base, the demo's v1 (a) and v2 (b)
// with zchunk metadata, an origin serving a, and a harness whose mirrors
// synced it; it returns them and the repomd.xml the mirrors serve.
func zckSynced(t *testing.T) (base, a, b string, o *origin, h *harness, served []byte) {
	t.Helper()
	base = t.TempDir()
	a, b = filepath.Join(base, "a"), filepath.Join(base, "b")
	zckRepo(t, "v1", a)
	zckRepo(t, "v2", b)
	o = newOrigin(t, filepath.Join(base, "origin"))
	republish(t, o, a)
	h = newHarness(t, o)
	h.mustSync()
	served, err := os.ReadFile(filepath.Join(h.mirrors[0], "repodata", "repomd.xml"))
	if err != nil {
		t.Fatal(err)
	}
	return base, a, b, o, h, served
}

// TestZchunkCopyMustMatch syncs a repository with zchunk metadata, then
// one whose primary_zck holds other packages than its primary (found by
// an attacker's test: a mirror served a primary_zck naming a package it
// did not have, and verify said ok; dnf built with zchunk reads that file
// instead of primary). The second is refused and the mirrors keep the
// first.
func TestZchunkCopyMustMatch(t *testing.T) {
	_, a, b, o, h, served := zckSynced(t)

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

// TestZchunkContentMustMatch: a repomd.xml whose primary_zck declares
// the primary's open-checksum but holds other packages (the claim copied,
// which passes TestZchunkCopyMustMatch's check), or whose primary holds
// other packages than the open-checksum its zchunk copy matches, is
// refused once the content is read: the zchunk file decompressed, the
// primary hashed as it is planned (a tester's origin copied the claim,
// and the mirrors published a primary_zck naming an unverified package).
// The mirrors keep the revision they had; an honest zchunk revision
// after it is published.
func TestZchunkContentMustMatch(t *testing.T) {
	block := func(typ string) *regexp.Regexp {
		return regexp.MustCompile(`(?s)\s*<data type="` + typ + `">.*?</data>`)
	}
	field := func(b []byte, re string) []byte { return regexp.MustCompile(re).Find(b) }
	for _, tc := range []struct {
		name string
		typ  string // the file that lies: its content is b's, its claims a's
		want string // the type the error names
	}{
		{"zchunk copy of other content", "primary_zck", "primary_zck"},
		// b's primary is longer than a's open-size: refused as that.
		{"primary of other content", "primary", ""},
		// The same size as a's: only its digest tells.
		{"primary of other content, the same size", "", "primary"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base, a, b, o, h, served := zckSynced(t)
			md, _ := os.ReadFile(filepath.Join(a, "repodata", "repomd.xml"))
			newRevision := func(md []byte) []byte {
				return regexp.MustCompile(`<revision>[^<]*</revision>`).ReplaceAllLiteral(md, []byte("<revision>9999999999</revision>"))
			}
			if tc.typ == "" {
				// a with one letter of its primary changed (recompressed,
				// checksum and size fixed), claiming a's open-checksum.
				lying := filepath.Join(base, "lying")
				if err := os.CopyFS(lying, os.DirFS(a)); err != nil {
					t.Fatal(err)
				}
				claim := field(block("primary").Find(md), `<open-checksum[^>]*>[^<]*</open-checksum>`)
				rewriteMeta(t, lying, "primary", func(s string) string {
					return strings.Replace(s, "<name>hello-mirror</name>", "<name>jello-mirror</name>", 1)
				}, func(md string) string {
					b := block("primary").FindString(md)
					return string(newRevision([]byte(strings.Replace(md, b, regexp.MustCompile(`<open-checksum[^>]*>[^<]*</open-checksum>`).ReplaceAllLiteralString(b, string(claim)), 1))))
				})
				republish(t, o, lying)
			} else {
				// a's repomd.xml with b's file of type tc.typ in place
				// of a's, keeping a's claims of its content
				// (open-checksum and open-size), and a new revision.
				mdB, _ := os.ReadFile(filepath.Join(b, "repodata", "repomd.xml"))
				mine, theirs := block(tc.typ).Find(md), block(tc.typ).Find(mdB)
				lie := regexp.MustCompile(`<open-checksum[^>]*>[^<]*</open-checksum>`).ReplaceAllLiteral(theirs, field(mine, `<open-checksum[^>]*>[^<]*</open-checksum>`))
				lie = regexp.MustCompile(`<open-size>\d+</open-size>`).ReplaceAllLiteral(lie, field(mine, `<open-size>\d+</open-size>`))
				href := regexp.MustCompile(`href="([^"]+)"`).FindSubmatch(theirs)[1]
				if err := os.Link(filepath.Join(b, string(href)), filepath.Join(o.dir, string(href))); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(o.dir, "repodata", "repomd.xml"), newRevision(bytes.Replace(md, mine, lie, 1)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			rep := h.sync()
			var zc *sync.ZchunkContentError
			switch {
			case tc.want == "" && rep.Err == nil:
				t.Fatal("the revision was published")
			case tc.want != "" && (!errors.As(rep.Err, &zc) || zc.Type != tc.want):
				t.Fatalf("err = %v, want a *sync.ZchunkContentError naming %s", rep.Err, tc.want)
			}
			t.Logf("refused: %v", rep.Err)
			for _, m := range h.mirrors {
				if got, _ := os.ReadFile(filepath.Join(m, "repodata", "repomd.xml")); !bytes.Equal(got, served) {
					t.Errorf("%s: repomd.xml changed after a refused revision", m)
				}
			}
			if tc.typ == "primary_zck" {
				// A mirror filled by other means with that revision is
				// named by verify.
				other := filepath.Join(base, "other")
				if err := os.CopyFS(other, os.DirFS(o.dir)); err != nil {
					t.Fatal(err)
				}
				tg, err := local.New(other)
				if err != nil {
					t.Fatal(err)
				}
				problems, _, err := sync.CheckMirrorWith(context.Background(), tg, sync.CheckOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if !slices.ContainsFunc(problems, func(p sync.Problem) bool { return errors.As(p.Err, &zc) }) {
					t.Errorf("verify of a mirror serving a primary_zck of other content: %v, want a *sync.ZchunkContentError", problems)
				}
			}
			// b as it is, honest, is published.
			republish(t, o, b)
			h.mustSync()
			h.checkMirrors()
		})
	}
}

// lyingZchunk makes, under base, the demo's v1 with zchunk metadata (a)
// and a copy of it whose primary_zck is v2's, claiming a's primary's
// open-checksum and open-size (lying), and returns both directories.
func lyingZchunk(t *testing.T, base string) (a, lying string) {
	t.Helper()
	a, b := filepath.Join(base, "a"), filepath.Join(base, "b")
	lying = filepath.Join(base, "lying")
	zckRepo(t, "v1", a)
	zckRepo(t, "v2", b)
	if err := os.CopyFS(lying, os.DirFS(a)); err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile(`(?s)\s*<data type="primary_zck">.*?</data>`)
	md, _ := os.ReadFile(filepath.Join(a, "repodata", "repomd.xml"))
	mdB, _ := os.ReadFile(filepath.Join(b, "repodata", "repomd.xml"))
	mine, theirs := block.Find(md), block.Find(mdB)
	openSum := regexp.MustCompile(`<open-checksum[^>]*>[^<]*</open-checksum>`)
	openSize := regexp.MustCompile(`<open-size>\d+</open-size>`)
	lie := openSize.ReplaceAllLiteral(openSum.ReplaceAllLiteral(theirs, openSum.Find(mine)), openSize.Find(mine))
	href := regexp.MustCompile(`href="([^"]+)"`).FindSubmatch(theirs)[1]
	if err := os.Link(filepath.Join(b, string(href)), filepath.Join(lying, string(href))); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(lying, "repodata", "repomd.xml"), bytes.Replace(md, mine, lie, 1), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(lying, "repodata", "repomd.xml.asc"))
	return a, lying
}

// TestZchunkContentCheckedWhateverTheRoute: the lying primary_zck of
// TestZchunkContentMustMatch is refused also when it does not come by its
// own download: held already by a mirror rpmirror did not publish (filled
// by rsync, adopted), or its bytes listed first under another type (one
// download serves both entries). A reviewer's: both skipped the check.
func TestZchunkContentCheckedWhateverTheRoute(t *testing.T) {
	for _, route := range []string{"adopted mirror", "another type first"} {
		t.Run(route, func(t *testing.T) {
			base := t.TempDir()
			_, lying := lyingZchunk(t, base)
			o := newOrigin(t, filepath.Join(base, "origin"))
			h := newHarness(t, o)
			switch route {
			case "adopted mirror":
				for _, m := range h.mirrors {
					if err := os.CopyFS(m, os.DirFS(lying)); err != nil {
						t.Fatal(err)
					}
				}
				republish(t, o, lying)
			case "another type first":
				republish(t, o, lying)
				mdPath := filepath.Join(o.dir, "repodata", "repomd.xml")
				md, _ := os.ReadFile(mdPath)
				zck := regexp.MustCompile(`(?s)<data type="primary_zck">.*?</data>`).Find(md)
				copyOf := bytes.Replace(zck, []byte(`type="primary_zck"`), []byte(`type="zz-copy"`), 1)
				md = bytes.Replace(md, []byte("<data "), append(append([]byte{}, copyOf...), []byte("\n  <data ")...), 1)
				if err := os.WriteFile(mdPath, md, 0o644); err != nil {
					t.Fatal(err)
				}
				h.concurrency = 1 // the copy is fetched first
			}
			before := tree(t, h.mirrors[0])
			rep := h.sync()
			var zc *sync.ZchunkContentError
			if !errors.As(rep.Err, &zc) || zc.Type != "primary_zck" {
				t.Fatalf("err = %v, want a *sync.ZchunkContentError naming primary_zck", rep.Err)
			}
			if after := tree(t, h.mirrors[0]); route == "another type first" && len(after) != len(before) {
				t.Errorf("the mirror changed: %d files, %d before", len(after), len(before))
			}
		})
	}
}
