package daemon

import (
	"errors"
	"fmt"
	"testing"
	"time"

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
	held := &state.Hold{Repo: "demo", Revision: "2", SHA256: "n"}
	if same := keepHeld(v, held, lifted); same != v {
		t.Error("keepHeld added a revision the verified ones hold")
	}
}
