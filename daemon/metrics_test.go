package daemon

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rpmirror/rpmirror/health"
)

// gaugeVecMirrors is how the mirror series were kept before, a GaugeVec
// child per series: the reference the collector's output must match.
type gaugeVecMirrors struct {
	state, latency, lastProbe, lag *prometheus.GaugeVec
}

func newGaugeVecMirrors(reg prometheus.Registerer) *gaugeVecMirrors {
	g := &gaugeVecMirrors{
		state:     prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "rpmirror", Name: "mirror_state", Help: helpMirrorState}, []string{"repo", "mirror", "state"}),
		latency:   prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "rpmirror", Name: "mirror_probe_latency_seconds", Help: helpMirrorLatency}, []string{"repo", "mirror"}),
		lastProbe: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "rpmirror", Name: "mirror_last_probe_timestamp_seconds", Help: helpMirrorLastProbe}, []string{"repo", "mirror"}),
		lag:       prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "rpmirror", Name: "mirror_lag_seconds", Help: helpMirrorLag}, []string{"repo", "mirror"}),
	}
	reg.MustRegister(g.state, g.latency, g.lastProbe, g.lag)
	return g
}

func (g *gaugeVecMirrors) set(repo, mirror string, r health.Result, lag time.Duration, lagKnown bool) {
	if lagKnown {
		g.lag.WithLabelValues(repo, mirror).Set(lag.Seconds())
	} else {
		g.lag.DeleteLabelValues(repo, mirror)
	}
	for _, s := range states {
		v := 0.0
		if s == r.State {
			v = 1
		}
		g.state.WithLabelValues(repo, mirror, string(s)).Set(v)
	}
	g.latency.WithLabelValues(repo, mirror).Set(r.Latency.Seconds())
	if !r.Checked.IsZero() {
		g.lastProbe.WithLabelValues(repo, mirror).Set(float64(r.Checked.Unix()))
	}
}

func (g *gaugeVecMirrors) forget(repo string) {
	for _, v := range []*prometheus.GaugeVec{g.state, g.latency, g.lastProbe, g.lag} {
		v.DeletePartialMatch(prometheus.Labels{"repo": repo})
	}
}

func scrape(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

// TestMirrorMetrics: the per-mirror series made at scrape time from one
// record a mirror read exactly as the GaugeVecs they replace did, through
// probes, a lag that becomes unknown, a mirror never probed and a repo
// that leaves the configuration.
func TestMirrorMetrics(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	type step struct {
		repo, mirror string
		res          health.Result
		lag          time.Duration
		lagKnown     bool
		forget       bool
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"none", nil},
		{"probed", []step{
			{repo: "a", mirror: "m1", res: health.Result{State: health.OK, Latency: 12 * time.Millisecond, Checked: t0}, lagKnown: true},
			{repo: "a", mirror: "m2", res: health.Result{State: health.Behind, Latency: time.Second, Checked: t0}, lag: time.Hour, lagKnown: true},
			{repo: "b", mirror: "m1", res: health.Result{State: health.Down, Checked: t0}},
		}},
		{"never probed, then probed, lag lost", []step{
			{repo: "a", mirror: "m1", res: health.Result{State: health.Unknown}},
			{repo: "a", mirror: "m1", res: health.Result{State: health.Stale, Latency: time.Millisecond, Checked: t0}, lag: 3 * time.Hour, lagKnown: true},
			{repo: "a", mirror: "m1", res: health.Result{State: health.Down, Checked: t0.Add(time.Minute)}},
		}},
		{"a repo forgotten", []step{
			{repo: "a", mirror: "m1", res: health.Result{State: health.OK, Checked: t0}, lagKnown: true},
			{repo: "b", mirror: "m1", res: health.Result{State: health.OK, Checked: t0}, lagKnown: true},
			{repo: "a", forget: true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, want := prometheus.NewRegistry(), prometheus.NewRegistry()
			mm := newMirrorMetrics("rpmirror")
			got.MustRegister(mm)
			ref := newGaugeVecMirrors(want)
			for _, s := range tc.steps {
				if s.forget {
					mm.forget(s.repo)
					ref.forget(s.repo)
					continue
				}
				mm.set(s.repo, s.mirror, s.res, s.lag, s.lagKnown)
				ref.set(s.repo, s.mirror, s.res, s.lag, s.lagKnown)
			}
			if g, w := scrape(t, got), scrape(t, want); g != w {
				t.Errorf("/metrics:\n%s\nwant (as the GaugeVecs said):\n%s", g, w)
			}
		})
	}
}

// TestMirrorMetricsCompact: recording a mirror's probe keeps one small
// record, not a GaugeVec child (with its label pairs) for each of its
// eight series: 1,000 repos of 10 mirrors held 39 MB of series that way.
func TestMirrorMetricsCompact(t *testing.T) {
	res := health.Result{State: health.OK, Latency: time.Millisecond, Checked: time.Now()}
	newMirror := func(set func(repo, mirror string, r health.Result, lag time.Duration, lagKnown bool)) float64 {
		i := 0
		return testing.AllocsPerRun(200, func() {
			i++
			set(fmt.Sprintf("r%d", i/10), fmt.Sprintf("m%d", i%10), res, 0, true)
		})
	}
	allocs := newMirror(newMirrorMetrics("rpmirror").set)
	before := newMirror(newGaugeVecMirrors(prometheus.NewRegistry()).set)
	t.Logf("allocations to record a new mirror: %.0f (%.0f with GaugeVecs)", allocs, before)
	if allocs > 8 {
		t.Errorf("recording a new mirror takes %.0f allocations (%.0f with GaugeVecs), want at most 8", allocs, before)
	}
}
