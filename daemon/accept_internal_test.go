package daemon

import (
	"slices"
	"testing"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/health"
	"github.com/rpmirror/rpmirror/repodata"
	"github.com/rpmirror/rpmirror/state"
)

// TestAcceptPackages: the packages a probe of a mirror serving a verified
// revision checks, and at which sizes. Sizes are only ever those of the
// revision the mirror serves: the revision's own sample, or one read from
// a written mirror serving that same revision; a sample read from a
// mirror serving another revision is checked for presence only (a
// package rebuilt under the same name has another size).
func TestAcceptPackages(t *testing.T) {
	sized := []health.Package{{Href: "Packages/a-1.rpm", Size: 100}, {Href: "Packages/b-1.rpm", Size: 200}}
	tests := []struct {
		name       string
		rev        state.Revision
		packages   []health.Package
		packagesOf string
		want       []health.Package
	}{
		{"the revision's sample with sizes", state.Revision{SHA256: "cur", Packages: []string{"Packages/c-1.rpm"}, PackageSizes: []int64{300}}, sized, "cur",
			[]health.Package{{Href: "Packages/c-1.rpm", Size: 300}}},
		{"no sizes recorded, a sample of the same revision", state.Revision{SHA256: "cur", Packages: []string{"Packages/c-1.rpm"}}, sized, "cur", sized},
		{"no sizes recorded, a sample of another revision", state.Revision{SHA256: "cur", Packages: []string{"Packages/c-1.rpm"}}, sized, "old",
			[]health.Package{{Href: "Packages/c-1.rpm"}}},
		{"no sample recorded, a sample of the same revision", state.Revision{SHA256: "cur"}, sized, "cur", sized},
		{"no sample recorded, a sample of another revision", state.Revision{SHA256: "cur"}, sized, "old",
			[]health.Package{{Href: "Packages/a-1.rpm"}, {Href: "Packages/b-1.rpm"}}},
		{"no sample at all", state.Revision{SHA256: "cur"}, nil, "", []health.Package{}},
		// Served with its signature: every probe fetches it and compares.
		{"signed", state.Revision{SHA256: "cur", Packages: []string{"Packages/c-1.rpm"}, PackageSizes: []int64{300}, Signature: []byte("-----BEGIN PGP SIGNATURE-----")}, nil, "",
			[]health.Package{{Href: "Packages/c-1.rpm", Size: 300}, {Href: "repodata/repomd.xml.asc", Always: true, Content: "-----BEGIN PGP SIGNATURE-----"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &repo{verified: &state.Verified{Revisions: []state.Revision{tc.rev}}, packages: slices.Clone(tc.packages), packagesOf: tc.packagesOf}
			got, reason, ok := r.accept(&repodata.Repomd{}, "cur")
			if !ok {
				t.Fatalf("the current revision was refused: %s", reason)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("probes check %v, want %v", got, tc.want)
			}
		})
	}
	// With sign_with, mirrors may hold different valid signatures of
	// one repomd.xml (one is made for a mirror that lacks it): presence
	// only.
	signed := &repo{cfg: config.Repo{SignWith: "/etc/rpmirror/signing.key"}, verified: &state.Verified{Revisions: []state.Revision{{SHA256: "cur", Signature: []byte("sig")}}}}
	if got, _, _ := signed.accept(&repodata.Repomd{}, "cur"); !slices.Equal(got, []health.Package{{Href: "repodata/repomd.xml.asc", Always: true}}) {
		t.Errorf("with sign_with, probes check %v, want repomd.xml.asc's presence", got)
	}
	r := &repo{verified: &state.Verified{Revisions: []state.Revision{{SHA256: "cur"}}}, packages: sized, packagesOf: "cur"}
	if _, _, ok := r.accept(&repodata.Repomd{}, "unknown"); ok {
		t.Error("a revision never verified was accepted")
	}
}
