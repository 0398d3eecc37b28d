package geo

import "net/netip"

// PoisonRecent puts another record in the recent cache's slot of addr's
// record and reports whether that record was in the cache behind the
// slots already.
func (db *DB) PoisonRecent(addr netip.Addr) (cached bool) {
	l := db.cur.Load()
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
