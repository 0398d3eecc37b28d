// Package local is a target.Target on a local filesystem directory: the
// mirror's root, which a web server serves as it is.
//
// Put writes a temporary file and renames it into place. Commit builds a
// complete copy of the affected directory next to it, as hard links to the
// unchanged files plus the new ones, and swaps the two directories with one
// renameat2(RENAME_EXCHANGE) call: a reader that resolves a path sees the
// old directory or the new one, never a mix. When every committed file is
// below repodata/ only that directory is swapped; otherwise (a package
// replaced under the same name) the whole root is, which needs the root's
// parent directory to be on the same filesystem and writable.
//
// rpmirror's own files live in .rpmirror/ inside the root (the lock and
// temporary files); web servers should not serve it (see
// docs/operations.md).
package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/rpmirror/rpmirror/internal/safefs"
	"github.com/rpmirror/rpmirror/target"
)

const (
	workDir   = ".rpmirror"
	lockName  = "lock"
	tmpDir    = "tmp"
	nextMeta  = "next-repodata"
	metaDir   = "repodata"
	filePerm  = 0o644
	dirPerm   = 0o755
	maxCopyBf = 1 << 20
)

// Local is a mirror directory on this machine.
type Local struct {
	root string // absolute, symlinks resolved
}

// tempSeq numbers temporary files for the whole process: several Local
// values on one directory (the sync engine's and the daemon's) never
// pick the same name.
var tempSeq atomic.Uint64

var _ target.Target = (*Local)(nil)

// New returns the target rooted at dir. It creates nothing: a dir that
// does not exist yet is an empty mirror, created by the first write (Put,
// Commit, Lock, Snapshot), so that opening a mirror to read it, as a dry
// run does, leaves no trace. A dir that is a symlink, or below one, is
// resolved once, here: the mirror lives in the directory it points to.
func New(dir string) (*Local, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("mirror path %s: %w", dir, err)
	}
	// Resolve the longest part of abs that exists; the rest is created
	// later as plain directories.
	existing, rest := abs, ""
	for {
		if _, err := os.Lstat(existing); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("mirror path %s: %w", abs, err)
		}
		parent := filepath.Dir(existing)
		if parent == existing {
			break
		}
		rest = filepath.Join(filepath.Base(existing), rest)
		existing = parent
	}
	real, err := filepath.EvalSymlinks(existing)
	if err != nil {
		return nil, fmt.Errorf("resolving mirror path %s: %w", abs, err)
	}
	real = filepath.Join(real, rest)
	fi, err := os.Stat(real)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("mirror path %s: %w", real, err)
	case !fi.IsDir():
		return nil, fmt.Errorf("mirror path %s is not a directory", real)
	}
	return &Local{root: real}, nil
}

// ensureRoot creates the mirror's directory before a write, and refuses a
// root that something replaced by a symlink or a file since New.
func (l *Local) ensureRoot() error {
	if err := os.MkdirAll(l.root, dirPerm); err != nil {
		return fmt.Errorf("creating mirror directory: %w", err)
	}
	fi, err := os.Lstat(l.root)
	if err != nil {
		return fmt.Errorf("mirror path %s: %w", l.root, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("mirror path %s is no longer a directory", l.root)
	}
	return nil
}

// Properties implements target.Target: Commit exchanges directories, so
// it is atomic.
func (l *Local) Properties() target.Properties {
	return target.Properties{AtomicCommit: true, Local: true, SnapshotsShareFiles: true}
}

// Root returns the directory the mirror lives in.
func (l *Local) Root() string { return l.root }

func (l *Local) String() string { return l.root }

// full returns the filesystem path of p after checking p and every
// directory on the way to it: none may be a symlink, so nothing resolves
// outside the root. A symlink on the way is a *safefs.SymlinkError.
func (l *Local) full(p string) (string, error) {
	if err := target.CheckPath(p); err != nil {
		return "", err
	}
	if dir := path.Dir(p); dir != "." {
		if err := safefs.Check(l.root, dir); err != nil {
			return "", fmt.Errorf("%s: %w", p, err)
		}
	}
	return filepath.Join(l.root, filepath.FromSlash(p)), nil
}

// fullW is full for a path about to be written, replaced or deleted: the
// file itself must not be a symlink either.
func (l *Local) fullW(p string) (string, error) {
	full, err := l.full(p)
	if err != nil {
		return "", err
	}
	if fi, err := os.Lstat(full); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return "", fmt.Errorf("%s: %w", p, &safefs.SymlinkError{Path: full})
	}
	return full, nil
}

// Stat implements target.Target.
func (l *Local) Stat(ctx context.Context, p string) (target.Info, error) {
	full, err := l.full(p)
	if err != nil {
		return target.Info{}, err
	}
	fi, err := os.Lstat(full)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && !fi.Mode().IsRegular()) {
		return target.Info{}, fmt.Errorf("%s: %w", p, target.ErrNotExist)
	}
	if err != nil {
		return target.Info{}, err
	}
	return target.Info{Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

var _ target.Readable = (*Local)(nil)

// CheckReadable implements target.Readable: a file whose mode lets
// neither its group nor others read it (0600: staged with os.CreateTemp
// and linked in by versions before servable) is a *target.NotReadableError.
func (l *Local) CheckReadable(ctx context.Context, p string) error {
	full, err := l.full(p)
	if err != nil {
		return err
	}
	fi, err := os.Lstat(full)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && !fi.Mode().IsRegular()) {
		return fmt.Errorf("%s: %w", p, target.ErrNotExist)
	}
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o044 == 0 {
		return &target.NotReadableError{Mode: fi.Mode().Perm()}
	}
	return nil
}

