package sync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	gosync "sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"golang.org/x/sync/errgroup"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/fetch"
	"github.com/rpmirror/rpmirror/internal/safefs"
	"github.com/rpmirror/rpmirror/repodata"
	"github.com/rpmirror/rpmirror/source"
	"github.com/rpmirror/rpmirror/state"
	"github.com/rpmirror/rpmirror/target"
	"github.com/rpmirror/rpmirror/target/targets"
	"github.com/rpmirror/rpmirror/verify"
)

// Paths of the files every repository has at a fixed name.
const (
	RepomdPath = source.RepomdPath
	AscPath    = source.AscPath
	KeyPath    = source.KeyPath

	// MaxRepomdSize bounds what is read of a repomd.xml (and its .asc and
	// .key): real ones are a few kilobytes.
	MaxRepomdSize = source.MaxRepomdSize
)

// Files rpmirror writes into a written mirror besides what the origin
// publishes: the mirror lists of rpmirror serve. No package or metadata
// file may be published under these names (nor under .rpmirror, which
// target.CheckPath refuses).
const (
	MirrorlistPath = "mirrorlist"
	MetalinkPath   = "metalink.xml"
)

// ReservedPathError reports a package or metadata location at a path that
// rpmirror writes itself, or that the same revision uses for another file.
type ReservedPathError struct {
	Href  string
	Owner string // what rpmirror keeps there
}

func (e *ReservedPathError) Error() string {
	return fmt.Sprintf("location %q is where rpmirror keeps %s: refused", e.Href, e.Owner)
}

// ConflictError reports metadata that lists one location twice with
// different content.
type ConflictError struct {
	File  string // the metadata file, e.g. repodata/repomd.xml
	Href  string
	First string // checksum and size of the first entry
	Then  string // and of the second
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s lists %s twice with different content (%s, then %s): refused", e.File, e.Href, e.First, e.Then)
}

// reservedOwner says what rpmirror keeps at p, or "" when p is free for
// an origin's file.
func reservedOwner(p string) string {
	switch p {
	case RepomdPath:
		return "the repository's repomd.xml"
	case AscPath:
		return "repomd.xml's signature"
	case KeyPath:
		return "repomd.xml's key"
	case MirrorlistPath:
		return "the mirrorlist rpmirror serve writes"
	case MetalinkPath:
		return "the metalink rpmirror serve writes"
	}
	return snapshotOwner(p)
}

func describe(c repodata.Checksum, size int64) string {
	if size < 0 {
		return c.String()
	}
	return fmt.Sprintf("%s, %d bytes", c, size)
}

// Options configure an Engine.
type Options struct {
	Store       *state.Store
	Fetcher     *fetch.Fetcher
	Logger      *slog.Logger
	Concurrency int  // packages downloaded at once (default 4)
	DryRun      bool // plan and report, change nothing
	// Now returns the current time; tests set it to move the clock.
	Now func() time.Time
	// Progress, when set, is updated as packages are planned and fetched.
	Progress *Progress
	// OpenTarget opens a written mirror (default: targets.Open).
	OpenTarget func(context.Context, config.Mirror) (target.Target, error)
	// MaxMetadataSize caps what any metadata file may hold once
	// decompressed (default config.DefaultMaxMetadataSize).
	MaxMetadataSize int64
	// OnVerified, when set, is called with the repository's verified
	// revisions each time a sync adds one, before any mirror is changed:
	// a daemon judging mirrors learns of the new revision before a mirror
	// serves it.
	OnVerified func(*state.Verified)
}

// Progress counts a sync's work as it happens, for a live display.
// BytesDone is counted by the Fetcher (CountingTo) as bytes arrive.
//
// Every counter is this repository's alone, even when several repositories
// are synced at once through one Fetcher.
type Progress struct {
	Repo          atomic.Pointer[string]
	Phase         atomic.Pointer[string] // metadata, planning, fetching, publishing, done
	PackagesTotal atomic.Int64           // packages to fetch, known once planned
	PackagesDone  atomic.Int64           // of those, fetched and verified
	BytesTotal    atomic.Int64           // the sizes of the packages to fetch
	BytesDone     atomic.Int64           // package bytes received (metadata not counted)
}

func (p *Progress) set(repo, phase string) {
	if p == nil {
		return
	}
	p.Repo.Store(&repo)
	p.Phase.Store(&phase)
}

// Engine syncs repositories. One Engine may sync several repositories one
// after another or at once; a repository is never synced twice at once
// (state.Store.Lock).
type Engine struct {
	opts Options
	log  *slog.Logger
}

// New returns an Engine.
func New(opts Options) *Engine {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxMetadataSize <= 0 {
		opts.MaxMetadataSize = config.DefaultMaxMetadataSize
	}
	if opts.OpenTarget == nil {
		opts.OpenTarget = targets.Open
	}
	return &Engine{opts: opts, log: opts.Logger}
}

// Report is what one sync of one repository did, or in a dry run would do.
type Report struct {
	Repo     string
	Revision string // the origin's repomd revision
	Repomd   []byte // the origin's repomd.xml as fetched
	Start    time.Time
	Duration time.Duration
	NoChange bool // every mirror was already current
	DryRun   bool
	// RevisionVerified is set when the origin's revision (Repomd) is
	// verified: its metadata and every package passed their checks, in
	// this sync or an earlier one. It is then the current revision
	// (state.Verified).
	RevisionVerified bool

	Fetched      int   // packages downloaded
	Bytes        int64 // bytes downloaded, metadata included (in a dry run: the metadata it read)
	PackageBytes int64 // of Bytes, those of packages
	Verified     int   // packages verified

	Mirrors []*MirrorReport
	Err     error

	// What the plan says must be fetched (origin-relative paths) and
	// their declared sizes; a dry run stops there. A sync that starts
	// afresh then fetches len(WouldFetch) packages, WouldFetchBytes bytes
	// of them, and publishes and deletes what the dry run's MirrorReports
	// list.
	WouldFetch      []string
	WouldFetchBytes int64

	// Upstreams says what became of each of the origin's upstreams: the
	// one the metadata came from, those skipped and why, those that
	// served files of the same revision. Empty when the sync failed
	// before the origin was read.
	Upstreams []source.Status
	// Skipped is set when no upstream was usable (Err then matches
	// source.ErrNoUsableUpstream) because none answered or served
	// readable metadata matching the metalink: the sync changed nothing
	// and is skipped, not failed; Upstreams says why for each. When an
	// upstream's revision was refused (a rollback, a bad signature) the
	// sync fails instead.
	Skipped bool
}

// MirrorReport is what a sync did to one mirror.
type MirrorReport struct {
	Name      string
	UpToDate  bool     // it was current before the sync
	Published int      // files made visible
	Deleted   int      // files pruned
	Err       error    // this mirror failed (the repository's Err says so too)
	Publish   []string // in a dry run: what would be published
	Delete    []string // in a dry run: what would be deleted
}

