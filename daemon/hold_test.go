package daemon_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/alert"
	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/fetch"
	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/server"
	"github.com/rpmirror/rpmirror/state"
	"github.com/rpmirror/rpmirror/sync"
)

// engine returns a sync engine on the daemon's state directory, as
// rpmirror rollback and resume run beside a daemon.
func (e *env) engine() *sync.Engine {
	e.t.Helper()
	store, err := state.Open(e.cfg.StateDir)
	if err != nil {
		e.t.Fatal(err)
	}
	return sync.New(sync.Options{Store: store})
}

func (e *env) snapshotsDoc() *server.SnapshotsDoc {
	e.t.Helper()
	code, body := e.get("/snapshots.json")
	if code != 200 {
		e.t.Fatalf("/snapshots.json: %d %s", code, body)
	}
	var d server.SnapshotsDoc
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		e.t.Fatal(err)
	}
	return &d
}

// rollback runs rpmirror rollback of repo to snapshot, by tester@ci,
// beside the daemon, once the daemon's own sync has let the lock go.
func (e *env) rollback(repo *config.Repo, snapshot string) {
	e.t.Helper()
	waitFor(e.t, 30*time.Second, "the rollback to take the repo's lock", func() bool {
		_, _, err := e.engine().Rollback(context.Background(), repo, snapshot, "tester@ci")
		if errors.Is(err, state.ErrLocked) {
			return false
		}
		if err != nil {
			e.t.Fatalf("rollback: %v", err)
		}
		return true
	})
}