// MakeReadable implements target.Readable: the file is opened without
// following a symlink, and its mode set to filePerm through the open
// file.
func (l *Local) MakeReadable(ctx context.Context, p string) error {
	full, err := l.fullW(p)
	if err != nil {
		return err
	}
	f, err := openRegular(full)
	if errors.Is(err, unix.ELOOP) {
		return fmt.Errorf("%s: %w", p, &safefs.SymlinkError{Path: full})
	}
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errNotRegular) {
		return fmt.Errorf("%s: %w", p, target.ErrNotExist)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Chmod(filePerm); err != nil {
		return fmt.Errorf("making %s readable: %w", p, err)
	}
	return nil
}

// Open implements target.Target.
func (l *Local) Open(ctx context.Context, p string) (io.ReadCloser, error) {
	full, err := l.full(p)
	if err != nil {
		return nil, err
	}
	f, err := openRegular(full)
	if errors.Is(err, unix.ELOOP) {
		return nil, fmt.Errorf("%s: %w", p, notFollowed{&safefs.SymlinkError{Path: full}})
	}
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errNotRegular) {
		return nil, fmt.Errorf("%s: %w", p, target.ErrNotExist)
	}
	if err != nil {
		return nil, err
	}
	return f, nil
}

// notFollowed is Open's error for a symlink at the path itself: the file
// does not exist for rpmirror, which never reads through a symlink
// (errors.Is target.ErrNotExist), and errors.As finds the
// *safefs.SymlinkError naming it, so that a check can say why.
type notFollowed struct{ *safefs.SymlinkError }

func (e notFollowed) Unwrap() []error { return []error{e.SymlinkError, target.ErrNotExist} }

// errNotRegular is openRegular's error for a path that is not a regular
// file.
var errNotRegular = errors.New("not a regular file")

// openRegular opens the regular file at full for reading, never through
// a symlink at full, and never blocking: a FIFO planted in the mirror
// (by anyone who can write there) would make a plain open(2) wait for a
// writer for ever, deaf to cancellation and to SIGTERM, and a device
// could do the same. The file is opened with O_NONBLOCK, checked to be a
// regular file, and only then set back to blocking reads.
func openRegular(full string) (*os.File, error) {
	var fd int
	var err error
	for {
		fd, err = unix.Open(full, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: full, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "stat", Path: full, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, &os.PathError{Op: "open", Path: full, Err: errNotRegular}
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "open", Path: full, Err: err}
	}
	return os.NewFile(uintptr(fd), full), nil
}

var _ target.Exporter = (*Local)(nil)

// Export implements target.Exporter. The file is opened as Open opens it
// (never through a symlink, never blocking on a FIFO), and the inode
// opened is linked at dst through /proc/self/fd, so that a file swapped
// for another after the open is not the one linked; where that fails (dst
// on another filesystem, no /proc, fs.protected_hardlinks), or the file
// is another user's or others may write it, it is copied.
func (l *Local) Export(ctx context.Context, p, dst string) error {
	full, err := l.full(p)
	if err != nil {
		return err
	}
	f, err := openRegular(full)
	if errors.Is(err, unix.ELOOP) {
		return fmt.Errorf("exporting %s: %w", p, notFollowed{&safefs.SymlinkError{Path: full}})
	}
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errNotRegular) {
		return fmt.Errorf("exporting %s: %w", p, target.ErrNotExist)
	}
	if err != nil {
		return fmt.Errorf("exporting %s: %w", p, err)
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("exporting %s: %w", p, err)
	}
	// Linked only when no one else can change it: a file of another
	// user, or one others may write, would stay theirs to rewrite in
	// every mirror that links it, after it was checked (a reviewer's).
	if int(st.Uid) == os.Geteuid() && st.Mode&0o022 == 0 {
		proc := "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
		if err := unix.Linkat(unix.AT_FDCWD, proc, unix.AT_FDCWD, dst, unix.AT_SYMLINK_FOLLOW); err == nil {
			return nil
		}
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
	if err != nil {
		return fmt.Errorf("exporting %s: %w", p, err)
	}
	if _, err := io.CopyBuffer(out, ctxReader{ctx, f}, make([]byte, maxCopyBf)); err != nil {
		out.Close()
		os.Remove(dst)
		return fmt.Errorf("exporting %s to %s: %w", p, dst, err)
	}
	if err := out.Close(); err != nil {
		os.Remove(dst)
		return fmt.Errorf("exporting %s to %s: %w", p, dst, err)
	}
	return nil
}

// Put implements target.Target.
func (l *Local) Put(ctx context.Context, f target.File) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := l.ensureRoot(); err != nil {
		return err
	}
	full, err := l.put(ctx, f, nil)
	if err != nil {
		return err
	}
	if err := syncDir(filepath.Dir(full)); err != nil {
		return fmt.Errorf("storing %s: %w", f.Path, err)
	}
	return nil
}

var _ target.BatchPutter = (*Local)(nil)

