package server

import (
	"slices"
	"testing"
)

// TestSummarizeUpstreams: an origin up through a second upstream while
// its first is down (the incident's primary answering 403, syncs failing
// over) counts that upstream down and puts the repository among those
// needing attention; one upstream down of an origin with only one is the
// origin down, counted as such.
func TestSummarizeUpstreams(t *testing.T) {
	st := &Status{Repos: []RepoStatus{
		{Name: "failing-over", OriginState: "ok", Upstreams: []UpstreamStatus{{URL: "https://a/", State: "down"}, {URL: "https://b/", State: "ok"}}},
		{Name: "all-fine", OriginState: "ok", Upstreams: []UpstreamStatus{{URL: "https://a/", State: "ok"}, {URL: "https://b/", State: "ok"}}},
		{Name: "single-down", OriginState: "down", Upstreams: []UpstreamStatus{{URL: "https://a/", State: "down"}}},
		// A metalink's public mirrors after the one in use: not counted.
		{Name: "metalink", OriginState: "ok", Upstreams: []UpstreamStatus{{URL: "https://a/", State: "ok"}, {URL: "https://b/", State: "down"}}},
		// Every upstream down: the origin is, counted once.
		{Name: "all-down", OriginState: "down", Upstreams: []UpstreamStatus{{URL: "https://a/", State: "down"}, {URL: "https://b/", State: "down"}}},
	}}
	s := Summarize(st)
	if s.UpstreamsDown != 1 || s.OriginsDown != 2 || !slices.Equal(s.Attention, []string{"failing-over", "single-down", "all-down"}) {
		t.Errorf("Summarize: upstreams down %d, origins down %d, attention %v; want 1, 2, [failing-over single-down all-down]", s.UpstreamsDown, s.OriginsDown, s.Attention)
	}
}
