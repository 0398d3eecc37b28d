package daemon

import (
	"math"
	gosync "sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/rpmirror/rpmirror/health"
	"github.com/rpmirror/rpmirror/target"
)

// metrics are the daemon's Prometheus metrics, all under rpmirror_.
type metrics struct {
	reloadOK        prometheus.Gauge
	reloadAt        prometheus.Gauge
	syncRuns        *prometheus.CounterVec
	syncDuration    *prometheus.HistogramVec
	syncLastSuccess *prometheus.GaugeVec
	syncBytes       *prometheus.CounterVec
	syncPackages    *prometheus.CounterVec
	syncFailures    *prometheus.CounterVec
	syncRunning     *prometheus.GaugeVec
	mirrors         *mirrorMetrics
	originRefused   *prometheus.GaugeVec
	originUp        *prometheus.GaugeVec
	upstreamUp      *prometheus.GaugeVec
	listed          *prometheus.GaugeVec
	held            *prometheus.GaugeVec
	wrongSize       *prometheus.CounterVec
	wrongMetaSize   *prometheus.CounterVec
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
			Help: "Syncs run, by result: ok (published or already current), failed, skipped (origin down), held (rolled back: rpmirror resume lets syncs run), standby (another rpmirror holds the lease on a mirror in object storage), busy (another rpmirror process on this host held the repository's lock: run once it is done), interrupted (cancelled when the daemon stopped).",
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
		mirrors: newMirrorMetrics(ns),
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
		wrongSize: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "mirror_package_wrong_size_total",
			Help: "Probes that found the mirror serving the package checked at a size other than the verified revision's metadata gives (truncated or replaced): the mirror is down meanwhile; no series for a mirror never found so.",
		}, []string{"repo", "mirror"}),
		wrongMetaSize: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "mirror_metadata_wrong_size_total",
			Help: "Probes that found the mirror serving the metadata file checked (one its repomd.xml lists) at a size other than the repomd.xml gives (truncated or replaced): the mirror is down meanwhile; no series for a mirror never found so.",
		}, []string{"repo", "mirror"}),
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
	m.reloadOK = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: ns, Name: "config_last_reload_successful",
		Help: "1 when the configuration in use is the file's as last read (at start or at the last SIGHUP), 0 when the last SIGHUP found the file broken and the daemon kept the running configuration.",
	})
	m.reloadOK.Set(1)
	m.reloadAt = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: ns, Name: "config_last_reload_success_timestamp_seconds",
		Help: "When the configuration in use was read from the file (Unix time).",
	})
	m.reloadAt.SetToCurrentTime()
	reg.MustRegister(m.leaseHeld, m.leaseMine, m.reloadOK, m.reloadAt)
	reg.MustRegister(m.syncRuns, m.syncDuration, m.syncLastSuccess, m.syncBytes, m.syncPackages,
		m.syncFailures, m.syncRunning, m.mirrors, m.originRefused, m.originUp, m.upstreamUp, m.listed, m.held, m.wrongSize, m.wrongMetaSize, m.alertsDropped,
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: ns, Name: "alerts_failed_total", Help: "Alerts given up on after every retry."},
			func() float64 { _, f, _ := alertStats(); return float64(f) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: ns, Name: "alerts_sent_total", Help: "Alerts delivered to the webhook."},
			func() float64 { s, _, _ := alertStats(); return float64(s) }),
	)
	return m
}