// PutAll implements target.BatchPutter: each file is placed as Put places
// it (a hard link, or a copy that is fsynced, renamed into place), and
// then the files and every new directory entry are made durable at once
// (safefs.Flush): the files, the directories that received them and
// those above up to the root, with an fsync each (several at once) for
// a small batch, with one syncfs(2) of the mirror's filesystem for a
// large one. Put fsyncs a directory per file.
func (l *Local) PutAll(ctx context.Context, files []target.File) error {
	if len(files) == 0 {
		return nil
	}
	for _, f := range files {
		if err := target.CheckPath(f.Path); err != nil {
			return err
		}
	}
	if err := l.ensureRoot(); err != nil {
		return err
	}
	made := map[string]bool{}
	// What must be durable: each file (a hard link shares its
	// download's inode, flushed already, which costs next to nothing
	// again), the directory that received it and, for a directory
	// made on the way, its parent, up to the root.
	var durable []string
	dirSeen := map[string]bool{}
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		full, err := l.put(ctx, f, made)
		if err != nil {
			return err
		}
		if len(durable) > safefs.FlushOneByOne {
			continue // Flush flushes the whole filesystem anyway
		}
		durable = append(durable, full)
		for d := path.Dir(f.Path); !dirSeen[d]; d = path.Dir(d) {
			dirSeen[d] = true
			durable = append(durable, filepath.Join(l.root, filepath.FromSlash(d)))
			if d == "." {
				break
			}
		}
	}
	if err := flush(l.root, durable); err != nil {
		return fmt.Errorf("making the files stored in %s durable: %w", l.root, err)
	}
	return nil
}

// put places f.Local at f.Path and returns the file's full path; the new
// directory entry is not yet durable. A path not in use yet (the usual
// case) gets a hard link at once, which appears whole as a renamed file
// would; one in use is replaced through a temporary file and a rename,
// and so is a file copied from another filesystem. made, when not nil,
// remembers the directories already created (and checked) by earlier
// calls of one batch.
func (l *Local) put(ctx context.Context, f target.File, made map[string]bool) (string, error) {
	if err := target.CheckPath(f.Path); err != nil {
		return "", err
	}
	// MkdirAll checks every directory on the way: none may be a
	// symlink.
	if dir := path.Dir(f.Path); !made[dir] {
		if err := safefs.MkdirAll(l.root, dir, dirPerm); err != nil {
			return "", fmt.Errorf("storing %s: %w", f.Path, err)
		}
		if made != nil {
			made[dir] = true
		}
	}
	full := filepath.Join(l.root, filepath.FromSlash(f.Path))
	fi, err := os.Stat(f.Local)
	if err != nil {
		return "", fmt.Errorf("storing %s: %w", f.Path, err)
	}
	if f.Size >= 0 && fi.Size() != f.Size {
		return "", fmt.Errorf("storing %s: source %s has %d bytes, want %d", f.Path, f.Local, fi.Size(), f.Size)
	}
	if err := servable(f.Local, fi); err != nil {
		return "", fmt.Errorf("storing %s: %w", f.Path, err)
	}
	if err := os.Link(f.Local, full); err == nil {
		return full, nil
	}
	// In use, or another filesystem. What is in use is replaced, never
	// through a symlink.
	if fi, err := os.Lstat(full); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return "", fmt.Errorf("%s: %w", f.Path, &safefs.SymlinkError{Path: full})
	}
	tmp, err := l.tempName(made)
	if err != nil {
		return "", fmt.Errorf("storing %s: %w", f.Path, err)
	}
	if err := place(ctx, f.Local, tmp, f.Size); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("storing %s: %w", f.Path, err)
	}
	// A path freed meanwhile takes tmp's name at once; one in use is
	// replaced.
	err = unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, full, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EEXIST) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		// In use, or a filesystem without RENAME_NOREPLACE.
		err = unix.Rename(tmp, full)
		// When full was already a link to the same inode, rename(2)
		// did nothing and left tmp behind.
		os.Remove(tmp)
	}
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("storing %s: %w", f.Path, &os.LinkError{Op: "rename", Old: tmp, New: full, Err: err})
	}
	return full, nil
}

// Commit implements target.Target.
func (l *Local) Commit(ctx context.Context, files []target.File, remove []string) error {
	if len(files) == 0 && len(remove) == 0 {
		return nil
	}
	if err := l.ensureRoot(); err != nil {
		return err
	}
	onlyMeta := true
	for _, f := range files {
		full, err := l.fullW(f.Path)
		if err != nil {
			return err
		}
		if fi, err := os.Lstat(full); err == nil && fi.IsDir() {
			return fmt.Errorf("%s: %w", f.Path, &safefs.IsDirError{Path: full})
		}
		if !strings.HasPrefix(f.Path, metaDir+"/") {
			onlyMeta = false
		}
	}
	for _, p := range remove {
		if _, err := l.fullW(p); err != nil {
			return err
		}
		if !strings.HasPrefix(p, metaDir+"/") {
			onlyMeta = false
		}
	}
	if onlyMeta {
		return l.swap(ctx, filepath.Join(l.root, metaDir), filepath.Join(l.root, workDir, nextMeta), metaDir+"/", files, remove)
	}
	next := nextTree(l.root)
	if err := l.swap(ctx, l.root, next, "", files, remove); err != nil {
		var se *safefs.SymlinkError
		if errors.As(err, &se) {
			return err
		}
		return fmt.Errorf("replacing files in place needs a whole-tree swap through %s (the mirror path must not be a mount point, and its parent must be writable): %w", next, err)
	}
	return nil
}

