package main

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// TestCPUProfile: RPMIRROR_CPUPROFILE makes the command write a CPU
// profile (how docs/benchmarks.md's syncs are profiled), RPMIRROR_TRACE an
// execution trace, RPMIRROR_MEMPROFILE the allocations; unset, nothing is
// written.
func TestCPUProfile(t *testing.T) {
	tests := []struct {
		name string
		env  string
		set  bool
	}{
		{"profile set", ProfileEnv, true},
		{"profile unset", ProfileEnv, false},
		{"trace set", TraceEnv, true},
		{"trace unset", TraceEnv, false},
		{"allocations set", MemProfileEnv, true},
		{"allocations unset", MemProfileEnv, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "out")
			t.Setenv(ProfileEnv, "")
			t.Setenv(TraceEnv, "")
			t.Setenv(MemProfileEnv, "")
			defer func(rate int) { runtime.MemProfileRate = rate }(runtime.MemProfileRate)
			if tc.set {
				t.Setenv(tc.env, p)
			}
			stop, err := startProfile()
			if err != nil {
				t.Fatal(err)
			}
			stop()
			fi, err := os.Stat(p)
			switch {
			case tc.set && (err != nil || fi.Size() == 0):
				t.Errorf("with %s set: %s: %v (size %v)", tc.env, p, err, fi)
			case !tc.set && err == nil:
				t.Errorf("with %s unset a file was written", tc.env)
			}
		})
	}
}
