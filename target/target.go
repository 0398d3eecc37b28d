// Package target defines where a mirror's files live: the Target interface
// that the sync engine writes through, and the rules every implementation
// shares. The local-filesystem implementation is in target/local; the
// conformance suite every implementation must pass is in target/targettest.
//
// Paths given to a Target are slash-separated and relative to the mirror's
// root ("repodata/repomd.xml", "Packages/a/a-1-1.noarch.rpm"). CheckPath
// says which paths are acceptable; implementations call it on every path
// they are handed and refuse the rest, so a hostile href in repository
// metadata can never reach outside the mirror.
package target

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"
)

// ErrNotExist is returned (wrapped) by Stat and Open for a file that is not
// there.
var ErrNotExist = errors.New("file does not exist")

// ErrLocked is returned (wrapped) by Lock when another process holds the
// mirror.
var ErrLocked = errors.New("mirror is locked by another process")

// ErrLockLost is returned (wrapped) by a write to a target whose lock was
// lost while held: a lock that expires unless renewed (a lease in object
// storage) was not renewed in time, or another process took it over. The
// writer must stop; nothing it writes after that is safe.
var ErrLockLost = errors.New("lock on the mirror was lost")

// Info describes a stored file.
type Info struct {
	Size    int64
	ModTime time.Time
	// SHA256 is the lower-case hex SHA-256 digest of the content that the
	// target recorded when the file was stored (File.SHA256), or "" when
	// it recorded none. Only Stat fills it in, and only a target that
	// says so in Properties().RecordsSHA256.
	SHA256 string
}

// File is content to store: the bytes of the regular file Local on this
// machine (a verified download), to appear at Path in the target.
type File struct {
	Path  string
	Local string
	Size  int64
	// SHA256 is optional: the lower-case hex SHA-256 digest the content
	// must have, when the caller knows it (repository metadata lists it).
	// A target that stores over a network sends it, so the store refuses
	// an upload that arrives different; without it such a target computes
	// a digest of its own from Local. A target on this machine may ignore
	// it.
	SHA256 string
}

// Target is a place a mirror's files are written to and read back from.
//
// Every method takes a context and returns promptly once it is cancelled.
// No method ever leaves a partially written file visible at a path.
type Target interface {
	// Stat returns the file's size and modification time, or an error
	// wrapping ErrNotExist. Anything that is not a regular file (a
	// directory, a symlink) does not exist for Stat.
	Stat(ctx context.Context, path string) (Info, error)

	// Open opens the regular file at path for reading, or returns an error
	// wrapping ErrNotExist.
	Open(ctx context.Context, path string) (io.ReadCloser, error)

	// Put stores f.Local's content at f.Path so that readers see either the
	// old file or the new one, never a partial file. When Put returns nil
	// the file is durable.
	Put(ctx context.Context, f File) error

	// Commit stores every file in files and deletes every path in remove.
	// Files named in neither list stay as they are; removing a path that
	// does not exist is not an error; every path is checked before
	// anything is written. When Commit returns nil the new files are
	// durable.
	//
	// With Properties().AtomicCommit, all of it becomes visible together:
	// at every moment a reader sees the target as it was before or as it
	// is after, never a mix, and when Commit returns an error the target
	// is as it was. Without it, Commit stores the files one after another
	// in the order given, then removes the paths in the order given; when
	// it returns an error, the files before the one that failed may be
	// stored, none after it, and nothing is removed. The caller orders
	// the files so that every prefix leaves the target consistent.
	Commit(ctx context.Context, files []File, remove []string) error

	// Remove deletes the file at path. Removing a file that does not exist
	// is not an error. Directories left empty may be removed too. Remove
	// may be called from several goroutines at once (a sync prunes so);
	// a directory left empty by the last of them goes too.
	Remove(ctx context.Context, path string) error

	// Walk calls fn for every regular file in the target whose path
	// begins with prefix ("" for every file), in lexical order of path,
	// leaving out the target's own bookkeeping. A prefix ending in "/"
	// names a directory; one that names nothing gives no files and no
	// error. Only what prefix selects is listed, not the whole target
	// (a prefix-filtered listing in object storage). An error from fn
	// stops the walk and is returned.
	Walk(ctx context.Context, prefix string, fn func(path string, info Info) error) error

	// Lock takes an exclusive lock on the target that every rpmirror
	// process respects, or returns an error wrapping ErrLocked at once if
	// another process holds it. unlock releases it. A lock that lapses
	// unless renewed (a lease kept in object storage) is renewed in the
	// background until unlock; once it is lost, every write (Put, Commit,
	// Remove) fails with an error wrapping ErrLockLost before it writes.
	Lock(ctx context.Context) (unlock func(), err error)

	// String names the target for messages, e.g. its directory.
	String() string

	// Properties says what the target can do. It never changes for a
	// target's lifetime.
	Properties() Properties
}

