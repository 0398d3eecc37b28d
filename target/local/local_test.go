package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rpmirror/rpmirror/internal/safefs"
	"github.com/rpmirror/rpmirror/target"
	"github.com/rpmirror/rpmirror/target/targettest"
)

func TestConformance(t *testing.T) {
	targettest.Run(t, func(t *testing.T) target.Target {
		l, err := New(filepath.Join(t.TempDir(), "mirror"))
		if err != nil {
			t.Fatal(err)
		}
		return l
	})
}

func TestSymlinkedDirectoryIsNotFollowed(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	os.Mkdir(outside, 0o755)
	os.Mkdir(filepath.Join(base, "mirror"), 0o755)
	l, err := New(filepath.Join(base, "mirror"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(l.Root(), "Packages")); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(base, "src")
	os.WriteFile(src, []byte("x"), 0o644)
	for name, op := range map[string]func() error{
		"Put": func() error { return l.Put(ctx, target.File{Path: "Packages/evil.rpm", Local: src, Size: 1}) },
		"Commit": func() error {
			return l.Commit(ctx, []target.File{{Path: "Packages/evil.rpm", Local: src, Size: 1}}, nil)
		},
	} {
		if err := op(); err == nil {
			t.Errorf("%s through a symlinked directory succeeded", name)
		}
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Errorf("a file was written outside the mirror: %v", ents)
	}
	if _, err := l.Stat(ctx, "Packages/evil.rpm"); err == nil {
		t.Error("Stat through a symlinked directory succeeded")
	}
	// A walk lists nothing of what lies behind the symlink, whether
	// it starts at the root or at a prefix reached through it.
	os.WriteFile(filepath.Join(outside, "planted.rpm"), []byte("x"), 0o644)
	os.MkdirAll(filepath.Join(outside, "sub"), 0o755)
	os.WriteFile(filepath.Join(outside, "sub", "deep.rpm"), []byte("x"), 0o644)
	for _, prefix := range []string{"", "Packages", "Packages/", "Packages/p", "Packages/sub/"} {
		var got []string
		if err := l.Walk(ctx, prefix, func(p string, _ target.Info) error { got = append(got, p); return nil }); err != nil {
			t.Errorf("Walk(%q): %v", prefix, err)
		}
		if len(got) != 0 {
			t.Errorf("Walk(%q) listed what a symlinked directory holds: %v", prefix, got)
		}
	}
	// Nor does ListNames, from the symlink or from a directory holding
	// one (and a symlink to a file is no file).
	os.MkdirAll(filepath.Join(l.Root(), "real"), 0o755)
	os.Symlink(outside, filepath.Join(l.Root(), "real", "link"))
	os.Symlink(filepath.Join(outside, "planted.rpm"), filepath.Join(l.Root(), "real", "file.rpm"))
	for _, dir := range []string{"Packages/", "Packages/sub/", "real/"} {
		var got []string
		err := l.ListNames(ctx, dir, true, func(p []byte) error { got = append(got, string(p)); return nil })
		var sym *safefs.SymlinkError
		if want := dir != "real/"; errors.As(err, &sym) != want {
			t.Errorf("ListNames(%q): %v; want a *safefs.SymlinkError: %v", dir, err, want)
		}
		if len(got) != 0 {
			t.Errorf("ListNames(%q) listed what a symlink leads to: %v", dir, got)
		}
	}
}

// TestCommitIsAtomic reads the two metadata files through one directory
// handle, as a web server resolving paths at one moment would, while
// commits replace both: every pair read must come from one generation.
func TestCommitIsAtomic(t *testing.T) {
	ctx := context.Background()
	l, err := New(filepath.Join(t.TempDir(), "mirror"))
	if err != nil {
		t.Fatal(err)
	}
	srcDir := t.TempDir()
	commit := func(gen int) {
		var files []target.File
		for _, name := range []string{"repomd.xml", "primary.xml"} {
			p := filepath.Join(srcDir, fmt.Sprintf("%s.%d", name, gen))
			c := fmt.Sprintf("gen %d", gen)
			os.WriteFile(p, []byte(c), 0o644)
			files = append(files, target.File{Path: "repodata/" + name, Local: p, Size: int64(len(c))})
		}
		if err := l.Commit(ctx, files, nil); err != nil {
			t.Errorf("Commit gen %d: %v", gen, err)
		}
	}
	commit(0)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var checked, mixed int
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 64)
		read := func(dfd int, name string) string {
			fd, err := unix.Openat(dfd, name, unix.O_RDONLY, 0)
			if err != nil {
				return "missing: " + err.Error()
			}
			defer unix.Close(fd)
			n, _ := unix.Read(fd, buf)
			return string(buf[:n])
		}
		for {
			select {
			case <-stop:
				return
			default:
			}
			dfd, err := unix.Open(filepath.Join(l.Root(), "repodata"), unix.O_RDONLY|unix.O_DIRECTORY, 0)
			if err != nil {
				mixed++
				continue
			}
			a, b := read(dfd, "repomd.xml"), read(dfd, "primary.xml")
			unix.Close(dfd)
			if strings.HasPrefix(a, "missing") || strings.HasPrefix(b, "missing") {
				// The directory this handle holds was swapped out and
				// removed between the two reads; a client resolving
				// paths never holds on to it.
				continue
			}
			checked++
			if a != b {
				mixed++
				t.Errorf("read %q with %q", a, b)
			}
		}
	}()
	for gen := 1; gen <= 200; gen++ {
		commit(gen)
	}
	close(stop)
	wg.Wait()
	if mixed > 0 || checked == 0 {
		t.Fatalf("%d of %d reads saw a mix of generations", mixed, checked)
	}
}