// nextTree is where a whole-tree commit builds the next tree of the
// mirror at root: beside it, as .NAME.rpmirror-next, so that the two
// directories can be exchanged (docs/operations.md tells web servers not
// to serve it).
func nextTree(root string) string {
	return filepath.Join(filepath.Dir(root), "."+filepath.Base(root)+".rpmirror-next")
}

// swap builds next as a copy of dir (hard links) with files applied, then
// exchanges the two directories atomically and removes the old one. prefix
// is what files' paths start with relative to dir.
func (l *Local) swap(ctx context.Context, dir, next, prefix string, files []target.File, remove []string) error {
	// The directory next is made in is checked (made, when inside the
	// mirror, with no symlink on the way) before anything under it is
	// removed: a leftover is removed there, never through a symlink.
	if rel, err := filepath.Rel(l.root, filepath.Dir(next)); err == nil && !strings.HasPrefix(rel, "..") {
		if err := safefs.MkdirAll(l.root, rel, dirPerm); err != nil {
			return err
		}
	} else if err := os.MkdirAll(filepath.Dir(next), dirPerm); err != nil {
		return err
	}
	if err := os.RemoveAll(next); err != nil {
		return fmt.Errorf("removing leftover %s: %w", next, err)
	}
	_, err := os.Lstat(dir)
	exists := err == nil
	if exists {
		if err := linkTree(ctx, dir, next, dir == l.root); err != nil {
			os.RemoveAll(next)
			return fmt.Errorf("preparing %s: %w", next, err)
		}
	} else if err := os.Mkdir(next, dirPerm); err != nil {
		return err
	}
	dirs := map[string]bool{next: true}
	for _, p := range remove {
		dst := filepath.Join(next, filepath.FromSlash(strings.TrimPrefix(p, prefix)))
		if err := os.Remove(dst); err != nil && !errors.Is(err, fs.ErrNotExist) {
			os.RemoveAll(next)
			return fmt.Errorf("removing %s: %w", p, err)
		}
		dirs[filepath.Dir(dst)] = true
	}
	for _, f := range files {
		rel := strings.TrimPrefix(f.Path, prefix)
		dst := filepath.Join(next, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(dst), dirPerm); err != nil {
			os.RemoveAll(next)
			return err
		}
		// next is private until the swap, so the file can be replaced
		// in place. (A rename onto it would do nothing when the old file
		// is the very same inode, a hard link to the same download.)
		if err := os.Remove(dst); err != nil && !errors.Is(err, fs.ErrNotExist) {
			os.RemoveAll(next)
			return fmt.Errorf("storing %s: %w", f.Path, err)
		}
		if err := place(ctx, f.Local, dst, f.Size); err != nil {
			os.RemoveAll(next)
			return fmt.Errorf("storing %s: %w", f.Path, err)
		}
		dirs[filepath.Dir(dst)] = true
	}
	for d := range dirs {
		if err := syncDir(d); err != nil {
			os.RemoveAll(next)
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		os.RemoveAll(next)
		return err
	}
	if exists {
		if err := unix.Renameat2(unix.AT_FDCWD, next, unix.AT_FDCWD, dir, unix.RENAME_EXCHANGE); err != nil {
			os.RemoveAll(next)
			if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EOPNOTSUPP) {
				return fmt.Errorf("swapping %s into place: the filesystem cannot exchange directories atomically (renameat2 RENAME_EXCHANGE; NFS cannot): put the mirror on ext4, xfs, btrfs or tmpfs: %w", dir, err)
			}
			return fmt.Errorf("swapping %s into place: %w", dir, err)
		}
	} else if err := os.Rename(next, dir); err != nil {
		os.RemoveAll(next)
		return fmt.Errorf("moving %s into place: %w", dir, err)
	}
	if err := syncDir(filepath.Dir(dir)); err != nil {
		return err
	}
	// next now holds the old directory; its files live on as links where
	// they are still used.
	if err := os.RemoveAll(next); err != nil {
		return fmt.Errorf("removing old copy %s: %w", next, err)
	}
	return nil
}

// linkTree recreates the tree at src under dst with hard links to its
// regular files. At the root of a mirror, rpmirror's work directory is
// left out except for the lock file, which is linked so that the lock
// stays on the same inode whichever directory is the root.
//
// It works through directory descriptors (openat with O_NOFOLLOW,
// linkat, mkdirat), never a path from the root: a directory swapped for a
// symlink while the tree is copied fails the copy (ELOOP or ENOTDIR)
// rather than having the files it points at linked into the mirror.
func linkTree(ctx context.Context, src, dst string, atRoot bool) error {
	sfd, err := openDir(unix.AT_FDCWD, src)
	if err != nil {
		return &os.PathError{Op: "open", Path: src, Err: err}
	}
	defer unix.Close(sfd)
	if err := os.Mkdir(dst, dirPerm); err != nil {
		return err
	}
	dfd, err := openDir(unix.AT_FDCWD, dst)
	if err != nil {
		return &os.PathError{Op: "open", Path: dst, Err: err}
	}
	defer unix.Close(dfd)
	return linkDir(ctx, sfd, dfd, src, atRoot)
}

