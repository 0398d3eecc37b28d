package geo_test

import (
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rpmirror/rpmirror/geo"
	"github.com/rpmirror/rpmirror/internal/geotest"
)

// iso3166 is every officially assigned ISO 3166-1 alpha-2 code (249),
// written out alphabetically, independently of the table by continent.
const iso3166 = `AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ
BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ
CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ
DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR
GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY
HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP
KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY
MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ
NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY
QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ
TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ
VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW`

func TestCountryTable(t *testing.T) {
	codes := strings.Fields(iso3166)
	if len(codes) != 249 {
		t.Fatalf("the reference list has %d codes, want 249", len(codes))
	}
	for _, cc := range codes {
		if _, ok := geo.Continent(cc); !ok {
			t.Errorf("%s: no continent", cc)
		}
	}
	// Every ISO code plus XK (Kosovo, used by GeoIP databases), each once.
	if got := geo.Countries(); got != len(codes)+1 {
		t.Errorf("the table has %d codes, want %d: a code is listed twice or one is not ISO", got, len(codes)+1)
	}
	for cc, want := range map[string]string{"DE": geo.Europe, "RU": geo.Europe, "TR": geo.Asia, "US": geo.NorthAmerica, "BR": geo.SouthAmerica, "AU": geo.Oceania, "ZA": geo.Africa, "AQ": geo.Antarctica, "XK": geo.Europe, "CY": geo.Europe, "EG": geo.Africa} {
		if got, _ := geo.Continent(cc); got != want {
			t.Errorf("Continent(%s) = %s, want %s", cc, got, want)
		}
	}
}

func TestCountryProblem(t *testing.T) {
	for _, tc := range []struct{ cc, want string }{
		{"DE", ""},
		{"XK", ""},
		{"de", "write country codes in upper case: DE"},
		{"UK", "not an ISO 3166-1 alpha-2 code: did you mean GB?"},
		{"DEU", "not an ISO 3166-1 alpha-2 country code (two letters, such as DE, US, JP)"},
		{"ZZ", "not an ISO 3166-1 alpha-2 country code (two letters, such as DE, US, JP)"},
		{"", "not an ISO 3166-1 alpha-2 country code (two letters, such as DE, US, JP)"},
	} {
		if got := geo.CountryProblem(tc.cc); got != tc.want {
			t.Errorf("CountryProblem(%q) = %q, want %q", tc.cc, got, tc.want)
		}
	}
}

func TestAt(t *testing.T) {
	for _, tc := range []struct {
		cc   string
		want geo.Location
		ok   bool
	}{
		{"de", geo.Location{Country: "DE", Continent: geo.Europe}, true},
		{"JP", geo.Location{Country: "JP", Continent: geo.Asia}, true},
		{"zz", geo.Location{}, false},
		{"d", geo.Location{}, false},
		{"global", geo.Location{}, false},
	} {
		got, ok := geo.At(tc.cc)
		if got != tc.want || ok != tc.ok {
			t.Errorf("At(%q) = %v, %v; want %v, %v", tc.cc, got, ok, tc.want, tc.ok)
		}
	}
}

var testNets = geotest.Networks{
	"192.0.2.0/24":     "DE",
	"198.51.100.0/24":  "US",
	"203.0.113.0/25":   "JP",
	"203.0.113.128/25": "--", // continent only
	"2001:db8:1::/48":  "FR",
}

func writeDB(t *testing.T, nets geotest.Networks) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "test.mmdb")
	geotest.Write(t, p, nets)
	return p
}

func TestLookup(t *testing.T) {
	db, err := geo.Open(writeDB(t, testNets))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		addr string
		want geo.Location
	}{
		{"192.0.2.7", geo.Location{Country: "DE", Continent: geo.Europe}},
		{"::ffff:192.0.2.7", geo.Location{Country: "DE", Continent: geo.Europe}}, // 4-in-6, as a dual-stack listener reports it
		{"198.51.100.1", geo.Location{Country: "US", Continent: geo.NorthAmerica}},
		{"203.0.113.5", geo.Location{Country: "JP", Continent: geo.Asia}},
		{"203.0.113.200", geo.Location{Continent: geo.Europe}},
		{"2001:db8:1::1", geo.Location{Country: "FR", Continent: geo.Europe}},
		{"2001:db8:2::1", geo.Location{}},
		{"10.1.2.3", geo.Location{}},
	} {
		for range 2 { // the second lookup is answered from the cache
			if got := db.Lookup(netip.MustParseAddr(tc.addr)); got != tc.want {
				t.Errorf("Lookup(%s) = %+v, want %+v", tc.addr, got, tc.want)
			}
		}
	}
	var none *geo.DB
	if got := none.Lookup(netip.MustParseAddr("192.0.2.7")); got != (geo.Location{}) {
		t.Errorf("nil DB: Lookup = %+v, want nothing", got)
	}
	if got := db.Lookup(netip.Addr{}); got != (geo.Location{}) {
		t.Errorf("invalid address: Lookup = %+v, want nothing", got)
	}
	if info := db.Info(); info.Type != "rpmirror-Test-Country" || info.Built.IsZero() {
		t.Errorf("Info = %+v", info)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.mmdb")
	os.WriteFile(garbage, []byte("this is not a GeoIP database\n"), 0o644)
	for _, tc := range []struct {
		name string
		path string
		want error
	}{
		{"missing", filepath.Join(dir, "missing.mmdb"), fs.ErrNotExist},
		{"garbage", garbage, geo.ErrNotGeoIP},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := geo.Open(tc.path)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open: %v, want %v", err, tc.want)
			}
			if !errors.Is(geo.Check(tc.path), tc.want) {
				t.Fatalf("Check: not %v", tc.want)
			}
		})
	}
	if _, err := geo.Open(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("Open(directory) = %v", err)
	}
}

func TestReload(t *testing.T) {
	p := writeDB(t, geotest.Networks{"192.0.2.0/24": "DE"})
	db, err := geo.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	addr := netip.MustParseAddr("192.0.2.1")
	if got := db.Lookup(addr).Country; got != "DE" {
		t.Fatalf("before reload: %q", got)
	}

	// Lookups run while the file is replaced and reloaded (go test -race).
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if c := db.Lookup(addr).Country; c != "DE" && c != "AT" {
					t.Errorf("lookup during reload: %q", c)
					return
				}
			}
		})
	}
	geotest.Write(t, p+".new", geotest.Networks{"192.0.2.0/24": "AT"})
	if err := os.Rename(p+".new", p); err != nil {
		t.Fatal(err)
	}
	if err := db.Reload(); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	if got := db.Lookup(addr).Country; got != "AT" {
		t.Fatalf("after reload: %q, want AT", got)
	}

	// A broken file does not replace a good database.
	os.WriteFile(p, []byte("truncated"), 0o644)
	if err := db.Reload(); !errors.Is(err, geo.ErrNotGeoIP) {
		t.Fatalf("Reload of a broken file: %v", err)
	}
	if got := db.Lookup(addr).Country; got != "AT" {
		t.Fatalf("after a failed reload: %q, want AT (kept)", got)
	}
}

func BenchmarkLookup(b *testing.B) {
	p := filepath.Join(b.TempDir(), "b.mmdb")
	geotest.Write(b, p, testNets)
	db, err := geo.Open(p)
	if err != nil {
		b.Fatal(err)
	}
	addr := netip.MustParseAddr("198.51.100.77")
	b.ReportAllocs()
	for b.Loop() {
		db.Lookup(addr)
	}
}
