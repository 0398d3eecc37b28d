package sync_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpmirror/rpmirror/internal/testrepo"
)

// TestDeltaRPMsNotMirrored pins what docs/configuration.md ("origin")
// and docs/design.md say of an origin made with createrepo_c --deltas:
// its prestodelta metadata is published, the delta RPMs it names
// (drpms/*.drpm) are not mirrored.
func TestDeltaRPMsNotMirrored(t *testing.T) {
	key := testrepo.TestKey(t)
	base := t.TempDir()
	old := testrepo.Pkg{Name: "tool", Version: "1.0", Release: "1", Arch: "x86_64", Sign: key}
	pkgs := []testrepo.Pkg{{Name: "tool", Version: "1.1", Release: "1", Arch: "x86_64", Sign: key}}
	// createrepo_c makes deltas to the packages of the repository from
	// the older packages in another directory (not its subdirectories).
	v0, v1 := filepath.Join(base, "v0"), filepath.Join(base, "v1")
	buildRepo(t, v0, "", testrepo.RepoOpts{Revision: "1"}, old)
	buildRepo(t, v1, "", testrepo.RepoOpts{Revision: "2", Args: []string{"--deltas", "--oldpackagedirs", filepath.Dir(filepath.Join(v0, filepath.FromSlash(old.RelPath())))}}, pkgs...)
	var drpms []string
	filepath.WalkDir(v1, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".drpm") {
			rel, _ := filepath.Rel(v1, p)
			drpms = append(drpms, filepath.ToSlash(rel))
		}
		return nil
	})
	if len(drpms) == 0 {
		t.Skip("createrepo_c --deltas made no delta RPM (built without DeltaRPM support?)")
	}
	o := newOrigin(t, filepath.Join(base, "origin"))
	republish(t, o, v1)
	h := newHarness(t, o, key.PublicPath)
	h.mustSync()
	for _, m := range h.mirrors {
		files := tree(t, m)
		presto := false
		for p := range files {
			presto = presto || strings.Contains(p, "prestodelta")
		}
		if !presto {
			t.Errorf("mirror %s: no prestodelta metadata", m)
		}
		for _, d := range drpms {
			if _, ok := files[d]; ok {
				t.Errorf("mirror %s has %s: delta RPMs are mirrored now; update docs/configuration.md (origin), docs/design.md and check --explain", m, d)
			}
		}
		for _, p := range pkgs {
			if _, ok := files[p.RelPath()]; !ok {
				t.Errorf("mirror %s lacks %s", m, p.RelPath())
			}
		}
	}
}
