package daemon

import (
	"errors"
	"fmt"
	"testing"

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
