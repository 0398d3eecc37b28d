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
	store, err := state.Open(filepath.Join(f.dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	release, err := store.Serving()
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	// The daemon: it records the revision it lists from its start, and
	// lists the new one as soon as the sync records it verified, having
	// answered a metalink just before.
	if err := store.SaveAdopted(&state.Adopted{Repo: "test", SHA256: "the revision before", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	listed := make(chan time.Time, 1)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			v, err := store.LoadVerified("test")
			if err != nil || v.Current() == nil || v.Current().SHA256 != next {
				continue
			}
			now := time.Now()
			if err := store.SaveAdopted(&state.Adopted{Repo: "test", SHA256: next, At: now, MetalinkServed: now}); err != nil {
				t.Error(err)
			}
			listed <- now
			return
		}
	}()
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
	store, err := state.Open(filepath.Join(f.dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	release, err := store.Serving()
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if err := store.SaveAdopted(&state.Adopted{Repo: "test", SHA256: "the revision before", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	snap := readFile(t, filepath.Join(f.mirrors[0], "snapshots", first, "repodata", "repomd.xml"))
	h := sha256.Sum256([]byte(snap))
	held := hex.EncodeToString(h[:])
	// The daemon lists the held revision as soon as the hold is saved,
	// having answered a metalink just before.
	listed := make(chan time.Time, 1)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if hold, err := store.LoadHold("test"); err != nil || hold == nil || hold.SHA256 != held {
				continue
			}
			now := time.Now()
			if err := store.SaveAdopted(&state.Adopted{Repo: "test", SHA256: held, At: now, MetalinkServed: now}); err != nil {
				t.Error(err)
			}
			listed <- now
			return
		}
	}()
	// When the first mirror moves.
	moved := make(chan time.Time, 1)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			if b, err := os.ReadFile(filepath.Join(f.mirrors[0], "repodata", "repomd.xml")); err == nil && string(b) == snap {
				moved <- time.Now()
				return
			}
		}
	}()
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