// TestOldMetadataStaysReadable models a client over HTTP: it reads
// repomd.xml, then the primary file that it names, by path. With hashed
// names (createrepo_c's default) every revision's files stay until pruned,
// so the pair read is always complete, whatever commits happen between
// the two reads.
func TestOldMetadataStaysReadable(t *testing.T) {
	ctx := context.Background()
	l, err := New(filepath.Join(t.TempDir(), "mirror"))
	if err != nil {
		t.Fatal(err)
	}
	srcDir := t.TempDir()
	// committed is the newest generation committed; floor the oldest one
	// the reader may read next.
	var committed, floor atomic.Int64
	commit := func(gen int) {
		primary := fmt.Sprintf("repodata/%d-primary.xml", gen)
		files := []target.File{}
		for name, c := range map[string]string{primary: fmt.Sprintf("gen %d", gen), "repodata/repomd.xml": primary} {
			p := filepath.Join(srcDir, fmt.Sprintf("%d-%s", gen, filepath.Base(name)))
			os.WriteFile(p, []byte(c), 0o644)
			files = append(files, target.File{Path: name, Local: p, Size: int64(len(c))})
		}
		var remove []string
		// Prune as prune_after does: never a generation a reader may
		// still be about to read (on a loaded machine the reader can be
		// many commits behind; the files it needs must still be there).
		if old := gen - 20; old >= 0 && int64(old) < floor.Load() {
			remove = []string{fmt.Sprintf("repodata/%d-primary.xml", old)}
		}
		if err := l.Commit(ctx, files, remove); err != nil {
			t.Errorf("Commit gen %d: %v", gen, err)
		}
		committed.Store(int64(gen))
	}
	commit(0)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var reads int
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			floor.Store(committed.Load())
			named, err := os.ReadFile(filepath.Join(l.Root(), "repodata", "repomd.xml"))
			if err != nil {
				t.Errorf("reading repomd.xml: %v", err)
				return
			}
			b, err := os.ReadFile(filepath.Join(l.Root(), string(named)))
			if err != nil {
				t.Errorf("repomd.xml names %s: %v", named, err)
				return
			}
			var gen int
			fmt.Sscanf(string(named), "repodata/%d-", &gen)
			if string(b) != fmt.Sprintf("gen %d", gen) {
				t.Errorf("%s holds %q", named, b)
			}
			reads++
		}
	}()
	for gen := 1; gen <= 200; gen++ {
		commit(gen)
	}
	close(stop)
	wg.Wait()
	if reads == 0 {
		t.Fatal("the reader read nothing")
	}
}

