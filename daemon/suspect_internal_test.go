package daemon

import (
	"slices"
	"testing"

	"github.com/rpmirror/rpmirror/health"
)

// TestSuspect: the daemon's syncs are told the one file a mirror's last
// probe found it down on (the metadata file when the probe got that far:
// the package before it passed), and nothing for a mirror up, down on
// its repomd.xml, or not probed.
func TestSuspect(t *testing.T) {
	r := &repo{tracker: health.NewTracker()}
	for _, tc := range []struct {
		name string
		last *health.Result
		want []string
	}{
		{"not probed", nil, nil},
		{"up", &health.Result{State: health.OK, Package: "Packages/a.rpm", Metadata: "repodata/p.xml.gz"}, nil},
		{"down on repomd.xml", &health.Result{State: health.Down}, nil},
		{"down on a package", &health.Result{State: health.Down, Package: "Packages/a.rpm"}, []string{"Packages/a.rpm"}},
		{"down on a metadata file", &health.Result{State: health.Down, Package: "Packages/a.rpm", Metadata: "repodata/p.xml.gz"}, []string{"repodata/p.xml.gz"}},
		{"down on repomd.xml.asc", &health.Result{State: health.Down, Metadata: "repodata/repomd.xml.asc"}, []string{"repodata/repomd.xml.asc"}},
	} {
		name := "m-" + tc.name
		if tc.last != nil {
			r.tracker.Update(name, *tc.last)
		}
		if got := r.suspect("repo", name); !slices.Equal(got, tc.want) {
			t.Errorf("%s: suspect = %q, want %q", tc.name, got, tc.want)
		}
	}
}
