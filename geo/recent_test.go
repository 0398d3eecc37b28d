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
