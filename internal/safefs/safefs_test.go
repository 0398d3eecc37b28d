package safefs

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	gosync "sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSymlinksAreNeverFollowed plants a symlink to a file or a directory
// outside the root at each place an operation passes through, with and
// without openat2, and checks that the operation fails with a
// *SymlinkError naming the symlink while what it points at keeps its
// bytes, its modification time and its entries.
func TestSymlinksAreNeverFollowed(t *testing.T) {
	ops := []struct {
		name string
		rel  string // the path operated on
		op   func(root, rel string) error
	}{
		{"OpenFile create", "", func(root, rel string) error {
			f, err := OpenFile(root, rel, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
			if err == nil {
				f.Close()
			}
			return err
		}},
		{"WriteFile", "", func(root, rel string) error { return WriteFile(root, rel, []byte("pwned"), 0o644) }},
		{"Lock", "", func(root, rel string) error {
			unlock, _, err := Lock(root, rel)
			if err == nil {
				unlock()
			}
			return err
		}},
		{"MkdirAll", "", func(root, rel string) error { return MkdirAll(root, rel, 0o755) }},
	}
	for _, openat2 := range []bool{true, false} {
		for _, op := range ops {
			for _, plant := range []struct {
				name string
				link string // relative to root: the symlink
				rel  string // the path operated on
				dir  bool   // the link points at a directory
			}{
				{"symlink at the file", "a/lock", "a/lock", false},
				{"symlinked parent", "a", "a/lock", true},
				{"symlinked grandparent", "a", "a/b/lock", true},
			} {
				if op.name == "MkdirAll" && !plant.dir {
					continue
				}
				name := op.name + "/" + plant.name
				if !openat2 {
					name += "/lstat"
				}
				t.Run(name, func(t *testing.T) {
					noOpenat2.Store(!openat2)
					t.Cleanup(func() { noOpenat2.Store(false) })
					base := t.TempDir()
					root := filepath.Join(base, "root")
					os.MkdirAll(filepath.Join(root, "a"), 0o755)
					outDir := filepath.Join(base, "outside")
					os.MkdirAll(filepath.Join(outDir, "b"), 0o755)
					outFile := filepath.Join(outDir, "b", "lock")
					os.WriteFile(outFile, []byte("precious"), 0o644)
					os.WriteFile(filepath.Join(outDir, "lock"), []byte("precious"), 0o644)
					old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
					os.Chtimes(outFile, old, old)
					os.Chtimes(filepath.Join(outDir, "lock"), old, old)
					link := filepath.Join(root, plant.link)
					os.RemoveAll(link)
					to := outFile
					if plant.dir {
						to = outDir
					}
					if err := os.Symlink(to, link); err != nil {
						t.Fatal(err)
					}
					err := op.op(root, plant.rel)
					var se *SymlinkError
					if !errors.As(err, &se) || se.Path != link {
						t.Fatalf("error %v, want a *SymlinkError naming %s", err, link)
					}
					for _, f := range []string{outFile, filepath.Join(outDir, "lock")} {
						b, _ := os.ReadFile(f)
						fi, _ := os.Stat(f)
						if !bytes.Equal(b, []byte("precious")) || !fi.ModTime().Equal(old) {
							t.Errorf("%s was changed through the symlink: %q, %v", f, b, fi.ModTime())
						}
					}
					if ents, _ := os.ReadDir(outDir); len(ents) != 2 {
						t.Errorf("the outside directory changed: %v", ents)
					}
				})
			}
		}
	}
}

func TestWriteAtomicAndLock(t *testing.T) {
	root := t.TempDir()
	if err := WriteFile(root, "x/y/state.json", []byte("one"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(root, "x/y/state.json", []byte("two"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "x/y/state.json")); string(b) != "two" {
		t.Errorf("content %q", b)
	}
	if ents, _ := os.ReadDir(filepath.Join(root, "x/y")); len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}
	unlock, _, err := Lock(root, "locks/r.lock")
	if err != nil {
		t.Fatal(err)
	}
	if _, pid, err := Lock(root, "locks/r.lock"); !errors.Is(err, ErrHeld) || pid == "" {
		t.Errorf("second lock: %v, pid %q", err, pid)
	}
	unlock()
	unlock, _, err = Lock(root, "locks/r.lock")
	if err != nil {
		t.Fatal(err)
	}
	unlock()
}

// TestLockAfterHolderRemovedIt: a holder that removes the lock file and
// its directory before it lets go (local.Local.Lock does, for a mirror it
// created and never wrote) races another Lock that opened the file just
// before: that Lock must not end up holding the removed file while a
// third takes a new one at the same path.
func TestLockAfterHolderRemovedIt(t *testing.T) {
	root := t.TempDir()
	const rel = "d/lock"
	unlockA, _, err := Lock(root, rel)
	if err != nil {
		t.Fatal(err)
	}
	hooked := 0
	lockHook = func() {
		hooked++
		if hooked > 1 {
			return
		}
		// B has the old file open: A removes it, its directory, and
		// lets go.
		if err := os.Remove(filepath.Join(root, rel)); err != nil {
			t.Error(err)
		}
		if err := os.Remove(filepath.Join(root, "d")); err != nil {
			t.Error(err)
		}
		unlockA()
	}
	t.Cleanup(func() { lockHook = nil })
	unlockB, _, err := Lock(root, rel)
	lockHook = nil
	if err != nil {
		t.Fatalf("Lock after the holder removed the file: %v", err)
	}
	defer unlockB()
	if hooked != 2 {
		t.Errorf("Lock opened the file %d times, want 2 (once more after finding the first removed)", hooked)
	}
	if _, err := os.Stat(filepath.Join(root, rel)); err != nil {
		t.Errorf("the lock file is not at its path again: %v", err)
	}
	if _, pid, err := Lock(root, rel); !errors.Is(err, ErrHeld) || pid != strconv.Itoa(os.Getpid()) {
		t.Errorf("a third Lock: %v (pid %q); want ErrHeld naming this process: B must hold the file at the path", err, pid)
	}
}

// TestStage: Stage replaces a file by a rename, as WriteFile does, so a
// hard link to the old file (a mirror's published repomd.xml, linked from
// the cache) keeps the old content; it refuses a planted symlink.
func TestStage(t *testing.T) {
	root := t.TempDir()
	if err := Stage(root, "repomd.xml", []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	published := filepath.Join(t.TempDir(), "published")
	if err := os.Link(filepath.Join(root, "repomd.xml"), published); err != nil {
		t.Fatal(err)
	}
	if err := Stage(root, "repomd.xml", []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{filepath.Join(root, "repomd.xml"): "new", published: "old"} {
		if b, err := os.ReadFile(p); err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", p, b, err, want)
		}
	}
	if err := os.Symlink(t.TempDir(), filepath.Join(root, "dir")); err != nil {
		t.Fatal(err)
	}
	var se *SymlinkError
	if err := Stage(root, "dir/x", []byte("x"), 0o644); !errors.As(err, &se) {
		t.Errorf("Stage through a symlink: err = %v, want a *SymlinkError", err)
	}
}

// TestFlush: a batch larger than FlushOneByOne is made durable with one
// syncfs of the filesystem, and so is a small one when the system holds
// at most QuietDirty unwritten; otherwise a small batch gets an fsync of
// each path (and waits only for its own data). A path that cannot be
// flushed is an error that names it either way.
func TestFlush(t *testing.T) {
	root, paths := smallFiles(t, FlushOneByOne+1)
	tests := []struct {
		name       string
		paths      []string
		wantFsyncs int64
		wantSyncfs int64
		wantErr    string // a path the error names; "" for none
		unwritten  int64  // what the system holds unwritten; -1: unknown
	}{
		{name: "nothing", paths: nil},
		{name: "a small batch, files and their directory", paths: append([]string{root}, paths[:20]...), wantFsyncs: 21, unwritten: 64 << 20},
		{name: "as many as FlushOneByOne", paths: paths[:FlushOneByOne], wantFsyncs: FlushOneByOne, unwritten: QuietDirty + 1},
		{name: "one more: the whole filesystem", paths: paths, wantSyncfs: 1, unwritten: 64 << 20},
		{name: "a missing file", paths: []string{paths[0], filepath.Join(root, "missing")}, wantFsyncs: 2, wantErr: filepath.Join(root, "missing"), unwritten: 64 << 20},
		{name: "a small batch on a quiet system: the whole filesystem", paths: append([]string{root}, paths[:20]...), wantSyncfs: 1, unwritten: QuietDirty},
		{name: "a small batch, nothing unwritten", paths: paths[:2], wantSyncfs: 1, unwritten: 0},
		{name: "a small batch, unwritten data unknown", paths: paths[:2], wantFsyncs: 2, unwritten: -1},
		{name: "a missing file on a quiet system: still named", paths: []string{paths[0], filepath.Join(root, "missing")}, wantFsyncs: 2, wantErr: filepath.Join(root, "missing"), unwritten: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fsyncs, syncfs := countFlushes(t, tc.unwritten)
			err := Flush(root, tc.paths)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("Flush: %v", err)
			case tc.wantErr != "" && (!errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("Flush: %v, want fs.ErrNotExist naming %s", err, tc.wantErr)
			}
			if f, s := fsyncs.Load(), syncfs.Load(); f != tc.wantFsyncs || s != tc.wantSyncfs {
				t.Errorf("Flush of %d paths: %d fsyncs and %d syncfs calls, want %d and %d", len(tc.paths), f, s, tc.wantFsyncs, tc.wantSyncfs)
			}
		})
	}
}

// smallFiles writes n one-byte files into a new directory and returns it
// and their paths.
func smallFiles(t *testing.T, n int) (root string, paths []string) {
	t.Helper()
	root = t.TempDir()
	for i := range n {
		p := filepath.Join(root, "f"+strconv.Itoa(i))
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return root, paths
}

// countFlushes counts Flush's fsyncs and syncfs calls for the rest of t,
// with unwritten as what the system holds unwritten (-1: unknown).
func countFlushes(t *testing.T, unwritten int64) (fsyncs, syncfs *atomic.Int64) {
	fsyncs, syncfs = new(atomic.Int64), new(atomic.Int64)
	oldOne, oldFS, oldDirty := flushOne, flushFS, dirty
	t.Cleanup(func() { flushOne, flushFS, dirty = oldOne, oldFS, oldDirty })
	flushOne = func(p string) error { fsyncs.Add(1); return oldOne(p) }
	flushFS = func(dir string) error { syncfs.Add(1); return oldFS(dir) }
	dirty = func() (int64, bool) { return unwritten, unwritten >= 0 }
	return fsyncs, syncfs
}

// unknownUnwritten makes Flush flush small batches with an fsync each
// for the rest of t, however quiet the system: as where /proc/meminfo
// cannot be read.
func unknownUnwritten(t *testing.T) {
	old := dirty
	dirty = func() (int64, bool) { return 0, false }
	t.Cleanup(func() { dirty = old })
}

// TestFlushWorkersEachHaveAP: while Flush's fsyncs run, the process has a
// P (GOMAXPROCS) more for each of its workers, so that they wait on the
// disk together instead of two at a time on two cores (a goroutine in a
// system call keeps its P until the runtime takes it back); overlapping
// flushes add up to flushers more, and the last to end puts GOMAXPROCS
// back.
func TestFlushWorkersEachHaveAP(t *testing.T) {
	root, paths := smallFiles(t, 20)
	unknownUnwritten(t)
	base := runtime.GOMAXPROCS(0)
	tests := []struct {
		name  string
		paths []string
		want  int // the least GOMAXPROCS an fsync sees
	}{
		{name: "one file", paths: paths[:1], want: base + 1},
		{name: "three files", paths: paths[:3], want: base + 3},
		{name: "more files than workers", paths: paths, want: base + flushers},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mu gosync.Mutex
			least := 0
			old := flushOne
			flushOne = func(p string) error {
				n := runtime.GOMAXPROCS(0)
				mu.Lock()
				if least == 0 || n < least {
					least = n
				}
				mu.Unlock()
				return old(p)
			}
			t.Cleanup(func() { flushOne = old })
			if err := Flush(root, tc.paths); err != nil {
				t.Fatal(err)
			}
			if least < tc.want {
				t.Errorf("an fsync ran with GOMAXPROCS %d, want at least %d", least, tc.want)
			}
			if n := runtime.GOMAXPROCS(0); n != base {
				t.Errorf("GOMAXPROCS %d after the flush, want %d back", n, base)
			}
		})
	}
	t.Run("overlapping flushes", func(t *testing.T) {
		inner := make(chan int, 1)
		old := flushOne
		flushOne = func(p string) error {
			if p == paths[0] {
				// A second flush starts while the first runs.
				if err := Flush(root, paths[10:12]); err != nil {
					t.Error(err)
				}
				inner <- runtime.GOMAXPROCS(0)
			}
			return old(p)
		}
		t.Cleanup(func() { flushOne = old })
		if err := Flush(root, paths[:3]); err != nil {
			t.Fatal(err)
		}
		if n := <-inner; n != base+3 {
			t.Errorf("GOMAXPROCS %d once the second flush ended and the first went on, want %d", n, base+3)
		}
		if n := runtime.GOMAXPROCS(0); n != base {
			t.Errorf("GOMAXPROCS %d after both, want %d back", n, base)
		}
	})
	t.Run("overlapping flushes past the cap", func(t *testing.T) {
		var mu gosync.Mutex
		most := 0
		old := flushOne
		flushOne = func(p string) error {
			if p == paths[0] {
				// A second flush starts while the first's 16
				// workers run.
				if err := Flush(root, paths[16:18]); err != nil {
					t.Error(err)
				}
			}
			mu.Lock()
			most = max(most, runtime.GOMAXPROCS(0))
			mu.Unlock()
			return old(p)
		}
		t.Cleanup(func() { flushOne = old })
		if err := Flush(root, paths[:16]); err != nil {
			t.Fatal(err)
		}
		if most != base+flushers {
			t.Errorf("GOMAXPROCS at most %d while flushes of 16 and 2 workers overlapped, want %d (flushers more)", most, base+flushers)
		}
		if n := runtime.GOMAXPROCS(0); n != base {
			t.Errorf("GOMAXPROCS %d after both, want %d back", n, base)
		}
	})
}

// TestReadsNeverBlock: OpenFile for reading never waits on a FIFO planted
// where rpmirror keeps a file (state_dir/repos/REPO.json as a FIFO hung
// every command, status included, deaf to SIGTERM): it fails with
// ErrNotRegular at once, with and without openat2. Regular files and
// directories open as before.
func TestReadsNeverBlock(t *testing.T) {
	for _, openat2 := range []bool{true, false} {
		for _, tc := range []struct {
			name    string
			make    func(p string) error
			wantErr error
		}{
			{"fifo", func(p string) error { return unix.Mkfifo(p, 0o644) }, ErrNotRegular},
			{"regular file", func(p string) error { return os.WriteFile(p, []byte("state"), 0o644) }, nil},
			{"directory", func(p string) error { return os.Mkdir(p, 0o755) }, nil},
		} {
			name := tc.name
			if !openat2 {
				name += "/lstat"
			}
			t.Run(name, func(t *testing.T) {
				noOpenat2.Store(!openat2)
				t.Cleanup(func() { noOpenat2.Store(false) })
				root := t.TempDir()
				p := filepath.Join(root, "repos", "r.json")
				os.MkdirAll(filepath.Dir(p), 0o755)
				if err := tc.make(p); err != nil {
					t.Fatal(err)
				}
				type result struct {
					f   *os.File
					err error
				}
				done := make(chan result, 1)
				go func() {
					f, err := OpenFile(root, "repos/r.json", os.O_RDONLY, 0)
					done <- result{f, err}
				}()
				var r result
				select {
				case r = <-done:
				case <-time.After(time.Minute):
					if w, err := os.OpenFile(p, os.O_WRONLY|unix.O_NONBLOCK, 0); err == nil {
						w.Close() // let the blocked open go
					}
					t.Fatal("OpenFile blocked")
				}
				if tc.wantErr != nil {
					if !errors.Is(r.err, tc.wantErr) {
						t.Fatalf("OpenFile: %v, want %v", r.err, tc.wantErr)
					}
					return
				}
				if r.err != nil {
					t.Fatal(r.err)
				}
				defer r.f.Close()
				if fi, _ := r.f.Stat(); fi.Mode().IsRegular() {
					if b, err := io.ReadAll(r.f); err != nil || string(b) != "state" {
						t.Errorf("read %q, %v", b, err)
					}
				}
			})
		}
	}
}

// TestParseUnwritten: Flush's measure of the data the system holds
// unwritten is /proc/meminfo's Dirty and Writeback together, and unknown
// (so never quiet) when either is missing or not a number.
func TestParseUnwritten(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		want   int64
		wantOK bool
	}{
		{name: "both", in: "MemTotal:       24000000 kB\nDirty:               340 kB\nWriteback:             4 kB\nAnonPages: 1 kB\n", want: 344 << 10, wantOK: true},
		{name: "Writeback first", in: "Writeback: 1 kB\nDirty: 2 kB\n", want: 3 << 10, wantOK: true},
		{name: "no Writeback", in: "Dirty: 2 kB\n"},
		{name: "not a number", in: "Dirty: x kB\nWriteback: 1 kB\n"},
		{name: "WritebackTmp is not Writeback", in: "Dirty: 2 kB\nWritebackTmp: 5 kB\n"},
		{name: "empty", in: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, ok := parseUnwritten([]byte(tc.in))
			if n != tc.want || ok != tc.wantOK {
				t.Errorf("parseUnwritten = %d, %v; want %d, %v", n, ok, tc.want, tc.wantOK)
			}
		})
	}
	if _, ok := unwritten(); !ok {
		t.Errorf("unwritten: /proc/meminfo gave no Dirty and Writeback lines")
	}
}

