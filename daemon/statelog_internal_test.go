package daemon

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/health"
)

// TestMirrorStateLogLevel: a mirror that goes down or stale is logged at
// WARN, as the alerts' state changes are, and one that recovers at INFO
// (an operator's walkthrough found a mirror going down at INFO only, lost
// to a log kept at WARN).
func TestMirrorStateLogLevel(t *testing.T) {
	var log bytes.Buffer
	d, r := bareRepo(t, slog.New(slog.NewJSONHandler(&log, nil)))
	m := published(t, d, r)
	for _, c := range []struct {
		state health.State
		level string
	}{
		{health.Down, "WARN"},
		{health.OK, "INFO"},
		{health.Down, "WARN"},
	} {
		log.Reset()
		r.recordProbe(m, health.Result{URL: "http://mirror.example/r0/", State: c.state, Reason: "GET repodata/repomd.xml: 403 Forbidden", Checked: time.Now()})
		found := false
		for line := range bytes.Lines(log.Bytes()) {
			var rec struct{ Level, Msg, To string }
			if json.Unmarshal(line, &rec) == nil && rec.Msg == "mirror state" {
				found = true
				if rec.Level != c.level || rec.To != string(c.state) {
					t.Errorf("mirror state to %s logged at %s (to %q), want %s", c.state, rec.Level, rec.To, c.level)
				}
			}
		}
		if !found {
			t.Errorf("no \"mirror state\" line for a change to %s:\n%s", c.state, log.String())
		}
	}
}