// mirror is one written mirror during a sync.
type mirror struct {
	cfg    config.Mirror
	tg     target.Target
	unlock func()
	rep    *MirrorReport
	st     *state.Mirror

	cur, curAsc, curKey []byte            // what it serves now (nil: absent)
	curMd               *repodata.Repomd  // nil when absent or unparsable
	index               map[string]string // href -> checksum string of its current primary; nil when unknown

	puts      []*repodata.Package // lacking, at paths the served revision does not use
	conflicts []*repodata.Package // lacking, at paths the served revision uses with other content

	// verifyOnly marks the stand-in of a repository with no written
	// mirror: its index is that of the current verified revision, and
	// nothing is published to it.
	verifyOnly bool
}

func (m *mirror) upToDate(repomd, asc, key []byte) bool {
	return m.cur != nil && bytes.Equal(m.cur, repomd) && bytes.Equal(m.curAsc, asc) && bytes.Equal(m.curKey, key)
}

// serves reports whether the revision m serves now uses path p: a
// package its primary lists or one of its metadata files. Such a path is
// only ever written by the atomic commit.
func (m *mirror) serves(p string) bool {
	if _, ok := m.index[p]; ok {
		return true
	}
	if reservedOwner(p) != "" {
		return true
	}
	if m.curMd != nil {
		for _, d := range m.curMd.Data {
			if d.Href == p {
				return true
			}
		}
	}
	return false
}

// hasMeta reports whether the mirror serves d already: its repomd.xml
// names the same file with the same checksum, so the file is there and
// was verified when published.
func (m *mirror) hasMeta(d repodata.Data) bool {
	if m.curMd == nil {
		return false
	}
	for _, c := range m.curMd.Data {
		if c.Href == d.Href && c.Checksum == d.Checksum {
			return true
		}
	}
	return false
}

// ErrInterrupted is matched (errors.Is) by the Err of a sync, and of its
// mirrors, that stopped because its context ended (Ctrl-C, SIGTERM, a
// daemon shutting down) rather than because something failed. Such an
// error also matches the context's error (context.Canceled) and says only
// "interrupted": what was in flight when it stopped is no failure.
var ErrInterrupted = errors.New("interrupted")

type interruptedError struct{ ctxErr error }

func (e *interruptedError) Error() string        { return ErrInterrupted.Error() }
func (e *interruptedError) Is(target error) bool { return target == ErrInterrupted }
func (e *interruptedError) Unwrap() error        { return e.ctxErr }

// Sync brings every written mirror of repo up to date with its origin. It
// never returns nil; the Report's Err says whether the sync failed, or
// matches ErrInterrupted when ctx ended before it finished.
func (e *Engine) Sync(ctx context.Context, repo *config.Repo) *Report {
	rep := &Report{Repo: repo.Name, Start: e.opts.Now(), DryRun: e.opts.DryRun}
	log := e.log.With("repo", repo.Name)
	s := &run{e: e, repo: repo, rep: rep, log: log}
	rep.Err = s.sync(ctx)
	if s.src != nil {
		rep.Bytes += s.src.Bytes()
		rep.Upstreams = s.src.Status()
	}
	if rep.Err != nil && ctx.Err() != nil {
		// Whatever was in flight failed because of the cancellation.
		rep.Err = &interruptedError{ctx.Err()}
		for _, m := range rep.Mirrors {
			if m.Err != nil {
				m.Err = rep.Err
			}
		}
	}
	e.opts.Progress.set(repo.Name, "done")
	rep.Duration = e.opts.Now().Sub(rep.Start)
	s.finish(ctx)
	return rep
}

// ref is what primary metadata says a package location holds.
type ref struct {
	sum  repodata.Checksum
	size int64
}

// run is the state of one sync of one repository.
type run struct {
	e    *Engine
	repo *config.Repo
	rep  *Report
	log  *slog.Logger

	st       *state.Repo
	verified *state.Verified
	sample   []string       // package hrefs sampled while planning
	planned  int            // packages seen while planning
	src      *source.Source // the origin: its upstreams, TLS and credentials
	keyring  openpgp.EntityList
	// repoKeyring checks repomd.xml.asc; nil unless repo_gpgcheck is set.
	repoKeyring openpgp.EntityList
	mirrors     []*mirror // written mirrors
	cache       string

	repomd, asc, key []byte
	md               *repodata.Repomd
	index            string            // the new revision's index (href, checksum), written while planning
	metaLocal        map[string]string // data href -> local file with its verified content
	referenced       map[string]ref    // package href -> what the primary says is there
	fetched          map[string]string // package href -> verified local file
	publishing       bool              // every package is fetched; mirrors are being written
}

func (s *run) now() time.Time { return s.e.opts.Now() }

