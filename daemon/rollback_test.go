package daemon_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/alert"
	"github.com/rpmirror/rpmirror/internal/testrepo"
)

// TestRollbackAlert: the mirrors serve demo revision v2 (prune_after 0s);
// the origin goes back to v1. The sync refuses it, the webhook hears a
// "rollback" alert naming both revisions, the metrics count a rollback,
// and the mirrors keep v2 with the package only v2 has.
func TestRollbackAlert(t *testing.T) {
	e := newEnv(t, envOpts{probeInterval: time.Second, probeTimeout: 500 * time.Millisecond})
	e.waitHealthy()
	before, _ := os.ReadFile(filepath.Join(e.dir, "m1", "repodata", "repomd.xml"))

	e.net.serve("origin", testrepo.DemoOrigin(t, "v1"))
	ev := alert.Event{}
	waitFor(t, 20*time.Second, "the webhook to hear of the rollback", func() bool {
		var ok bool
		ev, ok = e.hook.find(func(a alert.Event) bool { return a.Kind == "rollback" })
		return ok
	})
	if ev.From != "1795624324" || ev.To != "1795537924" || !strings.Contains(ev.Reason, "rollback refused") {
		t.Errorf("rollback alert %+v: want from v2's revision to v1's, saying rollback refused", ev)
	}
	if _, m := e.get("/metrics"); !strings.Contains(m, `rpmirror_sync_failures_total{reason="rollback",repo="demo"}`) {
		t.Error("the rollback is not in rpmirror_sync_failures_total")
	}
	if after, _ := os.ReadFile(filepath.Join(e.dir, "m1", "repodata", "repomd.xml")); string(after) != string(before) {
		t.Error("the refused rollback changed the mirror")
	}
	if _, err := os.Stat(filepath.Join(e.dir, "m1", "Packages", "s", "status-agent-0.1-1.noarch.rpm")); err != nil {
		t.Errorf("v2's package was deleted: %v", err)
	}
}
