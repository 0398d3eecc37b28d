// Package gctune gives the garbage collector a floor: no cycle starts while
// the heap is smaller than a set size, and above it the collector paces as
// GOGC=100 does (a cycle once the heap has grown to twice what the last
// one found live).
//
// Why: Go's own floor is 4 MB. A sync of a repository keeps about 2 MB live
// but allocates tens of megabytes on the way (a transfer buffer per
// download, each package's headers), so at GOGC=100 it ran a cycle every
// couple of megabytes: 32 cycles in an initial sync of 1,000 packages, two
// in a sync of ten, each with its stops of the world, a mark of every
// goroutine's stack and a sweep. With a floor of 32 MB the initial sync
// runs two and the update none, and the largest jobs (a plan of 100,000
// packages, 40 MB live; the daemon with 1,000 repositories) keep GOGC=100's
// pace, so their peak memory is unchanged.
//
// How: after every cycle (a cleanup, runtime.AddCleanup, runs once an
// object made for it dies, so once per cycle), the live heap is read
// (runtime/metrics) and GOGC set so that the next goal is the floor or
// twice the live heap, whichever is more. The runtime's own minimum heap
// goal is 4 MB scaled by GOGC/100, which is taken into account.
//
// An operator's GOGC or GOMEMLIMIT in the environment wins: Floor then
// changes nothing.
package gctune

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// DefaultFloor is the heap size below which rpmirror's commands start no
// collection: a few times what a sync keeps live, small next to what a
// mirror host has.
const DefaultFloor = 32 << 20

// runtimeMinimum is the runtime's minimum heap goal at GOGC=100, which it
// scales by GOGC/100.
const runtimeMinimum = 4 << 20

// maxPercent bounds the GOGC Floor sets.
const maxPercent = 10000

// Percent returns the GOGC that makes the next heap goal floor, given
// live bytes found live by the last cycle: never below 100 (GOGC=100's
// pace once twice the live heap passes floor), and low enough that the
// runtime's minimum goal (4 MB × GOGC/100) does not exceed floor either.
func Percent(floor, live uint64) int {
	p := floor * 100 / runtimeMinimum // 4 MB × p/100 ≤ floor
	if live > 0 {
		if q := floor * 100 / live; q > 100 {
			p = min(p, q-100) // live × (1 + p/100) ≈ floor
		} else {
			p = 0
		}
	}
	return int(min(max(p, 100), maxPercent))
}

// tuner keeps GOGC at Percent(floor, live) after every cycle.
type tuner struct {
	floor  uint64
	sample []metrics.Sample
	before int // GOGC before Floor

	mu      sync.Mutex // adjust runs on the cleanup goroutine, stop on another
	stopped bool
}

// sentinel is the object whose death marks a cycle.
type sentinel struct{ _ *int }

// Floor starts keeping the heap goal at floor bytes or more, as the
// package comment says, and returns what stops it and restores the GOGC
// that was in effect. It does nothing (and stop does nothing) when the
// environment sets GOGC or GOMEMLIMIT.
func Floor(floor uint64) (stop func()) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	t := &tuner{floor: floor, sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	t.before = debug.SetGCPercent(Percent(floor, t.live()))
	t.arm()
	return func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		if !t.stopped {
			t.stopped = true
			debug.SetGCPercent(t.before)
		}
	}
}

// arm makes the next cycle call adjust.
func (t *tuner) arm() {
	s := &sentinel{}
	runtime.AddCleanup(s, func(t *tuner) { t.adjust() }, t)
}

// adjust sets GOGC from the live heap the cycle just ended found, and
// waits for the next cycle.
func (t *tuner) adjust() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	t.arm()
	debug.SetGCPercent(Percent(t.floor, t.live()))
}

// live returns the bytes the last cycle found live (0 before the first).
func (t *tuner) live() uint64 {
	metrics.Read(t.sample)
	if t.sample[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return t.sample[0].Value.Uint64()
}
