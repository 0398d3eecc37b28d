package sync_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/snapshot"
	"github.com/rpmirror/rpmirror/target/local"
)

// TestDryRunSnapshotsAsSyncDoes: at each step of a repository with
// snapshots (turned on for mirrors already current, updates, a rollback
// and resume, a new revision after one), the dry run says a snapshot
// follows (MirrorReport.WouldSnapshot, from MirrorPlan.Snapshot) for
// exactly the mirrors the real sync then takes one of. An operator
// tester's dry run after rollback and resume said "and snapshot the
// revision", but the sync that followed took none: the revision the
// mirrors went back to had its snapshot, the newest, since it was first
// published.
func TestDryRunSnapshotsAsSyncDoes(t *testing.T) {
	key := testrepo.TestKey(t)
	base := t.TempDir()
	v, _ := demoRevisions(t, base, key, 3)
	o := newOrigin(t, filepath.Join(base, "origin"))
	h := newHarness(t, o, key.PublicPath)
	t0 := h.now
	ctx := context.Background()
	count := func(t *testing.T, m string) int {
		t.Helper()
		tg, err := local.New(m)
		if err != nil {
			t.Fatal(err)
		}
		x, err := snapshot.Read(ctx, tg, h.repo.Name)
		if err != nil {
			t.Fatal(err)
		}
		return len(x.Snapshots)
	}
	for i, step := range []struct {
		name    string
		prepare func(t *testing.T)
		want    bool // the sync takes a snapshot on each mirror
	}{
		{name: "first sync without snapshots", prepare: func(t *testing.T) { republish(t, o, v[0]) }},
		{name: "snapshots turned on, mirrors current", prepare: func(t *testing.T) {
			h.repo.Snapshots = &config.Snapshots{Keep: 10}
		}, want: true},
		{name: "no change"},
		{name: "update", prepare: func(t *testing.T) { republish(t, o, v[1]) }, want: true},
		{name: "resumed after a rollback to the first revision", prepare: func(t *testing.T) {
			if _, _, err := h.engine(false).Rollback(ctx, h.repo, snapshot.Name(t0), "me@here"); err != nil {
				t.Fatalf("rollback: %v", err)
			}
			if _, err := h.engine(false).Resume(ctx, h.repo); err != nil {
				t.Fatalf("resume: %v", err)
			}
		}},
		{name: "rolled back and resumed, then a new revision", prepare: func(t *testing.T) {
			if _, _, err := h.engine(false).Rollback(ctx, h.repo, snapshot.Name(t0), "me@here"); err != nil {
				t.Fatalf("rollback: %v", err)
			}
			if _, err := h.engine(false).Resume(ctx, h.repo); err != nil {
				t.Fatalf("resume: %v", err)
			}
			republish(t, o, v[2])
		}, want: true},
	} {
		t.Run(step.name, func(t *testing.T) {
			h.now = t0.Add(time.Duration(i) * time.Hour)
			if step.prepare != nil {
				step.prepare(t)
			}
			dry := h.engine(true).Sync(ctx, h.repo)
			if dry.Err != nil {
				t.Fatalf("dry run: %v", dry.Err)
			}
			before := make([]int, len(h.mirrors))
			for j, m := range h.mirrors {
				before[j] = count(t, m)
			}
			h.mustSync()
			for j, m := range h.mirrors {
				took := count(t, m) > before[j]
				if dm := dry.Mirrors[j]; dm.WouldSnapshot != took {
					t.Errorf("mirror %s: the dry run says snapshot %v (current %v), the sync took one: %v", dm.Name, dm.WouldSnapshot, dm.UpToDate, took)
				}
				if p := dry.Plan.Mirror(dry.Mirrors[j].Name); p == nil || p.Snapshot != took {
					t.Errorf("mirror %s: plan %+v, the sync took a snapshot: %v", dry.Mirrors[j].Name, p, took)
				}
				if took != step.want {
					t.Errorf("mirror %s: the sync took a snapshot: %v; the step does not test what it says", m, took)
				}
			}
		})
	}
}
