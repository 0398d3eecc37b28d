package geo

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	gosync "sync"
	"sync/atomic"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"
)

// Location is where an address is, as far as mirror selection cares.
// Both fields are empty when unknown.
type Location struct {
	Country   string // ISO 3166-1 alpha-2, upper case
	Continent string // AF, AN, AS, EU, NA, OC or SA
}

// MaxFileSize bounds the database file read into memory: GeoLite2-City
// is about 60 MB, the country databases a few.
const MaxFileSize = 512 << 20

// ErrNotGeoIP is wrapped by errors about a file that is not a MaxMind DB.
var ErrNotGeoIP = errors.New("not a MaxMind DB (.mmdb) file")

// DB is a GeoIP database, reloadable. A nil *DB knows nothing: Lookup
// returns the zero Location.
type DB struct {
	path string
	cur  atomic.Pointer[loaded]
}

// loaded is one version of the database file.
type loaded struct {
	r    *maxminddb.Reader
	info Info
	// recent holds the Locations of records looked up lately, each in
	// the slot its offset hashes to: a load and a compare, no lock, no
	// hashing of an interface (every mirror request looks up its
	// client). A record whose slot holds another is found in cache.
	recent [recentSlots]atomic.Pointer[recentRecord]
	cache  gosync.Map // record offset -> Location: records are few, addresses many
	// addrs holds the Locations of IPv4 addresses looked up lately, each
	// in the slot the address hashes to, as one word: the address, a bit
	// saying the slot is in use, and the Location's index in t.locations.
	// A hit is a load and a compare; a miss walks the database's tree to
	// the record, a node for each bit of the address up to its network's
	// (a sixth of the mirror routes' CPU under wrk), then takes the slot.
	addrs [addrSlots]atomic.Uint64
	t     *countryTables // tables(), looked up once
}

// addrSlots is the number of slots of loaded.addrs (32 KiB).
const (
	addrBits  = 12
	addrSlots = 1 << addrBits
	addrInUse = 1 << 31 // the bit of a slot's word saying it is in use
)

// addrSlot returns the slot of loaded.addrs for the IPv4 address a.
func addrSlot(a uint32) int {
	return int(uint32(a*0x9E3779B1) >> (32 - addrBits))
}

// recentSlots is the number of slots of loaded.recent: a country
// database has a few hundred records.
const (
	recentBits  = 12
	recentSlots = 1 << recentBits
)

// recentRecord is a record's Location in loaded.recent.
type recentRecord struct {
	off uintptr
	loc Location
}

// slot returns the slot of loaded.recent for the record at off
// (Fibonacci hashing: records are at irregular offsets, but spread).
func slot(off uintptr) int {
	return int(uint64(off) * 0x9E3779B97F4A7C15 >> (64 - recentBits))
}

// Info describes the loaded database.
type Info struct {
	Path  string
	Type  string    // the database_type of its metadata, such as GeoLite2-Country
	Built time.Time // when it was built, from its metadata
}

// Open reads the MaxMind DB file at path.
func Open(path string) (*DB, error) {
	db := &DB{path: path}
	if err := db.Reload(); err != nil {
		return nil, err
	}
	return db, nil
}

// Reload reads the file again and swaps it in; lookups in flight finish on
// the version they started with. On error the loaded version stays.
func (db *DB) Reload() error {
	l, err := load(db.path)
	if err != nil {
		return err
	}
	db.cur.Store(l)
	return nil
}

// Check reports whether path holds a MaxMind DB that Open would accept.
func Check(path string) error {
	_, err := load(path)
	return err
}

func load(path string) (*loaded, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading GeoIP database: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading GeoIP database: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("reading GeoIP database %s: not a regular file", path)
	}
	if fi.Size() > MaxFileSize {
		return nil, fmt.Errorf("reading GeoIP database %s: larger than %d MiB", path, MaxFileSize>>20)
	}
	b := make([]byte, fi.Size())
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, fmt.Errorf("reading GeoIP database %s: %w", path, err)
	}
	r, err := openBytes(b)
	if err != nil {
		return nil, fmt.Errorf("reading GeoIP database %s: %w: %v", path, ErrNotGeoIP, err)
	}
	return &loaded{r: r, t: tables(), info: Info{
		Path:  path,
		Type:  r.Metadata.DatabaseType,
		Built: r.Metadata.BuildTime().UTC(),
	}}, nil
}

// openBytes is maxminddb.OpenBytes, turning a panic on a corrupt file into
// an error.
func openBytes(b []byte) (r *maxminddb.Reader, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("corrupt: %v", p)
		}
	}()
	return maxminddb.OpenBytes(b)
}

// Info describes the loaded database; the zero Info for a nil DB.
func (db *DB) Info() Info {
	if db == nil {
		return Info{}
	}
	return db.cur.Load().info
}

// record is the part of a GeoIP2 or DB-IP country or city record read.
type record struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	RegisteredCountry struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"registered_country"`
	Continent struct {
		Code string `maxminddb:"code"`
	} `maxminddb:"continent"`
}

// Lookup returns the location of addr: its country (the registered
// country when the database gives no other), and that country's
// continent. An address the database does not know, or a nil DB, gives
// the zero Location.
func (db *DB) Lookup(addr netip.Addr) Location {
	if db == nil || !addr.IsValid() {
		return Location{}
	}
	l := db.cur.Load()
	addr = addr.Unmap()
	if !addr.Is4() {
		return l.lookup(addr)
	}
	a4 := addr.As4()
	a := binary.BigEndian.Uint32(a4[:])
	sl := &l.addrs[addrSlot(a)]
	key := uint64(a)<<32 | addrInUse
	if w := sl.Load(); w&^0xffff == key {
		return l.t.locations[w&0xffff]
	}
	loc := l.lookup(addr)
	if i, ok := l.t.locationIndex[loc]; ok {
		sl.Store(key | uint64(i))
	}
	return loc
}

// lookup is Lookup of an unmapped address, from its record.
func (l *loaded) lookup(addr netip.Addr) Location {
	res := l.r.Lookup(addr)
	if !res.Found() {
		return Location{}
	}
	off := res.Offset()
	sl := &l.recent[slot(off)]
	if r := sl.Load(); r != nil && r.off == off {
		return r.loc
	}
	if v, ok := l.cache.Load(off); ok {
		loc := v.(Location)
		sl.Store(&recentRecord{off, loc})
		return loc
	}
	var rec record
	if err := res.Decode(&rec); err != nil {
		return Location{}
	}
	loc := Location{Country: rec.Country.ISOCode}
	if loc.Country == "" {
		loc.Country = rec.RegisteredCountry.ISOCode
	}
	if c, ok := Continent(loc.Country); ok {
		loc.Continent = c
	} else {
		loc.Country = ""
		if _, known := continentCountries[rec.Continent.Code]; known {
			loc.Continent = rec.Continent.Code
		}
	}
	l.cache.Store(off, loc)
	sl.Store(&recentRecord{off, loc})
	return loc
}

// At returns the Location of the country code cc (upper or lower case),
// or false when it is not a known code.
func At(cc string) (Location, bool) {
	if len(cc) != 2 {
		return Location{}, false
	}
	up := []byte{upper(cc[0]), upper(cc[1])}
	c, ok := tables().continentOf[string(up)]
	if !ok {
		return Location{}, false
	}
	return Location{Country: string(up), Continent: c}, true
}

func upper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}
