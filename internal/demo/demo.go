// Package demo holds the small signed repository that `rpmirror demo`
// (and `make demo`) serves on loopback as an origin: two revisions of it,
// v1 and v2 (one package added, one updated, one removed), and the public
// key that signed its packages. The fixtures are built by
// scripts/mkrepo.sh; see testdata/README.md.
package demo

import (
	"embed"
	"io/fs"
)

//go:embed origin
var origin embed.FS

//go:embed RPM-GPG-KEY-rpmirror-test
var key []byte

// Revision returns the files of revision "v1" or "v2" of the demo origin,
// rooted where repodata/ is.
func Revision(name string) (fs.FS, error) {
	return fs.Sub(origin, "origin/"+name)
}

// Key returns the armored public key that signed the demo packages.
func Key() []byte { return key }
