package sync_test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/rpmirror/rpmirror/internal/testrepo"
)

// TestKeptPackageCheckedAgainstNewClaims: a new revision that names a
// package the mirrors keep, with the same checksum, is not trusted on that
// checksum alone when what the package was verified against has changed:
// another size or NEVRA in the primary (an origin lying about a file the
// mirrors have, which a fresh mirror refuses when the download fails those
// claims), another size of a metadata file, or another keyring (gpgkeys
// rotated or turned on). The kept
// file is read back and checked as a download is; when it fails, the sync
// fails as it would on a fresh mirror, naming the package, and the mirrors
// keep serving what they served. A new revision with the same claims and
// keys reads nothing back, and a keyring the packages still pass is
// accepted after reading them back. (A tester's: each lie was published
// by the incremental sync, and packages signed only by a key removed from
// gpgkeys stayed in every new revision.)
func TestKeptPackageCheckedAgainstNewClaims(t *testing.T) {
	v1 := filepath.Join("..", "internal", "demo", "origin", "v1")
	pub := testrepo.Testdata(t, "keys", "test.pub")
	unknown := testrepo.UnknownKey(t).PublicPath
	hello := regexp.MustCompile(`(?s)<package type="rpm">\s*<name>hello-mirror</name>.*?</package>`)
	const all = -1 // every package of the revision
	for _, tc := range []struct {
		name string
		edit func(string) string // the primary of the new revision
		// repomd edits the new revision's repomd.xml.
		repomd func(string) string
		keys   []string // gpgkeys for the second sync
		// want: the second sync's error names this; "" for none, and
		// then checked: the packages read back in each mirror (all:
		// every one).
		want    string
		checked int
	}{
		{name: "same claims", keys: []string{pub}, checked: 0},
		{name: "renamed", keys: []string{pub}, edit: func(s string) string {
			return hello.ReplaceAllStringFunc(s, func(b string) string { return strings.Replace(b, "<name>hello-mirror</name>", "<name>zeta</name>", 1) })
		}, want: "zeta"},
		{name: "another size", keys: []string{pub}, edit: func(s string) string {
			return hello.ReplaceAllStringFunc(s, func(b string) string { return strings.Replace(b, `<size package="7091"`, `<size package="7092"`, 1) })
		}, want: "hello-mirror"},
		{name: "metadata size", keys: []string{pub}, repomd: func(md string) string {
			return regexp.MustCompile(`(?s)(<data type="other">.*?<size>)(\d+)(</size>)`).ReplaceAllStringFunc(md, func(b string) string {
				return regexp.MustCompile(`<size>(\d+)</size>`).ReplaceAllStringFunc(b, func(sz string) string { return strings.Replace(sz, "</size>", "1</size>", 1) })
			})
		}, want: "other"},
		{name: "key rotated", keys: []string{unknown}, want: "signature"},
		{name: "key added", keys: []string{pub, unknown}, checked: all},
		{name: "signatures turned off", keys: nil, checked: all},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			o := newOrigin(t, filepath.Join(base, "origin"))
			republish(t, o, v1)
			h := newHarness(t, o, pub)
			first := h.mustSync()
			if tc.checked == all {
				tc.checked = first.Verified
			}
			before := map[string]map[string]string{}
			for _, m := range h.mirrors {
				before[m] = tree(t, m)
			}

			// The next revision: the same files, another <revision>, and
			// the primary as tc edits it.
			next := filepath.Join(base, "next")
			if err := os.CopyFS(next, os.DirFS(v1)); err != nil {
				t.Fatal(err)
			}
			rewriteMeta(t, next, "primary", tc.edit, func(md string) string {
				if tc.repomd != nil {
					md = tc.repomd(md)
				}
				return regexp.MustCompile(`<revision>[^<]*</revision>`).ReplaceAllString(md, "<revision>1795537925</revision>")
			})
			republish(t, o, next)
			h.repo.GPGKeys = tc.keys
			rep := h.sync()
			if tc.want != "" {
				t.Logf("refused: %v", rep.Err)
				if rep.Err == nil || !strings.Contains(rep.Err.Error(), tc.want) {
					t.Fatalf("sync of the new revision: err %v, want one naming %q", rep.Err, tc.want)
				}
				for _, m := range h.mirrors {
					if got := tree(t, m); !reflect.DeepEqual(got, before[m]) {
						t.Errorf("mirror %s changed by the refused sync", m)
					}
				}
				return
			}
			if rep.Err != nil {
				t.Fatalf("sync of the new revision: %v", rep.Err)
			}
			for _, m := range rep.Mirrors {
				if m.Checked != tc.checked {
					t.Errorf("mirror %s: %d packages read back, want %d", m.Name, m.Checked, tc.checked)
				}
			}
			h.checkMirrors()
		})
	}
}