// TestPlantedSymlinks: someone who can write into the mirror replaces
// rpmirror's lock, its work directory or a file it is about to write or
// delete with a symlink to something outside. Every operation that would
// write, truncate or delete through it fails with a *safefs.SymlinkError
// naming the symlink, and what it points at keeps its bytes, its
// modification time and its entries.
func TestPlantedSymlinks(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		link  string // below the mirror root
		toDir bool
		op    func(l *Local, src string) error
	}{
		{"lock file", ".rpmirror/lock", false, func(l *Local, _ string) error {
			unlock, err := l.Lock(ctx)
			if err == nil {
				unlock()
			}
			return err
		}},
		{"work directory", ".rpmirror", true, func(l *Local, _ string) error {
			unlock, err := l.Lock(ctx)
			if err == nil {
				unlock()
			}
			return err
		}},
		// A new path is linked at once; one in use is replaced through
		// the work directory.
		{"work directory, Put over a file", ".rpmirror", true, func(l *Local, src string) error {
			os.MkdirAll(filepath.Join(l.Root(), "Packages"), 0o755)
			os.WriteFile(filepath.Join(l.Root(), "Packages/a.rpm"), []byte("old"), 0o644)
			return l.Put(ctx, target.File{Path: "Packages/a.rpm", Local: src, Size: 1})
		}},
		{"package file, Put", "Packages/a.rpm", false, func(l *Local, src string) error {
			return l.Put(ctx, target.File{Path: "Packages/a.rpm", Local: src, Size: 1})
		}},
		{"package file, Commit", "Packages/a.rpm", false, func(l *Local, src string) error {
			return l.Commit(ctx, []target.File{{Path: "Packages/a.rpm", Local: src, Size: 1}}, nil)
		}},
		{"package file, Remove", "Packages/a.rpm", false, func(l *Local, _ string) error {
			return l.Remove(ctx, "Packages/a.rpm")
		}},
		{"package directory, Put", "Packages", true, func(l *Local, src string) error {
			return l.Put(ctx, target.File{Path: "Packages/lock", Local: src, Size: 1})
		}},
		{"metadata file, Commit", "repodata/repomd.xml.asc", false, func(l *Local, src string) error {
			return l.Commit(ctx, []target.File{{Path: "repodata/repomd.xml.asc", Local: src, Size: 1}}, nil)
		}},
		{"metadata file, removed in a Commit", "repodata/repomd.xml.asc", false, func(l *Local, src string) error {
			return l.Commit(ctx, []target.File{{Path: "repodata/repomd.xml", Local: src, Size: 1}}, []string{"repodata/repomd.xml.asc"})
		}},
		{"metadata directory, Commit", "repodata", true, func(l *Local, src string) error {
			return l.Commit(ctx, []target.File{{Path: "repodata/lock", Local: src, Size: 1}}, nil)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			l, err := New(filepath.Join(base, "mirror"))
			if err != nil {
				t.Fatal(err)
			}
			outDir := filepath.Join(base, "outside")
			os.MkdirAll(filepath.Join(outDir, "tmp"), 0o755)
			outFiles := []string{filepath.Join(outDir, "lock"), filepath.Join(outDir, "a.rpm"), filepath.Join(outDir, "tmp", "keep")}
			old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
			for _, f := range outFiles {
				os.WriteFile(f, []byte("precious"), 0o644)
				os.Chtimes(f, old, old)
			}
			link := filepath.Join(l.Root(), filepath.FromSlash(tc.link))
			os.MkdirAll(filepath.Dir(link), 0o755)
			to := filepath.Join(outDir, filepath.Base(tc.link))
			if tc.toDir {
				to = outDir
			}
			if err := os.Symlink(to, link); err != nil {
				t.Fatal(err)
			}
			src := filepath.Join(base, "src")
			os.WriteFile(src, []byte("x"), 0o644)
			err = tc.op(l, src)
			var se *safefs.SymlinkError
			if !errors.As(err, &se) || se.Path != link {
				t.Fatalf("error %v, want a *safefs.SymlinkError naming %s", err, link)
			}
			for _, f := range outFiles {
				b, _ := os.ReadFile(f)
				fi, _ := os.Stat(f)
				if string(b) != "precious" || !fi.ModTime().Equal(old) {
					t.Errorf("%s was changed through the symlink", f)
				}
			}
			if ents, _ := os.ReadDir(outDir); len(ents) != 3 {
				t.Errorf("the outside directory changed: %v", ents)
			}
		})
	}
}

// A snapshot on a local mirror is hard links: no byte is copied. A
// snapshot being built when the process is killed is in rpmirror's work
// directory, never under its final name, and the next Lock clears it.
func TestSnapshotLinksAndCrash(t *testing.T) {
	ctx := context.Background()
	l, err := New(filepath.Join(t.TempDir(), "mirror"))
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "a.rpm")
	if err := os.WriteFile(src, []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := l.Put(ctx, target.File{Path: "Packages/a.rpm", Local: src, Size: 1}); err != nil {
		t.Fatal(err)
	}
	if err := l.Snapshot(ctx, "snapshots/s1", []string{"Packages/a.rpm"}); err != nil {
		t.Fatal(err)
	}
	var orig, snap unix.Stat_t
	if err := unix.Stat(filepath.Join(l.Root(), "Packages/a.rpm"), &orig); err != nil {
		t.Fatal(err)
	}
	if err := unix.Stat(filepath.Join(l.Root(), "snapshots/s1/Packages/a.rpm"), &snap); err != nil {
		t.Fatal(err)
	}
	if orig.Ino != snap.Ino {
		t.Errorf("snapshot file: inode %d, original %d: want one inode", snap.Ino, orig.Ino)
	}

	// What a kill -9 in the middle of Snapshot or RemoveDir leaves.
	tmp, err := l.tempName(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(tmp, "Packages"), 0o755); err != nil {
		t.Fatal(err)
	}
	if names, err := l.Dirs(ctx, "snapshots"); err != nil || len(names) != 1 || names[0] != "s1" {
		t.Errorf("Dirs = %v, %v; want only s1", names, err)
	}
	unlock, err := l.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Lock left a half-built snapshot at %s: %v", tmp, err)
	}
}

