package sync_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	gosync "sync"
	"testing"

	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/state"
	"github.com/rpmirror/rpmirror/sync"
)

// lockedBuffer is a bytes.Buffer for a logger that several goroutines use.
type lockedBuffer struct {
	mu gosync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestDamagedStateIsRebuilt: an empty, truncated or garbled state file
// no longer fails every sync. The sync warns once, keeps the damaged file
// aside, rebuilds from the mirrors what they tell (the revision they
// serve), and goes on: a current mirror stays current, a new revision is
// published.
func TestDamagedStateIsRebuilt(t *testing.T) {
	v1, v2 := testrepo.DemoOrigin(t, "v1"), testrepo.DemoOrigin(t, "v2")
	for _, tc := range []struct {
		name   string
		damage func([]byte) []byte
	}{
		{"empty", func([]byte) []byte { return nil }},
		{"truncated", func(b []byte) []byte { return b[:len(b)/2] }},
		{"garbage", func([]byte) []byte { return []byte("\x00\x13{garbage]") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newOrigin(t, filepath.Join(t.TempDir(), "origin"))
			republish(t, o, v1)
			h := newHarness(t, o, demoKey(t))
			rev := h.mustSync().Revision
			file := filepath.Join(h.store.Dir(), "repos", "test.json")
			good, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(file, tc.damage(good), 0o644)

			var logs lockedBuffer
			engine := h.engineWith(func(opts *sync.Options) {
				opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			})
			rep := engine.Sync(context.Background(), h.repo)
			if rep.Err != nil {
				t.Fatalf("sync with a damaged state file: %v", rep.Err)
			}
			if !rep.NoChange {
				t.Error("the mirrors were current, and the sync did not say so")
			}
			st, err := h.store.Load("test")
			if err != nil {
				t.Fatalf("state after the sync: %v", err)
			}
			for _, m := range h.repo.Mirrors {
				if ms := st.Mirrors[m.Name]; ms == nil || ms.Revision != rev || ms.RepomdSHA256 == "" || ms.PublishedAt.IsZero() {
					t.Errorf("mirror %s: rebuilt state %+v, want revision %s with its digest and time", m.Name, ms, rev)
				}
			}
			if b, err := os.ReadFile(file + ".damaged"); err != nil || !bytes.Equal(b, tc.damage(good)) {
				t.Errorf("the damaged file was not kept aside: %v", err)
			}
			republish(t, o, v2)
			if rep := engine.Sync(context.Background(), h.repo); rep.Err != nil {
				t.Fatalf("the next sync: %v", rep.Err)
			}
			h.checkMirrors()
			if n := strings.Count(logs.String(), "state file is damaged"); n != 1 {
				t.Errorf("warned %d times about the damaged state file over two syncs, want once:\n%s", n, logs.String())
			}
		})
	}
}

// TestRunRecordedUnderLock: every save of a repository's state, the run
// record at the end of a sync included, is made while the sync holds the
// repository's lock in the state_dir: a sync by another process that
// took the lock in between would have its state overwritten by a copy
// from before it (found while profiling the end of a small sync: the
// record of the run was saved after the lock was let go). The lock is
// let go once the sync returns.
func TestRunRecordedUnderLock(t *testing.T) {
	o := newOrigin(t, filepath.Join(t.TempDir(), "origin"))
	republish(t, o, filepath.Join("..", "internal", "demo", "origin", "v1"))
	h := newHarness(t, o)
	var mu gosync.Mutex
	syncs := 0          // syncs started so far
	var recorded []bool // for each sync: its run record was saved
	unlocked := 0       // saves made without the lock held
	old := sync.SetSaveState(func(st *state.Store, r *state.Repo) error {
		mu.Lock()
		defer mu.Unlock()
		if len(r.Runs) == syncs {
			recorded[syncs-1] = true // the record of the sync running
		}
		// Held by the sync: taking it must fail.
		if unlock, err := st.Lock(r.Name); err == nil {
			unlocked++
			unlock()
		} else if !errors.Is(err, state.ErrLocked) {
			t.Errorf("taking the lock: %v", err)
		}
		return st.Save(r)
	})
	t.Cleanup(func() { sync.SetSaveState(old) })
	for _, rev := range []string{"v1", "v2"} {
		republish(t, o, filepath.Join("..", "internal", "demo", "origin", rev))
		mu.Lock()
		syncs++
		recorded = append(recorded, false)
		mu.Unlock()
		if rep := h.engine(false).Sync(context.Background(), h.repo); rep.Err != nil {
			t.Fatalf("%s: %v", rev, rep.Err)
		}
		unlock, err := h.store.Lock(h.repo.Name)
		if err != nil {
			t.Fatalf("%s: the lock after the sync: %v", rev, err)
		}
		unlock()
	}
	for i, ok := range recorded {
		if !ok {
			t.Errorf("sync %d: its run record was not saved (through the state's save)", i+1)
		}
	}
	if unlocked != 0 {
		t.Errorf("%d state saves made while the repository was not locked, want none", unlocked)
	}
	st, err := h.store.Load(h.repo.Name)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Runs) != 2 {
		t.Errorf("%d runs recorded, want 2", len(st.Runs))
	}
}