func (s *run) sync(ctx context.Context) (err error) {
	store := s.e.opts.Store
	if !s.e.opts.DryRun {
		unlock, err := store.Lock(s.repo.Name)
		if err != nil {
			return err
		}
		defer unlock()
	}
	st, err := store.Load(s.repo.Name)
	var corrupt *state.CorruptError
	if errors.As(err, &corrupt) {
		// The mirrors are the truth: what they serve is read from them
		// below; the history of runs and the files waiting to be pruned
		// are lost (those files stay until removed by hand).
		kept := ""
		if !s.e.opts.DryRun {
			if kept, err = store.SetAside(s.repo.Name); err != nil {
				return err
			}
		}
		s.log.Warn("the state file is damaged; rebuilding it from what the mirrors serve and going on", "file", corrupt.Path, "err", corrupt.Err, "kept_as", kept)
		err = nil
	}
	if err != nil {
		return err
	}
	s.st = st
	if s.verified, err = store.LoadVerified(s.repo.Name); err != nil {
		return err
	}
	if s.src, err = source.Configured(s.repo, source.Options{Fetcher: s.e.opts.Fetcher, Logger: s.log}); err != nil {
		return err
	}
	if len(s.repo.GPGKeys) > 0 {
		if s.keyring, err = verify.LoadKeyring(s.repo.GPGKeys...); err != nil {
			return err
		}
	}
	if s.repo.RepoGPGCheck {
		if s.repoKeyring, err = verify.LoadKeyring(s.repo.RepoGPGKeys...); err != nil {
			return err
		}
	}
	defer s.closeMirrors()
	defer func() {
		if err != nil {
			s.reclaim(ctx, err) // while the mirrors are still locked
		}
	}()
	if err := s.openMirrors(ctx); err != nil {
		return err
	}
	if err := s.seedVerified(); err != nil {
		return err
	}
	s.e.opts.Progress.set(s.repo.Name, "metadata")
	if err := s.fetchRepomd(ctx); err != nil {
		return err
	}
	digest := sha256Hex(s.repomd)
	if cur := s.verified.Current(); cur != nil && cur.SHA256 == digest {
		s.rep.RevisionVerified = true
	}
	if len(s.mirrors) == 0 {
		return s.verifyOnly(ctx)
	}
	var behind []*mirror
	for _, m := range s.mirrors {
		if m.upToDate(s.repomd, s.asc, s.key) {
			m.rep.UpToDate = true
			if !s.e.opts.DryRun {
				m.st.CheckedAt = s.now()
			}
			s.pruneExpired(ctx, m)
			if err := s.snapshot(ctx, m, m.curMd, s.servedPackages(ctx, m)); err != nil {
				m.rep.Err = err
				s.log.Error("keeping snapshots failed", "mirror", m.cfg.Name, "err", err)
			}
			continue
		}
		behind = append(behind, m)
	}
	if len(behind) == 0 {
		if !s.rep.RevisionVerified && !s.e.opts.DryRun {
			// Every mirror serves it already: rpmirror published it, so
			// it was verified then (state from before verified revisions
			// were kept, or a revision the origin went back to).
			if err := s.recordVerified(); err != nil {
				return err
			}
		}
		s.rep.NoChange = true
		s.log.Info("mirrors are current", "revision", s.md.Revision)
		return s.mirrorErrors()
	}
	if s.e.opts.DryRun {
		dir, err := os.MkdirTemp("", "rpmirror-dry-run-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		s.cache = dir
	} else {
		s.cache = store.CacheDir(s.repo.Name)
		rel, err := filepath.Rel(store.Dir(), s.cache)
		if err != nil {
			return err
		}
		if err := safefs.MkdirAll(store.Dir(), rel, 0o755); err != nil {
			return fmt.Errorf("download cache: %w", err)
		}
	}
	if err := s.fetchMetadata(ctx, behind); err != nil {
		return err
	}
	s.e.opts.Progress.set(s.repo.Name, "planning")
	if err := s.plan(ctx, behind); err != nil {
		return err
	}
	if s.e.opts.DryRun {
		return s.dryRun(ctx, behind)
	}
	s.e.opts.Progress.set(s.repo.Name, "fetching")
	if err := s.fetchPackages(ctx, behind); err != nil {
		return err
	}
	// Every package of the revision is verified now: fetched and checked
	// in this sync, or served by each behind mirror after an earlier
	// check. The revision becomes current before any mirror serves it.
	if err := s.recordVerified(); err != nil {
		return err
	}
	// Downloads are not fsynced one by one: one syncfs makes every file
	// in the cache durable before any mirror names it.
	if err := fetch.SyncFS(s.cache); err != nil {
		return fmt.Errorf("making the downloads in %s durable: %w", s.cache, err)
	}
	s.e.opts.Progress.set(s.repo.Name, "publishing")
	s.publishing = true
	failed := false
	for _, m := range behind {
		if err := s.publish(ctx, m); err != nil {
			m.rep.Err = err
			failed = true
			s.log.Error("publishing failed", "mirror", m.cfg.Name, "err", err)
		} else if err := s.snapshot(ctx, m, s.md, s.publishedPackages); err != nil {
			m.rep.Err = err
			s.log.Error("keeping snapshots failed", "mirror", m.cfg.Name, "err", err)
		}
	}
	if !failed {
		// Every mirror has every file now; the cache has done its job.
		if err := os.RemoveAll(s.cache); err != nil {
			s.log.Warn("cleaning download cache", "dir", s.cache, "err", err)
		}
	}
	return s.mirrorErrors()
}

// verifyOnly verifies the origin's revision of a repository that has no
// written mirror (only probe-only ones), so that it has verified
// revisions to judge those mirrors against: metadata, signatures and
// every package, fetched into the cache and deleted once verified. Only
// packages that the current verified revision does not name with the same
// checksum are fetched (the index of that revision is kept in state_dir).
//
// The origin's repomd.xml has been read and checked (its signature with
// repo_gpgcheck) as for any sync.
func (s *run) verifyOnly(ctx context.Context) error {
	store := s.e.opts.Store
	cur := s.verified.Current()
	digest := sha256Hex(s.repomd)
	if s.rep.RevisionVerified {
		s.rep.NoChange = true
		s.log.Info("revision already verified", "revision", s.md.Revision)
		return nil
	}
	if s.e.opts.DryRun {
		s.log.Info("dry run: the origin's revision would be verified (no written mirror)", "revision", s.md.Revision)
		return nil
	}
	vm := &mirror{cfg: config.Mirror{Name: "(verify only)"}, rep: &MirrorReport{}, verifyOnly: true}
	idxRel, _ := filepath.Rel(store.Dir(), store.VerifiedIndexPath(s.repo.Name))
	if cur != nil {
		if idx, err := readIndex(store.Dir(), idxRel, cur.SHA256); err == nil {
			vm.index = idx
		}
	}
	s.cache = store.CacheDir(s.repo.Name)
	defer func() {
		if err := os.RemoveAll(s.cache); err != nil {
			s.log.Warn("cleaning download cache", "dir", s.cache, "err", err)
		}
	}()
	behind := []*mirror{vm}
	if err := s.fetchMetadata(ctx, behind); err != nil {
		return err
	}
	s.e.opts.Progress.set(s.repo.Name, "planning")
	if err := s.plan(ctx, behind); err != nil {
		return err
	}
	s.e.opts.Progress.set(s.repo.Name, "fetching")
	if err := s.fetchPackages(ctx, behind); err != nil {
		return err
	}
	if err := saveIndex(s.index, store.Dir(), idxRel, digest); err != nil {
		s.log.Warn("saving the index of the verified revision; the next new revision is verified in full", "err", err)
	}
	return s.recordVerified()
}

// sha256Hex returns the hex sha256 digest of b.
func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// checkRollback refuses an origin whose repomd.xml is older than the
// current revision, unless the repo allows rollback: one rpmirror verified
// before the current one (a replay), or one whose numeric <revision> or
// newest <timestamp> is older than the current revision's. The current
// revision is the newest verified one; before any is recorded (a dry run
// on old state), the one the mirrors were last published with.
func (s *run) checkRollback(snap *source.Snapshot) error {
	if s.repo.AllowRollback {
		return nil
	}
	digest := snap.SHA256
	var cur []byte
	if c := s.verified.Current(); c != nil {
		if c.SHA256 == digest {
			return nil
		}
		cur = c.Repomd
	} else {
		var newest *mirror
		for _, m := range s.mirrors {
			if m.cur != nil && m.st.RepomdSHA256 == sha256Hex(m.cur) && (newest == nil || m.st.PublishedAt.After(newest.st.PublishedAt)) {
				newest = m
			}
		}
		if newest == nil || bytes.Equal(newest.cur, snap.Repomd) {
			return nil
		}
		cur = newest.cur
	}
	curMd, err := repodata.ParseRepomd(cur)
	if err != nil {
		// Not expected: it parsed when it was verified. Nothing to
		// compare with.
		s.log.Warn("the current revision's repomd.xml does not parse; rollback not checked", "err", err)
		return nil
	}
	rb := &RollbackError{
		Origin:           fetch.Redact(snap.Upstream.URL),
		Revision:         snap.MD.Revision,
		CurrentRevision:  curMd.Revision,
		Timestamp:        newestTimestamp(snap.MD),
		CurrentTimestamp: newestTimestamp(curMd),
	}
	switch {
	case s.verified.Find(digest) > 0:
		rb.Replay = true
	case olderRevision(snap.MD.Revision, curMd.Revision):
	case !rb.Timestamp.IsZero() && rb.Timestamp.Before(rb.CurrentTimestamp):
	default:
		return nil
	}
	return rb
}

// newestTimestamp is the newest <timestamp> of md's data, zero when none
// has one.
func newestTimestamp(md *repodata.Repomd) time.Time {
	var n int64
	for _, d := range md.Data {
		n = max(n, d.Timestamp)
	}
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(n, 0)
}

// olderRevision reports whether revision a is older than b. Revisions are
// compared only when both are whole numbers (createrepo_c writes the Unix
// time by default); anything else is not ordered.
func olderRevision(a, b string) bool {
	x, errA := strconv.ParseUint(a, 10, 64)
	y, errB := strconv.ParseUint(b, 10, 64)
	return errA == nil && errB == nil && x < y
}

// seedVerified makes the revision a written mirror serves the current
// verified revision when none is known yet and rpmirror published it (its
// state records that digest): state from before verified revisions were
// kept.
func (s *run) seedVerified() error {
	if s.e.opts.DryRun || s.verified.Current() != nil {
		return nil
	}
	var best *mirror
	for _, m := range s.mirrors {
		if m.cur == nil || m.curMd == nil || m.st.RepomdSHA256 != sha256Hex(m.cur) {
			continue
		}
		if best == nil || m.st.PublishedAt.After(best.st.PublishedAt) {
			best = m
		}
	}
	if best == nil {
		return nil
	}
	s.verified.Add(state.Revision{Revision: best.curMd.Revision, SHA256: best.st.RepomdSHA256, Repomd: best.cur}, s.now(), s.repo.MaxLag)
	s.log.Info("verified revisions: starting from the one published last", "revision", best.curMd.Revision, "mirror", best.cfg.Name)
	return s.saveVerified()
}

// recordVerified makes the origin's revision the current verified one.
func (s *run) recordVerified() error {
	rev := state.Revision{Revision: s.md.Revision, SHA256: sha256Hex(s.repomd), Repomd: s.repomd, Packages: s.sample}
	if s.verified.Add(rev, s.now(), s.repo.MaxLag) {
		if err := s.saveVerified(); err != nil {
			return err
		}
		s.log.Info("revision verified", "revision", s.md.Revision)
	}
	s.rep.RevisionVerified = true
	return nil
}

func (s *run) saveVerified() error {
	if err := s.e.opts.Store.SaveVerified(s.verified); err != nil {
		return err
	}
	if s.e.opts.OnVerified != nil {
		v := *s.verified
		v.Revisions = slices.Clone(v.Revisions)
		s.e.opts.OnVerified(&v)
	}
	return nil
}

// SamplePackages is how many package hrefs of a verified revision are
// kept for probes to check (state.Revision.Packages).
const SamplePackages = 64

// samplePackage keeps href in a uniform sample of SamplePackages of the
// packages planned (reservoir sampling).
func (s *run) samplePackage(href string) {
	s.planned++
	if len(s.sample) < SamplePackages {
		s.sample = append(s.sample, href)
	} else if i := rand.IntN(s.planned); i < SamplePackages {
		s.sample[i] = href
	}
}

func (s *run) mirrorErrors() error {
	var errs []error
	for _, m := range s.mirrors {
		if m.rep.Err != nil {
			errs = append(errs, fmt.Errorf("mirror %s: %w", m.cfg.Name, m.rep.Err))
		}
	}
	return errors.Join(errs...)
}

func (s *run) openMirrors(ctx context.Context) error {
	for _, mc := range s.repo.Mirrors {
		if !mc.Written() {
			continue
		}
		m := &mirror{cfg: mc, rep: &MirrorReport{Name: mc.Name}}
		s.rep.Mirrors = append(s.rep.Mirrors, m.rep)
		if s.e.opts.DryRun {
			m.st = &state.Mirror{}
			if prev := s.st.Mirrors[mc.Name]; prev != nil {
				*m.st = *prev
			}
			if _, err := os.Stat(mc.Path); err != nil {
				// A dry run creates nothing: a missing mirror is empty.
				s.mirrors = append(s.mirrors, m)
				continue
			}
		} else {
			m.st = s.st.Mirror(mc.Name)
		}
		tg, err := s.e.opts.OpenTarget(ctx, mc)
		if err != nil {
			return fmt.Errorf("mirror %s: %w", mc.Name, err)
		}
		m.tg = tg
		if !s.e.opts.DryRun {
			unlock, err := tg.Lock(ctx)
			if err != nil {
				return fmt.Errorf("mirror %s: %w", mc.Name, err)
			}
			m.unlock = unlock
			if err := safefs.Check(s.e.opts.Store.Dir(), s.indexRel(m)); err != nil {
				return fmt.Errorf("mirror %s: its index: %w", mc.Name, err)
			}
		}
		s.mirrors = append(s.mirrors, m)
		if m.cur, err = readOptional(ctx, tg, RepomdPath); err != nil {
			return fmt.Errorf("mirror %s: %w", mc.Name, err)
		}
		if m.curAsc, err = readOptional(ctx, tg, AscPath); err != nil {
			return fmt.Errorf("mirror %s: %w", mc.Name, err)
		}
		if m.curKey, err = readOptional(ctx, tg, KeyPath); err != nil {
			return fmt.Errorf("mirror %s: %w", mc.Name, err)
		}
		if m.cur != nil {
			md, err := repodata.ParseRepomd(m.cur)
			if err != nil {
				// Not fatal: the sync replaces it. Every existing file is
				// then treated as possibly in use.
				s.log.Warn("mirror's repomd.xml does not parse; it will be replaced", "mirror", mc.Name, "err", err)
			} else {
				m.curMd = md
				s.rebuildState(ctx, m)
			}
		}
	}
	return nil
}

// rebuildState fills in what m's state lacks and the mirror itself tells
// (after the state was lost or damaged): the revision it serves, that
// repomd.xml's digest, and when it was published (its modification time).
func (s *run) rebuildState(ctx context.Context, m *mirror) {
	if m.st.RepomdSHA256 != "" || s.e.opts.DryRun {
		return
	}
	sum := sha256.Sum256(m.cur)
	m.st.Revision, m.st.RepomdSHA256 = m.curMd.Revision, hex.EncodeToString(sum[:])
	if info, err := m.tg.Stat(ctx, RepomdPath); err == nil {
		m.st.PublishedAt = info.ModTime.UTC()
	}
}

// reclaim gives back the staging space of a failed sync, so that a sync
// that failed for want of space does not leave less space for the next:
// packages stored in a mirror for the revision that was not published
// (at paths its served revision does not use) are removed, and after
// ENOSPC the download cache too, its partial downloads included. An
// interrupted sync (cancelled) keeps everything: it is not a failure, and
// the next run takes up where it stopped.
func (s *run) reclaim(ctx context.Context, cause error) {
	if s.e.opts.DryRun || ctx.Err() != nil || errors.Is(cause, context.Canceled) {
		return
	}
	ctx = context.WithoutCancel(ctx)
	for _, m := range s.mirrors {
		if m.tg == nil || len(m.st.Unpublished) == 0 {
			continue
		}
		paths := make([]string, 0, len(m.st.Unpublished))
		for p := range m.st.Unpublished {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		removed := 0
		for _, p := range paths {
			if m.serves(p) {
				delete(m.st.Unpublished, p)
				continue
			}
			if err := m.tg.Remove(ctx, p); err != nil {
				s.log.Warn("removing a package stored for the revision that was not published", "mirror", m.cfg.Name, "path", p, "err", err)
				continue
			}
			delete(m.st.Unpublished, p)
			removed++
		}
		if removed > 0 {
			s.log.Info("removed the packages stored for the revision that was not published", "mirror", m.cfg.Name, "files", removed)
		}
	}
	// The cache goes when it is what filled up (the failure came before
	// publishing), or when it shares a filesystem with a mirror: there its
	// files are hard links to the packages stored, which free nothing
	// while the cache holds them.
	if errors.Is(cause, syscall.ENOSPC) && s.cache != "" && (!s.publishing || s.cacheSharesDevice()) {
		if err := os.RemoveAll(s.cache); err != nil {
			s.log.Warn("emptying the download cache after running out of space", "dir", s.cache, "err", err)
		} else {
			s.log.Info("emptied the download cache after running out of space; the next sync downloads what it needs again", "dir", s.cache)
		}
	}
}

// cacheSharesDevice reports whether the download cache is on the
// filesystem of a written mirror.
func (s *run) cacheSharesDevice() bool {
	dev := func(p string) (uint64, bool) {
		var st syscall.Stat_t
		if syscall.Stat(p, &st) != nil {
			return 0, false
		}
		return uint64(st.Dev), true
	}
	c, ok := dev(s.cache)
	if !ok {
		return false
	}
	for _, m := range s.mirrors {
		if d, ok := dev(m.cfg.Path); ok && d == c {
			return true
		}
	}
	return false
}

func (s *run) closeMirrors() {
	for _, m := range s.mirrors {
		if m.unlock != nil {
			m.unlock()
		}
	}
}

func readOptional(ctx context.Context, tg target.Target, p string) ([]byte, error) {
	if tg == nil {
		return nil, nil
	}
	rc, err := tg.Open(ctx, p)
	if errors.Is(err, target.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, MaxRepomdSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	if len(b) > MaxRepomdSize {
		return nil, fmt.Errorf("reading %s: larger than %d bytes", p, MaxRepomdSize)
	}
	return b, nil
}

// fetchRepomd takes the origin's repomd.xml and, when the upstream has
// them, its detached signature and key, from the first usable upstream
// (see source.Source.Choose): every metadata file of the sync then comes
// from that upstream, and packages from it or another serving the same
// revision.
func (s *run) fetchRepomd(ctx context.Context) error {
	if err := s.src.Load(ctx); err != nil {
		s.rep.Skipped = skipped(err)
		return err
	}
	var refused *source.Snapshot // the first upstream's revision refused
	snap, err := s.src.Choose(ctx, func(snap *source.Snapshot) (err error) {
		defer func() {
			if err != nil && refused == nil {
				refused = snap
			}
		}()
		seen := make(map[string]repodata.Data, len(snap.MD.Data))
		for _, d := range snap.MD.Data {
			if err := s.checkLocation(d.Href, d.Base); err != nil {
				return fmt.Errorf("%s: %w", d.Type, err)
			}
			if owner := reservedOwner(d.Href); owner != "" {
				return fmt.Errorf("%s: %w", d.Type, &ReservedPathError{Href: d.Href, Owner: owner})
			}
			if err := s.checkStrength(d.Checksum); err != nil {
				return fmt.Errorf("%s: %w", d.Type, err)
			}
			if prev, ok := seen[d.Href]; ok && (prev.Checksum != d.Checksum || prev.Size != d.Size) {
				return &ConflictError{File: RepomdPath, Href: d.Href, First: describe(prev.Checksum, prev.Size), Then: describe(d.Checksum, d.Size)}
			}
			seen[d.Href] = d
		}
		if err := s.checkRepomdSignature(snap); err != nil {
			return err
		}
		// An upstream older than the current revision is refused unless
		// allow_rollback: the next may serve the current one.
		return s.checkRollback(snap)
	})
	if err != nil {
		s.rep.Skipped = skipped(err)
		if refused != nil && !s.rep.Skipped {
			// The report names the revision that was refused.
			s.rep.Revision, s.rep.Repomd = refused.MD.Revision, refused.Repomd
		}
		return err
	}
	s.repomd, s.asc, s.key, s.md = snap.Repomd, snap.Asc, snap.Key, snap.MD
	s.rep.Revision, s.rep.Repomd = snap.MD.Revision, snap.Repomd
	return nil
}

// skipped reports whether a sync that met err is skipped rather than
// failed: no upstream was usable because none answered, or none served
// readable metadata matching the metalink. An upstream whose revision was
// refused (a rollback, a bad signature, unsafe metadata) fails the sync.
func skipped(err error) bool {
	var nu *source.NoUsableUpstreamError
	return errors.As(err, &nu) && !nu.Refused()
}

// checkRepomdSignature refuses the origin's revision, with repo_gpgcheck,
// unless repomd.xml.asc is a valid signature over repomd.xml by one of
// repo_gpgkeys. It runs on each upstream's snapshot before it is chosen:
// an upstream whose signature fails is skipped for the next.
func (s *run) checkRepomdSignature(snap *source.Snapshot) error {
	if !s.repo.RepoGPGCheck {
		return nil
	}
	refused := func(err error) error {
		return &RepomdSignatureError{Origin: fetch.Redact(snap.Upstream.URL), Revision: snap.MD.Revision, Err: err}
	}
	if snap.Asc == nil {
		return refused(&verify.SignatureError{Reason: verify.ErrUnsigned, Detail: "the origin has no " + AscPath})
	}
	signer, err := verify.DetachedSignature(snap.Repomd, snap.Asc, s.repoKeyring)
	if err != nil {
		return refused(err)
	}
	s.log.Debug("repomd.xml signature verified", "signer", signer)
	return nil
}

// checkLocation refuses a location that could reach outside the mirror,
// or that points at another host unless the repo allows it.
func (s *run) checkLocation(href, base string) error {
	if base != "" {
		if !s.repo.FollowXMLBase {
			return fmt.Errorf("location %q has xml:base %q: files hosted elsewhere are refused (follow_xml_base: true fetches them from there)", href, base)
		}
		u, err := url.Parse(base)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			return fmt.Errorf("location %q: xml:base %q is not an http(s) URL", href, fetch.Redact(base))
		}
	}
	return checkHref(href, "")
}

// checkStrength refuses a checksum weaker than the repo's min_checksum.
func (s *run) checkStrength(c repodata.Checksum) error {
	if s.repo.MinChecksum != "" && config.WeakerThan(c.Type, s.repo.MinChecksum) {
		return fmt.Errorf("checksum type %s is weaker than min_checksum %s", c.Type, s.repo.MinChecksum)
	}
	return nil
}

// checkHref refuses a location that could reach outside the mirror or
// that points at another host.
func checkHref(href, base string) error {
	if base != "" {
		return fmt.Errorf("location %q has xml:base %q: packages hosted elsewhere are not mirrored", href, base)
	}
	if err := target.CheckPath(href); err != nil {
		return fmt.Errorf("unsafe location href: %w", err)
	}
	return nil
}

// cachePath names a verified download in the cache by its checksum.
func (s *run) cachePath(c repodata.Checksum) string {
	return filepath.Join(s.cache, c.Type+"-"+c.Value)
}

// fetchMetadata downloads and verifies each metadata file some behind
// mirror does not serve yet, and the primary metadata in any case.
func (s *run) fetchMetadata(ctx context.Context, behind []*mirror) error {
	s.metaLocal = map[string]string{}
	for _, d := range s.md.Data {
		needed := d.Type == "primary"
		for _, m := range behind {
			if !m.hasMeta(d) {
				needed = true
			}
		}
		if !needed {
			continue
		}
		dst := s.cachePath(d.Checksum)
		size := d.Size
		n, err := s.src.File(ctx, d.Href, d.Base, dst, size, func(r io.Reader) error {
			return verify.Content(r, size, d.Checksum)
		})
		s.rep.Bytes += n
		if err != nil {
			return fmt.Errorf("fetching %s: %w", d.Href, err)
		}
		s.metaLocal[d.Href] = dst
	}
	return nil
}

// openPrimary returns the uncompressed primary metadata of the origin.
func (s *run) openPrimary() (io.ReadCloser, *repodata.Data, error) {
	d, ok := s.md.Find("primary")
	if !ok {
		return nil, nil, fmt.Errorf("origin's %s lists no primary metadata", RepomdPath)
	}
	f, err := os.Open(s.metaLocal[d.Href])
	if err != nil {
		return nil, nil, err
	}
	dr, err := repodata.Decompress(f, d.Href)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", d.Href, err)
	}
	// Decompress on another core than the one that parses.
	r := readAhead(dr)
	capped, err := capMetadata(r, d, s.e.opts.MaxMetadataSize)
	if err != nil {
		r.Close()
		f.Close()
		return nil, nil, err
	}
	return &closeBoth{capped, f}, &d, nil
}

// capMetadata bounds what is read of a decompressed metadata file: at
// most its declared open-size (and its open-checksum must match, when
// given), and at most max bytes in any case, so that a decompression bomb
// costs an error, not hours of CPU.
func capMetadata(rc io.ReadCloser, d repodata.Data, max int64) (io.ReadCloser, error) {
	var r io.Reader = rc
	if d.OpenChecksum != nil {
		vr, err := verify.NewReader(r, d.OpenSize, *d.OpenChecksum)
		if err != nil {
			return nil, fmt.Errorf("%s: open-checksum: %w", d.Href, err)
		}
		r = vr
	} else if d.OpenSize >= 0 {
		r = &capReader{r: r, left: d.OpenSize, what: fmt.Sprintf("%s: more than its declared open-size of %d bytes once decompressed", d.Href, d.OpenSize)}
	}
	return &readCloser{&capReader{r: r, left: max, what: fmt.Sprintf("%s: more than max_metadata_size (%d bytes) once decompressed", d.Href, max)}, rc}, nil
}

// capReader returns an error, not EOF, when its source has more than
// left bytes.
type capReader struct {
	r    io.Reader
	left int64
	what string
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		var one [1]byte
		n, err := c.r.Read(one[:])
		if n > 0 {
			return 0, errors.New(c.what)
		}
		return 0, err
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

type readCloser struct {
	io.Reader
	c io.Closer
}

func (r *readCloser) Close() error { return r.c.Close() }

type closeBoth struct {
	io.ReadCloser
	f *os.File
}

func (c *closeBoth) Close() error {
	c.ReadCloser.Close()
	return c.f.Close()
}

// loadIndex reads the primary metadata a mirror serves now into a map of
// href to checksum. It returns nil when the mirror serves nothing or its
// metadata cannot be read: every existing file then counts as in use.
func (s *run) loadIndex(ctx context.Context, m *mirror) map[string]string {
	if m.curMd == nil {
		return nil
	}
	sum := sha256.Sum256(m.cur)
	if idx, err := readIndex(s.e.opts.Store.Dir(), s.indexRel(m), hex.EncodeToString(sum[:])); err == nil {
		return idx
	}
	d, ok := m.curMd.Find("primary")
	if !ok {
		return nil
	}
	idx, err := func() (map[string]string, error) {
		rc, err := m.tg.Open(ctx, d.Href)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		dr, err := repodata.Decompress(rc, d.Href)
		if err != nil {
			return nil, err
		}
		r, err := capMetadata(readAhead(dr), d, s.e.opts.MaxMetadataSize)
		if err != nil {
			dr.Close()
			return nil, err
		}
		defer r.Close()
		idx := map[string]string{}
		pr := repodata.NewPrimaryReader(r)
		for {
			p, err := pr.Next()
			if err == io.EOF {
				return idx, nil
			}
			if err != nil {
				return nil, err
			}
			idx[p.Href] = p.Checksum.String()
		}
	}()
	if err != nil {
		s.log.Warn("reading the primary metadata a mirror serves; treating its files as unknown", "mirror", m.cfg.Name, "err", err)
		return nil
	}
	return idx
}

// plan streams the origin's primary metadata and decides, for each behind
// mirror, which packages it lacks and whether each can be stored at once
// (a path the served revision does not use) or must wait for the atomic
// commit (a path it uses with other content).
func (s *run) plan(ctx context.Context, behind []*mirror) error {
	// Mirrors serving the same revision share one index.
	indexes := map[string]map[string]string{}
	for _, m := range behind {
		if m.verifyOnly {
			continue // its index is set already
		}
		key := string(m.cur)
		if idx, ok := indexes[key]; ok {
			m.index = idx
			continue
		}
		m.index = s.loadIndex(ctx, m)
		indexes[key] = m.index
	}
	rc, d, err := s.openPrimary()
	if err != nil {
		return err
	}
	defer rc.Close()
	pr := repodata.NewPrimaryReader(rc)
	s.referenced = map[string]ref{}
	metaHref := map[string]string{}
	for _, d := range s.md.Data {
		metaHref[d.Href] = d.Type
	}
	iw, err := newIndexWriter(s.cache, "index.tmp")
	if err != nil {
		return err
	}
	defer iw.abort()
	queued := map[string]bool{}
	prog := s.e.opts.Progress
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		p, err := pr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", d.Href, err)
		}
		if err := s.checkLocation(p.Href, p.Base); err != nil {
			return fmt.Errorf("%s: package %s: %w", d.Href, p.NEVRA(), err)
		}
		if err := s.checkStrength(p.Checksum); err != nil {
			return fmt.Errorf("%s: package %s: %w", d.Href, p.NEVRA(), err)
		}
		if owner := reservedOwner(p.Href); owner != "" {
			return fmt.Errorf("%s: package %s: %w", d.Href, p.NEVRA(), &ReservedPathError{Href: p.Href, Owner: owner})
		}
		if typ, ok := metaHref[p.Href]; ok {
			return fmt.Errorf("%s: package %s: %w", d.Href, p.NEVRA(), &ReservedPathError{Href: p.Href, Owner: "this revision's " + typ + " metadata"})
		}
		if prev, dup := s.referenced[p.Href]; dup {
			// Identical duplicates are common (createrepo_c's tests say
			// so) and dnf reads them: the file is published once.
			if prev.sum == p.Checksum && prev.size == p.Size {
				continue
			}
			return fmt.Errorf("%s: package %s: %w", d.Href, p.NEVRA(), &ConflictError{File: d.Href, Href: p.Href, First: describe(prev.sum, prev.size), Then: describe(p.Checksum, p.Size)})
		}
		s.referenced[p.Href] = ref{sum: p.Checksum, size: p.Size}
		s.samplePackage(p.Href)
		sum := p.Checksum.String()
		if err := iw.add(p.Href, sum); err != nil {
			return err
		}
		need := false
		for _, m := range behind {
			if m.index != nil && m.index[p.Href] == sum {
				continue // served now, so present and verified
			}
			present, err := s.presentVerified(ctx, m, p)
			if err != nil {
				return err
			}
			if present {
				continue
			}
			need = true
			if m.serves(p.Href) || (m.index == nil && m.tg != nil && exists(ctx, m.tg, p.Href)) {
				m.conflicts = append(m.conflicts, p)
			} else {
				m.puts = append(m.puts, p)
			}
		}
		if need && !queued[p.Href] {
			queued[p.Href] = true
			s.rep.WouldFetch = append(s.rep.WouldFetch, p.Href)
			s.rep.WouldFetchBytes += max(p.Size, 0)
			if prog != nil {
				prog.PackagesTotal.Add(1)
				prog.BytesTotal.Add(max(p.Size, 0))
			}
		}
	}
	if s.index, err = iw.finish(); err != nil {
		return err
	}
	s.log.Info("planned", "revision", s.md.Revision, "packages", len(s.referenced), "to_fetch", len(s.rep.WouldFetch), "bytes", s.rep.WouldFetchBytes)
	return nil
}

