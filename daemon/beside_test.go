package daemon_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/daemon"
	"github.com/rpmirror/rpmirror/fetch"
	"github.com/rpmirror/rpmirror/state"
	"github.com/rpmirror/rpmirror/sync"
)

// TestSyncBesideTheDaemonWaitsForMetalinkClients: a sync beside the
// daemon (as rpmirror sync runs it: sync.Options.BeforePublish calls
// daemon.AwaitServe) that makes a new revision current publishes it no
// sooner than 2 s after the daemon last answered a metalink naming only
// the revision before: that client fetches the repomd.xml its metalink
// names meanwhile, and dnf refuses any other. With no metalink answered
// lately, it publishes as soon as the daemon lists the revision.
func TestSyncBesideTheDaemonWaitsForMetalinkClients(t *testing.T) {
	e := newEnv(t, envOpts{probeInterval: time.Hour, probeTimeout: 2 * time.Second})
	e.waitHealthy()
	waitFor(t, 30*time.Second, "the start-up sync to end", func() bool { return e.status().Repos[0].LastSync != nil })
	m1 := filepath.Join(e.dir, "m1")
	log := slog.New(slog.DiscardHandler)
	// syncBeside syncs the next revision beside the daemon, and returns
	// when m1 published it.
	syncBeside := func(name string) (published time.Time) {
		t.Helper()
		repo, store, nextSum := e.serveNext(name)
		opts := sync.Options{Store: store, Fetcher: fetch.New(fetch.Options{}),
			BeforePublish: func(ctx context.Context, rev state.Revision) {
				if rev.SHA256 != nextSum {
					t.Errorf("BeforePublish for %s, want the new revision %s", rev.SHA256, nextSum)
				}
				daemon.AwaitServe(ctx, store, "demo", rev.SHA256, log)
			}}
		rep := sync.New(opts).Sync(context.Background(), repo)
		for errors.Is(rep.Err, state.ErrLocked) { // a probe's glance at the lock
			rep = sync.New(opts).Sync(context.Background(), repo)
		}
		if rep.Err != nil {
			t.Fatalf("sync beside the daemon: %v", rep.Err)
		}
		if got := repomdSHA256(t, m1); got != nextSum {
			t.Fatalf("m1 serves %s after the sync, want %s", got, nextSum)
		}
		return time.Now() // an upper bound: the sync publishes last
	}

	answered := time.Now() // before the daemon answers: what it counts from is later
	e.metalink()           // a client, about to fetch repomd.xml
	published := syncBeside("zz-grace")
	// The sync publishes after the grace: the moment it returned is late
	// by its publish and state saves alone (milliseconds).
	if took := published.Sub(answered); took < 1950*time.Millisecond || took > 4*time.Second {
		t.Errorf("the sync beside the daemon published %s after a metalink naming only the revision before was answered (want 2 s)", took.Round(time.Millisecond))
	} else {
		t.Logf("published %s after the metalink was answered", took.Round(time.Millisecond))
	}

	time.Sleep(2500 * time.Millisecond) // no metalink client since
	start := time.Now()
	syncBeside("zz-no-client")
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Errorf("with no metalink answered in the last 2 s, the sync beside the daemon took %s (want no wait)", took.Round(time.Millisecond))
	}
}

