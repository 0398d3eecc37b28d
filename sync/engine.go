package sync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/trace"
	"slices"
	gosync "sync"
	"sync/atomic"
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
	// OnLocked, when set, is called once the sync holds the repository's
	// lock (not in a dry run): a daemon that follows other processes'
	// writes to the state_dir takes those made while its sync waited for
	// the lock, and not its sync's own.
	OnLocked func()
	// BeforeUnlock, when set, is called once the sync has written all it
	// writes into the state_dir, just before it lets the lock go (not in
	// a dry run): what the state_dir holds then is the sync's own, and no
	// other process's yet.
	BeforeUnlock func()
	// BeforePublish, when set, is called before a sync moves the first
	// mirror to revision rev, once it has recorded rev as the current
	// verified revision; the sync goes on when it returns. It is not
	// called when no mirror is to move (nor in a dry run). A rollback
	// calls it too, with the held revision, once the hold is saved and
	// before it republishes the first mirror. rpmirror serve's syncs,
	// and rpmirror sync and rollback beside it, wait there for the
	// daemon's metalink clients (daemon.AwaitServe).
	BeforePublish func(ctx context.Context, rev state.Revision)
	// Suspect, when set, names files of a written mirror (paths in the
	// repository) that were found wrong since its last publish (rpmirror
	// serve's probes: a package or metadata file of the wrong size, or
	// missing). A plan that would keep one reads it back and checks it
	// first, and fetches and replaces it when it fails: a publish does not
	// go over a damaged file, nor snapshot it.
	Suspect func(repo, mirror string) []string
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

	Fetched int // packages downloaded
	// FromMirrors counts the packages taken from a mirror of the sync
	// that held them already (one just added beside others on this
	// machine): exported into the cache (a hard link) and checked from
	// there as a download is, not downloaded.
	FromMirrors  int
	Bytes        int64 // bytes downloaded, metadata included (in a dry run: the metadata it read)
	PackageBytes int64 // of Bytes, those of packages
	Verified     int   // packages verified

	Mirrors []*MirrorReport
	Err     error

	// Plan is what the sync decided to do (a dry run: what it would do);
	// nil when it ended before the plan was complete.
	Plan *Plan

	// What the plan says must be fetched (origin-relative paths) and
	// their declared sizes; a dry run stops there. A sync that starts
	// afresh then fetches len(WouldFetch) packages, WouldFetchBytes bytes
	// of them, and publishes and deletes what the dry run's MirrorReports
	// list. In a dry run, the packages a mirror of the sync on this
	// machine holds at their path with their size are counted apart,
	// in WouldTakeFromMirrors: the sync takes them from there (and
	// fetches those that fail its checks).
	WouldFetch           []string
	WouldFetchBytes      int64
	WouldTakeFromMirrors int

	// Upstreams says what became of each of the origin's upstreams: the
	// one the metadata came from, those skipped and why, those that
	// served files of the same revision. Empty when the sync failed
	// before the origin was read.
	Upstreams []source.Status
	// Filter is what the filter of a filtered repository kept and
	// dropped; nil without a filter. Revision and Repomd are then the
	// filtered revision's.
	Filter *FilterReport
	// FromMirror names the written mirror on this machine the revision
	// was taken from when no upstream was usable (Upstreams says why for
	// each): the current verified revision, with which the sync brought
	// the mirrors behind up to date; "" otherwise.
	FromMirror string
	// Skipped is set when no upstream was usable (Err then matches
	// source.ErrNoUsableUpstream) because none answered or served
	// readable metadata matching the metalink: the sync changed nothing
	// and is skipped, not failed; Upstreams says why for each. When an
	// upstream's revision was refused (a rollback, a bad signature) the
	// sync fails instead.
	Skipped bool
}

