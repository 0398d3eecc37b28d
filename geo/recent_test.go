package geo_test

import (
	"net/netip"
	"testing"

	"github.com/rpmirror/rpmirror/geo"
	"github.com/rpmirror/rpmirror/internal/geotest"
)

// TestRecentSlotHeldByAnother: a record whose slot of the recent cache
// holds another record is still looked up right, and takes the slot.
func TestRecentSlotHeldByAnother(t *testing.T) {
	db, err := geo.Open(writeDB(t, geotest.Networks{"192.0.2.0/24": "DE", "198.51.100.0/24": "US"}))
	if err != nil {
		t.Fatal(err)
	}
	de, us := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("198.51.100.1")
	for _, tc := range []struct {
		name   string
		addr   netip.Addr
		want   string
		cached bool // the record is in the cache behind the slots already
	}{
		{"first lookup", de, "DE", false},
		{"from the cache", de, "DE", true},
		{"another record", us, "US", false},
		{"another record again", us, "US", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if cached := db.PoisonRecent(tc.addr); cached != tc.cached {
				t.Fatalf("in the cache before: %t, want %t", cached, tc.cached)
			}
			if got := db.Lookup(tc.addr).Country; got != tc.want {
				t.Fatalf("Lookup = %q, want %q", got, tc.want)
			}
			if loc, ok := db.RecentSlot(tc.addr); !ok || loc.Country != tc.want {
				t.Fatalf("slot after the lookup: %+v, %t; want the record's", loc, ok)
			}
			if got := db.Lookup(tc.addr).Country; got != tc.want {
				t.Fatalf("Lookup from the slot = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestRecentAddresses: an address looked up again, from the slot of
// recent addresses, has the Location its record gives, whichever address
// held its slot before (one of another country, in the same slot) and
// after a reload of the database with other countries.
func TestRecentAddresses(t *testing.T) {
	nets := geotest.Networks{"192.0.2.0/24": "DE", "198.51.100.0/24": "US", "203.0.113.0/24": "XX", "10.0.0.0/8": "JP"}
	path := writeDB(t, nets)
	db, err := geo.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	// Two addresses of different countries in the same slot.
	de := netip.MustParseAddr("192.0.2.1")
	jp := netip.AddrFrom4([4]byte{10, 0, 0, 0})
	for ; geo.AddrSlot(jp) != geo.AddrSlot(de); jp = jp.Next() {
		if !netip.MustParsePrefix("10.0.0.0/8").Contains(jp) {
			t.Fatal("no address of 10.0.0.0/8 shares a slot with 192.0.2.1")
		}
	}
	addrs := []netip.Addr{
		de, jp, de, jp, // each takes the slot from the other
		netip.MustParseAddr("198.51.100.9"),    // US
		netip.MustParseAddr("203.0.113.7"),     // a code no country has: its continent is not known either
		netip.MustParseAddr("10.1.2.3"),        // JP
		netip.MustParseAddr("::ffff:10.1.2.3"), // the same, mapped
		netip.MustParseAddr("127.0.0.1"),       // not in the database
		netip.MustParseAddr("0.0.0.0"),         // the address whose word is all zero but the in-use bit
		netip.MustParseAddr("2001:db8::1"),     // IPv6: not kept in the slots
	}
	check := func(when string) {
		t.Helper()
		for round := range 2 { // the first lookup of each fills the slot, the second reads it
			for _, a := range addrs {
				if got, want := db.Lookup(a), db.LookupRecord(a); got != want {
					t.Errorf("%s, round %d: Lookup(%s) = %+v, its record says %+v", when, round, a, got, want)
				}
			}
		}
	}
	check("first database")
	if got := db.Lookup(de).Country; got != "DE" {
		t.Fatalf("Lookup(%s) = %q, want DE", de, got)
	}
	nets["192.0.2.0/24"], nets["10.0.0.0/8"] = "FR", "CA"
	geotest.Write(t, path, nets)
	if err := db.Reload(); err != nil {
		t.Fatal(err)
	}
	check("after a reload")
	if got := db.Lookup(de).Country; got != "FR" {
		t.Errorf("Lookup(%s) after the reload = %q, want FR", de, got)
	}
}