func exists(ctx context.Context, tg target.Target, p string) bool {
	_, err := tg.Stat(ctx, p)
	return err == nil
}

// presentVerified reports whether mirror m already has package p at its
// path with the right content, as after an interrupted sync that stored
// it but did not publish the metadata naming it.
func (s *run) presentVerified(ctx context.Context, m *mirror, p *repodata.Package) (bool, error) {
	if m.tg == nil {
		return false, nil
	}
	info, err := m.tg.Stat(ctx, p.Href)
	if err != nil || (p.Size >= 0 && info.Size != p.Size) {
		return false, nil // a package without a declared size is hashed
	}
	rc, err := m.tg.Open(ctx, p.Href)
	if err != nil {
		return false, nil
	}
	defer rc.Close()
	return verify.Content(rc, p.Size, p.Checksum) == nil, nil
}

// packages lists every package some behind mirror lacks, once each.
func (s *run) packages(behind []*mirror) []*repodata.Package {
	seen := map[string]bool{}
	var all []*repodata.Package
	for _, m := range behind {
		for _, list := range [][]*repodata.Package{m.puts, m.conflicts} {
			for _, p := range list {
				if !seen[p.Href] {
					seen[p.Href] = true
					all = append(all, p)
				}
			}
		}
	}
	return all
}

