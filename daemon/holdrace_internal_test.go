package daemon

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/health"
	"github.com/rpmirror/rpmirror/server"
	"github.com/rpmirror/rpmirror/state"
)

// TestProbeJudgedAgainstAHoldSavedMeanwhile: rpmirror rollback, run
// beside the daemon, saves the hold and then brings the written mirrors
// back to the snapshot. A probe round that read the hold before that,
// and probes a mirror after, finds it serving a revision superseded long
// ago: judged against the hold read at the start of the round it was
// stale, recorded as needing a person and alerted. It is judged against
// the hold as it is now.
func TestProbeJudgedAgainstAHoldSavedMeanwhile(t *testing.T) {
	// A daemon that is not run: no sync or probe of its own meanwhile.
	d, r := bareRepo(t, slog.New(slog.DiscardHandler))
	long := time.Now().Add(-30 * 24 * time.Hour)
	r.setVerified(&state.Verified{Repo: "r0", Revisions: []state.Revision{
		{Revision: "2", SHA256: "cur", Repomd: []byte("<repomd/>"), VerifiedAt: long.Add(time.Hour)},
		{Revision: "1", SHA256: "old", Repomd: []byte("<repomd/>"), VerifiedAt: long, SupersededAt: long.Add(time.Hour)},
	}})
	m := published(t, d, r)
	served := health.Result{URL: "http://mirror.example/r0/", State: health.OK, Accepted: true, SHA256: "old", Revision: "1", Checked: time.Now()}

	// Without a hold, a written mirror serving a revision superseded
	// a month ago is stale.
	r.recordProbe(m, served)
	if got, _ := r.tracker.Get(m.Name); got.State != health.Stale {
		t.Fatalf("unheld: %s %q, want stale", got.State, got.Reason)
	}
	r.recordProbe(m, health.Result{URL: served.URL, State: health.OK, Accepted: true, SHA256: "cur", Revision: "2", Checked: time.Now()})
	fails := func() []server.FailureStatus {
		r.mu.Lock()
		defer r.mu.Unlock()
		return append([]server.FailureStatus(nil), r.failures...)
	}
	failures := len(fails())

	// The rollback saves the hold; the round that probes next read
	// none.
	if err := d.store.SaveHold(&state.Hold{Repo: "r0", Snapshot: "20261101T000000Z", Revision: "1", SHA256: "old", Repomd: []byte("<repomd/>"), By: "tester@ci", At: time.Now().UTC().Truncate(time.Second)}); err != nil {
		t.Fatal(err)
	}
	r.recordProbe(m, served)
	if got, _ := r.tracker.Get(m.Name); got.State != health.OK {
		t.Errorf("held at the revision it serves: %s %q, want ok", got.State, got.Reason)
	}
	if f := fails(); len(f) != failures {
		t.Errorf("the mirror brought back by the rollback was recorded as needing a person: %v", f[failures:])
	}
}

// TestRollbackElsewhereUnderWay: a hold learnt from another host's
// record, not done yet, is under way while another process holds the
// lease on one of the repository's mirrors in object storage (the
// rollback republishing it there), and not once no one does: this
// daemon no longer calls the written mirrors stale, at WARN, while the
// other host's rollback runs (a reviewer's finding).
func TestRollbackElsewhereUnderWay(t *testing.T) {
	_, r := bareRepo(t, slog.New(slog.DiscardHandler))
	hold := &state.Hold{Repo: "r0", Snapshot: "s", SHA256: "aa", At: time.Now()}
	if r.rollbackUnderWay(hold) {
		t.Error("under way with no lock and no lease held")
	}
	r.mu.Lock()
	r.leases = map[string]*server.LeaseStatus{"obj": {Held: true, Holder: "mirror-b"}}
	r.mu.Unlock()
	if !r.rollbackUnderWay(hold) {
		t.Error("not under way while another process holds the mirror's lease")
	}
	r.mu.Lock()
	r.leases["obj"] = &server.LeaseStatus{Held: true, Holder: "mirror-a", Mine: true}
	r.mu.Unlock()
	if r.rollbackUnderWay(hold) {
		t.Error("under way on this daemon's own lease")
	}
	done := *hold
	done.Done = time.Now()
	r.mu.Lock()
	r.leases["obj"] = &server.LeaseStatus{Held: true, Holder: "mirror-b"}
	r.mu.Unlock()
	if r.rollbackUnderWay(&done) {
		t.Error("a rollback that is done is under way")
	}
}

