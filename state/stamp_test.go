package state

import (
	"testing"
	"time"
)

// TestStamp: every write of a repository's records changes its stamp,
// two writes within one tick of the clock too (a new file each time), and
// a hold removed; nothing else does.
func TestStamp(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	steps := []struct {
		name    string
		do      func() error
		changes bool
	}{
		{"nothing written", func() error { return nil }, false},
		{"verified revisions saved", func() error {
			v := &Verified{Repo: "demo"}
			v.Add(Revision{Revision: "1", SHA256: "a"}, now, time.Hour)
			return s.SaveVerified(v)
		}, true},
		{"the same verified revisions saved again", func() error {
			v, err := s.LoadVerified("demo")
			if err != nil {
				return err
			}
			return s.SaveVerified(v)
		}, true},
		{"another repository's state saved", func() error { return s.Save(&Repo{Name: "other"}) }, false},
		{"state saved", func() error { return s.Save(&Repo{Name: "demo"}) }, true},
		{"held", func() error { return s.SaveHold(&Hold{Repo: "demo", Snapshot: "s", SHA256: "a", At: now}) }, true},
		{"hold removed", func() error { return s.RemoveHold("demo") }, true},
		{"read only", func() error { _, err := s.Load("demo"); return err }, false},
	}
	prev := s.Stamp("demo")
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		got := s.Stamp("demo")
		if changed := !got.Equal(prev); changed != st.changes {
			t.Errorf("%s: stamp changed = %v, want %v (%+v -> %+v)", st.name, changed, st.changes, prev, got)
		}
		prev = got
	}
}
