package sync_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/sync"
	"github.com/rpmirror/rpmirror/target"
	"github.com/rpmirror/rpmirror/target/local"
	"github.com/rpmirror/rpmirror/verify"
)

// packageBlock returns the <package> element of primary whose location
// is href.
func packageBlock(t *testing.T, primary, href string) string {
	t.Helper()
	for _, b := range regexp.MustCompile(`(?s)<package type="rpm">.*?</package>\n`).FindAllString(primary, -1) {
		if strings.Contains(b, `<location href="`+href+`"/>`) {
			return b
		}
	}
	t.Fatalf("no package at %s", href)
	return ""
}

// addPackages appends blocks to primary and fixes its package count.
func addPackages(primary string, blocks ...string) string {
	primary = strings.Replace(primary, "</metadata>", strings.Join(blocks, "")+"</metadata>", 1)
	return regexp.MustCompile(`packages="(\d+)"`).ReplaceAllStringFunc(primary, func(m string) string {
		var n int
		fmt.Sscanf(m, `packages="%d"`, &n)
		return fmt.Sprintf(`packages="%d"`, n+len(blocks))
	})
}

// relocate returns block with its location changed to href.
func relocate(block, href string) string {
	return regexp.MustCompile(`<location href="[^"]+"/>`).ReplaceAllString(block, `<location href="`+href+`"/>`)
}

// primaryHref returns the location of the primary metadata of the
// repository in dir.
func primaryHref(t *testing.T, dir string) string {
	t.Helper()
	md, _ := os.ReadFile(filepath.Join(dir, "repodata", "repomd.xml"))
	m := regexp.MustCompile(`(?s)<data type="primary">.*?<location href="([^"]+)"`).FindSubmatch(md)
	if m == nil {
		t.Fatal("no primary in repomd.xml")
	}
	return string(m[1])
}

const toolsHref = "Packages/t/tools-common-2.3.1-1.noarch.rpm"

// TestOnePackageAtSeveralLocations: a package file listed at several
// locations (same checksum) is downloaded once, with concurrency 4, and
// placed at every location. Parallel downloads of it once raced on one
// .part file and failed the sync.
func TestOnePackageAtSeveralLocations(t *testing.T) {
	v1 := testrepo.DemoOrigin(t, "v1")
	for run := range 3 {
		t.Run(fmt.Sprint("run ", run), func(t *testing.T) {
			o := newOrigin(t, filepath.Join(t.TempDir(), "origin"))
			republish(t, o, v1)
			want, _ := os.ReadFile(filepath.Join(o.dir, toolsHref))
			hrefs := []string{toolsHref}
			var blocks []string
			rewriteMeta(t, o.dir, "primary", func(s string) string {
				b := packageBlock(t, s, toolsHref)
				for i := range 6 {
					href := fmt.Sprintf("Packages/copy%d/tools-common-2.3.1-1.noarch.rpm", i)
					hrefs = append(hrefs, href)
					blocks = append(blocks, relocate(b, href))
					os.MkdirAll(filepath.Dir(filepath.Join(o.dir, href)), 0o755)
					os.WriteFile(filepath.Join(o.dir, href), want, 0o644)
				}
				return addPackages(s, blocks...)
			}, nil)
			h := newHarness(t, o, demoKey(t))
			h.mustSync()
			n := 0
			for _, p := range o.fetched() {
				if strings.HasSuffix(p, "/tools-common-2.3.1-1.noarch.rpm") {
					n++
				}
			}
			if n != 1 {
				t.Errorf("the package at %d locations was downloaded %d times, want once", len(hrefs), n)
			}
			for _, m := range h.mirrors {
				for _, href := range hrefs {
					if got, err := os.ReadFile(filepath.Join(m, href)); err != nil || !bytes.Equal(got, want) {
						t.Errorf("%s: %s is not the package: %v", m, href, err)
					}
				}
			}
			h.checkMirrors()
		})
	}
}

