package repodata

import (
	"bytes"
	"io"
	"os"
	"syscall"
	"testing"
	"time"
)

func cpuNow() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestCPUPrimary(t *testing.T) {
	if os.Getenv("CPUTEST") == "" {
		t.Skip()
	}
	data := benchData()
	best := time.Hour
	for range 15 {
		start := cpuNow()
		pr := NewPrimaryReader(bytes.NewReader(data))
		for {
			_, err := pr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		best = min(best, cpuNow()-start)
	}
	t.Logf("best cpu %v = %.0f MB/s", best, float64(len(data))/best.Seconds()/1e6)
}
