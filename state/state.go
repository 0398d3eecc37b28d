// Package state keeps what rpmirror knows between runs, embedded in
// state_dir with no server: per repository and mirror the last good
// revision and when it was published, the files waiting to be pruned, a
// bounded history of runs, and the revisions rpmirror verified (Verified).
// Each is a JSON file, replaced atomically, so a process killed at any point leaves the previous
// or the next state, never a torn one.
package state

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/rpmirror/rpmirror/internal/safefs"
)

// MaxRuns is how many runs are kept per repository.
const MaxRuns = 50

// ErrLocked is returned (wrapped) by Lock when another process holds the
// repository.
var ErrLocked = errors.New("repository is being synced by another rpmirror process")

// CorruptError is returned by Load, together with a usable empty state,
// when a repository's state file is empty or does not parse (a disk
// error, a hand edit). The mirrors are the truth: a sync rebuilds from
// them what it can and goes on.
type CorruptError struct {
	Path string
	Err  error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("state file %s is damaged: %v", e.Path, e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// Repo is the state of one repository.
type Repo struct {
	Name    string             `json:"name"`
	Mirrors map[string]*Mirror `json:"mirrors"`
	Runs    []Run              `json:"runs"` // newest last
	// Filtered is the last revision rpmirror wrote for a filtered repo,
	// nil for others.
	Filtered *Filtered `json:"filtered,omitempty"`
}

// Filtered records the repomd.xml rpmirror wrote for a filtered repo and
// what from: with the same origin repomd.xml and the same filter it would
// write the same bytes again, so a sync whose mirrors all serve it need
// not fetch the origin's metadata to know they are current.
type Filtered struct {
	OriginSHA256 string `json:"origin_sha256"` // of the origin's repomd.xml
	Filter       string `json:"filter"`        // the filter, as the sync spells it
	Repomd       []byte `json:"repomd"`        // the repomd.xml written
}

// Mirror is the state of one written mirror of a repository.
type Mirror struct {
	// Revision is the <revision> of the repomd.xml last published, and
	// RepomdSHA256 that file's digest.
	Revision     string    `json:"revision"`
	RepomdSHA256 string    `json:"repomd_sha256"`
	PublishedAt  time.Time `json:"published_at"` // when that revision was published
	CheckedAt    time.Time `json:"checked_at"`   // last time a sync found it current
	// Pending maps files no longer referenced to when they were first
	// found unreferenced; they are deleted once prune_after has passed.
	Pending map[string]time.Time `json:"pending,omitempty"`
	// PendingFor is the sha256 of the repomd.xml that Pending was computed
	// against; pending files are deleted only while the mirror serves it.
	PendingFor string `json:"pending_for,omitempty"`
	// Unpublished maps packages stored for a revision whose commit has
	// not happened yet to when they were stored. They are never pruned
	// on their own: the next publish checks them against the revision it
	// publishes and turns the ones it does not name into pending files.
	Unpublished map[string]time.Time `json:"unpublished,omitempty"`
}

// Run is the record of one sync of a repository.
type Run struct {
	Start     time.Time            `json:"start"`
	Duration  time.Duration        `json:"duration_ns"`
	Revision  string               `json:"revision,omitempty"`
	Fetched   int                  `json:"fetched"` // packages downloaded
	Bytes     int64                `json:"bytes"`   // bytes downloaded, metadata included
	Verified  int                  `json:"verified"`
	Error     string               `json:"error,omitempty"`
	Mirrors   map[string]MirrorRun `json:"mirrors,omitempty"`
	NoChange  bool                 `json:"no_change,omitempty"`
	Cancelled bool                 `json:"cancelled,omitempty"` // interrupted (Ctrl-C, shutdown): not a failure; Error is empty
	// Skipped: no upstream of the origin was usable, so nothing was
	// synced; Error says why for each. Not a failure of rpmirror's.
	Skipped bool `json:"skipped,omitempty"`
	// FromMirror names the written mirror on this machine the run took
	// the current verified revision from when no upstream was usable
	// (sync.Report.FromMirror): the mirrors behind were brought to it,
	// but the origin was not synced, so it is no successful sync of the
	// origin (rpmirror serve's last_success stays where it was).
	FromMirror string `json:"from_mirror,omitempty"`
}

// MirrorRun is what one run did to one mirror.
type MirrorRun struct {
	Published int    `json:"published"`
	Deleted   int    `json:"deleted"`
	UpToDate  bool   `json:"up_to_date,omitempty"` // was already current
	Error     string `json:"error,omitempty"`
}

// Store is the state directory.
type Store struct {
	dir string
}

// Open returns the store in dir, creating the directory if needed. A dir
// that is a symlink is resolved once, here; below it, nothing the store
// writes is ever reached through a symlink (see internal/safefs).
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating state directory: %w", err)
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, fmt.Errorf("resolving state directory %s: %w", dir, err)
	}
	for _, d := range []string{"repos", "locks"} {
		if err := safefs.MkdirAll(real, d, 0o755); err != nil {
			return nil, fmt.Errorf("creating state directory: %w", err)
		}
	}
	return &Store{dir: real}, nil
}

