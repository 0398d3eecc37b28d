package geo

import (
	"strings"
	"sync"
)

// Continent codes.
const (
	Africa       = "AF"
	Antarctica   = "AN"
	Asia         = "AS"
	Europe       = "EU"
	NorthAmerica = "NA"
	Oceania      = "OC"
	SouthAmerica = "SA"
)

// continentCountries lists the countries of each continent as GeoNames
// (and so MaxMind) assigns them: Russia is in Europe, Turkey, Georgia,
// Armenia and Azerbaijan in Asia, Cyprus in Europe, Egypt in Africa. XK
// (Kosovo) is not assigned by ISO 3166 but GeoIP databases use it.
var continentCountries = map[string]string{
	Africa: "AO BF BI BJ BW CD CF CG CI CM CV DJ DZ EG EH ER ET GA GH GM GN GQ GW KE KM LR LS LY " +
		"MA MG ML MR MU MW MZ NA NE NG RE RW SC SD SH SL SN SO SS ST SZ TD TG TN TZ UG YT ZA ZM ZW",
	Antarctica: "AQ BV GS HM TF",
	Asia: "AE AF AM AZ BD BH BN BT CC CN CX GE HK ID IL IN IO IQ IR JO JP KG KH KP KR KW KZ LA LB LK " +
		"MM MN MO MV MY NP OM PH PK PS QA SA SG SY TH TJ TL TM TR TW UZ VN YE",
	Europe: "AD AL AT AX BA BE BG BY CH CY CZ DE DK EE ES FI FO FR GB GG GI GR HR HU IE IM IS IT JE " +
		"LI LT LU LV MC MD ME MK MT NL NO PL PT RO RS RU SE SI SJ SK SM UA VA XK",
	NorthAmerica: "AG AI AW BB BL BM BQ BS BZ CA CR CU CW DM DO GD GL GP GT HN HT JM KN KY LC MF MQ " +
		"MS MX NI PA PM PR SV SX TC TT US VC VG VI",
	Oceania:      "AS AU CK FJ FM GU KI MH MP NC NF NR NU NZ PF PG PN PW SB TK TO TV UM VU WF WS",
	SouthAmerica: "AR BO BR CL CO EC FK GF GY PE PY SR UY VE",
}

// countryTables are the lookups made from continentCountries.
type countryTables struct {
	continentOf map[string]string // each country code's continent code
	// locations are every Location Lookup returns: the zero Location,
	// each known country on its continent, each continent alone;
	// locationIndex is the index of each in locations.
	locations     []Location
	locationIndex map[Location]uint16
}

// tables makes countryTables when first needed, not when the package
// loads: every rpmirror command, rpmirror sync included, would pay for
// them, and only configurations naming countries and the daemon's GeoIP
// lookups use them.
var tables = sync.OnceValue(func() *countryTables {
	t := &countryTables{continentOf: make(map[string]string, 256), locations: []Location{{}}}
	for cont, list := range continentCountries {
		t.locations = append(t.locations, Location{Continent: cont})
		for _, cc := range strings.Fields(list) {
			t.continentOf[cc] = cont
			t.locations = append(t.locations, Location{Country: cc, Continent: cont})
		}
	}
	t.locationIndex = make(map[Location]uint16, len(t.locations))
	for i, l := range t.locations {
		t.locationIndex[l] = uint16(i)
	}
	return t
})

// Continent returns the continent of the country whose ISO 3166-1
// alpha-2 code is cc (upper case), and whether cc is a known code.
func Continent(cc string) (string, bool) {
	c, ok := tables().continentOf[cc]
	return c, ok
}

// Countries returns the number of country codes Continent knows.
func Countries() int { return len(tables().continentOf) }

// commonMistakes are codes people write for a country whose ISO code
// differs.
var commonMistakes = map[string]string{
	"UK": "GB", // United Kingdom
	"EL": "GR", // Greece, as the EU writes it
	"EN": "GB",
}

// CountryProblem says what is wrong with cc as a country code, or returns
// "". Codes are two upper-case letters, as ISO 3166-1 alpha-2 writes them.
func CountryProblem(cc string) string {
	continentOf := tables().continentOf
	if _, ok := continentOf[cc]; ok {
		return ""
	}
	up := strings.ToUpper(cc)
	if _, ok := continentOf[up]; ok {
		return "write country codes in upper case: " + up
	}
	if want, ok := commonMistakes[up]; ok {
		return "not an ISO 3166-1 alpha-2 code: did you mean " + want + "?"
	}
	return "not an ISO 3166-1 alpha-2 country code (two letters, such as DE, US, JP)"
}