// openDir opens the directory name relative to the directory dirfd
// without following a symlink there.
func openDir(dirfd int, name string) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if !errors.Is(err, unix.EINTR) {
			return fd, err
		}
	}
}

// linkDir is linkTree for the directory open as sfd (at path, for
// errors) into the empty directory open as dfd.
func linkDir(ctx context.Context, sfd, dfd int, path string, atRoot bool) error {
	// ReadDir through a descriptor of its own: closing the *os.File
	// closes what it holds, and sfd stays the caller's.
	rfd, err := unix.Dup(sfd)
	if err != nil {
		return &os.PathError{Op: "dup", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(rfd), path)
	ents, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return err
		}
		name, full := e.Name(), filepath.Join(path, e.Name())
		switch {
		case atRoot && name == workDir:
			if err := unix.Mkdirat(dfd, name, dirPerm); err != nil {
				return &os.PathError{Op: "mkdir", Path: full, Err: err}
			}
			if err := linkLock(sfd, dfd, full); err != nil {
				return err
			}
		case e.IsDir():
			if err := unix.Mkdirat(dfd, name, dirPerm); err != nil {
				return &os.PathError{Op: "mkdir", Path: full, Err: err}
			}
			if err := linkSub(ctx, sfd, dfd, name, full); err != nil {
				return err
			}
		case e.Type().IsRegular():
			// No AT_SYMLINK_FOLLOW: a file swapped for a symlink since it
			// was listed is linked as that symlink, never its target.
			if err := unix.Linkat(sfd, name, dfd, name, 0); err != nil {
				return &os.LinkError{Op: "link", Old: full, New: name, Err: err}
			}
		case e.Type()&fs.ModeSymlink != 0:
			// Keep symlinks an operator made as they are.
			t, err := readlinkat(sfd, name)
			if err != nil {
				return &os.PathError{Op: "readlink", Path: full, Err: err}
			}
			if err := unix.Symlinkat(t, dfd, name); err != nil {
				return &os.PathError{Op: "symlink", Path: full, Err: err}
			}
		}
	}
	return nil
}

// linkLock links the lock file of the work directory in sfd (at full)
// into its copy in dfd, if there is a lock file.
func linkLock(sfd, dfd int, full string) error {
	s, d, closeBoth, err := openPair(sfd, dfd, workDir, full)
	if err != nil {
		return err
	}
	defer closeBoth()
	if err := unix.Linkat(s, lockName, d, lockName, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return &os.LinkError{Op: "link", Old: filepath.Join(full, lockName), New: lockName, Err: err}
	}
	return nil
}

// beforeDescend, when set (by tests), is called with the path of each
// directory linkTree is about to open below the root.
var beforeDescend func(path string)

// linkSub links the directory name in sfd (at full) into its copy in dfd.
func linkSub(ctx context.Context, sfd, dfd int, name, full string) error {
	if beforeDescend != nil {
		beforeDescend(full)
	}
	s, d, closeBoth, err := openPair(sfd, dfd, name, full)
	if err != nil {
		return err
	}
	defer closeBoth()
	return linkDir(ctx, s, d, full, false)
}

// openPair opens the directory name (at full) in sfd and its copy in dfd.
func openPair(sfd, dfd int, name, full string) (s, d int, closeBoth func(), err error) {
	if s, err = openDir(sfd, name); errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
		return -1, -1, nil, &safefs.SymlinkError{Path: full} // listed as a directory, a symlink now
	} else if err != nil {
		return -1, -1, nil, &os.PathError{Op: "open", Path: full, Err: err}
	}
	if d, err = openDir(dfd, name); err != nil {
		unix.Close(s)
		return -1, -1, nil, &os.PathError{Op: "open", Path: full, Err: err}
	}
	return s, d, func() { unix.Close(s); unix.Close(d) }, nil
}

// readlinkat returns the target of the symlink name in dirfd.
func readlinkat(dirfd int, name string) (string, error) {
	for size := 256; ; size *= 2 {
		b := make([]byte, size)
		n, err := unix.Readlinkat(dirfd, name, b)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(b[:n]), nil
		}
	}
}

