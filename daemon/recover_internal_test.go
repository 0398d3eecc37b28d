package daemon

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/health"
)

// TestOriginBackWithNewRevisionAsksOnce: an origin that comes back from
// down serving a new revision asks for one sync, not one for each (an
// operator's walkthrough saw two syncs back to back, each retrying the
// same bad package); one back with the revision it had asks for one too.
func TestOriginBackWithNewRevisionAsksOnce(t *testing.T) {
	for _, c := range []struct {
		name     string
		previous []byte // the origin's repomd.xml before it went down
		why      string
	}{
		{"new revision", []byte("<repomd>an older revision</repomd>"), "new revision at the origin"},
		{"same revision", nil, "origin recovered"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var log bytes.Buffer
			_, r := bareRepo(t, slog.New(slog.NewTextHandler(&log, nil)))
			r.probeOrigin(context.Background()) // up: learns what it serves
			if c.previous != nil {
				r.noteOrigin(c.previous)
			}
			r.setOrigin(health.Result{URL: "origin", State: health.Down, Checked: time.Now(), Reason: "403"})
			for len(r.trigger) > 0 {
				<-r.trigger
			}
			log.Reset()
			r.probeOrigin(context.Background()) // back
			select {
			case why := <-r.trigger:
				if why != c.why {
					t.Errorf("sync asked for %q, want %q", why, c.why)
				}
			default:
				t.Fatalf("no sync asked for when the origin came back:\n%s", log.String())
			}
			if strings.Contains(log.String(), "folded") {
				t.Errorf("a second sync was asked for:\n%s", log.String())
			}
		})
	}
}