// TestDuplicateEntries: metadata that lists one location twice is
// published when both entries agree (dnf reads such repositories;
// createrepo_c's tests call them "unfortunately common") and refused with
// a *sync.ConflictError, mirrors untouched, when they do not.
func TestDuplicateEntries(t *testing.T) {
	v1 := testrepo.DemoOrigin(t, "v1")
	otherBlock := regexp.MustCompile(`(?s)\s*<data type="other">.*?</data>`)
	for _, tc := range []struct {
		name       string
		primary    func(t *testing.T, s string) string
		repomd     func(string) string
		conflict   bool
		wantListed int // times the primary lists toolsHref after the sync
	}{
		{name: "identical package entries", primary: func(t *testing.T, s string) string {
			return addPackages(s, packageBlock(t, s, toolsHref))
		}, wantListed: 2},
		{name: "package entries with different checksums", primary: func(t *testing.T, s string) string {
			b := packageBlock(t, s, toolsHref)
			b = regexp.MustCompile(`pkgid="YES">[0-9a-f]+<`).ReplaceAllString(b, `pkgid="YES">`+strings.Repeat("ab", 32)+`<`)
			return addPackages(s, b)
		}, conflict: true},
		{name: "package entries with different sizes", primary: func(t *testing.T, s string) string {
			b := packageBlock(t, s, toolsHref)
			b = regexp.MustCompile(`<size package="\d+"`).ReplaceAllString(b, `<size package="12345"`)
			return addPackages(s, b)
		}, conflict: true},
		{name: "identical metadata entries", repomd: func(md string) string {
			b := otherBlock.FindString(md)
			return strings.Replace(md, b, b+strings.Replace(b, `type="other"`, `type="other_again"`, 1), 1)
		}, wantListed: 1},
		{name: "metadata entries with different checksums", repomd: func(md string) string {
			b := otherBlock.FindString(md)
			b2 := strings.Replace(b, `type="other"`, `type="other_again"`, 1)
			b2 = regexp.MustCompile(`<checksum type="sha256">[0-9a-f]+<`).ReplaceAllString(b2, `<checksum type="sha256">`+strings.Repeat("cd", 32)+`<`)
			return strings.Replace(md, b, b+b2, 1)
		}, conflict: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newOrigin(t, filepath.Join(t.TempDir(), "origin"))
			republish(t, o, v1)
			h := newHarness(t, o, demoKey(t))
			h.mustSync()
			before := []map[string]string{tree(t, h.mirrors[0]), tree(t, h.mirrors[1])}
			var edit func(string) string
			if tc.primary != nil {
				edit = func(s string) string { return tc.primary(t, s) }
			}
			rewriteMeta(t, o.dir, "primary", edit, tc.repomd)
			rep := h.sync()
			var ce *sync.ConflictError
			if !tc.conflict {
				if rep.Err != nil {
					t.Fatalf("sync: %v", rep.Err)
				}
				h.checkMirrors()
				for _, m := range h.mirrors {
					if got := countListed(t, m, toolsHref); got != tc.wantListed {
						t.Errorf("%s: its primary lists %s %d times, want %d", m, toolsHref, got, tc.wantListed)
					}
				}
				if len(testrepo.MissingTools("dnf")) == 0 {
					if out, err := testrepo.DNF(t, "m", h.mirrors[0], "repoquery", "-q"); err != nil || !strings.Contains(out, "tools-common") {
						t.Errorf("dnf on the mirror: %v\n%s", err, out)
					}
				}
				return
			}
			if !errors.As(rep.Err, &ce) {
				t.Fatalf("sync: %v; want a *sync.ConflictError", rep.Err)
			}
			t.Logf("sync: %v", rep.Err)
			for i, m := range h.mirrors {
				if got := tree(t, m); !reflect.DeepEqual(got, before[i]) {
					t.Errorf("mirror %s changed", m)
				}
			}
		})
	}
}

// countListed returns how many packages of the primary the mirror at dir
// serves are at href.
func countListed(t *testing.T, dir, href string) int {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, primaryHref(t, dir)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(plain), `<location href="`+href+`"/>`)
}

// commitRefused is a target whose Commit fails with errCommit.
type commitRefused struct{ target.Target }

var errCommit = errors.New("commit refused by the test")

func (commitRefused) Commit(context.Context, []target.File, []string) error { return errCommit }

// TestLiveFilesWaitForTheCommit: a package of the new revision at a path
// the served revision uses for its own metadata is written by the atomic
// commit, never before it: when the commit fails, the mirror still serves
// its old revision intact. Once the commit works, the package is there.
func TestLiveFilesWaitForTheCommit(t *testing.T) {
	v1 := testrepo.DemoOrigin(t, "v1")
	o := newOrigin(t, filepath.Join(t.TempDir(), "origin"))
	republish(t, o, v1)
	h := newHarness(t, o, demoKey(t))
	h.mustSync()
	live := primaryHref(t, h.mirrors[0])
	before := []map[string]string{tree(t, h.mirrors[0]), tree(t, h.mirrors[1])}
	// The new revision: tools-common moved to where the served primary is.
	pkg, _ := os.ReadFile(filepath.Join(o.dir, toolsHref))
	os.Remove(filepath.Join(o.dir, toolsHref))
	rewriteMeta(t, o.dir, "primary", func(s string) string {
		return strings.Replace(s, `<location href="`+toolsHref+`"/>`, `<location href="`+live+`"/>`, 1)
	}, nil)
	os.WriteFile(filepath.Join(o.dir, live), pkg, 0o644)

	rep := h.engineWith(func(opts *sync.Options) {
		opts.OpenTarget = func(_ context.Context, m config.Mirror) (target.Target, error) {
			tg, err := local.New(m.Path)
			return commitRefused{tg}, err
		}
	}).Sync(context.Background(), h.repo)
	if !errors.Is(rep.Err, errCommit) {
		t.Fatalf("sync: %v; want the commit's failure", rep.Err)
	}
	for i, m := range h.mirrors {
		after := tree(t, m)
		for p, sum := range before[i] {
			if after[p] != sum {
				t.Errorf("%s: %s, served by the old revision, was changed before the commit", m, p)
			}
		}
	}
	h.checkServed("after the failed commit")
	h.mustSync()
	h.checkMirrors()
	for _, m := range h.mirrors {
		if got, _ := os.ReadFile(filepath.Join(m, live)); !bytes.Equal(got, pkg) {
			t.Errorf("%s: the package is not at %s", m, live)
		}
	}
}

