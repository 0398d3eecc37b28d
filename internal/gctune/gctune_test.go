package gctune

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const mb = 1 << 20
	for _, tc := range []struct {
		name        string
		floor, live uint64
		want        int
	}{
		{"before the first cycle: the runtime's minimum goal is the floor", 32 * mb, 0, 800},
		{"little live: the minimum goal is the floor", 32 * mb, 2 * mb, 800},
		{"live 8 MB: 8 MB × 4 is the floor", 32 * mb, 8 * mb, 300},
		{"live 12 MB", 32 * mb, 12 * mb, 166},
		{"twice the live heap passes the floor: GOGC=100", 32 * mb, 20 * mb, 100},
		{"live above the floor: GOGC=100", 32 * mb, 40 * mb, 100},
		{"a floor below the runtime's own: GOGC=100", 2 * mb, 0, 100},
		{"a huge floor is bounded", 1 << 40, 1, 10000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Percent(tc.floor, tc.live); got != tc.want {
				t.Errorf("Percent(%d, %d) = %d, want %d", tc.floor, tc.live, got, tc.want)
			}
		})
	}
}

// gogc reads the GOGC in effect.
func gogc() int64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}

// cycles allocates n bytes of garbage in 64 KiB pieces, little of it live
// at any time, and returns how many collections ran meanwhile.
func cycles(n int) uint32 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.NumGC
	var keep [][]byte
	for i := 0; i < n/(64<<10); i++ {
		b := make([]byte, 64<<10)
		b[0] = byte(i)
		keep = append(keep, b)
		if len(keep) == 8 {
			keep = keep[:0]
		}
	}
	runtime.KeepAlive(keep)
	runtime.ReadMemStats(&ms)
	return ms.NumGC - before
}

// waitGOGC runs collections until the GOGC in effect is want: the
// cleanup that sets it runs on its own goroutine after a cycle, and may
// arm itself for the next cycle only after one more has started.
func waitGOGC(t *testing.T, want int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for gogc() != want {
		if time.Now().After(deadline) {
			t.Fatalf("GOGC is %d, want %d", gogc(), want)
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
}

// goalMB reads the heap size at which the next collection starts.
func goalMB() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64() >> 20
}

// TestFloor: with a floor of 64 MB and little live, the next collection
// starts at 64 MB, not at the runtime's 4 MB, and 40 MB of garbage runs
// one collection at most; with 40 MB live the pace is GOGC=100's again
// (the goal twice the live heap), and the floor's once that is released;
// stop restores GOGC.
func TestFloor(t *testing.T) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		t.Skip("GOGC or GOMEMLIMIT is set: Floor leaves the collector alone")
	}
	runtime.GC()
	if g := goalMB(); g > 16 {
		t.Fatalf("before Floor the heap goal is %d MB already; the test needs GOGC=100's few MB", g)
	}
	stop := Floor(64 << 20)
	t.Cleanup(stop)
	waitGOGC(t, 1600)
	if g := goalMB(); g < 64 {
		t.Errorf("with the floor the heap goal is %d MB, want 64 or more", g)
	}
	if n := cycles(40 << 20); n > 1 {
		t.Errorf("with the floor: %d collections for 40 MB of garbage, want at most one", n)
	}

	live := make([]byte, 40<<20)
	for i := range live {
		live[i] = 1 // resident, and found live by the next cycle
	}
	waitGOGC(t, 100)
	if g := goalMB(); g < 80 || g > 100 {
		t.Errorf("with 40 MB live the heap goal is %d MB, want about twice that (GOGC=100)", g)
	}
	runtime.KeepAlive(live)
	live = nil
	waitGOGC(t, 1600)

	stop()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("after stop, GOGC is %d, want the 100 it was", got)
	}
	runtime.GC()
	time.Sleep(10 * time.Millisecond) // a cleanup queued before stop finds it stopped
	if got := gogc(); got != 100 {
		t.Errorf("a cycle after stop set GOGC to %d", got)
	}
	if g := goalMB(); g > 16 {
		t.Errorf("after stop the heap goal is %d MB, want GOGC=100's few MB", g)
	}
}

// TestFloorLeavesOperatorsChoice: GOGC in the environment wins.
func TestFloorLeavesOperatorsChoice(t *testing.T) {
	t.Setenv("GOGC", "100")
	before := gogc()
	stop := Floor(32 << 20)
	defer stop()
	runtime.GC()
	time.Sleep(10 * time.Millisecond)
	if got := gogc(); got != before {
		t.Errorf("GOGC went from %d to %d with GOGC=100 in the environment", before, got)
	}
}
