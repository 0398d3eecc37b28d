package health

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestTracker(t *testing.T) {
	t0 := time.Date(2025, 11, 25, 16, 0, 0, 0, time.UTC)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	tr := NewTracker()
	steps := []struct {
		name    string
		key     string
		state   State
		checked time.Time
		prev    State
		changed bool
		since   time.Time
	}{
		{"first probe: unknown to ok", "local", OK, at(0), Unknown, true, at(0)},
		{"ok to ok", "local", OK, at(1), OK, false, at(0)},
		{"ok to down", "local", Down, at(2), OK, true, at(2)},
		{"down to down", "local", Down, at(3), Down, false, at(2)},
		{"down to unknown", "local", Unknown, at(4), Down, true, at(4)},
		{"unknown to stale", "local", Stale, at(5), Unknown, true, at(5)},
		{"stale to ok", "local", OK, at(6), Stale, true, at(6)},
		{"another mirror, first probe down", "partner", Down, at(6), Unknown, true, at(6)},
		{"unknown the first time", "third", Unknown, at(6), Unknown, false, at(6)},
	}
	for _, s := range steps {
		r := Result{URL: "http://" + s.key + ".example/", State: s.state, Checked: s.checked}
		prev, changed := tr.Update(s.key, r)
		if prev != s.prev || changed != s.changed {
			t.Errorf("%s: Update = %q, %v, want %q, %v", s.name, prev, changed, s.prev, s.changed)
		}
		since, ok := tr.Since(s.key)
		if !since.Equal(s.since) || ok != !s.since.IsZero() {
			t.Errorf("%s: Since = %v, %v, want %v", s.name, since, ok, s.since)
		}
	}

	if got, ok := tr.Get("local"); !ok || got.State != OK || !got.Checked.Equal(at(6)) {
		t.Errorf("Get(local) = %+v, %v, want the ok result of %v", got, ok, at(6))
	}
	if got, ok := tr.Get("third"); !ok || got.State != Unknown {
		t.Errorf("Get(third) = %+v, %v, want the unknown result", got, ok)
	}
	all := tr.All()
	if len(all) != 3 || all["local"].State != OK || all["partner"].State != Down || all["third"].State != Unknown {
		t.Errorf("All = %+v, want local ok, partner down, third unknown", all)
	}
	// All returns a copy.
	all["local"] = Result{State: Down}
	if got, _ := tr.Get("local"); got.State != OK {
		t.Errorf("changing what All returned changed the tracker")
	}

	tr.Delete("partner")
	if _, ok := tr.Get("partner"); ok {
		t.Errorf("Get(partner) after Delete: found")
	}
	if prev, changed := tr.Update("partner", Result{State: Down}); prev != Unknown || !changed {
		t.Errorf("Update after Delete = %q, %v, want unknown, true", prev, changed)
	}
}

func TestTrackerZeroValue(t *testing.T) {
	var tr Tracker
	if _, ok := tr.Get("x"); ok {
		t.Error("Get on an empty tracker found something")
	}
	if len(tr.All()) != 0 {
		t.Error("All on an empty tracker is not empty")
	}
	tr.Delete("x")
	if prev, changed := tr.Update("x", Result{State: OK}); prev != Unknown || !changed {
		t.Errorf("Update = %q, %v, want unknown, true", prev, changed)
	}
}

// Run with -race: the tracker is shared by the probers and the HTTP
// server.
func TestTrackerConcurrent(t *testing.T) {
	tr := NewTracker()
	var wg sync.WaitGroup
	changes := make([]int, 8)
	for g := range 8 {
		wg.Go(func() {
			key := fmt.Sprintf("mirror-%d", g)
			for i := range 1000 {
				state := OK
				if i%10 == 0 {
					state = Down
				}
				if _, changed := tr.Update(key, Result{State: state}); changed {
					changes[g]++
				}
				tr.Get(key)
				tr.All()
			}
		})
	}
	wg.Wait()
	for g, n := range changes {
		// unknown->down, then down->ok and ok->down for each i%10 == 0
		// after the first: 1 + 1 + 99*2.
		if n != 200 {
			t.Errorf("mirror-%d: %d changes, want 200", g, n)
		}
	}
}