// OpenExisting returns the store in dir without creating anything; a
// missing directory reads as empty state.
func OpenExisting(dir string) *Store { return &Store{dir: dir} }

// Dir returns the state directory.
func (s *Store) Dir() string { return s.dir }

// CacheDir returns the download cache of a repository: verified files
// named by checksum, kept until every mirror has them.
func (s *Store) CacheDir(repo string) string { return filepath.Join(s.dir, "cache", repo) }

// TempDir is the directory of state_dir, relative to Dir, where files
// are staged for the moments before they are stored elsewhere (the
// daemon's mirror lists, safefs.CreateTemp).
const TempDir = "tmp"

// RemoveStaleTemp removes the regular files of TempDir whose names start
// with prefix and that were last written more than age ago: what a
// process killed while staging left. Younger ones may be another
// process's, in use, and stay. It returns what it removed, and the errors
// it met, joined (a TempDir not made yet is none).
func (s *Store) RemoveStaleTemp(prefix string, age time.Duration) (removed []string, err error) {
	dir := filepath.Join(s.dir, TempDir)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", dir, err)
	}
	var errs []error
	for _, e := range ents {
		if !e.Type().IsRegular() || !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		fi, err := e.Info()
		if err != nil || time.Since(fi.ModTime()) < age {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, p)
	}
	return removed, errors.Join(errs...)
}

// IndexPath is where the index of what a mirror serves is kept: every
// package href of its revision with its checksum, so the next sync need
// not parse the mirror's primary metadata again.
func (s *Store) IndexPath(repo, mirror string) string {
	return filepath.Join(s.dir, "index", repo, mirror+".idx")
}

func (s *Store) rel(repo string) string { return "repos/" + repo + ".json" }

func (s *Store) path(repo string) string {
	return filepath.Join(s.dir, filepath.FromSlash(s.rel(repo)))
}

// Load returns the state of repo; a repository never synced has empty
// state. A damaged state file gives empty state and a *CorruptError.
func (s *Store) Load(repo string) (*Repo, error) {
	r := &Repo{Name: repo, Mirrors: map[string]*Mirror{}}
	b, err := s.read(s.rel(repo))
	if errors.Is(err, fs.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading state of %s: %w", repo, err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return r, &CorruptError{Path: s.path(repo), Err: errors.New("it is empty")}
	}
	if err := json.Unmarshal(b, r); err != nil {
		return &Repo{Name: repo, Mirrors: map[string]*Mirror{}}, &CorruptError{Path: s.path(repo), Err: err}
	}
	r.Name = repo
	if r.Mirrors == nil {
		r.Mirrors = map[string]*Mirror{}
	}
	return r, nil
}

// SetAside renames the state file of repo, damaged, out of the way (to
// repos/<repo>.json.damaged) so that it is kept for inspection and the
// next Load starts afresh. It returns the new name.
func (s *Store) SetAside(repo string) (string, error) {
	if err := safefs.Check(s.dir, s.rel(repo)); err != nil {
		return "", err
	}
	dst := s.path(repo) + ".damaged"
	if err := safefs.Check(s.dir, s.rel(repo)+".damaged"); err != nil {
		return "", err
	}
	if err := os.Rename(s.path(repo), dst); err != nil {
		return "", fmt.Errorf("setting damaged state of %s aside: %w", repo, err)
	}
	return dst, nil
}

