package selection_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rpmirror/rpmirror/geo"
	"github.com/rpmirror/rpmirror/selection"
)

// named is a mirror with a name for messages; its URL is
// https://NAME.example/ unless it says http.
type named struct {
	name string
	selection.Mirror
}

func mirror(name string, f func(*selection.Mirror)) named {
	m := selection.Mirror{URL: "https://" + name + ".example/repo/"}
	if f != nil {
		f(&m)
	}
	return named{name, m}
}

func in(country string) func(*selection.Mirror) {
	return func(m *selection.Mirror) { m.Country = country }
}

func client(addr, country string) selection.Client {
	c := selection.Client{}
	if addr != "" {
		c.Addr = netip.MustParseAddr(addr)
	}
	if country != "" {
		c.Location, _ = geo.At(country)
	}
	return c
}

// order runs Order and returns the names, in order.
func order(ms []named, c selection.Client, p selection.Protocol, rng *rand.Rand) []string {
	plain := make([]selection.Mirror, len(ms))
	for i, m := range ms {
		plain[i] = m.Mirror
	}
	var names []string
	for _, i := range selection.NewSet(plain).Order(nil, c, p, rng) {
		names = append(names, ms[i].name)
	}
	return names
}

// groups is the expected order: each group's names in any order, the
// groups in this order.
type groups [][]string

func (g groups) match(got []string) bool {
	i := 0
	for _, group := range g {
		if i+len(group) > len(got) {
			return false
		}
		part := slices.Clone(got[i : i+len(group)])
		want := slices.Clone(group)
		slices.Sort(part)
		slices.Sort(want)
		if !slices.Equal(part, want) {
			return false
		}
		i += len(group)
	}
	return i == len(got)
}

func TestOrder(t *testing.T) {
	ci := mirror("ci", func(m *selection.Mirror) {
		m.Networks = prefixes("10.20.0.0/16")
		m.Private = true
		m.Country = "DE"
	})
	campus := mirror("campus", func(m *selection.Mirror) { m.Networks = prefixes("192.0.2.0/24"); m.Country = "US" })
	lab := mirror("lab", func(m *selection.Mirror) { m.Networks = prefixes("192.0.2.128/25") })
	de1, de2 := mirror("de1", in("DE")), mirror("de2", in("DE"))
	fr := mirror("fr", in("FR"))
	us := mirror("us", in("US"))
	jp := mirror("jp", in("JP"))
	nowhere := mirror("nowhere", nil)
	behindDE := mirror("behind-de", func(m *selection.Mirror) { m.Country = "DE"; m.Behind = true })
	plainHTTP := mirror("plain", func(m *selection.Mirror) { m.URL = "http://plain.example/"; m.Country = "DE" })
	preferred := mirror("preferred", func(m *selection.Mirror) { m.Country = "DE"; m.Priority = 10 })
	fallback := mirror("fallback", func(m *selection.Mirror) { m.Country = "DE"; m.Priority = 500 })
	all := []named{ci, de1, de2, fr, us, jp, nowhere}

	for _, tc := range []struct {
		name     string
		ms       []named
		client   selection.Client
		protocol selection.Protocol
		want     groups
	}{
		{"client in Germany", all, client("203.0.113.9", "DE"),
			"", groups{{"de1", "de2"}, {"fr"}, {"us", "jp", "nowhere"}}},
		{"client in France", all, client("203.0.113.9", "FR"),
			"", groups{{"fr"}, {"de1", "de2"}, {"us", "jp", "nowhere"}}},
		{"client in Japan", all, client("203.0.113.9", "JP"),
			"", groups{{"jp"}, {"de1", "de2", "fr", "us", "nowhere"}}},
		{"client in Korea: continent", all, client("203.0.113.9", "KR"),
			"", groups{{"jp"}, {"de1", "de2", "fr", "us", "nowhere"}}},
		{"client of unknown country", all, client("203.0.113.9", ""),
			"", groups{{"de1", "de2", "fr", "us", "jp", "nowhere"}}},
		{"no address at all", all, client("", ""),
			"", groups{{"de1", "de2", "fr", "us", "jp", "nowhere"}}},
		{"CI farm client gets its private mirror first", all, client("10.20.3.4", "DE"),
			"", groups{{"ci"}, {"de1", "de2"}, {"fr"}, {"us", "jp", "nowhere"}}},
		{"private mirror hidden from others in its country", []named{ci, de1}, client("198.51.100.1", "DE"),
			"", groups{{"de1"}}},
		{"network beats country", []named{campus, de1}, client("192.0.2.7", "DE"),
			"", groups{{"campus"}, {"de1"}}},
		{"most specific network first", []named{campus, lab, de1}, client("192.0.2.200", "DE"),
			"", groups{{"lab"}, {"campus"}, {"de1"}}},
		{"outside the narrower network", []named{campus, lab, de1}, client("192.0.2.7", "DE"),
			"", groups{{"campus"}, {"de1"}, {"lab"}}},
		{"IPv4 client as 4-in-6", []named{campus, de1}, client("::ffff:192.0.2.7", ""),
			"", groups{{"campus"}, {"de1"}}},
		{"behind after ok in the same place", []named{behindDE, de1, fr}, client("203.0.113.9", "DE"),
			"", groups{{"de1"}, {"behind-de"}, {"fr"}}},
		{"behind in the country before ok elsewhere", []named{fr, behindDE}, client("203.0.113.9", "DE"),
			"", groups{{"behind-de"}, {"fr"}}},
		{"priority within a place", []named{fallback, de1, preferred, fr}, client("203.0.113.9", "DE"),
			"", groups{{"preferred"}, {"de1"}, {"fallback"}, {"fr"}}},
		{"priority does not beat place", []named{fr, fallback}, client("203.0.113.9", "DE"),
			"", groups{{"fallback"}, {"fr"}}},
		{"protocol https", []named{plainHTTP, de1}, client("203.0.113.9", "DE"),
			"https", groups{{"de1"}}},
		{"protocol http", []named{plainHTTP, de1}, client("203.0.113.9", "DE"),
			"http", groups{{"plain"}}},
		{"no protocol filter", []named{plainHTTP, de1}, client("203.0.113.9", "DE"),
			"", groups{{"plain", "de1"}}},
		{"empty set", nil, client("203.0.113.9", "DE"), "", groups{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			for range 50 { // the shuffle never crosses tiers
				got := order(tc.ms, tc.client, tc.protocol, rng)
				if !tc.want.match(got) {
					t.Fatalf("order = %v, want groups %v", got, tc.want)
				}
			}
		})
	}
}

