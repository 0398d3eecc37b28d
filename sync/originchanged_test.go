package sync_test

import (
	"strings"
	"testing"

	"github.com/rpmirror/rpmirror/sync"
)

// TestOriginChangedAdvice: a filtered file verify --repair cannot write
// again because the origin moved says what publishes it: a sync when the
// origin moved on, but allow_rollback when it went back, which a sync
// refuses (an operator tester's was told to run a sync, which refused).
func TestOriginChangedAdvice(t *testing.T) {
	for _, tc := range []struct {
		name, origin string
		wentBack     bool
		want, not    string
	}{
		{"moved on", "200", false, "run a sync to publish the new revision", "allow_rollback"},
		{"went back", "50", true, "allow_rollback", "run a sync"},
		{"republished", "100", false, "run a sync to publish the new filtered revision", "allow_rollback"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &sync.OriginChangedError{Href: "repodata/p-primary.xml.zst", Revision: "100", OriginRevision: tc.origin, WentBack: tc.wentBack}
			if msg := e.Error(); !strings.Contains(msg, tc.want) || strings.Contains(msg, tc.not) {
				t.Errorf("%q: want %q, not %q", msg, tc.want, tc.not)
			}
		})
	}
}