// fetchPackages downloads and verifies every package some behind mirror
// lacks. A file listed at several locations (same checksum) is downloaded
// once and placed at each. The first failure cancels the rest and fails
// the sync. In a verify-only run, each file is deleted once verified.
func (s *run) fetchPackages(ctx context.Context, behind []*mirror) error {
	pkgs := s.packages(behind)
	keep := len(behind) != 1 || !behind[0].verifyOnly
	s.fetched = make(map[string]string, len(pkgs))
	// Downloads go to the cache by checksum: group the locations that
	// share one, so that no two transfers write one file.
	var order []string
	groups := map[string][]*repodata.Package{}
	for _, p := range pkgs {
		dst := s.cachePath(p.Checksum)
		if len(groups[dst]) == 0 {
			order = append(order, dst)
		} else if first := groups[dst][0]; first.Size != p.Size {
			return fmt.Errorf("packages %s and %s have the same checksum %s and different sizes (%d and %d bytes)", first.Href, p.Href, p.Checksum, first.Size, p.Size)
		}
		groups[dst] = append(groups[dst], p)
	}
	var mu gosync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.e.opts.Concurrency)
	prog := s.e.opts.Progress
	src := s.src
	if prog != nil {
		src = src.CountingTo(&prog.BytesDone)
	}
	for _, dst := range order {
		group := groups[dst]
		p := group[0]
		g.Go(func() error {
			n, err := src.File(gctx, p.Href, p.Base, dst, p.Size, func(r io.Reader) error {
				_, err := verify.RPM(r, p, s.keyring)
				return err
			})
			mu.Lock()
			defer mu.Unlock()
			s.rep.Bytes += n
			s.rep.PackageBytes += n
			if err != nil {
				return fmt.Errorf("package %s (%s): %w", p.NEVRA(), p.Href, err)
			}
			if n > 0 {
				s.rep.Fetched++
			}
			for _, q := range group {
				s.rep.Verified++
				s.fetched[q.Href] = dst
				if prog != nil {
					prog.PackagesDone.Add(1)
				}
			}
			if !keep {
				os.Remove(dst)
			}
			s.log.Debug("fetched", "package", p.Href, "bytes", n, "locations", len(group))
			return nil
		})
	}
	return g.Wait()
}