// BatchPutter is implemented by a target that stores many files faster
// together than one Put after another: a target on this machine makes
// them durable with one flush instead of one per file. Callers find it
// with a type assertion and fall back to Put.
type BatchPutter interface {
	// PutAll stores every file as Put does, in any order: a reader sees
	// each path with its old content or its new, never a partial file.
	// Every path is checked (CheckPath) before anything is stored. When
	// PutAll returns nil every file is durable. When it returns an
	// error, some files may be stored (each complete) and others not,
	// none of them necessarily durable.
	PutAll(ctx context.Context, files []File) error
}

// Exporter is implemented by a target on this machine, whose files a
// sync can take into its download cache without a transfer: a package
// one mirror holds that another mirror of the same sync needs (one just
// added to the configuration) is exported rather than downloaded again,
// then checked as a download is before anything uses it.
type Exporter interface {
	// Export makes dst, a path on this machine where nothing is, hold the
	// content of the regular file at path: a hard link to it when both
	// are on one filesystem, else a copy. It never follows a symlink at
	// path (an error wrapping ErrNotExist, as for no file there). The
	// caller never writes to dst: it may be the mirror's own file.
	Export(ctx context.Context, path, dst string) error
}

// NameLister is implemented by a target that lists the regular files
// under a directory faster than Walk when their sizes are not needed (a
// local directory: the entries' types, no stat of each file): a sync
// checks that a mirror it published still holds every package its
// index names, 100,000 of them, before a publish names them again.
type NameLister interface {
	// ListNames calls fn with the path of every regular file under dir
	// (a directory path ending in "/", or "" for the top), by the type
	// its directory entry gives, in no particular order, leaving out the
	// target's own bookkeeping and never following a symlink; with
	// recursive, in every directory below dir too, else in dir alone. The
	// path is in a buffer fn must not keep: it is reused for the next. A
	// dir that names nothing gives no files and no error; one that is a
	// symlink, or is reached through one, is an error (a
	// *safefs.SymlinkError for a local directory). An error from fn stops
	// the listing and is returned.
	ListNames(ctx context.Context, dir string, recursive bool, fn func(path []byte) error) error
}

// Stager is implemented by a target on this machine that keeps a
// directory of its own for temporary files, on the target's filesystem,
// and empties it after a crash (a local mirror's .rpmirror/tmp, which Lock
// clears). Content held in memory is written there before Put (which
// then links it into place), not to the system's temporary directory,
// where a process killed in between would leave it. Callers find it with
// a type assertion.
type Stager interface {
	// StageDir returns that directory, created if needed.
	StageDir() (string, error)
}

// Readable is implemented by a target whose files have permissions (a
// local directory), where a file the web server in front of the mirror
// cannot read is served to no one: rpmirror verify reports such a file,
// and verify --repair makes it readable. Every file a target stores is
// readable (a local one makes it 0644); files stored by older versions,
// or by hand, may not be. Object storage has no such permissions, and
// does not implement it.
type Readable interface {
	// CheckReadable returns a *NotReadableError when neither the file's
	// group nor others may read the regular file at path, an error
	// wrapping ErrNotExist when there is none, never following a
	// symlink.
	CheckReadable(ctx context.Context, path string) error
	// MakeReadable gives the regular file at path the permissions of a
	// file the target stores, never through a symlink.
	MakeReadable(ctx context.Context, path string) error
}

// NotReadableError is a stored file that neither its group nor others
// may read (Readable.CheckReadable).
type NotReadableError struct {
	Mode fs.FileMode // its permission bits
}