// place makes dst a durable copy of src: a hard link when both are on one
// filesystem, else a copy that is fsynced. size is checked either way.
func place(ctx context.Context, src, dst string, size int64) error {
	fi, err := os.Stat(src)
	if err != nil {
		return err
	}
	if size >= 0 && fi.Size() != size {
		return fmt.Errorf("source %s has %d bytes, want %d", src, fi.Size(), size)
	}
	if err := servable(src, fi); err != nil {
		return err
	}
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
	if err != nil {
		return err
	}
	if err := out.Chmod(filePerm); err != nil { // whatever the umask
		out.Close()
		return err
	}
	if _, err := io.CopyBuffer(out, ctxReader{ctx, in}, make([]byte, maxCopyBf)); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// servable gives src, about to be linked into the mirror, the mode of a
// file a mirror serves (filePerm: a web server running as another user
// reads it). A hard link shares its inode's mode, and files staged with
// os.CreateTemp (filtered metadata, the snapshots' index, the daemon's
// mirror lists, a repair's signature) are made 0600: linked as they were,
// they were published unreadable to everyone but rpmirror's user.
func servable(src string, fi os.FileInfo) error {
	if fi.Mode().Perm() == filePerm {
		return nil
	}
	if err := os.Chmod(src, filePerm); err != nil {
		return fmt.Errorf("making %s readable: %w", src, err)
	}
	return nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// pid is this process's id, for temporary names (os.Getpid is a system
// call each time).
var pid = strconv.Itoa(os.Getpid())

// tempName returns a new name in the mirror's temporary directory,
// creating the directory unless made (see put) says it was created.
func (l *Local) tempName(made map[string]bool) (string, error) {
	const rel = workDir + "/" + tmpDir
	if !made[rel] {
		if err := safefs.MkdirAll(l.root, rel, dirPerm); err != nil {
			return "", err
		}
		if made != nil {
			made[rel] = true
		}
	}
	n := tempSeq.Add(1)
	return filepath.Join(l.root, workDir, tmpDir, pid+"-"+strconv.FormatUint(n, 10)), nil
}

var _ target.Stager = (*Local)(nil)

// StageDir implements target.Stager: .rpmirror/tmp, which Lock empties
// (the process holding the lock is the one that stages there).
func (l *Local) StageDir() (string, error) {
	if err := l.ensureRoot(); err != nil {
		return "", err
	}
	const rel = workDir + "/" + tmpDir
	if err := safefs.MkdirAll(l.root, rel, dirPerm); err != nil {
		return "", fmt.Errorf("staging directory of %s: %w", l.root, err)
	}
	return filepath.Join(l.root, workDir, tmpDir), nil
}

// Remove implements target.Target. Parent directories left empty are
// removed, up to (not including) the root and repodata/.
func (l *Local) Remove(ctx context.Context, p string) error {
	full, err := l.fullW(p)
	if err != nil {
		return err
	}
	if err := os.Remove(full); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing %s: %w", p, err)
	}
	for dir := filepath.Dir(full); dir != l.root && dir != filepath.Join(l.root, metaDir); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			break // not empty, or gone
		}
	}
	return nil
}

// Walk implements target.Target. It lists the deepest directory that
// prefix names in full, not the whole mirror, and follows no symlink: a
// prefix whose directory is reached through one, or is one, names
// nothing, as a symlinked directory is passed over by a walk from the
// root.
func (l *Local) Walk(ctx context.Context, prefix string, fn func(string, target.Info) error) error {
	start, err := l.walkStart(prefix)
	if err != nil || start == "" {
		return err
	}
	type entry struct {
		path string
		info target.Info
	}
	var files []entry
	err = filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".rpmirror") {
			return fs.SkipDir
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(l.root, p)
		rel = filepath.ToSlash(rel)
		if !strings.HasPrefix(rel, prefix) {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		files = append(files, entry{rel, target.Info{Size: fi.Size(), ModTime: fi.ModTime()}})
		return nil
	})
	if err != nil {
		return fmt.Errorf("listing %s: %w", start, err)
	}
	slices.SortFunc(files, func(a, b entry) int { return strings.Compare(a.path, b.path) })
	for _, f := range files {
		if err := fn(f.path, f.info); err != nil {
			return err
		}
	}
	return nil
}

// ListNames implements target.NameLister: a directory's entries by
// their type (d_type), without a stat of each file or a sort.
func (l *Local) ListNames(ctx context.Context, dir string, recursive bool, fn func(path []byte) error) error {
	if dir != "" && !strings.HasSuffix(dir, "/") {
		return fmt.Errorf("listing %s in %s: not a directory path ending in /", dir, l.root)
	}
	if d := strings.TrimSuffix(dir, "/"); d != "" && target.CheckPath(d) == nil {
		var sym *safefs.SymlinkError
		if err := safefs.Check(l.root, d); errors.As(err, &sym) {
			return fmt.Errorf("listing %s in %s: %w", dir, l.root, err)
		}
	}
	start, err := l.walkStart(dir)
	if err != nil || start == "" {
		return err
	}
	buf := make([]byte, 0, 256)
	if start != l.root {
		buf = append(buf, dir...)
	}
	if err := l.listNames(ctx, start, buf, recursive, fn); err != nil {
		return fmt.Errorf("listing %s in %s: %w", dir, l.root, err)
	}
	return nil
}

// listNames lists the directory full, whose path in the target rel
// ends in "/" (or is empty, for the root).
func (l *Local) listNames(ctx context.Context, full string, rel []byte, recursive bool, fn func([]byte) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := os.OpenFile(full, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_DIRECTORY, 0)
	if err != nil {
		return err
	}
	ents, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		return err
	}
	for _, e := range ents {
		name := e.Name()
		switch {
		case e.Type().IsRegular():
			if err := fn(append(rel, name...)); err != nil {
				return err
			}
		case recursive && e.IsDir() && !strings.HasPrefix(name, ".rpmirror"):
			sub := append(append(rel, name...), '/')
			if err := l.listNames(ctx, full+string(filepath.Separator)+name, sub, true, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// walkStart returns the directory Walk lists for prefix: the root, or
// the deepest directory prefix names in full ("a/b" of "a/b/c"). It
// returns "" when that names nothing a walk from the root would list: it
// does not exist, is not a directory, is reached through a symlink or is
// one, is rpmirror's bookkeeping, or is no path at all.
func (l *Local) walkStart(prefix string) (string, error) {
	if _, err := os.Lstat(l.root); errors.Is(err, fs.ErrNotExist) {
		return "", nil // not created yet: empty
	}
	dir, _ := path.Split(prefix)
	if dir == "" {
		return l.root, nil
	}
	dir = strings.TrimSuffix(dir, "/")
	if target.CheckPath(dir) != nil {
		return "", nil // no path begins so
	}
	for el := range strings.SplitSeq(dir, "/") {
		if strings.HasPrefix(el, ".rpmirror") {
			return "", nil
		}
	}
	err := safefs.Check(l.root, dir)
	var sym *safefs.SymlinkError
	var notDir *safefs.NotDirError
	if errors.As(err, &sym) || errors.As(err, &notDir) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("listing %s in %s: %w", prefix, l.root, err)
	}
	full := filepath.Join(l.root, filepath.FromSlash(dir))
	fi, err := os.Lstat(full)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && !fi.IsDir()) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("listing %s in %s: %w", prefix, l.root, err)
	}
	return full, nil
}

