package sync_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/sync"
)

// TestHoldSharedThroughTheBucket: two hosts, each with its own
// state_dir, share a mirror in object storage (the HA set-up). A
// rollback made on host A holds the repository on host B too: B's sync
// refuses to move it (an operator's HA test found B's sync republishing
// the newer revision over the rollback, since the hold lived in A's
// state_dir alone). B resumes it, and A's next sync, whose state_dir still
// records the hold, goes ahead.
func TestHoldSharedThroughTheBucket(t *testing.T) {
	key := testrepo.TestKey(t)
	base := t.TempDir()
	v, _ := demoRevisions(t, base, key, 2)
	o := newOrigin(t, filepath.Join(base, "origin"))
	h := newS3Harness(t, o, key.PublicPath)
	h.repo.Snapshots = &config.Snapshots{Keep: 5, KeepFor: 24 * time.Hour}
	ctx := context.Background()
	repomdOf := func(dir string) string {
		b, err := os.ReadFile(filepath.Join(dir, "repodata", "repomd.xml"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	t0 := h.now
	for i, dir := range v {
		h.now = t0.Add(time.Duration(i) * time.Hour)
		republish(t, o, dir)
		h.mustSync()
	}
	first := "20261125T120000Z"

	// Host A rolls back to the first revision.
	storeA := h.store
	if _, _, err := h.engine(false).Rollback(ctx, h.repo, first, "a@host-a"); err != nil {
		t.Fatalf("rollback on host A: %v", err)
	}
	if repomdOf(h.mirrors[0]) != repomdOf(v[0]) {
		t.Fatal("the bucket does not serve the first revision after the rollback")
	}

	// Host B, with its own state_dir, syncs: held.
	h.freshState()
	storeB := h.store
	rep := h.sync()
	var he *sync.HeldError
	if !errors.As(rep.Err, &he) || he.Hold.Snapshot != first || he.Hold.By != "a@host-a" {
		t.Fatalf("host B's sync after host A's rollback: err = %v, want a *sync.HeldError at %s by a@host-a", rep.Err, first)
	}
	if repomdOf(h.mirrors[0]) != repomdOf(v[0]) {
		t.Fatal("host B's sync moved the bucket past the rollback")
	}
	if st, _ := storeB.Load(h.repo.Name); len(st.Runs) != 0 {
		t.Errorf("host B's held sync was recorded as a run: %+v", st.Runs)
	}
	if hb, err := storeB.LoadHold(h.repo.Name); err != nil || hb == nil || hb.Snapshot != first {
		t.Errorf("host B's state_dir does not record the hold it learnt: %+v, %v", hb, err)
	}

	// Host B resumes; host A's state_dir still records the hold.
	if got, err := h.engine(false).Resume(ctx, h.repo); err != nil || got == nil || got.Snapshot != first {
		t.Fatalf("resume on host B: %+v, %v", got, err)
	}
	h.store = storeA
	if ha, _ := storeA.LoadHold(h.repo.Name); ha == nil {
		t.Fatal("host A's state_dir lost its hold before A synced: the test does not test adopting a resume")
	}
	h.now = t0.Add(3 * time.Hour)
	h.mustSync()
	if repomdOf(h.mirrors[0]) != repomdOf(v[1]) {
		t.Error("host A's sync after host B's resume did not bring the bucket to the origin's revision")
	}
	if ha, err := storeA.LoadHold(h.repo.Name); err != nil || ha != nil {
		t.Errorf("host A's state_dir still records the hold host B lifted: %+v, %v", ha, err)
	}
}
