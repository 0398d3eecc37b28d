package sync_test

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/state"
)

func revisionsOf(t *testing.T, s *state.Store) []string {
	t.Helper()
	v, err := s.LoadVerified("test")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range v.Revisions {
		out = append(out, r.Revision)
	}
	return out
}

// TestVerifiedRevisions: each revision a sync verifies becomes the
// current one in state_dir, before any mirror serves it; a revision that
// fails verification is never recorded; state from before verified
// revisions were kept starts from what the mirrors serve.
func TestVerifiedRevisions(t *testing.T) {
	key := testrepo.TestKey(t)
	base := t.TempDir()
	v1, v2, bad := filepath.Join(base, "v1"), filepath.Join(base, "v2"), filepath.Join(base, "bad")
	p1, p2 := testrepo.DemoPackages(key), testrepo.DemoV2Packages(key)
	buildRepo(t, v1, "", testrepo.RepoOpts{SignRepomd: key, Revision: "1"}, p1...)
	buildRepo(t, v2, v1, testrepo.RepoOpts{SignRepomd: key, Revision: "2"}, p2...)
	newPkg := testrepo.Pkg{Name: "zz-new", Version: "1", Release: "1", Sign: testrepo.UnknownKey(t)}
	buildRepo(t, bad, v2, testrepo.RepoOpts{SignRepomd: key, Revision: "3"}, append(p2, newPkg)...)

	o := newOrigin(t, filepath.Join(base, "origin"))
	republish(t, o, v1)
	h := newHarness(t, o, key.PublicPath)
	if rep := h.mustSync(); !rep.RevisionVerified {
		t.Error("first sync: RevisionVerified is false")
	}
	if got := revisionsOf(t, h.store); !reflect.DeepEqual(got, []string{"1"}) {
		t.Errorf("after the first sync: verified %v, want [1]", got)
	}

	// The callback sees revision 2 before any mirror serves it.
	republish(t, o, v2)
	var seen []string
	h.onVerified = func(v *state.Verified) {
		seen = append(seen, v.Current().Revision)
		for _, m := range h.mirrors {
			got, _ := os.ReadFile(filepath.Join(m, "repodata", "repomd.xml"))
			if bytes.Equal(got, v.Current().Repomd) {
				t.Errorf("mirror %s already served revision %s when it was reported verified", m, v.Current().Revision)
			}
		}
		if len(v.Current().Packages) != len(p2) {
			t.Errorf("package sample: %v, want all %d packages", v.Current().Packages, len(p2))
		}
	}
	if rep := h.sync(); rep.Err != nil || !rep.RevisionVerified {
		t.Fatalf("second sync: %v, verified %v", rep.Err, rep.RevisionVerified)
	}
	h.onVerified = nil
	if !reflect.DeepEqual(seen, []string{"2"}) {
		t.Errorf("OnVerified saw %v, want [2]", seen)
	}
	if got := revisionsOf(t, h.store); !reflect.DeepEqual(got, []string{"2", "1"}) {
		t.Errorf("after the update: verified %v, want [2 1]", got)
	}
	v, _ := h.store.LoadVerified("test")
	if !v.Revisions[1].SupersededAt.Equal(h.now) || !v.Revisions[0].SupersededAt.IsZero() {
		t.Errorf("superseded at: %v / %v", v.Revisions[0].SupersededAt, v.Revisions[1].SupersededAt)
	}

	// A refused revision leaves the list as it was.
	republish(t, o, bad)
	if rep := h.sync(); rep.Err == nil || rep.RevisionVerified {
		t.Fatalf("sync of a revision with a package signed by an unknown key: %v, verified %v", rep.Err, rep.RevisionVerified)
	}
	if got := revisionsOf(t, h.store); !reflect.DeepEqual(got, []string{"2", "1"}) {
		t.Errorf("after a refused revision: verified %v, want [2 1]", got)
	}

	// State from an older rpmirror: no verified revisions, mirrors
	// published by rpmirror. The current revision is the one they serve.
	os.RemoveAll(filepath.Join(h.store.Dir(), "verified"))
	republish(t, o, v2)
	if rep := h.mustSync(); !rep.NoChange || !rep.RevisionVerified {
		t.Errorf("no-op sync after the upgrade: NoChange %v, verified %v", rep.NoChange, rep.RevisionVerified)
	}
	if got := revisionsOf(t, h.store); !reflect.DeepEqual(got, []string{"2"}) {
		t.Errorf("after the upgrade: verified %v, want [2]", got)
	}
}
