package daemon

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/sync"
)

// TestReloadSyncsNewWrittenMirror: SIGHUP with a written mirror added to
// a repo (or moved elsewhere) asks for a sync of the repo at once, as for
// a repo added; the daemon used to leave the new mirror empty until the
// repo's next scheduled sync (hours away, perhaps), probing it down and
// alerting meanwhile. Other changes wait for the next sync, as
// docs/operations.md says.
func TestReloadSyncsNewWrittenMirror(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, m []config.Mirror) []config.Mirror
		want   bool
	}{
		{"a written mirror added", func(t *testing.T, m []config.Mirror) []config.Mirror {
			return append(m, config.Mirror{Name: "new", Path: filepath.Join(t.TempDir(), "new"), Priority: 100, Weight: 100})
		}, true},
		{"a mirror's path changed", func(t *testing.T, m []config.Mirror) []config.Mirror {
			m[0].Path = filepath.Join(t.TempDir(), "moved")
			return m
		}, true},
		{"a probe-only mirror added", func(t *testing.T, m []config.Mirror) []config.Mirror {
			return append(m, config.Mirror{Name: "partner", URL: "http://127.0.0.1:1/", Priority: 100, Weight: 100})
		}, false},
		{"a priority changed", func(t *testing.T, m []config.Mirror) []config.Mirror {
			m[0].Priority = 50
			return m
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			started := make(chan struct{}, 1)
			release := make(chan struct{})
			d := startBare(t, 1, "@every 1h", func(ctx context.Context, _ sync.Options, rc *config.Repo) *sync.Report {
				select {
				case started <- struct{}{}:
					<-release // the start-up sync waits for the test
				default:
				}
				return &sync.Report{Repo: rc.Name, Start: time.Now()}
			})
			defer close(release)
			<-started
			// The worker is busy with the start-up sync: a sync
			// requested now waits in the trigger.
			r, _ := d.repo("r0")
			if len(r.trigger) != 0 {
				t.Fatalf("a sync was pending before the reload: %q", <-r.trigger)
			}
			cfg, _, _ := d.tools()
			next := *cfg
			next.Repos = slices.Clone(cfg.Repos)
			next.Repos[0].Mirrors = tc.change(t, slices.Clone(cfg.Repos[0].Mirrors))
			d.Reload(&next)
			if got := len(r.trigger) == 1; got != tc.want {
				t.Errorf("sync requested by the reload: %v, want %v", got, tc.want)
			}
		})
	}
}