// publish makes mirror m serve the origin's revision: first the packages
// at paths the served revision does not use, then everything else in one
// atomic commit. Pruning follows.
func (s *run) publish(ctx context.Context, m *mirror) error {
	log := s.log.With("mirror", m.cfg.Name)
	if err := s.checkOrdered(m); err != nil {
		return err
	}
	// Until the commit, the packages stored now are referenced by nothing
	// the mirror serves. Record them first, so that if this revision is
	// never published (a crash, a failure) the next publish can prune the
	// ones its revision does not name.
	if len(m.puts) > 0 {
		if m.st.Unpublished == nil {
			m.st.Unpublished = map[string]time.Time{}
		}
		now := s.now()
		for _, p := range m.puts {
			if _, ok := m.st.Unpublished[p.Href]; !ok {
				m.st.Unpublished[p.Href] = now
			}
		}
		if err := s.e.opts.Store.Save(s.st); err != nil {
			return err
		}
	}
	for _, p := range m.puts {
		if err := m.tg.Put(ctx, target.File{Path: p.Href, Local: s.fetched[p.Href], Size: p.Size}); err != nil {
			return err
		}
		m.rep.Published++
	}
	var files []target.File
	for _, p := range m.conflicts {
		files = append(files, target.File{Path: p.Href, Local: s.fetched[p.Href], Size: p.Size})
	}
	metaSeen := map[string]bool{}
	for _, d := range s.md.Data {
		if m.hasMeta(d) || metaSeen[d.Href] {
			continue
		}
		metaSeen[d.Href] = true
		files = append(files, target.File{Path: d.Href, Local: s.metaLocal[d.Href], Size: d.Size})
	}
	var remove []string
	for _, f := range []struct {
		path string
		b    []byte
	}{{RepomdPath, s.repomd}, {AscPath, s.asc}, {KeyPath, s.key}} {
		if f.b == nil {
			remove = append(remove, f.path)
			continue
		}
		local := filepath.Join(s.cache, filepath.Base(f.path))
		if err := safefs.WriteFile(s.cache, filepath.Base(f.path), f.b, 0o644); err != nil {
			return fmt.Errorf("staging %s: %w", f.path, err)
		}
		files = append(files, target.File{Path: f.path, Local: local, Size: int64(len(f.b))})
	}
	// Record what the new revision leaves unreferenced before committing,
	// so that a process killed right after the commit still prunes it.
	sum := sha256.Sum256(s.repomd)
	digest := hex.EncodeToString(sum[:])
	now := s.now()
	pending := s.pendingAfterCommit(m, now)
	m.st.Pending, m.st.PendingFor = pending, digest
	if err := s.e.opts.Store.Save(s.st); err != nil {
		return err
	}
	if err := m.tg.Commit(ctx, files, remove); err != nil {
		return err
	}
	m.st.Unpublished = nil
	if err := saveIndex(s.index, s.e.opts.Store.Dir(), s.indexRel(m), digest); err != nil {
		log.Warn("saving the mirror's index; the next sync reads its primary metadata instead", "err", err)
	}
	m.rep.Published += len(files)
	m.cur, m.curAsc, m.curKey = s.repomd, s.asc, s.key
	m.st.Revision, m.st.RepomdSHA256 = s.md.Revision, digest
	m.st.PublishedAt, m.st.CheckedAt = now, now
	log.Info("published", "revision", s.md.Revision, "files", m.rep.Published)
	s.pruneExpired(ctx, m)
	return nil
}

