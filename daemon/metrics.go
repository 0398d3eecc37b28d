package daemon

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rpmirror/rpmirror/health"
	"github.com/rpmirror/rpmirror/target"
)

// metrics are the daemon's Prometheus metrics, all under rpmirror_.
type metrics struct {
	syncRuns        *prometheus.CounterVec
	syncDuration    *prometheus.HistogramVec
	syncLastSuccess *prometheus.GaugeVec
	syncBytes       *prometheus.CounterVec
	syncPackages    *prometheus.CounterVec
	syncFailures    *prometheus.CounterVec
	syncRunning     *prometheus.GaugeVec
	mirrorState     *prometheus.GaugeVec
	mirrorLatency   *prometheus.GaugeVec
	mirrorLastProbe *prometheus.GaugeVec
	mirrorLag       *prometheus.GaugeVec
	originRefused   *prometheus.GaugeVec
	originUp        *prometheus.GaugeVec
	upstreamUp      *prometheus.GaugeVec
	listed          *prometheus.GaugeVec
	held            *prometheus.GaugeVec
	leaseHeld       *prometheus.GaugeVec
	leaseMine       *prometheus.GaugeVec
	alertsDropped   prometheus.CounterFunc
}

var states = []health.State{health.OK, health.Behind, health.Stale, health.Down, health.Unknown}

func newMetrics(reg prometheus.Registerer, alertStats func() (sent, failed, dropped int64)) *metrics {
	const ns = "rpmirror"
	m := &metrics{
		syncRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "sync_runs_total",
			Help: "Syncs run, by result: ok (published or already current), failed, skipped (origin down), held (rolled back: rpmirror resume lets syncs run), standby (another rpmirror holds the lease on a mirror in object storage).",
		}, []string{"repo", "result"}),
		syncDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Name: "sync_duration_seconds",
			Help:    "How long syncs took.",
			Buckets: []float64{0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600},
		}, []string{"repo"}),
		syncLastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Name: "sync_last_success_timestamp_seconds",
			Help: "When the last successful sync of the repo ended (Unix time).",
		}, []string{"repo"}),
		syncBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "sync_fetched_bytes_total",
			Help: "Bytes downloaded from the origin by syncs, metadata included.",
		}, []string{"repo"}),
		syncPackages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "sync_fetched_packages_total",
			Help: "Packages downloaded and verified by syncs.",
		}, []string{"repo"}),
		syncFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "sync_failures_total",
			Help: "Failed syncs by reason: origin (the origin failed or sent bad metadata), verify (a package or the repomd.xml signature failed a check), rollback (the origin went back to an older revision), publish (writing a mirror failed), locked (another process holds the repo), cancelled, other.",
		}, []string{"repo", "reason"}),
		syncRunning: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Name: "sync_running",
			Help: "1 while a sync of the repo runs.",
		}, []string{"repo"}),
		mirrorState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Name: "mirror_state",
			Help: "1 for the state of each mirror as the last probe saw it (ok: serves the current verified revision; behind: an earlier one, within max_lag; stale; down; unknown), 0 for the others.",
		}, []string{"repo", "mirror", "state"}),
		mirrorLatency: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Name: "mirror_probe_latency_seconds",
			Help: "Time the last probe took to fetch the mirror's repodata/repomd.xml.",
		}, []string{"repo", "mirror"}),
		mirrorLastProbe: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Name: "mirror_last_probe_timestamp_seconds",
			Help: "When the mirror was last probed (Unix time).",
		}, []string{"repo", "mirror"}),
		mirrorLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Name: "mirror_lag_seconds",
			Help: "How long ago the verified revision the mirror serves was superseded (0: it serves the current one); absent when it serves no verified revision.",
		}, []string{"repo", "mirror"}),
		originRefused: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Name: "origin_revision_refused",
			Help: "1 while the revision the origin serves failed verification: mirrors keep the current verified revision, and the origin is never listed.",
		}, []string{"repo"}),
		originUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Name: "origin_up",
			Help: "1 when the last probe of the repo's origin found at least one upstream usable.",
		}, []string{"repo"}),
		upstreamUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Name: "upstream_up",
			Help: "1 when the last probe of this upstream of the repo's origin found it usable (origin_up is 1 when any is).",
		}, []string{"repo", "upstream"}),
		listed: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Name: "mirrorlist_mirrors",
			Help: "Mirrors in the repo's mirrorlist and metalink (0: clients are sent to the origin).",
		}, []string{"repo"}),
		held: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Name: "repo_held",
			Help: "1 while the repo is held at a snapshot by rpmirror rollback: no sync moves it forward until rpmirror resume, and mirrors are judged against the held revision.",
		}, []string{"repo"}),
	}
	m.alertsDropped = prometheus.NewCounterFunc(prometheus.CounterOpts{
		Namespace: ns, Name: "alerts_dropped_total",
		Help: "Alerts dropped because the webhook queue was full.",
	}, func() float64 { _, _, d := alertStats(); return float64(d) })
	m.leaseHeld = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: ns, Name: "lease_held",
		Help: "1 for the holder of the lease on a mirror in object storage while it holds it (holder: its lease_holder, HOST/PID by default); no series while nobody does.",
	}, []string{"repo", "mirror", "holder"})
	m.leaseMine = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: ns, Name: "lease_mine",
		Help: "1 while this rpmirror holds the lease on a mirror in object storage (it is the one writing it), else 0.",
	}, []string{"repo", "mirror"})
	reg.MustRegister(m.leaseHeld, m.leaseMine)
	reg.MustRegister(m.syncRuns, m.syncDuration, m.syncLastSuccess, m.syncBytes, m.syncPackages,
		m.syncFailures, m.syncRunning, m.mirrorState, m.mirrorLatency, m.mirrorLastProbe, m.mirrorLag, m.originRefused, m.originUp, m.upstreamUp, m.listed, m.held, m.alertsDropped,
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: ns, Name: "alerts_failed_total", Help: "Alerts given up on after every retry."},
			func() float64 { _, f, _ := alertStats(); return float64(f) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: ns, Name: "alerts_sent_total", Help: "Alerts delivered to the webhook."},
			func() float64 { s, _, _ := alertStats(); return float64(s) }),
	)
	return m
}