func (e *env) latestSnapshot(mirror string) string {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.dir, mirror, "snapshots", "latest.txt"))
	if err != nil {
		e.t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestSnapshotsRollbackAndResumeWithServe: a daemon keeps two mirrors
// with snapshots through two revisions. /snapshots.json names the latest
// snapshot and its URL on each mirror; ?snapshot=NAME lists the mirrors'
// URLs of an older one, in the order of the plain list, the metalink
// carrying its repomd.xml, and dnf reads it through either; an unknown
// snapshot is a 404 naming those there are. rpmirror rollback (run beside it) to
// the first revision's snapshot holds the repo: /status and /status.json
// say who held it, rpmirror_repo_held is 1, both mirrors stay ok and
// listed against the held revision, the metalink carries the held
// revision's repomd.xml and dnf reads that revision through it, and a
// sync the daemon is asked for is skipped as held (not failed) while the
// origin serves the newer revision. After rpmirror resume the next sync
// brings the mirrors forward again.
func TestSnapshotsRollbackAndResumeWithServe(t *testing.T) {
	e := newEnv(t, envOpts{probeInterval: time.Second, probeTimeout: time.Second, snapshots: "{keep: 5}"})
	e.waitHealthy()
	v2sum := repomdSHA256(t, testrepo.DemoOrigin(t, "v2"))
	first := e.latestSnapshot("m1")
	key := testrepo.TestKey(t)
	next := newRevision(t, testrepo.Pkg{Name: "zz-next", Version: "1", Release: "1", Sign: key}, time.Now().Unix()+100)
	nextSum := repomdSHA256(t, next)
	e.net.serve("origin", next)
	e.d.TriggerSync("demo")
	waitFor(t, 60*time.Second, "both mirrors to serve the next revision, listed", func() bool {
		return repomdSHA256(t, filepath.Join(e.dir, "m1")) == nextSum && repomdSHA256(t, filepath.Join(e.dir, "m2")) == nextSum &&
			strings.Contains(e.metalink(), nextSum) && len(e.mirrorlist()) == 2
	})
	second := e.latestSnapshot("m1")
	if second == first {
		t.Fatal("no snapshot of the next revision")
	}
	// Each mirror takes its snapshot after it publishes: wait until both
	// have, as /snapshots.json sees them.
	waitFor(t, 30*time.Second, "/snapshots.json to name the second snapshot on both mirrors", func() bool {
		d := e.snapshotsDoc()
		if len(d.Repos) != 1 || d.Repos[0].Latest != second || len(d.Repos[0].Mirrors) != 2 {
			return false
		}
		for _, m := range d.Repos[0].Mirrors {
			if m.Latest != second {
				return false
			}
		}
		return true
	})
	d := e.snapshotsDoc().Repos[0]
	if d.Name != "demo" || d.Held != "" || d.Mirrorlist != "/mirrorlist?repo=demo&snapshot="+second || d.Metalink != "/metalink?repo=demo&snapshot="+second ||
		strings.Join(d.Snapshots, " ") != first+" "+second || len(d.Mirrors) != 2 ||
		d.Mirrors[0] != (server.SnapshotMirror{Name: "m1", Latest: second, URL: e.net.URL("m1") + "snapshots/" + second + "/"}) ||
		d.Mirrors[1] != (server.SnapshotMirror{Name: "m2", Latest: second, URL: e.net.URL("m2") + "snapshots/" + second + "/"}) {
		t.Errorf("/snapshots.json: %+v", d)
	}
	// A job pinned to the first snapshot: the mirrors' URLs of it, in the
	// order the plain mirrorlist has them; the metalink describes its
	// repomd.xml; dnf reads the first revision through either.
	code, body := e.get("/mirrorlist?repo=demo&snapshot=" + first)
	if want := e.net.URL("m1") + "snapshots/" + first + "/\n" + e.net.URL("m2") + "snapshots/" + first + "/\n"; code != 200 || body != want {
		t.Errorf("/mirrorlist?snapshot=%s: %d %q, want %q", first, code, body, want)
	}
	code, body = e.get("/metalink?repo=demo&snapshot=" + first)
	if code != 200 || !strings.Contains(body, v2sum) || strings.Contains(body, nextSum) || strings.Count(body, "snapshots/"+first+"/repodata/repomd.xml") != 2 {
		t.Errorf("/metalink?snapshot=%s: %d\n%s", first, code, body)
	}
	for _, via := range []string{"mirrorlist=" + e.base + "/mirrorlist?repo=demo&snapshot=" + first, "metalink=" + e.base + "/metalink?repo=demo&snapshot=" + first} {
		out, err := e.dnf(via, "repoquery", "-q", "--qf", "%{name}-%{epoch}:%{version}-%{release}.%{arch}")
		if err != nil {
			t.Fatalf("dnf through %s: %v\n%s", via, err, out)
		}
		if got := list(out); strings.Join(got, " ") != strings.Join(v2, " ") {
			t.Errorf("dnf through %s: %v, want the first snapshot's %v", via, got, v2)
		}
	}
	for _, path := range []string{"/mirrorlist?repo=demo&snapshot=20000101T000000Z", "/metalink?repo=demo&snapshot=20000101T000000Z"} {
		if code, body := e.get(path); code != 404 || !strings.Contains(body, "no snapshot 20000101T000000Z of demo: its snapshots are "+first+", "+second) {
			t.Errorf("%s: %d %q, want 404 naming the snapshots there are", path, code, body)
		}
	}

	repo, _ := e.cfg.Repo("demo")
	var h *state.Hold
	waitFor(t, 30*time.Second, "the rollback to take the repo's lock", func() bool {
		var err error
		h, _, err = e.engine().Rollback(context.Background(), repo, first, "tester@ci")
		if errors.Is(err, state.ErrLocked) {
			return false
		}
		if err != nil {
			t.Fatalf("rollback: %v", err)
		}
		return true
	})
	if h.SHA256 != v2sum {
		t.Fatalf("held at repomd %s, want the first revision's %s", h.SHA256, v2sum)
	}
	waitFor(t, 30*time.Second, "the daemon to see the hold and list both mirrors against it", func() bool {
		st := e.status().Repos[0]
		return st.Held != nil && st.Held.Snapshot == first && st.Held.By == "tester@ci" &&
			mirrorOf(st, "m1").State == "ok" && mirrorOf(st, "m2").State == "ok" && strings.Contains(e.metalink(), v2sum) && !strings.Contains(e.metalink(), nextSum)
	})
	if l := e.mirrorlist(); len(l) != 2 {
		t.Errorf("held: mirrorlist %v, want m1 and m2", l)
	}
	// The written mirrors serve the held revision from the rollback on:
	// none was ever stale (judged on a probe from before the rollback),
	// which alerted and, for a moment, emptied the lists.
	for _, f := range e.status().Repos[0].Failures {
		if f.What == "mirror m1" || f.What == "mirror m2" {
			t.Errorf("the rollback made a written mirror need a person: %s: %s", f.What, f.Error)
		}
	}
	if d := e.snapshotsDoc().Repos[0]; d.Latest != first || d.Held != first || d.Mirrors[0].Latest != first {
		t.Errorf("held: /snapshots.json %+v, want latest and held %s", d, first)
	}
	if _, body := e.get("/status"); !strings.Contains(body, "HELD") || !strings.Contains(body, first) || !strings.Contains(body, "tester@ci") {
		t.Errorf("/status of a held repo does not say so")
	} else if !strings.Contains(body, "rpmirror resume -c FILE --repo demo") || !strings.Contains(body, "</html>") {
		t.Errorf("/status of a held repo stops short:\n%s", body)
	}
	if _, body := e.get("/metrics"); !strings.Contains(body, `rpmirror_repo_held{repo="demo"} 1`) {
		t.Errorf("/metrics: no rpmirror_repo_held 1:\n%s", grepLines(body, "held"))
	}
	out, err := e.dnf("metalink="+e.base+"/metalink?repo=demo", "repoquery", "-q", "--qf", "%{name}-%{epoch}:%{version}-%{release}.%{arch}")
	if err != nil {
		t.Fatalf("dnf through the metalink while held: %v\n%s", err, out)
	}
	if got := list(out); strings.Join(got, " ") != strings.Join(v2, " ") {
		t.Errorf("dnf while held: %v, want the first revision's %v", got, v2)
	}

	// The held revision is served with its snapshot's repomd.xml.asc: a
	// mirror that loses it is down while held (dnf with repo_gpgcheck
	// refuses it and does not try the next), and listed again once it
	// serves it again.
	if asc, err := os.ReadFile(filepath.Join(testrepo.DemoOrigin(t, "v2"), "repodata", "repomd.xml.asc")); err != nil || !bytes.Equal(h.Signature, asc) {
		t.Errorf("the hold's signature is not its snapshot's repomd.xml.asc (%v)", err)
	}
	m2asc := filepath.Join(e.dir, "m2", "repodata", "repomd.xml.asc")
	asc, err := os.ReadFile(m2asc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(m2asc); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "m2, serving the held revision without its signature, to be down and unlisted", func() bool {
		return mirrorOf(e.status().Repos[0], "m2").State == "down" && len(e.mirrorlist()) == 1
	})
	if err := os.WriteFile(m2asc, asc, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "m2 listed again with its signature back", func() bool { return len(e.mirrorlist()) == 2 })

	// Both mirrors down while held: the lists name nothing, not the
	// origin, which serves what the hold keeps out.
	e.net.setStatus("m1", 503)
	e.net.setStatus("m2", 503)
	waitFor(t, 30*time.Second, "the lists to name nothing while held with every mirror down", func() bool {
		_, body := e.get("/mirrorlist?repo=demo")
		return len(e.mirrorlist()) == 0 && strings.Contains(body, "which the repository is held at (snapshot "+first)
	})
	e.net.setStatus("m1", 0)
	e.net.setStatus("m2", 0)
	waitFor(t, 30*time.Second, "both mirrors listed again", func() bool { return len(e.mirrorlist()) == 2 })

	// A sync asked for while held is skipped as held; the mirrors stay.
	e.d.TriggerSync("demo")
	waitFor(t, 30*time.Second, "the sync to be skipped as held", func() bool {
		ls := e.status().Repos[0].LastSync
		return ls != nil && ls.Result == "held" && strings.Contains(ls.Error, "rpmirror resume")
	})
	if got := repomdSHA256(t, filepath.Join(e.dir, "m1")); got != v2sum {
		t.Error("a sync moved the held repo forward")
	}
	if _, body := e.get("/metrics"); !strings.Contains(body, `rpmirror_sync_runs_total{repo="demo",result="held"}`) {
		t.Errorf("/metrics: no held sync counted:\n%s", grepLines(body, "sync_runs"))
	}

	if h, err := e.engine().Resume(context.Background(), repo); err != nil || h == nil {
		t.Fatalf("resume: %v, %v", h, err)
	}
	// Not asked for a sync: the daemon runs one when it sees the hold
	// gone (a tester's waited for the schedule, an hour).
	waitFor(t, 60*time.Second, "the mirrors to serve the next revision again after resume", func() bool {
		st := e.status().Repos[0]
		return st.Held == nil && repomdSHA256(t, filepath.Join(e.dir, "m1")) == nextSum && repomdSHA256(t, filepath.Join(e.dir, "m2")) == nextSum &&
			strings.Contains(e.metalink(), nextSum) && len(e.mirrorlist()) == 2
	})
	if _, body := e.get("/metrics"); !strings.Contains(body, `rpmirror_repo_held{repo="demo"} 0`) {
		t.Errorf("/metrics after resume: %s", grepLines(body, "held"))
	}
}

// TestRollbackUnderWayListsTheWithdrawnRevision: while rpmirror rollback
// holds the repository's lock and its hold is not done (state.Hold.Done),
// a written mirror that still serves the revision the rollback withdraws
// (the current one before the hold) is behind, not stale: listed, with
// that revision's repomd.xml as the metalink's alternate, and nothing
// alerts, so that clients always have a mirror while the rollback moves
// them (before, none was listed until it had moved one). A rollback that
// died leaves its hold not done but frees the lock: the mirrors it did
// not move stay behind and listed, their reason saying so, for max_lag
// from the hold (a tester's clients all failed "No URLs in metalink" once
// a rollback was killed before it moved a mirror), then stale and not
// listed, as any held repository's that do not serve the held revision.
// A probe from before the rollback was done is behind too, until the
// probe after it.
func TestRollbackUnderWayListsTheWithdrawnRevision(t *testing.T) {
	e := newEnv(t, envOpts{probeInterval: time.Second, probeTimeout: time.Second, maxLag: "10s"})
	e.waitHealthy()
	withdrawn := repomdSHA256(t, filepath.Join(e.dir, "m1"))
	store, err := state.Open(e.cfg.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	var unlock func()
	waitFor(t, 30*time.Second, "the repo's lock", func() bool {
		unlock, err = store.Lock("demo")
		if errors.Is(err, state.ErrLocked) {
			return false
		}
		if err != nil {
			t.Fatal(err)
		}
		return true
	})
	// A revision no mirror serves yet, as a rollback saves it before it
	// republishes the first mirror.
	md := []byte(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<repomd xmlns="http://linux.duke.edu/metadata/repo"><revision>1000</revision></repomd>` + "\n")
	sum := sha256.Sum256(md)
	held := hex.EncodeToString(sum[:])
	h := &state.Hold{Repo: "demo", Snapshot: "20261127T000000Z", Revision: "1000", SHA256: held, Repomd: md, By: "tester@ci", At: time.Now().UTC().Truncate(time.Second)}
	if err := store.SaveHold(h); err != nil {
		t.Fatal(err)
	}
	behindFor := func(why string) func() bool {
		return func() bool {
			st := e.status().Repos[0]
			for _, name := range []string{"m1", "m2"} {
				if m := mirrorOf(st, name); m.State != "behind" || !strings.Contains(m.Reason, why) {
					return false
				}
			}
			return true
		}
	}
	behind := behindFor("which rpmirror rollback (by tester@ci) withdraws")
	waitFor(t, 30*time.Second, "both written mirrors to be behind while the rollback runs", behind)
	for _, f := range e.status().Repos[0].Failures {
		if f.What == "mirror m1" || f.What == "mirror m2" {
			t.Errorf("a rollback under way made a written mirror need a person: %s: %s", f.What, f.Error)
		}
	}
	if l := e.mirrorlist(); len(l) != 2 {
		t.Errorf("mirrorlist while the rollback moves the mirrors: %v, want both", l)
	}
	ml := e.metalink()
	if cur, alts, _ := strings.Cut(ml, "<mm0:alternates>"); !strings.Contains(cur, held) || !strings.Contains(alts, withdrawn) || strings.Contains(cur, withdrawn) {
		t.Errorf("metalink while the rollback moves the mirrors: want the held revision %s current and the withdrawn %s as an alternate:\n%s", held, withdrawn, ml)
	}
	unlock() // the rollback died
	waitFor(t, 5*time.Second, "both written mirrors to be behind, listed, once the rollback died", behindFor("was withdrawing when it stopped before it was done"))
	if l := e.mirrorlist(); len(l) != 2 {
		t.Errorf("mirrorlist once the rollback died, within max_lag: %v, want both", l)
	}
	// The lists are rendered right after the judging the status shows.
	waitFor(t, 30*time.Second, "both written mirrors to be stale and unlisted max_lag after the hold", func() bool {
		st := e.status().Repos[0]
		return mirrorOf(st, "m1").State == "stale" && mirrorOf(st, "m2").State == "stale" && len(e.mirrorlist()) == 0
	})
	if ml := e.metalink(); strings.Contains(ml, "<mm0:alternates>") {
		t.Errorf("the metalink still carries the withdrawn revision max_lag after a rollback that died:\n%s", ml)
	}
	// A probe from before the rollback was done is not judged against
	// the hold either: a hold done later than every probe (an hour from
	// now, so that each probe of the test is one) leaves the mirrors
	// behind, the lock free.
	h.Done = time.Now().Add(time.Hour).UTC()
	if err := store.SaveHold(h); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "both written mirrors to be behind on probes from before the rollback was done", behind)
}

// TestSyncBesideTheDaemon: an rpmirror sync run beside the daemon (the
// same state_dir) publishes a new revision to the written mirrors. The
// daemon learns from the state_dir that it is verified and lists both
// mirrors against it (a tester's finding: it judged them "not verified
// yet" and listed nothing, the metalink naming the unverified origin,
// until its own sync verified a newer revision).
func TestSyncBesideTheDaemon(t *testing.T) {
	e := newEnv(t, envOpts{probeInterval: time.Second, probeTimeout: time.Second})
	e.waitHealthy()
	key := testrepo.TestKey(t)
	next := newRevision(t, testrepo.Pkg{Name: "zz-beside", Version: "1", Release: "1", Sign: key}, time.Now().Unix()+100)
	nextSum := repomdSHA256(t, next)
	e.net.serve("origin", next)
	repo, _ := e.cfg.Repo("demo")
	waitFor(t, 30*time.Second, "the sync beside the daemon to take the repo's lock", func() bool {
		store, err := state.Open(e.cfg.StateDir)
		if err != nil {
			t.Fatal(err)
		}
		rep := sync.New(sync.Options{Store: store, Fetcher: fetch.New(fetch.Options{})}).Sync(context.Background(), repo)
		if errors.Is(rep.Err, state.ErrLocked) {
			return false // the daemon's own sync, asked for by its probe of the origin
		}
		if rep.Err != nil {
			t.Fatalf("sync beside the daemon: %v", rep.Err)
		}
		return true
	})
	waitFor(t, 30*time.Second, "both mirrors listed against the revision the sync beside verified", func() bool {
		st := e.status().Repos[0]
		return mirrorOf(st, "m1").State == "ok" && mirrorOf(st, "m2").State == "ok" && len(e.mirrorlist()) == 2 &&
			strings.Contains(e.metalink(), nextSum) && repomdSHA256(t, filepath.Join(e.dir, "m1")) == nextSum
	})
}

// TestSyncBesideTheDaemonFollowedAtOnce: with probe rounds an hour
// apart, an rpmirror sync run beside the daemon verifies a new revision,
// then (held up by the test for 6 s) publishes it. The daemon follows
// from the state_dir (watchState): its metalink names the new
// repomd.xml while the sync still runs, before any mirror serves it (so
// dnf accepts the mirrors before and after); a sync of the daemon's own
// asked for meanwhile is "busy", not failed, and alerts nobody; once the
// sync beside is done, both mirrors are probed and ok, and dnf finds the
// new package through the metalink. (Before, metalink clients failed on
// every mirror until the next probe round, and a daemon sync colliding
// with the one by hand failed and alerted.)
func TestSyncBesideTheDaemonFollowedAtOnce(t *testing.T) {
	e := newEnv(t, envOpts{probeInterval: time.Hour, probeTimeout: 2 * time.Second})
	e.waitHealthy()
	key := testrepo.TestKey(t)
	next := newRevision(t, testrepo.Pkg{Name: "zz-beside", Version: "1", Release: "1", Sign: key}, time.Now().Unix()+100)
	nextSum := repomdSHA256(t, next)
	oldSum := repomdSHA256(t, filepath.Join(e.dir, "m1"))
	e.net.serve("origin", next)
	repo, _ := e.cfg.Repo("demo")
	store, err := state.Open(e.cfg.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	verified := make(chan struct{})
	done := make(chan *sync.Report, 1)
	var once gosync.Once
	go func() {
		for {
			rep := sync.New(sync.Options{Store: store, Fetcher: fetch.New(fetch.Options{}), OnVerified: func(*state.Verified) {
				once.Do(func() { close(verified) })
				time.Sleep(6 * time.Second) // the sync holds the lock, verified, nothing published
			}}).Sync(context.Background(), repo)
			if !errors.Is(rep.Err, state.ErrLocked) { // else the daemon's start-up sync, ending
				done <- rep
				return
			}
		}
	}()
	select {
	case <-verified:
	case rep := <-done:
		t.Fatalf("the sync beside the daemon ended before it verified anything: %+v", rep.Err)
	}
	e.d.TriggerSync("demo") // collides with the sync beside it
	waitFor(t, 5*time.Second, "the metalink to name the revision the sync beside verified, both mirrors still listed", func() bool {
		ml := e.metalink()
		return strings.Contains(ml, nextSum) && strings.Contains(ml, oldSum) && len(e.mirrorlist()) == 2
	})
	if repomdSHA256(t, filepath.Join(e.dir, "m1")) != oldSum {
		t.Fatal("the sync beside the daemon published before the test looked: it did not test adoption before the publish")
	}
	waitFor(t, 5*time.Second, "the daemon's own sync to be left to the one beside it (busy)", func() bool {
		ls := e.status().Repos[0].LastSync
		return ls != nil && ls.Result == "busy"
	})
	if rep := <-done; rep.Err != nil || rep.NoChange {
		t.Fatalf("sync beside the daemon: %v (no change: %v)", rep.Err, rep.NoChange)
	}
	start := time.Now()
	waitFor(t, 15*time.Second, "both mirrors probed ok on the revision synced beside the daemon, and the daemon's own sync run", func() bool {
		st := e.status().Repos[0]
		return strings.Contains(e.metalink(), nextSum) && mirrorOf(st, "m1").State == "ok" && mirrorOf(st, "m2").State == "ok" &&
			st.LastSync != nil && st.LastSync.Result == "no change"
	})
	t.Logf("followed in %s", time.Since(start).Round(time.Millisecond))
	if ev, found := e.hook.find(func(ev alert.Event) bool { return ev.Kind == "sync" || ev.Kind == "mirror" && ev.Mirror != "third" }); found {
		t.Errorf("an alert for a sync run beside the daemon: %+v", ev)
	}
	out, err := e.dnf("metalink="+e.base+"/metalink?repo=demo", "repoquery", "-q", "--qf", "%{name}", "zz-beside")
	if err != nil || strings.TrimSpace(out) != "zz-beside" {
		t.Errorf("dnf through the metalink after the sync beside the daemon: %v\n%s", err, out)
	}
}

// serveNext has the origin serve a new revision, with package name
// added, and returns the repo, the state_dir's store (for a sync beside
// the daemon) and the new repomd.xml's digest.
func (e *env) serveNext(name string) (*config.Repo, *state.Store, string) {
	e.t.Helper()
	next := newRevision(e.t, testrepo.Pkg{Name: name, Version: "1", Release: "1", Sign: testrepo.TestKey(e.t)}, time.Now().Unix()+100)
	e.net.serve("origin", next)
	repo, _ := e.cfg.Repo("demo")
	store, err := state.Open(e.cfg.StateDir)
	if err != nil {
		e.t.Fatal(err)
	}
	return repo, store, repomdSHA256(e.t, next)
}

// metalinkNames is an OnVerified for a sync beside the daemon: it waits
// (up to 3 s) for the daemon's metalink to name the repomd.xml with digest
// sum, and sets *took to how long after the record that was.
func (e *env) metalinkNames(sum string, took *time.Duration) func(*state.Verified) {
	return func(*state.Verified) {
		saved := time.Now()
		for time.Since(saved) < 3*time.Second && !strings.Contains(e.metalink(), sum) {
			time.Sleep(20 * time.Millisecond)
		}
		*took = time.Since(saved)
	}
}

// TestVerifiedBesideTheDaemonNotified: the state_dir's records are looked
// at as soon as they are written, where the filesystem tells (inotify):
// with the periodic look an hour apart, the metalink names the revision a
// sync beside the daemon verified within a second of its record, before
// the sync publishes it.
func TestVerifiedBesideTheDaemonNotified(t *testing.T) {
	e := newEnv(t, envOpts{probeInterval: time.Hour, probeTimeout: 2 * time.Second, stateWatch: time.Hour})
	e.waitHealthy()
	repo, store, nextSum := e.serveNext("zz-notified")
	var adopted time.Duration
	rep := sync.New(sync.Options{Store: store, Fetcher: fetch.New(fetch.Options{}), OnVerified: e.metalinkNames(nextSum, &adopted)}).Sync(context.Background(), repo)
	if rep.Err != nil {
		t.Fatalf("sync beside the daemon: %v", rep.Err)
	}
	if adopted > time.Second {
		t.Errorf("the metalink named the revision verified beside the daemon %s after its record (want within a second)", adopted.Round(time.Millisecond))
	}
	t.Logf("adopted %s after the record", adopted.Round(time.Microsecond))
}

// TestNoChangeSyncBesideTheDaemonAsksNoProbe: an rpmirror sync beside the
// daemon that finds every mirror current (a cron job's) records a run in
// the state_dir and publishes nothing: the daemon, following it, probes
// no mirror for it; a sync beside it that publishes does have the
// mirrors probed again.
func TestNoChangeSyncBesideTheDaemonAsksNoProbe(t *testing.T) {
	e := newEnv(t, envOpts{probeInterval: time.Hour, probeTimeout: 2 * time.Second})
	e.waitHealthy()
	repo, _ := e.cfg.Repo("demo")
	store, err := state.Open(e.cfg.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	syncBeside := func() *sync.Report {
		var rep *sync.Report
		waitFor(t, 30*time.Second, "the sync beside the daemon to take the repo's lock", func() bool {
			rep = sync.New(sync.Options{Store: store, Fetcher: fetch.New(fetch.Options{})}).Sync(context.Background(), repo)
			return !errors.Is(rep.Err, state.ErrLocked)
		})
		if rep.Err != nil {
			t.Fatalf("sync beside the daemon: %v", rep.Err)
		}
		return rep
	}
	time.Sleep(3 * time.Second) // the start-up sync's probes are over
	before := e.net.hitsOf("m1")
	if rep := syncBeside(); !rep.NoChange {
		t.Fatal("the sync beside the daemon changed something: the test did not test")
	}
	time.Sleep(3 * time.Second) // more than the daemon's look at the state_dir
	if got := e.net.hitsOf("m1"); got != before {
		t.Errorf("a sync beside the daemon that changed nothing had m1 probed: %d requests", got-before)
	}
	_, _, nextSum := e.serveNext("zz-probed")
	syncBeside()
	waitFor(t, 10*time.Second, "the mirrors probed again after a sync beside the daemon that published", func() bool {
		st := e.status().Repos[0]
		return e.net.hitsOf("m1") > before && mirrorOf(st, "m1").State == "ok" && strings.Contains(e.metalink(), nextSum)
	})
}

// TestSyncBesideTheDaemonWhileItsSyncWaits: the daemon's own sync, asked
// for while a sync by hand holds the lock, waits for it (up to 2 s); the
// revision the sync by hand verifies meanwhile is taken at once all the
// same, not once the daemon's sync gives up (a tester's metalink named
// the old revision while both mirrors served the new one, and dnf
// failed).
func TestSyncBesideTheDaemonWhileItsSyncWaits(t *testing.T) {
	e := newEnv(t, envOpts{probeInterval: time.Hour, probeTimeout: 2 * time.Second})
	e.waitHealthy()
	repo, store, nextSum := e.serveNext("zz-waits")
	var adopted time.Duration
	var rep *sync.Report
	waitFor(t, 30*time.Second, "the sync beside the daemon to take the repo's lock", func() bool {
		rep = sync.New(sync.Options{Store: store, Fetcher: fetch.New(fetch.Options{}),
			OnLocked: func() {
				e.d.TriggerSync("demo")
				time.Sleep(200 * time.Millisecond) // the daemon's sync waits for the lock now
			},
			OnVerified: e.metalinkNames(nextSum, &adopted)}).Sync(context.Background(), repo)
		return !errors.Is(rep.Err, state.ErrLocked)
	})
	if rep.Err != nil {
		t.Fatalf("sync beside the daemon: %v", rep.Err)
	}
	waitFor(t, 10*time.Second, "the daemon's sync to be left to the one beside it (busy) and run again once it was done", func() bool {
		ls := e.status().Repos[0].LastSync
		return ls != nil && ls.Result == "no change"
	})
	if adopted > time.Second {
		t.Errorf("the metalink named the revision verified beside the daemon %s after its record, while the daemon's sync waited for the lock (want within a second)", adopted.Round(time.Millisecond))
	}
}

// syncNextSnapshot has the origin serve a next revision (zz-next added)
// and the daemon sync it, both mirrors listed and snapshotted; it returns
// the snapshot before, the next revision's directory and its repomd.xml's
// digest.
func (e *env) syncNextSnapshot() (first, next, nextSum string) {
	e.t.Helper()
	first = e.latestSnapshot("m1")
	next = newRevision(e.t, testrepo.Pkg{Name: "zz-next", Version: "1", Release: "1", Sign: testrepo.TestKey(e.t)}, time.Now().Unix()+100)
	nextSum = repomdSHA256(e.t, next)
	e.net.serve("origin", next)
	e.d.TriggerSync("demo")
	waitFor(e.t, 60*time.Second, "the daemon to sync the next revision, list both mirrors and snapshot it", func() bool {
		st := e.status().Repos[0]
		return strings.Contains(e.metalink(), nextSum) && mirrorOf(st, "m1").State == "ok" && mirrorOf(st, "m2").State == "ok" &&
			e.latestSnapshot("m2") != first
	})
	return first, next, nextSum
}

// TestRollbackAndResumeBesideTheDaemonFollowedAtOnce: with probe rounds
// an hour apart, rpmirror rollback and rpmirror resume run beside the
// daemon. It follows each within seconds (watchState): held, both mirrors
// listed against the held revision and the metalink naming it; resumed,
// the hold lifted and the mirrors synced forward by the daemon at once.
func TestRollbackAndResumeBesideTheDaemonFollowedAtOnce(t *testing.T) {
	e := newEnv(t, envOpts{probeInterval: time.Hour, probeTimeout: 2 * time.Second, snapshots: "{keep: 5}"})
	e.waitHealthy()
	v2sum := repomdSHA256(t, testrepo.DemoOrigin(t, "v2"))
	first, _, nextSum := e.syncNextSnapshot()
	repo, _ := e.cfg.Repo("demo")
	e.rollback(repo, first)
	waitFor(t, 15*time.Second, "the daemon to follow the rollback: held, both mirrors ok, the metalink naming the held revision", func() bool {
		st := e.status().Repos[0]
		ml := e.metalink()
		return st.Held != nil && st.Held.Snapshot == first && mirrorOf(st, "m1").State == "ok" && mirrorOf(st, "m2").State == "ok" &&
			strings.Contains(ml, v2sum) && !strings.Contains(ml, nextSum)
	})
	if _, err := e.engine().Resume(context.Background(), repo); err != nil {
		t.Fatalf("resume: %v", err)
	}
	waitFor(t, 30*time.Second, "the daemon to follow the resume: not held, the mirrors synced forward and listed", func() bool {
		st := e.status().Repos[0]
		return st.Held == nil && strings.Contains(e.metalink(), nextSum) && mirrorOf(st, "m1").State == "ok" && mirrorOf(st, "m2").State == "ok" &&
			repomdSHA256(t, filepath.Join(e.dir, "m1")) == nextSum
	})
}

// TestResumeBesideTheDaemonWithAStaleMirror: with a written mirror
// judged stale while the repo is held (it serves a newer revision than
// the held one), an rpmirror resume beside the daemon is still followed
// by the sync the hold kept back (a reviewer's: the stale mirror's
// judging noticed the lift first, and the probe that compared the hold
// before and after its own read asked for no sync, leaving the mirrors
// behind until the schedule).
func TestResumeBesideTheDaemonWithAStaleMirror(t *testing.T) {
	e := newEnv(t, envOpts{probeInterval: time.Hour, probeTimeout: 2 * time.Second, snapshots: "{keep: 5}"})
	e.waitHealthy()
	first, next, nextSum := e.syncNextSnapshot()
	// m2 (written) is seen serving the newest revision whatever rollback does: stale while held.
	e.net.serve("m2", next)
	repo, _ := e.cfg.Repo("demo")
	e.rollback(repo, first)
	waitFor(t, 15*time.Second, "held, m2 stale", func() bool {
		st := e.status().Repos[0]
		return st.Held != nil && mirrorOf(st, "m1").State == "ok" && mirrorOf(st, "m2").State == "stale"
	})
	if _, err := e.engine().Resume(context.Background(), repo); err != nil {
		t.Fatalf("resume: %v", err)
	}
	waitFor(t, 30*time.Second, "resume followed: m1 synced forward", func() bool {
		st := e.status().Repos[0]
		return st.Held == nil && repomdSHA256(t, filepath.Join(e.dir, "m1")) == nextSum
	})
}

// TestPublishWaitsForMetalinkClients: a metalink answered just before
// the daemon's sync verifies a new revision names only the previous
// repomd.xml, and its client fetches repomd.xml right after: the sync
// publishes no sooner than metalinkGrace (2 s) after that answer, so the
// client finds the repomd.xml its metalink names (a tester's dnf clients
// failed on every mirror, 12 in 950 runs, when the publish followed
// within 10 to 200 ms). With no metalink answered lately, nothing waits.
func TestPublishWaitsForMetalinkClients(t *testing.T) {
	e := newEnv(t, envOpts{probeInterval: time.Hour, probeTimeout: 2 * time.Second})
	e.waitHealthy()
	publish := func(name string, rev int64, fetchMetalink bool) (sinceMetalink, sinceTrigger time.Duration) {
		next := newRevision(t, testrepo.Pkg{Name: name, Version: "1", Release: "1", Sign: testrepo.TestKey(t)}, rev)
		sum := repomdSHA256(t, next)
		e.net.serve("origin", next)
		var answered time.Time
		if fetchMetalink {
			if strings.Contains(e.metalink(), sum) {
				t.Fatal("the metalink names the next revision before it is synced")
			}
			answered = time.Now()
		}
		triggered := time.Now()
		e.d.TriggerSync("demo")
		waitFor(t, 30*time.Second, "m1 to serve "+name+"'s revision", func() bool {
			return repomdSHA256(t, filepath.Join(e.dir, "m1")) == sum
		})
		return time.Since(answered), time.Since(triggered)
	}
	since, _ := publish("zz-grace", time.Now().Unix()+100, true)
	if since < 1500*time.Millisecond {
		t.Errorf("m1 served the new revision %s after a metalink naming the previous one was answered; want no sooner than about 2 s", since.Round(time.Millisecond))
	}
	time.Sleep(2 * time.Second) // no metalink answered since
	if _, took := publish("zz-nograce", time.Now().Unix()+200, false); took > 1500*time.Millisecond {
		t.Errorf("with no metalink answered lately, the publish took %s: it waited for no client", took.Round(time.Millisecond))
	}
}

// TestFilteredSyncBesideTheDaemon: an rpmirror sync beside the daemon
// publishes a filtered repository's next revision. The daemon's probes
// judge the mirrors against it at once (learnt from the state_dir): they
// stay listed throughout, and no alert says they went stale (a tester's
// went ok, stale, ok, alerting each time, the lists empty meanwhile).
func TestFilteredSyncBesideTheDaemon(t *testing.T) {
	e := newEnv(t, envOpts{probeInterval: time.Second, probeTimeout: time.Second, filter: "{exclude: [sample-data]}"})
	e.waitHealthy()
	key := testrepo.TestKey(t)
	next := newRevision(t, testrepo.Pkg{Name: "zz-beside", Version: "1", Release: "1", Sign: key}, time.Now().Unix()+100)
	e.net.serve("origin", next)
	repo, _ := e.cfg.Repo("demo")
	store, err := state.Open(e.cfg.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	var rep *sync.Report
	waitFor(t, 30*time.Second, "the sync beside the daemon to take the repo's lock", func() bool {
		rep = sync.New(sync.Options{Store: store, Fetcher: fetch.New(fetch.Options{})}).Sync(context.Background(), repo)
		if errors.Is(rep.Err, state.ErrLocked) {
			return false
		}
		if rep.Err != nil {
			t.Fatalf("sync beside the daemon: %v", rep.Err)
		}
		return true
	})
	if rep.NoChange {
		t.Skip("the daemon's own sync published the revision first: nothing beside it to learn")
	}
	deadline := time.Now().Add(4 * time.Second) // four probe rounds
	for time.Now().Before(deadline) {
		if l := e.mirrorlist(); len(l) != 2 {
			t.Fatalf("the lists name %v while the mirrors serve the revision synced beside the daemon", l)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if ev, found := e.hook.find(func(ev alert.Event) bool { return ev.Kind == "mirror" && (ev.Mirror == "m1" || ev.Mirror == "m2") }); found {
		t.Errorf("a mirror alert for a revision synced beside the daemon: %+v", ev)
	}
}
