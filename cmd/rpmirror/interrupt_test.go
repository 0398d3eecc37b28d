package main

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/state"
)

// TestInterruptedSync sends SIGINT (what Ctrl-C sends) to a running
// `rpmirror sync` once it has fetched a few packages. It must say
// "interrupted", not report packages as failed with "context canceled",
// exit 130, and record the run as interrupted, not as a failure, so that
// `rpmirror status` says so too.
func TestInterruptedSync(t *testing.T) {
	const n = 24
	pkgs := testrepo.ManyPackages(n, nil)
	f := newFixture(t, pkgs, 2)
	cmd := child("sync", "-c", f.cfg)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	served := 0
	f.mu.Lock()
	f.delay = 100 * time.Millisecond // 24 packages, 2 at a time: over a second in all
	f.onGet = func(string) {
		f.mu.Lock()
		served++
		now := served == 2
		f.mu.Unlock()
		if now {
			cmd.Process.Signal(syscall.SIGINT)
		}
	}
	f.mu.Unlock()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	f.mu.Lock()
	f.onGet, f.delay = nil, 0
	f.mu.Unlock()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("sync interrupted by SIGINT: %v, want exit 130\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String() + stderr.String()
	if !strings.Contains(stderr.String(), "rpmirror: interrupted\n") || !strings.Contains(stdout.String(), "interrupted after") {
		t.Errorf("the output does not say the sync was interrupted:\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	}
	for _, bad := range []string{"context canceled", "FAILED"} {
		if strings.Contains(out, bad) {
			t.Errorf("the output says %q:\n%s", bad, out)
		}
	}
	// Nor a line of its own for any package in flight.
	if m := regexp.MustCompile(`package \S+\.rpm`).FindString(out); m != "" {
		t.Errorf("the output says %q:\n%s", m, out)
	}

	// The state records an interrupted run, with no error.
	st, err := state.OpenExisting(filepath.Join(f.dir, "state")).Load("test")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Runs) != 1 || !st.Runs[0].Cancelled || st.Runs[0].Error != "" {
		t.Fatalf("state records %+v, want one run, cancelled, without an error", st.Runs)
	}
	for name, m := range st.Runs[0].Mirrors {
		if m.Error != "" {
			t.Errorf("mirror %s recorded with the error %q", name, m.Error)
		}
	}
	code, sout, serr := rpmirror(t, "status", "-c", f.cfg)
	if code != 0 || !strings.Contains(sout, "interrupted") || strings.Contains(sout, "FAILED") {
		t.Errorf("status after the interrupted sync: exit %d\n%s%s", code, sout, serr)
	}
	f.checkConsistent(t, "after the interruption")
}
