package daemon_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// lastSuccess returns the value of rpmirror_sync_last_success_timestamp_seconds
// for repo in /metrics, and whether the series is there.
func (e *env) lastSuccess(repo string) (float64, bool) {
	e.t.Helper()
	_, m := e.get("/metrics")
	prefix := `rpmirror_sync_last_success_timestamp_seconds{repo="` + repo + `"} `
	for _, l := range strings.Split(m, "\n") {
		if v, ok := strings.CutPrefix(l, prefix); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				e.t.Fatalf("/metrics: %q: %v", l, err)
			}
			return f, true
		}
	}
	return 0, false
}

// TestLastSuccessAfterRestart: a daemon started on a state_dir where a
// sync succeeded exports rpmirror_sync_last_success_timestamp_seconds
// from that run at once, as /status.json shows last_success, with the
// origin down since; and a repo added by a reload does too. The series
// was absent until a sync succeeded, so with the origin down after a
// restart RpmirrorSyncStale never fired (a tester's finding).
func TestLastSuccessAfterRestart(t *testing.T) {
	e := newEnv(t, envOpts{probeInterval: time.Second, probeTimeout: 500 * time.Millisecond})
	e.waitHealthy()
	last := e.status().Repos[0].LastSuccess
	if last.IsZero() {
		t.Fatal("/status.json has no last_success after the first sync")
	}
	want := float64(last.Unix())
	if got, ok := e.lastSuccess("demo"); !ok || got != want {
		t.Fatalf("before the restart: last success %v (series there: %v), want %v", got, ok, want)
	}

	e.stop()
	e.net.setStatus("origin", http.StatusInternalServerError)
	e.start()
	for _, step := range []struct {
		name string
		do   func()
	}{
		{"right after the restart", func() {}},
		{"with the origin seen down and the start-up sync skipped", func() {
			waitFor(t, 15*time.Second, "the start-up sync to be skipped", func() bool {
				ls := e.status().Repos[0].LastSync
				return ls != nil && ls.Result == "skipped"
			})
		}},
		{"after a reload that removed the repo and one that added it back", func() {
			cfg := *e.cfg
			cfg.Repos = nil
			e.d.Reload(&cfg)
			if _, ok := e.lastSuccess("demo"); ok {
				t.Error("the series of a repo removed by a reload is still there")
			}
			e.d.Reload(e.cfg)
		}},
	} {
		step.do()
		if got, ok := e.lastSuccess("demo"); !ok || got != want {
			t.Errorf("%s: last success %v (series there: %v), want %v, the first sync's, as /status.json says %s", step.name, got, ok, want, e.status().Repos[0].LastSuccess)
		}
	}
}
