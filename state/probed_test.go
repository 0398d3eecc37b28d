package state

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestProbedRecords: the last probes saved for a repository read back as
// saved, apart from another repository's; none saved is nil, no error;
// a damaged record is an error naming its file.
func TestProbedRecords(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := s.LoadProbed("r"); err != nil || p != nil {
		t.Fatalf("no record: %+v, %v", p, err)
	}
	at := time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC)
	for _, p := range []*Probed{
		{Repo: "r", Saved: at, Mirrors: []ProbedMirror{
			{Name: "a", Configured: "http://a.example/r", URL: "http://a.example/r/", State: "ok", Accepted: true, Latency: 3 * time.Millisecond, Checked: at.Add(-time.Second), Revision: "17", Package: "p/a-1.rpm", Metadata: "repodata/x-primary.xml.gz", SHA256: "aa", Turn: 42},
			{Name: "b", Configured: "http://b.example/r/", URL: "http://b.example/r/", State: "down", Reason: "HEAD p/a-1.rpm: 404 Not Found", Checked: at, Package: "p/a-1.rpm"},
		}},
		{Repo: "q", Saved: at},
	} {
		if err := s.SaveProbed(p); err != nil {
			t.Fatal(err)
		}
		got, err := s.LoadProbed(p.Repo)
		if err != nil || !reflect.DeepEqual(got, p) {
			t.Errorf("read back %+v, %v; want %+v", got, err, p)
		}
	}
	if p, err := s.LoadProbed("r"); err != nil || len(p.Mirrors) != 2 {
		t.Errorf("r after q was saved: %+v, %v", p, err)
	}
	if names, err := s.AdoptedRepos(); err != nil || len(names) != 0 {
		t.Errorf("the probes' records count as records of what a daemon lists: %v, %v", names, err)
	}
	for range 2 { // removing one that is gone is no error
		if err := s.RemoveProbed("r"); err != nil {
			t.Fatal(err)
		}
	}
	if p, err := s.LoadProbed("r"); err != nil || p != nil {
		t.Errorf("removed: %+v, %v", p, err)
	}
	bad := filepath.Join(dir, "probes", "q.json")
	if err := os.WriteFile(bad, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LoadProbed("q"); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("damaged record: %v, want an error naming %s", err, bad)
	}
}
