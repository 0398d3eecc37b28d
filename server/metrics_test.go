package server

import (
	"fmt"
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

// TestMetricsSlotShared: series whose labels share a slot of the recent
// series are counted apart, whichever was in the slot.
func TestMetricsSlotShared(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	a := requestKey{"a", KindMirrorlist, "DE"}
	b := requestKey{"", KindMetalink, "unknown"}
	for i := 0; ; i++ {
		b.repo = fmt.Sprintf("b%d", i)
		if m.slot(b) == m.slot(a) {
			break
		}
	}
	for _, tc := range []struct {
		key   requestKey
		wantA float64
		wantB float64
	}{
		{a, 1, 0},
		{b, 1, 1},
		{b, 1, 2},
		{a, 2, 2},
		{a, 3, 2},
		{b, 3, 3},
	} {
		m.request(tc.key.repo, tc.key.kind, tc.key.country).Inc()
		for _, w := range []struct {
			k    requestKey
			want float64
		}{{a, tc.wantA}, {b, tc.wantB}} {
			got := mustCounter(t, reg, "rpmirror_mirror_requests_total", prometheus.Labels{"repo": w.k.repo, "kind": w.k.kind, "country": w.k.country})
			if got != w.want {
				t.Fatalf("after a request for %v: %v counts %v, want %v", tc.key, w.k, got, w.want)
			}
		}
	}
}
