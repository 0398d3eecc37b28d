package server

import (
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
			Help: "Requests carrying dnf's countme=N (sent once a week per system; N is 1 for a system younger than a week, 2 up to a month, 3 up to six months, 4 older), by repository and bucket.",
		}, []string{"repo", "bucket"}),
	}
	m.counters.Store(new(sync.Map))
	reg.MustRegister(m.requests, m.countme)
	return m
}

// request returns the requests counter of repo, kind and country.
func (m *Metrics) request(repo, kind, country string) prometheus.Counter {
	cs := m.counters.Load()
	k := requestKey{repo, kind, country}
	if c, ok := cs.Load(k); ok {
		return c.(prometheus.Counter)
	}
	c := m.requests.WithLabelValues(repo, kind, country)
	cs.Store(k, c)
	return c
}

// Forget drops the series of a repository that left the configuration.
func (m *Metrics) Forget(repo string) {
	l := prometheus.Labels{"repo": repo}
	m.requests.DeletePartialMatch(l)
	m.countme.DeletePartialMatch(l)
	// After the series are gone: a request that resolved a counter
	// before stores it in the old map, which nothing reads any more.
	m.counters.Store(new(sync.Map))
}
