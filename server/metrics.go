package server

import (
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the counters of the mirror routes, registered once per
// daemon (the routes are rebuilt on every reload; the counters stay).
type Metrics struct {
	requests *prometheus.CounterVec
	countme  *prometheus.CounterVec

	// counters holds the requests counter of each repo, kind and country
	// met so far (a *sync.Map of requestKey to prometheus.Counter): a
	// request finds its counter without hashing label values and taking
	// the vector's lock, as WithLabelValues does. Forget replaces it.
	counters atomic.Pointer[sync.Map]
	// recent holds, in front of counters, the series requests used
	// lately, each in the slot its labels hash to: one hash of the repo
	// name, a load and three compares of strings that are mostly the
	// same strings (the catalog's name, a constant kind, GeoIP's
	// country), where a sync.Map hashes the three through an interface
	// and walks a trie. Forget replaces it with counters.
	recent atomic.Pointer[recentSeries]
	seed   maphash.Seed
}

// recentSlots is the number of slots of Metrics.recent: a slot per
// repo, kind and country in use, for hundreds of repositories.
const (
	recentBits  = 12
	recentSlots = 1 << recentBits
)

// recentSeries are the slots of Metrics.recent.
type recentSeries [recentSlots]atomic.Pointer[series]

// series is one series of the requests counter.
type series struct {
	key requestKey
	c   prometheus.Counter
}

// requestKey names a series of the requests counter.
type requestKey struct{ repo, kind, country string }

// NewMetrics registers the counters on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "rpmirror", Name: "mirror_requests_total",
			Help: "Requests answered for a repository, by kind (mirrorlist, metalink, redirect) and the client's country (ISO 3166 code, or unknown).",
		}, []string{"repo", "kind", "country"}),
		countme: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "rpmirror", Name: "countme_total",
			Help: "Mirrorlist, metalink and repodata/repomd.xml redirect requests carrying dnf's countme=N (sent once a week per system; N is 1 for a system younger than a week, 2 up to a month, 3 up to six months, 4 older), by repository and bucket.",
		}, []string{"repo", "bucket"}),
		seed: maphash.MakeSeed(),
	}
	m.counters.Store(new(sync.Map))
	m.recent.Store(new(recentSeries))
	reg.MustRegister(m.requests, m.countme)
	return m
}

// slot returns the slot of Metrics.recent for k. The kind is one of
// three constants and the country two letters (or "unknown"): they are
// mixed in without hashing.
func (m *Metrics) slot(k requestKey) int {
	h := maphash.String(m.seed, k.repo)
	h += uint64(len(k.kind))
	if len(k.country) == 2 {
		h += uint64(k.country[0])<<8 | uint64(k.country[1])
	}
	return int(h * 0x9E3779B97F4A7C15 >> (64 - recentBits))
}

// request returns the requests counter of repo, kind and country.
func (m *Metrics) request(repo, kind, country string) prometheus.Counter {
	k := requestKey{repo, kind, country}
	rs := m.recent.Load()
	sl := &rs[m.slot(k)]
	if s := sl.Load(); s != nil && s.key == k {
		return s.c
	}
	cs := m.counters.Load()
	c, ok := cs.Load(k)
	if !ok {
		c = m.requests.WithLabelValues(repo, kind, country)
		cs.Store(k, c)
	}
	sl.Store(&series{key: k, c: c.(prometheus.Counter)})
	return c.(prometheus.Counter)
}

// Forget drops the series of a repository that left the configuration.
func (m *Metrics) Forget(repo string) {
	l := prometheus.Labels{"repo": repo}
	m.requests.DeletePartialMatch(l)
	m.countme.DeletePartialMatch(l)
	// After the series are gone: a request that resolved a counter
	// before stores it in the old map and slots, which nothing reads any
	// more.
	m.counters.Store(new(sync.Map))
	m.recent.Store(new(recentSeries))
}
