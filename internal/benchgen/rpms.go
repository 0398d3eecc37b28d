package benchgen

import (
	"cmp"
	"fmt"

	"github.com/rpmirror/rpmirror/internal/testrepo"
)

// RPMOpts describe a signed RPM repository to build.
type RPMOpts struct {
	Packages int    // number of packages, named as by testrepo.ManyPackages
	Size     int    // payload bytes per package (incompressible)
	Prefix   string // prefix of every package name, to tell fixtures apart
	// Updated packages (spread evenly) get release Release (2 when
	// empty) instead of 1: the second revision of a repository in which
	// a few packages changed; the third with Release 3 and From the
	// second, and so on.
	Updated int
	Release string
	// From is an earlier revision built with the same options: packages
	// that did not change are copied from it, byte for byte, not rebuilt.
	From string
}

// Packages lists the packages of o, signed by key.
func (o RPMOpts) packages(key *testrepo.Key) []testrepo.Pkg {
	pkgs := testrepo.ManyPackages(o.Packages, key)
	step := 1
	if o.Updated > 0 {
		step = max(o.Packages/o.Updated, 1)
	}
	for i := range pkgs {
		if o.Prefix != "" {
			pkgs[i].Name = fmt.Sprintf("%c%s-%05d", 'a'+i%26, o.Prefix, i)
		}
		pkgs[i].Size = o.Size
		if o.Updated > 0 && i%step == 0 && i/step < o.Updated {
			pkgs[i].Release = cmp.Or(o.Release, "2")
		}
	}
	return pkgs
}

// BuildRPMRepo builds the packages of o into dir, signed by key, and
// writes createrepo_c metadata with a signed repomd.xml. It returns the
// packages' paths relative to dir.
func BuildRPMRepo(dir string, o RPMOpts, key *testrepo.Key) ([]string, error) {
	pkgs := o.packages(key)
	var err error
	if o.From != "" {
		_, err = testrepo.BuildDerived(dir, o.From, pkgs...)
	} else {
		_, err = testrepo.Build(dir, pkgs...)
	}
	if err != nil {
		return nil, err
	}
	if err := testrepo.MakeRepo(dir, testrepo.RepoOpts{ChecksumType: "sha256", Compress: "gz", NoDatabase: true, SignRepomd: key}); err != nil {
		return nil, err
	}
	rel := make([]string, len(pkgs))
	for i, p := range pkgs {
		rel[i] = p.RelPath()
	}
	return rel, nil
}
