package geo

import "net/netip"

// PoisonRecent puts another record in the recent cache's slot of addr's
// record and reports whether that record was in the cache behind the
// slots already. It empties addr's slot of recent addresses, so that
// the next Lookup of addr goes to its record.
func (db *DB) PoisonRecent(addr netip.Addr) (cached bool) {
	l := db.cur.Load()
	if addr.Is4() {
		l.addrs[AddrSlot(addr)].Store(0)
	}
	off := l.r.Lookup(addr).Offset()
	_, cached = l.cache.Load(off)
	l.recent[slot(off)].Store(&recentRecord{off: off + 1, loc: Location{Country: "XX", Continent: "XX"}})
	return cached
}

// RecentSlot returns the Location the recent cache holds for addr's
// record; false when its slot holds another record or none.
func (db *DB) RecentSlot(addr netip.Addr) (Location, bool) {
	l := db.cur.Load()
	off := l.r.Lookup(addr).Offset()
	r := l.recent[slot(off)].Load()
	if r == nil || r.off != off {
		return Location{}, false
	}
	return r.loc, true
}

// LookupRecord returns addr's Location from its record, not from the
// slots of recent addresses.
func (db *DB) LookupRecord(addr netip.Addr) Location {
	return db.cur.Load().lookup(addr.Unmap())
}

// AddrSlot returns the slot of the IPv4 address a among those of recent
// addresses.
func AddrSlot(a netip.Addr) int {
	b := a.As4()
	return addrSlot(uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]))
}
