package server

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestMetricsForget: a repository removed and added again is counted
// from zero, in a series that /metrics shows (the counters a request
// resolved before are not reused).
func TestMetricsForget(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	for _, step := range []struct {
		forget   bool
		requests int
		want     float64
	}{
		{false, 3, 3},
		{true, 0, 0},
		{false, 1, 1},
		{false, 2, 3},
	} {
		if step.forget {
			m.Forget("a")
		}
		for range step.requests {
			m.request("a", KindMirrorlist, "DE").Inc()
		}
		m.request("b", KindMetalink, "unknown").Inc() // another repo keeps counting
		got := mustCounter(t, reg, "rpmirror_mirror_requests_total", prometheus.Labels{"repo": "a", "kind": KindMirrorlist, "country": "DE"})
		if got != step.want {
			t.Fatalf("after forget=%v and %d requests: %v, want %v", step.forget, step.requests, got, step.want)
		}
	}
	if got := mustCounter(t, reg, "rpmirror_mirror_requests_total", prometheus.Labels{"repo": "b", "kind": KindMetalink, "country": "unknown"}); got != 4 {
		t.Errorf("repo b: %v, want 4", got)
	}
}