// TestTwoValuesOnOneDirectory: the sync engine and the daemon each open
// their own Local on the same mirror in one process and write at the
// same time; their temporary files never collide.
func TestTwoValuesOnOneDirectory(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "mirror")
	src := t.TempDir()
	var ls [2]*Local
	for i := range ls {
		l, err := New(dir)
		if err != nil {
			t.Fatal(err)
		}
		ls[i] = l
	}
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i, l := range ls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range n {
				p := fmt.Sprintf("f%d-%d", i, j)
				local := filepath.Join(src, p)
				// A copy, not a link: a source on the same filesystem is
				// linked, which only meets a taken name too.
				if err := os.WriteFile(local, []byte(p), 0o644); err != nil {
					errs <- err
					return
				}
				if err := l.Put(ctx, target.File{Path: p, Local: local, Size: int64(len(p))}); err != nil {
					errs <- fmt.Errorf("Put %s through value %d: %w", p, i, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i := range ls {
		for j := range n {
			p := fmt.Sprintf("f%d-%d", i, j)
			if b, err := os.ReadFile(filepath.Join(dir, p)); err != nil || string(b) != p {
				t.Errorf("%s holds %q (%v)", p, b, err)
			}
		}
	}
}

// TestNewCreatesNothing: opening a mirror that does not exist yet (a dry
// run, the daemon reading it) creates nothing; it reads as empty, and the
// first write creates it, below a symlinked parent too.
func TestNewCreatesNothing(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	real := filepath.Join(base, "real")
	os.Mkdir(real, 0o755)
	os.Symlink(real, filepath.Join(base, "link"))
	for _, tc := range []struct{ name, dir, want string }{
		{"missing", filepath.Join(base, "a", "b", "mirror"), filepath.Join(base, "a", "b", "mirror")},
		{"below a symlink", filepath.Join(base, "link", "c", "mirror"), filepath.Join(real, "c", "mirror")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := New(tc.dir)
			if err != nil {
				t.Fatal(err)
			}
			if l.Root() != tc.want {
				t.Errorf("root %s, want %s", l.Root(), tc.want)
			}
			if _, err := l.Stat(ctx, "repodata/repomd.xml"); !errors.Is(err, target.ErrNotExist) {
				t.Errorf("Stat: %v, want ErrNotExist", err)
			}
			if _, err := l.Open(ctx, "repodata/repomd.xml"); !errors.Is(err, target.ErrNotExist) {
				t.Errorf("Open: %v, want ErrNotExist", err)
			}
			n := 0
			if err := l.Walk(ctx, "", func(string, target.Info) error { n++; return nil }); err != nil || n != 0 {
				t.Errorf("Walk: %d files, %v", n, err)
			}
			if err := l.Remove(ctx, "a.rpm"); err != nil {
				t.Errorf("Remove: %v", err)
			}
			if _, err := os.Lstat(tc.want); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("reading created %s (%v)", tc.want, err)
			}
			src := filepath.Join(t.TempDir(), "src")
			os.WriteFile(src, []byte("x"), 0o644)
			if err := l.Put(ctx, target.File{Path: "a.rpm", Local: src, Size: 1}); err != nil {
				t.Fatal(err)
			}
			if b, err := os.ReadFile(filepath.Join(tc.want, "a.rpm")); err != nil || string(b) != "x" {
				t.Errorf("after Put: %q, %v", b, err)
			}
		})
	}
}

// TestLockLeavesNoEmptyMirror: a mirror directory that Lock created is
// gone again when the lock is released with nothing written (a sync
// skipped because no upstream was usable leaves no empty mirror holding
// a lock file), with the directories above it that Lock created; one that
// received a file, or existed before, stays.
func TestLockLeavesNoEmptyMirror(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		existing string // made before Lock, relative to the test's directory
		put      bool   // a file stored while locked
		planted  bool   // .rpmirror replaced by a symlink to a directory holding a "lock" while locked
		gone     string // what must not exist afterwards ("": nothing)
		stays    string // what must exist afterwards
	}{
		{name: "new mirror", existing: "", gone: "a", stays: ""},
		{name: "new mirror, parent existing", existing: "a/b", gone: "a/b/mirror", stays: "a/b"},
		{name: "mirror existing", existing: "a/b/mirror", stays: "a/b/mirror/.rpmirror/lock"},
		{name: "file stored", put: true, stays: "a/b/mirror/x.rpm"},
		{name: "planted symlink", planted: true, stays: "outside/lock"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			if tc.existing != "" {
				if err := os.MkdirAll(filepath.Join(base, tc.existing), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			l, err := New(filepath.Join(base, "a", "b", "mirror"))
			if err != nil {
				t.Fatal(err)
			}
			unlock, err := l.Lock(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(l.Root(), workDir, lockName)); err != nil {
				t.Fatalf("while locked: %v", err)
			}
			if _, err := l.Lock(ctx); !errors.Is(err, target.ErrLocked) {
				t.Errorf("a second Lock while locked: %v, want ErrLocked", err)
			}
			if tc.put {
				src := filepath.Join(t.TempDir(), "src")
				os.WriteFile(src, []byte("x"), 0o644)
				if err := l.Put(ctx, target.File{Path: "x.rpm", Local: src, Size: 1}); err != nil {
					t.Fatal(err)
				}
			}
			if tc.planted {
				work := filepath.Join(l.Root(), workDir)
				outside := filepath.Join(base, "outside")
				os.Mkdir(outside, 0o755)
				os.WriteFile(filepath.Join(outside, lockName), []byte("keep"), 0o644)
				if err := os.Rename(work, filepath.Join(base, "moved")); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(outside, work); err != nil {
					t.Fatal(err)
				}
			}
			unlock()
			if tc.gone != "" {
				if _, err := os.Lstat(filepath.Join(base, tc.gone)); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s is still there (%v)", tc.gone, err)
				}
			}
			if _, err := os.Lstat(filepath.Join(base, tc.stays)); err != nil {
				t.Errorf("%s: %v", tc.stays, err)
			}
			if tc.planted {
				return // the symlink stays, and Lock refuses it
			}
			// And the mirror locks again as before.
			unlock, err = l.Lock(ctx)
			if err != nil {
				t.Fatalf("Lock after the clean-up: %v", err)
			}
			unlock()
		})
	}
}

