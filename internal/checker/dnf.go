package checker

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/rpmirror/rpmirror/internal/testrepo"
)

// DNFPackages lists with dnf repoquery, in a throw-away installroot, the
// packages a client sees at the mirror in dir (a file:// baseurl), sorted
// as NEVRAs. With keyFiles dnf checks repomd.xml's signature
// (repo_gpgcheck=1). It skips t when dnf is missing.
func DNFPackages(t testing.TB, dir string, keyFiles ...string) ([]string, error) {
	t.Helper()
	testrepo.RequireTools(t, "dnf")
	repo := testrepo.Repo{Name: "checked-mirror", URL: "file://" + dir, GPGKeys: keyFiles, RepoGPGCheck: len(keyFiles) > 0}
	out, err := testrepo.DNFWithRepoFile(t, repo.String(), "repoquery", "-q", "--qf", "%{name}-%{epoch}:%{version}-%{release}.%{arch}")
	if err != nil {
		return nil, fmt.Errorf("%w\n%s", err, out)
	}
	got := strings.Fields(out)
	sort.Strings(got)
	return got, nil
}

// DNF checks that dnf lists exactly the packages of r, the report of
// Check on dir, and returns an error saying what differs. It skips t when
// dnf is missing.
func DNF(t testing.TB, dir string, r *Report, keyFiles ...string) error {
	t.Helper()
	got, err := DNFPackages(t, dir, keyFiles...)
	if err != nil {
		return err
	}
	want := r.NEVRAs()
	if slices.Equal(got, want) {
		return nil
	}
	var missing, extra []string
	for _, w := range want {
		if _, ok := slices.BinarySearch(got, w); !ok {
			missing = append(missing, w)
		}
	}
	for _, g := range got {
		if _, ok := slices.BinarySearch(want, g); !ok {
			extra = append(extra, g)
		}
	}
	return fmt.Errorf("dnf lists %d packages, primary %d: missing %v, extra %v", len(got), len(want), missing, extra)
}
