package sync_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/sync"
)

// TestRollbackRefused: the mirrors serve revision 2 (prune_after 0s), then
// the origin goes back: to revision 1 byte for byte (a replay of metadata
// rpmirror verified before), to an older revision it never saw, or to one
// whose only sign of age is its timestamps. Each is
// refused with a *RollbackError and every mirror stays as it was, the
// package only revision 2 has included; dnf still lists revision 2. With
// allow_rollback the same origin is published.
func TestRollbackRefused(t *testing.T) {
	key := testrepo.TestKey(t)
	base := t.TempDir()
	const r0, r1, r2 = "1700000000", "1700001000", "1700002000"
	p1 := testrepo.DemoPackages(key)
	newPkg := testrepo.Pkg{Name: "zz-new", Version: "1", Release: "1", Sign: key}
	p2 := append(append([]testrepo.Pkg(nil), p1...), newPkg)
	v0, v1, v2 := filepath.Join(base, "v0"), filepath.Join(base, "v1"), filepath.Join(base, "v2")
	buildRepo(t, v1, "", testrepo.RepoOpts{Revision: r1, TimestampFromRevision: true}, p1...)
	buildRepo(t, v2, v1, testrepo.RepoOpts{Revision: r2, TimestampFromRevision: true}, p2...)
	buildRepo(t, v0, v1, testrepo.RepoOpts{Revision: r0, TimestampFromRevision: true}, p1...)
	// vOld is revision 1 under a revision that is not a number: only its
	// timestamps say it is older than revision 2.
	vOld := filepath.Join(base, "vold")
	if err := os.CopyFS(vOld, os.DirFS(v1)); err != nil {
		t.Fatal(err)
	}
	md := filepath.Join(vOld, "repodata", "repomd.xml")
	b, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.Replace(b, []byte("<revision>"+r1+"</revision>"), []byte("<revision>weekly</revision>"), 1)
	if err := os.WriteFile(md, b, 0o644); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name     string
		origin   string
		allow    bool
		replay   bool
		revision string
	}{
		{name: "replay of revision 1", origin: v1, replay: true, revision: r1},
		{name: "older revision never seen", origin: v0, revision: r0},
		{name: "older timestamps and a revision that is no number", origin: vOld, revision: "weekly"},
		{name: "replay allowed", origin: v1, allow: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newOrigin(t, filepath.Join(t.TempDir(), "origin"))
			h := newHarness(t, o, key.PublicPath)
			republish(t, o, v1)
			h.mustSync()
			republish(t, o, v2)
			h.mustSync()
			before := []map[string]string{tree(t, h.mirrors[0]), tree(t, h.mirrors[1])}
			republish(t, o, tc.origin)
			h.repo.AllowRollback = tc.allow
			rep := h.sync()
			if tc.allow {
				if rep.Err != nil {
					t.Fatalf("sync with allow_rollback: %v", rep.Err)
				}
				if got, want := h.dnfList(0), nevras(p1); !reflect.DeepEqual(got, want) {
					t.Errorf("dnf lists %v after the allowed rollback, want %v", got, want)
				}
				return
			}
			var rb *sync.RollbackError
			if !errors.As(rep.Err, &rb) {
				t.Fatalf("sync error %v (%T), want a *sync.RollbackError", rep.Err, rep.Err)
			}
			if rb.Replay != tc.replay || rb.Revision != tc.revision || rb.CurrentRevision != r2 {
				t.Errorf("RollbackError %+v: want replay %v, revision %s, current %s", rb, tc.replay, tc.revision, r2)
			}
			for i, m := range h.mirrors {
				if got := tree(t, m); !reflect.DeepEqual(got, before[i]) {
					t.Errorf("mirror %d changed:\nbefore %v\nafter  %v", i, before[i], got)
				}
			}
			if _, err := os.Stat(filepath.Join(h.mirrors[0], filepath.FromSlash(newPkg.RelPath()))); err != nil {
				t.Errorf("revision 2's package was deleted: %v", err)
			}
			if got, want := h.dnfList(0), nevras(p2); !reflect.DeepEqual(got, want) {
				t.Errorf("dnf lists %v, want revision 2's %v", got, want)
			}
		})
	}
}
