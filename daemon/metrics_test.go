package daemon

import (
	"fmt"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rpmirror/rpmirror/alert"
	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/health"
	"github.com/rpmirror/rpmirror/server"
	"github.com/rpmirror/rpmirror/target"
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
	g.latency.WithLabelValues(repo, mirror).Set(probeLatency(r))
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

// TestMirrorMetricsSetDuringScrape: a probe records its result while a
// scrape is sending the mirror series (the registry takes them one by
// one, for 80,000 series a second or more on a busy machine): the scrape
// holds no lock a probe waits for.
func TestMirrorMetricsSetDuringScrape(t *testing.T) {
	mm := newMirrorMetrics("rpmirror")
	res := health.Result{State: health.OK, Latency: time.Millisecond, Checked: time.Now()}
	for i := range 20 {
		mm.set(fmt.Sprintf("r%d", i), "m0", res, 0, true)
	}
	ch := make(chan prometheus.Metric) // unbuffered: Collect waits for each receive
	collected := make(chan struct{})
	go func() {
		mm.Collect(ch)
		close(collected)
	}()
	<-ch // the scrape has started, and waits for the next receive
	set := make(chan struct{})
	go func() {
		mm.set("r0", "m1", res, 0, true)
		close(set)
	}()
	select {
	case <-set:
	case <-time.After(30 * time.Second): // a deadlock guard, not a measure
		t.Error("recording a probe waited for the scrape to end")
	}
	for {
		select {
		case <-ch:
		case <-collected:
			return
		}
	}
}

// TestUpstreamSeries: each probe of a repo's origin leaves one
// upstream_up series per upstream it probed: an upstream gone from the
// configuration loses its series, the others (and other repos') keep
// theirs with their new values.
func TestUpstreamSeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	d := &Daemon{metrics: newMetrics(reg, func() (int64, int64, int64) { return 0, 0, 0 })}
	d.alerts = alert.New(alert.Options{})
	a := &repo{d: d, name: "a", log: slog.New(slog.DiscardHandler)}
	b := &repo{d: d, name: "b", log: slog.New(slog.DiscardHandler)}
	up := func(url string, s health.State) health.Result { return health.Result{URL: url, State: s} }
	b.setUpstreams([]health.Result{up("http://u1/", health.OK)})
	for _, step := range []struct {
		ups  []health.Result
		want []string
	}{
		{[]health.Result{up("http://u1/", health.OK), up("http://u2/", health.Down)},
			[]string{`rpmirror_upstream_up{repo="a",upstream="http://u1/"} 1`, `rpmirror_upstream_up{repo="a",upstream="http://u2/"} 0`}},
		{[]health.Result{up("http://u2/", health.Down)},
			[]string{`rpmirror_upstream_up{repo="a",upstream="http://u2/"} 0`}},
		{[]health.Result{up("http://u2/", health.OK), up("http://u3/", health.OK)},
			[]string{`rpmirror_upstream_up{repo="a",upstream="http://u2/"} 1`, `rpmirror_upstream_up{repo="a",upstream="http://u3/"} 1`}},
		{nil, nil},
	} {
		a.setUpstreams(step.ups)
		var got []string
		for _, l := range strings.Split(scrape(t, reg), "\n") {
			if strings.HasPrefix(l, "rpmirror_upstream_up{") {
				got = append(got, l)
			}
		}
		want := append(step.want, `rpmirror_upstream_up{repo="b",upstream="http://u1/"} 1`)
		if !slices.Equal(got, want) {
			t.Errorf("after %v:\n%s\nwant\n%s", step.ups, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

// TestLatencyOfAStalledMirror: a mirror whose last probe got no complete
// answer has a latency of NaN, not 0, which made a stalled mirror look
// the fastest on a dashboard (a failover test with dnf); one that
// answered has its latency.
func TestLatencyOfAStalledMirror(t *testing.T) {
	reg := prometheus.NewRegistry()
	mm := newMirrorMetrics("rpmirror")
	reg.MustRegister(mm)
	mm.set("r", "stalled", health.Result{State: health.Down, Reason: "GET repodata/repomd.xml: timeout after 3s", Checked: time.Now()}, 0, false)
	mm.set("r", "fast", health.Result{State: health.OK, Latency: 5 * time.Millisecond, Checked: time.Now()}, 0, true)
	out := scrape(t, reg)
	for _, want := range []string{
		`rpmirror_mirror_probe_latency_seconds{mirror="stalled",repo="r"} NaN`,
		`rpmirror_mirror_probe_latency_seconds{mirror="fast",repo="r"} 0.005`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, out)
		}
	}
}

// TestForgetMirrorsOnReload: a reload that changes a repo's mirrors
// drops the series of each mirror it removes, whichever family holds
// them (the mirror records collected at scrape time, the wrong-size
// counters, the lease gauges), those of a mirror's probes when it loses
// its url, and those of its lease when it leaves object storage; the
// other mirrors' and repos' series stay. A mirror removed from
// mirrors.yaml used to stay in /metrics, down, for ever.
func TestForgetMirrorsOnReload(t *testing.T) {
	s3 := &config.S3{Bucket: "b"}
	before := config.Repo{Name: "a", Mirrors: []config.Mirror{
		{Name: "gone", URL: "http://gone/", S3: s3},
		{Name: "kept", URL: "http://kept/", S3: s3},
	}}
	for _, tc := range []struct {
		name  string
		after []config.Mirror
		want  []string // repo/mirror/family of every mirror series left
	}{
		{"unchanged", before.Mirrors, []string{
			"a/gone/lease", "a/gone/probe", "a/gone/wrong_size",
			"a/kept/lease", "a/kept/probe", "a/kept/wrong_size",
			"b/gone/lease", "b/gone/probe", "b/gone/wrong_size",
		}},
		{"a mirror removed", before.Mirrors[1:], []string{
			"a/kept/lease", "a/kept/probe", "a/kept/wrong_size",
			"b/gone/lease", "b/gone/probe", "b/gone/wrong_size",
		}},
		{"a mirror's url removed", []config.Mirror{{Name: "gone", S3: s3}, before.Mirrors[1]}, []string{
			"a/gone/lease",
			"a/kept/lease", "a/kept/probe", "a/kept/wrong_size",
			"b/gone/lease", "b/gone/probe", "b/gone/wrong_size",
		}},
		{"a mirror's url changed", []config.Mirror{{Name: "gone", URL: "http://elsewhere/", S3: s3}, before.Mirrors[1]}, []string{
			"a/gone/lease",
			"a/kept/lease", "a/kept/probe", "a/kept/wrong_size",
			"b/gone/lease", "b/gone/probe", "b/gone/wrong_size",
		}},
		{"a mirror moved out of object storage", []config.Mirror{{Name: "gone", URL: "http://gone/", Path: "/srv/gone"}, before.Mirrors[1]}, []string{
			"a/gone/probe", "a/gone/wrong_size",
			"a/kept/lease", "a/kept/probe", "a/kept/wrong_size",
			"b/gone/lease", "b/gone/probe", "b/gone/wrong_size",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			d := &Daemon{metrics: newMetrics(reg, func() (int64, int64, int64) { return 0, 0, 0 })}
			r := &repo{d: d, name: "a", cfg: before, tracker: health.NewTracker(), leases: map[string]*server.LeaseStatus{}}
			for _, rm := range []struct{ repo, mirror string }{{"a", "gone"}, {"a", "kept"}, {"b", "gone"}} {
				res := health.Result{State: health.Down, Checked: time.Now()}
				d.metrics.setMirror(rm.repo, rm.mirror, res, 0, true)
				d.metrics.wrongSize.WithLabelValues(rm.repo, rm.mirror).Inc()
				d.metrics.wrongMetaSize.WithLabelValues(rm.repo, rm.mirror).Inc()
				d.metrics.setLease(rm.repo, rm.mirror, target.Lease{Held: true, Holder: "h"}, false)
				if rm.repo == "a" {
					r.tracker.Update(rm.mirror, res)
					r.leases[rm.mirror] = &server.LeaseStatus{Held: true}
				}
			}
			next := before
			next.Mirrors = tc.after
			r.mu.Lock()
			r.cfg = next
			r.forgetMirrorsLocked(before, next)
			r.mu.Unlock()

			mfs, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			family := map[string]string{
				"rpmirror_mirror_state": "probe", "rpmirror_mirror_probe_latency_seconds": "probe",
				"rpmirror_mirror_last_probe_timestamp_seconds": "probe", "rpmirror_mirror_lag_seconds": "probe",
				"rpmirror_mirror_package_wrong_size_total": "wrong_size", "rpmirror_mirror_metadata_wrong_size_total": "wrong_size",
				"rpmirror_lease_held": "lease", "rpmirror_lease_mine": "lease",
			}
			var got []string
			for _, mf := range mfs {
				for _, m := range mf.GetMetric() {
					var repo, mirror string
					for _, lp := range m.GetLabel() {
						switch lp.GetName() {
						case "repo":
							repo = lp.GetValue()
						case "mirror":
							mirror = lp.GetValue()
						}
					}
					if mirror == "" {
						continue
					}
					f, ok := family[mf.GetName()]
					if !ok {
						t.Fatalf("%s has a mirror label: add it to the test, and to what a reload forgets", mf.GetName())
					}
					if s := repo + "/" + mirror + "/" + f; !slices.Contains(got, s) {
						got = append(got, s)
					}
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("mirror series left:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			_, probed := r.tracker.Get("gone")
			_, leased := r.leases["gone"]
			wantProbed, wantLeased := slices.Contains(tc.want, "a/gone/probe"), slices.Contains(tc.want, "a/gone/lease")
			if probed != wantProbed || leased != wantLeased {
				t.Errorf("gone's last probe kept: %v, want %v; its lease kept: %v, want %v", probed, wantProbed, leased, wantLeased)
			}
		})
	}
}
