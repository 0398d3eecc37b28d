package s3

import (
	"testing"
	"time"
)

// TestLeaseAge: the age a message gives a lease is never negative,
// whatever the store's whole-second clock says (standby said "lease held
// by A, renewed -1s ago").
func TestLeaseAge(t *testing.T) {
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		modified time.Time
		want     time.Duration
	}{
		{"written before now", now.Add(-5 * time.Second), 5 * time.Second},
		{"written in the store's next second", now.Add(time.Second), 0},
		{"written now", now, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := current{modified: tc.modified, now: now, ttl: 30 * time.Second}
			if got := c.age(); got != tc.want {
				t.Errorf("age = %s, want %s", got, tc.want)
			}
		})
	}
}
