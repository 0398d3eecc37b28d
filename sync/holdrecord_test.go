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
		{"a later hold than the one lifted elsewhere", h2, &sync.HoldRecord{LiftedAt: h1.At, LiftedSHA256: h1.SHA256, Written: t0.Add(2 * time.Hour)}, h2},
		// B held at h1; A held again at h2 (B never saved it) and lifted h2.
		{"an earlier hold than the one lifted elsewhere", h1, &sync.HoldRecord{LiftedAt: h2.At, LiftedSHA256: h2.SHA256, Written: t0.Add(2 * time.Hour)}, nil},
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

func TestForRepo(t *testing.T) {
	h := &state.Hold{Repo: "el9-on-host-a", Snapshot: "s", SHA256: "aa"}
	got := sync.ForRepo(h, "el9")
	if got == h || got.Repo != "el9" || got.Snapshot != "s" || h.Repo != "el9-on-host-a" {
		t.Errorf("ForRepo of another repo's name: %+v (the record's hold %+v)", got, h)
	}
	if same := &(state.Hold{Repo: "el9"}); sync.ForRepo(same, "el9") != same {
		t.Error("ForRepo copied a hold that names the repo already")
	}
	if sync.ForRepo(nil, "el9") != nil {
		t.Error("ForRepo(nil) is not nil")
	}
}