func (m *metrics) setMirror(repo, mirror string, r health.Result, lag time.Duration, lagKnown bool) {
	m.mirrors.set(repo, mirror, r, lag, lagKnown)
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

// forgetMirror drops every series of a mirror that left the repo's
// configuration: RpmirrorMirrorDown kept firing for a mirror removed
// from mirrors.yaml, whose last state stayed in /metrics.
func (m *metrics) forgetMirror(repo, mirror string) {
	m.forgetProbes(repo, mirror)
	m.forgetLease(repo, mirror)
}

// forgetProbes drops the series of a mirror's probes (state, latency,
// last probe, lag, wrong sizes): for a mirror removed, or no longer
// probed (its url removed).
func (m *metrics) forgetProbes(repo, mirror string) {
	m.mirrors.forgetMirror(repo, mirror)
	m.wrongSize.DeleteLabelValues(repo, mirror)
	m.wrongMetaSize.DeleteLabelValues(repo, mirror)
}

// forgetLease drops the series of the lease on a mirror: for a mirror
// removed, or no longer in object storage.
func (m *metrics) forgetLease(repo, mirror string) {
	m.leaseHeld.DeletePartialMatch(prometheus.Labels{"repo": repo, "mirror": mirror})
	m.leaseMine.DeleteLabelValues(repo, mirror)
}

// forget drops the series of a repo that left the configuration.
func (m *metrics) forget(repo string) {
	l := prometheus.Labels{"repo": repo}
	for _, v := range []*prometheus.GaugeVec{m.leaseHeld, m.leaseMine, m.syncLastSuccess, m.syncRunning, m.originRefused, m.originUp, m.upstreamUp, m.listed, m.held} {
		v.DeletePartialMatch(l)
	}
	m.wrongSize.DeletePartialMatch(l)
	m.wrongMetaSize.DeletePartialMatch(l)
	m.mirrors.forget(repo)
}

// mirrorMetrics are the series of every mirror of every repo (state,
// probe latency, last probe, lag): four families, eight series a mirror,
// 80,000 for 1,000 repos of 10 mirrors. Held as a GaugeVec child each,
// they took 39 MB; here a mirror is one small record of what its last
// probe found (1.8 MB for all), and the series are made from the
// records when /metrics is scraped. The output is the same as the
// GaugeVecs': the same names, help, labels and values.
type mirrorMetrics struct {
	state, latency, lastProbe, lag *prometheus.Desc

	mu    gosync.Mutex
	repos map[string]map[string]*mirrorRecord // repo -> mirror -> record
	// repoPairs and mirrorPairs hold one label pair per repo and per
	// mirror name, shared by the records (mirror names repeat across
	// repos: m0 ... m9).
	repoPairs, mirrorPairs map[string]*dto.LabelPair
}

// mirrorRecord is what a mirror's series say.
type mirrorRecord struct {
	labels    []*dto.LabelPair // mirror, repo: sorted by name, as the registry wants them
	state     health.State
	latency   float64
	lastProbe float64 // 0: never probed, no series
	lag       float64
	lagKnown  bool
}

// The help of the mirror series.
const (
	helpMirrorState     = "1 for the state of each mirror as the last probe saw it (ok: serves the current verified revision; behind: an earlier one, within max_lag; stale; down; unknown), 0 for the others."
	helpMirrorLatency   = "Time the last probe took to fetch the mirror's repodata/repomd.xml; NaN when it got no complete answer (a timeout, a refused connection)."
	helpMirrorLastProbe = "When the mirror was last probed (Unix time)."
	helpMirrorLag       = "How long ago the verified revision the mirror serves was superseded (0: it serves the current one); absent when it serves no verified revision."
)

func newMirrorMetrics(ns string) *mirrorMetrics {
	labels := []string{"repo", "mirror"}
	return &mirrorMetrics{
		state:     prometheus.NewDesc(ns+"_mirror_state", helpMirrorState, []string{"repo", "mirror", "state"}, nil),
		latency:   prometheus.NewDesc(ns+"_mirror_probe_latency_seconds", helpMirrorLatency, labels, nil),
		lastProbe: prometheus.NewDesc(ns+"_mirror_last_probe_timestamp_seconds", helpMirrorLastProbe, labels, nil),
		lag:       prometheus.NewDesc(ns+"_mirror_lag_seconds", helpMirrorLag, labels, nil),
		repos:     map[string]map[string]*mirrorRecord{},
		repoPairs: map[string]*dto.LabelPair{}, mirrorPairs: map[string]*dto.LabelPair{},
	}
}

// set records the last probe of a mirror.
func (mm *mirrorMetrics) set(repo, mirror string, r health.Result, lag time.Duration, lagKnown bool) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	ms := mm.repos[repo]
	if ms == nil {
		ms = map[string]*mirrorRecord{}
		mm.repos[repo] = ms
	}
	rec := ms[mirror]
	if rec == nil {
		rec = &mirrorRecord{labels: []*dto.LabelPair{interned(mm.mirrorPairs, "mirror", mirror), interned(mm.repoPairs, "repo", repo)}}
		ms[mirror] = rec
	}
	rec.state, rec.latency = r.State, probeLatency(r)
	rec.lag, rec.lagKnown = lag.Seconds(), lagKnown
	if !r.Checked.IsZero() {
		rec.lastProbe = float64(r.Checked.Unix())
	}
}

