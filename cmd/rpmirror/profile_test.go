package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCPUProfile: RPMIRROR_CPUPROFILE makes the command write a CPU
// profile (how docs/benchmarks.md's syncs are profiled); unset, nothing is
// written.
func TestCPUProfile(t *testing.T) {
	tests := []struct {
		name string
		set  bool
	}{
		{"set", true},
		{"unset", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "cpu.pprof")
			if tc.set {
				t.Setenv(ProfileEnv, p)
			} else {
				t.Setenv(ProfileEnv, "")
			}
			stop, err := startProfile()
			if err != nil {
				t.Fatal(err)
			}
			stop()
			fi, err := os.Stat(p)
			switch {
			case tc.set && (err != nil || fi.Size() == 0):
				t.Errorf("with %s set: profile %s: %v (size %v)", ProfileEnv, p, err, fi)
			case !tc.set && err == nil:
				t.Errorf("with %s unset a profile was written", ProfileEnv)
			}
		})
	}
}