// read returns the content of the file rel below the state directory,
// refusing a symlink on the way.
// readRecord reads the JSON record at rel into a new T: nil when there
// is none, an error naming what (as "the hold of REPO") when it cannot be
// read, and the file too when it does not decode.
func readRecord[T any](s *Store, rel, what string) (*T, error) {
	b, err := s.read(rel)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("reading %s from %s: %w", what, filepath.Join(s.dir, rel), err)
	}
	return &v, nil
}

// removeRecord removes the record at rel, never through a symlink on the
// way; one that is absent is not an error. what names it in the error.
func (s *Store) removeRecord(rel, what string) error {
	err := safefs.Check(s.dir, rel)
	if err == nil {
		err = os.Remove(filepath.Join(s.dir, filepath.FromSlash(rel)))
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing %s: %w", what, err)
	}
	return nil
}

func (s *Store) read(rel string) ([]byte, error) {
	f, err := safefs.OpenFile(s.dir, rel, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// Mirror returns the state of mirror m, adding it if absent.
func (r *Repo) Mirror(m string) *Mirror {
	ms := r.Mirrors[m]
	if ms == nil {
		ms = &Mirror{}
		r.Mirrors[m] = ms
	}
	return ms
}

// AddRun appends run, keeping the newest MaxRuns.
func (r *Repo) AddRun(run Run) {
	r.Runs = append(r.Runs, run)
	if n := len(r.Runs); n > MaxRuns {
		r.Runs = append([]Run(nil), r.Runs[n-MaxRuns:]...)
	}
}

// LastRun returns the newest run, or nil.
func (r *Repo) LastRun() *Run {
	if len(r.Runs) == 0 {
		return nil
	}
	return &r.Runs[len(r.Runs)-1]
}

// Save writes r atomically.
func (s *Store) Save(r *Repo) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := safefs.WriteFile(s.dir, s.rel(r.Name), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("saving state of %s: %w", r.Name, err)
	}
	return nil
}

// writeRecord writes v as indented JSON to the state_dir's dir/NAME.json
// file rel, atomically and never through a symlink, creating dir if
// needed; durable, made durable too (safefs.WriteFile), else only renamed
// into place (safefs.Stage). what names the record in errors ("the hold
// of demo").
func (s *Store) writeRecord(dir, rel string, v any, durable bool, what string) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := safefs.MkdirAll(s.dir, dir, 0o755); err != nil {
		return fmt.Errorf("saving %s: %w", what, err)
	}
	write := safefs.Stage
	if durable {
		write = safefs.WriteFile
	}
	if err := write(s.dir, rel, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("saving %s: %w", what, err)
	}
	return nil
}

// Repos lists the repositories that have state, sorted.
func (s *Store) Repos() ([]string, error) { return s.recordNames("repos") }

// recordNames lists, sorted, the repositories dir (of the state_dir) has
// a record of: its files named REPO.json.
func (s *Store) recordNames(dir string) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(s.dir, dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".json"); ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names, nil
}

// LockWithin is Lock, trying again every few milliseconds for up to wait
// while another process holds the lock, until ctx ends: for a sync,
// rollback, resume or repair, which a daemon glancing at the lock must not
// turn away (rpmirror serve takes it for a moment to learn whether a
// rollback is alive, or whether a process it follows is done).
// A lock held longer (a sync) still fails with ErrLocked, after wait.
func (s *Store) LockWithin(ctx context.Context, repo string, wait time.Duration) (unlock func(), err error) {
	deadline := time.Now().Add(wait)
	for {
		unlock, err := s.Lock(repo)
		if !errors.Is(err, ErrLocked) || !time.Now().Before(deadline) {
			return unlock, err
		}
		t := time.NewTimer(lockRetry)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
	}
}

// lockRetry is how long LockWithin waits between tries.
const lockRetry = 5 * time.Millisecond

// Lock takes the exclusive lock of repo, or fails at once with an error
// wrapping ErrLocked when another process holds it.
func (s *Store) Lock(repo string) (unlock func(), err error) {
	unlock, pid, err := safefs.Lock(s.dir, "locks/"+repo+".lock")
	if errors.Is(err, safefs.ErrHeld) {
		// Callers name the repo; the message is the one docs/operations.md
		// quotes ("demo: demo (pid N): ..." said the name twice).
		if pid == "" {
			return nil, ErrLocked
		}
		return nil, fmt.Errorf("%w (pid %s)", ErrLocked, pid)
	}
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", repo, err)
	}
	return unlock, nil
}