// Lock implements target.Target with flock(2) on .rpmirror/lock. Holding
// it, Lock also removes what a killed process may have left: temporary
// files and half-built directories.
//
// A mirror directory that Lock had to create (with those above it that
// did not exist) is removed again when the lock is released if it then
// holds nothing but the lock: a sync that stopped before writing, because
// no upstream was usable for instance, leaves no empty mirror behind.
// safefs.Lock keeps that safe against another process taking the lock
// meanwhile.
func (l *Local) Lock(ctx context.Context) (func(), error) {
	for attempt := 1; ; attempt++ {
		unlock, err := l.lock()
		// The directories may go between ensureRoot and the lock file's
		// creation: another process that had created them removed them
		// when it let go of its lock.
		if !errors.Is(err, fs.ErrNotExist) || attempt == lockAttempts {
			return unlock, err
		}
	}
}

// lockAttempts bounds how often Lock starts again after the mirror
// directory was removed under it.
const lockAttempts = 10

func (l *Local) lock() (func(), error) {
	created := l.missing()
	if err := l.ensureRoot(); err != nil {
		return nil, err
	}
	dir := filepath.Join(l.root, workDir)
	if err := safefs.MkdirAll(l.root, workDir, dirPerm); err != nil {
		return nil, fmt.Errorf("locking %s: %w", l.root, err)
	}
	unlock, pid, err := safefs.Lock(l.root, workDir+"/"+lockName)
	if errors.Is(err, safefs.ErrHeld) {
		if pid == "" {
			return nil, fmt.Errorf("%s: %w", l.root, target.ErrLocked)
		}
		return nil, fmt.Errorf("%s (pid %s): %w", l.root, pid, target.ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", l.root, err)
	}
	for _, p := range []string{
		filepath.Join(dir, tmpDir),
		filepath.Join(dir, nextMeta),
		filepath.Join(filepath.Dir(l.root), "."+filepath.Base(l.root)+".rpmirror-next"),
	} {
		if err := os.RemoveAll(p); err != nil {
			unlock()
			return nil, fmt.Errorf("cleaning up after an earlier run: %w", err)
		}
	}
	if len(created) == 0 {
		return unlock, nil
	}
	return func() {
		l.removeIfUnused(created)
		unlock()
	}, nil
}

// missing returns the mirror directory and those above it that do not
// exist, the mirror directory first.
func (l *Local) missing() []string {
	var dirs []string
	for d := l.root; ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); !errors.Is(err, fs.ErrNotExist) || d == filepath.Dir(d) {
			return dirs
		}
		dirs = append(dirs, d)
	}
}

// removeIfUnused removes created (missing's directories, made by Lock)
// when the mirror holds nothing but its lock file, the lock still held: a
// process that opened the file meanwhile finds it gone once it has the
// lock, and starts again (safefs.Lock). A directory something else was
// put in stays. The lock file and .rpmirror are removed through
// descriptors of the directories that hold them, opened without following
// a symlink, so that nothing is removed through one.
func (l *Local) removeIfUnused(created []string) {
	rootDir, err := safefs.OpenFile(l.root, ".", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return
	}
	defer rootDir.Close()
	work, err := safefs.OpenFile(l.root, workDir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return
	}
	defer work.Close()
	if !onlyEntry(rootDir, workDir) || !onlyEntry(work, lockName) {
		return
	}
	if unix.Unlinkat(int(work.Fd()), lockName, 0) != nil || unix.Unlinkat(int(rootDir.Fd()), workDir, unix.AT_REMOVEDIR) != nil {
		return
	}
	for _, d := range created {
		if os.Remove(d) != nil { // rmdir: an empty directory, never through a symlink at its end
			return
		}
	}
}

// onlyEntry reports whether the directory dir holds name and nothing else.
func onlyEntry(dir *os.File, name string) bool {
	if _, err := dir.Seek(0, io.SeekStart); err != nil {
		return false
	}
	names, err := dir.Readdirnames(2)
	return err == nil && len(names) == 1 && names[0] == name
}

// The flushes, variables so that tests can count them.
var (
	syncDir = safefs.SyncDir
	flush   = safefs.Flush
)

var _ target.Snapshotter = (*Local)(nil)