// TestPutAllFlushesOnce: storing many packages is made durable by one
// flush of the batch, not by an fsync of a directory per file as Put does
// (issue 10: durability without a fsync per file): a small batch flushes
// its files, the directories that received them and those above (an
// fsync each, several at once: safefs.Flush), a batch of more than
// safefs.FlushOneByOne paths the whole filesystem (one syncfs). Every
// file is a hard link to its download, not a copy.
func TestPutAllFlushesOnce(t *testing.T) {
	tests := []struct {
		name      string
		files     int
		wantPaths int // paths given to the flush; -1: more than FlushOneByOne
	}{
		// 20 files in Packages/a..f: 20 files, 6 directories, Packages, the root.
		{name: "small batch", files: 20, wantPaths: 20 + 6 + 2},
		{name: "large batch", files: 200, wantPaths: -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var dirSyncs, flushes atomic.Int64
			var flushed []string
			oldDir, oldFlush := syncDir, flush
			syncDir = func(dir string) error { dirSyncs.Add(1); return oldDir(dir) }
			flush = func(root string, paths []string) error {
				flushes.Add(1)
				flushed = paths
				return oldFlush(root, paths)
			}
			t.Cleanup(func() { syncDir, flush = oldDir, oldFlush })

			src := t.TempDir()
			l, err := New(filepath.Join(t.TempDir(), "mirror"))
			if err != nil {
				t.Fatal(err)
			}
			var files []target.File
			for i := range tc.files {
				p := filepath.Join(src, fmt.Sprintf("download-%d", i))
				if err := os.WriteFile(p, []byte(fmt.Sprint("package ", i)), 0o644); err != nil {
					t.Fatal(err)
				}
				fi, _ := os.Stat(p)
				files = append(files, target.File{Path: fmt.Sprintf("Packages/%c/p-%d.rpm", 'a'+i%6, i), Local: p, Size: fi.Size()})
			}
			if err := l.PutAll(context.Background(), files); err != nil {
				t.Fatal(err)
			}
			if d, f := dirSyncs.Load(), flushes.Load(); d != 0 || f != 1 {
				t.Errorf("PutAll of %d files: %d directory fsyncs and %d flushes, want 0 and 1", len(files), d, f)
			}
			switch {
			case tc.wantPaths < 0 && len(flushed) <= safefs.FlushOneByOne:
				t.Errorf("PutAll of %d files flushed %d paths one by one, want the filesystem", len(files), len(flushed))
			case tc.wantPaths >= 0:
				want := map[string]bool{l.Root(): true, filepath.Join(l.Root(), "Packages"): true}
				for _, f := range files {
					want[filepath.Join(l.Root(), f.Path)] = true
					want[filepath.Dir(filepath.Join(l.Root(), f.Path))] = true
				}
				got := map[string]bool{}
				for _, p := range flushed {
					got[p] = true
				}
				if len(flushed) != tc.wantPaths || !maps.Equal(got, want) {
					t.Errorf("PutAll flushed %d paths %v, want %d: %v", len(flushed), flushed, tc.wantPaths, slices.Sorted(maps.Keys(want)))
				}
			}
			for _, f := range files {
				var a, b unix.Stat_t
				if err := unix.Stat(f.Local, &a); err != nil {
					t.Fatal(err)
				}
				if err := unix.Stat(filepath.Join(l.Root(), f.Path), &b); err != nil {
					t.Fatalf("%s not stored: %v", f.Path, err)
				}
				if a.Ino != b.Ino {
					t.Errorf("%s is a copy of its download, not a hard link to it", f.Path)
				}
			}
		})
	}
}