// checkOrdered refuses what cannot be published to a target without an
// atomic commit. Such a target gets the classic order (packages, then
// metadata under their new names, then repomd.xml, then its signature:
// publish builds the commit in that order), which is safe only while no
// file the served revision uses changes under its own name.
func (s *run) checkOrdered(m *mirror) error {
	if m.tg.Properties().AtomicCommit {
		return nil
	}
	if len(m.conflicts) > 0 {
		return &UnsafePublishError{Mirror: m.cfg.Name, Path: m.conflicts[0].Href}
	}
	if m.curMd == nil {
		return nil
	}
	for _, d := range s.md.Data {
		if m.hasMeta(d) {
			continue
		}
		for _, old := range m.curMd.Data {
			if old.Href == d.Href {
				return &UnsafePublishError{Mirror: m.cfg.Name, Path: d.Href, Metadata: true}
			}
		}
	}
	return nil
}

func (s *run) isMeta(p string) bool {
	if p == RepomdPath || p == AscPath || p == KeyPath {
		return true
	}
	for _, d := range s.md.Data {
		if d.Href == p {
			return true
		}
	}
	return false
}

// pendingAfterCommit returns what mirror m will hold, once it serves the
// new revision, that the revision does not use, with when each became
// unused: pruned once prune_after has passed. The dry run asks it too, so
// that it lists the deletions the sync will make.
func (s *run) pendingAfterCommit(m *mirror, now time.Time) map[string]time.Time {
	pending := map[string]time.Time{}
	addPending := func(p string) {
		if _, ref := s.referenced[p]; ref || s.isMeta(p) {
			return
		}
		if since, ok := m.st.Pending[p]; ok {
			pending[p] = since
		} else if _, ok := pending[p]; !ok {
			pending[p] = now
		}
	}
	for p := range m.st.Pending {
		addPending(p)
	}
	for p := range m.index {
		addPending(p)
	}
	if m.curMd != nil {
		for _, d := range m.curMd.Data {
			addPending(d.Href)
		}
	}
	// Packages stored for revisions that were never published: those the
	// new revision does not name are pending now.
	for p, since := range m.st.Unpublished {
		if _, ref := s.referenced[p]; ref || s.isMeta(p) {
			continue
		}
		if _, ok := pending[p]; !ok {
			pending[p] = since
		}
	}
	return pending
}

