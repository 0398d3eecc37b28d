package state

import (
	"testing"
	"time"
)

// TestHold: a hold is saved, loaded and removed; removing none is no
// error; WithHold judges mirrors against the held revision alone, keeping
// the package sample rpmirror verified with it.
func TestHold(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if h, err := s.LoadHold("r"); h != nil || err != nil {
		t.Fatalf("LoadHold of a repo never held = %v, %v", h, err)
	}
	at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	h := &Hold{Repo: "r", Snapshot: "20261125T120000Z", Revision: "1", SHA256: "aa", Repomd: []byte("<repomd/>"), By: "ann@build1", At: at}
	if err := s.SaveHold(h); err != nil {
		t.Fatal(err)
	}
	got, err := s.LoadHold("r")
	if err != nil || got == nil || got.Snapshot != h.Snapshot || got.By != h.By || !got.At.Equal(at) || string(got.Repomd) != "<repomd/>" {
		t.Fatalf("LoadHold = %+v, %v; want %+v", got, err, h)
	}
	if err := s.RemoveHold("r"); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveHold("r"); err != nil {
		t.Errorf("RemoveHold of a repo not held: %v", err)
	}
	if h, err := s.LoadHold("r"); h != nil || err != nil {
		t.Errorf("LoadHold after RemoveHold = %v, %v", h, err)
	}

	v := &Verified{Repo: "r"}
	v.Add(Revision{Revision: "1", SHA256: "aa", Packages: []string{"a.rpm"}}, at.Add(-2*time.Hour), time.Hour)
	v.Add(Revision{Revision: "2", SHA256: "bb"}, at.Add(-time.Hour), time.Hour)
	for _, tc := range []struct {
		name     string
		hold     *Hold
		want     []string // SHA256 of the revisions, current first
		packages []string
	}{
		{"not held", nil, []string{"bb", "aa"}, nil},
		{"held at an earlier verified revision", h, []string{"aa"}, []string{"a.rpm"}},
		{"held at a revision no longer in the list", &Hold{Repo: "r", SHA256: "cc", Packages: []string{"c.rpm"}, At: at}, []string{"cc"}, []string{"c.rpm"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := v.WithHold(tc.hold)
			var sums []string
			for _, r := range w.Revisions {
				sums = append(sums, r.SHA256)
			}
			if len(sums) != len(tc.want) || sums[0] != tc.want[0] {
				t.Fatalf("revisions %v, want %v", sums, tc.want)
			}
			if tc.hold != nil && (len(w.Current().Packages) != len(tc.packages) || w.Current().Packages[0] != tc.packages[0]) {
				t.Errorf("packages %v, want %v", w.Current().Packages, tc.packages)
			}
		})
	}
	// The signature probes check: the hold's own, else the one rpmirror
	// verified the revision with (a hold recorded before holds had one).
	v.Revisions[1].Signature = []byte("verified-sig")
	for _, tc := range []struct {
		name string
		hold *Hold
		want string
	}{
		{"the hold's", &Hold{Repo: "r", SHA256: "aa", Signature: []byte("held-sig")}, "held-sig"},
		{"the verified revision's", &Hold{Repo: "r", SHA256: "aa"}, "verified-sig"},
		{"none known", &Hold{Repo: "r", SHA256: "cc"}, ""},
		{"the snapshot has none", &Hold{Repo: "r", SHA256: "aa", Unsigned: true}, ""},
	} {
		if got := v.WithHold(tc.hold).Current().Signature; string(got) != tc.want {
			t.Errorf("signature, %s: %q, want %q", tc.name, got, tc.want)
		}
	}
	if len(v.Revisions) != 2 || v.Current().SHA256 != "bb" {
		t.Error("WithHold changed the list it was called on")
	}
}
