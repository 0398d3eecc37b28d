package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/state"
)

// TestSyncWaitsForServesMetalinkClients: rpmirror sync, beside an
// rpmirror serve on its state_dir (here the test holds the daemon's
// record that it runs, and answers for it: daemon.AwaitServe reads what
// the daemon writes), publishes a new revision only once the daemon
// lists it, and 2 s after the daemon's last metalink answer before
// that.
func TestSyncWaitsForServesMetalinkClients(t *testing.T) {
	f := newFixture(t, testrepo.DemoPackages(nil), 4)
	mustRun(t, "sync", "-c", f.cfg)
	f.newRevision(t, testrepo.DemoV2Packages(nil))
	b, err := os.ReadFile(filepath.Join(f.dir, "origin", "repodata", "repomd.xml"))
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(b)
	next := hex.EncodeToString(h[:])
	store := fakeServe(t, f.dir)
	// The daemon lists the new revision as soon as the sync records it
	// verified, having answered a metalink just before.
	listed := when(t, func() bool {
		v, err := store.LoadVerified("test")
		return err == nil && v.Current() != nil && v.Current().SHA256 == next
	}, func(now time.Time) {
		if err := store.SaveAdopted(&state.Adopted{Repo: "test", SHA256: next, At: now, MetalinkServed: now}); err != nil {
			t.Error(err)
		}
	})
	mustRun(t, "sync", "-c", f.cfg)
	done := time.Now()
	var at time.Time
	select {
	case at = <-listed:
	default:
		t.Fatal("the sync ended before it recorded the new revision as verified")
	}
	if waited := done.Sub(at); waited < 1900*time.Millisecond || waited > 4*time.Second {
		t.Errorf("rpmirror sync published %s after rpmirror serve listed the new revision, having answered a metalink just before (want 2 s)", waited.Round(time.Millisecond))
	}
	for _, m := range f.mirrors {
		b, err := os.ReadFile(filepath.Join(m, "repodata", "repomd.xml"))
		if h := sha256.Sum256(b); err != nil || hex.EncodeToString(h[:]) != next {
			t.Errorf("%s does not serve the new revision: %v", m, err)
		}
	}
}

// TestRollbackWaitsForServesMetalinkClients: rpmirror rollback beside an
// rpmirror serve that lists the held revision (its record names it, a
// metalink answered just before) republishes the first mirror no sooner
// than 2 s after that metalink: the command's BeforePublish is wired.
func TestRollbackWaitsForServesMetalinkClients(t *testing.T) {
	f, first, _ := twoSnapshots(t)
	store := fakeServe(t, f.dir)
	snap := readFile(t, filepath.Join(f.mirrors[0], "snapshots", first, "repodata", "repomd.xml"))
	h := sha256.Sum256([]byte(snap))
	held := hex.EncodeToString(h[:])
	// The daemon lists the held revision as soon as the hold is saved,
	// having answered a metalink just before.
	listed := when(t, func() bool {
		hold, err := store.LoadHold("test")
		return err == nil && hold != nil && hold.SHA256 == held
	}, func(now time.Time) {
		if err := store.SaveAdopted(&state.Adopted{Repo: "test", SHA256: held, At: now, MetalinkServed: now}); err != nil {
			t.Error(err)
		}
	})
	moved := when(t, func() bool {
		b, err := os.ReadFile(filepath.Join(f.mirrors[0], "repodata", "repomd.xml"))
		return err == nil && string(b) == snap
	}, nil)
	mustRun(t, "rollback", "-c", f.cfg, "--repo", "test", "--to", first)
	var at, mv time.Time
	select {
	case at = <-listed:
	default:
		t.Fatal("the rollback ended before it saved its hold")
	}
	select {
	case mv = <-moved:
	case <-time.After(5 * time.Second):
		t.Fatal("the first mirror does not serve the snapshot after the rollback")
	}
	if waited := mv.Sub(at); waited < 1900*time.Millisecond || waited > 4*time.Second {
		t.Errorf("rpmirror rollback moved the first mirror %s after rpmirror serve listed the held revision, having answered a metalink just before (want 2 s)", waited.Round(time.Millisecond))
	}
}

// fakeServe stands for an rpmirror serve on the state_dir under dir that
// serves repo "test" (daemon.AwaitServe reads what the daemon writes): it
// holds the daemon's lock until the test ends, and records that the
// daemon lists another revision than any the test makes.
func fakeServe(t *testing.T, dir string) *state.Store {
	t.Helper()
	store, err := state.Open(filepath.Join(dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	release, err := store.Serving()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(release)
	if err := store.SaveAdopted(&state.Adopted{Repo: "test", SHA256: "the revision before", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	return store
}

// when polls cond every 2 ms until the test ends; the first time it
// holds, it calls then (when set) and sends the time on the channel
// returned.
func when(t *testing.T, cond func() bool, then func(time.Time)) <-chan time.Time {
	at := make(chan time.Time, 1)
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			if !cond() {
				continue
			}
			now := time.Now()
			if then != nil {
				then(now)
			}
			at <- now
			return
		}
	}()
	return at
}
