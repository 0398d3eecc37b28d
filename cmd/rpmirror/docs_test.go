package main

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rpmirror/rpmirror/sync"
)

// TestDocsCommandLinesParse: every rpmirror command line that README.md
// and docs/ show, in a shell block or in running text, is one the
// command accepts: its flags exist and take the values shown, and no
// stray argument is left (docs/configuration.md told operators to run
// `rpmirror sync --dry-run el9-baseos-ci`, which exits 2 with
// "unexpected argument": the repo goes with --repo).
func TestDocsCommandLinesParse(t *testing.T) {
	names := make([]string, len(commands))
	byName := map[string]command{}
	for i, c := range commands {
		names[i] = c.name
		byName[c.name] = c
	}
	alt := strings.Join(names, "|")
	inBlock := regexp.MustCompile(`(?:^|\s)(rpmirror (?:` + alt + `)\b.*)$`)
	inText := regexp.MustCompile("`(rpmirror (?:" + alt + ")\\b[^`]*)`")
	fence := regexp.MustCompile("(?m)^```.*$")
	n := 0
	for _, f := range []string{"../../README.md", "../../docs/configuration.md", "../../docs/operations.md", "../../docs/security.md", "../../docs/design.md"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for i, part := range fence.Split(string(b), -1) {
			if i%2 == 1 { // inside a fenced block
				for _, l := range strings.Split(part, "\n") {
					if m := inBlock.FindStringSubmatch(l); m != nil {
						lines = append(lines, m[1])
					}
				}
				continue
			}
			for _, m := range inText.FindAllStringSubmatch(strings.ReplaceAll(part, "\n", " "), -1) {
				lines = append(lines, m[1])
			}
		}
		for _, l := range lines {
			if i := strings.Index(l, " #"); i >= 0 {
				l = l[:i]
			}
			if strings.Contains(l, "...") || strings.Contains(l, "[") {
				continue // a pattern, not a command line
			}
			args := strings.Fields(l)[1:]
			c := byName[args[0]]
			if c.name == "snapshot" {
				continue // pin|unpin SNAPSHOT: positional by design
			}
			fs, err := commandFlags(c)
			if err != nil {
				t.Fatal(err)
			}
			fs.SetOutput(io.Discard)
			n++
			if err := fs.Parse(args[1:]); err != nil {
				t.Errorf("%s: %q: %v", f, l, err)
			} else if fs.NArg() > 0 {
				t.Errorf("%s: %q: rpmirror %s takes no argument %q", f, l, c.name, fs.Arg(0))
			}
		}
	}
	if n < 20 {
		t.Errorf("found %d command lines in the docs; the pattern is broken", n)
	}
}

// TestBadCommandLines: a command line rpmirror cannot use exits 2 with
// one line saying what is wrong (the flag package also printed its own
// copy of the error and the whole usage), and a value rpmirror would
// have replaced quietly is refused: sync --parallel 0 ran one repository
// at a time, status --runs -1 showed no run, serve -shutdown-timeout -5s
// did not wait at all.
func TestBadCommandLines(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"sync", "-c", "x.yaml", "--parallel", "0"}, `rpmirror: sync: invalid value "0" for flag -parallel: want 1 or more ('rpmirror sync -h' lists its flags)`},
		{[]string{"sync", "-c", "x.yaml", "--parallel", "four"}, `rpmirror: sync: invalid value "four" for flag -parallel: want a whole number ('rpmirror sync -h' lists its flags)`},
		{[]string{"status", "-c", "x.yaml", "--runs", "-1"}, `rpmirror: status: invalid value "-1" for flag -runs: want 0 or more ('rpmirror status -h' lists its flags)`},
		{[]string{"serve", "-c", "x.yaml", "-shutdown-timeout", "-5s"}, `rpmirror: serve: invalid value "-5s" for flag -shutdown-timeout: want 0 or more ('rpmirror serve -h' lists its flags)`},
		{[]string{"serve", "-c", "x.yaml", "-shutdown-timeout", "5"}, `rpmirror: serve: invalid value "5" for flag -shutdown-timeout: want a duration such as 30s or 2m ('rpmirror serve -h' lists its flags)`},
		{[]string{"verify", "--bogus"}, `rpmirror: verify: flag provided but not defined: -bogus ('rpmirror verify -h' lists its flags)`},
		{[]string{"sync", "-c", "x.yaml", "--dry-run", "el9-baseos-ci"}, `rpmirror: sync: unexpected argument "el9-baseos-ci" (name a repo with --repo NAME)`},
		{[]string{"check", "-c", "x.yaml", "extra"}, `rpmirror: check: unexpected argument "extra"`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, stdout, stderr := rpmirror(t, tc.args...)
			if code != exitUsage || stdout != "" || stderr != tc.want+"\n" {
				t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant exit %d and stderr:\n%s", code, stdout, stderr, exitUsage, tc.want)
			}
		})
	}
	// -h still prints the usage, and exits 0.
	if code, _, stderr := rpmirror(t, "sync", "-h"); code != exitOK || !strings.Contains(stderr, "-parallel N") || !strings.Contains(stderr, "(default 4)") {
		t.Errorf("sync -h: exit %d, %q", code, stderr)
	}
}

