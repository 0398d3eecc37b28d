package sync_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/snapshot"
	"github.com/rpmirror/rpmirror/target"
	"github.com/rpmirror/rpmirror/target/local"
)

// TestSnapshots follows a repository with snapshots through three
// revisions and the passing of time. Each revision published becomes
// snapshots/NAME/, byte-identical to the origin's revision, readable by
// dnf after the mirror has moved on, its packages the very files (inodes)
// the current tree and the other snapshots hold. Removal keeps exactly
// what keep, keep_for and the pins say, and a package goes from the disk
// once neither the current revision nor a kept snapshot names it.
func TestSnapshots(t *testing.T) {
	key := testrepo.TestKey(t)
	base := t.TempDir()
	v, pkgs := demoRevisions(t, base, key, 3)
	p1, p3 := pkgs[0], pkgs[2]
	o := newOrigin(t, filepath.Join(base, "origin"))
	h := newHarness(t, o, key.PublicPath)
	t0 := h.now
	names := []string{"20261125T120000Z", "20261125T130000Z", "20261125T140000Z"}
	h.repo.Snapshots = &config.Snapshots{Keep: 1, KeepFor: 90 * time.Minute, Pinned: []string{names[0]}, PinnedLines: []int{7}}

	for i, dir := range v {
		h.now = t0.Add(time.Duration(i) * time.Hour)
		republish(t, o, dir)
		h.mustSync()
		for _, m := range h.mirrors {
			snap := filepath.Join(m, "snapshots", names[i])
			if got, want := tree(t, snap), tree(t, dir); !reflect.DeepEqual(got, want) {
				t.Errorf("revision %d: %s is not the origin's revision:\ngot  %v\nwant %v", i+1, snap, got, want)
			}
			if b, err := os.ReadFile(filepath.Join(m, "snapshots", "latest.txt")); err != nil || string(b) != names[i]+"\n" {
				t.Errorf("revision %d: latest.txt = %q, %v; want %s", i+1, b, err, names[i])
			}
			checkServable(t, m) // index.json and latest.txt too
		}
	}
	m := h.mirrors[0]
	// Kept: v1 (pinned), v2 (younger than 90m), v3 (the newest).
	checkIndex(t, m, []snapshot.Snapshot{
		{Name: names[0], Revision: "1", Published: t0, Pinned: true, PinnedBy: snapshot.PinnedByConfig},
		{Name: names[1], Revision: "2", Published: t0.Add(time.Hour)},
		{Name: names[2], Revision: "3", Published: t0.Add(2 * time.Hour)},
	})
	// A package every revision has is stored once.
	shared := p1[1].RelPath() // tools-common
	ino := inode(t, filepath.Join(m, shared))
	for _, n := range names {
		if got := inode(t, filepath.Join(m, "snapshots", n, shared)); got != ino {
			t.Errorf("%s in snapshot %s is inode %d, the current tree's is %d: want one file", shared, n, got, ino)
		}
	}
	// dnf reads the first revision from its snapshot, long after the
	// mirror moved on (prune_after is 0: the current tree no longer has
	// its packages).
	if got, want := dnfList(t, filepath.Join(m, "snapshots", names[0]), key.PublicPath), nevras(p1); !reflect.DeepEqual(got, want) {
		t.Errorf("dnf lists %v in snapshot %s, want %v", got, names[0], want)
	}
	onlyV2 := "" // hello-mirror 1.1: in v2 and v3; sample-data: only v1
	for _, p := range p1 {
		if p.Name == "sample-data" {
			onlyV2 = p.RelPath()
		}
	}
	if _, err := os.Stat(filepath.Join(m, onlyV2)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s is in no current revision but still in the current tree: %v", onlyV2, err)
	}

	// An hour on, revision 2 is neither young nor newest nor pinned.
	h.now = t0.Add(3 * time.Hour)
	h.mustSync()
	checkIndex(t, m, []snapshot.Snapshot{
		{Name: names[0], Revision: "1", Published: t0, Pinned: true, PinnedBy: snapshot.PinnedByConfig},
		{Name: names[2], Revision: "3", Published: t0.Add(2 * time.Hour)},
	})
	if _, err := os.Stat(filepath.Join(m, "snapshots", names[1])); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("snapshot %s was not removed: %v", names[1], err)
	}

	// Unpinning what the file pins is refused; a pin by command holds
	// once the file no longer pins it, and unpinning lets it go.
	tg, err := local.New(m)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var inConfig *snapshot.PinnedInConfigError
	if _, err := snapshot.SetPin(ctx, tg, "test", h.repo.Snapshots, "mirrors.yaml", names[0], false); !errors.As(err, &inConfig) || inConfig.Line != 7 {
		t.Errorf("unpinning a snapshot the file pins: err = %v, want a *PinnedInConfigError at line 7", err)
	}
	if _, err := snapshot.SetPin(ctx, tg, "test", h.repo.Snapshots, "mirrors.yaml", names[1], true); !errors.Is(err, snapshot.ErrNotFound) {
		t.Errorf("pinning a removed snapshot: err = %v, want ErrNotFound", err)
	}
	h.repo.Snapshots.Pinned, h.repo.Snapshots.PinnedLines = nil, nil
	if _, err := snapshot.SetPin(ctx, tg, "test", h.repo.Snapshots, "mirrors.yaml", names[0], true); err != nil {
		t.Fatal(err)
	}
	h.mustSync()
	if _, err := os.Stat(filepath.Join(m, "snapshots", names[0])); err != nil {
		t.Errorf("snapshot %s pinned by command was removed: %v", names[0], err)
	}
	if _, err := snapshot.SetPin(ctx, tg, "test", h.repo.Snapshots, "mirrors.yaml", names[0], false); err != nil {
		t.Fatal(err)
	}
	h.mustSync()
	checkIndex(t, m, []snapshot.Snapshot{{Name: names[2], Revision: "3", Published: t0.Add(2 * time.Hour)}})
	// sample-data was only in revision 1: with its snapshot gone, no
	// file on the mirror holds it.
	var left []string
	filepath.Walk(m, func(p string, fi os.FileInfo, err error) error {
		if err == nil && strings.HasSuffix(p, filepath.Base(onlyV2)) {
			left = append(left, p)
		}
		return nil
	})
	if len(left) > 0 {
		t.Errorf("%s is named by nothing kept but is still stored: %v", onlyV2, left)
	}
	// The current revision's snapshot still reads.
	if got, want := dnfList(t, filepath.Join(m, "snapshots", names[2]), key.PublicPath), nevras(p3); !reflect.DeepEqual(got, want) {
		t.Errorf("dnf lists %v in snapshot %s, want %v", got, names[2], want)
	}
}