// Snapshot implements target.Snapshotter: it links every path into a
// directory under .rpmirror/tmp/ (which Lock clears after a crash),
// fsyncs it, and renames it to dir without replacing anything.
func (l *Local) Snapshot(ctx context.Context, dir string, paths []string) error {
	if err := l.ensureRoot(); err != nil {
		return err
	}
	dst, err := l.fullW(dir)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(dst); err == nil {
		return fmt.Errorf("snapshot %s: %w", dir, target.ErrExist)
	}
	srcs := make([]string, len(paths))
	for i, p := range paths {
		full, err := l.full(p)
		if err != nil {
			return fmt.Errorf("snapshot %s: %w", dir, err)
		}
		if fi, err := os.Lstat(full); err != nil || !fi.Mode().IsRegular() {
			return fmt.Errorf("snapshot %s: %s: %w", dir, p, target.ErrNotExist)
		}
		srcs[i] = full
	}
	tmp, err := l.tempName(nil)
	if err != nil {
		return fmt.Errorf("snapshot %s: %w", dir, err)
	}
	if err := l.linkSnapshot(ctx, tmp, paths, srcs); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("snapshot %s: %w", dir, err)
	}
	if err := safefs.MkdirAll(l.root, path.Dir(dir), dirPerm); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("snapshot %s: %w", dir, err)
	}
	if err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, dst, unix.RENAME_NOREPLACE); err != nil {
		os.RemoveAll(tmp)
		if errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("snapshot %s: %w", dir, target.ErrExist)
		}
		return fmt.Errorf("snapshot %s: moving it into place: %w", dir, err)
	}
	if err := syncDir(filepath.Dir(dst)); err != nil {
		return fmt.Errorf("snapshot %s: %w", dir, err)
	}
	return nil
}

// linkSnapshot builds the tree of a snapshot at tmp: hard links to srcs
// at paths, every directory fsynced.
func (l *Local) linkSnapshot(ctx context.Context, tmp string, paths, srcs []string) error {
	dirs := map[string]bool{tmp: true}
	if err := os.Mkdir(tmp, dirPerm); err != nil {
		return err
	}
	for i, p := range paths {
		if err := ctx.Err(); err != nil {
			return err
		}
		out := filepath.Join(tmp, filepath.FromSlash(p))
		if d := filepath.Dir(out); !dirs[d] {
			if err := os.MkdirAll(d, dirPerm); err != nil {
				return err
			}
			for ; d != tmp && !dirs[d]; d = filepath.Dir(d) {
				dirs[d] = true
			}
		}
		if err := os.Link(srcs[i], out); err != nil && !(errors.Is(err, fs.ErrExist) && slicesSeen(paths[:i], p)) {
			return fmt.Errorf("linking %s: %w", p, err)
		}
	}
	for d := range dirs {
		if err := syncDir(d); err != nil {
			return err
		}
	}
	return nil
}

// slicesSeen reports whether p is among earlier: a path named twice is
// linked once.
func slicesSeen(earlier []string, p string) bool {
	for _, e := range earlier {
		if e == p {
			return true
		}
	}
	return false
}

// RemoveDir implements target.Snapshotter: dir is renamed into
// .rpmirror/tmp/ (cleared by Lock after a crash), then deleted.
func (l *Local) RemoveDir(ctx context.Context, dir string) error {
	full, err := l.fullW(dir)
	if err != nil {
		return err
	}
	fi, err := os.Lstat(full)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("removing %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("removing %s: not a directory", dir)
	}
	tmp, err := l.tempName(nil)
	if err != nil {
		return fmt.Errorf("removing %s: %w", dir, err)
	}
	if err := os.Rename(full, tmp); err != nil {
		return fmt.Errorf("removing %s: %w", dir, err)
	}
	if err := syncDir(filepath.Dir(full)); err != nil {
		return fmt.Errorf("removing %s: %w", dir, err)
	}
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("removing %s (moved to %s): %w", dir, tmp, err)
	}
	return nil
}

// Restore implements target.Snapshotter: the files of dir that are not
// already the same inode at their path are committed with Commit, as hard
// links, together with the removals.
func (l *Local) Restore(ctx context.Context, dir string, paths, remove []string) error {
	var files []target.File
	for _, p := range paths {
		src, err := l.full(dir + "/" + p)
		if err != nil {
			return fmt.Errorf("restoring %s from %s: %w", p, dir, err)
		}
		sfi, err := os.Lstat(src)
		if err != nil || !sfi.Mode().IsRegular() {
			return fmt.Errorf("restoring %s from %s: %w", p, dir, target.ErrNotExist)
		}
		if cur, err := l.full(p); err != nil {
			return fmt.Errorf("restoring %s from %s: %w", p, dir, err)
		} else if cfi, err := os.Lstat(cur); err == nil && os.SameFile(sfi, cfi) {
			continue
		}
		files = append(files, target.File{Path: p, Local: src, Size: sfi.Size()})
	}
	return l.Commit(ctx, files, remove)
}

// Dirs implements target.Snapshotter.
func (l *Local) Dirs(ctx context.Context, dir string) ([]string, error) {
	full, err := l.full(dir)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Lstat(full); errors.Is(err, fs.ErrNotExist) || (err == nil && !fi.IsDir()) {
		return nil, nil
	}
	ents, err := os.ReadDir(full)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", dir, err)
	}
	var names []string
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".rpmirror") {
			names = append(names, e.Name())
		}
	}
	return names, nil
}
