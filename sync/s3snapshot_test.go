package sync_test

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/snapshot"
	"github.com/rpmirror/rpmirror/state"
	"github.com/rpmirror/rpmirror/sync"
	"github.com/rpmirror/rpmirror/target"
	"github.com/rpmirror/rpmirror/target/targets"
)

// target opens the harness's mirror in object storage.
func (h *s3Harness) target() target.Target {
	h.t.Helper()
	tg, err := targets.Open(context.Background(), h.repo.Mirrors[0])
	if err != nil {
		h.t.Fatal(err)
	}
	return tg
}

// filesUnder lists the regular files below dir (none when it is gone).
func filesUnder(dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// TestS3Snapshots is TestSnapshots on a mirror in object storage (a real
// S3 server, versitygw): through three revisions and the passing of time
// each revision published becomes snapshots/NAME/ in the bucket,
// byte-identical to the origin's revision, made by one server-side copy
// per file (counted on the wire: nothing under the snapshot is uploaded
// or read back), and dnf installs from it after the mirror has moved on.
// Removal keeps exactly what keep, keep_for and the pins say, and a
// package goes from the bucket once neither the current revision nor a
// kept snapshot names it.
func TestS3Snapshots(t *testing.T) {
	key := testrepo.TestKey(t)
	base := t.TempDir()
	v, pkgs := demoRevisions(t, base, key, 3)
	p1, p3 := pkgs[0], pkgs[2]
	o := newOrigin(t, filepath.Join(base, "origin"))
	h := newS3Harness(t, o, key.PublicPath)
	t0 := h.now
	names := []string{"20261125T120000Z", "20261125T130000Z", "20261125T140000Z"}
	h.repo.Snapshots = &config.Snapshots{Keep: 1, KeepFor: 90 * time.Minute, Pinned: []string{names[0]}, PinnedLines: []int{7}}
	m := h.mirrors[0]
	tg := h.target()
	ctx := context.Background()

	for i, dir := range v {
		h.now = t0.Add(time.Duration(i) * time.Hour)
		republish(t, o, dir)
		h.count.Copies()
		h.count.Requests()
		h.uploads()
		h.downloads()
		h.mustSync()
		want := tree(t, dir)
		snap := "snapshots/" + names[i] + "/"
		copies := h.count.Copies()
		reqs := h.count.Requests()
		var copied []string
		for _, k := range copies {
			copied = append(copied, strings.TrimPrefix(k, "mirrors/repo/"+snap))
		}
		slices.Sort(copied)
		if !reflect.DeepEqual(copied, slices.Sorted(func(yield func(string) bool) {
			for p := range want {
				if !yield(p) {
					return
				}
			}
		})) {
			t.Errorf("revision %d: the store was asked to copy %v, want each of the revision's %d files once to %s", i+1, copies, len(want), snap)
		}
		if len(copies) > 0 && copies[len(copies)-1] != "mirrors/repo/"+snap+"repodata/repomd.xml" {
			t.Errorf("revision %d: the last copy was %s, want the snapshot's repomd.xml", i+1, copies[len(copies)-1])
		}
		for _, k := range h.uploads() {
			if strings.HasPrefix(k, snap) {
				t.Errorf("revision %d: %s was uploaded, not copied", i+1, k)
			}
		}
		for _, k := range h.downloads() {
			if strings.HasPrefix(k, snap) {
				t.Errorf("revision %d: %s was read back", i+1, k)
			}
		}
		t.Logf("revision %d (%d files): %d copies; requests of the whole sync: %v", i+1, len(want), len(copies), reqs)
		if got := tree(t, filepath.Join(m, "snapshots", names[i])); !reflect.DeepEqual(got, want) {
			t.Errorf("revision %d: snapshot %s in the bucket is not the origin's revision:\ngot  %v\nwant %v", i+1, names[i], got, want)
		}
		if b, err := os.ReadFile(filepath.Join(m, "snapshots", "latest.txt")); err != nil || string(b) != names[i]+"\n" {
			t.Errorf("revision %d: latest.txt = %q, %v; want %s", i+1, b, err, names[i])
		}
	}
	// Kept: v1 (pinned), v2 (younger than 90m), v3 (the newest).
	checkIndexIn(t, tg, []snapshot.Snapshot{
		{Name: names[0], Revision: "1", Published: t0, Pinned: true, PinnedBy: snapshot.PinnedByConfig},
		{Name: names[1], Revision: "2", Published: t0.Add(time.Hour)},
		{Name: names[2], Revision: "3", Published: t0.Add(2 * time.Hour)},
	})
	// dnf installs from the first revision's snapshot, read from the
	// bucket's directory, long after the mirror moved on (prune_after is
	// 0: the current tree no longer has all its packages).
	t.Run("dnf installs from a snapshot", func(t *testing.T) {
		testrepo.RequireTools(t, "dnf")
		repo := testrepo.Repo{Name: "snapshot", URL: filepath.Join(m, "snapshots", names[0]), GPGKeys: []string{key.PublicPath}}
		c := testrepo.NewDNF(t, repo.String())
		if out, err := c.Run("install", "hello-mirror"); err != nil {
			t.Fatalf("dnf install from snapshot %s in the bucket: %v\n%s", names[0], err, out)
		}
		if out, err := c.Run("list", "--installed", "-q"); err != nil || !strings.Contains(out, "hello-mirror") {
			t.Errorf("hello-mirror is not installed: %v\n%s", err, out)
		}
	})
	onlyV1 := "" // sample-data: only in v1
	for _, p := range p1 {
		if p.Name == "sample-data" {
			onlyV1 = p.RelPath()
		}
	}
	if _, err := os.Stat(filepath.Join(m, onlyV1)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s is in no current revision but still in the current tree: %v", onlyV1, err)
	}
	if _, err := os.Stat(filepath.Join(m, "snapshots", names[0], onlyV1)); err != nil {
		t.Errorf("%s was pruned from the current tree and from snapshot %s, which names it: %v", onlyV1, names[0], err)
	}

	// An hour on, revision 2 is neither young nor newest nor pinned.
	h.now = t0.Add(3 * time.Hour)
	h.count.Requests()
	h.mustSync()
	t.Logf("a sync removing one snapshot: requests %v", h.count.Requests())
	checkIndexIn(t, tg, []snapshot.Snapshot{
		{Name: names[0], Revision: "1", Published: t0, Pinned: true, PinnedBy: snapshot.PinnedByConfig},
		{Name: names[2], Revision: "3", Published: t0.Add(2 * time.Hour)},
	})
	if left := filesUnder(filepath.Join(m, "snapshots", names[1])); len(left) > 0 {
		t.Errorf("snapshot %s was removed from the index but left %v in the bucket", names[1], left)
	}

	// Pins by command, through the bucket.
	var inConfig *snapshot.PinnedInConfigError
	if _, err := snapshot.SetPin(ctx, tg, "test", h.repo.Snapshots, "mirrors.yaml", names[0], false); !errors.As(err, &inConfig) || inConfig.Line != 7 {
		t.Errorf("unpinning a snapshot the file pins: err = %v, want a *PinnedInConfigError at line 7", err)
	}
	h.repo.Snapshots.Pinned, h.repo.Snapshots.PinnedLines = nil, nil
	if _, err := snapshot.SetPin(ctx, tg, "test", h.repo.Snapshots, "mirrors.yaml", names[0], true); err != nil {
		t.Fatal(err)
	}
	h.mustSync()
	if _, err := os.Stat(filepath.Join(m, "snapshots", names[0], "repodata", "repomd.xml")); err != nil {
		t.Errorf("snapshot %s pinned by command was removed: %v", names[0], err)
	}
	if _, err := snapshot.SetPin(ctx, tg, "test", h.repo.Snapshots, "mirrors.yaml", names[0], false); err != nil {
		t.Fatal(err)
	}
	h.mustSync()
	checkIndexIn(t, tg, []snapshot.Snapshot{{Name: names[2], Revision: "3", Published: t0.Add(2 * time.Hour)}})
	// sample-data was only in revision 1: with its snapshot gone, no
	// object in the bucket holds it.
	for _, p := range filesUnder(m) {
		if strings.HasSuffix(p, filepath.Base(onlyV1)) {
			t.Errorf("%s is named by nothing kept but is still stored: %s", onlyV1, p)
		}
	}
	// The current revision's snapshot still reads.
	if got, want := dnfList(t, filepath.Join(m, "snapshots", names[2]), key.PublicPath), nevras(p3); !reflect.DeepEqual(got, want) {
		t.Errorf("dnf lists %v in snapshot %s, want %v", got, names[2], want)
	}
	// verify's check of every snapshot reads them from the bucket.
	c, err := sync.CheckSnapshots(ctx, tg, "test", sync.CheckOptions{})
	if err != nil || len(c.Index.Snapshots) != 1 || len(c.Broken) != 0 || len(c.Files) != 0 {
		t.Errorf("CheckSnapshots: %+v, %v", c, err)
	}
}

// TestS3SnapshotInterrupted: a snapshot cut short between two copies (the
// process killed: what it copied stays) is no snapshot: Read leaves it
// out, index.json and latest.txt do not name it, and the directory has no
// repomd.xml, so dnf finds no repository there. The next sync completes
// it, copying only what is missing; a leftover of a revision no longer
// served is removed instead. A removal cut short after its repomd.xml
// went is finished by the next sync.
func TestS3SnapshotInterrupted(t *testing.T) {
	v1 := testrepo.DemoOrigin(t, "v1")
	v2 := testrepo.DemoOrigin(t, "v2")
	o := newOrigin(t, filepath.Join(t.TempDir(), "origin"))
	republish(t, o, v1)
	h := newS3Harness(t, o, demoKey(t))
	h.repo.Snapshots = &config.Snapshots{Keep: 1}
	m := h.mirrors[0]
	tg := h.target()
	sn := tg.(target.Snapshotter)
	ctx := context.Background()
	t0 := h.now
	h.mustSync()
	first := snapshot.Name(t0)
	// Cut the snapshot short: drop its repomd.xml and half its other
	// files, as a process killed after copying the other half leaves it.
	files := filesUnder(filepath.Join(m, "snapshots", first))
	if len(files) < 4 {
		t.Fatalf("snapshot %s holds %d files", first, len(files))
	}
	var dropped int
	for i, p := range files {
		if strings.HasSuffix(p, "/repodata/repomd.xml") || i%2 == 0 {
			rel, _ := filepath.Rel(m, p)
			if err := tg.Remove(ctx, filepath.ToSlash(rel)); err != nil {
				t.Fatal(err)
			}
			dropped++
		}
	}
	if err := snapshot.Write(ctx, tg, &snapshot.Index{Repo: "test"}); err != nil {
		t.Fatal(err)
	}
	x, err := snapshot.Read(ctx, tg, "test")
	if err != nil || len(x.Snapshots) != 0 {
		t.Fatalf("Read of an incomplete snapshot: %+v, %v; want none", x, err)
	}
	if dirs, _ := sn.Dirs(ctx, snapshot.Dir); !slices.Equal(dirs, []string{first}) {
		t.Fatalf("Dirs = %v, want the incomplete %s", dirs, first)
	}

	t.Run("completed", func(t *testing.T) {
		h.count.Copies()
		h.now = t0.Add(time.Minute)
		h.mustSync()
		if n := len(h.count.Copies()); n != dropped {
			t.Errorf("completing the snapshot copied %d files, want the %d missing", n, dropped)
		}
		if got, want := tree(t, filepath.Join(m, "snapshots", first)), tree(t, v1); !reflect.DeepEqual(got, want) {
			t.Errorf("the completed snapshot is not the revision:\ngot  %v\nwant %v", got, want)
		}
		x, err := snapshot.Read(ctx, tg, "test")
		if err != nil || len(x.Snapshots) != 1 || x.Snapshots[0].Name != first || x.Latest != first {
			t.Errorf("snapshots after completing %s: %+v, %v", first, x, err)
		}
	})

	t.Run("leftover of an older revision removed", func(t *testing.T) {
		// A leftover under another name (a revision no longer served).
		stale := snapshot.Name(t0.Add(-time.Hour))
		f := filepath.Join(t.TempDir(), "x")
		os.WriteFile(f, []byte("x"), 0o644)
		if err := tg.Put(ctx, target.File{Path: snapshot.Path(stale) + "/Packages/x.rpm", Local: f, Size: 1}); err != nil {
			t.Fatal(err)
		}
		republish(t, o, v2)
		h.now = t0.Add(time.Hour)
		h.mustSync()
		if left := filesUnder(filepath.Join(m, "snapshots", stale)); len(left) > 0 {
			t.Errorf("the incomplete snapshot %s was left: %v", stale, left)
		}
		x, err := snapshot.Read(ctx, tg, "test")
		if second := snapshot.Name(h.now); err != nil || len(x.Snapshots) != 1 || x.Snapshots[0].Name != second {
			t.Errorf("snapshots after the update: %+v, %v; want %s alone", x, err, second)
		}
	})

	t.Run("removal finished", func(t *testing.T) {
		// keep 1 removed the first snapshot; make it look as a removal
		// killed after its repomd.xml went leaves it.
		f := filepath.Join(t.TempDir(), "x")
		os.WriteFile(f, []byte("x"), 0o644)
		if err := tg.Put(ctx, target.File{Path: snapshot.Path(first) + "/Packages/left.rpm", Local: f, Size: 1}); err != nil {
			t.Fatal(err)
		}
		h.now = h.now.Add(time.Minute)
		h.mustSync()
		if left := filesUnder(filepath.Join(m, "snapshots", first)); len(left) > 0 {
			t.Errorf("the half-removed snapshot %s was left: %v", first, left)
		}
	})
}

// TestS3RollbackResume: rollback --to a snapshot on a mirror in object
// storage copies back, on the server, only the files the current tree
// does not already hold with the snapshot's content, packages and
// metadata before repomd.xml and its .asc; the bucket then serves the
// snapshot's revision byte for byte and dnf reads it; the repository is
// held until Resume, after which a sync publishes the origin's revision
// again.
func TestS3RollbackResume(t *testing.T) {
	key := testrepo.TestKey(t)
	base := t.TempDir()
	v, pkgs := demoRevisions(t, base, key, 2)
	v1, v2, p1, p2 := v[0], v[1], pkgs[0], pkgs[1]
	o := newOrigin(t, filepath.Join(base, "origin"))
	h := newS3Harness(t, o, key.PublicPath)
	h.repo.Snapshots = &config.Snapshots{Keep: 5}
	t0 := h.now
	for i, dir := range []string{v1, v2} {
		h.now = t0.Add(time.Duration(i) * time.Hour)
		republish(t, o, dir)
		h.mustSync()
	}
	m := h.mirrors[0]
	first := snapshot.Name(t0)
	current := tree(t, m)
	snap := tree(t, filepath.Join(m, "snapshots", first))
	var wantCopies []string
	for p, sum := range snap {
		if current[p] != sum {
			wantCopies = append(wantCopies, p)
		}
	}
	slices.Sort(wantCopies)
	h.count.Copies()
	h.uploads()
	ctx := context.Background()
	hold, reps, err := h.engine(false).Rollback(ctx, h.repo, first, "me@here")
	if err != nil {
		t.Fatalf("rollback: %v", err)
	}
	if len(reps) != 1 || reps[0].Snapshot != first || hold.Revision != "1" {
		t.Errorf("rollback: hold %+v, mirrors %+v", hold, reps)
	}
	copies := h.count.Copies()
	var copied []string
	pos := map[string]int{}
	for i, k := range copies {
		rel := strings.TrimPrefix(k, "mirrors/repo/")
		copied = append(copied, rel)
		pos[rel] = i
	}
	t.Logf("rollback copied %d of the snapshot's %d files: %v", len(copies), len(snap), copied)
	if got := slices.Sorted(slices.Values(copied)); !reflect.DeepEqual(got, wantCopies) {
		t.Errorf("rollback copied %v, want only the files that differ: %v", got, wantCopies)
	}
	if i, ok := pos["repodata/repomd.xml"]; !ok {
		t.Error("rollback did not copy repomd.xml")
	} else {
		for rel, j := range pos {
			before := !strings.HasPrefix(rel, "repodata/repomd.xml")
			if before && j > i || rel == "repodata/repomd.xml.asc" && j < i {
				t.Errorf("rollback copied %s at %d, repomd.xml at %d: want packages and metadata first, the .asc after", rel, j, i)
			}
		}
	}
	for _, k := range h.uploads() {
		if strings.HasSuffix(k, ".rpm") || strings.HasPrefix(k, "repodata/") {
			t.Errorf("rollback uploaded %s instead of copying it", k)
		}
	}
	v1md, _ := os.ReadFile(filepath.Join(v1, "repodata", "repomd.xml"))
	if got, _ := os.ReadFile(filepath.Join(m, "repodata", "repomd.xml")); string(got) != string(v1md) {
		t.Error("the bucket does not serve the first revision after the rollback")
	}
	if got, want := h.dnfList(0), nevras(p1); !reflect.DeepEqual(got, want) {
		t.Errorf("dnf lists %v in the bucket after the rollback, want %v", got, want)
	}
	var he *sync.HeldError
	if rep := h.sync(); !errors.As(rep.Err, &he) || he.Hold.Snapshot != first {
		t.Fatalf("sync of a held repo: %v", rep.Err)
	}
	if b, _ := os.ReadFile(filepath.Join(m, "snapshots", "latest.txt")); string(b) != first+"\n" {
		t.Errorf("latest.txt while held = %q, want %s", b, first)
	}
	if hold, err := h.engine(false).Resume(ctx, h.repo); err != nil || hold == nil || hold.Snapshot != first {
		t.Fatalf("resume: %+v, %v", hold, err)
	}
	h.now = t0.Add(2 * time.Hour)
	h.mustSync()
	v2md, _ := os.ReadFile(filepath.Join(v2, "repodata", "repomd.xml"))
	if got, _ := os.ReadFile(filepath.Join(m, "repodata", "repomd.xml")); string(got) != string(v2md) {
		t.Error("the bucket does not serve the origin's revision after resume and sync")
	}
	if got, want := h.dnfList(0), nevras(p2); !reflect.DeepEqual(got, want) {
		t.Errorf("dnf lists %v after resume and sync, want %v", got, want)
	}
}

// TestS3RollbackKeepsWhatItWithdrawsUntilPruneAfter: on a mirror in
// object storage, whose records the next sync goes by (here another
// host's, with an empty state_dir), a rollback records what it withdrew
// as pending from the rollback and what the mirror serves: the first
// sync after resume keeps the held revision's metadata for prune_after
// (a tester's were deleted at once, the records still describing the
// revision before the rollback) and deletes the withdrawn revision's
// files once prune_after has passed since the rollback (they were never
// deleted).
func TestS3RollbackKeepsWhatItWithdrawsUntilPruneAfter(t *testing.T) {
	key := testrepo.TestKey(t)
	w := newWithdrawal(t, key)
	v1, v2, v3, p1, third, v2Only := w.v1, w.v2, w.v3, w.p1, w.third, w.v2Only
	base := t.TempDir()
	withdrawn := append(slices.Collect(maps.Keys(w.v2Meta)), v2Only...)
	held := slices.Collect(maps.Keys(metadataOf(t, v1)))

	o := newOrigin(t, filepath.Join(base, "origin"))
	h := newS3Harness(t, o, key.PublicPath)
	h.repo.Snapshots = &config.Snapshots{Keep: 5}
	h.repo.PruneAfter = time.Hour
	m := h.mirrors[0]
	exist := func(when string, paths []string, want bool) {
		t.Helper()
		for _, p := range paths {
			if _, err := os.Stat(filepath.Join(m, filepath.FromSlash(p))); (err == nil) != want {
				t.Errorf("%s: %s in the bucket: %v, want there %v", when, p, err == nil, want)
			}
		}
	}
	t0 := h.syncEach(o, v1, v2)
	rollbackAt := t0.Add(time.Hour)
	h.now = rollbackAt
	ctx := context.Background()
	if _, _, err := h.engine(false).Rollback(ctx, h.repo, snapshot.Name(t0), "me@here"); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	exist("after the rollback", withdrawn, true)
	// The record the next sync goes by says what the mirror serves now,
	// since when (a snapshot taken of it is named so), and what waits.
	var rec struct {
		Mirror state.Mirror `json:"mirror"`
	}
	if b, err := os.ReadFile(filepath.Join(m, ".rpmirror", "records", "state.json")); err != nil {
		t.Fatal(err)
	} else if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Mirror.Revision != "1" || !rec.Mirror.PublishedAt.Equal(rollbackAt) || len(rec.Mirror.Pending) != len(withdrawn) {
		t.Errorf("the state record after the rollback: revision %q published %v, %d pending; want 1, %v, the %d files withdrawn", rec.Mirror.Revision, rec.Mirror.PublishedAt, len(rec.Mirror.Pending), rollbackAt, len(withdrawn))
	}

	h.freshState() // another host takes over: the records are all it has
	if _, err := h.engine(false).Resume(ctx, h.repo); err != nil {
		t.Fatalf("resume: %v", err)
	}
	republish(t, o, v3)
	h.now = rollbackAt.Add(30 * time.Minute)
	h.mustSync()
	if got, want := h.dnfList(0), nevras(append(slices.Clone(p1), third)); !reflect.DeepEqual(got, want) {
		t.Errorf("dnf lists %v after resume and sync, want %v", got, want)
	}
	exist("the first sync after resume, 30 minutes after the rollback", held, true)
	exist("the first sync after resume, 30 minutes after the rollback", withdrawn, true)

	h.now = rollbackAt.Add(time.Hour + time.Minute)
	h.mustSync()
	exist("a sync prune_after past the rollback", withdrawn, false)
	exist("a sync prune_after past the rollback, 31 minutes after the held revision was left", held, true)
}

// TestS3SnapshotAfterRollbackNamedByTheRollback: after a rollback on a
// mirror in object storage, resume, and the origin itself going back to
// the revision rolled back to (synced with allow_rollback), the snapshot
// taken of what the mirror serves is named by when the rollback published
// it (a tester's was named after the revision rolled back from, plus
// "-2": the records still gave that one's publish time).
func TestS3SnapshotAfterRollbackNamedByTheRollback(t *testing.T) {
	key := testrepo.TestKey(t)
	base := t.TempDir()
	v, _ := demoRevisions(t, base, key, 2)
	o := newOrigin(t, filepath.Join(base, "origin"))
	h := newS3Harness(t, o, key.PublicPath)
	h.repo.Snapshots = &config.Snapshots{Keep: 5}
	t0 := h.syncEach(o, v...)
	rollbackAt := t0.Add(time.Hour)
	h.now = rollbackAt
	ctx := context.Background()
	if _, _, err := h.engine(false).Rollback(ctx, h.repo, snapshot.Name(t0), "me@here"); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	if _, err := h.engine(false).Resume(ctx, h.repo); err != nil {
		t.Fatalf("resume: %v", err)
	}
	republish(t, o, v[0])
	h.repo.AllowRollback = true
	h.now = rollbackAt.Add(time.Hour)
	h.mustSync()
	m := h.mirrors[0]
	if _, err := os.Stat(filepath.Join(m, "snapshots", snapshot.Name(rollbackAt), "repodata", "repomd.xml")); err != nil {
		ents, _ := os.ReadDir(filepath.Join(m, "snapshots"))
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("no snapshot %s (the rollback's publish) after the origin went back to the revision rolled back to: %v", snapshot.Name(rollbackAt), names)
	}
}