// OriginRepomd returns the origin's repomd.xml the sync read: Repomd, or
// for a filtered repository the one its filtered revision was written
// from (Filter.OriginRepomd).
func (r *Report) OriginRepomd() []byte {
	if r.Filter != nil && r.Filter.OriginRepomd != nil {
		return r.Filter.OriginRepomd
	}
	return r.Repomd
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
	// Checked counts the packages the mirror held that were read back,
	// verified in place and kept (MirrorPlan.Checked); the report's
	// Verified counts the downloads.
	Checked int
	// WouldSnapshot, in a dry run, says the sync would take a snapshot of
	// the revision the mirror serves after it (MirrorPlan.Snapshot):
	// after the publish, or for a mirror already current, of what it
	// serves.
	WouldSnapshot bool
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
	ctx, task := trace.NewTask(ctx, "sync "+repo.Name)
	defer task.End()
	log := e.log.With("repo", repo.Name)
	s := &run{e: e, repo: repo, rep: rep, log: log, dry: e.opts.DryRun}
	// The repository's lock is let go once the run is recorded (finish):
	// a sync started by another process meanwhile would otherwise have
	// its state overwritten by this one's.
	defer s.releaseLock()
	rep.Err = s.sync(ctx)
	rep.Plan = s.plan
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
	defer trace.StartRegion(ctx, "finish").End()
	s.finish(ctx)
	return rep
}

// run is the state of one sync of one repository.
type run struct {
	e    *Engine
	repo *config.Repo
	rep  *Report
	log  *slog.Logger
	// dry: plan and report, change nothing (Options.DryRun). It decides
	// only what is locked and whether the plan is carried out.
	dry bool
	// unlock lets go of the repository's lock in the state_dir, taken by
	// sync (nil when none was taken); Sync calls it after finish.
	unlock func()

	st       *state.Repo
	verified *state.Verified
	// dropRecorded lists what openPGPOrNone found recorded with the
	// origin's revision that is no OpenPGP data: forgotten once chosen.
	dropRecorded []verify.OpenPGPKind
	sample       []string       // package hrefs sampled while planning
	sizes        []int64        // their sizes, from the primary metadata
	planned      int            // packages seen while planning
	src          *source.Source // the origin: its upstreams, TLS and credentials
	// local is the written mirror the revision is taken from when no
	// upstream is usable (fromMirrorHere); nil otherwise.
	local   *mirror
	keyring openpgp.EntityList
	// repoKeyring checks repomd.xml.asc; nil unless repo_gpgcheck is set.
	repoKeyring openpgp.EntityList
	mirrors     []*mirror // written mirrors
	cache       string
	// cached are the metadata files already in the cache, verified or
	// written by the filter, by checksum.
	cached map[repodata.Checksum]bool
	// metaMu guards cached and rep.Bytes while metadata files are
	// fetched at once.
	metaMu gosync.Mutex

	repomd, asc, key []byte
	md               *repodata.Repomd
	plan             *Plan          // what the sync does, once decided
	index            string         // the new revision's index (href, checksum), written while planning
	referenced       map[string]ref // package href -> what the primary says is there
	publishing       bool           // every package is fetched; mirrors are being written
	// stream, while the origin's primary downloads, is told as its bytes
	// arrive (planning reads them from the part file).
	stream *partStream
	// publishedAt is when this run published its revision: one time for
	// every mirror, so that the snapshots a run takes share their name.
	publishedAt time.Time
	// snapshotNames maps the repomd.xml digest of a revision to the
	// snapshot name its mirrors share (sharedSnapshotName), "" when
	// none holds it yet.
	snapshotNames map[string]string
}

// publishTime returns the time this run publishes its revision at, the
// same for every mirror it writes: read from the clock the first time.
func (s *run) publishTime() time.Time {
	if s.publishedAt.IsZero() {
		s.publishedAt = s.now()
	}
	return s.publishedAt
}

func (s *run) now() time.Time { return s.e.opts.Now() }

