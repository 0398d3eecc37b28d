package state

import (
	"reflect"
	"testing"
	"time"
)

// TestServeRecords: the daemon's record of what it lists reads back as
// written, per repository; removed, it is absent (and removing it again
// is no error); Served says whether a Serving is held.
func TestServeRecords(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if a, err := s.LoadAdopted("r"); err != nil || a != nil {
		t.Fatalf("no record: %+v, %v", a, err)
	}
	at := time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC)
	for _, a := range []*Adopted{
		{Repo: "r", SHA256: "aa", At: at, MetalinkServed: at.Add(-time.Second)},
		{Repo: "q", SHA256: "bb", At: at},
	} {
		if err := s.SaveAdopted(a); err != nil {
			t.Fatal(err)
		}
		got, err := s.LoadAdopted(a.Repo)
		if err != nil || !reflect.DeepEqual(got, a) {
			t.Errorf("read back %+v, %v; want %+v", got, err, a)
		}
	}
	if names, err := s.AdoptedRepos(); err != nil || !reflect.DeepEqual(names, []string{"q", "r"}) {
		t.Errorf("AdoptedRepos: %v, %v", names, err)
	}
	for range 2 {
		if err := s.RemoveAdopted("q"); err != nil {
			t.Fatal(err)
		}
	}
	if a, err := s.LoadAdopted("q"); err != nil || a != nil {
		t.Errorf("removed: %+v, %v", a, err)
	}
	if served, err := s.Served(); err != nil || served {
		t.Fatalf("Served with no daemon: %v, %v", served, err)
	}
	release, err := s.Serving()
	if err != nil {
		t.Fatal(err)
	}
	if served, err := s.Served(); err != nil || !served {
		t.Errorf("Served while Serving is held: %v, %v", served, err)
	}
	release()
	if served, err := s.Served(); err != nil || served {
		t.Errorf("Served once released: %v, %v", served, err)
	}
}