// TestWeightedShuffle draws many orders with a fixed seed and compares how
// often each permutation comes out with its probability under weighted
// sampling without replacement: P(a, b, c) = w_a/W * w_b/(W - w_a).
func TestWeightedShuffle(t *testing.T) {
	for _, tc := range []struct {
		name    string
		weights []int
	}{
		{"equal", []int{100, 100, 100, 100}},
		{"default weight is 100", []int{0, 100, 300}},
		{"uneven", []int{100, 200, 700}},
		{"one large", []int{1, 1, 1000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ms []named
			for i, w := range tc.weights {
				ms = append(ms, mirror(fmt.Sprint(i), func(m *selection.Mirror) { m.Weight = w; m.Country = "DE" }))
			}
			const draws = 200_000
			rng := rand.New(rand.NewPCG(7, 13))
			counts := map[string]int{}
			first := make([]int, len(ms))
			for range draws {
				got := order(ms, client("203.0.113.1", "DE"), "", rng)
				counts[strings.Join(got, "")]++
				first[got[0][0]-'0']++
			}
			w := make([]float64, len(tc.weights))
			total := 0.0
			for i, x := range tc.weights {
				if x == 0 {
					x = selection.DefaultWeight
				}
				w[i] = float64(x)
				total += w[i]
			}
			for i := range ms {
				checkShare(t, fmt.Sprintf("mirror %d first", i), first[i], draws, w[i]/total)
			}
			for perm, n := range counts {
				p, left := 1.0, total
				for _, c := range perm {
					x := w[c-'0']
					p *= x / left
					left -= x
				}
				checkShare(t, "order "+perm, n, draws, p)
			}
		})
	}
}

// checkShare fails when n of draws differs from probability p by more than
// five standard deviations (and a small floor for tiny p).
func checkShare(t *testing.T, what string, n, draws int, p float64) {
	t.Helper()
	got := float64(n) / float64(draws)
	tol := 5*math.Sqrt(p*(1-p)/float64(draws)) + 0.0005
	if math.Abs(got-p) > tol {
		t.Errorf("%s: share %.4f, want %.4f ± %.4f", what, got, p, tol)
	}
}

func TestPlace(t *testing.T) {
	set := selection.NewSet([]selection.Mirror{
		{URL: "https://a/", Networks: prefixes("192.0.2.0/24"), Country: "DE"},
		{URL: "https://b/", Country: "DE"},
		{URL: "https://c/", Country: "FR"},
		{URL: "https://d/"},
	})
	c := client("192.0.2.1", "DE")
	want := []selection.Place{selection.InNetwork, selection.InCountry, selection.OnContinent, selection.Elsewhere}
	for i, w := range want {
		if got := set.Place(i, c); got != w {
			t.Errorf("Place(%d) = %s, want %s", i, got, w)
		}
	}
}

// TestOrderConcurrent orders from many goroutines with the global source
// (run with -race).
func TestOrderConcurrent(t *testing.T) {
	set := selection.NewSet([]selection.Mirror{{URL: "https://a/"}, {URL: "https://b/"}, {URL: "https://c/"}})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			var buf []int
			for range 1000 {
				buf = set.Order(buf[:0], selection.Client{}, "", nil)
				if len(buf) != 3 {
					t.Errorf("got %d mirrors", len(buf))
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkOrder(b *testing.B) {
	var ms []selection.Mirror
	countries := []string{"DE", "FR", "US", "JP", "BR", "DE", "NL", "US"}
	for i := range 20 {
		ms = append(ms, selection.Mirror{
			URL:      fmt.Sprintf("https://m%d.example/repo/", i),
			Country:  countries[i%len(countries)],
			Weight:   50 + 10*i,
			Networks: prefixes(fmt.Sprintf("10.%d.0.0/16", i)),
		})
	}
	set := selection.NewSet(ms)
	c := client("203.0.113.1", "DE")
	buf := make([]int, 0, 32)
	b.ReportAllocs()
	for b.Loop() {
		buf = set.Order(buf[:0], c, "", nil)
	}
}
