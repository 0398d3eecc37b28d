package testrepo

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// HostDNFDirs are where dnf keeps the host's own state: its databases and
// plugin data (the local plugin's repository is under
// /var/lib/dnf/plugins/local), its cache, its configuration and the host's
// repositories. No dnf call of the project may change anything there.
var HostDNFDirs = []string{"/var/lib/dnf", "/var/cache/dnf", "/etc/dnf", "/etc/yum.repos.d"}

// DNFSafeArgs are the options every dnf call of the project passes, so
// that dnf leaves the host as it was: no plugin runs except the ones the
// tests call as commands (download, reposync). The local plugin of
// dnf-plugins-core, enabled by default, otherwise copies every package a
// transaction installs into /var/lib/dnf/plugins/local and adds it to the
// host's repositories as _dnf_local, even with --installroot.
var DNFSafeArgs = []string{"--disableplugin=*", "--enableplugin=download,reposync"}

// HostDNFSnapshot lists every file and directory under HostDNFDirs with
// its type, size and modification time.
func HostDNFSnapshot() (map[string]string, error) {
	snap := map[string]string{}
	for _, dir := range HostDNFDirs {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if os.IsNotExist(err) && p == dir {
					snap[p] = "absent"
					return nil
				}
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			snap[p] = fmt.Sprintf("%v %d %s", fi.Mode(), fi.Size(), fi.ModTime().UTC().Format("2006-01-02T15:04:05.000000000"))
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return snap, nil
}

// HostDNFUnchanged snapshots HostDNFDirs and returns a function that fails
// t with what changed since (created, removed or modified), if anything.
func HostDNFUnchanged(t testing.TB) func() {
	t.Helper()
	before, err := HostDNFSnapshot()
	if err != nil {
		t.Fatalf("listing the host's dnf state: %v", err)
	}
	return func() {
		t.Helper()
		after, err := HostDNFSnapshot()
		if err != nil {
			t.Fatalf("listing the host's dnf state: %v", err)
		}
		var diffs []string
		for p, a := range after {
			if b, ok := before[p]; !ok {
				diffs = append(diffs, "created "+p)
			} else if a != b {
				diffs = append(diffs, fmt.Sprintf("modified %s (%s -> %s)", p, b, a))
			}
		}
		for p := range before {
			if _, ok := after[p]; !ok {
				diffs = append(diffs, "removed "+p)
			}
		}
		slices.Sort(diffs)
		for _, d := range diffs {
			t.Errorf("the host's dnf state changed: %s", d)
		}
	}
}
