package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// Every command, hidden ones included, stops at -h in parseFlags, and the
// flags the man page and the completion are made from are the ones -h
// prints.
func TestDescribeMatchesHelp(t *testing.T) {
	cmds, err := describeCommands()
	if err != nil {
		t.Fatal(err)
	}
	if len(cmds) != len(commands) {
		t.Fatalf("described %d commands, want %d", len(cmds), len(commands))
	}
	for _, c := range hiddenCommands {
		if _, err := commandFlags(c); err != nil {
			t.Error(err)
		}
	}
	helpFlag := regexp.MustCompile(`(?m)^  -([a-z-]+)`)
	for _, c := range cmds {
		t.Run(c.Name, func(t *testing.T) {
			code, _, stderr := rpmirror(t, c.Name, "-h")
			if code != exitOK {
				t.Fatalf("rpmirror %s -h exited %d", c.Name, code)
			}
			var help, described []string
			for _, m := range helpFlag.FindAllStringSubmatch(stderr, -1) {
				help = append(help, m[1])
			}
			for _, f := range c.Flags {
				described = append(described, f.Name)
				if f.Usage == "" {
					t.Errorf("flag %s has no usage text", f.Dash())
				}
			}
			if !slices.Equal(help, described) {
				t.Errorf("-h lists %v, described %v", help, described)
			}
		})
	}
}

func TestHiddenCommandsStayHidden(t *testing.T) {
	_, _, stderr := rpmirror(t, "--help")
	cmds, err := describeCommands()
	if err != nil {
		t.Fatal(err)
	}
	var man, bash bytes.Buffer
	if err := writeMan(&man, cmds, "test"); err != nil {
		t.Fatal(err)
	}
	if err := writeBashCompletion(&bash, cmds); err != nil {
		t.Fatal(err)
	}
	for _, c := range hiddenCommands {
		for what, shown := range map[string]bool{
			"usage":           strings.Contains(stderr, "\n  "+c.name+" "),
			"man page":        strings.Contains(man.String(), `.SS "rpmirror `+c.name),
			"bash completion": strings.Contains(bash.String(), "\n    "+c.name+")\n") || strings.Contains(bash.String(), " "+c.name+" --help'"),
		} {
			if shown {
				t.Errorf("the %s shows the hidden command %s", what, c.name)
			}
		}
	}
}

func TestVersionCommand(t *testing.T) {
	code, stdout, _ := rpmirror(t, "version")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	want := []string{"rpmirror " + version, "commit ", runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH}
	if len(lines) != len(want) {
		t.Fatalf("got %q, want 3 lines", stdout)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d = %q, want it to start with %q", i+1, lines[i], w)
		}
	}

	// --version, as most tools take it, says the same.
	if code, flagOut, _ := rpmirror(t, "--version"); code != exitOK || flagOut != stdout {
		t.Errorf("rpmirror --version: exit %d, %q; want %q", code, flagOut, stdout)
	}

	// -ldflags -X main.commit wins over the build information.
	defer func(c string) { commit = c }(commit)
	commit = "0123456789abcdef0123456789abcdef01234567"
	if _, stdout, _ := rpmirror(t, "version"); !strings.Contains(stdout, "\ncommit "+commit+"\n") {
		t.Errorf("with main.commit set, got %q", stdout)
	}
}

func TestLogFormatChoices(t *testing.T) {
	for _, cmd := range []string{"sync", "serve"} {
		code, _, stderr := rpmirror(t, cmd, "--log-format", "jsno", "-c", "x.yaml")
		if code != exitUsage || !strings.Contains(stderr, `invalid value "jsno" for flag -log-format: want one of text, json`) {
			t.Errorf("rpmirror %s --log-format jsno: exit %d, %q", cmd, code, stderr)
		}
	}
}

// The man page is valid roff (groff finds nothing to warn about), man
// renders it, and it documents every command and every flag.
func TestManPage(t *testing.T) {
	code, page, stderr := rpmirror(t, "gen-man")
	if code != exitOK {
		t.Fatalf("gen-man: exit %d: %s", code, stderr)
	}
	file := filepath.Join(t.TempDir(), "rpmirror.1")
	if err := os.WriteFile(file, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("groff"); err != nil {
		t.Skip("groff is not installed (apt-get install man-db groff-base): cannot render the man page")
	}
	lint := exec.Command("groff", "-man", "-ww", "-z", file)
	if out, err := lint.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("groff -ww: %v\n%s", err, out)
	}
	render := exec.Command("man", "-l", file)
	render.Env = append(os.Environ(), "MANWIDTH=200", "MANPAGER=cat", "PAGER=cat", "LANG=C")
	out, err := render.Output()
	if err != nil {
		t.Fatalf("man -l: %v", err)
	}
	text := string(out)
	cmds, err := describeCommands()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cmds {
		if !strings.Contains(text, synopsis(c)) {
			t.Errorf("the page has no synopsis %q", synopsis(c))
		}
		for _, f := range c.Flags {
			if !strings.Contains(text, "       "+f.Dash()) {
				t.Errorf("the page does not document %s %s", c.Name, f.Dash())
			}
		}
	}
	for _, s := range []string{"EXIT STATUS", "130", "/etc/rpmirror/mirrors.yaml", "ReadWritePaths="} {
		if !strings.Contains(text, s) {
			t.Errorf("the page does not mention %q", s)
		}
	}
}

