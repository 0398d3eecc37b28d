package snapshot

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/target"
	"github.com/rpmirror/rpmirror/target/local"
)

func TestExpired(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	idx := func(pinned ...string) *Index {
		x := &Index{}
		for i := range 5 { // one a day, the newest at t0
			ts := t0.Add(time.Duration(i-4) * 24 * time.Hour)
			s := Snapshot{Name: Name(ts), Published: ts}
			for _, p := range pinned {
				s.Pinned = s.Pinned || p == s.Name
			}
			x.Snapshots = append(x.Snapshots, s)
		}
		return x
	}
	day := func(i int) string { return Name(t0.Add(time.Duration(i-4) * 24 * time.Hour)) }
	for _, tc := range []struct {
		name    string
		keep    int
		keepFor time.Duration
		pinned  []string
		want    []string
	}{
		{"keep the newest 2", 2, 0, nil, []string{day(0), day(1), day(2)}},
		{"keep everything younger than 36h", 1, 36 * time.Hour, nil, []string{day(0), day(1), day(2)}},
		{"exactly keep_for old is removed", 1, 48 * time.Hour, nil, []string{day(0), day(1), day(2)}},
		{"the larger of the two wins", 3, 24*time.Hour + time.Second, nil, []string{day(0), day(1)}},
		{"pinned are kept", 1, 0, []string{day(0), day(2)}, []string{day(1), day(3)}},
		{"keep more than there are", 10, 0, nil, nil},
		{"the held one is kept", 1, 0, []string{"held:" + day(1)}, []string{day(0), day(2), day(3)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Policy{Keep: tc.keep, KeepFor: tc.keepFor}
			x := idx(tc.pinned...)
			for _, h := range tc.pinned {
				if n, ok := strings.CutPrefix(h, "held:"); ok {
					x.Held = n
				}
			}
			if got := p.Expired(x, t0); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Expired = %v, want %v", got, tc.want)
			}
		})
	}
}

