package filter

import (
	"fmt"
	"path"
	"slices"

	"github.com/rpmirror/rpmirror/repodata"
)

// Rules say which packages of a repository a filtered mirror keeps. The
// zero Rules keep every package.
type Rules struct {
	// Arch keeps only packages of these arches ("x86_64", "noarch",
	// "src", ...); empty keeps every arch.
	Arch []string
	// Include keeps only packages whose name matches one of these globs
	// (path.Match syntax: *, ?, [...]); empty keeps every name.
	Include []string
	// Exclude drops packages whose name matches one of these globs,
	// after Include.
	Exclude []string
	// Newest keeps, of each name.arch, the packages of its Newest newest
	// versions in rpm's order (see EVR.Compare); 0 keeps every version.
	Newest int
}

// Reason says why a package is kept or dropped.
type Reason int

// Reasons, in the order Rules apply them: the first that drops a package
// is its reason.
const (
	Kept Reason = iota
	DroppedArch
	DroppedInclude
	DroppedExclude
	DroppedNewest
)

func (r Reason) String() string {
	switch r {
	case Kept:
		return "kept"
	case DroppedArch:
		return "arch"
	case DroppedInclude:
		return "include"
	case DroppedExclude:
		return "exclude"
	case DroppedNewest:
		return "newest"
	}
	return fmt.Sprintf("Reason(%d)", int(r))
}

// Validate checks the globs and the count.
func (r *Rules) Validate() error {
	for _, list := range [][]string{r.Include, r.Exclude} {
		for _, g := range list {
			if _, err := path.Match(g, ""); err != nil {
				return fmt.Errorf("filter: name glob %q: %w", g, err)
			}
		}
	}
	if r.Newest < 0 {
		return fmt.Errorf("filter: newest %d: want 0 or more", r.Newest)
	}
	return nil
}

// IsZero reports whether r keeps every package.
func (r *Rules) IsZero() bool {
	return len(r.Arch) == 0 && len(r.Include) == 0 && len(r.Exclude) == 0 && r.Newest == 0
}

// Match returns the reason the arch, include and exclude rules keep or
// drop p. Newest needs every package of the repository: see Write.
func (r *Rules) Match(p *repodata.Package) Reason {
	if len(r.Arch) > 0 && !slices.Contains(r.Arch, p.Arch) {
		return DroppedArch
	}
	if len(r.Include) > 0 && !matchAny(r.Include, p.Name) {
		return DroppedInclude
	}
	if matchAny(r.Exclude, p.Name) {
		return DroppedExclude
	}
	return Kept
}

func matchAny(globs []string, name string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
	}
	return false
}

// Counts are how many packages a filter kept, and dropped for each
// reason.
type Counts struct {
	Packages int // in the origin's primary metadata
	Kept     int
	Arch     int
	Include  int
	Exclude  int
	Newest   int
}

func (c *Counts) add(r Reason) {
	switch r {
	case Kept:
		c.Kept++
	case DroppedArch:
		c.Arch++
	case DroppedInclude:
		c.Include++
	case DroppedExclude:
		c.Exclude++
	case DroppedNewest:
		c.Newest++
	}
}

// String returns "kept K of N; dropped: arch A, include I, exclude E,
// newest W".
func (c Counts) String() string {
	return fmt.Sprintf("kept %d of %d; dropped: arch %d, include %d, exclude %d, newest %d",
		c.Kept, c.Packages, c.Arch, c.Include, c.Exclude, c.Newest)
}
