package main

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rpmirror/rpmirror/internal/gpghome"
	"github.com/rpmirror/rpmirror/internal/testrepo"
)

// TestDemoLeavesTheHostAlone runs `rpmirror demo` (what `make demo` runs),
// whose last step installs a package with dnf into a scratch installroot,
// and checks that the host's dnf state did not change: dnf-plugins-core's
// local plugin, on by default, would copy the package into
// /var/lib/dnf/plugins/local and add a _dnf_local repository to the host.
// Another process running dnf at the same time would show up here too.
func TestDemoLeavesTheHostAlone(t *testing.T) {
	testrepo.RequireTools(t, "dnf")
	unchanged := testrepo.HostDNFUnchanged(t)
	dir := t.TempDir()
	code, out, errOut := rpmirror(t, "demo", "-dir", dir)
	if code != 0 {
		t.Fatalf("demo: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "dnf repoquery against mirror1") {
		t.Fatalf("the demo did not run dnf:\n%s", out)
	}
	unchanged()
	// dnf's gpg homes stay in the kept directory, but nothing of gpg's
	// outside it: no agent, no socket directory under /run/user/<uid>.
	homes := gpghome.Homes(dir)
	if len(homes) == 0 {
		t.Fatal("the demo's dnf kept no gpg home (repo_gpgcheck=1 keeps one per repository)")
	}
	for _, h := range homes {
		// Computed: gpgconf --list-dirs would create the directory.
		p := gpghome.SocketDir(h)
		if strings.HasPrefix(p, dir) {
			continue // the home is the socket directory: kept with it, and the agent checked below
		}
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("after the demo, gpg's socket directory %s for %s is still there (%v)", p, h, err)
		}
	}
	for _, h := range homes {
		if _, err := os.Lstat(filepath.Join(gpghome.SocketDir(h), "S.gpg-agent")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("after the demo, a gpg-agent socket for %s is still there (%v)", h, err)
		}
	}
}

// TestDemoDNFRunsNoPlugin: the demo's dnf loads no plugin at all. Unlike
// the snapshot of the host's directories above, this holds whatever else
// runs on the machine.
func TestDemoDNFRunsNoPlugin(t *testing.T) {
	testrepo.RequireTools(t, "dnf")
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "repos.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "dnf.conf"), []byte("[main]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("dnf", append(demoDNFArgs(root), "-v", "repolist")...).CombinedOutput()
	if err != nil {
		t.Fatalf("dnf -v repolist: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "DNF version") {
		t.Fatalf("dnf -v printed no version: was it verbose?\n%s", out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "Loaded plugins:") && strings.TrimSpace(strings.TrimPrefix(l, "Loaded plugins:")) != "" {
			t.Errorf("the demo's dnf loads plugins: %s", l)
		}
	}
}

// TestDemoNamesNoRemovedFile: the demo without -dir removes its
// directory when it ends, so its last lines must not send the user to a
// file in it (it said "State: rpmirror status -c /tmp/rpmirror-demo-N/
// mirrors.yaml", gone by then).
func TestDemoNamesNoRemovedFile(t *testing.T) {
	code, out, errOut := rpmirror(t, "demo")
	if code != 0 {
		t.Fatalf("demo: exit %d\n%s%s", code, out, errOut)
	}
	for _, m := range regexp.MustCompile(`status -c (/\S+)`).FindAllStringSubmatch(out, -1) {
		if _, err := os.Stat(m[1]); err != nil {
			t.Errorf("the demo's output names %s, which is gone: %v\n%s", m[1], err, out)
		}
	}
	if !strings.Contains(out, "rpmirror demo -dir DIR") {
		t.Errorf("the demo does not say how to keep its directory:\n%s", out)
	}
}
