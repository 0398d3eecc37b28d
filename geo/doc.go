// Package geo knows where clients and mirrors are: the ISO 3166-1
// alpha-2 country codes and the continent of each (Continent), and a
// MaxMind-format GeoIP database (DB: GeoLite2-Country or -City, DB-IP
// Lite and the like) that maps an IP address to its country.
//
// Continents are the seven two-letter codes MaxMind and GeoNames use:
// AF, AN, AS, EU, NA, OC, SA. A country's continent always comes from the
// table here, for mirrors and clients alike, so that the two are compared
// the same way whatever database is loaded; the database's own continent
// is used only for an address it places in no country.
//
// A DB is safe for concurrent use and can be reloaded (after the file was
// replaced) while lookups run: the new database is read into memory whole
// and swapped in, and a lookup uses either the old or the new one.
package geo
