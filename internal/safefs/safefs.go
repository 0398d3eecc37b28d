package safefs

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// SymlinkError reports a symlink (or another non-directory) found where
// rpmirror needs a real file or directory of its own.
type SymlinkError struct {
	Path string // the symlink, as a filesystem path
}

func (e *SymlinkError) Error() string {
	return fmt.Sprintf("%s is a symlink: rpmirror never writes, truncates or deletes through a symlink inside a mirror or state_dir; remove it (nothing was done to what it points at)", e.Path)
}

// NotDirError reports a path element that must be a directory and is not.
type NotDirError struct {
	Path string
}

func (e *NotDirError) Error() string {
	return fmt.Sprintf("%s is not a directory", e.Path)
}

// IsDirError is a directory where a file is to be written: rpmirror
// never deletes a directory it did not make to put a file in its place.
type IsDirError struct {
	Path string
}

func (e *IsDirError) Error() string {
	return fmt.Sprintf("%s is a directory where a file goes: rpmirror never deletes a directory it did not make; remove it", e.Path)
}

// ErrHeld is returned by Lock when another process holds the lock.
var ErrHeld = errors.New("lock is held by another process")

// split returns the elements of rel, a slash- or separator-separated
// path relative to a root. "" and "." have none.
func split(rel string) []string {
	rel = filepath.ToSlash(filepath.Clean(filepath.FromSlash(rel)))
	if rel == "." || rel == "" {
		return nil
	}
	return strings.Split(rel, "/")
}

// Check lstats every element of root/rel that exists, the last one
// included, and returns a *SymlinkError for the first that is a symlink
// and a *NotDirError for a parent that is not a directory. Elements that
// do not exist are not an error: whatever creates them checks again.
func Check(root, rel string) error {
	els := split(rel)
	cur := root
	for i, el := range els {
		if el == ".." {
			return fmt.Errorf("%s: path leaves %s", rel, root)
		}
		cur = filepath.Join(cur, el)
		fi, err := os.Lstat(cur)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return &SymlinkError{Path: cur}
		}
		if i < len(els)-1 && !fi.IsDir() {
			return &NotDirError{Path: cur}
		}
	}
	return nil
}

// MkdirAll creates root/rel and the directories on the way to it, none
// of which may be a symlink. root must exist.
func MkdirAll(root, rel string, perm os.FileMode) error {
	cur := root
	for _, el := range split(rel) {
		if el == ".." {
			return fmt.Errorf("%s: path leaves %s", rel, root)
		}
		cur = filepath.Join(cur, el)
		err := os.Mkdir(cur, perm)
		if err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		fi, err := os.Lstat(cur)
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return &SymlinkError{Path: cur}
		}
		if !fi.IsDir() {
			return &NotDirError{Path: cur}
		}
	}
	return nil
}

// noOpenat2 is set once openat2 turned out to be missing (ENOSYS) or
// filtered (EPERM in some container runtimes).
var noOpenat2 atomic.Bool

// OpenFile opens root/rel like os.OpenFile, never following a symlink
// below root: a symlink anywhere on the way, or at rel itself, makes it
// fail with a *SymlinkError.
func OpenFile(root, rel string, flag int, perm os.FileMode) (*os.File, error) {
	full := filepath.Join(root, filepath.FromSlash(rel))
	if flag&(os.O_WRONLY|os.O_RDWR|os.O_CREATE) == 0 {
		// A read: never wait on a FIFO planted where a file should be
		// (open(2) would wait for a writer for ever, deaf to signals).
		flag |= unix.O_NONBLOCK
	}
	f, err := openFile(root, rel, full, flag, perm)
	if err != nil || flag&unix.O_NONBLOCK == 0 {
		return f, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() && !fi.IsDir() {
		err = &os.PathError{Op: "open", Path: full, Err: ErrNotRegular}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	// Reads of a regular file or a directory do not care, but the file
	// is handed on as it would be opened without the flag.
	if rc, err := f.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { unix.SetNonblock(int(fd), false) })
	}
	return f, nil
}