// The directories are the truth: a snapshot whose index entry a killed
// process never wrote is found, one whose directory is gone is dropped,
// and names sort in the order snapshots were taken.
func TestReadMendsIndex(t *testing.T) {
	ctx := context.Background()
	tg := servingRepomd(ctx, t)
	for _, n := range []string{"20261126T120000Z-10", "20261126T120000Z-2", "20261126T120000Z", "not-a-snapshot"} {
		if err := tg.Snapshot(ctx, Path(n), []string{repomdPath}); err != nil {
			t.Fatal(err)
		}
	}
	if err := Write(ctx, tg, &Index{Repo: "r", Snapshots: []Snapshot{{Name: "20261125T000000Z", Revision: "41"}, {Name: "20261126T120000Z-2", Revision: "42", PinnedBy: PinnedByCommand, Pinned: true}}}); err != nil {
		t.Fatal(err)
	}
	x, err := Read(ctx, tg, "r")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range x.Snapshots {
		got = append(got, s.Name+"/"+s.Revision)
	}
	if want := []string{"20261126T120000Z/42", "20261126T120000Z-2/42", "20261126T120000Z-10/42"}; !reflect.DeepEqual(got, want) || x.Latest != "20261126T120000Z-10" {
		t.Errorf("Read = %v (latest %s), want %v", got, x.Latest, want)
	}
	if s, _ := x.Find("20261126T120000Z-2"); !s.Pinned {
		t.Error("the pin of an indexed snapshot was lost")
	}
	// A revision taken in the same second as the newest gets the next
	// number; one taken when the clock went back sorts after it all the
	// same.
	p := PolicyOf(&config.Snapshots{Keep: 100})
	other := []byte(smallRepomd + " ")
	res, err := Maintain(ctx, tg, "r", p, Revision{Repomd: other, Paths: func() ([]string, error) { return nil, nil }}, time.Date(2026, 11, 26, 11, 0, 0, 0, time.UTC), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if res.Taken != "20261126T120000Z-11" {
		t.Errorf("snapshot taken as %q, want 20261126T120000Z-11", res.Taken)
	}
}

// While a repo is held, index.json and latest.txt name the held snapshot
// as the latest; Release names the newest again; a hold whose snapshot is
// gone is forgotten; a sync (Maintain) clears a mark left behind.
func TestHeldIsLatest(t *testing.T) {
	ctx := context.Background()
	tg := servingRepomd(ctx, t)
	names := []string{"20261125T120000Z", "20261126T120000Z"}
	for _, n := range names {
		if err := tg.Snapshot(ctx, Path(n), []string{repomdPath}); err != nil {
			t.Fatal(err)
		}
	}
	latest := func() string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(tg.Root(), LatestPath))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	x, err := Read(ctx, tg, "r")
	if err != nil {
		t.Fatal(err)
	}
	x.Held = names[0]
	x.setLatest()
	if err := Write(ctx, tg, x); err != nil {
		t.Fatal(err)
	}
	if x, err := Read(ctx, tg, "r"); err != nil || x.Held != names[0] || x.Latest != names[0] || latest() != names[0] {
		t.Errorf("held: Read = %+v, %v; latest.txt %s; want %s", x, err, latest(), names[0])
	}
	if err := Release(ctx, tg, "r"); err != nil {
		t.Fatal(err)
	}
	if x, err := Read(ctx, tg, "r"); err != nil || x.Held != "" || x.Latest != names[1] || latest() != names[1] {
		t.Errorf("released: Read = %+v, %v; latest.txt %s; want %s", x, err, latest(), names[1])
	}
	// A hold left in the index, then a sync.
	x.Held = names[0]
	x.setLatest()
	if err := Write(ctx, tg, x); err != nil {
		t.Fatal(err)
	}
	if _, err := Maintain(ctx, tg, "r", PolicyOf(&config.Snapshots{Keep: 5}), Revision{Repomd: []byte(smallRepomd), Paths: func() ([]string, error) { return nil, nil }}, time.Now(), slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	if x, err := Read(ctx, tg, "r"); err != nil || x.Held != "" || latest() != names[1] {
		t.Errorf("after a sync: Read = %+v, %v; latest.txt %s; want no hold and %s", x, err, latest(), names[1])
	}
	// The held snapshot gone: forgotten.
	x.Held = names[0]
	if err := Write(ctx, tg, x); err != nil {
		t.Fatal(err)
	}
	if err := tg.RemoveDir(ctx, Path(names[0])); err != nil {
		t.Fatal(err)
	}
	if x, err := Read(ctx, tg, "r"); err != nil || x.Held != "" || x.Latest != names[1] {
		t.Errorf("held snapshot gone: Read = %+v, %v", x, err)
	}
}

// TestWriteStagesInTheMirror: the index files of a local mirror's
// snapshots are staged in the mirror's own .rpmirror/tmp (which Lock
// empties after a crash), never in the system's temporary directory,
// where a process killed in between would leave them: here that
// directory does not even exist.
func TestWriteStagesInTheMirror(t *testing.T) {
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "absent"))
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "mirror")
	tg, err := local.New(root)
	if err != nil {
		t.Fatal(err)
	}
	x := &Index{Repo: "r", Snapshots: []Snapshot{{Name: "20261126T120000Z", Revision: "42"}}, Latest: "20261126T120000Z"}
	if err := Write(ctx, tg, x); err != nil {
		t.Fatalf("Write with no usable system temporary directory: %v", err)
	}
	for p, want := range map[string]string{LatestPath: "20261126T120000Z\n", IndexPath: `"revision": "42"`} {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(p)))
		if err != nil || !strings.Contains(string(b), want) {
			t.Errorf("%s = %q, %v; want it to hold %q", p, b, err, want)
		}
	}
	if ents, err := os.ReadDir(filepath.Join(root, ".rpmirror", "tmp")); err != nil || len(ents) != 0 {
		t.Errorf("the staging directory holds %v (%v), want it empty", ents, err)
	}
}

// smallRepomd is the repomd.xml servingRepomd serves.
const smallRepomd = `<?xml version="1.0" encoding="UTF-8"?><repomd xmlns="http://linux.duke.edu/metadata/repo"><revision>42</revision></repomd>`

// servingRepomd returns a local mirror serving a small repomd.xml at
// repomdPath, of which snapshots can be taken.
func servingRepomd(ctx context.Context, t *testing.T) *local.Local {
	t.Helper()
	tg, err := local.New(filepath.Join(t.TempDir(), "mirror"))
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "repomd.xml")
	if err := os.WriteFile(src, []byte(smallRepomd), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := tg.Put(ctx, target.File{Path: repomdPath, Local: src, Size: int64(len(smallRepomd))}); err != nil {
		t.Fatal(err)
	}
	return tg
}