// indexRel is where the index of mirror m is kept, relative to the state
// directory.
func (s *run) indexRel(m *mirror) string {
	rel, _ := filepath.Rel(s.e.opts.Store.Dir(), s.e.opts.Store.IndexPath(s.repo.Name, m.cfg.Name))
	return rel
}

// pruneExpired deletes the pending files of m whose prune_after has
// passed. It only trusts a pending list computed against the revision the
// mirror serves now.
func (s *run) pruneExpired(ctx context.Context, m *mirror) {
	if len(m.st.Pending) == 0 || m.tg == nil {
		return
	}
	cur := sha256.Sum256(m.cur)
	if m.st.PendingFor != hex.EncodeToString(cur[:]) {
		return
	}
	now := s.now()
	var paths []string
	for p, since := range m.st.Pending {
		if now.Sub(since) >= s.repo.PruneAfter {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	for _, p := range paths {
		if s.e.opts.DryRun {
			m.rep.Delete = append(m.rep.Delete, p)
			continue
		}
		if err := m.tg.Remove(ctx, p); err != nil {
			s.log.Warn("pruning", "mirror", m.cfg.Name, "path", p, "err", err)
			continue
		}
		delete(m.st.Pending, p)
		m.rep.Deleted++
	}
	if m.rep.Deleted > 0 {
		s.log.Info("pruned", "mirror", m.cfg.Name, "files", m.rep.Deleted)
	}
}

// dryRun fills the report with what publishing would do.
func (s *run) dryRun(ctx context.Context, behind []*mirror) error {
	for _, m := range behind {
		for _, p := range m.puts {
			m.rep.Publish = append(m.rep.Publish, p.Href)
		}
		for _, p := range m.conflicts {
			m.rep.Publish = append(m.rep.Publish, p.Href+" (replaces a file in use, atomically)")
		}
		for _, d := range s.md.Data {
			if !m.hasMeta(d) {
				m.rep.Publish = append(m.rep.Publish, d.Href)
			}
		}
		// What publish commits: repomd.xml, and its signature and key
		// when the origin has them.
		for _, f := range []struct {
			path string
			b    []byte
		}{{RepomdPath, s.repomd}, {AscPath, s.asc}, {KeyPath, s.key}} {
			if f.b != nil {
				m.rep.Publish = append(m.rep.Publish, f.path)
			}
		}
		// What publish's pruning deletes right after the commit.
		now := s.now()
		for p, since := range s.pendingAfterCommit(m, now) {
			if now.Sub(since) >= s.repo.PruneAfter {
				m.rep.Delete = append(m.rep.Delete, p)
			}
		}
		sort.Strings(m.rep.Delete)
	}
	return nil
}

// finish records the run in the state directory.
func (s *run) finish(ctx context.Context) {
	if s.e.opts.DryRun || s.st == nil {
		return
	}
	run := state.Run{
		Start:     s.rep.Start,
		Duration:  s.rep.Duration,
		Revision:  s.rep.Revision,
		Fetched:   s.rep.Fetched,
		Bytes:     s.rep.Bytes,
		Verified:  s.rep.Verified,
		NoChange:  s.rep.NoChange,
		Cancelled: errors.Is(s.rep.Err, ErrInterrupted),
		Skipped:   s.rep.Skipped,
		Mirrors:   map[string]state.MirrorRun{},
	}
	// An interrupted run is recorded as such, not as a failure.
	if s.rep.Err != nil && !run.Cancelled {
		run.Error = s.rep.Err.Error()
	}
	for _, m := range s.rep.Mirrors {
		mr := state.MirrorRun{Published: m.Published, Deleted: m.Deleted, UpToDate: m.UpToDate}
		if m.Err != nil && !errors.Is(m.Err, ErrInterrupted) {
			mr.Error = m.Err.Error()
		}
		run.Mirrors[m.Name] = mr
	}
	s.st.AddRun(run)
	if err := s.e.opts.Store.Save(s.st); err != nil {
		s.log.Error("saving state", "err", err)
		if s.rep.Err == nil {
			s.rep.Err = err
		}
	}
}