// TestFlushAlongsideAnother: on a quiet system a small batch gets one
// syncfs only when no other Flush of the process is under way; one
// started during another's keeps to an fsync a path (every syncfs of a
// disk runs through its one writeback thread, so flushes side by side
// would each wait for the others'), and once both are over the next
// small batch gets its syncfs again.
func TestFlushAlongsideAnother(t *testing.T) {
	root, paths := smallFiles(t, 4)
	fsyncs, syncfs := countFlushes(t, 0)
	var innerFsyncs, innerSyncfs int64 = -1, -1
	counted := flushFS
	first := true
	flushFS = func(dir string) error {
		if first {
			// Another flush starts while this one runs.
			first = false
			f0, s0 := fsyncs.Load(), syncfs.Load()
			if err := Flush(root, paths[2:]); err != nil {
				t.Error(err)
			}
			innerFsyncs, innerSyncfs = fsyncs.Load()-f0, syncfs.Load()-s0
		}
		return counted(dir)
	}
	if err := Flush(root, paths[:2]); err != nil {
		t.Fatal(err)
	}
	if innerFsyncs != 2 || innerSyncfs != 0 {
		t.Errorf("a flush of 2 paths during another: %d fsyncs and %d syncfs calls, want 2 and 0", innerFsyncs, innerSyncfs)
	}
	if got := syncfs.Load(); got != 1 {
		t.Errorf("the first flush: %d syncfs calls, want 1", got)
	}
	if err := Flush(root, paths[:2]); err != nil {
		t.Fatal(err)
	}
	if got := syncfs.Load(); got != 2 {
		t.Errorf("a flush alone again: %d syncfs calls in all, want 2", got)
	}
}

