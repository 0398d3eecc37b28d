package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// buildInfo is what `rpmirror version` reports.
type buildInfo struct {
	Version string // git describe, or "dev"
	Commit  string // the full commit hash, "+dirty" when built from a modified tree, or "unknown"
	Go      string // the Go version and platform, "go1.26.8 linux/amd64"
}

// currentBuild reads the build information: the version and commit set with
// -ldflags, else the revision Go stamps into binaries built inside a git
// work tree (go build's -buildvcs, on by default).
func currentBuild() buildInfo {
	b := buildInfo{Version: version, Commit: commit, Go: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH}
	if b.Commit != "" {
		return b
	}
	b.Commit = "unknown"
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev != "" {
		b.Commit = rev
		if modified == "true" {
			b.Commit += "+dirty"
		}
	}
	return b
}

func runVersion(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flags("version", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	b := currentBuild()
	fmt.Fprintf(stdout, "rpmirror %s\ncommit %s\n%s\n", b.Version, b.Commit, b.Go)
	return nil
}
