// Package geotest writes small GeoIP databases for tests, in the layout
// of GeoLite2-Country (country, registered_country and continent records
// with iso_code and code), with github.com/maxmind/mmdbwriter: tests
// never download a real database.
package geotest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"slices"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/rpmirror/rpmirror/geo"
)

// Networks maps CIDR networks ("192.0.2.0/24", "2001:db8::/32") to the
// country code their addresses are in. A code geo does not know (such
// as "--") writes a record with only a continent, EU, as GeoLite2 does
// for some anycast networks.
type Networks map[string]string

// Bytes returns a MaxMind DB holding nets.
func Bytes(t testing.TB, nets Networks) []byte {
	t.Helper()
	b, err := Build(nets)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Build returns a MaxMind DB holding nets (for tests, Bytes).
func Build(nets Networks) ([]byte, error) {
	w, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType:            "rpmirror-Test-Country",
		IncludeReservedNetworks: true, // tests use documentation and private ranges
		RecordSize:              24,
	})
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(nets))
	for k := range nets {
		keys = append(keys, k)
	}
	slices.Sort(keys) // deterministic file
	for _, cidr := range keys {
		cc := nets[cidr]
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			return nil, fmt.Errorf("geotest: network %q: %w", cidr, err)
		}
		rec := mmdbtype.Map{}
		if loc, ok := geo.At(cc); ok {
			country := mmdbtype.Map{
				"iso_code": mmdbtype.String(loc.Country),
				"names":    mmdbtype.Map{"en": mmdbtype.String("Country " + loc.Country)},
			}
			rec["country"] = country
			rec["registered_country"] = country
			rec["continent"] = mmdbtype.Map{"code": mmdbtype.String(loc.Continent)}
		} else {
			rec["continent"] = mmdbtype.Map{"code": mmdbtype.String(geo.Europe)}
		}
		if err := w.Insert(n, rec); err != nil {
			return nil, fmt.Errorf("geotest: inserting %s: %w", cidr, err)
		}
	}
	var b bytes.Buffer
	if _, err := w.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Write writes a MaxMind DB holding nets to path.
func Write(t testing.TB, path string, nets Networks) {
	t.Helper()
	if err := os.WriteFile(path, Bytes(t, nets), 0o644); err != nil {
		t.Fatal(err)
	}
}
