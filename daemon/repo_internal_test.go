package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/health"
	"github.com/rpmirror/rpmirror/state"
	"github.com/rpmirror/rpmirror/sync"
)

// TestFailureReason: the reason label of rpmirror_sync_failures_total for
// the errors a sync refuses an origin's revision with, wrapped as the
// engine wraps them.
func TestFailureReason(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"a rollback refused", &sync.RollbackError{Origin: "o", Revision: "1", CurrentRevision: "2"}, "rollback"},
		{"a bad repomd.xml.asc", fmt.Errorf("checking: %w", &sync.RepomdSignatureError{Origin: "o", Err: errors.New("bad")}), "verify"},
		{"a repomd.xml.key not of repo_gpgkeys", fmt.Errorf("checking: %w", &sync.RepoKeyMismatchError{Origin: "o"}), "verify"},
		{"the lock taken", fmt.Errorf("demo: %w", state.ErrLocked), "locked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := failureReason(&sync.Report{Err: tt.err}); got != tt.want {
				t.Errorf("failureReason(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}

// TestKeepHeld: once a hold is lifted, its revision stays an earlier
// verified revision, superseded then, when the verified revisions no
// longer hold it (a snapshot older than all of them); the current
// revision stays current, and nothing is added twice.
func TestKeepHeld(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	v := &state.Verified{Repo: "demo"}
	v.Add(state.Revision{Revision: "2", SHA256: "n"}, t0, 24*time.Hour)
	v.Add(state.Revision{Revision: "3", SHA256: "m"}, t0.Add(time.Hour), 24*time.Hour)
	lifted := t0.Add(2 * time.Hour)
	old := &state.Hold{Repo: "demo", Revision: "1", SHA256: "o", Repomd: []byte("<repomd/>"), Signature: []byte("sig")}
	got := keepHeld(v, old, lifted)
	if got == v || len(v.Revisions) != 2 {
		t.Fatalf("keepHeld changed its argument or returned it: %+v", v.Revisions)
	}
	if cur := got.Current(); cur.SHA256 != "m" {
		t.Errorf("current %s, want m", cur.SHA256)
	}
	i := got.Find("o")
	if i != 1 || !got.Revisions[i].SupersededAt.Equal(lifted) || string(got.Revisions[i].Signature) != "sig" || string(got.Revisions[i].Repomd) != "<repomd/>" {
		t.Errorf("the held revision at %d: %+v; want it second, superseded at the lift, with its repomd.xml and signature", i, got.Revisions[max(i, 0)])
	}
	if again := keepHeld(got, old, lifted); again != got {
		t.Error("keepHeld added the held revision twice")
	}
	// A held revision the verified ones hold, superseded before the
	// lift: superseded at the lift in the result, not added again.
	held := &state.Hold{Repo: "demo", Revision: "2", SHA256: "n"}
	kept := keepHeld(v, held, lifted)
	if len(kept.Revisions) != 2 || kept.Find("n") != 1 || !kept.Revisions[1].SupersededAt.Equal(lifted) || v.Revisions[1].SupersededAt.Equal(lifted) {
		t.Errorf("keepHeld of a held revision the verified ones hold: %+v (from %+v); want it once, superseded at the lift, its argument unchanged", kept.Revisions, v.Revisions)
	}
	if again := keepHeld(kept, held, lifted); again != kept {
		t.Error("keepHeld changed a held revision already superseded at the lift")
	}
}

// TestLiftedHoldKeptThroughItsSync: once a hold on a snapshot older than
// every verified revision is lifted, a written mirror still serving it
// is behind, not stale, also after the sync the lift asks for reports
// its verified revisions (which do not hold the snapshot's): a reviewer
// found the kept revision dropped by that report, before the sync
// published anything.
func TestLiftedHoldKeptThroughItsSync(t *testing.T) {
	for _, tc := range []struct {
		name string
		// heldStored: the held revision is among the stored verified
		// ones, superseded two days ago (more than max_lag): a tester's
		// mirrors were stale for a moment after each resume.
		heldStored bool
	}{{"the held revision older than every stored one", false}, {"the held revision stored, superseded long ago", true}} {
		t.Run(tc.name, func(t *testing.T) {
			d, r := bareRepo(t, slog.New(slog.DiscardHandler))
			now := time.Now().UTC()
			cur := state.Revision{Revision: "2", SHA256: "cur", Repomd: []byte("<repomd/>"), VerifiedAt: now.Add(-time.Hour)}
			stored := []state.Revision{cur}
			if tc.heldStored {
				stored = append(stored, state.Revision{Revision: "1", SHA256: "held", Repomd: []byte("<repomd/>"), VerifiedAt: now.Add(-72 * time.Hour), SupersededAt: now.Add(-48 * time.Hour)})
			}
			r.setVerified(&state.Verified{Repo: "r0", Revisions: stored})
			m := published(t, d, r)
			if err := d.store.SaveHold(&state.Hold{Repo: "r0", Snapshot: "20260101T000000Z", Revision: "1", SHA256: "held", Repomd: []byte("<repomd/>"), By: "tester@ci", At: now.Add(-time.Minute), Done: now.Add(-time.Minute)}); err != nil {
				t.Fatal(err)
			}
			if !r.refreshHold() {
				t.Fatal("the hold was not read")
			}
			if err := d.store.RemoveHold("r0"); err != nil {
				t.Fatal(err)
			}
			if !r.refreshHold() {
				t.Fatal("the lift was not read")
			}
			served := health.Result{URL: "http://mirror.example/r0/", State: health.OK, Accepted: true, SHA256: "held", Revision: "1", Checked: time.Now()}
			judged := func(when string) {
				t.Helper()
				r.recordProbe(m, served)
				if got, _ := r.tracker.Get(m.Name); got.State != health.Behind {
					t.Errorf("%s: a written mirror serving the snapshot that was held is %s (%s), want behind", when, got.State, got.Reason)
				}
			}
			judged("lifted")
			// The lift's sync verifies the origin's next revision and
			// reports the state_dir's revisions, which never held the
			// snapshot's, or held it superseded long ago.
			next := []state.Revision{
				{Revision: "3", SHA256: "next", Repomd: []byte("<repomd/>"), VerifiedAt: now},
				{Revision: "2", SHA256: "cur", Repomd: []byte("<repomd/>"), VerifiedAt: cur.VerifiedAt, SupersededAt: now},
			}
			if tc.heldStored {
				next = append(next, stored[1])
			}
			r.setVerified(&state.Verified{Repo: "r0", Revisions: next})
			judged("after the lift's sync reported its verified revisions")
		})
	}
}

// TestBusyForAnHourFails: a daemon sync that finds the repository's lock
// held by another process is busy, not failed; the same an hour on (a
// command hung, another program holding the lock file) is a failure
// again, recorded for a person; and a daemon sync of its own in between
// starts the count afresh.
func TestBusyForAnHourFails(t *testing.T) {
	_, r := bareRepo(t, slog.New(slog.DiscardHandler))
	t0 := time.Now().Add(-2 * time.Hour)
	locked := func(at time.Time) *sync.Report {
		return &sync.Report{Repo: "r0", Start: at, Err: fmt.Errorf("r0: %w", state.ErrLocked)}
	}
	last := func() string {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.lastSync.Result
	}
	for _, step := range []struct {
		name string
		rep  *sync.Report
		want string
	}{
		{"the lock taken", locked(t0), "busy"},
		{"still taken 59 minutes on", locked(t0.Add(59 * time.Minute)), "busy"},
		{"still taken an hour and a minute on", locked(t0.Add(61 * time.Minute)), "failed"},
		{"a sync of its own", &sync.Report{Repo: "r0", Start: t0.Add(62 * time.Minute), NoChange: true}, "no change"},
		{"the lock taken again", locked(t0.Add(63 * time.Minute)), "busy"},
	} {
		r.recordSync(context.Background(), step.rep)
		if got := last(); got != step.want {
			t.Errorf("%s: last sync %q, want %q", step.name, got, step.want)
		}
		if !r.busy.Load() && step.want != "no change" {
			t.Errorf("%s: no sync asked for once the lock is free", step.name)
		}
	}
}

// TestFollowingKeepsWrittenMirrorsBehind: while another rpmirror process
// is at work on the repository (a sync by hand, whose verified revision
// the daemon took before it publishes), a written mirror serving the
// revision before is behind, listed, even with max_lag 0s (a reviewer's
// finding: it was stale, unlisted and alerted for the whole sync); once
// the process is done, it is judged by max_lag again.
func TestFollowingKeepsWrittenMirrorsBehind(t *testing.T) {
	d, r := bareRepo(t, slog.New(slog.DiscardHandler))
	rc := r.config()
	rc.MaxLag = 0
	r.setConfig(rc)
	now := time.Now().UTC()
	r.setVerified(&state.Verified{Repo: "r0", Revisions: []state.Revision{
		{Revision: "2", SHA256: "cur", Repomd: []byte("<repomd/>"), VerifiedAt: now},
		{Revision: "1", SHA256: "old", Repomd: []byte("<repomd/>"), VerifiedAt: now.Add(-time.Hour), SupersededAt: now},
	}})
	m := published(t, d, r)
	served := health.Result{URL: "http://mirror.example/r0/", State: health.OK, Accepted: true, SHA256: "old", Revision: "1", Checked: time.Now()}
	for _, step := range []struct {
		name      string
		following bool
		want      health.State
	}{
		{"another process at work", true, health.Behind},
		{"done", false, health.Stale},
	} {
		r.followingSince.Store(time.Now().UnixNano())
		r.following.Store(step.following)
		r.recordProbe(m, served)
		if got, _ := r.tracker.Get(m.Name); got.State != step.want {
			t.Errorf("%s: %s (%s), want %s", step.name, got.State, got.Reason, step.want)
		}
	}
}
