package sync_test

import (
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/state"
	"github.com/rpmirror/rpmirror/sync"
)

func TestEffectiveHold(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	hold := func(at time.Time, sum string) *state.Hold {
		return &state.Hold{Repo: "r", Snapshot: "s", SHA256: sum, At: at}
	}
	h1, h2 := hold(t0, "aa"), hold(t0.Add(time.Hour), "bb")
	h1done := hold(t0, "aa")
	h1done.Done = t0.Add(time.Minute)
	for _, c := range []struct {
		name  string
		local *state.Hold
		rec   *sync.HoldRecord
		want  *state.Hold
	}{
		{"nothing", nil, nil, nil},
		{"local only", h1, nil, h1},
		{"held elsewhere", nil, &sync.HoldRecord{Hold: h1, Written: t0}, h1},
		{"a newer hold elsewhere", h1, &sync.HoldRecord{Hold: h2, Written: t0.Add(time.Hour)}, h2},
		{"an older hold elsewhere", h2, &sync.HoldRecord{Hold: h1, Written: t0}, h2},
		{"the same hold, done since", h1, &sync.HoldRecord{Hold: h1done, Written: t0.Add(time.Minute)}, h1done},
		{"this hold lifted elsewhere", h1, &sync.HoldRecord{LiftedAt: h1.At, LiftedSHA256: h1.SHA256, Written: t0.Add(-time.Hour)}, nil},
		{"another hold lifted elsewhere", h2, &sync.HoldRecord{LiftedAt: h1.At, LiftedSHA256: h1.SHA256, Written: t0.Add(2 * time.Hour)}, h2},
		{"resumed elsewhere, no hold named, later", h1, &sync.HoldRecord{Written: t0.Add(time.Hour)}, nil},
		{"resumed elsewhere, no hold named, earlier", h2, &sync.HoldRecord{Written: t0}, h2},
		{"resumed elsewhere, nothing held here", nil, &sync.HoldRecord{Written: t0}, nil},
	} {
		if got := sync.EffectiveHold(c.local, c.rec); got != c.want {
			t.Errorf("%s: EffectiveHold = %+v, want %+v", c.name, got, c.want)
		}
	}
	if got := sync.Newest(nil, &sync.HoldRecord{Hold: h1, Written: t0}, &sync.HoldRecord{Written: t0.Add(time.Hour)}, nil); got == nil || got.Hold != nil {
		t.Errorf("Newest = %+v, want the resume written last", got)
	}
}