// TestJudgedFromWhatTheProbeChecked: a probe whose repomd.xml was not
// accepted (its revision not verified then) checked nothing past it: once
// the revision is verified it is judged unknown until the next probe,
// not ok (a reviewer's finding: listed with its packages and signature
// never checked). And a result older than the one recorded (judged again
// while a newer probe was recorded) does not replace it.
func TestJudgedFromWhatTheProbeChecked(t *testing.T) {
	d, r := bareRepo(t, slog.New(slog.DiscardHandler))
	r.setVerified(&state.Verified{Repo: "r0", Revisions: []state.Revision{{Revision: "2", SHA256: "cur", Repomd: []byte("<repomd/>"), VerifiedAt: time.Now()}}})
	m := published(t, d, r)
	now := time.Now()
	r.recordProbe(m, health.Result{URL: "http://mirror.example/r0/", State: health.Stale, SHA256: "cur", Revision: "2", Checked: now})
	if got, _ := r.tracker.Get(m.Name); got.State != health.Unknown {
		t.Errorf("a probe not accepted, of a revision verified since: %s %q, want unknown", got.State, got.Reason)
	}
	r.recordProbe(m, health.Result{URL: "http://mirror.example/r0/", State: health.OK, Accepted: true, SHA256: "cur", Revision: "2", Checked: now.Add(time.Second)})
	r.recordProbe(m, health.Result{URL: "http://mirror.example/r0/", State: health.Down, Reason: "older", Checked: now})
	if got, _ := r.tracker.Get(m.Name); got.State != health.OK {
		t.Errorf("an older result replaced a newer one: %s %q, want ok", got.State, got.Reason)
	}
}

// TestRenderDoesNotWaitForTheDaemonLock: a render whose lists changed
// only in their order reads probe_interval; it must not take the
// daemon's lock to do so. A reload holds that lock while it renders
// each repo, and waits for a render under way: the two waited on each
// other for good (a reviewer's finding).
func TestRenderDoesNotWaitForTheDaemonLock(t *testing.T) {
	d, r := bareRepo(t, slog.New(slog.DiscardHandler))
	r.renderViews(true)
	old := *r.views.Load()
	old.order = "another order"
	r.views.Store(&old)
	d.mu.Lock() // as a reload does
	done := make(chan struct{})
	go func() {
		r.renderViews(false)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Error("a render waited for the daemon's lock")
	}
	d.mu.Unlock()
	<-done
}

// TestListsNameWhatListedMirrorsServe: the lists are rendered at once
// when the revisions mirrors are judged against change (a hold read, a
// lift), a moment before the mirrors are judged again. A mirror judged ok
// against the revision before is listed then only with that revision
// named, as the metalink's alternate; one serving a revision the lists no
// longer know is not listed (a tester's dnf clients got a metalink naming
// only the held revision beside mirrors serving the one before, and
// failed).
func TestListsNameWhatListedMirrorsServe(t *testing.T) {
	d, r := listedRepo(t)
	m := published(t, d, r)
	before, beforeSum := repomd("2")
	held, heldSum := repomd("1")
	now := time.Now()
	r.setVerified(&state.Verified{Repo: "r0", Revisions: []state.Revision{{Revision: "2", SHA256: beforeSum, Repomd: before, VerifiedAt: now}}})
	r.recordProbe(m, health.Result{URL: m.URL, State: health.OK, Accepted: true, SHA256: beforeSum, Revision: "2", Checked: now})
	if got, _ := r.tracker.Get(m.Name); got.State != health.OK {
		t.Fatalf("the mirror serving the current revision: %s %q", got.State, got.Reason)
	}

	// A hold read, the lists rendered before the mirror is judged again.
	r.mu.Lock()
	r.hold = &state.Hold{Repo: "r0", Snapshot: "s", Revision: "1", SHA256: heldSum, Repomd: held, By: "me", At: now}
	r.verified = r.viewLocked(r.stored)
	r.mu.Unlock()
	r.renderViews(true)
	ml := string(r.views.Load().metalink)
	cur, alts, _ := strings.Cut(ml, "<mm0:alternates>")
	if !strings.Contains(ml, m.URL) || !strings.Contains(cur, heldSum) || !strings.Contains(alts, beforeSum) {
		t.Errorf("the lists rendered before the mirror was judged again against the hold: want it listed with the revision it serves, %s, as an alternate to the held %s:\n%s", beforeSum, heldSum, ml)
	}
	if _, _, cs := r.listed(r.config(), r.verified); len(cs) != 1 || !cs[0].behind {
		t.Errorf("the mirror routes' candidates: %+v, want the mirror, behind", cs)
	}

	// Revisions that do not hold the one it serves: not listed.
	r.mu.Lock()
	r.verified = &state.Verified{Repo: "r0", Revisions: []state.Revision{{Revision: "1", SHA256: heldSum, Repomd: held, VerifiedAt: now}}}
	r.mu.Unlock()
	r.renderViews(true)
	if ml := string(r.views.Load().metalink); strings.Contains(ml, m.URL) {
		t.Errorf("listed against revisions that do not hold the one it serves:\n%s", ml)
	}
	if _, _, cs := r.listed(r.config(), r.verified); len(cs) != 0 {
		t.Errorf("the mirror routes' candidates: %+v, want none", cs)
	}
}

