package benchgen

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/rpmirror/rpmirror/internal/testrepo"
)

// TestBuildRPMRepoRevisions: each revision built From the one before,
// with Updated packages at the next Release, differs from it in exactly
// those packages: the rest are the same files, byte for byte.
func TestBuildRPMRepoRevisions(t *testing.T) {
	testrepo.RequireTools(t, "rpmbuild", "rpmsign", "gpg", "createrepo_c")
	key := testrepo.TestKey(t)
	dir := t.TempDir()
	o := RPMOpts{Packages: 4, Size: 512}
	revs := []struct {
		name, release string
	}{{"v1", ""}, {"v2", ""}, {"v3", "3"}}
	var prev []string
	for i, r := range revs {
		ro := o
		if i > 0 {
			ro.Updated, ro.Release, ro.From = 2, r.release, filepath.Join(dir, revs[i-1].name)
		}
		rel, err := BuildRPMRepo(filepath.Join(dir, r.name), ro, key)
		if err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
		if len(rel) != o.Packages {
			t.Fatalf("%s: %d packages, want %d", r.name, len(rel), o.Packages)
		}
		if i > 0 {
			var changed []string
			for _, p := range rel {
				if !slices.Contains(prev, p) {
					changed = append(changed, p)
					continue
				}
				a, errA := os.ReadFile(filepath.Join(dir, revs[i-1].name, p))
				b, errB := os.ReadFile(filepath.Join(dir, r.name, p))
				if errA != nil || errB != nil || !bytes.Equal(a, b) {
					t.Errorf("%s: %s differs from %s's (%v, %v)", r.name, p, revs[i-1].name, errA, errB)
				}
			}
			if len(changed) != 2 {
				t.Errorf("%s: new packages %q, want 2", r.name, changed)
			}
			want := "-1.0-" + map[string]string{"": "2", "3": "3"}[r.release] + "."
			for _, p := range changed {
				if !bytes.Contains([]byte(p), []byte(want)) {
					t.Errorf("%s: new package %s, want release %q", r.name, p, want)
				}
			}
		}
		prev = rel
	}
}
