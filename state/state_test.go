package state

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestSaveLoad(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Load("repo")
	if err != nil || len(r.Mirrors) != 0 || len(r.Runs) != 0 {
		t.Fatalf("fresh state: %+v, %v", r, err)
	}
	when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	m := r.Mirror("local")
	m.Revision, m.PublishedAt = "42", when
	m.Pending = map[string]time.Time{"Packages/a.rpm": when}
	for i := range MaxRuns + 7 {
		r.AddRun(Run{Start: when.Add(time.Duration(i) * time.Minute), Fetched: i})
	}
	if err := s.Save(r); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load("repo")
	if err != nil {
		t.Fatal(err)
	}
	if gm := got.Mirrors["local"]; gm == nil || gm.Revision != "42" || !gm.PublishedAt.Equal(when) || !gm.Pending["Packages/a.rpm"].Equal(when) {
		t.Errorf("mirror state after a round trip: %+v", got.Mirrors["local"])
	}
	if len(got.Runs) != MaxRuns || got.LastRun().Fetched != MaxRuns+6 || got.Runs[0].Fetched != 7 {
		t.Errorf("kept %d runs, first %d, last %d; want the newest %d", len(got.Runs), got.Runs[0].Fetched, got.LastRun().Fetched, MaxRuns)
	}
	names, err := s.Repos()
	if err != nil || len(names) != 1 || names[0] != "repo" {
		t.Errorf("Repos = %v, %v", names, err)
	}
}

// TestDamagedState: an empty, truncated or garbled state file loads as
// usable empty state with a *CorruptError, and SetAside moves it out of
// the way so that the next Load starts afresh.
func TestDamagedState(t *testing.T) {
	good, _ := json.Marshal(&Repo{Name: "repo", Mirrors: map[string]*Mirror{"m": {Revision: "7"}}, Runs: []Run{{Fetched: 3}}})
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"blank", []byte("\n  \n")},
		{"truncated", good[:len(good)/2]},
		{"garbage", []byte("\x00\x17garbage{]")},
		{"wrong shape", []byte(`{"mirrors": ["a", "b"]}`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(s.path("repo"), tc.data, 0o644)
			r, err := s.Load("repo")
			var ce *CorruptError
			if !errors.As(err, &ce) || ce.Path != s.path("repo") {
				t.Fatalf("Load: %v, want a *CorruptError naming the file", err)
			}
			if r == nil || r.Name != "repo" || r.Mirrors == nil || len(r.Mirrors) != 0 || len(r.Runs) != 0 {
				t.Fatalf("Load gave %+v, want usable empty state", r)
			}
			r.Mirror("m").Revision = "8"
			kept, err := s.SetAside("repo")
			if err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(kept); !bytes.Equal(b, tc.data) {
				t.Errorf("the damaged file was not kept as it was at %s", kept)
			}
			if err := s.Save(r); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Load("repo"); err != nil || got.Mirrors["m"].Revision != "8" {
				t.Errorf("after SetAside and Save: %+v, %v", got, err)
			}
		})
	}
}

func TestLock(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := s.Lock("repo")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lock("repo"); !errors.Is(err, ErrLocked) {
		t.Errorf("second Lock: %v, want ErrLocked", err)
	} else if want := fmt.Sprintf("%v (pid %d)", ErrLocked, os.Getpid()); err.Error() != want {
		// The message docs/operations.md quotes; the caller names the repo.
		t.Errorf("second Lock: %q, want %q", err, want)
	}
	other, err := s.Lock("other")
	if err != nil {
		t.Errorf("a lock on another repo: %v", err)
	} else {
		other()
	}
	unlock()
	again, err := s.Lock("repo")
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	again()
}

// TestLockWithin: a lock let go within the wait is taken (as when
// rpmirror serve glances at the lock while rollback or resume runs); one
// held longer fails with ErrLocked once the wait is over, or at once when
// the context ends; a free lock is taken at once.
func TestLockWithin(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		hold    time.Duration // how long another holder keeps it; 0: nobody; -1: past the test
		wait    time.Duration
		cancel  bool
		wantErr bool
		atLeast time.Duration // the least time LockWithin takes
		atMost  time.Duration
	}{
		{name: "free", wait: time.Second, atMost: 500 * time.Millisecond},
		{name: "let go within the wait", hold: 50 * time.Millisecond, wait: 2 * time.Second, atLeast: 40 * time.Millisecond, atMost: 1500 * time.Millisecond},
		{name: "held past the wait", hold: -1, wait: 100 * time.Millisecond, wantErr: true, atLeast: 100 * time.Millisecond, atMost: 1500 * time.Millisecond},
		{name: "context ended", hold: -1, wait: time.Hour, cancel: true, wantErr: true, atMost: 1500 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.hold != 0 {
				unlock, err := s.Lock("repo")
				if err != nil {
					t.Fatal(err)
				}
				if tc.hold > 0 {
					time.AfterFunc(tc.hold, unlock)
				} else {
					t.Cleanup(unlock)
				}
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancel {
				time.AfterFunc(20*time.Millisecond, cancel)
			}
			start := time.Now()
			unlock, err := s.LockWithin(ctx, "repo", tc.wait)
			took := time.Since(start)
			if tc.wantErr != (err != nil) || (err != nil && !errors.Is(err, ErrLocked)) {
				t.Fatalf("LockWithin: %v, want an error wrapping ErrLocked: %v", err, tc.wantErr)
			}
			if err == nil {
				unlock()
			}
			if took < tc.atLeast || took > tc.atMost {
				t.Errorf("LockWithin took %v, want %v to %v", took, tc.atLeast, tc.atMost)
			}
		})
	}
}

// TestRemoveStaleTemp: the files of TempDir with the prefix and older
// than the age go; younger ones (another process's, in use), other names
// and directories stay; a TempDir not made yet is no error.
func TestRemoveStaleTemp(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	if removed, err := s.RemoveStaleTemp("lists-", time.Hour); err != nil || len(removed) != 0 {
		t.Fatalf("with no %s yet: removed %v, %v", TempDir, removed, err)
	}
	dir := filepath.Join(s.Dir(), TempDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour)
	for _, tc := range []struct {
		name  string
		dir   bool
		mtime time.Time
		gone  bool
	}{
		{name: "lists-123", mtime: old, gone: true},
		{name: "lists-456", mtime: time.Now()},
		{name: "other-789", mtime: old},
		{name: "lists-dir", dir: true, mtime: old},
	} {
		p := filepath.Join(dir, tc.name)
		if tc.dir {
			err = os.Mkdir(p, 0o755)
		} else {
			err = os.WriteFile(p, []byte("x"), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, tc.mtime, tc.mtime); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_, err := os.Lstat(p)
			if gone := errors.Is(err, os.ErrNotExist); gone != tc.gone {
				t.Errorf("%s: removed %v, want %v", tc.name, gone, tc.gone)
			}
		})
	}
	removed, err := s.RemoveStaleTemp("lists-", time.Hour)
	if err != nil || len(removed) != 1 || filepath.Base(removed[0]) != "lists-123" {
		t.Errorf("RemoveStaleTemp = %v, %v; want lists-123 alone", removed, err)
	}
}