// TestAwaitServe: with no rpmirror serve on the state_dir, AwaitServe
// returns at once, whatever the records say; with one, at once too for a
// repository it keeps no record of (it does not serve it); for one whose
// record names the revision, 2 s after the metalink answer recorded; for
// one whose record names another, once the record names it (or its
// context ends).
func TestAwaitServe(t *testing.T) {
	store, err := state.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	now := time.Now()
	if err := store.SaveAdopted(&state.Adopted{Repo: "r", SHA256: "aa", At: now, MetalinkServed: now}); err != nil {
		t.Fatal(err)
	}
	took := func(ctx context.Context, repo, sum string) time.Duration {
		start := time.Now()
		daemon.AwaitServe(ctx, store, repo, sum, log)
		return time.Since(start)
	}
	if d := took(context.Background(), "r", "aa"); d > 200*time.Millisecond {
		t.Errorf("AwaitServe with no daemon running took %s", d)
	}
	release, err := store.Serving() // a daemon, as far as AwaitServe can tell
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if d := took(context.Background(), "other", "aa"); d > 200*time.Millisecond {
		t.Errorf("AwaitServe for a repo the daemon keeps no record of took %s", d)
	}
	if d := took(context.Background(), "r", "aa"); d < 1500*time.Millisecond || d > 3*time.Second {
		t.Errorf("AwaitServe, the daemon having answered a metalink just before listing the revision, took %s (want about 2 s)", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if d := took(ctx, "r", "bb"); d < 250*time.Millisecond || d > time.Second {
		t.Errorf("AwaitServe for a revision the daemon does not list: returned after %s (want when its context ended, 300 ms)", d)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		store.SaveAdopted(&state.Adopted{Repo: "r", SHA256: "bb", At: time.Now(), MetalinkServed: now.Add(-time.Minute)})
	}()
	if d := took(context.Background(), "r", "bb"); d < 250*time.Millisecond || d > time.Second {
		t.Errorf("AwaitServe for a revision the daemon lists 300 ms later, with no metalink answered lately: returned after %s", d)
	}
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// TestOwnNoChangeSyncProbesNoMirror: a sync of the daemon's own that
// finds every mirror current (the origin unchanged) probes no mirror; one
// that publishes probes them again.
func TestOwnNoChangeSyncProbesNoMirror(t *testing.T) {
	e := newEnv(t, envOpts{probeInterval: time.Hour, probeTimeout: 2 * time.Second})
	e.waitHealthy()
	waitFor(t, 30*time.Second, "the start-up sync to end", func() bool { return e.status().Repos[0].LastSync != nil })
	time.Sleep(2 * time.Second) // the start-up round's probes are over
	started := func() time.Time { return e.status().Repos[0].LastSync.Start }
	before, last := e.net.hitsOf("m1"), started()
	e.d.TriggerSync("demo")
	waitFor(t, 10*time.Second, "the daemon's sync to run", func() bool { return started().After(last) })
	if ls := e.status().Repos[0].LastSync; ls.Result != "no change" {
		t.Fatalf("the daemon's sync: %s, want no change (the test did not test)", ls.Result)
	}
	time.Sleep(time.Second)
	if got := e.net.hitsOf("m1"); got != before {
		t.Errorf("a sync of the daemon's own that changed nothing had m1 probed: %d requests", got-before)
	}
	_, _, nextSum := e.serveNext("zz-own")
	e.d.TriggerSync("demo")
	waitFor(t, 15*time.Second, "the mirrors probed again after the daemon's sync published", func() bool {
		st := e.status().Repos[0]
		return e.net.hitsOf("m1") > before && mirrorOf(st, "m1").State == "ok" && strings.Contains(e.metalink(), nextSum)
	})
}

// heldWithMetalink syncs a next revision, rolls back to the first
// beside the daemon and waits until the daemon lists the held revision;
// then, with no metalink answered for 2.5 s, it answers one (naming only
// the held revision) and resumes. It returns the repo's engine (its
// BeforePublish as rpmirror sync sets it), the digest of the revision
// the resume lets the mirrors go back to, and when the metalink was
// answered.
func (e *env) heldWithMetalink() (*sync.Engine, string, time.Time) {
	t := e.t
	t.Helper()
	first, _, nextSum := e.syncNextSnapshot()
	repo, _ := e.cfg.Repo("demo")
	e.rollback(repo, first)
	waitFor(t, 15*time.Second, "the rollback to move m1 and the daemon to list the held revision", func() bool {
		b, err := os.ReadFile(filepath.Join(e.dir, "m1", "repodata", "repomd.xml"))
		return err == nil && sha256Hex(b) != nextSum && !strings.Contains(e.metalink(), nextSum)
	})
	store, err := state.Open(e.cfg.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	eng := sync.New(sync.Options{Store: store, Fetcher: fetch.New(fetch.Options{}), BeforePublish: func(ctx context.Context, rev state.Revision) {
		daemon.AwaitServe(ctx, store, "demo", rev.SHA256, log)
	}})
	time.Sleep(2500 * time.Millisecond)
	answered := time.Now() // before the daemon answers: what it counts from is later
	e.metalink()           // names the held revision only
	for {
		if _, err := eng.Resume(context.Background(), repo); errors.Is(err, state.ErrLocked) {
			continue
		} else if err != nil {
			t.Fatalf("resume: %v", err)
		}
		break
	}
	return eng, nextSum, answered
}

// TestResumeThenSyncBesideTheDaemonWaitsForMetalinkClients: after
// rpmirror resume beside the daemon, a sync by hand that moves the
// mirrors off the held revision (its current revision unchanged) waits
// for the clients of the metalinks answered while the repository was
// held; the daemon's own sync, which the lift asks for, as well.
func TestResumeThenSyncBesideTheDaemonWaitsForMetalinkClients(t *testing.T) {
	e := newEnv(t, envOpts{probeInterval: time.Hour, probeTimeout: 2 * time.Second, snapshots: "{keep: 5}"})
	e.waitHealthy()
	eng, nextSum, answered := e.heldWithMetalink()
	repo, _ := e.cfg.Repo("demo")
	rep := eng.Sync(context.Background(), repo)
	for errors.Is(rep.Err, state.ErrLocked) { // the daemon's own sync, asked for by the lift
		rep = eng.Sync(context.Background(), repo)
	}
	if rep.Err != nil {
		t.Fatalf("sync after resume: %v", rep.Err)
	}
	b, err := os.ReadFile(filepath.Join(e.dir, "m1", "repodata", "repomd.xml"))
	if err != nil || sha256Hex(b) != nextSum {
		t.Fatalf("m1 does not serve the revision after the resume and the sync (%v)", err)
	}
	if took := time.Since(answered); took < 1950*time.Millisecond {
		t.Errorf("m1 moved off the held revision %s after a metalink naming only it was answered (want 2 s)", took.Round(time.Millisecond))
	} else {
		t.Logf("published %s after the metalink was answered", took.Round(time.Millisecond))
	}
}

// TestResumeBesideTheDaemonItsSyncWaitsForMetalinkClients: after
// rpmirror resume beside the daemon, the daemon's own sync that the lift
// asks for moves the mirrors off the held revision no sooner than 2 s
// after a metalink naming only it was answered (a tester's moved them
// 70 ms after the lift).
func TestResumeBesideTheDaemonItsSyncWaitsForMetalinkClients(t *testing.T) {
	e := newEnv(t, envOpts{probeInterval: time.Hour, probeTimeout: 2 * time.Second, snapshots: "{keep: 5}"})
	e.waitHealthy()
	_, nextSum, answered := e.heldWithMetalink()
	var moved time.Time
	waitFor(t, 30*time.Second, "the daemon's sync to move m1 off the held revision", func() bool {
		b, err := os.ReadFile(filepath.Join(e.dir, "m1", "repodata", "repomd.xml"))
		moved = time.Now()
		return err == nil && sha256Hex(b) == nextSum
	})
	if took := moved.Sub(answered); took < 1950*time.Millisecond {
		t.Errorf("the daemon's sync moved m1 off the held revision %s after a metalink naming only it was answered (want 2 s)", took.Round(time.Millisecond))
	} else {
		t.Logf("moved %s after the metalink was answered", took.Round(time.Millisecond))
	}
}

// TestRollbackBesideTheDaemonListedAgainAtOnce: once rpmirror rollback
// beside the daemon is done, its written mirrors, unlisted while it moved
// them, are probed and listed again within moments, not at the next look
// at the state_dir (an hour here): the end of a run writes nothing to
// be told of (a tester's clients found no mirror listed for up to 2 s
// after each rollback, the interval then).
func TestRollbackBesideTheDaemonListedAgainAtOnce(t *testing.T) {
	e := newEnv(t, envOpts{probeInterval: time.Hour, probeTimeout: 2 * time.Second, snapshots: "{keep: 5}", stateWatch: time.Hour})
	e.waitHealthy()
	first, _, _ := e.syncNextSnapshot()
	repo, _ := e.cfg.Repo("demo")
	e.rollback(repo, first)
	done := time.Now()
	took := waitFor(t, 10*time.Second, "both mirrors listed again after the rollback", func() bool {
		st := e.status().Repos[0]
		return st.Held != nil && mirrorOf(st, "m1").State == "ok" && mirrorOf(st, "m2").State == "ok" && len(e.mirrorlist()) == 2
	})
	if took > time.Second {
		t.Errorf("the mirrors were listed again %s after the rollback was done (want within a second)", took.Round(time.Millisecond))
	}
	t.Logf("listed again %s after the rollback", time.Since(done).Round(time.Millisecond))
}

// TestRollbackBesideTheDaemonWaitsForMetalinkClients: rpmirror rollback
// beside the daemon (BeforePublish calling daemon.AwaitServe, as the
// command sets it) moves the first written mirror no sooner than 2 s
// after the daemon last answered a metalink naming only the revision it
// withdraws, and the daemon lists a mirror all along: the written
// mirrors not moved yet, behind with the withdrawn revision as the
// metalink's alternate, then the moved ones (before, no mirror was
// listed while the rollback moved them, and the client of a metalink
// answered just before it failed).
func TestRollbackBesideTheDaemonWaitsForMetalinkClients(t *testing.T) {
	e := newEnv(t, envOpts{probeInterval: time.Hour, probeTimeout: 2 * time.Second, snapshots: "{keep: 5}"})
	e.waitHealthy()
	first, _, nextSum := e.syncNextSnapshot()
	repo, _ := e.cfg.Repo("demo")
	store, err := state.Open(e.cfg.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	eng := sync.New(sync.Options{Store: store, BeforePublish: func(ctx context.Context, rev state.Revision) {
		daemon.AwaitServe(ctx, store, "demo", rev.SHA256, log)
	}})

	// Clients, every 10 ms: how many lists named no mirror.
	stop := make(chan struct{})
	var lists, empty int
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			resp, err := http.Get(e.base + "/mirrorlist?repo=demo")
			if err != nil {
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			lists++
			n := 0
			for _, l := range strings.Split(string(b), "\n") {
				if l != "" && !strings.HasPrefix(l, "#") {
					n++
				}
			}
			if n == 0 {
				empty++
			}
		}
	}()
	// When m1 first serves another revision.
	m1 := filepath.Join(e.dir, "m1", "repodata", "repomd.xml")
	movedAt := make(chan time.Time, 1)
	go func() {
		for {
			if b, err := os.ReadFile(m1); err == nil && sha256Hex(b) != nextSum {
				movedAt <- time.Now()
				return
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()

	answered := time.Now() // before the daemon answers: what it counts from is later
	e.metalink()           // a client, about to fetch the withdrawn revision's repomd.xml
	for {
		if _, _, err := eng.Rollback(context.Background(), repo, first, "tester@ci"); errors.Is(err, state.ErrLocked) {
			continue
		} else if err != nil {
			t.Fatalf("rollback: %v", err)
		}
		break
	}
	var moved time.Time
	select {
	case moved = <-movedAt:
	case <-time.After(10 * time.Second):
		t.Fatal("m1 does not serve the snapshot's revision after the rollback")
	}
	waitFor(t, 10*time.Second, "both mirrors listed against the held revision", func() bool {
		st := e.status().Repos[0]
		return st.Held != nil && mirrorOf(st, "m1").State == "ok" && mirrorOf(st, "m2").State == "ok"
	})
	close(stop)
	<-polled
	if took := moved.Sub(answered); took < 1950*time.Millisecond || took > 5*time.Second {
		t.Errorf("the rollback moved m1 %s after a metalink naming only the withdrawn revision was answered (want 2 s)", took.Round(time.Millisecond))
	} else {
		t.Logf("moved %s after the metalink was answered", took.Round(time.Millisecond))
	}
	if empty > 0 || lists < 50 {
		t.Errorf("%d of %d mirrorlists during the rollback named no mirror (want none, of at least 50)", empty, lists)
	}
	if ml := e.metalink(); strings.Contains(ml, nextSum) {
		t.Errorf("the metalink still names the withdrawn revision once both mirrors serve the held one:\n%s", ml)
	}
}
