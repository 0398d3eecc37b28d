package health

import (
	"fmt"
	"io"
	"math/rand/v2"
	"strings"

	"github.com/rpmirror/rpmirror/repodata"
)

// Package is a package of a revision that a probe may check.
type Package struct {
	// Href is its <location href>, relative to the repository root.
	Href string
	// Size is its size in bytes as the revision's primary metadata gives
	// it (<size package="N">); 0 or less when not known (a primary.xml
	// without it, or a sample recorded before sizes were): the probe then
	// checks that the package is served, not its size.
	Size int64
	// Always marks a file every probe checks, beside the one package it
	// samples among the others, and as metadata (its first bytes are not
	// an RPM's): repodata/repomd.xml.asc, when the revision has one.
	Always bool
	// Content, for an Always file, is what it must hold, byte for byte
	// ("": not checked): the probe fetches it whole (it is small) and
	// compares. A string, so that a Package stays comparable.
	Content string
}

// SamplePackages reads the packages of an uncompressed primary.xml
// (decompress it first, with repodata.Decompress) and returns at most n
// of them (href and size), chosen uniformly at random by reservoir
// sampling, for Prober.Probe to pick from. Its memory is bounded by n,
// not by the size of the repository: a 100,000-package primary.xml yields
// n packages.
//
// With n at least the number of packages, every package is returned, in
// document order. The packages returned are distinct positions in the
// document. rnd returns a number in [0, k); nil means rand.IntN of
// math/rand/v2.
//
// Packages that do not live under the repository root are skipped: those
// with an xml:base (they are fetched from another server), and hrefs that
// are absolute or climb out with "..". A malformed or truncated primary.xml
// is an error (from repodata.PrimaryReader), never a shorter sample.
func SamplePackages(primary io.Reader, n int, rnd func(int) int) ([]Package, error) {
	if n < 1 {
		return nil, fmt.Errorf("sampling packages: sample size %d, want at least 1", n)
	}
	if rnd == nil {
		rnd = rand.IntN
	}
	out := make([]Package, 0, min(n, 1024))
	pr := repodata.NewPrimaryReader(primary)
	seen := 0 // eligible packages so far
	for {
		pkg, err := pr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("sampling packages: %w", err)
		}
		if pkg.Base != "" || !underRoot(pkg.Href) {
			continue
		}
		seen++
		if len(out) < n {
			out = append(out, Package{Href: strings.Clone(pkg.Href), Size: pkg.Size})
			continue
		}
		// Algorithm R: the seen-th package replaces a sampled one with
		// probability n/seen.
		if j := rnd(seen); j >= 0 && j < n {
			out[j] = Package{Href: strings.Clone(pkg.Href), Size: pkg.Size}
		}
	}
}

// underRoot reports whether href is a relative path that stays under the
// repository root.
func underRoot(href string) bool {
	if href == "" || strings.HasPrefix(href, "/") || strings.Contains(href, "\\") {
		return false
	}
	for seg := range strings.SplitSeq(href, "/") {
		if seg == ".." {
			return false
		}
	}
	return true
}