// TestPutNewPathDirectly: a file stored at a path not in use yet is
// linked there at once, not through a temporary name and a rename (two
// system calls less a package: issue 10's initial sync); one stored over
// a file in use still replaces it through a temporary name, and a
// symlink there is refused.
func TestPutNewPathDirectly(t *testing.T) {
	l, err := New(filepath.Join(t.TempDir(), "mirror"))
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	download := func(name, content string) target.File {
		p := filepath.Join(src, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return target.File{Path: "Packages/a/" + name + ".rpm", Local: p, Size: int64(len(content))}
	}
	tmp := filepath.Join(l.Root(), workDir, tmpDir)
	ctx := context.Background()
	if err := l.PutAll(ctx, []target.File{download("one", "first"), download("two", "second")}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(tmp); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("storing new paths made %s (%v): they went through temporary names", tmp, err)
	}
	for _, tc := range []struct {
		name string
		put  func(target.File) error
	}{
		{"PutAll", func(f target.File) error { return l.PutAll(ctx, []target.File{f}) }},
		{"Put", func(f target.File) error { return l.Put(ctx, f) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := download("one", "replaced by "+tc.name)
			if err := tc.put(f); err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(filepath.Join(l.Root(), f.Path)); string(b) != "replaced by "+tc.name {
				t.Errorf("%s holds %q after it was replaced", f.Path, b)
			}
			if es, _ := os.ReadDir(tmp); len(es) != 0 {
				t.Errorf("%d temporary files left in %s", len(es), tmp)
			}
			link := filepath.Join(l.Root(), "Packages/a/link.rpm")
			os.Remove(link)
			if err := os.Symlink(f.Local, link); err != nil {
				t.Fatal(err)
			}
			var se *safefs.SymlinkError
			if err := tc.put(target.File{Path: "Packages/a/link.rpm", Local: f.Local, Size: f.Size}); !errors.As(err, &se) {
				t.Errorf("storing over a symlink: %v, want a *safefs.SymlinkError", err)
			}
		})
	}
}

// Open never blocks on what someone planted in the mirror: a FIFO at a
// file's path made open(2) wait for a writer for ever (a sync reading
// the mirror's repodata/repomd.xml hung, deaf to SIGTERM). What is not a
// regular file does not exist for Open, as for Stat.
func TestOpenNeverBlocks(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		make     func(t *testing.T, p, outside string)
		wantData string // "" for ErrNotExist
	}{
		{"regular file", func(t *testing.T, p, _ string) { os.WriteFile(p, []byte("content"), 0o644) }, "content"},
		{"fifo", func(t *testing.T, p, _ string) { mkfifo(t, p) }, ""},
		{"directory", func(t *testing.T, p, _ string) { os.Mkdir(p, 0o755) }, ""},
		{"symlink to a file", func(t *testing.T, p, outside string) {
			os.WriteFile(outside, []byte("outside"), 0o644)
			os.Symlink(outside, p)
		}, ""},
		{"symlink to a fifo", func(t *testing.T, p, outside string) {
			mkfifo(t, outside)
			os.Symlink(outside, p)
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			l, err := New(filepath.Join(base, "mirror"))
			if err != nil {
				t.Fatal(err)
			}
			os.MkdirAll(filepath.Join(l.Root(), "repodata"), 0o755)
			p := filepath.Join(l.Root(), "repodata", "repomd.xml")
			tc.make(t, p, filepath.Join(base, "outside"))
			type result struct {
				data string
				err  error
			}
			done := make(chan result, 1)
			go func() {
				rc, err := l.Open(ctx, "repodata/repomd.xml")
				if err != nil {
					done <- result{err: err}
					return
				}
				b, err := io.ReadAll(rc)
				rc.Close()
				done <- result{string(b), err}
			}()
			var r result
			select {
			case r = <-done:
			case <-time.After(time.Minute):
				// Let the blocked open(2) go before failing.
				for _, f := range []string{p, filepath.Join(base, "outside")} {
					if w, err := os.OpenFile(f, os.O_WRONLY|unix.O_NONBLOCK, 0); err == nil {
						w.Close()
					}
				}
				t.Fatal("Open blocked")
			}
			if tc.wantData == "" {
				if !errors.Is(r.err, target.ErrNotExist) {
					t.Fatalf("Open: %v, %q; want an error wrapping target.ErrNotExist", r.err, r.data)
				}
				return
			}
			if r.err != nil || r.data != tc.wantData {
				t.Fatalf("Open: %v, %q; want %q", r.err, r.data, tc.wantData)
			}
		})
	}
}

