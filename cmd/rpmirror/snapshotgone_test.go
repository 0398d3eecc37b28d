package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestVerifySnapshotGone: a snapshot directory removed by hand while
// index.json or latest.txt still names it is a problem verify names, and
// it exits 1 (it said "2 snapshots ok" and exited 0 while CI jobs
// following latest.txt got 404: an operator tester's). verify --repair
// removes it from index.json and writes latest.txt again, naming the
// newest snapshot left, as a sync does; while the repository is held at
// the snapshot that is gone it changes neither (naming the newest would
// send CI jobs to the revision rolled back from) and says what mends
// them.
func TestVerifySnapshotGone(t *testing.T) {
	for _, tc := range []struct {
		name string
		// remove returns the snapshot whose directory (on m1) is
		// removed, "" for none; held rolls the repo back to first first.
		remove func(first, second string) string
		held   bool
		// verify's lines (after "test/m1: "), and whether it fails.
		problems func(first, second string) []string
		// verify --repair's lines, whether it fails, and latest.txt on
		// m1 after it.
		repaired   func(first, second string) []string
		repairFail bool
		latest     func(first, second string) string
	}{
		{
			name:     "everything present",
			remove:   func(string, string) string { return "" },
			problems: func(string, string) []string { return nil },
			repaired: func(string, string) []string { return nil },
			latest:   func(_, second string) string { return second },
		},
		{
			name:   "latest.txt's snapshot gone",
			remove: func(_, second string) string { return second },
			problems: func(_, second string) []string {
				return []string{
					"snapshots/index.json: names snapshot " + second + ", whose directory is gone (rpmirror verify --repair removes it from the index)",
					"snapshots/latest.txt: names snapshot " + second + ", which this mirror does not have (its directory is gone): CI jobs that follow it get 404",
					"1 snapshot ok, 1 gone but named by snapshots/index.json: " + second + ", snapshots/latest.txt names " + second + ", which is gone",
				}
			},
			repaired: func(first, second string) []string {
				return []string{
					"removed snapshot " + second + " from snapshots/index.json (its directory is gone)",
					"wrote snapshots/latest.txt again, naming " + first + ", the newest snapshot, as a sync does (it named " + second + ", whose directory is gone)",
				}
			},
			latest: func(first, _ string) string { return first },
		},
		{
			name:   "a non-latest indexed snapshot gone",
			remove: func(first, _ string) string { return first },
			problems: func(first, _ string) []string {
				return []string{
					"snapshots/index.json: names snapshot " + first + ", whose directory is gone",
					"1 snapshot ok, 1 gone but named by snapshots/index.json: " + first,
				}
			},
			repaired: func(first, _ string) []string {
				return []string{"removed snapshot " + first + " from snapshots/index.json (its directory is gone)"}
			},
			latest: func(_, second string) string { return second },
		},
		{
			name:   "the snapshot held at gone",
			held:   true,
			remove: func(first, _ string) string { return first },
			problems: func(first, _ string) []string {
				return []string{
					"snapshots/index.json: names snapshot " + first + ", the one the repository is held at, whose directory is gone (rpmirror rollback to another snapshot, or rpmirror resume and then a sync",
					"snapshots/latest.txt: names snapshot " + first + ", which this mirror does not have",
				}
			},
			repaired: func(first, _ string) []string {
				return []string{
					"snapshots/index.json: names snapshot " + first + ", the one the repository is held at, whose directory is gone",
					"snapshots/latest.txt: names snapshot " + first + ", which this mirror does not have (its directory is gone): CI jobs that follow it get 404 (it is the one the repository is held at: rpmirror rollback to another snapshot, or rpmirror resume and then a sync, writes index.json and latest.txt again)",
				}
			},
			repairFail: true,
			latest:     func(first, _ string) string { return first },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, first, second := twoSnapshots(t)
			m1 := f.mirrors[0]
			if tc.held {
				mustRun(t, "rollback", "-c", f.cfg, "--repo", "test", "--to", first)
			}
			if gone := tc.remove(first, second); gone != "" {
				// Moved away, as the tester did.
				if err := os.Rename(filepath.Join(m1, "snapshots", gone), filepath.Join(f.dir, gone)); err != nil {
					t.Fatal(err)
				}
			}
			problems := tc.problems(first, second)
			code, out, errOut := rpmirror(t, "verify", "-c", f.cfg)
			t.Logf("verify:\n%s", out)
			if want := map[bool]int{false: 0, true: exitFailed}[len(problems) > 0]; code != want {
				t.Errorf("verify: exit %d, want %d\n%s%s", code, want, out, errOut)
			}
			for _, p := range problems {
				if !strings.Contains(out, "test/m1: "+p) {
					t.Errorf("verify does not say %q:\n%s", "test/m1: "+p, out)
				}
			}
			if len(problems) == 0 && (!strings.Contains(out, "test/m1: 2 snapshots ok\n") || strings.Contains(out, "snapshots/")) {
				t.Errorf("verify of whole snapshots:\n%s", out)
			}
			if strings.Contains(out, "test/m2: snapshots/") {
				t.Errorf("verify names a problem on m2, whose snapshots are all there:\n%s", out)
			}

			code, out, errOut = rpmirror(t, "verify", "-c", f.cfg, "--repair")
			t.Logf("verify --repair:\n%s", out)
			if want := map[bool]int{false: 0, true: exitFailed}[tc.repairFail]; code != want {
				t.Errorf("verify --repair: exit %d, want %d\n%s%s", code, want, out, errOut)
			}
			repaired := tc.repaired(first, second)
			for _, p := range repaired {
				if !strings.Contains(out, "test/m1: "+p) {
					t.Errorf("verify --repair does not say %q:\n%s", "test/m1: "+p, out)
				}
			}
			if len(repaired) == 0 && strings.Contains(out, "snapshots/") {
				t.Errorf("verify --repair of whole snapshots:\n%s", out)
			}
			if got, want := strings.TrimSpace(readFile(t, filepath.Join(m1, "snapshots", "latest.txt"))), tc.latest(first, second); got != want {
				t.Errorf("latest.txt names %s after verify --repair, want %s", got, want)
			}
			if tc.held {
				// What mends it, as the problem says: resume, then a sync.
				mustRun(t, "resume", "-c", f.cfg, "--repo", "test")
				mustRun(t, "sync", "-c", f.cfg)
				if got := strings.TrimSpace(readFile(t, filepath.Join(m1, "snapshots", "latest.txt"))); got != second {
					t.Errorf("latest.txt names %s after resume and a sync, want %s", got, second)
				}
			}
			if code, out, errOut := rpmirror(t, "verify", "-c", f.cfg); code != 0 || !strings.Contains(out, "test/m1: 1 snapshot ok\n") && !strings.Contains(out, "test/m1: 2 snapshots ok\n") {
				t.Errorf("verify after the repair: exit %d\n%s%s", code, out, errOut)
			}
		})
	}
}
