package testrepo

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// DefaultTools are the programs needed to build a signed repository.
var DefaultTools = []string{"rpmbuild", "rpmsign", "gpg", "gpgconf", "createrepo_c"}

// MissingTools returns the tools, of those named (DefaultTools when none
// are), that are not found in $PATH.
func MissingTools(tools ...string) []string {
	if len(tools) == 0 {
		tools = DefaultTools
	}
	var missing []string
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	return missing
}

// RequireTools skips t, naming what is missing, unless every tool named
// (DefaultTools when none are) is in $PATH.
func RequireTools(t testing.TB, tools ...string) {
	t.Helper()
	if missing := MissingTools(tools...); len(missing) > 0 {
		t.Skipf("skipping: %s not found in $PATH (Debian packages: rpm, gnupg, gnupg1, createrepo-c, dnf, dnf-plugins-core)", strings.Join(missing, ", "))
	}
}

// RunError is the error of an external command that failed. Stderr holds
// what it printed, trimmed to its last few kilobytes.
type RunError struct {
	Cmd    string
	Err    error
	Stderr string
}

func (e *RunError) Error() string {
	if e.Stderr == "" {
		return fmt.Sprintf("running %s: %v", e.Cmd, e.Err)
	}
	return fmt.Sprintf("running %s: %v: %s", e.Cmd, e.Err, e.Stderr)
}

func (e *RunError) Unwrap() error { return e.Err }

// run runs name with args in dir (the current directory when empty) with
// env added to the environment, and returns its standard output.
func run(dir string, env []string, name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = nil
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), &RunError{Cmd: describe(name, args), Err: err, Stderr: tail(stderr.String(), 4096)}
	}
	return stdout.Bytes(), nil
}

// describe shortens a command line for error messages: long argument
// lists (hundreds of RPM paths) are elided.
func describe(name string, args []string) string {
	const maxArgs = 12
	if len(args) > maxArgs {
		args = append(append([]string{}, args[:maxArgs]...), fmt.Sprintf("... (%d more)", len(args)-maxArgs))
	}
	return name + " " + strings.Join(args, " ")
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = "..." + s[len(s)-n:]
	}
	return s
}

// errSkip marks errors caused by a missing tool, so the testing.TB wrappers
// skip rather than fail.
var errSkip = errors.New("tool not available")

func needTools(tools ...string) error {
	if missing := MissingTools(tools...); len(missing) > 0 {
		return fmt.Errorf("%w: %s not found in $PATH", errSkip, strings.Join(missing, ", "))
	}
	return nil
}

// check fails t on err, or skips it when err is a missing tool.
func check(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if errors.Is(err, errSkip) {
		t.Skipf("skipping: %v", err)
	}
	t.Fatal(err)
}

func lookPath(tool string) (string, error) {
	p, err := exec.LookPath(tool)
	if err != nil {
		return "", fmt.Errorf("%w: %s not found in $PATH", errSkip, tool)
	}
	return p, nil
}