// TestReportLines: a sync's summary line says what it fetched in the same
// words whether it succeeded, failed or was interrupted, packages and
// metadata apart: a failed sync said "fetched 0 packages (12.2 KiB)",
// the metadata's bytes where a successful one puts the packages'.
func TestReportLines(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    sync.Report
		want string
	}{
		{"ok", sync.Report{Repo: "r", Revision: "7", Fetched: 6, Verified: 6, Bytes: 60 << 10, PackageBytes: 48 << 10},
			"r  revision 7  fetched 6 packages (48.0 KiB) and 12.0 KiB of metadata, verified 6  0s\n"},
		{"failed", sync.Report{Repo: "r", Revision: "7", Bytes: 12 << 10, Err: errors.New("boom")},
			"r  revision 7  FAILED after 0s: fetched 0 packages (0 B) and 12.0 KiB of metadata, verified 0\n"},
		{"interrupted", sync.Report{Repo: "r", Revision: "7", Fetched: 1, Verified: 1, Bytes: 13 << 10, PackageBytes: 1 << 10, Err: sync.ErrInterrupted},
			"r  revision 7  interrupted after 0s: fetched 1 package (1.0 KiB) and 12.0 KiB of metadata, verified 1\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			printReport(&b, &tc.r, "")
			if got, _, _ := strings.Cut(b.String(), "\n"); got+"\n" != tc.want {
				t.Errorf("got  %q\nwant %q", got+"\n", tc.want)
			}
		})
	}
}

// TestReportMirrorLines: a mirror's line says what the sync did to it;
// a sync skipped (no usable upstream) or failed before it wrote anything
// there leaves it unchanged, which it said as "published 0 files,
// deleted 0".
func TestReportMirrorLines(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    sync.Report
		want string
	}{
		{"published", sync.Report{Repo: "r", Mirrors: []*sync.MirrorReport{{Name: "m", Published: 16, Deleted: 13}}},
			"  m            published 16 files, deleted 13\n"},
		{"skipped", sync.Report{Repo: "r", Skipped: true, Err: errors.New("no usable upstream"), Mirrors: []*sync.MirrorReport{{Name: "m"}}},
			"  m            unchanged\n"},
		{"failed before publishing", sync.Report{Repo: "r", Err: errors.New("boom"), Mirrors: []*sync.MirrorReport{{Name: "m"}}},
			"  m            unchanged\n"},
		{"failed on this mirror", sync.Report{Repo: "r", Err: errors.New("boom"), Mirrors: []*sync.MirrorReport{{Name: "m", Err: errors.New("disk full")}}},
			"  m            FAILED: disk full\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			printReport(&b, &tc.r, "")
			_, rest, _ := strings.Cut(b.String(), "\n")
			if !strings.Contains(rest, tc.want) {
				t.Errorf("got  %q\nwant a line %q", rest, tc.want)
			}
		})
	}
}

// TestVerifyProbeOnlyRepo: verify (and verify --repair) of a repo whose
// mirrors are all probe-only says there is nothing to check there; it
// printed nothing at all and exited 0, as if every mirror were fine.
func TestVerifyProbeOnlyRepo(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "m.yaml")
	if err := os.WriteFile(cfg, []byte("state_dir: state\nrepos:\n  - name: po\n    origin: http://127.0.0.1:9/\n    mirrors:\n      - name: partner\n        url: http://mirror.example/po/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"verify", "-c", cfg}, "po: no written mirror, nothing to verify (rpmirror serve probes the 1 probe-only mirrors)\n"},
		{[]string{"verify", "--repair", "-c", cfg}, "po: no written mirror, nothing to repair (rpmirror serve probes the 1 probe-only mirrors)\n"},
	} {
		code, stdout, stderr := rpmirror(t, tc.args...)
		if code != exitOK || stdout != tc.want {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 0 and %q", tc.args, code, stdout, stderr, tc.want)
		}
	}
}

// TestMakeBuildStampsCommit: the binary `make build` makes reports the
// commit it was built from, as docs/operations.md says, even where go
// build stamps no version control information (GOFLAGS=-buildvcs=false,
// as on this project's test machine): it said "commit unknown".
func TestMakeBuildStampsCommit(t *testing.T) {
	for _, tool := range []string{"make", "git"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not in a git work tree: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "rpmirror")
	build := exec.Command("make", "-s", "-C", "../..", "build", "BIN="+bin)
	build.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "\ncommit " + strings.TrimSpace(string(head))
	if !strings.Contains(string(out), want+"\n") && !strings.Contains(string(out), want+"+dirty\n") {
		t.Errorf("rpmirror version of make build's binary:\n%s\nwant the line%q (or with +dirty)", out, want)
	}
}