// forget drops the series of a repo.
func (mm *mirrorMetrics) forget(repo string) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	delete(mm.repos, repo)
	delete(mm.repoPairs, repo)
}

// forgetMirror drops the series of one mirror of a repo.
func (mm *mirrorMetrics) forgetMirror(repo, mirror string) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	delete(mm.repos[repo], mirror)
	// The mirror's label pair stays in mirrorPairs: another repo's
	// mirror of the same name may share it, and names are few.
}

// interned returns the label pair name=value kept in pairs (by value),
// adding it the first time.
func interned(pairs map[string]*dto.LabelPair, name, value string) *dto.LabelPair {
	lp := pairs[value]
	if lp == nil {
		lp = labelPair(name, value)
		pairs[value] = lp
	}
	return lp
}

// Describe implements prometheus.Collector.
func (mm *mirrorMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- mm.state
	ch <- mm.latency
	ch <- mm.lastProbe
	ch <- mm.lag
}

// stateLabels are the label pairs of the state label, one per state.
var stateLabels = func() map[health.State]*dto.LabelPair {
	m := map[health.State]*dto.LabelPair{}
	for _, s := range states {
		m[s] = labelPair("state", string(s))
	}
	return m
}()

// Collect implements prometheus.Collector: the series of every mirror,
// from the records. The records are copied under the lock and the series
// sent after it is released: the registry handles each series as it is
// sent (80,000 of them for 1,000 repos of 10 mirrors, a second or more
// on a busy machine), and a probe recording its result (set) must not
// wait for a scrape.
func (mm *mirrorMetrics) Collect(ch chan<- prometheus.Metric) {
	mm.mu.Lock()
	n := 0
	for _, ms := range mm.repos {
		n += len(ms)
	}
	recs := make([]mirrorRecord, 0, n)
	for _, ms := range mm.repos {
		for _, rec := range ms {
			recs = append(recs, *rec)
		}
	}
	mm.mu.Unlock()
	for i := range recs {
		rec := &recs[i]
		for _, s := range states {
			v := 0.0
			if s == rec.state {
				v = 1
			}
			ch <- &gaugeSample{mm.state, append(rec.labels[:len(rec.labels):len(rec.labels)], stateLabels[s]), v}
		}
		ch <- &gaugeSample{mm.latency, rec.labels, rec.latency}
		if rec.lastProbe != 0 {
			ch <- &gaugeSample{mm.lastProbe, rec.labels, rec.lastProbe}
		}
		if rec.lagKnown {
			ch <- &gaugeSample{mm.lag, rec.labels, rec.lag}
		}
	}
}

// gaugeSample is one gauge series made at scrape time. Its label pairs
// are shared with the record and never changed.
type gaugeSample struct {
	desc   *prometheus.Desc
	labels []*dto.LabelPair
	value  float64
}

func (g *gaugeSample) Desc() *prometheus.Desc { return g.desc }

func (g *gaugeSample) Write(out *dto.Metric) error {
	v := g.value
	out.Label = g.labels
	out.Gauge = &dto.Gauge{Value: &v}
	return nil
}

func labelPair(name, value string) *dto.LabelPair {
	return &dto.LabelPair{Name: &name, Value: &value}
}

// probeLatency is a probe's repomd.xml latency in seconds, or NaN when it
// got no complete answer (Result.Latency 0 on a mirror not OK): 0 made a
// stalled mirror look the fastest on a dashboard (a failover test).
func probeLatency(r health.Result) float64 {
	if r.Latency == 0 && r.State != health.OK {
		return math.NaN()
	}
	return r.Latency.Seconds()
}
