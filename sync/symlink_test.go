package sync_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/internal/safefs"
	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/sync"
	"github.com/rpmirror/rpmirror/target/local"
	"github.com/rpmirror/rpmirror/verify"
)

// outsideState is every file below dir with its content and mtime.
func outsideState(t *testing.T, dir string) map[string]string {
	t.Helper()
	got := map[string]string{}
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return nil
		}
		b, _ := os.ReadFile(p)
		got[p] = fi.Mode().String() + " " + fi.ModTime().String() + " " + string(b)
		return nil
	})
	return got
}

// TestPlantedSymlinks: someone who can write into a mirror or the state
// directory replaces a file or directory rpmirror writes, truncates or
// deletes with a symlink to something outside. The sync fails with a
// *safefs.SymlinkError naming the symlink, and what the symlink points at
// keeps its bytes, its modification time and its entries.
func TestPlantedSymlinks(t *testing.T) {
	v1, v2 := testrepo.DemoOrigin(t, "v1"), testrepo.DemoOrigin(t, "v2")
	for _, tc := range []struct {
		name  string
		state bool   // below state_dir, else below mirror one
		link  string // the symlink
		toDir bool   // it points at the outside directory, else at a file in it
	}{
		{name: "mirror lock file", link: ".rpmirror/lock"},
		{name: "mirror work directory", link: ".rpmirror", toDir: true},
		{name: "metadata file", link: "repodata/repomd.xml.asc"},
		{name: "metadata directory", link: "repodata", toDir: true},
		{name: "package file", link: "Packages/s/status-agent-0.1-1.noarch.rpm"},
		{name: "package directory", link: "Packages/s", toDir: true},
		{name: "state file", state: true, link: "repos/test.json"},
		{name: "repository lock", state: true, link: "locks/test.lock"},
		{name: "locks directory", state: true, link: "locks", toDir: true},
		{name: "download cache", state: true, link: "cache/test", toDir: true},
		{name: "cache directory", state: true, link: "cache", toDir: true},
		{name: "index being written", state: true, link: "cache/test/index.tmp"},
		{name: "mirror index", state: true, link: "index/test/one.idx"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newOrigin(t, filepath.Join(t.TempDir(), "origin"))
			republish(t, o, v1)
			h := newHarness(t, o, demoKey(t))
			h.mustSync()
			republish(t, o, v2)

			outside := filepath.Join(t.TempDir(), "outside")
			os.MkdirAll(filepath.Join(outside, "tmp"), 0o755)
			old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
			for _, f := range []string{filepath.Base(tc.link), "tmp/keep", "test"} {
				p := filepath.Join(outside, f)
				if _, err := os.Stat(p); err == nil {
					continue
				}
				os.WriteFile(p, []byte("precious"), 0o644)
				os.Chtimes(p, old, old)
			}
			before := outsideState(t, outside)
			root := h.mirrors[0]
			if tc.state {
				root = h.store.Dir()
			}
			link := filepath.Join(root, filepath.FromSlash(tc.link))
			if err := os.RemoveAll(link); err != nil {
				t.Fatal(err)
			}
			os.MkdirAll(filepath.Dir(link), 0o755)
			to := filepath.Join(outside, filepath.Base(tc.link))
			if tc.toDir {
				to = outside
			}
			if err := os.Symlink(to, link); err != nil {
				t.Fatal(err)
			}
			mirrorBefore := tree(t, h.mirrors[0])

			rep := h.sync()
			var se *safefs.SymlinkError
			if !errors.As(rep.Err, &se) || se.Path != link {
				t.Fatalf("sync: %v; want a *safefs.SymlinkError naming %s", rep.Err, link)
			}
			if after := outsideState(t, outside); !reflect.DeepEqual(after, before) {
				t.Errorf("what the symlink points at changed:\nbefore %v\nafter  %v", before, after)
			}
			if !tc.state {
				// Nothing served changed, and what the failed sync staged
				// was taken back.
				if after := tree(t, h.mirrors[0]); !reflect.DeepEqual(after, mirrorBefore) {
					t.Errorf("mirror one changed:\nbefore %v\nafter  %v", mirrorBefore, after)
				}
			}
			t.Logf("sync: %v", rep.Err)
		})
	}
}