func mkfifo(t *testing.T, p string) {
	t.Helper()
	if err := unix.Mkfifo(p, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestPlacedFilesAreServable: a file stored from a source made 0600 (as
// os.CreateTemp makes the filtered metadata, the snapshots' index and the
// daemon's lists) is published 0644, whichever way it is stored: a web
// server running as another user reads it. A hard link shares its
// source's mode, so the source is made so.
func TestPlacedFilesAreServable(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		store func(l *Local, f target.File) error
	}{
		{"Put", func(l *Local, f target.File) error { return l.Put(ctx, f) }},
		{"PutAll", func(l *Local, f target.File) error { return l.PutAll(ctx, []target.File{f}) }},
		{"Commit of repodata", func(l *Local, f target.File) error { return l.Commit(ctx, []target.File{f}, nil) }},
		{"Commit of the tree", func(l *Local, f target.File) error {
			f2 := f
			f2.Path = "Packages/b.rpm"
			return l.Commit(ctx, []target.File{f, f2}, nil)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := New(filepath.Join(t.TempDir(), "mirror"))
			if err != nil {
				t.Fatal(err)
			}
			src := filepath.Join(t.TempDir(), "staged")
			if err := os.WriteFile(src, []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
			os.Chmod(src, 0o600) // whatever the umask
			if err := tc.store(l, target.File{Path: "repodata/a.xml", Local: src, Size: 1}); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(filepath.Join(l.Root(), "repodata", "a.xml"))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != filePerm {
				t.Errorf("published with mode %v, want %v", fi.Mode().Perm(), os.FileMode(filePerm))
			}
		})
	}
}

// TestReadable: CheckReadable names a file neither its group nor others
// may read (0600) with its mode, and passes one they may (0640, 0644);
// MakeReadable makes it 0644 through the file itself. Neither follows a
// symlink planted at the path (the file it points to keeps its mode),
// and a directory is not a file to either.
func TestReadable(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	l, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "secret")
	for name, mode := range map[string]os.FileMode{"a/private": 0o600, "a/group": 0o640, "a/public": 0o644} {
		p := filepath.Join(root, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(name), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(outside, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "a", "link")); err != nil {
		t.Fatal(err)
	}
	var nr *target.NotReadableError
	if err := l.CheckReadable(ctx, "a/private"); !errors.As(err, &nr) || nr.Mode != 0o600 || !strings.Contains(err.Error(), "mode 0600") {
		t.Errorf("CheckReadable of a 0600 file: %v", err)
	}
	for _, p := range []string{"a/group", "a/public"} {
		if err := l.CheckReadable(ctx, p); err != nil {
			t.Errorf("CheckReadable(%s): %v", p, err)
		}
	}
	for _, p := range []string{"a/link", "a", "a/none"} {
		if err := l.CheckReadable(ctx, p); !errors.Is(err, target.ErrNotExist) {
			t.Errorf("CheckReadable(%s): %v, want ErrNotExist", p, err)
		}
	}
	if err := l.MakeReadable(ctx, "a/private"); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(root, "a", "private")); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("after MakeReadable: %v, %v; want 0644", fi.Mode(), err)
	}
	if err := l.CheckReadable(ctx, "a/private"); err != nil {
		t.Errorf("CheckReadable after MakeReadable: %v", err)
	}
	var se *safefs.SymlinkError
	if err := l.MakeReadable(ctx, "a/link"); !errors.As(err, &se) {
		t.Errorf("MakeReadable through a symlink: %v, want a SymlinkError", err)
	}
	if fi, err := os.Stat(outside); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the file a planted symlink points to: %v, %v; want it left 0600", fi.Mode(), err)
	}
	if err := l.MakeReadable(ctx, "a"); !errors.Is(err, target.ErrNotExist) {
		t.Errorf("MakeReadable of a directory: %v, want ErrNotExist", err)
	}
}

