package state

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
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

// TestVerifiedFromBeforeSizes: verified revisions written by an rpmirror
// that recorded package samples without sizes still load; the sample is
// then checked for presence only (HasSizes false), and gains its sizes
// from the next sample that has them (a sync's, the records of another
// writer), never losing them to one that has none.
func TestVerifiedFromBeforeSizes(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r1, r2 := rev(1), rev(2)
	// As the previous version wrote it: "packages" and no
	// "package_sizes".
	old := fmt.Sprintf(`{
  "repo": "demo",
  "revisions": [
    {
      "revision": "2",
      "sha256": "%s",
      "repomd": "PHJlcG9tZD4yPC9yZXBvbWQ+",
      "verified_at": "2026-01-02T04:04:05Z",
      "packages": [
        "Packages/a/a-2.rpm",
        "Packages/b/b-1.rpm"
      ]
    },
    {
      "revision": "1",
      "sha256": "%s",
      "repomd": "PHJlcG9tZD4xPC9yZXBvbWQ+",
      "verified_at": "2026-01-02T03:04:05Z",
      "superseded_at": "2026-01-02T04:04:05Z",
      "packages": [
        "Packages/a/a-1.rpm"
      ]
    }
  ]
}
`, r2.SHA256, r1.SHA256)
	sized := func(r Revision, hrefs []string, sizes []int64) Revision {
		r.Packages, r.PackageSizes = hrefs, sizes
		return r
	}
	hrefs2 := []string{"Packages/a/a-2.rpm", "Packages/c/c-1.rpm"}
	sizes2 := []int64{4321, 8765}

	tests := []struct {
		name string
		// change is what happens to the loaded revisions; it reports
		// whether they changed.
		change      func(v *Verified) bool
		changed     bool
		wantSizes   []int64 // of the current revision; nil: none
		wantHrefs   []string
		wantEarlier bool // revision 1 gained sizes
	}{
		{
			name:      "loaded as it is: checked for presence only",
			change:    func(*Verified) bool { return false },
			wantHrefs: []string{"Packages/a/a-2.rpm", "Packages/b/b-1.rpm"},
		},
		{
			name:      "a sync of the same revision records a sample with sizes",
			change:    func(v *Verified) bool { return v.Add(sized(r2, hrefs2, sizes2), t0.Add(2*time.Hour), time.Hour) },
			changed:   true,
			wantHrefs: hrefs2, wantSizes: sizes2,
		},
		{
			name: "a sample without sizes does not replace one with",
			change: func(v *Verified) bool {
				v.Add(sized(r2, hrefs2, sizes2), t0.Add(2*time.Hour), time.Hour)
				return v.Add(sized(r2, []string{"Packages/z.rpm"}, nil), t0.Add(3*time.Hour), time.Hour)
			},
			changed:   false, // the second Add
			wantHrefs: hrefs2, wantSizes: sizes2,
		},
		{
			name:      "sizes that do not match the packages count as none",
			change:    func(v *Verified) bool { return v.Add(sized(r2, hrefs2, sizes2[:1]), t0.Add(2*time.Hour), time.Hour) },
			wantHrefs: []string{"Packages/a/a-2.rpm", "Packages/b/b-1.rpm"},
		},
		{
			name: "the records of another writer bring sizes",
			change: func(v *Verified) bool {
				o := &Verified{Repo: "demo", Revisions: []Revision{sized(r2, hrefs2, sizes2), sized(r1, []string{"Packages/a/a-1.rpm"}, []int64{1234})}}
				o.Revisions[0].VerifiedAt = v.Revisions[0].VerifiedAt
				o.Revisions[1].VerifiedAt = v.Revisions[1].VerifiedAt
				return v.Merge(o, t0.Add(2*time.Hour), time.Hour)
			},
			changed:   true,
			wantHrefs: hrefs2, wantSizes: sizes2, wantEarlier: true,
		},
		{
			name: "records of an older writer take nothing away",
			change: func(v *Verified) bool {
				v.Add(sized(r2, hrefs2, sizes2), t0.Add(2*time.Hour), time.Hour)
				o := &Verified{Repo: "demo", Revisions: []Revision{sized(r2, []string{"Packages/a/a-2.rpm"}, nil)}}
				o.Revisions[0].VerifiedAt = v.Revisions[0].VerifiedAt
				return v.Merge(o, t0.Add(2*time.Hour), time.Hour)
			},
			changed:   false, // the Merge
			wantHrefs: hrefs2, wantSizes: sizes2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state")
			if err := os.MkdirAll(filepath.Join(dir, "verified"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "verified", "demo.json"), []byte(old), 0o644); err != nil {
				t.Fatal(err)
			}
			s := OpenExisting(dir)
			v, err := s.LoadVerified("demo")
			if err != nil {
				t.Fatalf("state written before sizes: %v", err)
			}
			if fmt.Sprint(revisions(v)) != "[2 1]" || v.Current().SHA256 != r2.SHA256 || v.Current().HasSizes() {
				t.Fatalf("loaded %+v", v)
			}
			changed := tt.change(v)
			if changed != tt.changed {
				t.Errorf("changed = %v, want %v", changed, tt.changed)
			}
			// What is saved is what the next start loads.
			if err := s.SaveVerified(v); err != nil {
				t.Fatal(err)
			}
			got, err := OpenExisting(dir).LoadVerified("demo")
			if err != nil {
				t.Fatal(err)
			}
			cur := got.Current()
			if !slices.Equal(cur.Packages, tt.wantHrefs) || cur.HasSizes() != (tt.wantSizes != nil) || (tt.wantSizes != nil && !slices.Equal(cur.PackageSizes, tt.wantSizes)) {
				t.Errorf("current revision's sample %v sizes %v, want %v sizes %v", cur.Packages, cur.PackageSizes, tt.wantHrefs, tt.wantSizes)
			}
			if got.Revisions[1].HasSizes() != tt.wantEarlier {
				t.Errorf("revision 1: sizes %v", got.Revisions[1].PackageSizes)
			}
		})
	}
}

