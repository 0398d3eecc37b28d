package sync_test

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/repodata"
	"github.com/rpmirror/rpmirror/snapshot"
	"github.com/rpmirror/rpmirror/state"
	"github.com/rpmirror/rpmirror/sync"
)

// TestRollbackHoldResume: Rollback republishes a snapshot on both
// mirrors, using on a mirror whose snapshot of that revision has another
// name (a publish a second later) that one; the repository is held (a
// sync is a HeldError naming who held it, and changes nothing) until
// Resume, after which a sync publishes the origin's revision again. A
// snapshot one mirror lacks altogether is refused before anything
// changes, and an unknown one is ErrNotFound.
func TestRollbackHoldResume(t *testing.T) {
	key := testrepo.TestKey(t)
	base := t.TempDir()
	v, pkgs := demoRevisions(t, base, key, 2)
	v1, v2, p1 := v[0], v[1], pkgs[0]
	o := newOrigin(t, filepath.Join(base, "origin"))
	h := newHarness(t, o, key.PublicPath)
	h.repo.Snapshots = &config.Snapshots{Keep: 5}
	t0 := h.now
	for i, dir := range []string{v1, v2} {
		h.now = t0.Add(time.Duration(i) * time.Hour)
		republish(t, o, dir)
		h.mustSync()
	}
	first, second := snapshot.Name(t0), snapshot.Name(t0.Add(time.Hour))
	moved := snapshot.Name(t0.Add(time.Second))
	if err := os.Rename(filepath.Join(h.mirrors[1], "snapshots", first), filepath.Join(h.mirrors[1], "snapshots", moved)); err != nil {
		t.Fatal(err)
	}
	v1md, err := os.ReadFile(filepath.Join(v1, "repodata", "repomd.xml"))
	if err != nil {
		t.Fatal(err)
	}
	v2md, err := os.ReadFile(filepath.Join(v2, "repodata", "repomd.xml"))
	if err != nil {
		t.Fatal(err)
	}
	serves := func(m string) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(m, "repodata", "repomd.xml"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ctx := context.Background()

	if _, _, err := h.engine(false).Rollback(ctx, h.repo, "20200101T000000Z", "me@here"); !errors.Is(err, snapshot.ErrNotFound) {
		t.Errorf("rollback to an unknown snapshot: %v, want ErrNotFound", err)
	}
	// The hold is saved before the first mirror changes, not done
	// (state.Hold.Done), and again once the last has: the clock, read
	// after each mirror is republished, sees the first each time.
	var notDone int
	clock := func() time.Time {
		if held, err := h.store.LoadHold(h.repo.Name); err == nil && held != nil && held.Done.IsZero() {
			notDone++
		}
		return h.now
	}
	hold, reps, err := h.engineWithClock(clock).Rollback(ctx, h.repo, first, "me@here")
	if err != nil {
		t.Fatalf("rollback: %v", err)
	}
	if notDone < len(h.mirrors) {
		t.Errorf("the clock saw the hold saved and not done %d times, want at least once for each of the %d mirrors", notDone, len(h.mirrors))
	}
	if stored, err := h.store.LoadHold(h.repo.Name); err != nil || stored == nil || !stored.Done.Equal(h.now) || !hold.Done.Equal(h.now) {
		t.Errorf("hold after the rollback: %+v, %v; want done at %v", stored, err, h.now)
	}
	if len(reps) != 2 || reps[0].Snapshot != first || reps[1].Snapshot != moved || hold.Revision != "1" || hold.By != "me@here" || len(hold.Packages) != len(p1) {
		t.Errorf("rollback: hold %+v, mirrors %+v", hold, reps)
	}
	// The hold's package sample has the sizes of the held revision's
	// packages, for the probes.
	if len(hold.PackageSizes) != len(hold.Packages) {
		t.Errorf("hold: %d packages sampled, %d sizes", len(hold.Packages), len(hold.PackageSizes))
	} else {
		for i, href := range hold.Packages {
			if fi, err := os.Stat(filepath.Join(v1, filepath.FromSlash(href))); err != nil || fi.Size() != hold.PackageSizes[i] {
				t.Errorf("hold: %s of size %d; in revision 1: %v", href, hold.PackageSizes[i], err)
			}
		}
	}
	for _, m := range h.mirrors {
		if string(serves(m)) != string(v1md) {
			t.Errorf("%s does not serve the first revision after the rollback", m)
		}
		if got, want := dnfList(t, m, key.PublicPath), nevras(p1); !reflect.DeepEqual(got, want) {
			t.Errorf("dnf lists %v in %s after the rollback, want %v", got, m, want)
		}
	}
	runsBefore := func() int { st, _ := h.store.Load("test"); return len(st.Runs) }()
	rep := h.sync()
	// A refused sync of a held repo is no run: status shows the hold.
	if st, _ := h.store.Load("test"); len(st.Runs) != runsBefore {
		t.Errorf("a held sync was recorded as a run: %+v", st.Runs[len(st.Runs)-1])
	}
	var he *sync.HeldError
	if !errors.As(rep.Err, &he) || he.Hold.Snapshot != first || he.Hold.By != "me@here" || len(rep.Mirrors) != 0 {
		t.Fatalf("sync of a held repo: %v (mirrors %d)", rep.Err, len(rep.Mirrors))
	}
	if string(serves(h.mirrors[0])) != string(v1md) {
		t.Error("a sync moved the held repo")
	}

	// second exists on the first mirror only: refused, nothing changes.
	if err := os.RemoveAll(filepath.Join(h.mirrors[1], "snapshots", second)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.engine(false).Rollback(ctx, h.repo, second, "me@here"); !errors.Is(err, snapshot.ErrNotFound) {
		t.Errorf("rollback to a snapshot one mirror lacks: %v, want ErrNotFound", err)
	}
	if string(serves(h.mirrors[0])) != string(v1md) {
		t.Error("a refused rollback changed the first mirror")
	}

	// rpmirror serve takes the repository's lock for a moment while a
	// rollback is not done, to learn whether it is alive: a resume at
	// that moment waits for it rather than failing.
	glance, err := h.store.Lock(h.repo.Name)
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(100*time.Millisecond, glance)
	if hold, err := h.engine(false).Resume(ctx, h.repo); err != nil || hold == nil || hold.Snapshot != first {
		t.Fatalf("resume: %+v, %v", hold, err)
	}
	if hold, err := h.engine(false).Resume(ctx, h.repo); err != nil || hold != nil {
		t.Errorf("resume of a repo not held: %+v, %v", hold, err)
	}
	rep = h.mustSync()
	for _, m := range h.mirrors {
		if string(serves(m)) != string(v2md) {
			t.Errorf("%s does not serve the origin's revision after resume and sync", m)
		}
	}
	// The rollback kept the index of what it republished: the mirrors
	// count as published by rpmirror, and of what they hold only the
	// packages the snapshot does not serve (the second revision's, kept
	// from before the rollback) are read back, not every one as in a
	// mirror rpmirror did not publish.
	served := map[string]bool{}
	for _, p := range p1 {
		served[p.RelPath()] = true
	}
	unserved := 0
	for _, p := range pkgs[1] {
		if !served[p.RelPath()] {
			unserved++
		}
	}
	if unserved == 0 || unserved == len(pkgs[1]) {
		t.Fatalf("the second revision adds %d of its %d packages: want some, not all", unserved, len(pkgs[1]))
	}
	for _, m := range rep.Mirrors {
		if m.Checked != unserved {
			t.Errorf("mirror %s: the sync after resume read %d kept packages back, want the %d the snapshot does not serve", m.Name, m.Checked, unserved)
		}
	}
}

// TestRollbackKeepsWhatItWithdrawsUntilPruneAfter: a rollback leaves the
// metadata of the revision it withdraws in place (a client that read that
// repomd.xml just before still gets its primary metadata) and records it,
// and the packages only that revision named, as unused from the
// rollback: the first sync after resume that comes prune_after later
// deletes them, as it deletes what a new revision leaves unused. With
// prune_after 0 the withdrawn metadata goes at once, as before.
func TestRollbackKeepsWhatItWithdrawsUntilPruneAfter(t *testing.T) {
	key := testrepo.TestKey(t)
	w := newWithdrawal(t, key)
	v1, v2, v3, p1, third, v2Only, v2Meta := w.v1, w.v2, w.v3, w.p1, w.third, w.v2Only, w.v2Meta
	inV1 := map[string]bool{}
	for _, p := range p1 {
		inV1[p.RelPath()] = true
	}
	exists := func(m, p string) bool {
		_, err := os.Lstat(filepath.Join(m, filepath.FromSlash(p)))
		return err == nil
	}

	for _, tc := range []struct {
		name       string
		pruneAfter time.Duration
	}{{"prune_after 1h", time.Hour}, {"prune_after 0", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			o := newOrigin(t, filepath.Join(t.TempDir(), "origin"))
			h := newHarness(t, o, key.PublicPath)
			h.repo.Snapshots = &config.Snapshots{Keep: 5}
			h.repo.PruneAfter = tc.pruneAfter
			t0 := h.syncEach(o, v1, v2)
			h.now = t0.Add(time.Hour)
			rollbackAt := h.now
			ctx := context.Background()
			if _, _, err := h.engine(false).Rollback(ctx, h.repo, snapshot.Name(t0), "me@here"); err != nil {
				t.Fatalf("rollback: %v", err)
			}
			st, err := h.store.Load(h.repo.Name)
			if err != nil {
				t.Fatal(err)
			}
			for i, m := range h.mirrors {
				if got, want := dnfList(t, m, key.PublicPath), nevras(p1); !reflect.DeepEqual(got, want) {
					t.Errorf("dnf lists %v in %s after the rollback, want %v", got, m, want)
				}
				mst := st.Mirrors[h.repo.Mirrors[i].Name]
				for p, want := range v2Meta {
					got, err := os.ReadFile(filepath.Join(m, filepath.FromSlash(p)))
					switch {
					case tc.pruneAfter == 0 && err == nil:
						t.Errorf("%s: %s of the withdrawn revision is still there with prune_after 0", m, p)
					case tc.pruneAfter > 0 && (err != nil || string(got) != string(want)):
						t.Errorf("%s: %s of the withdrawn revision is gone right after the rollback (%v): a client that read its repomd.xml cannot fetch it", m, p, err)
					}
					since, ok := mst.Pending[p]
					switch {
					case tc.pruneAfter > 0 && (!ok || !since.Equal(rollbackAt)):
						t.Errorf("%s: %s of the withdrawn revision is pending %v (%v), want since the rollback %v", m, p, ok, since, rollbackAt)
					case tc.pruneAfter == 0 && ok:
						t.Errorf("%s: %s, which the rollback removed, is counted pending", m, p)
					}
				}
				for _, p := range v2Only {
					if since, ok := mst.Pending[p]; !ok || !since.Equal(rollbackAt) {
						t.Errorf("%s: %s, named only by the withdrawn revision, is pending %v (%v), want since the rollback %v", m, p, ok, since, rollbackAt)
					}
				}
				for p := range mst.Pending {
					if inV1[p] || exists(filepath.Join(m, "snapshots", snapshot.Name(t0)), p) {
						t.Errorf("%s: %s, which the snapshot rolled back to serves, is pending", m, p)
					}
				}
			}

			if _, err := h.engine(false).Resume(ctx, h.repo); err != nil {
				t.Fatalf("resume: %v", err)
			}
			republish(t, o, v3)
			h.now = rollbackAt.Add(time.Hour + time.Minute)
			h.mustSync()
			for _, m := range h.mirrors {
				for _, p := range append(slices.Collect(maps.Keys(v2Meta)), v2Only...) {
					if exists(m, p) {
						t.Errorf("%s: %s, unused since the rollback more than prune_after ago, is still there after the next sync", m, p)
					}
				}
				if got, want := dnfList(t, m, key.PublicPath), nevras(append(slices.Clone(p1), third)); !reflect.DeepEqual(got, want) {
					t.Errorf("dnf lists %v in %s after resume and sync, want %v", got, m, want)
				}
			}
		})
	}
}

// metadataOf returns the metadata files the repomd.xml of repository dir
// names, by path, with their content.
func metadataOf(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "repodata", "repomd.xml"))
	if err != nil {
		t.Fatal(err)
	}
	md, err := repodata.ParseRepomd(b)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, d := range md.Data {
		if out[d.Href], err = os.ReadFile(filepath.Join(dir, filepath.FromSlash(d.Href))); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestRollbackNotDoneUnlessAMirrorMoved: a rollback interrupted while it
// waits before moving the first mirror (BeforePublish: for rpmirror
// serve's metalink clients) moves none and leaves its hold not done (a
// reviewer's was saved done, every mirror failing "context canceled",
// so that the daemon called every mirror stale); so does one whose every
// mirror fails. Run again, it completes.
func TestRollbackNotDoneUnlessAMirrorMoved(t *testing.T) {
	key := testrepo.TestKey(t)
	base := t.TempDir()
	v, _ := demoRevisions(t, base, key, 2)
	o := newOrigin(t, filepath.Join(base, "origin"))
	h := newHarness(t, o, key.PublicPath)
	h.repo.Snapshots = &config.Snapshots{Keep: 5}
	t0 := h.syncEach(o, v...)
	v2md, err := os.ReadFile(filepath.Join(v[1], "repodata", "repomd.xml"))
	if err != nil {
		t.Fatal(err)
	}
	unmoved := func(when string) {
		t.Helper()
		for _, m := range h.mirrors {
			if got, _ := os.ReadFile(filepath.Join(m, "repodata", "repomd.xml")); string(got) != string(v2md) {
				t.Errorf("%s: %s was moved", when, m)
			}
		}
		if held, err := h.store.LoadHold(h.repo.Name); err != nil || held == nil || !held.Done.IsZero() {
			t.Errorf("%s: hold %+v (%v), want one not done", when, held, err)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	h.beforePublish = func(context.Context, state.Revision) { cancel() }
	if _, _, err := h.engine(false).Rollback(ctx, h.repo, snapshot.Name(t0), "me@here"); !errors.Is(err, context.Canceled) {
		t.Errorf("rollback interrupted while it waited: %v, want context.Canceled", err)
	}
	unmoved("interrupted while it waited")

	h.beforePublish = nil
	// Every mirror's repodata/ a symlink: refused, as rpmirror never
	// writes through one.
	for _, m := range h.mirrors {
		if err := os.Rename(filepath.Join(m, "repodata"), filepath.Join(m, "repodata.real")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("repodata.real", filepath.Join(m, "repodata")); err != nil {
			t.Fatal(err)
		}
	}
	_, reps, err := h.engine(false).Rollback(context.Background(), h.repo, snapshot.Name(t0), "me@here")
	for _, m := range h.mirrors {
		if err := os.Remove(filepath.Join(m, "repodata")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(m, "repodata.real"), filepath.Join(m, "repodata")); err != nil {
			t.Fatal(err)
		}
	}
	if err == nil || len(reps) != 2 || reps[0].Err == nil || reps[1].Err == nil {
		t.Errorf("rollback with every mirror failing: %v, %+v", err, reps)
	}
	unmoved("every mirror failed")

	hold, _, err := h.engine(false).Rollback(context.Background(), h.repo, snapshot.Name(t0), "me@here")
	if err != nil || hold.Done.IsZero() {
		t.Errorf("the rollback run again: %+v, %v; want done", hold, err)
	}
}

// withdrawal is three revisions of the demo repository for rollback
// tests: v1 and v2 (demoRevisions), and v3, the first's packages and
// zz-third, so that the second's own packages (v2Only), named by no
// revision after a rollback from v2 to v1, are left to prune, with v2's
// metadata (v2Meta, by path, with its content).
type withdrawal struct {
	v1, v2, v3 string
	p1         []testrepo.Pkg
	third      testrepo.Pkg
	v2Only     []string
	v2Meta     map[string][]byte
}

func newWithdrawal(t *testing.T, key *testrepo.Key) *withdrawal {
	t.Helper()
	base := t.TempDir()
	v, pkgs := demoRevisions(t, base, key, 2)
	w := &withdrawal{v1: v[0], v2: v[1], v3: filepath.Join(base, "v3"), p1: pkgs[0],
		third: testrepo.Pkg{Name: "zz-third", Version: "1", Release: "1", Sign: key}}
	buildRepo(t, w.v3, w.v1, testrepo.RepoOpts{SignRepomd: key, Revision: "3"}, append(slices.Clone(w.p1), w.third)...)
	inV1 := map[string]bool{}
	for _, p := range w.p1 {
		inV1[p.RelPath()] = true
	}
	for _, p := range pkgs[1] {
		if !inV1[p.RelPath()] {
			w.v2Only = append(w.v2Only, p.RelPath())
		}
	}
	w.v2Meta = metadataOf(t, w.v2)
	if len(w.v2Only) == 0 || len(w.v2Meta) == 0 {
		t.Fatalf("the second revision has %d packages of its own and %d metadata files: want some of each", len(w.v2Only), len(w.v2Meta))
	}
	return w
}

// syncEach has origin o publish each of dirs in turn, a minute apart from
// now, and syncs each; it returns the time of the first.
func (h *harness) syncEach(o *origin, dirs ...string) time.Time {
	h.t.Helper()
	t0 := h.now
	for i, dir := range dirs {
		h.now = t0.Add(time.Duration(i) * time.Minute)
		republish(h.t, o, dir)
		h.mustSync()
	}
	return t0
}