// listedRepo is bareRepo with a mirror that has a URL (listed once
// judged ok or behind), the daemon not run.
func listedRepo(t *testing.T) (*Daemon, *repo) {
	t.Helper()
	dir := t.TempDir()
	yaml := fmt.Sprintf("state_dir: %s/state\nprobe_interval: 1h\nrepos:\n  - name: r0\n    origin: http://127.0.0.1:1/\n    mirrors:\n      - name: m\n        path: %s/m\n        url: http://mirror.example/r0/\n", dir, dir)
	p := filepath.Join(dir, "mirrors.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(cfg, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := d.repo("r0")
	return d, r
}

// repomd returns a repomd.xml of revision rev and its digest.
func repomd(rev string) ([]byte, string) {
	b := []byte(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<repomd xmlns="http://linux.duke.edu/metadata/repo"><revision>` + rev + `</revision></repomd>` + "\n")
	return b, sha256Hex(b)
}

// TestSecondRollbackListsWhatTheMirrorsServe: a rollback while the
// repository is held at another snapshot (or after a resume no sync has
// followed yet) moves mirrors that serve the revision held before, not
// the current verified one: while it is under way, they are behind and
// listed with that revision as the metalink's alternate (a reviewer's
// were judged unknown and nothing was listed). So is a mirror still
// serving an earlier verified revision than the current one (a sync that
// verified the current one failed to publish it).
func TestSecondRollbackListsWhatTheMirrorsServe(t *testing.T) {
	d, r := listedRepo(t)
	m := published(t, d, r)
	v2, v2Sum := repomd("2")
	v1, v1Sum := repomd("1")
	h1, h1Sum := repomd("held-1")
	h0, h0Sum := repomd("held-0")
	now := time.Now().UTC()
	r.setVerified(&state.Verified{Repo: "r0", Revisions: []state.Revision{
		{Revision: "2", SHA256: v2Sum, Repomd: v2, VerifiedAt: now},
		{Revision: "1", SHA256: v1Sum, Repomd: v1, VerifiedAt: now.Add(-time.Hour), SupersededAt: now.Add(-30 * time.Hour)},
	}})
	first := &state.Hold{Repo: "r0", Snapshot: "s1", Revision: "held-1", SHA256: h1Sum, Repomd: h1, By: "me", At: now.Add(-time.Hour), Done: now.Add(-time.Hour)}
	if err := d.store.SaveHold(first); err != nil {
		t.Fatal(err)
	}
	if !r.refreshHold() {
		t.Fatal("the first hold was not read")
	}
	r.recordProbe(m, health.Result{URL: m.URL, State: health.OK, Accepted: true, SHA256: h1Sum, Revision: "held-1", Checked: now})
	if got, _ := r.tracker.Get(m.Name); got.State != health.OK {
		t.Fatalf("the mirror serving the held revision: %s %q", got.State, got.Reason)
	}

	// The second rollback, under way: it holds the repository's lock.
	unlock, err := d.store.Lock(r.name)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	second := &state.Hold{Repo: "r0", Snapshot: "s0", Revision: "held-0", SHA256: h0Sum, Repomd: h0, By: "me", At: now}
	if err := d.store.SaveHold(second); err != nil {
		t.Fatal(err)
	}
	if !r.refreshHold() {
		t.Fatal("the second hold was not read")
	}
	for _, tc := range []struct {
		rev, sum string
	}{{"held-1", h1Sum}, {"2", v2Sum}, {"1", v1Sum}} {
		r.recordProbe(m, health.Result{URL: m.URL, State: health.OK, Accepted: true, SHA256: tc.sum, Revision: tc.rev, Checked: time.Now()})
		if got, _ := r.tracker.Get(m.Name); got.State != health.Behind {
			t.Errorf("a mirror serving revision %s while the second rollback moves it: %s %q, want behind", tc.rev, got.State, got.Reason)
			continue
		}
		r.renderViews(true)
		ml := string(r.views.Load().metalink)
		cur, alts, _ := strings.Cut(ml, "<mm0:alternates>")
		if !strings.Contains(ml, m.URL) || !strings.Contains(cur, h0Sum) || !strings.Contains(alts, tc.sum) {
			t.Errorf("the lists while the second rollback moves a mirror serving revision %s: want it listed, the revision an alternate to the held one:\n%s", tc.rev, ml)
		}
	}
	// The rollback died: the revision held before, superseded by this
	// hold, within max_lag; revision 1, superseded 30 hours ago, not.
	unlock()
	r.recordProbe(m, health.Result{URL: m.URL, State: health.OK, Accepted: true, SHA256: h1Sum, Revision: "held-1", Checked: time.Now()})
	if got, _ := r.tracker.Get(m.Name); got.State != health.Behind || !strings.Contains(got.Reason, "stopped before it was done") {
		t.Errorf("a mirror serving the revision held before, the second rollback dead: %s %q, want behind", got.State, got.Reason)
	}
	r.recordProbe(m, health.Result{URL: m.URL, State: health.OK, Accepted: true, SHA256: v1Sum, Revision: "1", Checked: time.Now()})
	if got, _ := r.tracker.Get(m.Name); got.State != health.Stale {
		t.Errorf("a mirror serving a revision superseded more than max_lag ago, the second rollback dead: %s %q, want stale", got.State, got.Reason)
	}
}
