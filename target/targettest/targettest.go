// Package targettest is the conformance suite every target.Target
// implementation runs: call Run from the implementation's tests with a
// function that returns a new, empty target.
package targettest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"github.com/rpmirror/rpmirror/target"
)

// Run runs the conformance suite against targets made by newTarget. Each
// subtest gets a fresh, empty target.
func Run(t *testing.T, newTarget func(t *testing.T) target.Target) {
	ctx := context.Background()
	src := func(t *testing.T, content string) target.File {
		p := filepath.Join(t.TempDir(), "src")
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return target.File{Local: p, Size: int64(len(content))}
	}
	put := func(t *testing.T, tg target.Target, path, content string) {
		t.Helper()
		f := src(t, content)
		f.Path = path
		if err := tg.Put(ctx, f); err != nil {
			t.Fatalf("Put(%s): %v", path, err)
		}
	}
	read := func(t *testing.T, tg target.Target, path string) string {
		t.Helper()
		rc, err := tg.Open(ctx, path)
		if err != nil {
			t.Fatalf("Open(%s): %v", path, err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	list := func(t *testing.T, tg target.Target) []string {
		t.Helper()
		var got []string
		if err := tg.Walk(ctx, "", func(p string, _ target.Info) error { got = append(got, p); return nil }); err != nil {
			t.Fatalf("Walk: %v", err)
		}
		return got
	}

	t.Run("PutThenRead", func(t *testing.T) {
		tg := newTarget(t)
		put(t, tg, "Packages/a/a-1.rpm", "first")
		if got := read(t, tg, "Packages/a/a-1.rpm"); got != "first" {
			t.Errorf("content = %q, want %q", got, "first")
		}
		info, err := tg.Stat(ctx, "Packages/a/a-1.rpm")
		if err != nil || info.Size != 5 {
			t.Errorf("Stat = %+v, %v; want size 5", info, err)
		}
		put(t, tg, "Packages/a/a-1.rpm", "second!")
		if got := read(t, tg, "Packages/a/a-1.rpm"); got != "second!" {
			t.Errorf("after replacing, content = %q", got)
		}
	})

	t.Run("PutAll", func(t *testing.T) {
		tg := newTarget(t)
		b, ok := tg.(target.BatchPutter)
		if !ok {
			t.Skip("the target stores files one Put at a time (no target.BatchPutter)")
		}
		put(t, tg, "Packages/a/a-1.rpm", "old")
		var files []target.File
		want := map[string]string{}
		for _, p := range []string{"Packages/a/a-1.rpm", "Packages/a/a-2.rpm", "Packages/b/b-1.rpm", "top.rpm"} {
			f := src(t, "new "+p)
			f.Path = p
			files = append(files, f)
			want[p] = "new " + p
		}
		if err := b.PutAll(ctx, files); err != nil {
			t.Fatalf("PutAll: %v", err)
		}
		for p, content := range want {
			if got := read(t, tg, p); got != content {
				t.Errorf("%s = %q, want %q", p, got, content)
			}
		}
		if err := b.PutAll(ctx, nil); err != nil {
			t.Errorf("PutAll of nothing: %v", err)
		}
		// A bad path anywhere fails the call before anything is stored.
		bad := src(t, "x")
		bad.Path = "../escape.rpm"
		later := src(t, "later")
		later.Path = "Packages/c/c-1.rpm"
		if err := b.PutAll(ctx, []target.File{later, bad}); err == nil {
			t.Error("PutAll with a path outside the target: no error")
		}
		if _, err := tg.Stat(ctx, later.Path); !errors.Is(err, target.ErrNotExist) {
			t.Errorf("after a PutAll refused for a bad path, a good file of the same call: Stat err = %v, want ErrNotExist", err)
		}
	})

	t.Run("NotExist", func(t *testing.T) {
		tg := newTarget(t)
		if _, err := tg.Stat(ctx, "nope"); !errors.Is(err, target.ErrNotExist) {
			t.Errorf("Stat of missing file: err = %v, want ErrNotExist", err)
		}
		if _, err := tg.Open(ctx, "dir/nope"); !errors.Is(err, target.ErrNotExist) {
			t.Errorf("Open of missing file: err = %v, want ErrNotExist", err)
		}
		if err := tg.Remove(ctx, "nope"); err != nil {
			t.Errorf("Remove of missing file: %v", err)
		}
	})

	t.Run("RefusesBadPaths", func(t *testing.T) {
		tg := newTarget(t)
		for _, p := range []string{"", "/etc/passwd", "../escape", "a/../../escape", "a/./b", "a//b", `a\b`, "a\x00b", ".rpmirror/lock", "a/", "a\nb"} {
			f := src(t, "x")
			f.Path = p
			if err := tg.Put(ctx, f); err == nil {
				t.Errorf("Put(%q) succeeded, want an error", p)
			}
			f.Path = "repodata/ok"
			if err := tg.Commit(ctx, []target.File{f, {Path: p, Local: f.Local, Size: 1}}, nil); err == nil {
				t.Errorf("Commit with %q succeeded, want an error", p)
			}
		}
		if got := list(t, tg); len(got) != 0 {
			t.Errorf("after refused writes the target holds %v", got)
		}
	})

	t.Run("CommitMetadata", func(t *testing.T) {
		tg := newTarget(t)
		put(t, tg, "Packages/p.rpm", "pkg")
		var files []target.File
		for _, c := range []struct{ path, content string }{{"repodata/primary.xml", "p1"}, {"repodata/repomd.xml", "r1"}} {
			f := src(t, c.content)
			f.Path = c.path
			files = append(files, f)
		}
		if err := tg.Commit(ctx, files, nil); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		// A second commit replaces one file and adds one; the rest stays.
		f2 := src(t, "r2")
		f2.Path = "repodata/repomd.xml"
		f3 := src(t, "f2")
		f3.Path = "repodata/filelists.xml"
		if err := tg.Commit(ctx, []target.File{f2, f3}, []string{"repodata/primary.xml", "repodata/never-there.xml"}); err != nil {
			t.Fatalf("second Commit: %v", err)
		}
		want := map[string]string{"Packages/p.rpm": "pkg", "repodata/repomd.xml": "r2", "repodata/filelists.xml": "f2"}
		for p, c := range want {
			if got := read(t, tg, p); got != c {
				t.Errorf("%s = %q, want %q", p, got, c)
			}
		}
		if got, w := list(t, tg), []string{"Packages/p.rpm", "repodata/filelists.xml", "repodata/repomd.xml"}; !reflect.DeepEqual(got, w) {
			t.Errorf("Walk = %v, want %v", got, w)
		}
	})

	t.Run("CommitOutsideMetadata", func(t *testing.T) {
		tg := newTarget(t)
		put(t, tg, "Packages/p.rpm", "old")
		put(t, tg, "Packages/q.rpm", "q")
		f1 := src(t, "new")
		f1.Path = "Packages/p.rpm"
		f2 := src(t, "r")
		f2.Path = "repodata/repomd.xml"
		if err := tg.Commit(ctx, []target.File{f1, f2}, []string{"Packages/q.rpm"}); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		for p, c := range map[string]string{"Packages/p.rpm": "new", "repodata/repomd.xml": "r"} {
			if got := read(t, tg, p); got != c {
				t.Errorf("%s = %q, want %q", p, got, c)
			}
		}
		if _, err := tg.Stat(ctx, "Packages/q.rpm"); !errors.Is(err, target.ErrNotExist) {
			t.Errorf("Packages/q.rpm was to be removed by the commit; Stat err = %v", err)
		}
	})

	t.Run("CommitSameFileAgain", func(t *testing.T) {
		// Committing the very file that is there (a hard link to the same
		// download, for a local target) leaves nothing else behind, and
		// can be done again.
		tg := newTarget(t)
		f := src(t, "meta")
		f.Path = "repodata/primary.xml"
		for i := range 3 {
			if err := tg.Commit(ctx, []target.File{f}, nil); err != nil {
				t.Fatalf("Commit %d: %v", i, err)
			}
			if err := tg.Put(ctx, target.File{Path: "Packages/p.rpm", Local: f.Local, Size: f.Size}); err != nil {
				t.Fatalf("Put %d: %v", i, err)
			}
		}
		if got, w := list(t, tg), []string{"Packages/p.rpm", "repodata/primary.xml"}; !reflect.DeepEqual(got, w) {
			t.Errorf("Walk = %v, want %v", got, w)
		}
	})

	t.Run("CommitWrongSizeChangesNothing", func(t *testing.T) {
		tg := newTarget(t)
		put(t, tg, "repodata/repomd.xml", "old")
		f := src(t, "new")
		f.Path = "repodata/repomd.xml"
		f.Size = 99
		if err := tg.Commit(ctx, []target.File{f}, nil); err == nil {
			t.Fatal("Commit of a source with the wrong size succeeded")
		}
		if got := read(t, tg, "repodata/repomd.xml"); got != "old" {
			t.Errorf("after a failed Commit, repomd.xml = %q, want %q", got, "old")
		}
	})

	t.Run("CommitFailingPartway", func(t *testing.T) {
		// The third file cannot be stored (its source has the wrong
		// size). An atomic target is left as it was; any other stored
		// the files before it in order, none after, and removed nothing.
		tg := newTarget(t)
		put(t, tg, "Packages/old.rpm", "old")
		var files []target.File
		for _, c := range []struct{ path, content string }{
			{"Packages/a.rpm", "a"}, {"repodata/1-primary.xml", "p"}, {"repodata/2-filelists.xml", "f"}, {"repodata/repomd.xml", "r"},
		} {
			f := src(t, c.content)
			f.Path = c.path
			files = append(files, f)
		}
		files[2].Size = 99
		if err := tg.Commit(ctx, files, []string{"Packages/old.rpm"}); err == nil {
			t.Fatal("Commit with a source of the wrong size succeeded")
		}
		want := []string{"Packages/old.rpm"}
		if !tg.Properties().AtomicCommit {
			want = []string{"Packages/a.rpm", "Packages/old.rpm", "repodata/1-primary.xml"}
		}
		if got := list(t, tg); !reflect.DeepEqual(got, want) {
			t.Errorf("after a Commit that failed at its third file, Walk = %v, want %v (AtomicCommit %v)", got, want, tg.Properties().AtomicCommit)
		}
	})

	t.Run("RemoveAndWalk", func(t *testing.T) {
		tg := newTarget(t)
		put(t, tg, "b/x.rpm", "1")
		put(t, tg, "a.rpm", "2")
		put(t, tg, "b/c/y.rpm", "3")
		if got, w := list(t, tg), []string{"a.rpm", "b/c/y.rpm", "b/x.rpm"}; !reflect.DeepEqual(got, w) {
			t.Errorf("Walk = %v, want %v", got, w)
		}
		if err := tg.Remove(ctx, "b/c/y.rpm"); err != nil {
			t.Fatal(err)
		}
		if got, w := list(t, tg), []string{"a.rpm", "b/x.rpm"}; !reflect.DeepEqual(got, w) {
			t.Errorf("after Remove, Walk = %v, want %v", got, w)
		}
	})

	t.Run("WalkPrefix", func(t *testing.T) {
		tg := newTarget(t)
		for _, p := range []string{"a.rpm", "ab/z.rpm", "a/x.rpm", "a/c/y.rpm", "b/q.rpm", "snapshots/s1/a/x.rpm"} {
			put(t, tg, p, p)
		}
		for _, c := range []struct {
			prefix string
			want   []string
		}{
			{"", []string{"a.rpm", "a/c/y.rpm", "a/x.rpm", "ab/z.rpm", "b/q.rpm", "snapshots/s1/a/x.rpm"}},
			{"a/", []string{"a/c/y.rpm", "a/x.rpm"}},
			{"a", []string{"a.rpm", "a/c/y.rpm", "a/x.rpm", "ab/z.rpm"}},
			{"a/c", []string{"a/c/y.rpm"}},
			{"a/x", []string{"a/x.rpm"}},
			{"snapshots/", []string{"snapshots/s1/a/x.rpm"}},
			{"snapshots/s1/a/x.rpm", []string{"snapshots/s1/a/x.rpm"}},
			{"nothing/", nil},
			{"a/x.rpm/", nil}, // a file, not a directory
			{"../", nil},
			{"a//", nil},
			{".rpmirror/", nil},
		} {
			var got []string
			if err := tg.Walk(ctx, c.prefix, func(p string, info target.Info) error {
				if info.Size != int64(len(p)) {
					t.Errorf("Walk(%q): %s has size %d, want %d", c.prefix, p, info.Size, len(p))
				}
				got = append(got, p)
				return nil
			}); err != nil {
				t.Errorf("Walk(%q): %v", c.prefix, err)
				continue
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("Walk(%q) = %v, want %v", c.prefix, got, c.want)
			}
		}
	})

	t.Run("ListNames", func(t *testing.T) {
		tg := newTarget(t)
		nl, ok := tg.(target.NameLister)
		if !ok {
			t.Skip("the target lists no names (target.NameLister)")
		}
		for _, p := range []string{"a.rpm", "ab/z.rpm", "a/x.rpm", "a/c/y.rpm", "a/c/d/w.rpm", "b/q.rpm", "snapshots/s1/a/x.rpm"} {
			put(t, tg, p, p)
		}
		for _, c := range []struct {
			dir  string
			want []string
		}{
			{"", []string{"a.rpm"}}, // the top alone
			{"a/", []string{"a/c/d/w.rpm", "a/c/y.rpm", "a/x.rpm"}},
			{"a/c/", []string{"a/c/d/w.rpm", "a/c/y.rpm"}},
			{"b/", []string{"b/q.rpm"}},
			{"snapshots/", []string{"snapshots/s1/a/x.rpm"}},
			{"nothing/", nil},
			{"a.rpm/", nil}, // a file, not a directory
			{"../", nil},
			{".rpmirror/", nil},
		} {
			var got []string
			if err := nl.ListNames(ctx, c.dir, c.dir != "", func(p []byte) error {
				got = append(got, string(p))
				return nil
			}); err != nil {
				t.Errorf("ListNames(%q): %v", c.dir, err)
				continue
			}
			sort.Strings(got)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("ListNames(%q) = %v, want %v", c.dir, got, c.want)
			}
		}
	})

	t.Run("RemoveConcurrently", func(t *testing.T) {
		// Remove is called from several goroutines at once (a sync
		// prunes that way): every file goes, the one kept stays.
		tg := newTarget(t)
		var paths []string
		for _, d := range []string{"p/a", "p/b"} {
			for i := range 6 {
				p := fmt.Sprintf("%s/f%d.rpm", d, i)
				put(t, tg, p, p)
				paths = append(paths, p)
			}
		}
		put(t, tg, "p/keep.rpm", "kept")
		errs := make(chan error, len(paths))
		for _, p := range paths {
			go func() { errs <- tg.Remove(ctx, p) }()
		}
		for range paths {
			if err := <-errs; err != nil {
				t.Errorf("Remove: %v", err)
			}
		}
		if got, w := list(t, tg), []string{"p/keep.rpm"}; !reflect.DeepEqual(got, w) {
			t.Errorf("after removing at once, Walk = %v, want %v", got, w)
		}
	})

	t.Run("LockIsExclusive", func(t *testing.T) {
		tg := newTarget(t)
		unlock, err := tg.Lock(ctx)
		if err != nil {
			t.Fatalf("Lock: %v", err)
		}
		if _, err := tg.Lock(ctx); !errors.Is(err, target.ErrLocked) {
			t.Errorf("second Lock: err = %v, want ErrLocked", err)
		}
		if got := list(t, tg); len(got) != 0 {
			t.Errorf("Walk shows the lock's bookkeeping: %v", got)
		}
		unlock()
		unlock2, err := tg.Lock(ctx)
		if err != nil {
			t.Fatalf("Lock after unlock: %v", err)
		}
		unlock2()
	})

	t.Run("Snapshot", func(t *testing.T) {
		tg := newTarget(t)
		sn, ok := tg.(target.Snapshotter)
		if !ok {
			t.Skipf("%T does not implement target.Snapshotter", tg)
		}
		put(t, tg, "repodata/repomd.xml", "md-1")
		put(t, tg, "Packages/a.rpm", "a-1")
		put(t, tg, "b.rpm", "b-1")
		if names, err := sn.Dirs(ctx, "snapshots"); err != nil || len(names) != 0 {
			t.Fatalf("Dirs of a missing dir = %v, %v; want none", names, err)
		}
		if err := sn.Snapshot(ctx, "snapshots/one", []string{"repodata/repomd.xml", "Packages/a.rpm", "b.rpm", "b.rpm"}); err != nil {
			t.Fatalf("Snapshot: %v", err)
		}
		// Changing the original changes nothing in the snapshot.
		put(t, tg, "Packages/a.rpm", "a-2")
		if err := tg.Remove(ctx, "b.rpm"); err != nil {
			t.Fatal(err)
		}
		for p, want := range map[string]string{"snapshots/one/repodata/repomd.xml": "md-1", "snapshots/one/Packages/a.rpm": "a-1", "snapshots/one/b.rpm": "b-1", "Packages/a.rpm": "a-2"} {
			if got := read(t, tg, p); got != want {
				t.Errorf("%s = %q, want %q", p, got, want)
			}
		}
		if err := sn.Snapshot(ctx, "snapshots/one", []string{"Packages/a.rpm"}); !errors.Is(err, target.ErrExist) {
			t.Errorf("Snapshot over an existing dir: err = %v, want ErrExist", err)
		}
		if err := sn.Snapshot(ctx, "snapshots/two", []string{"Packages/a.rpm", "gone.rpm"}); !errors.Is(err, target.ErrNotExist) {
			t.Errorf("Snapshot of a missing file: err = %v, want ErrNotExist", err)
		}
		if _, err := tg.Stat(ctx, "snapshots/two/Packages/a.rpm"); !errors.Is(err, target.ErrNotExist) {
			t.Errorf("a failed Snapshot left files behind: Stat = %v", err)
		}
		if err := sn.Snapshot(ctx, "snapshots/two", []string{"Packages/a.rpm"}); err != nil {
			t.Fatalf("Snapshot two: %v", err)
		}
		if names, err := sn.Dirs(ctx, "snapshots"); err != nil || !reflect.DeepEqual(names, []string{"one", "two"}) {
			t.Errorf("Dirs = %v, %v; want [one two]", names, err)
		}
		// Restore puts snapshot one's files back and removes the rest
		// named; snapshot one stays as it was.
		put(t, tg, "repodata/repomd.xml", "md-2")
		put(t, tg, "repodata/new.xml", "new")
		if err := sn.Restore(ctx, "snapshots/one", []string{"repodata/repomd.xml", "Packages/a.rpm", "b.rpm"}, []string{"repodata/new.xml"}); err != nil {
			t.Fatalf("Restore: %v", err)
		}
		for p, want := range map[string]string{"repodata/repomd.xml": "md-1", "Packages/a.rpm": "a-1", "b.rpm": "b-1", "snapshots/one/Packages/a.rpm": "a-1"} {
			if got := read(t, tg, p); got != want {
				t.Errorf("after Restore, %s = %q, want %q", p, got, want)
			}
		}
		if _, err := tg.Stat(ctx, "repodata/new.xml"); !errors.Is(err, target.ErrNotExist) {
			t.Errorf("after Restore, repodata/new.xml: Stat = %v, want ErrNotExist", err)
		}
		if err := sn.Restore(ctx, "snapshots/one", []string{"repodata/repomd.xml", "gone.rpm"}, nil); !errors.Is(err, target.ErrNotExist) {
			t.Errorf("Restore of a file the snapshot lacks: err = %v, want ErrNotExist", err)
		}
		if got := read(t, tg, "repodata/repomd.xml"); got != "md-1" {
			t.Errorf("a failed Restore changed repodata/repomd.xml to %q", got)
		}
		put(t, tg, "Packages/a.rpm", "a-2")
		if err := tg.Remove(ctx, "b.rpm"); err != nil {
			t.Fatal(err)
		}
		if err := sn.RemoveDir(ctx, "snapshots/one"); err != nil {
			t.Fatalf("RemoveDir: %v", err)
		}
		if err := sn.RemoveDir(ctx, "snapshots/one"); err != nil {
			t.Errorf("RemoveDir of a missing dir: %v", err)
		}
		if got, w := list(t, tg), []string{"Packages/a.rpm", "repodata/repomd.xml", "snapshots/two/Packages/a.rpm"}; !reflect.DeepEqual(got, w) {
			t.Errorf("after RemoveDir, Walk = %v, want %v", got, w)
		}
	})

	t.Run("SnapshotCompletes", func(t *testing.T) {
		tg := newTarget(t)
		sn, ok := tg.(target.Snapshotter)
		if !ok {
			t.Skipf("%T does not implement target.Snapshotter", tg)
		}
		if tg.Properties().AtomicCommit {
			t.Skip("a target with atomic commits never leaves part of a snapshot")
		}
		put(t, tg, "a.rpm", "a")
		put(t, tg, "b.rpm", "b")
		put(t, tg, "mark", "m")
		// What a Snapshot killed after its first copies leaves: one file
		// as it should be, one damaged, no marking file.
		put(t, tg, "snap/a.rpm", "a")
		put(t, tg, "snap/b.rpm", "damaged")
		if err := sn.Snapshot(ctx, "snap", []string{"a.rpm", "b.rpm", "mark"}); err != nil {
			t.Fatalf("Snapshot over an incomplete dir: %v", err)
		}
		for p, want := range map[string]string{"snap/a.rpm": "a", "snap/b.rpm": "b", "snap/mark": "m"} {
			if got := read(t, tg, p); got != want {
				t.Errorf("after completing, %s = %q, want %q", p, got, want)
			}
		}
		if err := sn.Snapshot(ctx, "snap", []string{"a.rpm", "mark"}); !errors.Is(err, target.ErrExist) {
			t.Errorf("Snapshot over a complete dir: err = %v, want ErrExist", err)
		}
		if err := sn.RemoveDir(ctx, "snap"); err != nil {
			t.Fatalf("RemoveDir: %v", err)
		}
		if got, w := list(t, tg), []string{"a.rpm", "b.rpm", "mark"}; !reflect.DeepEqual(got, w) {
			t.Errorf("after RemoveDir, Walk = %v, want %v", got, w)
		}
	})
}
