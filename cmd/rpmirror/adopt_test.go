package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpmirror/rpmirror/internal/testrepo"
)

// TestSyncReportsPackagesCheckedInPlace: when rpmirror keeps no record of
// publishing a mirror (here: its state_dir was lost), the first sync
// reads back every package the mirror holds and checks it as a download
// is; its summary says so, for each mirror, in the dry run and the sync,
// and the sync after it, which trusts its own index again, does not.
func TestSyncReportsPackagesCheckedInPlace(t *testing.T) {
	pkgs := testrepo.DemoPackages(nil)
	f := newFixture(t, pkgs, 4)
	if code, out, errOut := rpmirror(t, "sync", "-c", f.cfg); code != 0 {
		t.Fatalf("sync: exit %d\n%s%s", code, out, errOut)
	}
	if err := os.RemoveAll(filepath.Join(f.dir, "state")); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("checked %d kept packages in place", len(pkgs))
	for _, step := range []struct {
		args    []string
		checked bool
	}{
		{[]string{"sync", "--dry-run", "-c", f.cfg}, true},
		{[]string{"sync", "-c", f.cfg}, true},
		{[]string{"sync", "-c", f.cfg}, false},
	} {
		code, out, errOut := rpmirror(t, step.args...)
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s%s", strings.Join(step.args, " "), code, out, errOut)
		}
		for _, m := range []string{"m1", "m2"} {
			line := mirrorLine(out, m)
			if got := strings.Contains(line, want); got != step.checked {
				t.Errorf("%s: mirror %s's line %q says %q: %v, want %v", strings.Join(step.args, " "), m, line, want, got, step.checked)
			}
		}
	}
	if got := f.packageGets(); got != len(pkgs) {
		t.Errorf("packages downloaded: %d, want %d (the first sync's; those kept are read back, not fetched)", got, len(pkgs))
	}
	f.checkConsistent(t, "after the syncs")
}

// mirrorLine returns the line of a sync's summary about mirror name.
func mirrorLine(out, name string) string {
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == name && strings.HasPrefix(l, "  ") {
			return l
		}
	}
	return ""
}