// rpmirrorOnPath puts an "rpmirror" on PATH that runs this test binary as
// rpmirror, for the completion scripts, and returns the new PATH.
func rpmirrorOnPath(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	script := fmt.Sprintf("#!/bin/sh\nRPMIRROR_TEST_BE_MAIN=1 exec %q \"$@\"\n", os.Args[0])
	if err := os.WriteFile(filepath.Join(dir, "rpmirror"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir + string(os.PathListSeparator) + os.Getenv("PATH")
}

// The bash completion completes commands, flags, fixed values, files and,
// after --repo, the repo names of the file given with -c, wherever -c is.
func TestBashCompletion(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is not installed")
	}
	code, script, stderr := rpmirror(t, "gen-completion", "--shell", "bash")
	if code != exitOK {
		t.Fatalf("gen-completion: exit %d: %s", code, stderr)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rpmirror.bash"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "my mirrors.yaml"), []byte(twoRepos), 0o644); err != nil {
		t.Fatal(err)
	}
	writeSnapshotMirror(t, dir)
	path := rpmirrorOnPath(t)
	tests := []struct {
		name  string
		words []string // as bash splits the line (it splits at "=")
		cword int      // the word being completed; -1 for the last one
		want  string
	}{
		{"commands", []string{"rpmirror", "s"}, -1, "sync serve status snapshots snapshot"},
		{"flags of sync", []string{"rpmirror", "sync", "--"}, -1, "--allow-rollback --dry-run --log-format --parallel --repo --help"},
		{"flags of verify", []string{"rpmirror", "verify", "-"}, -1, "-c --repair --repo --help"},
		{"choices", []string{"rpmirror", "serve", "--log-format", ""}, -1, "text json"},
		{"choices after =", []string{"rpmirror", "serve", "--log-format", "=", "j"}, -1, "json"},
		{"config file", []string{"rpmirror", "check", "-c", "my"}, -1, "my mirrors.yaml"},
		{"repo names", []string{"rpmirror", "sync", "-c", "my mirrors.yaml", "--repo", ""}, -1, "gluster-9-el8 gluster-9-el9"},
		{"repo name prefix", []string{"rpmirror", "status", "--c", "my mirrors.yaml", "-repo", "gluster-9-el9"}, -1, "gluster-9-el9"},
		{"repo after =", []string{"rpmirror", "verify", "-c", "=", "my mirrors.yaml", "--repo", "=", "gluster-9-el8"}, -1, "gluster-9-el8"},
		{"repo before -c", []string{"rpmirror", "sync", "--repo", "gl", "-c", "my mirrors.yaml"}, 3, "gluster-9-el8 gluster-9-el9"},
		{"repo without -c", []string{"rpmirror", "sync", "--repo", ""}, -1, ""},
		{"no value to complete", []string{"rpmirror", "sync", "--parallel", ""}, -1, ""},
		{"commands with r", []string{"rpmirror", "r"}, -1, "rollback resume"},
		{"flags of rollback", []string{"rpmirror", "rollback", "-"}, -1, "-c --repo --to --help"},
		{"flags of resume", []string{"rpmirror", "resume", "-"}, -1, "-c --repo --help"},
		{"snapshot verbs", []string{"rpmirror", "snapshot", ""}, -1, "pin unpin"},
		{"snapshot verbs after flags", []string{"rpmirror", "snapshot", "-c", "snap.yaml", "u"}, -1, "unpin"},
		{"flags of snapshot", []string{"rpmirror", "snapshot", "pin", "--"}, -1, "--repo --help"},
		{"snapshot names", []string{"rpmirror", "snapshot", "pin", "-c", "snap.yaml", "--repo", "el9", ""}, -1, "20261125T120000Z 20261126T120000Z"},
		{"snapshot names before the flags", []string{"rpmirror", "snapshot", "unpin", "2026112", "-c", "snap.yaml", "--repo", "el9"}, 3, "20261125T120000Z 20261126T120000Z"},
		{"snapshot names without --repo", []string{"rpmirror", "snapshot", "pin", "-c", "snap.yaml", ""}, -1, ""},
		{"rollback --to", []string{"rpmirror", "rollback", "-c", "snap.yaml", "--repo", "el9", "--to", "20261126"}, -1, "20261126T120000Z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cword := tc.cword
			if cword < 0 {
				cword = len(tc.words) - 1
			}
			var quoted []string
			for _, w := range tc.words {
				quoted = append(quoted, "'"+w+"'")
			}
			prog := fmt.Sprintf(`source ./rpmirror.bash
COMP_WORDS=(%s); COMP_CWORD=%d
_rpmirror
echo "${COMPREPLY[*]}"`, strings.Join(quoted, " "), cword)
			cmd := exec.Command("bash", "--norc", "--noprofile", "-c", prog)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "PATH="+path)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("bash: %v\n%s", err, out)
			}
			if got := strings.TrimSpace(string(out)); got != tc.want {
				t.Errorf("completed %q, want %q", got, tc.want)
			}
		})
	}
}