// ErrNotRegular is OpenFile's error (in an *os.PathError) for a read of
// something that is neither a regular file nor a directory: a FIFO, a
// socket or a device where rpmirror keeps a file.
var ErrNotRegular = errors.New("not a regular file (something other than rpmirror put it there: remove it)")

func openFile(root, rel, full string, flag int, perm os.FileMode) (*os.File, error) {
	if !noOpenat2.Load() {
		f, err := openat2(root, rel, flag, perm)
		switch {
		case err == nil:
			return f, nil
		case errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM):
			noOpenat2.Store(true)
		case errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EXDEV):
			if cerr := Check(root, rel); cerr != nil {
				return nil, cerr
			}
			return nil, &os.PathError{Op: "open", Path: full, Err: err}
		default:
			return nil, &os.PathError{Op: "open", Path: full, Err: err}
		}
	}
	if err := Check(root, rel); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(full, flag|unix.O_NOFOLLOW, perm)
	if errors.Is(err, unix.ELOOP) {
		return nil, &SymlinkError{Path: full}
	}
	return f, err
}

func openat2(root, rel string, flag int, perm os.FileMode) (*os.File, error) {
	dfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(dfd)
	how := unix.OpenHow{
		Flags:   uint64(flag) | unix.O_CLOEXEC | unix.O_NOFOLLOW,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	}
	if flag&unix.O_CREAT != 0 {
		how.Mode = uint64(perm.Perm())
	}
	for {
		fd, err := unix.Openat2(dfd, filepath.FromSlash(rel), &how)
		if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return os.NewFile(uintptr(fd), filepath.Join(root, filepath.FromSlash(rel))), nil
	}
}

// WriteAtomic makes root/rel hold what write writes, atomically: write
// fills a new temporary file beside it (created exclusively, under a
// random name), which is synced and renamed over rel; the directory is
// synced too. Readers see the old content or the new, never a mix; a
// symlink at rel is refused, not followed.
func WriteAtomic(root, rel string, perm os.FileMode, write func(io.Writer) error) error {
	return writeAtomic(root, rel, perm, write, true)
}

// Stage is WriteFile without its flushes: data replaces root/rel by a
// rename, so a reader (or a hard link to the old file) sees the old
// content or the new, never a mix, but the new file is durable only
// once the caller has flushed the filesystem (SyncFS), as it does for
// many files at once.
func Stage(root, rel string, data []byte, perm os.FileMode) error {
	return writeAtomic(root, rel, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}, false)
}