// TestSuspectFileReplacedByThePublish: a package and a metadata file that
// a mirror keeps, damaged on its disk since the last publish and named by
// Options.Suspect (rpmirror serve's probes found them the wrong size), are
// read back before the next revision is published over them, and fetched
// again and replaced since they fail: the mirror then passes a check of
// every file (a tester's publish went over a truncated package and
// snapshotted it). Without Suspect the damage stays, as the index says the
// files were verified, and the listing of the mirror's names before a
// publish (listServed) finds the package there: sizes are not looked at.
func TestSuspectFileReplacedByThePublish(t *testing.T) {
	v1 := filepath.Join("..", "internal", "demo", "origin", "v1")
	pub := testrepo.Testdata(t, "keys", "test.pub")
	const pkg = "Packages/h/hello-mirror-1.0-1.noarch.rpm"
	for _, told := range []bool{true, false} {
		t.Run(fmt.Sprintf("told %t", told), func(t *testing.T) {
			base := t.TempDir()
			o := newOrigin(t, filepath.Join(base, "origin"))
			republish(t, o, v1)
			h := newHarness(t, o, pub)
			h.mustSync()
			other := metaHref(t, h.mirrors[0], "other")
			for _, p := range []string{pkg, other} {
				if err := os.Truncate(filepath.Join(h.mirrors[0], filepath.FromSlash(p)), 100); err != nil {
					t.Fatal(err)
				}
			}
			if told {
				h.suspect = func(repo, mirror string) []string {
					if mirror == "one" {
						return []string{pkg, other}
					}
					return nil
				}
			}
			next := filepath.Join(base, "next")
			if err := os.CopyFS(next, os.DirFS(v1)); err != nil {
				t.Fatal(err)
			}
			rewriteMeta(t, next, "primary", nil, func(md string) string {
				return regexp.MustCompile(`<revision>[^<]*</revision>`).ReplaceAllString(md, "<revision>1795537925</revision>")
			})
			republish(t, o, next)
			rep := h.mustSync()
			for _, p := range []string{pkg, other} {
				fi, err := os.Stat(filepath.Join(h.mirrors[0], filepath.FromSlash(p)))
				if err != nil {
					t.Fatal(err)
				}
				if repaired := fi.Size() != 100; repaired != told {
					t.Errorf("%s is %d bytes after the publish; want it replaced: %t", p, fi.Size(), told)
				}
			}
			if want := map[bool]int{true: 1, false: 0}[told]; rep.Fetched != want {
				t.Errorf("%d packages fetched, want %d (the damaged one, once told)", rep.Fetched, want)
			}
		})
	}
}

// metaHref returns the location of the metadata file of type typ that
// the repository in dir lists.
func metaHref(t *testing.T, dir, typ string) string {
	t.Helper()
	md, err := os.ReadFile(filepath.Join(dir, "repodata", "repomd.xml"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)<data type="` + typ + `">.*?<location href="([^"]+)"`).FindSubmatch(md)
	if m == nil {
		t.Fatalf("no %s in %s's repomd.xml", typ, dir)
	}
	return string(m[1])
}
