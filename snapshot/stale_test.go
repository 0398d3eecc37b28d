package snapshot

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestStaleAndTidy: index.json naming a snapshot whose directory is gone
// and latest.txt naming one the mirror does not have (or missing) are
// problems (Stale, which verify reports: it said "ok" while CI jobs
// following latest.txt got 404, an operator tester's); Tidy writes both
// again as a sync does, naming the newest snapshot left or the one held
// at, except when the snapshot held at is gone, which it leaves for
// rollback or resume.
func TestStaleAndTidy(t *testing.T) {
	ctx := context.Background()
	const (
		s1 = "20261124T120000Z"
		s2 = "20261125T120000Z"
		s3 = "20261126T120000Z"
	)
	for _, tc := range []struct {
		name string
		held string // the index's held snapshot
		// What is done to the mirror after the index is written.
		remove []string // snapshot directories removed
		latest *string  // latest.txt written with this; nil: as written
		// What Stale finds.
		gone      []string
		names     string // LatestError.Names; "-": no LatestError
		heldGone  string
		tidied    bool   // Tidy writes the index and latest.txt
		newLatest string // latest.txt after Tidy ("" removed)
	}{
		{name: "everything present", names: "-", newLatest: s3},
		{name: "latest's snapshot gone", remove: []string{s3}, gone: []string{s3}, names: s3, tidied: true, newLatest: s2},
		{name: "a non-latest indexed snapshot gone", remove: []string{s1}, gone: []string{s1}, names: "-", tidied: true, newLatest: s3},
		{name: "latest.txt names a snapshot never taken", latest: ptr("20000101T000000Z\n"), names: "20000101T000000Z", tidied: true, newLatest: s3},
		{name: "latest.txt missing", latest: ptr(""), names: "", tidied: true, newLatest: s3},
		{name: "latest.txt of more than 4 KiB", latest: ptr(strings.Repeat("x", 5000)), names: "(more than 4 KiB)", tidied: true, newLatest: s3},
		{name: "every snapshot gone", remove: []string{s1, s2, s3}, gone: []string{s1, s2, s3}, names: s3, tidied: true},
		{name: "held, latest's snapshot present", held: s1, remove: []string{s3}, gone: []string{s3}, names: "-", tidied: true, newLatest: s1},
		{name: "held at a gone snapshot", held: s1, remove: []string{s1}, gone: []string{s1}, names: s1, heldGone: s1, newLatest: s1},
		// Another gone beside it: not removed by --repair either, and
		// its error says what does (it advised --repair).
		{name: "held at a gone snapshot, another gone", held: s1, remove: []string{s1, s2}, gone: []string{s1, s2}, names: s1, heldGone: s1, newLatest: s1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg := servingRepomd(ctx, t)
			for _, n := range []string{s1, s2, s3} {
				if err := tg.Snapshot(ctx, Path(n), []string{repomdPath}); err != nil {
					t.Fatal(err)
				}
			}
			x, err := Read(ctx, tg, "r")
			if err != nil {
				t.Fatal(err)
			}
			x.Held = tc.held
			x.setLatest()
			if err := Write(ctx, tg, x); err != nil {
				t.Fatal(err)
			}
			for _, n := range tc.remove {
				if err := tg.RemoveDir(ctx, Path(n)); err != nil {
					t.Fatal(err)
				}
			}
			latestFile := filepath.Join(tg.Root(), LatestPath)
			switch {
			case tc.latest == nil:
			case *tc.latest == "":
				if err := os.Remove(latestFile); err != nil {
					t.Fatal(err)
				}
			default:
				if err := os.WriteFile(latestFile, []byte(*tc.latest), 0o644); err != nil {
					t.Fatal(err)
				}
			}

			x, err = Read(ctx, tg, "r")
			if err != nil {
				t.Fatal(err)
			}
			gone, latest, err := Stale(ctx, tg, x)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, g := range gone {
				names = append(names, g.Name)
				if g.Held != (g.Name == tc.heldGone) {
					t.Errorf("GoneError %+v: Held should be %v", g, g.Name == tc.heldGone)
				}
				if tc.heldGone != "" && strings.Contains(g.Error(), "verify --repair") {
					t.Errorf("GoneError %q advises verify --repair, which writes nothing while the snapshot held at is gone", g)
				}
			}
			if !reflect.DeepEqual(names, tc.gone) {
				t.Errorf("index.json names %v that are gone, want %v", names, tc.gone)
			}
			switch {
			case tc.names == "-" && latest != nil:
				t.Errorf("latest.txt: %v, want no problem", latest)
			case tc.names != "-" && latest == nil:
				t.Errorf("latest.txt: no problem, want one naming %q", tc.names)
			case latest != nil && (latest.Names != tc.names || latest.HeldGone != tc.heldGone):
				t.Errorf("latest.txt: %+v, want it to name %q (held at gone %q)", latest, tc.names, tc.heldGone)
			}
			// Typed, wrapped as verify prints them.
			if latest != nil {
				var le *LatestError
				if !errors.As(error(latest), &le) || !strings.Contains(latest.Error(), "404") {
					t.Errorf("latest.txt: %v", latest)
				}
			}

			before, _ := os.ReadFile(filepath.Join(tg.Root(), IndexPath))
			td, err := Tidy(ctx, tg, "r")
			if err != nil {
				t.Fatal(err)
			}
			if got := td.Unindexed != nil || td.Latest != nil; got != tc.tidied {
				t.Errorf("Tidy = %+v, want it to write again: %v", td, tc.tidied)
			}
			if tc.tidied && !reflect.DeepEqual(td.Unindexed, tc.gone) {
				t.Errorf("Tidy removed %v from the index, want %v", td.Unindexed, tc.gone)
			}
			after, _ := os.ReadFile(filepath.Join(tg.Root(), IndexPath))
			if !tc.tidied && string(after) != string(before) {
				t.Errorf("Tidy rewrote index.json:\n%s", after)
			}
			b, err := os.ReadFile(latestFile)
			switch {
			case tc.newLatest == "" && !errors.Is(err, os.ErrNotExist):
				t.Errorf("latest.txt = %q, %v after Tidy; want it removed", b, err)
			case tc.newLatest != "" && string(b) != tc.newLatest+"\n":
				t.Errorf("latest.txt = %q, %v after Tidy; want %s", b, err, tc.newLatest)
			}
			// Tidied, nothing is left but the hold at a gone snapshot.
			x, err = Read(ctx, tg, "r")
			if err != nil {
				t.Fatal(err)
			}
			gone, latest, err = Stale(ctx, tg, x)
			if err != nil {
				t.Fatal(err)
			}
			if left := len(gone) > 0 || latest != nil; left != (tc.heldGone != "") {
				t.Errorf("after Tidy: %v, %v", gone, latest)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
