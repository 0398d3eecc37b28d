package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/state"
	"github.com/rpmirror/rpmirror/target"
)

// TestSyncBusyExitCode: a repository whose lock another process holds is
// left to it: reported BUSY, and the run exits 75 (EX_TEMPFAIL) when
// nothing else failed, so that a cron job beside the daemon can tell it
// from a failure; 1 when another repository failed. rollback, resume
// and verify --repair meeting the lock exit 75 too, naming the repo.
func TestSyncBusyExitCode(t *testing.T) {
	f := newFixture(t, testrepo.DemoPackages(nil), 2)
	cfg, err := os.ReadFile(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	head, repo, _ := strings.Cut(string(cfg), "repos:\n")
	other := strings.NewReplacer("name: test", "name: other", f.mirrors[0], f.mirrors[0]+"-other", f.mirrors[1], f.mirrors[1]+"-other").Replace(repo)
	if err := os.WriteFile(f.cfg, []byte(head+"repos:\n"+repo+other), 0o644); err != nil {
		t.Fatal(err)
	}
	store, err := state.Open(filepath.Join(f.dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := store.Lock("test")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	busyLine := fmt.Sprintf("test  BUSY: repository is being synced by another rpmirror process (pid %d); nothing was changed", os.Getpid())

	code, out, errOut := rpmirror(t, "sync", "-c", f.cfg)
	if code != exitBusy || !strings.Contains(out, busyLine) || !strings.Contains(out, "other  revision") || strings.Contains(out, "FAILED") ||
		!strings.Contains(errOut, "rpmirror: test: BUSY, not failed: repository is being synced") {
		t.Errorf("sync with test's lock held elsewhere: exit %d, want %d, test reported BUSY and other synced\n%s%s", code, exitBusy, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(f.mirrors[0], "repodata", "repomd.xml")); err == nil {
		t.Errorf("the busy repository's mirror %s was written", f.mirrors[0])
	}

	// Another repository that fails (here: skipped, its origin
	// refusing) makes it a failure.
	f.mu.Lock()
	f.status = 403
	f.mu.Unlock()
	code, out, errOut = rpmirror(t, "sync", "-c", f.cfg, "--repo", "test", "--repo", "other")
	if code != exitFailed || !strings.Contains(out, busyLine) || !strings.Contains(out, "other  SKIPPED") {
		t.Errorf("sync with test busy and other failing: exit %d, want %d\n%s%s", code, exitFailed, out, errOut)
	}

	code, out, errOut = rpmirror(t, "rollback", "-c", f.cfg, "--repo", "test", "--to", "20261125T120000Z")
	if code != exitBusy || !strings.Contains(errOut, "rpmirror: test: repository is being synced by another rpmirror process") || !strings.Contains(errOut, "nothing was changed") {
		t.Errorf("rollback with the lock held elsewhere: exit %d, want %d naming the repo\n%s%s", code, exitBusy, out, errOut)
	}
	// resume says whether the repository is held, as the state_dir has
	// it: a sync holding the lock of a repository not held is no hold.
	code, out, errOut = rpmirror(t, "resume", "-c", f.cfg, "--repo", "test")
	if code != exitBusy || !strings.Contains(errOut, "rpmirror: test: repository is being synced by another rpmirror process") || !strings.Contains(errOut, "the repository is not held now") {
		t.Errorf("resume of a repo not held with the lock held elsewhere: exit %d, want %d naming the repo, not held\n%s%s", code, exitBusy, out, errOut)
	}
	if err := store.SaveHold(&state.Hold{Repo: "test", Snapshot: "20261125T120000Z", SHA256: "aa", By: "me@here", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = rpmirror(t, "resume", "-c", f.cfg, "--repo", "test")
	if code != exitBusy || !strings.Contains(errOut, "the repository is still held; run resume again") {
		t.Errorf("resume of a held repo with the lock held elsewhere: exit %d, want %d, still held\n%s%s", code, exitBusy, out, errOut)
	}
	code, out, errOut = rpmirror(t, "verify", "-c", f.cfg, "--repo", "test", "--repair")
	if code != exitBusy || !strings.Contains(out, "test: BUSY, not repaired: repository is being synced") {
		t.Errorf("verify --repair with the lock held elsewhere: exit %d, want %d\n%s%s", code, exitBusy, out, errOut)
	}
}

// TestIsBusy: an error is busy when it says another process holds the
// repository or a mirror, however wrapped; joined errors only when each
// is (a lock on one mirror does not hide another's failure).
func TestIsBusy(t *testing.T) {
	other := errors.New("mirror m2: disk full")
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"the repository's lock", fmt.Errorf("%w (pid 1)", state.ErrLocked), true},
		{"a mirror's lease", fmt.Errorf("mirror m1: %w", target.ErrLocked), true},
		{"wrapped twice", fmt.Errorf("test: %w", fmt.Errorf("mirror m1: %w", target.ErrLocked)), true},
		{"another failure", other, false},
		{"joined, all busy", errors.Join(fmt.Errorf("m1: %w", target.ErrLocked), fmt.Errorf("m2: %w", target.ErrLocked)), true},
		{"joined with a failure", fmt.Errorf("test: %w", errors.Join(fmt.Errorf("m1: %w", target.ErrLocked), other)), false},
	} {
		if got := isBusy(tc.err); got != tc.want {
			t.Errorf("%s: isBusy(%v) = %t, want %t", tc.name, tc.err, got, tc.want)
		}
	}
}
