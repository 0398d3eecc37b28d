package health

import (
	"maps"
	"sync"
	"time"
)

// Tracker keeps the latest Result of each mirror, by a key the caller
// chooses (the mirror's name, or "repo/mirror"), and reports state
// changes, for alerts, metrics and the mirror lists. It is safe for
// concurrent use. The zero value is ready to use.
type Tracker struct {
	mu    sync.Mutex
	last  map[string]Result
	since map[string]time.Time // Checked of the first result in the current state
}

// NewTracker returns an empty Tracker.
func NewTracker() *Tracker {
	return &Tracker{}
}

// Update records r as the latest result for key and returns the state
// before it (Unknown the first time) and whether r changed it.
//
// Every result is recorded, one with State Unknown too. Probe returns
// Unknown for a probe its caller interrupted, which says nothing about the
// mirror: a caller that cancels probes on shutdown should not record
// them.
func (t *Tracker) Update(key string, r Result) (prev State, changed bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old, ok := t.last[key]
	prev = Unknown
	if ok {
		prev = old.State
	}
	if t.last == nil {
		t.last = map[string]Result{}
		t.since = map[string]time.Time{}
	}
	t.last[key] = r
	if !ok || prev != r.State {
		t.since[key] = r.Checked
	}
	return prev, prev != r.State
}

// Get returns the latest result recorded for key.
func (t *Tracker) Get(key string) (Result, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r, ok := t.last[key]
	return r, ok
}

// Since returns when key entered its current state: the Checked time of
// the first result recorded in that state.
func (t *Tracker) Since(key string) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.since[key]
	return s, ok
}

// All returns a copy of the latest result of every key.
func (t *Tracker) All() map[string]Result {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := make(map[string]Result, len(t.last))
	maps.Copy(m, t.last)
	return m
}

// Delete forgets key, for a mirror removed from the configuration.
func (t *Tracker) Delete(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.last, key)
	delete(t.since, key)
}