// TestHoldFromBeforeSizes: a hold recorded without sizes still loads, and
// the held revision takes the sized sample of the verified revision it
// names.
func TestHoldFromBeforeSizes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	if err := os.MkdirAll(filepath.Join(dir, "holds"), 0o755); err != nil {
		t.Fatal(err)
	}
	r1 := rev(1)
	old := fmt.Sprintf(`{"repo": "demo", "snapshot": "20260102T030405Z", "revision": "1", "sha256": "%s", "repomd": "PHJlcG9tZD4xPC9yZXBvbWQ+",
  "packages": ["Packages/a/a-1.rpm"], "by": "me@here", "at": "2026-01-02T05:00:00Z"}`, r1.SHA256)
	if err := os.WriteFile(filepath.Join(dir, "holds", "demo.json"), []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := OpenExisting(dir).LoadHold("demo")
	if err != nil || h == nil {
		t.Fatalf("hold written before sizes: %v, %v", h, err)
	}
	if w := (&Verified{Repo: "demo"}).WithHold(h); w.Current().HasSizes() || w.Current().Packages[0] != "Packages/a/a-1.rpm" {
		t.Errorf("held alone: %+v", w.Current())
	}
	r1.Packages, r1.PackageSizes = []string{"Packages/a/a-1.rpm", "Packages/b/b-1.rpm"}, []int64{10, 20}
	v := &Verified{Repo: "demo", Revisions: []Revision{r1}}
	if w := v.WithHold(h); !w.Current().HasSizes() || !slices.Equal(w.Current().PackageSizes, []int64{10, 20}) {
		t.Errorf("held, the verified revision's sample has sizes: %+v", w.Current())
	}
}

// TestMergeRevisionVerifiedAgain: records in which an earlier revision
// was verified again (an origin gone back to it, synced with
// allow_rollback by another rpmirror) make it current in the merge;
// records older than what is known change nothing.
func TestMergeRevisionVerifiedAgain(t *testing.T) {
	t1 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t2, t3 := t1.Add(time.Hour), t1.Add(2*time.Hour)
	oldRev := Revision{Revision: "1", SHA256: "o"}
	newRev := Revision{Revision: "2", SHA256: "n"}
	known := func() *Verified {
		v := &Verified{Repo: "demo"}
		v.Add(oldRev, t1, 24*time.Hour)
		v.Add(newRev, t2, 24*time.Hour)
		return v
	}
	again := known()
	again.Add(oldRev, t3, 24*time.Hour) // o current again at t3

	tests := []struct {
		name        string
		records     *Verified
		changed     bool
		current     string
		superseded  string    // the other revision's
		supersedeAt time.Time // when
	}{
		{"verified again since: current again", again, true, "o", "n", t3},
		{"the same records: nothing", known(), false, "n", "o", t2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := known()
			if got := v.Merge(tt.records, t3, 24*time.Hour); got != tt.changed {
				t.Errorf("Merge changed = %v, want %v", got, tt.changed)
			}
			if cur := v.Current(); cur.SHA256 != tt.current {
				t.Errorf("current %s, want %s", cur.SHA256, tt.current)
			}
			i := v.Find(tt.superseded)
			if i <= 0 || !v.Revisions[i].SupersededAt.Equal(tt.supersedeAt) {
				t.Errorf("revision %s at %d superseded at %v, want %v", tt.superseded, i, v.Revisions[max(i, 0)].SupersededAt, tt.supersedeAt)
			}
		})
	}
}
