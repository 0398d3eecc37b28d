package sync_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/state"
	"github.com/rpmirror/rpmirror/verify"
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
		// With their sizes, for the probes to compare with the size a
		// mirror serves.
		if cur := v.Current(); !cur.HasSizes() {
			t.Errorf("package sample without sizes: %v", cur.PackageSizes)
		} else {
			for i, href := range cur.Packages {
				if fi, err := os.Stat(filepath.Join(v2, filepath.FromSlash(href))); err != nil || fi.Size() != cur.PackageSizes[i] {
					t.Errorf("package sample: %s of size %d; the origin's file: %v", href, cur.PackageSizes[i], err)
				}
			}
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
	// Served with repomd.xml.asc: probes check each mirror serves one.
	for i, dir := range []string{v2, v1} {
		if asc, _ := os.ReadFile(filepath.Join(dir, "repodata", "repomd.xml.asc")); len(asc) == 0 || !bytes.Equal(v.Revisions[i].Signature, asc) {
			t.Errorf("revision %s: recorded signature %q, want the origin's repomd.xml.asc", v.Revisions[i].Revision, v.Revisions[i].Signature)
		}
	}
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

	// A package sample without sizes (an rpmirror from before they were
	// kept) gains them at the next sync that plans the revision: here
	// for a written mirror added since.
	v, _ = h.store.LoadVerified("test")
	v.Revisions[0].Packages, v.Revisions[0].PackageSizes = []string{"Packages/h/hello-mirror-1.1-1.noarch.rpm"}, nil
	if err := h.store.SaveVerified(v); err != nil {
		t.Fatal(err)
	}
	three := filepath.Join(t.TempDir(), "three")
	h.mirrors = append(h.mirrors, three)
	h.repo.Mirrors = append(h.repo.Mirrors, config.Mirror{Name: "three", Path: three})
	if rep := h.mustSync(); rep.NoChange || !rep.RevisionVerified {
		t.Errorf("sync to a new mirror: NoChange %v, verified %v", rep.NoChange, rep.RevisionVerified)
	}
	v, _ = h.store.LoadVerified("test")
	if cur := v.Current(); cur.Revision != "2" || !cur.HasSizes() || len(cur.Packages) != len(p2) {
		t.Errorf("after a sync that planned the revision: sample %v, sizes %v; want every package of revision 2 with its size", cur.Packages, cur.PackageSizes)
	}

	// The origin signs the same repomd.xml again: the mirrors get the
	// new signature, and the revision records it, for probes to compare.
	if err := testrepo.SignRepomd(o.dir, key); err != nil {
		t.Fatal(err)
	}
	resigned, _ := os.ReadFile(filepath.Join(o.dir, "repodata", "repomd.xml.asc"))
	h.mustSync()
	v, _ = h.store.LoadVerified("test")
	if cur := v.Current(); cur.Revision != "2" || !bytes.Equal(cur.Signature, resigned) {
		t.Errorf("after the origin signed revision 2 again: recorded signature %q, want the new one", cur.Signature)
	}
}

