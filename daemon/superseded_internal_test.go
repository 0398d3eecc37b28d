package daemon

import (
	"testing"
	"time"

	"github.com/robfig/cron/v3"

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

	// Just after rpmirror resume, the revision the hold was at, older
	// than the others, is kept second in the list until the lift's sync:
	// it superseded nothing.
	resumed := &state.Verified{Revisions: []state.Revision{
		{SHA256: "c", Revision: "300", VerifiedAt: now.Add(-10 * time.Second)},
		{SHA256: "h", Revision: "50", VerifiedAt: now.Add(-time.Hour), SupersededAt: now.Add(-10 * time.Minute)},
		{SHA256: "b", Revision: "200", VerifiedAt: now.Add(-time.Minute), SupersededAt: now.Add(-10 * time.Second)},
	}}
	r = &repo{cfg: config.Repo{MaxLag: 2 * time.Minute}, verified: resumed}
	res := r.judge(partner, health.Result{SHA256: "b", State: health.OK, Accepted: true}, now)
	if want := "serves verified revision 200, superseded by 300 10s ago (max_lag 2m0s)"; res.Reason != want {
		t.Errorf("after resume, serving 200: %q, want %q", res.Reason, want)
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

// TestRetryWait: a failed sync is tried again after probe_interval,
// doubled at each failure in a row, at most an hour, plus up to a tenth;
// not at all when the schedule comes first (a daily repository failing
// for good retried every hour); and a success forgets the failures.
func TestRetryWait(t *testing.T) {
	for _, tc := range []struct {
		probe time.Duration
		n     int
		want  time.Duration
	}{
		{time.Second, 1, time.Second},
		{time.Second, 2, 2 * time.Second},
		{time.Second, 5, 16 * time.Second},
		{time.Minute, 7, time.Hour}, // 64 minutes, capped
		{time.Minute, 40, time.Hour},
		{0, 1, time.Second}, // never a busy loop
	} {
		if got := retryDelay(tc.probe, tc.n); got != tc.want {
			t.Errorf("retryDelay(%v, %d) = %v, want %v", tc.probe, tc.n, got, tc.want)
		}
	}
	d := &Daemon{}
	d.interval.Store(int64(time.Second))
	r := &repo{d: d, sched: cron.ConstantDelaySchedule{Delay: time.Minute}}
	end := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	for n := 1; n <= 6; n++ { // 1, 2, 4, 8, 16, 32 s: before the schedule's minute
		r.noteRetryLocked(false, end)
		if wait := r.retryAt.Sub(end); wait < retryDelay(time.Second, n) || wait > retryDelay(time.Second, n)*11/10 {
			t.Errorf("after %d failures: retry in %v, want %v plus at most a tenth", n, wait, retryDelay(time.Second, n))
		}
	}
	r.noteRetryLocked(false, end) // 64 s: the schedule's minute comes first
	if !r.retryAt.IsZero() || r.retries != 7 {
		t.Errorf("after 7 failures: retry at %v (%d failures), want none: the schedule runs first", r.retryAt, r.retries)
	}
	r.noteRetryLocked(true, end)
	if !r.retryAt.IsZero() || r.retries != 0 {
		t.Errorf("after a success: retry at %v, %d failures; want none, 0", r.retryAt, r.retries)
	}
}

// TestFallbackOriginServesTheRepomd: with no mirror listed, the lists and
// /r/ fall back to the first upstream up serving the repomd.xml they
// describe (the last sync's), before an earlier one up serving another
// (a revision the sync skipped: rolled back, or badly signed, which
// probes do not judge); with none serving it, the first up; with none
// up, the primary (a reviewer's).
func TestFallbackOriginServesTheRepomd(t *testing.T) {
	rc := config.Repo{Origin: "http://p.example/", Origins: []string{"http://p.example/", "http://a.example/", "http://b.example/"}}
	repomd := []byte("<repomd>b</repomd>")
	for _, tc := range []struct {
		name string
		ups  []health.Result
		want string
	}{
		{"serving it", []health.Result{
			{URL: "http://p.example/", State: health.Down},
			{URL: "http://a.example/", State: health.OK, SHA256: "older"},
			{URL: "http://b.example/", State: health.OK, SHA256: sha256Hex(repomd)},
		}, "http://b.example/"},
		{"none serving it", []health.Result{
			{URL: "http://p.example/", State: health.Down},
			{URL: "http://a.example/", State: health.OK, SHA256: "older"},
			{URL: "http://b.example/", State: health.OK, SHA256: "other"},
		}, "http://a.example/"},
		{"none up", []health.Result{
			{URL: "http://p.example/", State: health.Down},
			{URL: "http://a.example/", State: health.Down},
		}, "http://p.example/"},
	} {
		r := &repo{upstreams: tc.ups, originRepomd: repomd}
		if got := r.fallbackOrigin(rc); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}
