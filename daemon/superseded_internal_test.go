package daemon

import (
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/health"
	"github.com/rpmirror/rpmirror/state"
)

// TestSupersededByTheNextRevision: a mirror serving an earlier verified
// revision is told which revision superseded it, and when: the one right
// after it, not the current one (an operator tester's partner, two
// revisions behind, read "superseded by" the revision verified seconds
// before, "5m0s ago", the time its own successor came).
func TestSupersededByTheNextRevision(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	v := &state.Verified{Revisions: []state.Revision{
		{SHA256: "c", Revision: "300"},
		{SHA256: "b", Revision: "200", SupersededAt: now.Add(-10 * time.Second)},
		{SHA256: "a", Revision: "100", SupersededAt: now.Add(-5 * time.Minute)},
	}}
	r := &repo{cfg: config.Repo{MaxLag: 2 * time.Minute}, verified: v}
	partner := config.Mirror{Name: "partner", URL: "http://partner.example/el9/"}
	for _, tc := range []struct {
		sum   string
		state health.State
		want  string
	}{
		{"b", health.Behind, "serves verified revision 200, superseded by 300 10s ago (max_lag 2m0s)"},
		{"a", health.Stale, "serves verified revision 100, superseded by 200 (now 300) 5m0s ago: more than max_lag 2m0s"},
	} {
		res := r.judge(partner, health.Result{SHA256: tc.sum, State: health.OK, Accepted: true}, now)
		if res.State != tc.state || res.Reason != tc.want {
			t.Errorf("serving %s: %s %q, want %s %q", tc.sum, res.State, res.Reason, tc.state, tc.want)
		}
	}
}

// TestHeldStaleProbeOnly: while the repository is held, a probe-only
// mirror serving another revision is told what lists it again, not that
// rpmirror rollback (which never writes it) brings it back (an operator
// tester's).
func TestHeldStaleProbeOnly(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	hold := &state.Hold{Snapshot: "20261128T110000Z", Revision: "100", By: "ops"}
	v := &state.Verified{Revisions: []state.Revision{
		{SHA256: "a", Revision: "100"},
		{SHA256: "c", Revision: "300", SupersededAt: now.Add(-time.Minute)},
	}}
	r := &repo{cfg: config.Repo{MaxLag: time.Hour}, verified: v, hold: hold}
	partner := config.Mirror{Name: "partner", URL: "http://partner.example/el9/"}
	res := r.judge(partner, health.Result{SHA256: "c", Revision: "300", State: health.OK, Accepted: true}, now)
	want := "serves revision 300, not revision 100 the repository is held at (snapshot 20261128T110000Z, by ops): listed again once it serves that revision, or, after rpmirror resume, the current one"
	if res.State != health.Stale || res.Reason != want {
		t.Errorf("%s %q, want stale %q", res.State, res.Reason, want)
	}
}