// TestKeepSmallFlushes: once a process has called KeepSmallFlushes (as
// rpmirror serve does), a small batch gets an fsync a path however quiet
// the system; a large one still gets one syncfs.
func TestKeepSmallFlushes(t *testing.T) {
	root, paths := smallFiles(t, FlushOneByOne+1)
	fsyncs, syncfs := countFlushes(t, 0)
	t.Cleanup(func() { keepSmall.Store(false) })
	KeepSmallFlushes()
	if err := Flush(root, paths[:3]); err != nil {
		t.Fatal(err)
	}
	if f, s := fsyncs.Load(), syncfs.Load(); f != 3 || s != 0 {
		t.Errorf("a small batch after KeepSmallFlushes: %d fsyncs and %d syncfs calls, want 3 and 0", f, s)
	}
	if err := Flush(root, paths); err != nil {
		t.Fatal(err)
	}
	if f, s := fsyncs.Load(), syncfs.Load(); f != 3 || s != 1 {
		t.Errorf("then a batch of %d: %d fsyncs and %d syncfs calls in all, want 3 and 1", len(paths), f, s)
	}
}

// TestLockNamesItsHolderOnly: a Lock refused names the pid its holder
// wrote; once that holder lets go, a program that locks the file without
// writing its pid (flock(1)) is not named by the previous holder's pid
// (a tester's sync named the daemon that had let go long before).
func TestLockNamesItsHolderOnly(t *testing.T) {
	root := t.TempDir()
	const rel = "locks/r.lock"
	unlock, _, err := Lock(root, rel)
	if err != nil {
		t.Fatal(err)
	}
	if _, holder, err := Lock(root, rel); !errors.Is(err, ErrHeld) || holder != strconv.Itoa(os.Getpid()) {
		t.Errorf("Lock of a held lock: holder %q, %v; want ErrHeld naming pid %d", holder, err, os.Getpid())
	}
	unlock()
	f, err := os.OpenFile(filepath.Join(root, rel), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	if _, holder, err := Lock(root, rel); !errors.Is(err, ErrHeld) || holder != "" {
		t.Errorf("Lock held by a program writing no pid: holder %q, %v; want ErrHeld naming none", holder, err)
	}
}

// TestHoldShared: a file no one holds is not Held (nor is one that is
// absent); one HoldShared holds is, by any number of holders at once,
// until the last lets go; Held takes no lock (two askers do not see each
// other), and never creates the file.
func TestHoldShared(t *testing.T) {
	root := t.TempDir()
	held := func() bool {
		t.Helper()
		h, err := Held(root, "locks/serve.lock")
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	if held() {
		t.Fatal("an absent file is held")
	}
	if _, err := os.Stat(filepath.Join(root, "locks")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Held created the lock's directory: %v", err)
	}
	r1, err := HoldShared(root, "locks/serve.lock")
	if err != nil {
		t.Fatal(err)
	}
	if !held() {
		t.Fatal("not held while HoldShared holds it")
	}
	r2, err := HoldShared(root, "locks/serve.lock")
	if err != nil {
		t.Fatalf("a second holder at once: %v", err)
	}
	r1()
	if !held() {
		t.Fatal("not held while a second holder still holds it")
	}
	r2()
	if held() {
		t.Fatal("held after every holder let go")
	}
}