func (m *metrics) setMirror(repo, mirror string, r health.Result, lag time.Duration, lagKnown bool) {
	if lagKnown {
		m.mirrorLag.WithLabelValues(repo, mirror).Set(lag.Seconds())
	} else {
		m.mirrorLag.DeleteLabelValues(repo, mirror)
	}
	for _, s := range states {
		v := 0.0
		if s == r.State {
			v = 1
		}
		m.mirrorState.WithLabelValues(repo, mirror, string(s)).Set(v)
	}
	m.mirrorLatency.WithLabelValues(repo, mirror).Set(r.Latency.Seconds())
	if !r.Checked.IsZero() {
		m.mirrorLastProbe.WithLabelValues(repo, mirror).Set(float64(r.Checked.Unix()))
	}
}

// setLease shows who holds the lease on a mirror.
func (m *metrics) setLease(repo, mirror string, l target.Lease, mine bool) {
	m.leaseHeld.DeletePartialMatch(prometheus.Labels{"repo": repo, "mirror": mirror})
	if l.Held {
		m.leaseHeld.WithLabelValues(repo, mirror, l.Holder).Set(1)
	}
	v := 0.0
	if mine {
		v = 1
	}
	m.leaseMine.WithLabelValues(repo, mirror).Set(v)
}

// forget drops the series of a repo that left the configuration.
func (m *metrics) forget(repo string) {
	l := prometheus.Labels{"repo": repo}
	for _, v := range []*prometheus.GaugeVec{m.leaseHeld, m.leaseMine, m.syncLastSuccess, m.syncRunning, m.mirrorState, m.mirrorLatency, m.mirrorLastProbe, m.mirrorLag, m.originRefused, m.originUp, m.upstreamUp, m.listed, m.held} {
		v.DeletePartialMatch(l)
	}
}
