package state

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

func rev(n int) Revision {
	return Revision{Revision: fmt.Sprint(n), SHA256: fmt.Sprintf("%064d", n), Repomd: []byte(fmt.Sprintf("<repomd>%d</repomd>", n))}
}

func revisions(v *Verified) []string {
	var out []string
	for _, r := range v.Revisions {
		out = append(out, r.Revision)
	}
	return out
}

func TestVerifiedAdd(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name    string
		adds    []int           // revisions added, one hour apart
		maxLag  time.Duration   // given to every Add
		want    []string        // newest first
		changed []bool          // what each Add reports
		check   func(*Verified) // more checks
	}{
		{name: "first", adds: []int{1}, maxLag: 24 * time.Hour, want: []string{"1"}, changed: []bool{true}},
		{name: "same twice", adds: []int{1, 1}, maxLag: 24 * time.Hour, want: []string{"1"}, changed: []bool{true, false}},
		{name: "newer supersedes", adds: []int{1, 2}, maxLag: 24 * time.Hour, want: []string{"2", "1"},
			check: func(v *Verified) {
				if !v.Revisions[1].SupersededAt.Equal(t0.Add(time.Hour)) || !v.Revisions[0].SupersededAt.IsZero() {
					t.Errorf("superseded at %v and %v", v.Revisions[0].SupersededAt, v.Revisions[1].SupersededAt)
				}
			}},
		{name: "back to an earlier one moves it first", adds: []int{1, 2, 1}, maxLag: 24 * time.Hour, want: []string{"1", "2"}},
		{name: "strict keeps MinEarlier", adds: []int{1, 2, 3, 4, 5, 6}, maxLag: 0, want: []string{"6", "5", "4", "3"}},
		{name: "within max_lag kept", adds: []int{1, 2, 3, 4, 5, 6}, maxLag: 10 * time.Hour, want: []string{"6", "5", "4", "3", "2", "1"}},
		{name: "beyond max_lag dropped", adds: []int{1, 2, 3, 4, 5, 6, 7}, maxLag: 2*time.Hour + time.Minute, want: []string{"7", "6", "5", "4"}},
		{name: "never more than MaxEarlier", adds: seq(50), maxLag: 1000 * time.Hour,
			check: func(v *Verified) {
				if len(v.Revisions) != MaxEarlier+1 || v.Revisions[0].Revision != "50" {
					t.Errorf("kept %d revisions, newest %s", len(v.Revisions), v.Revisions[0].Revision)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &Verified{Repo: "r"}
			for i, n := range tt.adds {
				changed := v.Add(rev(n), t0.Add(time.Duration(i)*time.Hour), tt.maxLag)
				if tt.changed != nil && changed != tt.changed[i] {
					t.Errorf("Add #%d (%d) reported changed=%v", i, n, changed)
				}
			}
			if tt.want != nil && fmt.Sprint(revisions(v)) != fmt.Sprint(tt.want) {
				t.Errorf("revisions %v, want %v", revisions(v), tt.want)
			}
			if tt.check != nil {
				tt.check(v)
			}
		})
	}
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i + 1
	}
	return s
}

// TestVerifiedSurvivesReopen: what was saved is what a new process loads.
func TestVerifiedSurvivesReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.LoadVerified("repo")
	if err != nil || v.Current() != nil {
		t.Fatalf("fresh: %+v, %v", v, err)
	}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r1, r2 := rev(1), rev(2)
	r2.Packages = []string{"Packages/a/a-1.rpm"}
	v.Add(r1, t0, time.Hour)
	v.Add(r2, t0.Add(time.Minute), time.Hour)
	if err := s.SaveVerified(v); err != nil {
		t.Fatal(err)
	}
	got, err := OpenExisting(dir).LoadVerified("repo")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(revisions(got)) != "[2 1]" || string(got.Current().Repomd) != string(r2.Repomd) ||
		got.Current().Packages[0] != "Packages/a/a-1.rpm" || !got.Revisions[1].SupersededAt.Equal(t0.Add(time.Minute)) ||
		got.Find(r1.SHA256) != 1 || got.Find("nope") != -1 {
		t.Errorf("after a reopen: %+v", got)
	}
}
