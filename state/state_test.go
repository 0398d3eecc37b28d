package state

import (
	"errors"
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

func TestCorruptStateIsAnError(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(s.path("repo"), []byte("{not json"), 0o644)
	if _, err := s.Load("repo"); err == nil {
		t.Error("Load of a corrupt state file succeeded")
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