// TestSnapshotsTurnedOn: a mirror that was synced before snapshots were
// configured gets a snapshot of the revision it serves at the next sync
// (named for when that revision was published),
// although nothing is published; without the setting nothing is written
// under snapshots/.
func TestSnapshotsTurnedOn(t *testing.T) {
	v1 := testrepo.DemoOrigin(t, "v1")
	o := newOrigin(t, filepath.Join(t.TempDir(), "origin"))
	republish(t, o, v1)
	h := newHarness(t, o, demoKey(t))
	h.mustSync()
	for _, m := range h.mirrors {
		if _, err := os.Stat(filepath.Join(m, "snapshots")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("without snapshots set, %s has snapshots/: %v", m, err)
		}
	}
	h.repo.Snapshots = &config.Snapshots{Keep: 14}
	h.now = h.now.Add(time.Minute)
	rep := h.mustSync()
	if !rep.NoChange {
		t.Errorf("second sync published something: %+v", rep)
	}
	for _, m := range h.mirrors {
		if got, want := tree(t, filepath.Join(m, "snapshots", "20261125T120000Z")), tree(t, v1); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: snapshot of the served revision:\ngot  %v\nwant %v", m, got, want)
		}
	}
}

func checkIndex(t *testing.T, mirror string, want []snapshot.Snapshot) {
	t.Helper()
	tg, err := local.New(mirror)
	if err != nil {
		t.Fatal(err)
	}
	checkIndexIn(t, tg, want)
}

func checkIndexIn(t *testing.T, tg target.Target, want []snapshot.Snapshot) {
	t.Helper()
	mirror := tg.String()
	x, err := snapshot.Read(context.Background(), tg, "test")
	if err != nil {
		t.Fatal(err)
	}
	for i := range x.Snapshots {
		x.Snapshots[i].RepomdSHA256 = "" // checked through the trees
	}
	if !reflect.DeepEqual(x.Snapshots, want) {
		t.Errorf("snapshots of %s:\ngot  %+v\nwant %+v", mirror, x.Snapshots, want)
	}
}

func inode(t *testing.T, p string) uint64 {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// dnfList lists the packages dnf sees in the repository at dir.
func dnfList(t *testing.T, dir, key string) []string {
	t.Helper()
	testrepo.RequireTools(t, "dnf")
	repo := testrepo.Repo{Name: "snapshot", URL: dir, GPGKeys: []string{key}}
	out, err := testrepo.DNFWithRepoFile(t, repo.String(), "repoquery", "-q", "--qf", "%{name}-%{epoch}:%{version}-%{release}.%{arch}")
	if err != nil {
		t.Fatalf("dnf repoquery on %s: %v\n%s", dir, err, out)
	}
	lines := strings.Fields(out)
	sort.Strings(lines)
	return lines
}

// TestSnapshotNameSharedByMirrors: the mirrors one run publishes take
// their snapshots under one name, even when the clock moves on between
// the first mirror's publish and the last's, so that a snapshot name
// means the same revision on every mirror (for ?snapshot= lists and
// rollback --to).
func TestSnapshotNameSharedByMirrors(t *testing.T) {
	key := testrepo.TestKey(t)
	base := t.TempDir()
	v1 := filepath.Join(base, "v1")
	buildRepo(t, v1, "", testrepo.RepoOpts{SignRepomd: key, Revision: "1"}, testrepo.DemoPackages(key)...)
	o := newOrigin(t, filepath.Join(base, "origin"))
	h := newHarness(t, o, key.PublicPath)
	h.repo.Snapshots = &config.Snapshots{Keep: 3}
	republish(t, o, v1)
	// Every reading of the clock is a second later than the one before.
	e := h.engineWithClock(func() time.Time {
		h.now = h.now.Add(time.Second)
		return h.now
	})
	if rep := e.Sync(context.Background(), h.repo); rep.Err != nil {
		t.Fatalf("sync failed: %v", rep.Err)
	}
	var names []string
	for _, m := range h.mirrors {
		b, err := os.ReadFile(filepath.Join(m, "snapshots", "latest.txt"))
		if err != nil {
			t.Fatalf("reading %s's latest.txt: %v", m, err)
		}
		names = append(names, strings.TrimSpace(string(b)))
	}
	if names[0] == "" || names[0] != names[1] {
		t.Errorf("the mirrors of one run took snapshots %q: want one name for both", names)
	}
}
