package selection

import (
	"cmp"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"

	"github.com/rpmirror/rpmirror/geo"
)

// Defaults for a Mirror's fields left zero.
const (
	DefaultWeight   = 100
	DefaultPriority = 100
)

// Mirror is one mirror a Set may list.
type Mirror struct {
	// URL is the mirror's base URL; its scheme is what a protocol filter
	// compares with.
	URL string
	// Networks are the client networks this mirror serves first (a CI
	// farm's own mirror).
	Networks []netip.Prefix
	// Country is the ISO 3166-1 alpha-2 code of where the mirror is; ""
	// when not known (it is then in no client's country or continent).
	Country string
	// Private mirrors are listed only to clients inside Networks.
	Private bool
	// Weight is the mirror's share of its tier's traffic; 0 or less means
	// DefaultWeight.
	Weight int
	// Priority orders mirrors within a place and state, lower first; 0
	// means DefaultPriority.
	Priority int
	// Behind marks a mirror serving an earlier (verified) revision: it
	// comes after the ok mirrors of its place.
	Behind bool
}

// Client is who is asking.
type Client struct {
	Addr     netip.Addr // the zero Addr when not known
	Location geo.Location
}

// Place is where a mirror is relative to a client, best first.
type Place uint8

// Places.
const (
	InNetwork   Place = iota // one of its networks holds the client's address
	InCountry                // in the client's country
	OnContinent              // on the client's continent
	Elsewhere
)

func (p Place) String() string {
	switch p {
	case InNetwork:
		return "network"
	case InCountry:
		return "country"
	case OnContinent:
		return "continent"
	}
	return "elsewhere"
}

// Set is a repository's listable mirrors, prepared for Order. It is
// immutable and safe for concurrent use.
type Set struct {
	ms []prepared
}

// prepared is a Mirror with what Order needs computed once.
type prepared struct {
	nets      []netip.Prefix
	country   code // 0 when not known
	continent code // 0 when not known
	scheme    string
	private   bool
	invWeight float64
	rank      uint32 // state and priority: (behind << 16) | priority
}

// NewSet prepares ms. Order returns indices into ms.
func NewSet(ms []Mirror) *Set {
	s := &Set{ms: make([]prepared, len(ms))}
	for i, m := range ms {
		w := m.Weight
		if w <= 0 {
			w = DefaultWeight
		}
		prio := m.Priority
		if prio <= 0 {
			prio = DefaultPriority
		}
		prio = min(prio, math.MaxUint16)
		rank := uint32(prio)
		if m.Behind {
			rank |= 1 << 16
		}
		nets := slices.Clone(m.Networks)
		// Most specific first, so that the first match is the best.
		slices.SortStableFunc(nets, func(a, b netip.Prefix) int { return cmp.Compare(b.Bits(), a.Bits()) })
		cont, _ := geo.Continent(m.Country)
		scheme, _, _ := strings.Cut(m.URL, "://")
		s.ms[i] = prepared{
			nets:      nets,
			country:   codeOf(m.Country),
			continent: codeOf(cont),
			scheme:    strings.ToLower(scheme),
			private:   m.Private,
			invWeight: 1 / float64(w),
			rank:      rank,
		}
	}
	return s
}

// code is a two-letter country or continent code as a number, so that
// a mirror's place is found by comparing numbers, not strings; 0 for an
// empty or longer string.
type code uint16

func codeOf(s string) code {
	if len(s) != 2 {
		return 0
	}
	return code(s[0])<<8 | code(s[1])
}

// Len returns the number of mirrors in the set.
func (s *Set) Len() int { return len(s.ms) }

// Protocol filters mirrors by URL scheme: "" keeps all, "http" or "https"
// only those.
type Protocol string

// keyed is one mirror being ordered.
type keyed struct {
	tier uint64  // place, network specificity, state, priority: lower first
	key  float64 // weighted random key within the tier: lower first
	i    int
}

// Order appends to dst the indices of the mirrors client may use, best
// first (see the package comment), and returns the extended slice.
// Private mirrors whose networks do not hold the client's address, and
// mirrors whose scheme is not protocol, are left out. rng draws the
// shuffle; nil uses math/rand/v2's global source, safe for concurrent
// use.
func (s *Set) Order(dst []int, c Client, protocol Protocol, rng *rand.Rand) []int {
	var buf [64]keyed
	ks := buf[:0]
	addr := c.Addr.Unmap()
	at := where{codeOf(c.Location.Country), codeOf(c.Location.Continent)}
	for i := range s.ms {
		m := &s.ms[i]
		if protocol != "" && m.scheme != string(protocol) {
			continue
		}
		place, bits := Elsewhere, 0
		if addr.IsValid() {
			for _, n := range m.nets {
				if n.Contains(addr) {
					place, bits = InNetwork, n.Bits()
					break
				}
			}
		}
		if m.private && place != InNetwork {
			continue
		}
		if place == Elsewhere {
			place = m.geoPlace(at)
		}
		tier := uint64(place)<<48 | uint64(128-bits)<<40 | uint64(m.rank)
		ks = append(ks, keyed{tier: tier, i: i})
	}
	sortKeyed(ks)
	// Within each tier of two mirrors or more, exponential keys divided
	// by weights, smallest first, are a weighted random permutation
	// (Efraimidis and Spirakis): the first is mirror i with probability
	// w_i / sum(w), and so on among those left. A mirror alone in its
	// tier needs no key (most are, for a client in a country).
	for lo := 0; lo < len(ks); {
		hi := lo + 1
		for hi < len(ks) && ks[hi].tier == ks[lo].tier {
			hi++
		}
		if hi-lo > 1 {
			tier := ks[lo:hi]
			for j := range tier {
				var e float64
				if rng != nil {
					e = rng.ExpFloat64()
				} else {
					e = rand.ExpFloat64()
				}
				tier[j].key = e * s.ms[tier[j].i].invWeight
			}
			sortKeyed(tier)
		}
		lo = hi
	}
	for _, k := range ks {
		dst = append(dst, k.i)
	}
	return dst
}

// sortKeyed sorts by tier, then key. Lists are short: insertion sort,
// which allocates nothing.
func sortKeyed(ks []keyed) {
	if len(ks) > 32 {
		slices.SortFunc(ks, func(a, b keyed) int {
			if c := cmp.Compare(a.tier, b.tier); c != 0 {
				return c
			}
			return cmp.Compare(a.key, b.key)
		})
		return
	}
	for i := 1; i < len(ks); i++ {
		for j := i; j > 0 && less(ks[j], ks[j-1]); j-- {
			ks[j], ks[j-1] = ks[j-1], ks[j]
		}
	}
}

func less(a, b keyed) bool {
	return a.tier < b.tier || a.tier == b.tier && a.key < b.key
}

// Place returns where mirror i of the set is for client: for tests and
// for saying why a list is ordered as it is.
func (s *Set) Place(i int, c Client) Place {
	m := &s.ms[i]
	addr := c.Addr.Unmap()
	if addr.IsValid() && contains(m.nets, addr) {
		return InNetwork
	}
	return m.geoPlace(where{codeOf(c.Location.Country), codeOf(c.Location.Continent)})
}

// where is a client's country and continent as codes.
type where struct{ country, continent code }

// geoPlace is where m is relative to a client at loc, networks aside.
func (m *prepared) geoPlace(loc where) Place {
	switch {
	case m.country != 0 && m.country == loc.country:
		return InCountry
	case m.continent != 0 && m.continent == loc.continent:
		return OnContinent
	}
	return Elsewhere
}