// TestSymlinkSwappedInDuringCommit swaps a directory of the mirror for a
// symlink to a directory outside it while a whole-tree Commit copies the
// tree (found by an attacker's test: a path walk descended into the
// symlink and hard-linked a 0600 file from outside into the mirror, and
// the web server served it). The same for rpmirror's work directory
// during a metadata-only commit, whose leftover was removed through the
// symlink. Each commit must fail, and nothing outside may be linked in
// or removed.
func TestSymlinkSwappedInDuringCommit(t *testing.T) {
	ctx := context.Background()
	t.Run("a directory while the tree is copied", func(t *testing.T) {
		base := t.TempDir()
		l, err := New(filepath.Join(base, "mirror"))
		if err != nil {
			t.Fatal(err)
		}
		src := filepath.Join(base, "src")
		os.WriteFile(src, []byte("v1"), 0o644)
		for _, p := range []string{"Packages/a.rpm", "Packages/sub/b.rpm", "other/c.rpm"} {
			if err := l.Put(ctx, target.File{Path: p, Local: src, Size: 2}); err != nil {
				t.Fatal(err)
			}
		}
		outside := filepath.Join(base, "victim")
		os.MkdirAll(filepath.Join(outside, "sub"), 0o755)
		os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("secret"), 0o600)
		os.WriteFile(filepath.Join(outside, "sub", "deep.txt"), []byte("secret"), 0o600)
		swapped := false
		beforeDescend = func(p string) {
			if !swapped && filepath.Base(p) == "Packages" {
				swapped = true
				os.Rename(p, p+".real")
				os.Symlink(outside, p)
			}
		}
		defer func() { beforeDescend = nil }()
		src2 := filepath.Join(base, "src2")
		os.WriteFile(src2, []byte("v2"), 0o644)
		// Replacing a package in place takes the whole-tree swap.
		err = l.Commit(ctx, []target.File{{Path: "other/c.rpm", Local: src2, Size: 2}}, nil)
		if !swapped {
			t.Fatal("the hook never ran: the test does not test the copy")
		}
		var se *safefs.SymlinkError
		if !errors.As(err, &se) {
			t.Errorf("Commit with a directory swapped for a symlink during the copy: err = %v, want a *safefs.SymlinkError", err)
		}
		filepath.WalkDir(l.Root(), func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				if b, _ := os.ReadFile(p); string(b) == "secret" {
					t.Errorf("a file from outside the mirror was linked into it: %s", p)
				}
			}
			return nil
		})
		ents, _ := os.ReadDir(base)
		for _, e := range ents {
			if strings.Contains(e.Name(), "rpmirror-next") {
				t.Errorf("the failed swap left its copy behind: %s", e.Name())
			}
		}
		if b, err := os.ReadFile(filepath.Join(l.Root(), "other", "c.rpm")); err != nil || string(b) != "v1" {
			t.Errorf("after the failed commit other/c.rpm = %q, %v; want the old v1", b, err)
		}
	})
	t.Run("the work directory before a metadata commit", func(t *testing.T) {
		base := t.TempDir()
		l, err := New(filepath.Join(base, "mirror"))
		if err != nil {
			t.Fatal(err)
		}
		src := filepath.Join(base, "src")
		os.WriteFile(src, []byte("md"), 0o644)
		if err := l.Commit(ctx, []target.File{{Path: "repodata/repomd.xml", Local: src, Size: 2}}, nil); err != nil {
			t.Fatal(err)
		}
		outside := filepath.Join(base, "victim")
		os.MkdirAll(filepath.Join(outside, nextMeta), 0o755)
		os.WriteFile(filepath.Join(outside, nextMeta, "keep.txt"), []byte("keep"), 0o644)
		work := filepath.Join(l.Root(), workDir)
		if err := os.Rename(work, work+".moved"); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(outside, work); err != nil {
			t.Fatal(err)
		}
		err = l.Commit(ctx, []target.File{{Path: "repodata/repomd.xml", Local: src, Size: 2}}, nil)
		var se *safefs.SymlinkError
		if !errors.As(err, &se) {
			t.Errorf("Commit with %s a symlink: err = %v, want a *safefs.SymlinkError", workDir, err)
		}
		if b, err := os.ReadFile(filepath.Join(outside, nextMeta, "keep.txt")); err != nil || string(b) != "keep" {
			t.Errorf("what the symlinked work directory points at was removed: %q, %v", b, err)
		}
	})
}

// TestDocumentedServerConfigHidesWorkFiles checks the web server
// configuration docs/operations.md gives: each `location ~ REGEX { deny
// all; }` there must deny what a local mirror keeps of its own, its work
// directory and the next tree a whole-tree commit builds beside it (an
// operator's walkthrough found the documented one let the latter be
// served), and nothing a repository holds. nginx matches the regular
// expression against the URI's path, as Go's regexp does here.
func TestDocumentedServerConfigHidesWorkFiles(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	found := regexp.MustCompile(`location ~ (\S+) \{ deny all; \}`).FindAllSubmatch(doc, -1)
	if len(found) == 0 {
		t.Fatal("docs/operations.md gives no `location ~ REGEX { deny all; }`")
	}
	// The web server's root is /srv/mirror; the mirror is /srv/mirror/el9.
	root := "/srv/mirror"
	mirror := filepath.Join(root, "el9")
	uri := func(p string) string { rel, _ := filepath.Rel(root, p); return "/" + filepath.ToSlash(rel) }
	hidden := []string{
		uri(filepath.Join(mirror, workDir, lockName)),
		uri(filepath.Join(mirror, workDir, nextMeta, "repomd.xml")),
		uri(filepath.Join(nextTree(mirror), "repodata", "repomd.xml")),
		uri(filepath.Join(nextTree(mirror), "Packages", "a", "a-1.0-1.noarch.rpm")),
	}
	served := []string{
		"/el9/repodata/repomd.xml", "/el9/Packages/r/rpmirror-1.0-1.noarch.rpm", "/el9/mirrorlist",
		"/el9/snapshots/20261126T120000Z/repodata/repomd.xml", "/el9/Packages/.hidden-but-a-package.rpm",
	}
	for _, m := range found {
		re, err := regexp.Compile(string(m[1]))
		if err != nil {
			t.Errorf("%s: %v", m[1], err)
			continue
		}
		for _, p := range hidden {
			if !re.MatchString(p) {
				t.Errorf("location ~ %s does not deny %s", m[1], p)
			}
		}
		for _, p := range served {
			if re.MatchString(p) {
				t.Errorf("location ~ %s denies %s", m[1], p)
			}
		}
	}
}
