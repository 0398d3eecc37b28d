package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	gosync "sync"
	"syscall"
	"testing"
	"time"
)

// TestServeDeliversQueuedAlertsOnSIGTERM: rpmirror serve stopped with
// SIGTERM while alerts wait behind a slow webhook delivers them before it
// exits (within its bounded wait, docs/operations.md): every state change
// it logged reaches the webhook. It used to exit with the queue, losing
// all but the alert being delivered.
func TestServeDeliversQueuedAlertsOnSIGTERM(t *testing.T) {
	dir := t.TempDir()
	var (
		mu       gosync.Mutex
		received int
		first    = make(chan struct{})
	)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		received++
		if received == 1 {
			close(first)
		}
		mu.Unlock()
		time.Sleep(200 * time.Millisecond) // a slow webhook: the rest queue up
	}))
	defer hook.Close()
	// Each repo's origin is down: an alert each, all at once at start.
	const repos = 10
	dead := freeAddr(t) // nobody listens there
	cfg := fmt.Sprintf("listen: %s\nstate_dir: %s/state\nprobe_interval: 1h\nalerts:\n  webhook: %s\ndownload:\n  retries: 0\nrepos:\n", freeAddr(t), dir, hook.URL)
	for i := range repos {
		cfg += fmt.Sprintf("  - name: r%d\n    origin: http://%s/r%d/\n    mirrors:\n      - name: m\n        path: %s/m%d\n", i, dead, i, dir, i)
	}
	path := filepath.Join(dir, "mirrors.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := child("serve", "-c", path)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-first:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("no alert reached the webhook:\n%s", out.String())
	}
	// Every repo's origin probe has reported before stopping: the
	// alerts queue behind the slow webhook.
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(out.String(), `msg="state change"`) < repos {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("not every origin was alerted on:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("rpmirror serve exited with %v after SIGTERM:\n%s", err, out.String())
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("rpmirror serve did not stop:\n%s", out.String())
	}
	logged := strings.Count(out.String(), `msg="state change"`)
	mu.Lock()
	got := received
	mu.Unlock()
	if logged < repos || got != logged {
		t.Errorf("the webhook received %d alerts of the %d rpmirror serve sent before exiting:\n%s", got, logged, out.String())
	}
}