// TestCheckNamesPlantedSymlinks: rpmirror verify on a mirror where
// someone put a symlink in place of a file or directory names the
// symlink. It said "missing" (and, for repodata/repomd.xml, "the mirror
// has never been published"), and verify --repair then refused to write
// through the symlink; the message said the path twice for a symlinked
// directory.
func TestCheckNamesPlantedSymlinks(t *testing.T) {
	v1 := testrepo.DemoOrigin(t, "v1")
	key := demoKey(t)
	keyring, err := verify.LoadKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		link    string // below the mirror
		toDir   bool
		problem string // the Problem's path; "" when the check itself fails
	}{
		{name: "repomd.xml", link: "repodata/repomd.xml"},
		{name: "metadata file", link: "repodata/repomd.xml.asc", problem: "repodata/repomd.xml.asc"},
		{name: "package file", link: "Packages/h/hello-mirror-1.0-1.noarch.rpm", problem: "Packages/h/hello-mirror-1.0-1.noarch.rpm"},
		{name: "package directory", link: "Packages/h", toDir: true, problem: "Packages/h/hello-mirror-1.0-1.noarch.rpm"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newOrigin(t, filepath.Join(t.TempDir(), "origin"))
			republish(t, o, v1)
			h := newHarness(t, o, key)
			h.mustSync()
			outside := t.TempDir()
			link := filepath.Join(h.mirrors[0], filepath.FromSlash(tc.link))
			to := outside
			if !tc.toDir {
				// A faithful copy: only the symlink is wrong.
				b, err := os.ReadFile(link)
				if err != nil {
					t.Fatal(err)
				}
				to = filepath.Join(outside, filepath.Base(link))
				os.WriteFile(to, b, 0o644)
			} else if err := os.CopyFS(outside, os.DirFS(link)); err != nil {
				t.Fatal(err)
			}
			if err := os.RemoveAll(link); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(to, link); err != nil {
				t.Fatal(err)
			}
			tg, err := local.New(h.mirrors[0])
			if err != nil {
				t.Fatal(err)
			}
			problems, _, err := sync.CheckMirrorWith(context.Background(), tg, sync.CheckOptions{Keyring: keyring, RepoKeyring: keyring})
			var se *safefs.SymlinkError
			if tc.problem == "" {
				if !errors.As(err, &se) || se.Path != link {
					t.Fatalf("CheckMirrorWith: %v; want a *safefs.SymlinkError naming %s", err, link)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(problems) != 1 || problems[0].Path != tc.problem {
				t.Fatalf("problems %v, want one, at %s", problems, tc.problem)
			}
			if p := problems[0]; !errors.As(p.Err, &se) || se.Path != link || p.Err != error(se) {
				t.Errorf("problem %v; want the *safefs.SymlinkError naming %s, unwrapped", p.Err, link)
			}
		})
	}
}

// TestRepairLeavesSymlinks: verify --repair on a mirror where one file
// is a planted symlink and another is missing repairs the missing one and
// leaves the symlink, named, for the operator to remove; putting the
// repaired files in place with the symlink among them failed them all.
func TestRepairLeavesSymlinks(t *testing.T) {
	o := newOrigin(t, filepath.Join(t.TempDir(), "origin"))
	republish(t, o, testrepo.DemoOrigin(t, "v1"))
	h := newHarness(t, o, demoKey(t))
	h.mustSync()
	h.repo.Mirrors = h.repo.Mirrors[:1]
	mirror := h.mirrors[0]
	link := filepath.Join(mirror, "Packages/h/hello-mirror-1.0-1.noarch.rpm")
	outside := filepath.Join(t.TempDir(), "copy.rpm")
	b, err := os.ReadFile(link)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(outside, b, 0o644)
	os.Remove(link)
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	missing := "Packages/m/mirror-docs-1.0-1.noarch.rpm"
	if err := os.Remove(filepath.Join(mirror, missing)); err != nil {
		t.Fatal(err)
	}
	reps, err := h.engine(false).Repair(context.Background(), h.repo)
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) != 1 || reps[0].Err != nil {
		t.Fatalf("Repair: %+v", reps)
	}
	r := reps[0]
	if len(r.Replaced) != 1 || r.Replaced[0].Path != missing {
		t.Errorf("replaced %v, want %s", r.Replaced, missing)
	}
	var se *safefs.SymlinkError
	if len(r.Left) != 1 || !errors.As(r.Left[0].Err, &se) || se.Path != link {
		t.Errorf("left %v, want the symlink %s", r.Left, link)
	}
	if _, err := os.Stat(filepath.Join(mirror, missing)); err != nil {
		t.Errorf("the missing package was not put back: %v", err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the symlink was touched: %v", err)
	}
}
