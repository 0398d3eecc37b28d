package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
)

// ProfileEnv names a file to write a CPU profile of the whole command to
// (go tool pprof reads it): how the sync benchmarks of docs/benchmarks.md
// are profiled. Unset, nothing is profiled.
const ProfileEnv = "RPMIRROR_CPUPROFILE"

// TraceEnv names a file to write an execution trace of the whole command
// to (go tool trace reads it): where the wall time goes, waiting
// included, which a CPU profile does not show. Unset, nothing is traced.
const TraceEnv = "RPMIRROR_TRACE"

// MemProfileEnv names a file to write the allocations of the whole
// command to, every one of them sampled (go tool pprof -sample_index
// alloc_space reads it): what touches fresh memory in a short sync, where
// each new page costs a fault. Unset, nothing is recorded.
const MemProfileEnv = "RPMIRROR_MEMPROFILE"

// startProfile starts the CPU profile ProfileEnv asks for and the trace
// TraceEnv asks for; stop ends them and writes the files.
func startProfile() (stop func(), err error) {
	var stops []func()
	stopAll := func() {
		for _, s := range stops {
			s()
		}
	}
	if path := os.Getenv(ProfileEnv); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ProfileEnv, err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: %w", ProfileEnv, err)
		}
		stops = append(stops, func() {
			pprof.StopCPUProfile()
			f.Close()
		})
	}
	if path := os.Getenv(TraceEnv); path != "" {
		f, err := os.Create(path)
		if err != nil {
			stopAll()
			return nil, fmt.Errorf("%s: %w", TraceEnv, err)
		}
		if err := trace.Start(f); err != nil {
			f.Close()
			stopAll()
			return nil, fmt.Errorf("%s: %w", TraceEnv, err)
		}
		stops = append(stops, func() {
			trace.Stop()
			f.Close()
		})
	}
	if path := os.Getenv(MemProfileEnv); path != "" {
		runtime.MemProfileRate = 1
		stops = append(stops, func() {
			if err := writeAllocs(path); err != nil {
				fmt.Fprintf(os.Stderr, "rpmirror: %s: %v\n", MemProfileEnv, err)
			}
		})
	}
	return stopAll, nil
}

// writeAllocs writes the allocation profile to path.
func writeAllocs(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