func (e *NotReadableError) Error() string {
	return fmt.Sprintf("mode %04o: neither its group nor others may read it, so a web server running as another user cannot serve it (verify --repair makes it readable)", uint32(e.Mode.Perm()))
}

// ErrExist is returned (wrapped) by Snapshotter.Snapshot when the
// directory to create is there already.
var ErrExist = errors.New("already exists")

// Snapshotter is implemented by a target that can capture a set of its
// files under a new directory. Callers find it with a type assertion; a
// target without it cannot keep snapshots.
//
// A target with Properties().AtomicCommit makes a directory appear and
// disappear in one step. One without it (object storage) cannot: it
// stores and deletes a directory's files one at a time, in the order
// the contract below gives, and the caller decides from the files
// present whether a directory is complete (package snapshot: a
// snapshot whose repodata/repomd.xml is absent is not one).
type Snapshotter interface {
	// Snapshot makes dir/P hold the content P holds now, for every path
	// P in paths, durable when it returns nil. Later changes to P (a
	// replacement, a removal) do not change dir/P. Every path must be a
	// regular file (an error wrapping ErrNotExist).
	//
	// With Properties().AtomicCommit, dir appears complete at once: a
	// reader, and a process killed at any moment, sees either no dir or
	// all of it. dir must not exist (an error wrapping ErrExist), and
	// the paths are checked before dir appears. A target on this
	// machine stores hard links, so a snapshot costs no copy.
	//
	// Without it, the files are copied in any order except the last of
	// paths, which is copied last, once every other file is there: the
	// caller makes it the file that marks dir complete. dir exists (an
	// error wrapping ErrExist) when dir/LAST does. Otherwise a dir left
	// by a Snapshot that was interrupted is completed: a file already at
	// dir/P with P's content is not copied again. When Snapshot returns
	// an error it removes what it copied; when it is killed, what it
	// copied stays, without dir/LAST, until a Snapshot of the same dir
	// completes it or RemoveDir removes it. A target in object storage
	// copies on the server: no byte travels, but each copy is stored
	// again (see Properties.SnapshotsShareFiles).
	Snapshot(ctx context.Context, dir string, paths []string) error

	// RemoveDir deletes dir and everything in it. Removing a dir that
	// does not exist is not an error. With Properties().AtomicCommit,
	// dir disappears at once: no reader, and no process killed
	// meanwhile, finds dir with part of its files. Without it, the files
	// go one after another; the caller first removes (Remove) the file
	// that marks dir complete.
	RemoveDir(ctx context.Context, dir string) error

	// Restore makes every path P in paths hold what dir/P holds (a
	// snapshot taken by Snapshot) and deletes every path in remove, as
	// one Commit would: with Properties().AtomicCommit a reader sees the
	// target as it was or as it is after, never a mix; without it the
	// files are stored in the order given (a target may store files
	// whose names never change their content, packages and metadata
	// under hashed names, before the others and at once), then the
	// removals, so the caller orders paths as for Commit. dir/P must be
	// a regular file (an error wrapping ErrNotExist, checked before
	// anything changes); dir itself is left as it is. Paths that already
	// hold what dir/P holds are left out (a local target: the same
	// file; object storage: the same size and ETag).
	Restore(ctx context.Context, dir string, paths, remove []string) error

	// Dirs returns the names of the directories directly inside dir, in
	// lexical order, leaving out the target's own bookkeeping. A dir that
	// does not exist has none. Without Properties().AtomicCommit a
	// directory is listed as soon as one file is in it.
	Dirs(ctx context.Context, dir string) ([]string, error)
}

// Properties are what a target can do; callers choose how to use a target
// from them, never from its type (restic's backend Properties).
type Properties struct {
	// AtomicCommit: Commit makes all its files and removals visible in
	// one instant. Without it, Commit stores its files one after another
	// in the order given, then removes; a reader can see a mix, so the
	// caller must order files so that every prefix of the sequence is
	// consistent (packages, then metadata under new names, then
	// repomd.xml last) and must not replace a file in use under the same
	// name.
	AtomicCommit bool
	// Local: the target's files are on this machine's filesystem, so a
	// verified download can be placed by a hard link rather than a copy.
	Local bool
	// RecordsSHA256: Put keeps File.SHA256 with the file and Stat returns
	// it as Info.SHA256, so a caller can tell a file it stored before (an
	// interrupted sync) from a stranger without reading it back.
	RecordsSHA256 bool
	// SnapshotsShareFiles: a file of a snapshot (Snapshotter) is the
	// very file it captured (a hard link), so a package held by the
	// current tree and by many snapshots is stored once. Without it
	// (object storage) every snapshot stores its own copy of each of
	// its files, unless the store deduplicates behind rpmirror's back.
	SnapshotsShareFiles bool
	// PutConcurrency is how many Puts a caller storing many files runs
	// at once to keep the target busy, when that is more than its own
	// bound (0: no preference). A store over the network answers each
	// request after a round trip and serves several at once: more
	// requests in flight hide the round trips, and each costs less CPU
	// on both ends (fewer wake-ups of idle threads between requests).
	PutConcurrency int
}