func writeAtomic(root, rel string, perm os.FileMode, write func(io.Writer) error, durable bool) error {
	dir, base := filepath.Split(filepath.FromSlash(rel))
	if err := MkdirAll(root, dir, 0o755); err != nil {
		return err
	}
	if err := Check(root, rel); err != nil {
		return err
	}
	var rnd [8]byte
	rand.Read(rnd[:])
	tmpRel := filepath.Join(dir, "."+base+".tmp-"+strconv.Itoa(os.Getpid())+"-"+hex.EncodeToString(rnd[:]))
	f, err := OpenFile(root, tmpRel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	tmp := f.Name()
	err = write(f)
	if err == nil && durable {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(root, filepath.FromSlash(rel)))
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if !durable {
		return nil
	}
	return SyncDir(filepath.Join(root, dir))
}

// WriteFile is WriteAtomic with data.
func WriteFile(root, rel string, data []byte, perm os.FileMode) error {
	return WriteAtomic(root, rel, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// SyncDir fsyncs a directory, so that renames into it are durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}

// SyncFS makes every file and directory entry on the filesystem that
// holds dir durable with one syncfs(2): the flush that replaces an fsync
// per file when many files are written together.
func SyncFS(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		return fmt.Errorf("syncfs of %s: %w", dir, err)
	}
	return nil
}

// FlushOneByOne is the most paths Flush makes durable with an fsync
// each; a larger batch gets one syncfs(2). Measured on ext4 (the
// benchmark machine, docs/benchmarks.md): syncfs also writes whatever
// else on the filesystem is dirty (another sync's downloads, a copy, a
// web server's logs), so for a handful of files it waited 58-64 ms behind
// 40 MB of someone else's data where 15 fsyncs at once took 8-13 ms; with
// nothing else dirty, syncfs took 5-8 ms and the fsyncs 8-18 ms. For
// 1,000 files, fsyncs at once (16 to 64) took 83-220 ms against syncfs's
// 28-122 ms: each fsync forces a journal commit, and a large batch is
// cheaper flushed whole.
const FlushOneByOne = 64

// flushers bounds the fsyncs Flush runs at once; each holds a thread
// while the disk works, and the filesystem's journal commits them
// together.
const flushers = 16

// QuietDirty is the most data the system may hold unwritten (dirty or
// under writeback, /proc/meminfo) for Flush to flush even a small batch
// with one syncfs(2): then syncfs cannot wait long behind someone else's
// data, and it is the cheaper flush. Measured on the benchmark machine
// (ext4, docs/benchmarks.md): 15 files of 40 KB and their directory took
// 3.0-3.7 ms with an fsync each, side by side (the disk serves one flush
// at a time, and each fsync is one or more), and 1.1 ms with one syncfs;
// writing 2 MiB more of another's data costs syncfs about 6 ms there at
// the most (the disk writes 340 MB/s), a fast disk's much less.
const QuietDirty = 2 << 20

// Flush makes durable each of paths, files (their data and inode) and
// directories (their entries), all on the filesystem that holds root:
// with one syncfs(2) of the filesystem (SyncFS), which flushes the paths
// along with everything else there, when there are more than
// FlushOneByOne of them, or when no other Flush of this process is under
// way and the system holds at most QuietDirty of unwritten data;
// otherwise with an fsync each, several at once, so that a small batch
// waits only for its own data, not behind another's. A missing path is
// an error that names it either way.
//
// Flushes side by side keep to fsyncs, and so does a process that has
// called KeepSmallFlushes (rpmirror serve, whose syncs, probes and list
// writers write all the time): the kernel runs every syncfs of a disk
// through its one writeback thread and waits for every file under
// writeback there, so each waited for the others' (measured on the
// benchmark machine, scripts/bench-serve1000.sh, 1,000 small syncs 4 at
// a time: from the first start to the last end 25.7 s with a syncfs for
// every small batch, 21.0-27.7 s with one for a batch alone, 17.7-18.5 s
// with fsyncs; the oldest probe 1.79, 1.19-1.22 and 1.05 probe
// intervals).
func Flush(root string, paths []string) error {
	if len(paths) == 0 {
		return nil
	}
	alone := flushing.Add(1) == 1
	defer flushing.Add(-1)
	if len(paths) > FlushOneByOne || (alone && !keepSmall.Load() && quiet(paths)) {
		return flushFS(root)
	}
	errs := make([]error, len(paths))
	workers := min(flushers, len(paths))
	defer blocking.widen(workers)()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(len(paths)); i = next.Add(1) - 1 {
				errs[i] = flushOne(paths[i])
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// blocking lets Flush's fsyncs run at once. A goroutine in a system call
// keeps its P (runtime.GOMAXPROCS: one per core by default) until the
// runtime's monitor takes it back, after 20 µs to 10 ms (the longer the
// process was idle); an fsync waits a millisecond or more for the disk.
// With two cores, 16 fsyncs started together ran about two at a time:
// 17 paths (16 small files and their directory) took 10.5 ms where the
// same fsyncs took 3.5 ms with a P for each (medians of 7 on the
// benchmark machine), and an incremental sync's flushes are most of its
// wait after the downloads. While flushes run, the process has a P more
// for each of their workers, up to flushers more for flushes at once
// (syncs in rpmirror serve: the garbage collector's workers are a
// quarter of the Ps); the Ps return when the last flush ends. The
// workers only wait on the disk, so the extra Ps cost no CPU.
var blocking procs

// procs widens GOMAXPROCS for workers that block in system calls.
type procs struct {
	mu      sync.Mutex
	running int // workers of the flushes under way
	base    int // GOMAXPROCS before the first of them
}

// widen gives n more workers a P each until restore is called.
func (b *procs) widen(n int) (restore func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.running == 0 {
		b.base = runtime.GOMAXPROCS(0)
	}
	b.running += n
	runtime.GOMAXPROCS(b.base + min(b.running, flushers))
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.running -= n
		if b.running > 0 {
			runtime.GOMAXPROCS(b.base + min(b.running, flushers))
			return
		}
		if os.Getenv("GOMAXPROCS") == "" {
			// Back to the runtime's default (rpmirror sets GOMAXPROCS
			// nowhere else), which follows the process's CPU limit as
			// it changes.
			runtime.SetDefaultGOMAXPROCS()
			return
		}
		runtime.GOMAXPROCS(b.base)
	}
}

// Flush's two ways, variables so that tests can count them, and what
// chooses between them for a small batch.
var (
	flushFS  = SyncFS
	flushOne = fsyncPath
	dirty    = unwritten
)

// flushing counts the Flush calls under way in this process.
var flushing atomic.Int64

// keepSmall is set by KeepSmallFlushes.
var keepSmall atomic.Bool

// KeepSmallFlushes makes Flush flush every batch of up to FlushOneByOne
// paths with an fsync each from now on, however quiet the system: for a
// process that writes in several places at once all the time (rpmirror
// serve), where a syncfs waits for the others' writes (see Flush).
func KeepSmallFlushes() { keepSmall.Store(true) }

// quiet reports whether a small batch may be flushed with one syncfs:
// every path exists (else the fsyncs name the missing one) and the system
// holds at most QuietDirty of unwritten data.
func quiet(paths []string) bool {
	n, ok := dirty()
	if !ok || n > QuietDirty {
		return false
	}
	for _, p := range paths {
		if _, err := os.Lstat(p); err != nil {
			return false
		}
	}
	return true
}

// unwritten reads the bytes of file data the system holds dirty or under
// writeback (/proc/meminfo's Dirty and Writeback, every filesystem's);
// ok is false where that cannot be read.
func unwritten() (n int64, ok bool) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	return parseUnwritten(b)
}

// parseUnwritten sums the Dirty and Writeback lines of a /proc/meminfo.
func parseUnwritten(b []byte) (n int64, ok bool) {
	found := 0
	for line := range strings.Lines(string(b)) {
		name, rest, _ := strings.Cut(line, ":")
		if name != "Dirty" && name != "Writeback" {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0, false
		}
		n += kb << 10
		if found++; found == 2 {
			return n, true
		}
	}
	return 0, false
}

// fsyncPath fsyncs the file or directory at p.
func fsyncPath(p string) error {
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return fmt.Errorf("making %s durable: %w", p, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("making %s durable: %w", p, err)
	}
	return nil
}

// StartWriteback asks the kernel to start writing path's data to disk now
// (sync_file_range(2) SYNC_FILE_RANGE_WRITE) and returns without waiting,
// so that a later Flush (or SyncFS) finds most of it written: files downloaded
// meanwhile reach the disk while others still arrive. It is advice, not
// a flush, and never fails: durability comes from Flush or SyncFS alone.
func StartWriteback(path string) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	unix.SyncFileRange(fd, 0, 0, unix.SYNC_FILE_RANGE_WRITE)
	unix.Close(fd)
}

// Lock takes an exclusive flock(2) on root/rel, creating the file (and
// its directories) if needed, and writes this process's pid into it.
// When another process holds it, Lock returns ErrHeld at once, with the
// pid that process wrote ("" when the holder wrote none: another program,
// such as flock(1)). unlock empties the file and releases the lock.
//
// A holder may remove the file, and the directories it made for it,
// before it releases the lock (see local.Local.Lock): Lock then finds
// that the file it locked is no longer the one at root/rel, and starts
// again, so that two processes never both hold a lock on files of one
// path. (A directory removed so is an error wrapping fs.ErrNotExist: the
// caller that created root starts again.)
func Lock(root, rel string) (unlock func(), holder string, err error) {
	for attempt := 1; ; attempt++ {
		unlock, holder, err := lockOnce(root, rel)
		if !errors.Is(err, errLockMoved) || attempt == lockAttempts {
			return unlock, holder, err
		}
	}
}

// lockAttempts bounds how often Lock starts again after a holder removed
// the file under it.
const lockAttempts = 10

// errLockMoved reports that the file locked is no longer at its path.
var errLockMoved = errors.New("the lock file was removed by the process that held it")

// lockHook, when set (by tests), runs between opening the lock file and
// locking it: where a holder that removes the file races Lock.
var lockHook func()

func lockOnce(root, rel string) (unlock func(), holder string, err error) {
	if err := MkdirAll(root, filepath.Dir(filepath.FromSlash(rel)), 0o755); err != nil {
		return nil, "", err
	}
	f, err := OpenFile(root, rel, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, "", err
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, "", fmt.Errorf("%s is not a regular file", f.Name())
	}
	if lockHook != nil {
		lockHook()
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		b := make([]byte, 32)
		n, _ := f.ReadAt(b, 0)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, strings.TrimSpace(string(b[:n])), ErrHeld
		}
		return nil, "", fmt.Errorf("locking %s: %w", f.Name(), err)
	}
	// The holder before may have removed the file after it was opened
	// here: a lock on a file no longer at the path excludes nobody.
	if now, err := os.Lstat(f.Name()); err != nil || !os.SameFile(fi, now) {
		f.Close()
		return nil, "", fmt.Errorf("locking %s: %w", f.Name(), errLockMoved)
	}
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() {
		// The pid goes with the lock: another program holding the file
		// next (flock(1)) was named by this process's pid.
		f.Truncate(0)
		f.Close()
	}, "", nil
}

