package daemon_test

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/daemon"
)

// TestNextSyncIsTheScheduledRun: next_sync in /status.json is when the
// scheduler will run the sync. For "@every 1h" that is an hour after the
// daemon started, the same on every read (it used to be an hour from the
// moment of the request, moving on with the clock); for a cron spec it is
// the spec's next match.
func TestNextSyncIsTheScheduledRun(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	yaml := fmt.Sprintf(`state_dir: %[1]s/state
repos:
  - name: every
    origin: http://%[2]s/every/
    schedule: "@every 1h"
    mirrors:
      - name: m
        path: %[1]s/every
  - name: cron
    origin: http://%[2]s/cron/
    schedule: "17 3 * * *"
    mirrors:
      - name: m
        path: %[1]s/cron
`, dir, dead)
	cfg := loadConfig(t, dir, yaml)
	_, e := runDaemon(t, cfg, daemon.Options{ShutdownTimeout: 5 * time.Second})
	next := func() (every, cron time.Time) {
		for _, r := range e.status().Repos {
			switch r.Name {
			case "every":
				every = r.NextSync
			case "cron":
				cron = r.NextSync
			}
		}
		return
	}
	e1, c1 := next()
	// Schedule.Next(now) for "@every 1h" is now+1h in whole seconds: a
	// read more than a second later would see it move.
	time.Sleep(1100 * time.Millisecond)
	e2, c2 := next()
	if e1.IsZero() || !e1.Equal(e2) {
		t.Errorf("next_sync of \"@every 1h\" moved from %s to %s between two reads", e1, e2)
	}
	if c1.Hour() != 3 || c1.Minute() != 17 || c1.Second() != 0 || !c1.Equal(c2) || !c1.After(time.Now()) {
		t.Errorf("next_sync of \"17 3 * * *\" is %s then %s, want the next 03:17 UTC", c1, c2)
	}
}