func TestZshCompletion(t *testing.T) {
	code, script, stderr := rpmirror(t, "gen-completion", "--shell", "zsh")
	if code != exitOK {
		t.Fatalf("gen-completion: exit %d: %s", code, stderr)
	}
	cmds, err := describeCommands()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cmds {
		if !strings.Contains(script, "\n        '"+c.Name+":") || !strings.Contains(script, "\n    "+c.Name+")\n") {
			t.Errorf("the script does not complete the command %s", c.Name)
		}
		for _, f := range c.Flags {
			if !strings.Contains(script, "{-,--}'"+f.Name+"[") {
				t.Errorf("the script does not complete %s %s", c.Name, f.Dash())
			}
		}
	}
	if !strings.Contains(script, ":NAME:_rpmirror_repos'") {
		t.Error("--repo does not complete repo names")
	}
	if !strings.Contains(script, "'to[the SNAPSHOT to roll back to (rpmirror snapshots lists them)]:SNAPSHOT:_rpmirror_snapshots'") {
		t.Error("rollback --to does not complete snapshot names")
	}
	if !strings.Contains(script, "'1:verb:(pin unpin)' \\\n            '2:SNAPSHOT:_rpmirror_snapshots'") {
		t.Error("snapshot does not complete pin|unpin and then a snapshot name")
	}
	if _, err := exec.LookPath("zsh"); err != nil {
		t.Skip("zsh is not installed (apt-get install zsh): cannot check the script's syntax")
	}
	file := filepath.Join(t.TempDir(), "_rpmirror")
	if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("zsh", "-n", file).CombinedOutput(); err != nil {
		t.Errorf("zsh -n: %v\n%s", err, out)
	}
}

// twoRepos is a configuration with two repos, whose names the completion
// offers.
const twoRepos = `state_dir: /var/lib/rpmirror
repos:
  - name: gluster-9-el8
    origin: https://origin.example/el8/
    mirrors: [{name: local, path: /srv/mirror/el8}]
  - name: gluster-9-el9
    origin: https://origin.example/el9/
    mirrors: [{name: local, path: /srv/mirror/el9}]
`

// writeSnapshotMirror writes dir/snap.yaml, whose repo el9 has a written
// mirror in dir holding two snapshots.
func writeSnapshotMirror(t *testing.T, dir string) {
	t.Helper()
	m := filepath.Join(dir, "el9-mirror")
	for _, n := range []string{"20261125T120000Z", "20261126T120000Z"} {
		if err := os.MkdirAll(filepath.Join(m, "snapshots", n, "repodata"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	index := `{"repo": "el9", "snapshots": [{"name": "20261125T120000Z"}, {"name": "20261126T120000Z"}]}`
	if err := os.WriteFile(filepath.Join(m, "snapshots", "index.json"), []byte(index), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := "state_dir: " + filepath.Join(dir, "state") + "\nrepos:\n  - name: el9\n    origin: https://origin.example/el9/\n" +
		"    snapshots: {keep: 2}\n    mirrors: [{name: local, path: " + m + "}]\n"
	if err := os.WriteFile(filepath.Join(dir, "snap.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCompleteRepos(t *testing.T) {
	two := filepath.Join(t.TempDir(), "mirrors.yaml")
	if err := os.WriteFile(two, []byte(twoRepos), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		file       string
		wantCode   int
		wantStdout string
	}{
		{"two repos", two, exitOK, "gluster-9-el8\ngluster-9-el9\n"},
		{"no repos", "../../config/testdata/good-no-repos.yaml", exitOK, ""},
		{"bad file", "../../config/testdata/bad-syntax.yaml", exitUsage, ""},
		{"missing file", "does-not-exist.yaml", exitUsage, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, _ := rpmirror(t, completeReposCommand, "-c", tc.file)
			if code != tc.wantCode || stdout != tc.wantStdout {
				t.Errorf("exit %d, stdout %q; want %d, %q", code, stdout, tc.wantCode, tc.wantStdout)
			}
		})
	}
}
