package server

import (
	"slices"
	"strings"
)

// Entry is how clients name one repository: the repo's name in the
// configuration and the mirrorlist_name and arch a .repo file asks for.
type Entry struct {
	Name           string
	MirrorlistName string
	Arch           string
}

// Catalog finds the repository a request names. It is immutable; build
// a new one when the configuration changes.
type Catalog struct {
	entries []Entry
	exact   map[[2]string]int // (mirrorlist_name, arch) -> entry
	byList  map[string][]int  // mirrorlist_name -> entries
	byName  map[string]int    // configuration name -> entry
	pairs   []string
}

// NewCatalog indexes entries; Find returns indices into it.
func NewCatalog(entries []Entry) *Catalog {
	c := &Catalog{
		entries: slices.Clone(entries),
		exact:   make(map[[2]string]int, len(entries)),
		byList:  make(map[string][]int, len(entries)),
		byName:  make(map[string]int, len(entries)),
	}
	for i, e := range entries {
		k := [2]string{e.MirrorlistName, e.Arch}
		if _, dup := c.exact[k]; !dup {
			c.exact[k] = i
		}
		c.byList[e.MirrorlistName] = append(c.byList[e.MirrorlistName], i)
		if _, dup := c.byName[e.Name]; !dup {
			c.byName[e.Name] = i
		}
		p := "repo=" + e.MirrorlistName
		if e.Arch != "" {
			p += "&arch=" + e.Arch
		}
		c.pairs = append(c.pairs, p)
	}
	slices.Sort(c.pairs)
	c.pairs = slices.Compact(c.pairs)
	return c
}

// Find returns the entry a request for ?repo=name&arch=arch means:
//
//  1. the entry with that mirrorlist_name and arch (with arch "" when
//     the request has none);
//  2. with an arch asked for, the entry with that mirrorlist_name and no
//     arch (a repository that is the same for every architecture);
//     without one, the only entry with that mirrorlist_name;
//  3. the entry whose configuration name is name, whatever arch is
//     asked (so ?repo=NAME keeps working when mirrorlist_name is set).
func (c *Catalog) Find(name, arch string) (int, bool) {
	if i, ok := c.exact[[2]string{name, arch}]; ok {
		return i, true
	}
	if arch != "" {
		if i, ok := c.exact[[2]string{name, ""}]; ok {
			return i, true
		}
	} else if l := c.byList[name]; len(l) == 1 {
		return l[0], true
	}
	i, ok := c.byName[name]
	return i, ok
}

// FindExact returns the entry with mirrorlist_name name and arch arch, and
// nothing else.
func (c *Catalog) FindExact(name, arch string) (int, bool) {
	i, ok := c.exact[[2]string{name, arch}]
	return i, ok
}

// Entry returns entry i.
func (c *Catalog) Entry(i int) Entry { return c.entries[i] }

// Len returns the number of entries.
func (c *Catalog) Len() int { return len(c.entries) }

// Pairs returns every valid query, "repo=NAME&arch=ARCH" (or
// "repo=NAME"), sorted.
func (c *Catalog) Pairs() []string { return c.pairs }

// notFound writes the body of a 404 for an unknown repo and arch: the
// valid pairs as comments, as MirrorManager does.
func (c *Catalog) notFound(name, arch string) string {
	var b strings.Builder
	b.WriteString("# no repository for repo=")
	b.WriteString(clean(name))
	if arch != "" {
		b.WriteString("&arch=")
		b.WriteString(clean(arch))
	}
	b.WriteString("\n# valid repo and arch pairs:\n")
	for _, p := range c.pairs {
		b.WriteString("#   ")
		b.WriteString(p)
		b.WriteByte('\n')
	}
	return b.String()
}

// clean makes a client's value safe to echo in a comment: at most 100
// bytes, printable ASCII, no "--" (which would end an XML comment).
func clean(s string) string {
	s = truncate(s, 100)
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < ' ' || c >= 0x7f || c == '<' || c == '>' || c == '&' {
			c = '?'
		}
		if c == '-' && b.Len() > 0 && strings.HasSuffix(b.String(), "-") {
			c = '_'
		}
		b.WriteByte(c)
	}
	return b.String()
}
