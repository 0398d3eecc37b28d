package fetch

import (
	"errors"
	"testing"
	"time"
)

// TestSpeedWatch feeds the low-speed watchdog byte counts at chosen times
// (no clock involved) and checks when it declares a stall: only once a
// whole window has passed, and only when the window brought fewer bytes
// than the limit asks for.
func TestSpeedWatch(t *testing.T) {
	type sample struct {
		at time.Duration // since the watch started
		n  int64         // bytes received so far
	}
	for _, tc := range []struct {
		name    string
		limit   int64 // bytes/s
		samples []sample
		stallAt int // index of the sample that reports a stall; -1: none
		crawl   bool
	}{
		{name: "nothing, but not a whole window yet", limit: 1000, samples: []sample{{10 * time.Second, 0}, {29 * time.Second, 0}}, stallAt: -1},
		{name: "nothing for a window", limit: 1000, samples: []sample{{10 * time.Second, 0}, {30 * time.Second, 0}}, stallAt: 1},
		{name: "29999 bytes in 30s is below 1000 bytes/s", limit: 1000, samples: []sample{{15 * time.Second, 20000}, {30 * time.Second, 29999}}, stallAt: 1, crawl: true},
		{name: "30000 bytes in 30s is enough", limit: 1000, samples: []sample{{15 * time.Second, 20000}, {30 * time.Second, 30000}}, stallAt: -1},
		{name: "a burst, then silence: caught a window after the burst", limit: 1000, samples: []sample{
			{5 * time.Second, 1 << 20}, {30 * time.Second, 1 << 20}, {34 * time.Second, 1 << 20}, {35 * time.Second, 1 << 20},
		}, stallAt: 3},
		{name: "steady above the limit for minutes", limit: 1000, samples: []sample{
			{30 * time.Second, 40000}, {60 * time.Second, 80000}, {90 * time.Second, 120000}, {120 * time.Second, 160000},
		}, stallAt: -1},
		{name: "no limit: one byte a window will do", limit: -1, samples: []sample{{30 * time.Second, 1}, {60 * time.Second, 2}}, stallAt: -1},
		{name: "no limit: nothing for a window", limit: -1, samples: []sample{{30 * time.Second, 1}, {60 * time.Second, 1}}, stallAt: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := New(Options{StallTimeout: 30 * time.Second, LowSpeedLimit: tc.limit})
			w := f.newSpeedWatch()
			t0 := w.samples[0].t
			got := -1
			var err error
			for i, s := range tc.samples {
				if err = w.check(t0.Add(s.at), s.n); err != nil {
					got = i
					break
				}
			}
			if got != tc.stallAt {
				t.Fatalf("stall at sample %d (%v), want %d", got, err, tc.stallAt)
			}
			if err == nil {
				return
			}
			if !errors.Is(err, ErrStalled) {
				t.Errorf("%v is not ErrStalled", err)
			}
			var se *StalledError
			if errors.As(err, &se) != tc.crawl {
				t.Errorf("%v: *StalledError %v, want %v", err, !tc.crawl, tc.crawl)
			}
		})
	}
}
