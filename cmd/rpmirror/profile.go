package main

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// ProfileEnv names a file to write a CPU profile of the whole command to
// (go tool pprof reads it): how the sync benchmarks of docs/benchmarks.md
// are profiled. Unset, nothing is profiled.
const ProfileEnv = "RPMIRROR_CPUPROFILE"

// startProfile starts the CPU profile ProfileEnv asks for; stop ends it
// and writes the file.
func startProfile() (stop func(), err error) {
	path := os.Getenv(ProfileEnv)
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ProfileEnv, err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", ProfileEnv, err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