// HoldShared takes a shared lock on root/rel (an open file description
// lock, fcntl(2) F_OFD_SETLK with F_RDLCK), creating the file and its
// directories if needed, and keeps it until release: a process says so
// that it is running, for as long as it runs. Any number of processes
// may hold it at once, and Held tells another whether one does; it fails
// at once when another program holds a write lock on the file. (Open
// file description locks are POSIX record locks to NFS: they work on a
// state_dir shared over NFS as flock(2) locks do.)
func HoldShared(root, rel string) (release func(), err error) {
	if err := MkdirAll(root, filepath.Dir(filepath.FromSlash(rel)), 0o755); err != nil {
		return nil, err
	}
	// Read-only: a file another user created (a daemon once run as root)
	// takes a read lock as well, where the mode lets it be read.
	f, err := OpenFile(root, rel, os.O_RDONLY|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	lk := unix.Flock_t{Type: unix.F_RDLCK, Whence: 0}
	if err := unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", f.Name(), err)
	}
	return func() { f.Close() }, nil
}

// Held reports whether a process holds the lock HoldShared takes on
// root/rel (any lock on the file, but this one is the only kind taken
// on it). It asks without taking a lock (F_OFD_GETLK), so that processes
// asking at once never take each other for a holder. A file that is
// absent is not held.
func Held(root, rel string) (bool, error) {
	f, err := OpenFile(root, rel, os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0}
	if err := unix.FcntlFlock(f.Fd(), unix.F_OFD_GETLK, &lk); err != nil {
		return false, fmt.Errorf("asking for the lock on %s: %w", f.Name(), err)
	}
	return lk.Type != unix.F_UNLCK, nil
}

// CreateTemp writes data to a new file in root/dir (created if needed)
// under a name made from pattern as os.CreateTemp makes it, unique among
// every writer, syncs it and returns its path. The caller removes it.
func CreateTemp(root, dir, pattern string, data []byte) (string, error) {
	if err := MkdirAll(root, dir, 0o755); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(filepath.Join(root, filepath.FromSlash(dir)), pattern)
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}
