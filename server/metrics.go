package server

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the counters of the mirror routes, registered once per
// daemon (the routes are rebuilt on every reload; the counters stay).
type Metrics struct {
	requests *prometheus.CounterVec
	countme  *prometheus.CounterVec
}

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
	reg.MustRegister(m.requests, m.countme)
	return m
}

// Forget drops the series of a repository that left the configuration.
func (m *Metrics) Forget(repo string) {
	l := prometheus.Labels{"repo": repo}
	m.requests.DeletePartialMatch(l)
	m.countme.DeletePartialMatch(l)
}