// sync reads the origin and the mirrors, plans, and (unless a dry run)
// carries the plan out: source -> plan -> fetch -> publish -> prune.
func (s *run) sync(ctx context.Context) (err error) {
	store := s.e.opts.Store
	start := trace.StartRegion(ctx, "lock and state")
	if !s.dry {
		// A little patience (lockPatience): rpmirror serve takes the
		// lock for a moment to learn whether another process is at work
		// on the repository (it follows a sync run by hand beside it).
		unlock, err := store.LockWithin(ctx, s.repo.Name, lockPatience)
		if err != nil {
			return err
		}
		s.unlock = unlock // after finish (Sync)
		if s.e.opts.OnLocked != nil {
			s.e.opts.OnLocked()
		}
	}
	if !keepsRecords(s.repo) {
		// No mirror keeps a hold record: the state_dir's hold is the
		// only one, and a held repository is refused before anything
		// (its mirrors are not even locked).
		if err := s.adoptHold(ctx); err != nil {
			return err
		}
	}
	st, err := store.Load(s.repo.Name)
	var corrupt *state.CorruptError
	if errors.As(err, &corrupt) {
		// The mirrors are the truth: what they serve is read from them
		// below; the history of runs and the files waiting to be pruned
		// are lost (those files stay until removed by hand).
		kept := ""
		if !s.dry {
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
	start.End()
	defer s.closeMirrors()
	defer s.saveRecordsAtEnd(ctx) // before the locks go
	defer func() {
		if err != nil {
			s.reclaim(ctx, err) // while the mirrors are still locked
		}
	}()
	if err := inRegion(ctx, "open mirrors", func() error { return s.openMirrors(ctx) }); err != nil {
		return err
	}
	// Held here, or by a rollback on another host that the mirrors'
	// records tell of (the mirrors are locked now: no rollback or resume
	// runs meanwhile).
	if keepsRecords(s.repo) {
		if err := s.adoptHold(ctx); err != nil {
			return err
		}
	}
	if !s.dry {
		if err := s.seedVerified(); err != nil {
			return err
		}
	}
	s.e.opts.Progress.set(s.repo.Name, "metadata")
	if err := inRegion(ctx, "repomd", func() error { return s.fetchRepomd(ctx) }); err != nil {
		return err
	}
	if s.repo.Filter != nil && !s.reuseFiltered() {
		// The revision mirrored is the one rpmirror writes from the
		// origin's: it needs the origin's metadata.
		cleanup, err := s.openCache(false)
		if err != nil {
			return err
		}
		defer cleanup()
		if err := s.filterRevision(ctx); err != nil {
			return err
		}
	}
	digest := sha256Hex(s.repomd)
	if cur := s.verified.Current(); cur != nil && cur.SHA256 == digest {
		s.rep.RevisionVerified = true
	}
	// A revision verified before may come with a new signature (the
	// origin signed it again): the mirrors get that one, and probes
	// compare with it. (sign_with makes its own, maybe a different one
	// for each mirror: probes check only that one is there.)
	changed := false
	if !s.dry && s.repo.SignWith == "" && s.asc != nil && s.verified.SetSignature(digest, s.asc) {
		changed = true
	}
	for _, kind := range s.dropRecorded {
		// What was recorded was no OpenPGP data (openPGPOrNone): the
		// mirrors get none, and the record says so.
		if !s.dry && s.repo.SignWith == "" && s.verified.Forget(digest, kind == verify.KindPublicKey) {
			changed = true
		}
	}
	if changed {
		if err := s.saveVerified(); err != nil {
			return err
		}
	}
	// Plan: which mirrors are current, and what the sync does to the
	// others; with no written mirror, what verifying the revision takes.
	var behind []*mirror
	for _, m := range s.mirrors {
		if m.adopted && m.upToDate(s.repomd, s.asc, s.key) {
			// It serves the origin's revision, but rpmirror did not
			// publish it there: nothing it holds is verified yet.
			s.log.Info("mirror serves the origin's revision, but rpmirror keeps no record of publishing it: checking its files", "mirror", m.cfg.Name, "revision", s.md.Revision)
		}
		if !m.adopted && (m.upToDate(s.repomd, s.asc, s.key) || (s.repo.SignWith != "" && s.signedUpToDate(m))) {
			m.plan = planCurrent(m, s.now(), s.repo.PruneAfter)
			if m.curMd != nil && s.dry {
				// What keepCurrent snapshots: decided before it does.
				m.plan.Snapshot = s.plansSnapshot(ctx, m, m.cur)
			}
			m.rep.UpToDate = true
			continue
		}
		behind = append(behind, m)
	}
	if !s.dry {
		// The mirrors already current are kept (pruned, snapshots)
		// whatever becomes of the others.
		trace.WithRegion(ctx, "keep current", func() { s.keepCurrent(ctx) })
	}
	verifyOnly := len(s.mirrors) == 0
	if verifyOnly && !s.rep.RevisionVerified {
		behind = []*mirror{s.verifyOnlyMirror()}
	}
	s.plan = &Plan{Revision: s.md.Revision, RepomdSHA256: digest}
	if len(behind) > 0 {
		cleanup, err := s.openCache(verifyOnly)
		if err != nil {
			return err
		}
		defer cleanup()
		if err := inRegion(ctx, "plan", func() error { return s.makePlan(ctx, behind) }); err != nil {
			return err
		}
	}
	s.plan.Mirrors = s.mirrorPlans()
	for _, m := range behind {
		if m.plan != nil {
			m.rep.Checked = m.plan.Checked
			if m.plan.Refused == nil && s.dry {
				// Once it serves the revision (publish sets m.cur
				// to s.repomd), execute keeps its snapshots.
				m.plan.Snapshot = s.plansSnapshot(ctx, m, s.repomd)
			}
		}
	}
	if len(behind) == 0 {
		s.rep.NoChange = true
		if verifyOnly {
			s.log.Info("revision already verified", "revision", s.md.Revision)
		} else {
			s.log.Info("mirrors are current", "revision", s.md.Revision)
		}
	}
	// A dry run ends here, with the plan.
	if s.dry {
		s.describe()
		return nil
	}
	switch {
	case len(behind) == 0:
		if !s.rep.RevisionVerified {
			// Every mirror serves it already and rpmirror published it
			// there (it keeps the index it wrote then; an adopted mirror
			// is never current), so it was verified then: state from
			// before verified revisions were kept, or a revision the
			// origin went back to.
			if err := s.recordVerified(); err != nil {
				return err
			}
		}
		if s.repo.Filter != nil && s.cache != "" {
			// The origin's metadata and the filtered files written from
			// it served only to compare.
			s.removeCache()
		}
		return s.mirrorErrors()
	case verifyOnly:
		return s.verifyRevision(ctx)
	}
	return s.execute(ctx, behind)
}

// execute carries out the plan for the behind mirrors: fetch, then
// publish to each, pruning after each commit.
func (s *run) execute(ctx context.Context, behind []*mirror) error {
	s.e.opts.Progress.set(s.repo.Name, "fetching")
	fctx, stopFetch := context.WithCancel(ctx)
	defer stopFetch()
	early := s.startEarlyStores(ctx, behind, stopFetch)
	err := inRegion(ctx, "fetch packages", func() error { return s.fetchPackages(fctx, s.plan.Fetch, true, early.verified) })
	if serr := early.finish(err != nil); serr != nil {
		err = serr // what stopped the downloads, if they stopped
	}
	if err != nil {
		return err
	}
	// Before the first mirror is published, three things must be done,
	// none of which needs another: the revision recorded as verified, the
	// cache's files made durable, and the packages each mirror will store
	// recorded as unpublished, with what each leaves unused once it
	// commits. Each waits mostly for the disk's flushes, so they run side
	// by side: the two records are files of their own (the verified
	// revisions, the repository's state), and the verified revision is
	// added in memory before either is written, since the records kept
	// with a mirror (object storage) carry it too.
	//
	// Every package of the revision is verified now: fetched and checked
	// in this sync, or served by each behind mirror after an earlier
	// check. The revision becomes current before any mirror serves it.
	saveVerified := s.addVerified()
	var pre errgroup.Group
	pre.Go(func() error { return inRegion(ctx, "record verified", saveVerified) })
	pre.Go(func() error {
		return inRegion(ctx, "record unpublished", func() error { return s.recordStores(ctx, behind) })
	})
	pre.Go(func() error {
		// Downloads are not fsynced one by one as they arrive: every
		// file of the cache a mirror on this machine will name (a hard
		// link to it), repomd.xml and its signature and key staged there
		// included, is made durable at once before any mirror names it.
		// A mirror elsewhere (object storage) gets a copy of the bytes,
		// which its store makes durable (target.Target's Put and
		// Commit): the cache's files are removed once published, and one
		// a power cut leaves there is checked again before it is
		// trusted, so flushing them would only write to disk what is
		// deleted next.
		if err := s.stageRepomd(); err != nil {
			return err
		}
		if paths := s.cacheFiles(behind); len(paths) > 0 {
			if err := inRegion(ctx, "make the cache durable", func() error { return flush(s.cache, paths) }); err != nil {
				return fmt.Errorf("making the downloads in %s durable: %w", s.cache, err)
			}
		}
		return nil
	})
	if err := pre.Wait(); err != nil {
		for _, m := range behind {
			m.pendingSet.restore(m) // nothing was committed
		}
		return err
	}
	if cur := s.verified.Current(); cur != nil && s.e.opts.BeforePublish != nil {
		// An interruption meanwhile fails each publish before its commit.
		trace.WithRegion(ctx, "before publish", func() { s.e.opts.BeforePublish(ctx, *cur) })
	}
	s.e.opts.Progress.set(s.repo.Name, "publishing")
	s.publishing = true
	failed := false
	for _, m := range behind {
		if err := inRegion(ctx, "publish", func() error { return s.publish(ctx, m) }); err != nil {
			m.rep.Err = err
			failed = true
			s.log.Error("publishing failed", "mirror", m.cfg.Name, "err", err)
		} else if err := inRegion(ctx, "snapshots", func() error { return s.snapshot(ctx, m, s.md, s.publishedPackages) }); err != nil {
			m.rep.Err = err
			s.log.Error("keeping snapshots failed", "mirror", m.cfg.Name, "err", err)
		}
	}
	if !failed {
		// Every mirror has every file now; the cache has done its job.
		trace.WithRegion(ctx, "remove cache", s.removeCache)
	}
	return s.mirrorErrors()
}

// flush makes files durable (safefs.Flush); tests record its calls.
var flush = safefs.Flush

// cacheFiles lists the cache directory and the files in it that the
// plans of the behind mirrors on this machine (Properties().Local: they
// may hard-link them) store or commit, each once: what must be durable
// before any of them is published. A list longer than
// safefs.FlushOneByOne is cut there, since flush then flushes the whole
// filesystem anyway. With no such mirror, the list is empty.
func (s *run) cacheFiles(behind []*mirror) []string {
	var paths []string
	seen := map[string]bool{}
	for _, m := range behind {
		if m.plan == nil || m.plan.Refused != nil {
			continue // nothing is published to it
		}
		if !m.tg.Properties().Local {
			continue // it copies the bytes; its store makes them durable
		}
		if paths == nil {
			paths = []string{s.cache}
		}
		for _, files := range [][]Placement{m.plan.Store, m.plan.Commit} {
			for _, f := range files {
				local := f.File(s.cache).Local
				if seen[local] {
					continue
				}
				seen[local] = true
				if paths = append(paths, local); len(paths) > safefs.FlushOneByOne {
					return paths
				}
			}
		}
	}
	return paths
}

// keepCurrent carries out the plans of the mirrors already current:
// each is checked now, pruned, and its snapshots kept.
func (s *run) keepCurrent(ctx context.Context) {
	for _, m := range s.mirrors {
		if m.plan == nil || !m.plan.UpToDate {
			continue
		}
		m.st.CheckedAt = s.now()
		s.prune(ctx, m, m.plan.Prune)
		if err := s.snapshot(ctx, m, m.curMd, s.servedPackages(ctx, m)); err != nil {
			m.rep.Err = err
			s.log.Error("keeping snapshots failed", "mirror", m.cfg.Name, "err", err)
		}
	}
}

// openCache sets the directory downloads go to: the repository's cache
// in state_dir, or for a dry run a temporary directory. cleanup removes a
// dry run's directory, and the cache too when removeAfter (a verify-only
// run); otherwise the sync removes the cache once every mirror has every
// file.
func (s *run) openCache(removeAfter bool) (cleanup func(), err error) {
	if s.cache != "" { // a filtered repo's, opened before the plan
		if removeAfter {
			return s.removeCache, nil
		}
		return func() {}, nil
	}
	if s.dry {
		dir, err := os.MkdirTemp("", "rpmirror-dry-run-")
		if err != nil {
			return nil, err
		}
		s.cache = dir
		return func() { os.RemoveAll(dir) }, nil
	}
	store := s.e.opts.Store
	s.cache = store.CacheDir(s.repo.Name)
	rel, err := filepath.Rel(store.Dir(), s.cache)
	if err != nil {
		return nil, err
	}
	if err := safefs.MkdirAll(store.Dir(), rel, 0o755); err != nil {
		return nil, fmt.Errorf("download cache: %w", err)
	}
	if removeAfter {
		return s.removeCache, nil
	}
	return func() {}, nil
}

// removeCache removes the download cache.
func (s *run) removeCache() {
	if err := os.RemoveAll(s.cache); err != nil {
		s.log.Warn("cleaning download cache", "dir", s.cache, "err", err)
	}
}

// mirrorPlans returns the plan of each written mirror, in order.
func (s *run) mirrorPlans() []*MirrorPlan {
	plans := make([]*MirrorPlan, 0, len(s.mirrors))
	for _, m := range s.mirrors {
		if m.plan != nil {
			plans = append(plans, m.plan)
		}
	}
	return plans
}

// describe fills a dry run's report with what the plan publishes and
// deletes on each mirror (Report.Plan has the rest).
func (s *run) describe() {
	for _, m := range s.mirrors {
		if m.plan == nil {
			continue
		}
		if m.plan.Refused != nil {
			continue // the sync writes nothing to it, prunes nothing
		}
		if !m.plan.UpToDate {
			m.rep.Publish = m.plan.Publish()
		}
		// What the sync's snapshot.Maintain does: not merely whether
		// the repo keeps snapshots (a tester's dry run after rollback
		// and resume said "snapshot the revision", and the sync took
		// none: the revision's snapshot was the newest already).
		m.rep.WouldSnapshot = m.plan.Snapshot
		m.rep.Delete = slices.Clone(m.plan.Prune)
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

// finish records the run in the state directory. A held repository's
// refused sync is no run: rpmirror status shows the hold.
func (s *run) finish(ctx context.Context) {
	if s.dry || s.st == nil || errors.Is(s.rep.Err, ErrHeld) {
		return
	}
	run := state.Run{
		Start:      s.rep.Start,
		Duration:   s.rep.Duration,
		Revision:   s.rep.Revision,
		Fetched:    s.rep.Fetched,
		Bytes:      s.rep.Bytes,
		Verified:   s.rep.Verified,
		NoChange:   s.rep.NoChange,
		Cancelled:  errors.Is(s.rep.Err, ErrInterrupted),
		Skipped:    s.rep.Skipped,
		FromMirror: s.rep.FromMirror,
		Mirrors:    map[string]state.MirrorRun{},
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
	if err := saveRepoState(s.e.opts.Store, s.st); err != nil {
		s.log.Error("saving state", "err", err)
		if s.rep.Err == nil {
			s.rep.Err = err
		}
	}
}

// releaseLock lets go of the repository's lock, if sync took it.
func (s *run) releaseLock() {
	if s.unlock != nil {
		if s.e.opts.BeforeUnlock != nil {
			s.e.opts.BeforeUnlock()
		}
		s.unlock()
		s.unlock = nil
	}
}

// inRegion runs fn as a region of ctx's execution trace (runtime/trace):
// what `go tool trace` shows of a sync's steps when the command is run
// with RPMIRROR_TRACE. Without a trace running it costs next to nothing.
func inRegion(ctx context.Context, name string, fn func() error) error {
	defer trace.StartRegion(ctx, name).End()
	return fn()
}