// Records is implemented by a target that keeps rpmirror's records of a
// mirror (what it holds, what is waiting to be pruned, which revisions
// were verified) beside the mirror's files, so that whichever process
// writes the mirror next (another daemon taking over) finds them there
// and not only in the state_dir of the process that wrote them. Callers
// find it with a type assertion. Records are never files of the mirror:
// Walk, Stat and Open do not see them.
type Records interface {
	// ReadRecord returns the content of the record name, or an error
	// wrapping ErrNotExist. It needs no lock.
	ReadRecord(ctx context.Context, name string) ([]byte, error)
	// WriteRecord replaces the record name with b, so that readers see
	// the old content or the new, never a mix; durable when it returns
	// nil. Like Put it fails with ErrLockLost, before writing, once
	// the lock is lost.
	WriteRecord(ctx context.Context, name string, b []byte) error
}

// CheckRecordName returns an error unless name is a record name: one
// path element of lower-case letters, digits, '.', '_' and '-', not
// beginning with '.'.
func CheckRecordName(name string) error {
	if name == "" || len(name) > 128 || name[0] == '.' {
		return fmt.Errorf("record name %q: want a short name not beginning with '.'", name)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("record name %q: want only a-z, 0-9, '.', '_' and '-'", name)
		}
	}
	return nil
}

// Lease is what a target whose lock is a lease (LeaseReader) says of it.
type Lease struct {
	// Held: a process holds the lease now (it is there and not expired).
	Held bool
	// Holder names the process that holds it or held it last ("" when
	// there is no lease).
	Holder string
	// Renewed is when it was last written, by the store's clock.
	Renewed time.Time
	// TTL is the holder's lease TTL: it expires TTL after Renewed unless
	// renewed.
	TTL time.Duration
	// Mine: this process holds it (through this target value).
	Mine bool
}

// LeaseReader is implemented by a target whose lock is a lease that
// other processes can see (object storage). Callers find it with a type
// assertion.
type LeaseReader interface {
	// Lease reads the lease as it is now. It needs no lock and writes
	// nothing.
	Lease(ctx context.Context) (Lease, error)
	// Holder is the name this target writes into a lease it takes.
	Holder() string
}

// CheckPath returns an error unless p is a clean, relative, slash-separated
// path that stays inside the target: no leading "/", no "." or ".."
// elements, no empty elements, no backslash, no NUL or other control
// characters, and no element beginning with ".rpmirror", which names the
// bookkeeping of implementations.
func CheckPath(p string) error {
	if p == "" {
		return errors.New("empty path")
	}
	if len(p) > 4096 {
		return fmt.Errorf("path of %d bytes is too long", len(p))
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == 0:
			return fmt.Errorf("path %q contains a NUL byte", p)
		case c < 0x20 || c == 0x7f:
			return fmt.Errorf("path %q contains a control character", p)
		case c == '\\':
			return fmt.Errorf("path %q contains a backslash", p)
		}
	}
	if strings.HasPrefix(p, "/") {
		return fmt.Errorf("path %q is absolute", p)
	}
	for el := range strings.SplitSeq(p, "/") { // no slice of the elements: it runs for every package a plan reads
		switch {
		case el == "":
			return fmt.Errorf("path %q has an empty element", p)
		case el == "." || el == "..":
			return fmt.Errorf("path %q has a %q element", p, el)
		case strings.HasPrefix(el, ".rpmirror"):
			return fmt.Errorf("path %q names rpmirror's own files", p)
		}
	}
	return nil
}