// TestVerifyOnly: a repository with no written mirror (probe-only ones
// only) still gets verified revisions: each new origin revision is
// verified in full (metadata, signatures, packages), its packages fetched
// into the cache and not kept; the next revision fetches only the
// packages that changed; a refused revision is not recorded.
func TestVerifyOnly(t *testing.T) {
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
	h.repo.Mirrors = []config.Mirror{{Name: "partner", URL: "http://partner.example/repo/", Priority: 100}}
	cacheEmpty := func(when string) {
		t.Helper()
		ents, _ := os.ReadDir(h.store.CacheDir("test"))
		if len(ents) > 0 {
			t.Errorf("%s: the cache keeps %d files", when, len(ents))
		}
	}

	rep := h.mustSync()
	if !rep.RevisionVerified || rep.Verified != len(p1) || len(rep.Mirrors) != 0 {
		t.Errorf("first verification: verified %v, %d packages, %d mirror reports", rep.RevisionVerified, rep.Verified, len(rep.Mirrors))
	}
	if got, want := o.fetched(), relPaths(p1...); !reflect.DeepEqual(got, want) {
		t.Errorf("first verification fetched %v, want every package once: %v", got, want)
	}
	cacheEmpty("after the first verification")
	if got := revisionsOf(t, h.store); !reflect.DeepEqual(got, []string{"1"}) {
		t.Errorf("verified %v, want [1]", got)
	}

	if rep := h.mustSync(); !rep.NoChange || !rep.RevisionVerified || len(o.fetched()) != 0 {
		t.Errorf("no-op: NoChange %v, verified %v", rep.NoChange, rep.RevisionVerified)
	}

	republish(t, o, v2)
	added, changed := p2[len(p2)-1], p2[0]
	// A dry run plans the verification: it would fetch what the sync
	// fetches, and fetches no package.
	dry := h.engine(true).Sync(context.Background(), h.repo)
	sort.Strings(dry.WouldFetch)
	if want := relPaths(added, changed); dry.Err != nil || !reflect.DeepEqual(dry.WouldFetch, want) || dry.Plan == nil || dry.NoChange {
		t.Errorf("dry run of the second verification: %v, would fetch %v, want %v", dry.Err, dry.WouldFetch, want)
	}
	if got := o.fetched(); len(got) != 0 {
		t.Errorf("the dry run fetched %v", got)
	}
	if got := revisionsOf(t, h.store); !reflect.DeepEqual(got, []string{"1"}) {
		t.Errorf("after the dry run: verified %v, want [1]", got)
	}
	h.mustSync()
	if got, want := o.fetched(), relPaths(added, changed); !reflect.DeepEqual(got, want) {
		t.Errorf("second verification fetched %v, want only what changed: %v", got, want)
	}
	cacheEmpty("after the second verification")
	if got := revisionsOf(t, h.store); !reflect.DeepEqual(got, []string{"2", "1"}) {
		t.Errorf("verified %v, want [2 1]", got)
	}

	republish(t, o, bad)
	rep = h.sync()
	if rep.Err == nil || rep.RevisionVerified || !errors.Is(rep.Err, verify.ErrUnknownKey) {
		t.Errorf("a package signed by an unknown key: %v, verified %v", rep.Err, rep.RevisionVerified)
	}
	if got := revisionsOf(t, h.store); !reflect.DeepEqual(got, []string{"2", "1"}) {
		t.Errorf("after a refused revision: verified %v, want [2 1]", got)
	}
	cacheEmpty("after a refused revision")

	// With repo_gpgcheck, the same repomd.xml check as any sync: a
	// signature by another key refuses the revision.
	h.repo.RepoGPGCheck, h.repo.RepoGPGKeys = true, []string{key.PublicPath}
	resigned := filepath.Join(base, "resigned")
	buildRepo(t, resigned, v2, testrepo.RepoOpts{SignRepomd: testrepo.UnknownKey(t), Revision: "4"}, append(p2, testrepo.Pkg{Name: "zz-other", Version: "1", Release: "1", Sign: key})...)
	republish(t, o, resigned)
	o.fetched()
	rep = h.sync()
	if rep.Err == nil || rep.RevisionVerified || !errors.Is(rep.Err, verify.ErrUnknownKey) {
		t.Errorf("repo_gpgcheck, repomd.xml signed by an unknown key: %v, verified %v", rep.Err, rep.RevisionVerified)
	}
	if got := o.fetched(); len(got) != 0 {
		t.Errorf("a revision whose repomd.xml signature failed fetched packages: %v", got)
	}
	if got := revisionsOf(t, h.store); !reflect.DeepEqual(got, []string{"2", "1"}) {
		t.Errorf("after a bad repomd.xml signature: verified %v, want [2 1]", got)
	}
}

// TestBeforePublish: a sync that moves mirrors calls BeforePublish once,
// with the revision it moves them to, recorded as current by then and
// served by none of the mirrors it moves yet; a sync that moves none
// (every mirror current) and a dry run do not call it, and a sync of a
// mirror behind on the current revision calls it with that revision.
func TestBeforePublish(t *testing.T) {
	key := testrepo.TestKey(t)
	base := t.TempDir()
	v1, v2 := filepath.Join(base, "v1"), filepath.Join(base, "v2")
	buildRepo(t, v1, "", testrepo.RepoOpts{SignRepomd: key, Revision: "1"}, testrepo.DemoPackages(key)...)
	buildRepo(t, v2, v1, testrepo.RepoOpts{SignRepomd: key, Revision: "2"}, testrepo.DemoV2Packages(key)...)
	o := newOrigin(t, filepath.Join(base, "origin"))
	h := newHarness(t, o, key.PublicPath)
	var calls []string
	serving := -1 // mirrors serving the revision when BeforePublish was called
	h.beforePublish = func(_ context.Context, rev state.Revision) {
		calls = append(calls, rev.Revision)
		v, err := h.store.LoadVerified(h.repo.Name)
		if err != nil || v.Current() == nil || v.Current().SHA256 != rev.SHA256 {
			t.Errorf("BeforePublish for revision %s before it was recorded as current", rev.Revision)
		}
		serving = 0
		for _, m := range h.mirrors {
			if b, err := os.ReadFile(filepath.Join(m, "repodata", "repomd.xml")); err == nil && sha256Hex(b) == rev.SHA256 {
				serving++
			}
		}
	}
	for _, c := range []struct {
		name    string
		origin  string
		dry     bool
		setup   func()
		want    []string
		serving int // of the two mirrors, when it is called
	}{
		{"a dry run", v1, true, nil, nil, -1},
		{"the first sync", v1, false, nil, []string{"1"}, 0},
		{"every mirror current", v1, false, nil, nil, -1},
		{"a new revision", v2, false, nil, []string{"2"}, 0},
		{"a mirror behind on the current revision", v2, false, func() {
			if err := os.Remove(filepath.Join(h.mirrors[1], "repodata", "repomd.xml")); err != nil {
				t.Fatal(err)
			}
		}, []string{"2"}, 1},
	} {
		republish(t, o, c.origin)
		if c.setup != nil {
			c.setup()
		}
		calls, serving = nil, -1
		if rep := h.engine(c.dry).Sync(context.Background(), h.repo); rep.Err != nil {
			t.Fatalf("%s: %v", c.name, rep.Err)
		}
		if !reflect.DeepEqual(calls, c.want) || serving != c.serving {
			t.Errorf("%s: BeforePublish called for %q with %d mirrors serving it, want %q and %d", c.name, calls, serving, c.want, c.serving)
		}
	}
}