// TestReservedLocations: an origin cannot publish a package or metadata
// file under a name rpmirror writes itself (repomd.xml and its signature
// and key, the mirror lists of rpmirror serve) or under a name the same
// revision uses for metadata: the sync fails with a
// *sync.ReservedPathError and the mirrors stay as they were.
func TestReservedLocations(t *testing.T) {
	v1 := testrepo.DemoOrigin(t, "v1")
	for _, tc := range []struct {
		name     string
		pkgHref  string // move tools-common here
		metaHref string // move the other metadata here
		own      bool   // pkgHref is this revision's filelists
	}{
		{name: "package at metalink.xml", pkgHref: sync.MetalinkPath},
		{name: "package at mirrorlist", pkgHref: sync.MirrorlistPath},
		{name: "package at repomd.xml.asc", pkgHref: sync.AscPath},
		{name: "package at repomd.xml.key", pkgHref: sync.KeyPath},
		{name: "package at repomd.xml", pkgHref: sync.RepomdPath},
		{name: "package at this revision's metadata", own: true},
		{name: "metadata at mirrorlist", metaHref: sync.MirrorlistPath},
		{name: "metadata at metalink.xml", metaHref: sync.MetalinkPath},
		{name: "metadata at repomd.xml.asc", metaHref: sync.AscPath},
		{name: "package in rpmirror's snapshots", pkgHref: "snapshots/20261126T120000Z/Packages/x.rpm"},
		{name: "metadata at rpmirror's snapshot index", metaHref: "snapshots/index.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newOrigin(t, filepath.Join(t.TempDir(), "origin"))
			republish(t, o, v1)
			h := newHarness(t, o, demoKey(t))
			h.mustSync()
			before := []map[string]string{tree(t, h.mirrors[0]), tree(t, h.mirrors[1])}
			md, _ := os.ReadFile(filepath.Join(o.dir, "repodata", "repomd.xml"))
			filelists := string(regexp.MustCompile(`(?s)<data type="filelists">.*?<location href="([^"]+)"`).FindSubmatch(md)[1])
			pkgHref := tc.pkgHref
			if tc.own {
				pkgHref = filelists
			}
			var edit func(string) string
			if pkgHref != "" {
				edit = func(s string) string {
					return strings.Replace(s, `<location href="`+toolsHref+`"/>`, `<location href="`+pkgHref+`"/>`, 1)
				}
			}
			var editRepomd func(string) string
			if tc.metaHref != "" {
				editRepomd = func(md string) string {
					other := regexp.MustCompile(`(?s)<data type="other">.*?<location href="([^"]+)"`).FindStringSubmatch(md)[1]
					return strings.Replace(md, other, tc.metaHref, 1)
				}
			}
			rewriteMeta(t, o.dir, "primary", edit, editRepomd)
			rep := h.sync()
			var re *sync.ReservedPathError
			if !errors.As(rep.Err, &re) {
				t.Fatalf("sync: %v; want a *sync.ReservedPathError", rep.Err)
			}
			t.Logf("sync: %v", rep.Err)
			for i, m := range h.mirrors {
				if got := tree(t, m); !reflect.DeepEqual(got, before[i]) {
					t.Errorf("mirror %s changed", m)
				}
			}
		})
	}
}

// checkServed checks every mirror against its own repomd.xml with
// sync.CheckMirror and the harness's keys.
func (h *harness) checkServed(when string) {
	h.t.Helper()
	keyring, err := verify.LoadKeyring(h.keys...)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, m := range h.mirrors {
		tg, err := local.New(m)
		if err != nil {
			h.t.Fatal(err)
		}
		problems, _, err := sync.CheckMirror(context.Background(), tg, keyring)
		if err != nil {
			h.t.Fatalf("%s: checking %s: %v", when, m, err)
		}
		for _, p := range problems {
			h.t.Errorf("%s: mirror %s: %s", when, m, p)
		}
	}
}
