package daemon

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/url"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	gosync "sync"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/rpmirror/rpmirror/alert"
	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/fetch"
	"github.com/rpmirror/rpmirror/health"
	"github.com/rpmirror/rpmirror/internal/safefs"
	"github.com/rpmirror/rpmirror/mirrorlist"
	"github.com/rpmirror/rpmirror/repodata"
	"github.com/rpmirror/rpmirror/server"
	"github.com/rpmirror/rpmirror/source"
	"github.com/rpmirror/rpmirror/state"
	"github.com/rpmirror/rpmirror/sync"
	"github.com/rpmirror/rpmirror/target"
	"github.com/rpmirror/rpmirror/target/targets"
	"github.com/rpmirror/rpmirror/verify"
)

// File names of the lists written into each written mirror, next to
// repodata/. The sync refuses packages and metadata under these names.
const (
	MirrorlistFile = sync.MirrorlistPath
	MetalinkFile   = sync.MetalinkPath
	maxFailures    = 10
	samplePackages = 64
)

// views are a repo's rendered lists, swapped in whole.
type views struct {
	mirrorlist []byte
	metalink   []byte
	key        string    // what they were rendered from, but the order by latency
	order      string    // the mirrors' order (by priority, then latency)
	at         time.Time // when they were rendered
}

// listsReorderRounds is how many probe rounds at least pass between two
// renderings of the written lists that only put their mirrors in a new
// order by latency: the latency of a mirror measured from here is noise
// of a few milliseconds between mirrors alike, which reordered them (and
// had the lists rewritten into every written mirror, two fsyncs each)
// nearly every round. Anything else that changes the lists renders them
// at once.
const listsReorderRounds = 10

// refusal is an origin revision that failed verification.
type refusal struct {
	sha256, revision, reason string
}

// repo is the daemon's runtime state of one repository.
type repo struct {
	d       *Daemon
	name    string
	log     *slog.Logger
	trigger chan string
	done    chan struct{}
	once    gosync.Once
	probing gosync.Mutex
	writing gosync.Mutex // one writeLists at a time
	// rendering serialises renderViews, which a probe of one mirror
	// calls when the mirror enters or leaves the lists, while its round
	// goes on.
	rendering gosync.Mutex
	tgMu      gosync.Mutex
	targets   map[string]openTarget // written mirror name -> its target
	views     atomic.Pointer[views]
	live      server.Live // what the mirror routes answer, per request
	filesMu   gosync.Mutex
	files     map[string]*revFiles // verified revision (sha256) -> its files, for redirects
	// snapRepomd caches snapshots' repomd.xml by "NAME SHA256" (under
	// filesMu).
	snapRepomd map[string][]byte
	cronID     cron.EntryID
	tracker    *health.Tracker

	mu        gosync.Mutex
	cfg       config.Repo
	sched     cron.Schedule
	origin    health.Result   // the origin as a whole: ok when any upstream is
	upstreams []health.Result // each upstream, as last probed, in order
	// upstreamSeen is the state each upstream URL was last known in,
	// kept across rounds that know none: what its alerts compare with.
	upstreamSeen map[string]health.State
	originRepomd []byte          // the origin's current repomd.xml, as last seen
	verified     *state.Verified // the revisions mirrors are judged against, current first: stored, or the held one (see hold)
	stored       *state.Verified // the revisions rpmirror verified, as state_dir keeps them
	hold         *state.Hold     // set while rpmirror rollback holds the repo
	refused      *refusal        // the origin revision the last sync refused, if any
	// packages is a sample of the packages (with sizes) of the revision
	// whose repomd.xml has the hex sha256 digest packagesOf, read from a
	// written mirror's primary metadata: for the probes of mirrors serving
	// a revision whose recorded sample lacks sizes (state of an older
	// rpmirror), or that has none.
	packages   []health.Package
	packagesOf string
	syncing    bool
	lastSync   *server.SyncStatus
	lastSyncOK *bool
	// retries counts the syncs in a row that failed or were skipped, and
	// retryAt is when the next probe round that finds the origin up asks
	// for another (noteRetryLocked): zero while none is due.
	retries      int
	retryAt      time.Time
	rollbackSeen []byte // the last rollback alerted on: upstream, revision, current revision
	lastSuccess  time.Time
	failures     []server.FailureStatus
	written      map[targetKey][]byte // written mirror -> lists last written there
	// standby: the last sync found the lease on a mirror in object
	// storage held by another rpmirror (lease.go).
	standby bool
	// listsRetry: writeLists skipped a mirror whose lease was held
	// elsewhere; the next probe round tries again.
	listsRetry atomic.Bool
	// listsQueued: the repo waits in the daemon's list queue
	// (writeListsLater).
	listsQueued  atomic.Bool
	leases       map[string]*server.LeaseStatus // mirror name -> its lease, as last read
	warned       map[string]string              // what and mirror -> the failure last logged (warnOnChange)
	judged       map[string]health.State        // mirror -> its last state other than unknown, for alerts (r.mu)
	probed       map[string]health.Result       // mirror -> its last probe's result before judge, to judge again (r.mu)
	filteredFrom string                         // hex sha256 of the origin's repomd.xml the filtered revision was written from (r.mu)
	localMiss    map[string]time.Time           // revision digest -> the state_dir's verified file's mtime when it lacked it (learnLocal; r.mu)
	// stampMu guards stamp, published and syncLocked: file I/O is done
	// under it (stats, a state read), never under r.mu, which /status
	// and the probes take (a hung mount must not hold them up).
	stampMu gosync.Mutex
	// stamp: the repo's records in the state_dir as last seen (watchState):
	// written since by another rpmirror when they differ.
	stamp state.Stamp
	// syncLocked: the daemon's sync holds the repository's lock
	// (sync.Options.OnLocked, BeforeUnlock).
	syncLocked bool
	// reprobe: the state_dir changed under the daemon and the mirrors
	// are to be probed again (watchState); a probe clears it as it starts.
	reprobe atomic.Bool
	// following: another rpmirror process changed the repo's records in
	// the state_dir and may still be at work on it (watchState); written
	// mirrors serving an earlier verified revision are behind meanwhile.
	following atomic.Bool
	// busySince: when the daemon's syncs began to find the repo's lock
	// held by another process, one after another (r.mu); zero otherwise.
	busySince time.Time
	// followingSince: when following was set, in Unix nanoseconds; a
	// written mirror is behind for its sake no longer than max_lag, or an
	// hour (busyAlertAfter) when that is longer.
	followingSince atomic.Int64
	// followChanged: what the other process wrote calls for the mirrors
	// to be probed again once it is done (watchState).
	followChanged atomic.Bool
	// published: publishedDigest as last seen (stampMu).
	published string
	// busy: the daemon's last sync found the repo's lock held by another
	// process; it runs again once that one is done (watchState).
	busy atomic.Bool
	// lifted: the hold last lifted, and when, until a sync after it
	// succeeded (keepHeld; r.mu).
	lifted   *state.Hold
	liftedAt time.Time
	// heldBefore is the hold before r.hold (held, or lifted and not yet
	// synced past), whose revision the written mirrors may still serve
	// while the rollback that made r.hold moves them (withdrawn); r.mu.
	heldBefore *state.Hold
	// holdMu serializes refreshHold.
	holdMu gosync.Mutex
	// glanceMu: held while the state watcher glances at the repo's lock,
	// and while runSync marks a sync under way (watchState).
	glanceMu gosync.Mutex
	// liftPending: a hold was lifted and no sync has run since; the next
	// probe asks for one (refreshHold, probe).
	liftPending atomic.Bool
	// listedSum is the digest of the current revision the lists name,
	// listedMetalink when a metalink was last answered before they did
	// (noteListed; r.mu).
	listedSum      string
	listedMetalink time.Time
	// recordedSum is listedSum once recorded in the state_dir (a failed
	// write is tried again at the next render).
	recordedSum string
	// syncAtStart: the repo's start-up sync is asked for once its origin
	// is probed (probeLoop, probe).
	syncAtStart atomic.Bool
	// holdRecord: the newest hold record kept with the repo's mirrors in
	// object storage, as last read (readHoldRecords): a rollback or
	// resume made on another host, which refreshHold goes by too.
	holdRecord *sync.HoldRecord
}

func newRepo(d *Daemon, rc config.Repo) *repo {
	r := &repo{
		d:       d,
		name:    rc.Name,
		log:     d.log.With("repo", rc.Name),
		trigger: make(chan string, 1),
		done:    make(chan struct{}),
		tracker: health.NewTracker(),
		cfg:     rc,
		origin:  health.Result{URL: fetch.Redact(rc.OriginDesc()), State: health.Unknown},
		written: map[targetKey][]byte{},
		leases:  map[string]*server.LeaseStatus{},
		targets: map[string]openTarget{},
	}
	r.stamp = d.store.Stamp(rc.Name) // before what it stamps is read
	r.published = r.publishedDigest()
	r.loadVerified()
	r.refreshHold()
	r.refreshPackages()
	if st, err := d.store.Load(rc.Name); err == nil {
		if st.Filtered != nil {
			r.filteredFrom = st.Filtered.OriginSHA256
		}
		for _, run := range st.Runs {
			if run.Error == "" && !run.Cancelled && run.FromMirror == "" {
				r.lastSuccess = run.Start.Add(run.Duration)
			}
		}
	}
	if !r.lastSuccess.IsZero() {
		// As /status.json says it, from the start (or the reload that
		// added the repo) on: the series was absent until a sync
		// succeeded, so with the origin down since a restart
		// RpmirrorSyncStale never fired.
		d.metrics.syncLastSuccess.WithLabelValues(rc.Name).Set(float64(r.lastSuccess.Unix()))
	}
	if d.runCtx == nil { // the daemon's start, not a reload
		if n := r.carryProbed(rc, time.Now()); n > 0 {
			r.log.Info("starting from the last daemon's probes until this one's replace them", "mirrors", n)
		}
	}
	r.render(true)
	return r
}

func (r *repo) config() config.Repo {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cfg
}

func (r *repo) setConfig(rc config.Repo) {
	r.mu.Lock()
	old := r.cfg
	r.cfg = rc
	r.forgetMirrorsLocked(old, rc)
	r.mu.Unlock()
	// Open the written mirrors' targets again: a reload also reads their
	// credentials files again (fixed or rotated keys under the same
	// path), which a target opened before keeps.
	r.tgMu.Lock()
	clear(r.targets)
	r.tgMu.Unlock()
	r.render(true)
}

// forgetMirrorsLocked forgets, as a reload changes the repo's
// configuration from old to next, what it knew of the mirrors next
// drops: their series (a mirror removed from mirrors.yaml used to stay
// in /metrics down for ever, and RpmirrorMirrorDown fired on), their
// last probe and lease. A mirror that stays but is no longer probed
// (no url) loses its probes' series, one no longer in object storage
// its lease's. r.mu is held: the probes of a round that started before
// the reload set series under it only for mirrors still configured
// at the url probed (probedLocked), so none comes back.
func (r *repo) forgetMirrorsLocked(old, next config.Repo) {
	m := r.d.metrics
	for _, was := range old.Mirrors {
		now, kept := mirrorNamed(next, was.Name)
		switch {
		case !kept:
			m.forgetMirror(r.name, was.Name)
			r.tracker.Delete(was.Name)
			delete(r.judged, was.Name)
			delete(r.probed, was.Name)
			delete(r.leases, was.Name)
			continue
		case was.URL != "" && now.URL != was.URL:
			// No url now, or another: what was found at the old one
			// says nothing of the new (a reviewer's reload listed a new
			// url as ok before anything had probed it).
			m.forgetProbes(r.name, was.Name)
			r.tracker.Delete(was.Name)
			delete(r.probed, was.Name)
			delete(r.judged, was.Name)
		}
		if was.Kind() == "s3" && now.Kind() != "s3" {
			m.forgetLease(r.name, was.Name)
			delete(r.leases, was.Name)
		}
	}
}

// mirrorNamed returns rc's mirror called name.
func mirrorNamed(rc config.Repo, name string) (config.Mirror, bool) {
	for _, m := range rc.Mirrors {
		if m.Name == name {
			return m, true
		}
	}
	return config.Mirror{}, false
}

// probedLocked reports whether r's configuration still has mirror m,
// probed at the same url: the result of a probe of a mirror that a
// reload removed meanwhile (or gave another url, or none) is dropped, as
// forgetMirrorsLocked dropped the mirror's series. r.mu is held.
func (r *repo) probedLocked(m config.Mirror) bool {
	now, ok := mirrorNamed(r.cfg, m.Name)
	return ok && now.URL == m.URL
}

func (r *repo) setSchedule(s cron.Schedule) {
	r.mu.Lock()
	r.sched = s
	r.mu.Unlock()
}

func (r *repo) stop() { r.once.Do(func() { close(r.done) }) }

// requestSync asks the worker for a sync. A request while one is already
// waiting is folded into it (and logged, so that skipped runs are
// visible).
func (r *repo) requestSync(why string) {
	select {
	case r.trigger <- why:
		r.log.Debug("sync requested", "why", why)
	default:
		r.log.Info("sync already pending; request folded into it", "why", why)
	}
}

// work runs the repo's syncs one at a time until runCtx ends or the repo
// is removed. Syncs run under syncCtx, which outlives runCtx during a
// graceful shutdown.
func (r *repo) work(runCtx, syncCtx context.Context) {
	for {
		select {
		case <-runCtx.Done():
			return
		case <-r.done:
			return
		case why := <-r.trigger:
			if runCtx.Err() != nil {
				// Shutting down: select chose the trigger pending
				// behind a sync that ended during the drain, or fired
				// just before; it starts nothing.
				return
			}
			r.runSync(syncCtx, why)
		}
	}
}

func (r *repo) runSync(ctx context.Context, why string) {
	defer r.d.recoverPanic("syncing " + r.name)
	rc := r.config()
	cfg, fetcher, _ := r.d.tools()
	r.mu.Lock()
	origin := r.origin
	r.mu.Unlock()
	now := time.Now().UTC()
	r.readHoldRecords(ctx)
	holdChanged := r.refreshHold()
	r.mu.Lock()
	hold := r.hold
	r.mu.Unlock()
	if hold != nil {
		if holdChanged && ctx.Err() == nil {
			// Judge the mirrors against the hold (refreshHold).
			defer func() {
				r.probeMirrors(ctx)
				r.render(true)
			}()
		}
		// Not a failure: rpmirror rollback holds the repo until rpmirror
		// resume.
		err := &sync.HeldError{Hold: hold}
		r.log.Info("sync skipped: the repository is held", "why", why, "snapshot", hold.Snapshot, "by", hold.By, "since", hold.At)
		r.d.metrics.syncRuns.WithLabelValues(r.name, "held").Inc()
		r.mu.Lock()
		r.lastSync = &server.SyncStatus{Start: now, Result: "held", Error: err.Error()}
		r.mu.Unlock()
		return
	}
	if origin.State == health.Down && !r.fillableHere(ctx, rc) {
		// Not a failure of ours: the origin is down. Skip, visibly, and
		// try again on the next trigger. (When a written mirror here
		// serves the current verified revision and another does not,
		// the sync runs: it brings that one to the revision from the
		// mirror beside, and is skipped otherwise.)
		r.log.Warn("sync skipped: the origin is down", "why", why, "reason", origin.Reason)
		r.d.metrics.syncRuns.WithLabelValues(r.name, "skipped").Inc()
		r.mu.Lock()
		r.lastSync = &server.SyncStatus{Start: now, Result: "skipped", Error: "origin is down: " + origin.Reason}
		r.mu.Unlock()
		return
	}
	// At most max_parallel_syncs syncs run at once; the rest wait here,
	// in no particular order, and a burst of origin changes drains
	// max_parallel_syncs at a time.
	release, err := r.d.syncSlots.acquire(ctx)
	if err != nil {
		return // shutting down
	}
	// The slot is for the sync itself: it is freed before the probes
	// that follow, which wait for probe slots of their own (behind a
	// whole probe round of 10,000 mirrors, at times).
	released := false
	defer func() {
		if !released {
			release()
		}
	}()
	r.glanceMu.Lock()
	r.mu.Lock()
	r.syncing = true
	// This sync is the retry of a failed one, whatever asked for it: a
	// retry falling due while it runs asked for a second right after it
	// (a reviewer's). Its end sets the next (noteRetryLocked).
	r.retryAt = time.Time{}
	r.mu.Unlock()
	r.glanceMu.Unlock()
	r.liftPending.Store(false) // this is the sync a lifted hold asks for
	// A write of the lists into the mirrors under way ends before the
	// sync starts (and none to a mirror in object storage starts until
	// the sync is over: writeLists): there it holds the mirror's lease,
	// and the sync, finding it held, went on standby behind its own
	// daemon.
	r.writing.Lock()
	r.writing.Unlock() //nolint:staticcheck // waiting for the holder is the point
	r.d.metrics.syncRunning.WithLabelValues(r.name).Set(1)
	r.log.Info("sync starting", "why", why)
	rep := r.safeSync(ctx, sync.Options{
		Store:           r.d.store,
		Fetcher:         fetcher,
		Logger:          r.d.log,
		Concurrency:     cfg.Download.Concurrency,
		MaxMetadataSize: cfg.Download.MaxMetadataSize,
		OnVerified:      r.verifiedBySync,
		BeforePublish:   r.beforePublish,
		Suspect:         r.suspect,
		OnLocked: func() {
			r.stampMu.Lock()
			r.syncLocked = true
			r.stampMu.Unlock()
		},
		BeforeUnlock: func() {
			// What this sync wrote into the state_dir is not news to
			// watchState (which r.syncLocked keeps from looking
			// meanwhile); taken before another process can take the lock
			// and write. Not so while it waited for the lock: what the
			// process holding it wrote is, and was taken then.
			published := r.publishedDigest()
			r.stampMu.Lock()
			r.stamp = r.d.store.Stamp(r.name)
			r.published = published
			r.stampMu.Unlock()
		},
	}, &rc)
	r.d.metrics.syncRunning.WithLabelValues(r.name).Set(0)
	r.stampMu.Lock()
	r.syncLocked = false
	r.stampMu.Unlock()
	r.mu.Lock()
	if rep.Err == nil {
		r.lifted = nil // the mirrors serve what this sync published (keepHeld)
	}
	r.mu.Unlock()
	r.recordSync(ctx, rep)
	released = true
	release()
	if rep.Skipped || rep.FromMirror != "" {
		// The sync found no usable upstream before a probe did: say so
		// now, so that the next triggers skip until a probe finds one.
		r.noteSkipped(rep)
	}
	if rep.Repomd != nil && rep.FromMirror == "" {
		// (A revision taken from a mirror here says nothing of what
		// the origin serves: a refusal of its revision stands.)
		r.noteRefusal(rep)
	}
	if rep.Err == nil && rep.Repomd != nil && rep.FromMirror == "" {
		// The origin's, which probes compare with what it serves (not
		// when the revision came from a mirror here: the origin was
		// not read): a
		// filtered repository's own repomd.xml made every probe ask for
		// a sync.
		r.noteOrigin(rep.OriginRepomd())
		r.refreshPackages()
		if rep.Filter != nil {
			r.mu.Lock()
			r.filteredFrom = sha256Hex(rep.Filter.OriginRepomd)
			r.mu.Unlock()
		}
	}
	// Probe now rather than at the next round, so the mirror lists follow
	// the sync at once; and rewrite the lists into the mirrors, which a
	// whole-tree swap during the sync may have left out. Not after a sync
	// that found every mirror current and changed nothing: the rounds
	// probe them (at start-up, 1,000 repositories' no-op syncs probed
	// every mirror a second time inside the first round).
	if ctx.Err() == nil && !(rep.Err == nil && rep.NoChange) {
		r.probeMirrors(ctx)
		r.learnVerified(ctx)
		r.probeLeases(ctx, false)
	}
	r.render(true)
}

// noteRefusal records whether the origin's revision a sync read failed
// verification: the origin is then never listed while it serves it, and
// /status says why the current revision is not the origin's.
func (r *repo) noteRefusal(rep *sync.Report) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case rep.RevisionVerified:
		r.refused = nil
	case rep.Err == nil, errors.Is(rep.Err, context.Canceled), errors.Is(rep.Err, state.ErrLocked), errors.Is(rep.Err, target.ErrLocked):
		// Says nothing of the revision.
	default:
		r.refused = &refusal{sha256: sha256Hex(rep.Repomd), revision: rep.Revision, reason: refusalReason(rep.Err)}
	}
	r.refusedMetricLocked()
}

// refusalReason is what /status says after "origin revision X refused: "
// of err: why, once. A refusal of repomd.xml's signature or key is said
// by the error itself as "origin URL revision X refused: ...", under "no
// usable upstream: checking repodata/repomd.xml from URL: ", so the note
// said the refusal twice (an operator tester's); it says the origin and
// what is wrong now.
func refusalReason(err error) string {
	var se *sync.RepomdSignatureError
	var ke *sync.RepoKeyMismatchError
	var nu *source.NoUsableUpstreamError
	if errors.As(err, &nu) && len(nu.Errs) > 1 {
		// Each upstream's reason, which may be of other revisions
		// than the one named (a reviewer's).
		return oneLine(err)
	}
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("repomd.xml %s (from %s)", oneLine(se.Err), se.Origin)
	case errors.As(err, &ke) && ke.Origin != "":
		origin := ke.Origin
		ke2 := *ke
		ke2.Origin = "" // its Error is then the reason alone
		return fmt.Sprintf("%s %s (from %s)", sync.KeyPath, oneLine(&ke2), origin)
	}
	return oneLine(err)
}

// refusedMetricLocked sets rpmirror_origin_revision_refused: 1 while the
// origin serves the revision refused. r.mu is held.
func (r *repo) refusedMetricLocked() {
	v := 0.0
	if r.refused != nil && r.originRepomd != nil && sha256Hex(r.originRepomd) == r.refused.sha256 {
		v = 1
	}
	r.d.metrics.originRefused.WithLabelValues(r.name).Set(v)
}

// originNote says why the current verified revision is not what the
// origin serves, or "" when it is. r.mu is held.
func (r *repo) originNoteLocked() string {
	if r.originRepomd == nil {
		return ""
	}
	sum := sha256Hex(r.originRepomd)
	rev := "(no revision)"
	if md, err := repodata.ParseRepomd(r.originRepomd); err == nil {
		rev = revName(md.Revision)
	}
	switch i := r.verified.Find(sum); {
	case i == 0:
		return ""
	case r.hold == nil && r.cfg.Filter != nil && sum == r.filteredFrom:
		// The origin's revision the current filtered one was written
		// from, never itself among the verified (a reviewer saw "not
		// verified yet" for an up-to-date filtered repo).
		return ""
	case r.hold != nil:
		return fmt.Sprintf("held at snapshot %s by %s: the origin's revision %s is not synced until rpmirror resume", r.hold.Snapshot, r.hold.By, rev)
	case r.refused != nil && r.refused.sha256 == sum:
		return fmt.Sprintf("origin revision %s refused: %s", rev, r.refused.reason)
	case i > 0:
		return fmt.Sprintf("the origin serves the earlier verified revision %s", rev)
	case r.syncing:
		return fmt.Sprintf("origin revision %s not verified yet: the sync running now verifies it", rev)
	}
	return fmt.Sprintf("origin revision %s not verified yet: the next sync verifies it", rev)
}

// runEngine runs one sync; tests replace it to watch or break syncs.
var runEngine = func(ctx context.Context, opts sync.Options, rc *config.Repo) *sync.Report {
	return sync.New(opts).Sync(ctx, rc)
}

// safeSync runs the engine, turning a panic into a failed sync: the
// daemon goes on, and the failure is reported like any other.
func (r *repo) safeSync(ctx context.Context, opts sync.Options, rc *config.Repo) (rep *sync.Report) {
	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("panic in a sync: recovered, the daemon goes on", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			rep = &sync.Report{Repo: rc.Name, Start: start, Duration: time.Since(start), Err: fmt.Errorf("internal error: the sync panicked: %v", p)}
		}
	}()
	return runEngine(ctx, opts, rc)
}

// recordSync updates status, metrics and alerts from a sync's report.
func (r *repo) recordSync(ctx context.Context, rep *sync.Report) {
	m := r.d.metrics
	result := "ok"
	if rep.NoChange {
		result = "no change"
	}
	if rep.Err != nil {
		result = "failed"
	}
	if errors.Is(rep.Err, sync.ErrHeld) {
		result = "held"
	}
	if rep.Skipped {
		result = "skipped"
	}
	st := &server.SyncStatus{
		Start:      rep.Start,
		Seconds:    rep.Duration.Seconds(),
		Result:     result,
		Fetched:    rep.Fetched,
		Bytes:      rep.Bytes,
		Revision:   rep.Revision,
		FromMirror: rep.FromMirror,
	}
	m.syncDuration.WithLabelValues(r.name).Observe(rep.Duration.Seconds())
	m.syncBytes.WithLabelValues(r.name).Add(float64(rep.Bytes))
	m.syncPackages.WithLabelValues(r.name).Add(float64(rep.Fetched))
	ok := rep.Err == nil
	r.mu.Lock()
	r.standby = isStandby(rep)
	r.mu.Unlock()
	if isStandby(rep) {
		// Another rpmirror writes the mirror: this one serves and
		// probes, and takes over when the lease is free.
		st.Result, st.Error = "standby", oneLine(rep.Err)
		m.syncRuns.WithLabelValues(r.name, "standby").Inc()
		r.log.Info("sync: on standby, another rpmirror holds the lease", "err", st.Error)
		r.endSync(st)
		return
	}
	locked := errors.Is(rep.Err, state.ErrLocked)
	r.mu.Lock()
	if !locked {
		r.busySince = time.Time{}
	} else if r.busySince.IsZero() {
		r.busySince = rep.Start
	}
	busyFor := rep.Start.Sub(r.busySince)
	r.mu.Unlock()
	if locked {
		// Whether or not it is a failure yet, a sync runs once the
		// process holding the lock is done (watchState).
		r.busy.Store(true)
		r.follow()
	}
	if locked && busyFor < busyAlertAfter {
		// Another rpmirror process (a sync, rollback or resume run by
		// hand) holds the repository: no failure, no alert. The daemon
		// follows it and syncs once it is done (watchState). Before, a
		// sync by hand beside the daemon failed the daemon's and
		// alerted, then "recovered". A lock held for busyAlertAfter (a
		// command hung, another program holding the lock file) is a
		// failure again, alerted.
		st.Result, st.Error = "busy", oneLine(rep.Err)
		m.syncRuns.WithLabelValues(r.name, "busy").Inc()
		r.log.Info("sync left to another rpmirror process holding the repository's lock; syncing again once it is done", "err", st.Error)
		r.endSync(st)
		return
	}
	if errors.Is(rep.Err, sync.ErrHeld) {
		// A rollback came first: no failure, and the next probe round
		// reads the hold.
		st.Result, st.Error = "held", oneLine(rep.Err)
		m.syncRuns.WithLabelValues(r.name, "held").Inc()
		r.log.Info("sync skipped: the repository is held", "err", st.Error)
		r.endSync(st)
		r.refreshHold()
		return
	}
	if rep.Skipped {
		// No upstream was usable: not a failure of the sync, which
		// changed nothing; the upstreams' states say why.
		st.Error = oneLine(rep.Err)
		m.syncRuns.WithLabelValues(r.name, "skipped").Inc()
		r.log.Warn("sync skipped: no usable upstream", "err", st.Error)
		r.mu.Lock()
		r.syncing = false
		r.lastSync = st
		r.noteRetryLocked(false, rep.Start.Add(rep.Duration))
		r.failures = append(r.failures, server.FailureStatus{Time: rep.Start, What: "sync skipped", Error: st.Error})
		if len(r.failures) > maxFailures {
			r.failures = r.failures[len(r.failures)-maxFailures:]
		}
		r.mu.Unlock()
		r.alertRollback(rep, st.Error)
		return
	}
	if errors.Is(rep.Err, sync.ErrInterrupted) {
		// The daemon is stopping and cancelled the sync after
		// -shutdown-timeout: no failure and nothing for a person to do
		// (the mirrors serve what they served, the next start syncs
		// again), so no alert, which no "recovered" would follow.
		st.Result, st.Error = "interrupted", oneLine(rep.Err)
		m.syncRuns.WithLabelValues(r.name, "interrupted").Inc()
		r.log.Warn("sync interrupted by the shutdown; the mirrors serve what they served", "duration", rep.Duration)
		r.endSync(st)
		return
	}
	// A sync that took the revision from a mirror here, the origin down,
	// synced nothing from the origin: the staleness clock runs on.
	synced := ok && rep.FromMirror == ""
	if ok {
		m.syncRuns.WithLabelValues(r.name, "ok").Inc()
	}
	if synced {
		m.syncLastSuccess.WithLabelValues(r.name).Set(float64(rep.Start.Add(rep.Duration).Unix()))
	}
	if ok {
		r.log.Info("sync done", "result", result, "revision", rep.Revision, "fetched", rep.Fetched, "from_mirrors", rep.FromMirrors, "bytes", rep.Bytes, "duration", rep.Duration)
	} else {
		st.Error = oneLine(rep.Err)
		m.syncRuns.WithLabelValues(r.name, "failed").Inc()
		m.syncFailures.WithLabelValues(r.name, failureReason(rep)).Inc()
		r.log.Error("sync failed", "err", st.Error)
	}
	r.mu.Lock()
	r.syncing = false
	r.lastSync = st
	r.noteRetryLocked(ok, rep.Start.Add(rep.Duration))
	if synced {
		r.lastSuccess = rep.Start.Add(rep.Duration)
	} else if !ok {
		r.failures = append(r.failures, server.FailureStatus{Time: rep.Start, What: "sync", Error: st.Error})
		if len(r.failures) > maxFailures {
			r.failures = r.failures[len(r.failures)-maxFailures:]
		}
	}
	prev := r.lastSyncOK
	r.lastSyncOK = &ok
	r.mu.Unlock()
	if ok {
		r.heldLeases(ctx)
	}
	r.alertRollback(rep, st.Error)
	switch {
	case !ok && (prev == nil || *prev):
		from := "ok"
		if prev == nil {
			from = "unknown" // the daemon's first sync of the repo
		}
		r.d.alerts.Send(alert.Event{Kind: "sync", Repo: r.name, From: from, To: "failed", Reason: st.Error})
	case ok && prev != nil && !*prev:
		r.d.alerts.Send(alert.Event{Kind: "sync", Repo: r.name, From: "failed", To: "ok"})
	}
}

// maxRetryDelay bounds the wait before a failed sync is tried again.
const maxRetryDelay = time.Hour

// noteRetryLocked records how a sync that ended at end went: ok, or
// failed or skipped. A sync that failed or was skipped is tried again
// though the origin's repomd.xml does not change, which is what a probe
// asks a sync for: the origin that serves a revision whose signature
// does not verify yet (its repomd.xml.asc uploaded after its
// repomd.xml), a package answering 403 or cut short for a while, a
// mirror's disk full. Before, such a revision waited for the next
// scheduled sync, an hour by default (an operator tester's: the
// mirrors lagged the fixed origin until the daemon was restarted). The
// wait is probe_interval, doubled at each failure in a row, at most
// maxRetryDelay; a probe round that finds the origin up asks for the
// sync once it has passed (retryDue). r.mu is held.
func (r *repo) noteRetryLocked(ok bool, end time.Time) {
	if ok {
		r.retries, r.retryAt = 0, time.Time{}
		return
	}
	r.retries++
	d := retryDelay(r.d.probeInterval(), r.retries)
	// Up to a tenth later, so that repositories failing together (a
	// full disk under all their mirrors) do not retry in step.
	d += rand.N(d/10 + 1)
	r.retryAt = end.Add(d)
	if r.sched != nil && !r.sched.Next(end).After(r.retryAt) {
		// The schedule runs it first: no retry beside it (a daily
		// repository failing for good retried every hour).
		r.retryAt = time.Time{}
	}
}

// retryDelay is the wait before the sync after n failures in a row.
func retryDelay(probe time.Duration, n int) time.Duration {
	d := max(probe, time.Second)
	for i := 1; i < n && d < maxRetryDelay; i++ {
		d *= 2
	}
	return min(d, maxRetryDelay)
}

// retryDue reports whether a failed sync is due to be tried again at
// now, and after how many failures; once it says so, it says so again
// only after the sync it asked for fails too.
func (r *repo) retryDue(now time.Time) (int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.retryAt.IsZero() || now.Before(r.retryAt) {
		return 0, false
	}
	r.retryAt = time.Time{}
	return r.retries, true
}

// retryTime is when a failed sync is to be tried again, for /status:
// zero when none is, or when none would run then (the origin down, for
// which its recovery asks; the repository held); now once it is due and
// waits for the next probe round, so next_sync never shows a time gone
// by (a reviewer's).
func (r *repo) retryTime(now time.Time) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.retryAt.IsZero() || r.hold != nil || r.origin.State != health.OK {
		return time.Time{}
	}
	if !r.retryAt.After(now) {
		// Due: the next probe round asks for it (a tester's status
		// showed the schedule's hour until then).
		return now
	}
	return r.retryAt
}

// endSync records st as the repo's last sync, which is over.
func (r *repo) endSync(st *server.SyncStatus) {
	r.mu.Lock()
	r.syncing = false
	r.lastSync = st
	r.mu.Unlock()
}

// alertRollback alerts on a refused rollback on its own, once per
// refused revision of an upstream, whatever the sync alerts: a rollback
// is an attack or a mistake at the origin.
func (r *repo) alertRollback(rep *sync.Report, reason string) {
	var rb *sync.RollbackError
	if !errors.As(rep.Err, &rb) {
		return
	}
	seen := []byte(rb.Origin + "\x00" + rb.Revision + "\x00" + rb.CurrentRevision)
	r.mu.Lock()
	again := bytes.Equal(r.rollbackSeen, seen)
	r.rollbackSeen = seen
	r.mu.Unlock()
	if !again {
		r.d.alerts.Send(alert.Event{Kind: "rollback", Repo: r.name, From: rb.CurrentRevision, To: rb.Revision, Reason: reason})
	}
}

// busyAlertAfter is how long the daemon's syncs of a repository may find
// its lock held by another process before that is a failure, alerted.
const busyAlertAfter = time.Hour

// failureReason classifies a failed sync for the failures metric.
func failureReason(rep *sync.Report) string {
	err := rep.Err
	var (
		se *verify.SignatureError
		ce *verify.ChecksumError
		he *verify.HeaderMismatchError
		co *verify.CorruptError
		sz *verify.SizeError
		st *fetch.StatusError
		ue *source.UpstreamError
	)
	var (
		rb  *sync.RollbackError
		rse *sync.RepomdSignatureError
		rkm *sync.RepoKeyMismatchError
	)
	switch {
	case errors.As(err, &rb):
		return "rollback"
	case errors.As(err, &rse), errors.As(err, &rkm):
		return "verify"
	case errors.Is(err, state.ErrLocked) || errors.Is(err, target.ErrLocked):
		return "locked"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.As(err, &se), errors.As(err, &ce), errors.As(err, &he), errors.As(err, &co), errors.As(err, &sz):
		return "verify"
	case errors.As(err, &st), errors.As(err, &ue), errors.Is(err, fetch.ErrStalled):
		return "origin"
	}
	for _, m := range rep.Mirrors {
		if m.Err != nil {
			return "publish"
		}
	}
	return "other"
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

// noteOrigin records b as the origin's current repomd.xml and reports
// whether it is a new revision.
func (r *repo) noteOrigin(b []byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if bytes.Equal(b, r.originRepomd) {
		return false
	}
	r.originRepomd = bytes.Clone(b)
	r.refusedMetricLocked()
	return true
}

// loadVerified reads the repo's verified revisions from state_dir. With
// none recorded (state from an older rpmirror), the revision a written
// mirror published last counts as current when rpmirror published it;
// the next sync records it for good.
func (r *repo) loadVerified() {
	v, err := r.d.store.LoadVerified(r.name)
	if err != nil {
		r.log.Error("reading the verified revisions; starting with none", "err", err)
		v = &state.Verified{Repo: r.name}
	}
	if v.Current() == nil {
		if b := r.publishedRepomd(); b != nil {
			if md, err := repodata.ParseRepomd(b); err == nil {
				v.Add(state.Revision{Revision: md.Revision, SHA256: sha256Hex(b), Repomd: b}, time.Now().UTC(), 0)
			}
		}
	}
	r.mu.Lock()
	r.stored = v
	r.verified = r.viewLocked(v)
	r.mu.Unlock()
}

// refreshHold reads whether rpmirror rollback holds the repo (another
// process may have rolled it back or resumed it since) and reports
// whether that changed. The mirrors are then to be probed again: their
// last probes were taken before the rollback or resume changed what the
// written mirrors serve, and judging them against the held revision made
// every written mirror stale (and alerted) for the moment until the next
// probes. Callers judge them again from their last probes only where
// judge's pending rule covers a rollback under way (watchState).
func (r *repo) refreshHold() (changed bool) {
	// One at a time, read and applied: an older read applied after a
	// newer one held a lifted repo again (probes, the state watcher and
	// syncs all call this).
	r.holdMu.Lock()
	defer r.holdMu.Unlock()
	h, err := r.d.store.LoadHold(r.name)
	if err != nil {
		r.log.Error("reading whether the repo is held; keeping what was known", "err", err)
		return false
	}
	r.mu.Lock()
	h = sync.ForRepo(sync.EffectiveHold(h, r.holdRecord), r.name) // a rollback or resume on another host
	r.mu.Unlock()
	held := 0.0
	if h != nil {
		held = 1
	}
	r.d.metrics.held.WithLabelValues(r.name).Set(held)
	r.mu.Lock()
	old := r.hold
	same := (old == nil) == (h == nil) && (h == nil || (old.SHA256 == h.SHA256 && old.At.Equal(h.At) && old.Done.Equal(h.Done)))
	if same {
		r.mu.Unlock()
		return false
	}
	r.hold = h
	switch {
	case h == nil:
		r.heldBefore = nil
		if old != nil {
			r.lifted, r.liftedAt = old, time.Now().UTC()
		}
	case old == nil || old.SHA256 != h.SHA256:
		// A new hold: the written mirrors may still serve what the hold
		// before it held, this one's or a lifted one's (withdrawn).
		r.heldBefore = old
		if old == nil {
			r.heldBefore = r.lifted
		}
		r.lifted = nil
	default:
		r.lifted = nil
	}
	if r.stored != nil {
		r.verified = r.viewLocked(r.stored)
	}
	r.mu.Unlock()
	if h != nil {
		r.log.Warn("the repository is held: no sync moves it forward until rpmirror resume", "snapshot", h.Snapshot, "revision", h.Revision, "by", h.By, "since", h.At)
	} else {
		r.log.Info("the repository is no longer held", "was_at", old.Snapshot)
		// The next probe asks for the sync the hold kept back, whoever
		// noticed the lift (a stale written mirror's judging, the state
		// watcher): a probe that compared the hold before and after its
		// own read missed it (a reviewer's resume beside the daemon, one
		// mirror stale, left the mirrors behind until the schedule).
		r.liftPending.Store(true)
	}
	// Rendered, and the lists written into the mirrors by a list writer:
	// this runs on the state watcher's goroutine and on probes', which a
	// write to object storage (a lease, PUTs) must not hold up.
	if r.renderViews(false) {
		r.d.writeListsLater(r)
	}
	return true
}

// viewLocked returns the revisions the mirrors are judged against, from
// the stored verified revisions v: while the repo is held, the held
// revision current (state.Verified.WithHold), followed by those the
// mirrors may serve while a rollback moves them (withdrawn); a lifted
// hold's revision kept (keepHeld). r.mu is held.
func (r *repo) viewLocked(v *state.Verified) *state.Verified {
	return withdrawn(keepHeld(v, r.lifted, r.liftedAt).WithHold(r.hold), v, r.hold, r.heldBefore)
}

// withdrawn returns held, the revisions judged against while hold holds
// the repository, with after the held one the revisions the written
// mirrors may serve when the hold is made: before, the one the hold
// before it held (before: a second rollback while held, or one after a
// resume that no sync has followed yet), and every stored verified
// revision, the current one superseded when the hold was made (a sync
// that verified it may not have published it everywhere). judge keeps a
// written mirror serving one of them behind and listed, with its
// repomd.xml as the metalink's alternate, while rpmirror rollback is
// bringing the written mirrors to the held revision, so that clients are
// never left without a mirror while it moves them (nor the clients of a
// metalink answered just before the hold); and for max_lag after a
// rollback that died before it was done. Otherwise a mirror serving one
// of them is stale, as any mirror of a held repository that does not
// serve the held revision. held is not changed.
func withdrawn(held, stored *state.Verified, hold, before *state.Hold) *state.Verified {
	if hold == nil || held == nil || len(held.Revisions) != 1 {
		return held
	}
	revs := []state.Revision{held.Revisions[0]}
	seen := map[string]bool{hold.SHA256: true}
	if before != nil && !seen[before.SHA256] {
		seen[before.SHA256] = true
		revs = append(revs, state.Revision{Revision: before.Revision, SHA256: before.SHA256, Repomd: before.Repomd,
			Packages: before.Packages, PackageSizes: before.PackageSizes, Signature: before.Signature,
			VerifiedAt: before.At, SupersededAt: hold.At})
	}
	if stored != nil {
		for i, rev := range stored.Revisions {
			if seen[rev.SHA256] {
				continue
			}
			seen[rev.SHA256] = true
			if i == 0 {
				rev.SupersededAt = hold.At
			}
			revs = append(revs, rev)
		}
	}
	if len(revs) == 1 {
		return held
	}
	next := *held
	next.Revisions = revs
	return &next
}

// keepHeld returns v with the revision hold held the repository at, once
// the hold is lifted (r.lifted, until the sync the lift asks for has
// published: the verified revisions it reports do not hold it either),
// as an earlier verified revision superseded at now, when v no longer
// holds it (the verified revisions are bounded, and a snapshot may be
// older than all of them), or holds it superseded before now (a
// tester's, superseded 13 minutes before, more than max_lag, made the
// mirrors stale and unlisted for half a second after each resume): the
// written mirrors serving it are behind until the sync the lift asks for
// brings them forward, not stale, alerted and out of the lists (a
// tester's every resume to an old snapshot alerted four times). The
// snapshot's revision was verified when synced, and its snapshot checked
// by the rollback. v is not changed; the result is not saved (a sync's
// report replaces it).
func keepHeld(v *state.Verified, hold *state.Hold, now time.Time) *state.Verified {
	if v == nil || hold == nil {
		return v
	}
	cur := v.Current()
	if cur == nil || hold.SHA256 == "" {
		return v
	}
	if i := v.Find(hold.SHA256); i == 0 || (i > 0 && !v.Revisions[i].SupersededAt.Before(now)) {
		return v
	} else if i > 0 {
		next := *v
		next.Revisions = slices.Clone(v.Revisions)
		next.Revisions[i].SupersededAt = now
		return &next
	}
	next := *v
	held := state.Revision{Revision: hold.Revision, SHA256: hold.SHA256, Repomd: hold.Repomd, Packages: hold.Packages, PackageSizes: hold.PackageSizes,
		Signature: hold.Signature, VerifiedAt: cur.VerifiedAt.Add(-time.Nanosecond), SupersededAt: now}
	next.Revisions = slices.Insert(slices.Clone(v.Revisions), 1, held)
	return &next
}

// readHoldRecords reads the hold record kept with each written mirror in
// object storage (sync.ReadHoldRecord) and keeps the newest for
// refreshHold: a daemon on another host, sharing the mirror, holds the
// repository as soon as a rollback there recorded it, and lets it go when
// a resume did. A mirror that cannot be read keeps what was read last
// (warned once).
func (r *repo) readHoldRecords(ctx context.Context) {
	cfg, _, _ := r.d.tools()
	var recs []*sync.HoldRecord
	failed := false
	for _, m := range r.config().Mirrors {
		if !m.Written() || m.Kind() != "s3" {
			continue
		}
		tg, err := r.target(ctx, m)
		var rec *sync.HoldRecord
		if err == nil {
			rctx, cancel := context.WithTimeout(ctx, cfg.ProbeTimeout)
			rec, err = sync.ReadHoldRecord(rctx, tg)
			cancel()
		}
		if ctx.Err() != nil {
			return
		}
		r.warnOnChange("reading the hold record", m.Name, err)
		if err != nil {
			failed = true
			continue
		}
		recs = append(recs, rec)
	}
	r.mu.Lock()
	if failed {
		recs = append(recs, r.holdRecord) // what an unread mirror said last
	}
	r.holdRecord = sync.Newest(recs...)
	r.mu.Unlock()
}

// learnVerified merges into the repo's verified revisions, when a written
// mirror in object storage serves a revision this daemon has not
// verified, those another daemon sharing the mirror keeps in its records
// (its sync succeeded where this one's failed, or this one was on
// standby; an operator's HA test). Without it the mirror was judged
// unknown ("not verified yet") and left out of the lists. The records are
// read only then, not every round. (Those an rpmirror sync beside the
// daemon records in the same state_dir are learnt as each probe reads a
// repomd.xml: accept, learnLocal.)
func (r *repo) learnVerified(ctx context.Context) {
	cfg, _, _ := r.d.tools()
	rc := r.config()
	r.mu.Lock()
	known := r.stored
	r.mu.Unlock()
	var learnt []*state.Verified
	for _, m := range rc.Mirrors {
		res, ok := r.tracker.Get(m.Name)
		if !ok || res.SHA256 == "" || (known != nil && known.Find(res.SHA256) >= 0) {
			continue
		}
		// The state_dir's are learnt as the probe reads repomd.xml
		// (accept, learnLocal); those kept with the mirror here.
		if !m.Written() || m.Kind() != "s3" {
			continue
		}
		tg, err := r.target(ctx, m)
		var v *state.Verified
		if err == nil {
			rctx, cancel := context.WithTimeout(ctx, cfg.ProbeTimeout)
			v, err = sync.VerifiedFromRecords(rctx, tg)
			cancel()
		}
		if ctx.Err() != nil {
			return
		}
		r.warnOnChange("reading the verified revisions kept with the mirror", m.Name, err)
		if v != nil {
			learnt = append(learnt, v)
		}
	}
	r.adoptVerified(known, learnt)
}

// adoptVerified merges learnt, verified revisions another rpmirror
// recorded, into known, the repo's verified revisions when they were
// read, and takes the result (setVerified) unless it changes nothing or
// a sync reported meanwhile. It reports whether it took it.
func (r *repo) adoptVerified(known *state.Verified, learnt []*state.Verified) bool {
	if len(learnt) == 0 {
		return false
	}
	rc := r.config()
	next := &state.Verified{Repo: r.name}
	if known != nil {
		*next = *known
		next.Revisions = slices.Clone(known.Revisions)
	}
	for _, v := range learnt {
		next.Merge(v, time.Now().UTC(), rc.MaxLag)
	}
	same := known != nil && slices.EqualFunc(next.Revisions, known.Revisions, func(a, b state.Revision) bool {
		return a.SHA256 == b.SHA256 && len(a.Packages) == len(b.Packages) && len(a.PackageSizes) == len(b.PackageSizes)
	})
	if same {
		return false // what Merge added it trimmed again (too old to keep)
	}
	if !r.setVerifiedIf(known, next) {
		return false // a sync reported meanwhile: it learnt them too
	}
	r.log.Info("verified revisions: learnt from another rpmirror's (state_dir, or the records kept with a mirror in object storage)", "current", next.Current().Revision)
	return true
}

// learnLocal takes the verified revisions an rpmirror sync beside the
// daemon recorded in the state_dir when they have sum, a revision a
// mirror was just found serving that the daemon has not verified: the
// probe is judged against them, not found stale and alerted on first
// (a tester's hand sync of a filtered revision made every mirror stale
// for a probe round).
func (r *repo) learnLocal(sum string) {
	r.mu.Lock()
	known := r.stored
	r.mu.Unlock()
	if known.Find(sum) >= 0 {
		return
	}
	// Read again only when the file changed since it was last found
	// without sum: a mirror serving a revision nobody verified (a
	// partner ahead, or stale) is probed every round.
	saved := r.d.store.VerifiedModTime(r.name)
	r.mu.Lock()
	missed, seen := r.localMiss[sum]
	r.mu.Unlock()
	if seen && missed.Equal(saved) {
		return
	}
	v, err := r.d.store.LoadVerified(r.name)
	r.warnOnChange("reading the verified revisions in state_dir", "", err)
	if v != nil && v.Find(sum) >= 0 && r.adoptVerified(known, []*state.Verified{v}) {
		return
	}
	// Not there, or too old to keep (Merge trims it), or a sync
	// reported meanwhile: not read again until the file changes.
	r.mu.Lock()
	if r.localMiss == nil || len(r.localMiss) > 64 {
		r.localMiss = map[string]time.Time{}
	}
	r.localMiss[sum] = saved
	r.mu.Unlock()
}

// metalinkGrace is how long after answering a metalink the daemon
// expects its client to fetch the repomd.xml it describes: dnf does at
// once (0.2 to 1 s after, in a tester's runs).
const metalinkGrace = 2 * time.Second

// verifiedBySync is the daemon's sync.Options.OnVerified: it takes the
// verified revisions the sync reports (setVerified: the lists name the
// new revision from then on, before any mirror serves it). The sync then
// waits for the metalink clients of the revision before at
// BeforePublish (beforePublish).
func (r *repo) verifiedBySync(v *state.Verified) {
	r.setVerified(v)
}

// setVerified takes the verified revisions a sync reports, at once (a
// sync reports a new revision before any mirror serves it), and judges
// the mirrors again against them.
func (r *repo) setVerified(v *state.Verified) {
	r.mu.Lock()
	r.takeVerifiedLocked(v)
	r.mu.Unlock()
	r.judgeAgain()
}

// setVerifiedIf is setVerified of v, provided the repo's verified
// revisions are still known, checked and replaced under one lock: a
// sync's report between a read and the replacement is not overwritten.
func (r *repo) setVerifiedIf(known, v *state.Verified) bool {
	r.mu.Lock()
	if r.stored != known {
		r.mu.Unlock()
		return false
	}
	r.takeVerifiedLocked(v)
	r.mu.Unlock()
	r.judgeAgain()
	return true
}

// takeVerifiedLocked makes v the repo's verified revisions. r.mu is held.
func (r *repo) takeVerifiedLocked(v *state.Verified) {
	r.stored = v
	v = r.viewLocked(v)
	r.verified = v
	if cur := v.Current(); cur != nil {
		if r.refused != nil && r.refused.sha256 == cur.SHA256 {
			r.refused = nil
		}
	}
}

// judgeAgain judges every mirror again against the repo's verified
// revisions, and renders the lists.
func (r *repo) judgeAgain() {
	rc := r.config()
	for _, m := range rc.Mirrors {
		if m.URL == "" {
			continue
		}
		// Judged again from what the probe found, not from what it was
		// judged: one judged unknown (serving a revision not verified
		// then) is judged so no more (a tester's mirrors stayed
		// unlisted a whole probe_interval after their revision was
		// learnt).
		r.mu.Lock()
		res, ok := r.probed[m.Name]
		r.mu.Unlock()
		if !ok {
			res, ok = r.tracker.Get(m.Name)
		}
		if ok {
			r.recordProbe(m, res)
		}
	}
	// Written into the mirrors by the list writers: this may run in a
	// probe (accept, learnLocal), which must not wait for their fsyncs
	// or a lease.
	if r.renderViews(false) {
		r.d.writeListsLater(r)
	}
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// targetTimeout bounds each read or write of a written mirror the daemon
// does itself (repomd.xml, a primary sample, the lists).
const targetTimeout = time.Minute

// targetKey is what a written mirror's target is opened from.
type targetKey struct {
	path string
	s3   config.S3
}

func targetKeyOf(m config.Mirror) targetKey {
	key := targetKey{path: m.Path}
	if m.S3 != nil {
		key.s3 = *m.S3
	}
	return key
}

// openTarget is a written mirror's target as opened from its
// configuration, kept while that configuration stays the same.
type openTarget struct {
	key targetKey
	tg  target.Target
}

// target returns the target of the written mirror m, opened from its
// configuration by targets.Open (the daemon never names a kind of target)
// and kept until m's configuration changes.
func (r *repo) target(ctx context.Context, m config.Mirror) (target.Target, error) {
	key := targetKeyOf(m)
	r.tgMu.Lock()
	defer r.tgMu.Unlock()
	if o, ok := r.targets[m.Name]; ok && o.key == key {
		return o.tg, nil
	}
	tg, err := targets.Open(ctx, m)
	if err != nil {
		return nil, err
	}
	r.targets[m.Name] = openTarget{key: key, tg: tg}
	return tg, nil
}

// fillableHere reports whether a written mirror of rc on this machine (a
// path) serves the current verified revision while another written
// mirror does not (added since, left behind, or emptied by hand): a sync
// with the origin down then brings that one to the revision from the
// mirror beside (sync's fromMirrorHere), so it is not skipped. A mirror
// rpmirror's state says it published the revision to is asked for its
// repomd.xml (one small read; a mirror never published to is not opened,
// which would create its directory). A filtered or sign_with repository
// is not: its revision is written from the origin's.
func (r *repo) fillableHere(ctx context.Context, rc config.Repo) bool {
	if rc.Filter != nil || rc.SignWith != "" {
		return false
	}
	v, err := r.d.store.LoadVerified(rc.Name)
	cur := v.Current()
	if err != nil || cur == nil {
		return false
	}
	st, err := r.d.store.Load(rc.Name)
	if err != nil {
		return false
	}
	// By the state first: no read at all when no path mirror was
	// published the revision. Then the path mirrors are read until one
	// serves it (another that does not is behind); the others only while
	// none is known behind.
	var paths, others []config.Mirror
	behind := false
	for _, m := range rc.Mirrors {
		if !m.Written() {
			continue
		}
		switch ms := st.Mirrors[m.Name]; {
		case ms == nil || ms.RepomdSHA256 != cur.SHA256:
			behind = true
		case m.Path != "":
			paths = append(paths, m)
		default:
			others = append(others, m)
		}
	}
	here := false
	for _, m := range paths {
		if behind && here {
			return true
		}
		if r.serves(ctx, m, cur.Repomd) {
			here = true
		} else {
			behind = true
		}
	}
	if !here {
		return false
	}
	for _, m := range others {
		if behind {
			break
		}
		behind = !r.serves(ctx, m, cur.Repomd)
	}
	return behind
}

// serves reports whether the written mirror m serves repomd, byte for
// byte, read through its target.
func (r *repo) serves(ctx context.Context, m config.Mirror, repomd []byte) bool {
	tg, err := r.target(ctx, m)
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, targetTimeout)
	defer cancel()
	rc, err := tg.Open(ctx, sync.RepomdPath)
	if err != nil {
		return false
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, int64(len(repomd))+1))
	return err == nil && bytes.Equal(b, repomd)
}

// awaitsFirstSync reports whether rpmirror's state shows no sync that
// published to the written mirror called name, or tried to: a mirror
// added to the configuration before its first sync. A sync skipped (no
// usable upstream, the origin down) or interrupted is no try; one that
// failed on the mirror is. A state file that cannot be read says no.
func (r *repo) awaitsFirstSync(name string) bool {
	st, err := r.d.store.Load(r.name)
	if err != nil {
		return false
	}
	if s := st.Mirrors[name]; s != nil && s.RepomdSHA256 != "" {
		return false
	}
	for _, run := range st.Runs {
		if _, ok := run.Mirrors[name]; ok && !run.Skipped && !run.Cancelled {
			return false
		}
	}
	return true
}

// publishedMirrors returns the written mirrors of rc that rpmirror has
// published to, by its state, with that state; a mirror never published
// to is not opened (opening a directory mirror creates it).
func (r *repo) publishedMirrors(rc config.Repo) ([]config.Mirror, map[string]*state.Mirror) {
	st, err := r.d.store.Load(rc.Name)
	var corrupt *state.CorruptError
	if err != nil && !errors.As(err, &corrupt) {
		return nil, nil // a damaged state file still gives usable (empty) state
	}
	var ms []config.Mirror
	for _, m := range rc.Mirrors {
		if s := st.Mirrors[m.Name]; m.Written() && s != nil && s.RepomdSHA256 != "" {
			ms = append(ms, m)
		}
	}
	return ms, st.Mirrors
}

// readMirrorFile returns the content of p in the written mirror m, up to
// limit bytes.
func (r *repo) readMirrorFile(ctx context.Context, m config.Mirror, p string, limit int64) ([]byte, error) {
	tg, err := r.target(ctx, m)
	if err != nil {
		return nil, err
	}
	rc, err := tg.Open(ctx, p)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s of mirror %s: %w", p, m.Name, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("reading %s of mirror %s: larger than %d bytes", p, m.Name, limit)
	}
	return b, nil
}

// publishedRepomd returns the repomd.xml of the written mirror published
// last, or nil; only one rpmirror published (its state records its
// digest) counts.
func (r *repo) publishedRepomd() []byte {
	ctx, cancel := context.WithTimeout(context.Background(), targetTimeout)
	defer cancel()
	ms, st := r.publishedMirrors(r.config())
	var best []byte
	var when time.Time
	for _, m := range ms {
		b, err := r.readMirrorFile(ctx, m, sync.RepomdPath, sync.MaxRepomdSize)
		if err != nil || sha256Hex(b) != st[m.Name].RepomdSHA256 {
			continue
		}
		if best == nil || st[m.Name].PublishedAt.After(when) {
			best, when = b, st[m.Name].PublishedAt
		}
	}
	return best
}

// refreshPackages samples packages (with their sizes) from a written
// mirror's primary metadata, for the package check of probes.
func (r *repo) refreshPackages() {
	ctx, cancel := context.WithTimeout(context.Background(), targetTimeout)
	defer cancel()
	ms, _ := r.publishedMirrors(r.config())
	for _, m := range ms {
		pkgs, sum, err := r.samplePrimary(ctx, m)
		if err != nil {
			r.log.Debug("sampling packages", "mirror", m.Name, "err", err)
			continue
		}
		r.mu.Lock()
		r.packages, r.packagesOf = pkgs, sum
		r.mu.Unlock()
		return
	}
}

// samplePrimary samples packages from the primary metadata the written
// mirror m serves, checked against the checksum and size its repomd.xml
// gives, and returns them with the hex sha256 digest of that repomd.xml.
func (r *repo) samplePrimary(ctx context.Context, m config.Mirror) ([]health.Package, string, error) {
	raw, err := r.readMirrorFile(ctx, m, sync.RepomdPath, sync.MaxRepomdSize)
	if err != nil {
		return nil, "", err
	}
	md, err := repodata.ParseRepomd(raw)
	if err != nil {
		return nil, "", fmt.Errorf("mirror %s: %s: %w", m.Name, sync.RepomdPath, err)
	}
	d, ok := md.Find("primary")
	if !ok {
		return nil, "", fmt.Errorf("mirror %s: %s lists no primary metadata", m.Name, sync.RepomdPath)
	}
	tg, err := r.target(ctx, m)
	if err != nil {
		return nil, "", err
	}
	f, err := tg.Open(ctx, d.Href) // the target checks the path
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	// The sizes sampled are what probes hold mirrors to: they come from
	// the primary metadata that repomd.xml names, checksum and all.
	vr, err := verify.NewReader(f, d.Size, d.Checksum)
	if err != nil {
		return nil, "", fmt.Errorf("mirror %s: %s: %w", m.Name, d.Href, err)
	}
	rd, err := repodata.Decompress(vr, d.Href)
	if err != nil {
		return nil, "", fmt.Errorf("mirror %s: %s: %w", m.Name, d.Href, err)
	}
	defer rd.Close()
	pkgs, err := health.SamplePackages(rd, samplePackages, nil)
	if err == nil {
		_, err = io.Copy(io.Discard, vr) // to its end, where it checks
	}
	if err != nil {
		return nil, "", fmt.Errorf("mirror %s: %s: %w", m.Name, d.Href, err)
	}
	return pkgs, sha256Hex(raw), nil
}

// probe probes the origin, then every mirror with a URL, and re-renders
// the lists. A probe of the repo already running makes this a no-op; a
// probe asked for while one runs (reprobe: the state watcher, as another
// process let the lock go, found this one running and left) runs once it
// is done, since what it asked for comes after what this one read.
func (r *repo) probe(ctx context.Context) {
	for r.probing.TryLock() {
		r.probeOnce(ctx)
		r.probing.Unlock()
		if !r.reprobe.Load() || ctx.Err() != nil {
			return
		}
	}
}

// probeOnce is one probe; the caller holds r.probing.
func (r *repo) probeOnce(ctx context.Context) {
	r.reprobe.Store(false)
	r.readHoldRecords(ctx)
	r.refreshHold()
	if r.liftPending.Swap(false) {
		// The origin's revision a held sync skipped is synced now, not
		// at the next scheduled run (a tester's mirrors stayed behind,
		// and /r/ answered 404 for repomd.xml, for an hour after
		// rpmirror resume). Here, not in refreshHold, which a sync
		// calls too.
		r.requestSync("the repository is no longer held")
	}
	before := r.fallbackOrigin(r.config())
	r.probeOrigin(ctx)
	if r.fallbackOrigin(r.config()) != before && r.renderViews(false) {
		// The upstream the lists fall back to changed (the one in use
		// down, or the primary back): in them at once, not once the
		// mirrors' probes end, one of which may hang for probe_timeout.
		r.d.writeListsLater(r)
	}
	if ctx.Err() == nil && r.syncAtStart.Swap(false) {
		// Its origin's state known (a sync of a down origin is skipped),
		// not its mirrors': the sync does not wait for their probes.
		r.requestSync("start")
	}
	r.probeMirrorsLocked(ctx)
	r.learnVerified(ctx)
	r.probeLeases(ctx, true)
	// The lists are written into the mirrors by the daemon's list
	// writers, not here: a round's probes do not wait for their fsyncs
	// (four a repo, every round, since the order by latency changes),
	// which wait behind the syncs' own on a busy disk. Lists a mirror's
	// lease kept from being written when they changed (it was held
	// elsewhere) are written then too.
	if r.renderViews(false) || r.listsRetry.Swap(false) {
		r.d.writeListsLater(r)
	}
}

// probeMirrors probes the mirrors only (after a sync).
func (r *repo) probeMirrors(ctx context.Context) {
	r.probing.Lock()
	defer r.probing.Unlock()
	r.probeMirrorsLocked(ctx)
}

// setOrigin records the origin's state, alerting on a change, and
// returns the state before.
func (r *repo) setOrigin(res health.Result) (prev health.State) {
	r.mu.Lock()
	prev = r.origin.State
	r.origin = res
	r.mu.Unlock()
	if res.State == health.OK {
		r.d.metrics.originUp.WithLabelValues(r.name).Set(1)
	} else {
		r.d.metrics.originUp.WithLabelValues(r.name).Set(0)
	}
	if prev != res.State && !(prev == health.Unknown && res.State == health.OK) {
		r.d.alerts.Send(alert.Event{Kind: "origin", Repo: r.name, URL: res.URL, From: string(prev), To: string(res.State), Reason: res.Reason})
	}
	if res.State == health.Down && prev != health.Down {
		r.addFailure("origin", res.Reason)
	}
	return prev
}

func (r *repo) probeMirrorsLocked(ctx context.Context) {
	_, _, prober := r.d.tools()
	rc := r.config()
	var wg gosync.WaitGroup
	for _, m := range rc.Mirrors {
		if m.URL == "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.d.recoverPanic("probing " + r.name + "/" + m.Name)
			r.mu.Lock()
			nothing := r.verified.Current() == nil
			r.mu.Unlock()
			var res health.Result
			if nothing {
				res = health.Result{URL: fetch.Redact(m.URL), State: health.Unknown, Checked: time.Now().UTC(),
					Reason: "no revision is verified yet: nothing to compare with until the first sync verifies one"}
			} else {
				release, err := r.d.probeSlots.acquire(ctx)
				if err != nil {
					return
				}
				last, _ := r.tracker.Get(m.Name)
				res = prober.CheckAgain(ctx, m.URL, r.accept, last)
				release()
				if se := (*health.SizeError)(nil); errors.As(res.Err, &se) {
					wrong := r.d.metrics.wrongSize
					if se.Metadata {
						wrong = r.d.metrics.wrongMetaSize
					}
					r.mu.Lock()
					if r.probedLocked(m) { // not removed by a reload meanwhile
						wrong.WithLabelValues(r.name, m.Name).Inc()
					}
					r.mu.Unlock()
				}
			}
			if ctx.Err() != nil {
				return
			}
			before, _ := r.tracker.Get(m.Name)
			r.recordProbe(m, res)
			// A mirror that comes into the lists, leaves them or goes
			// from behind to ok does so in them now, not
			// once the round's slowest probe ends: a tester's daemon,
			// one mirror hanging, sent every client to the origin for
			// probe_timeout after each start, and kept the mirrors a
			// sync had just brought forward listed as behind.
			after, _ := r.tracker.Get(m.Name)
			moved := before.State != after.State || before.SHA256 != after.SHA256 // behind on another revision: another alternate
			if moved && (listable(before.State) || listable(after.State)) && r.renderViews(false) {
				r.d.writeListsLater(r)
			}
		}()
	}
	wg.Wait()
}

// suspect is the daemon's syncs' sync.Options.Suspect: the file the last
// probe of a mirror found it down on (a package or metadata file of the
// wrong size, missing, or not served in time), which the sync reads back
// from the mirror before it publishes over them, replacing them when they
// fail. One served badly over HTTP but right on disk costs a read.
func (r *repo) suspect(_, mirror string) []string {
	last, ok := r.tracker.Get(mirror)
	if !ok || last.State != health.Down {
		return nil
	}
	// A probe checks a package, then a metadata file: one down on the
	// metadata file names both, the package having passed.
	switch {
	case last.Metadata != "":
		return []string{last.Metadata}
	case last.Package != "":
		return []string{last.Package}
	}
	return nil
}

// listable reports whether a mirror in state s is in the lists.
func listable(s health.State) bool { return s == health.OK || s == health.Behind }

// accept is the probes' health.Accept: a mirror should serve a verified
// revision, and then the packages of that revision, at the sizes its
// metadata gives.
func (r *repo) accept(md *repodata.Repomd, sum string) ([]health.Package, string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := r.verified.Find(sum)
	if i < 0 && r.d != nil {
		// A revision an rpmirror sync beside the daemon verified is
		// learnt now, before the probe goes on, so that the mirror's
		// packages and signature are checked against it (a tester's
		// hand sync made every mirror stale, alerted on, for a probe
		// round).
		r.mu.Unlock()
		r.learnLocal(sum)
		r.mu.Lock()
		i = r.verified.Find(sum)
	}
	if i < 0 {
		return nil, "", false // judge says why
	}
	rev := &r.verified.Revisions[i]
	var pkgs []health.Package
	switch {
	case rev.HasSizes():
		pkgs = probePackages(rev)
	case len(r.packages) > 0 && r.packagesOf == sum:
		// A sample recorded without sizes (by an older rpmirror): the
		// one read from a written mirror serving this revision has them.
		pkgs = r.packages
	case len(rev.Packages) > 0:
		pkgs = probePackages(rev) // checked for presence only
	case i == 0:
		// The current revision has no sample: the one read from a
		// written mirror, whose sizes hold only for the revision it was
		// read from (a package rebuilt under the same name has another).
		pkgs = presenceOnly(r.packages)
	}
	if rev.Signature != nil {
		// Served with its signature, it must be served so: dnf with
		// repo_gpgcheck refuses a mirror without it, and does not try
		// the next (an operator's test removed it from a bucket: both
		// daemons kept the mirror ok and listed first). The origin's,
		// it must be that one; sign_with's is made again for a mirror
		// that lacks one, so mirrors may hold different valid ones:
		// there, only its presence is checked.
		asc := health.Package{Href: sync.AscPath, Always: true}
		if r.cfg.SignWith == "" { // r.mu is held
			asc.Content = string(rev.Signature)
		}
		pkgs = append(slices.Clip(pkgs), asc)
	}
	return pkgs, "", true
}

// presenceOnly returns pkgs without their sizes: checked for presence
// only.
func presenceOnly(pkgs []health.Package) []health.Package {
	out := make([]health.Package, len(pkgs))
	for i, p := range pkgs {
		out[i].Href = p.Href
	}
	return out
}

// probePackages returns the package sample of rev for the probes, with
// sizes when rev has them (else 0: not checked).
func probePackages(rev *state.Revision) []health.Package {
	out := make([]health.Package, len(rev.Packages))
	sized := rev.HasSizes()
	for i, href := range rev.Packages {
		out[i].Href = href
		if sized {
			out[i].Size = rev.PackageSizes[i]
		}
	}
	return out
}

// judge turns a probe's result into the mirror's state, from the
// revision it serves: ok for the current verified revision, behind for an
// earlier one superseded less than max_lag ago (or any earlier one while
// rpmirror itself brings the written mirror forward, and, while the repo
// is held, any revision withdrawn keeps while rpmirror rollback brings
// the written mirror back), stale otherwise. Results that say nothing of
// the revision served (down, unknown) are returned as they are.
func (r *repo) judge(m config.Mirror, res health.Result, now time.Time) health.Result {
	if res.SHA256 == "" || (res.State != health.OK && res.State != health.Behind && res.State != health.Stale) {
		return res
	}
	rc := r.config()
	r.mu.Lock()
	v, syncing, hold := r.verified, r.syncing, r.hold
	pending := r.originRepomd != nil && sha256Hex(r.originRepomd) == res.SHA256 && (r.refused == nil || r.refused.sha256 != res.SHA256)
	r.mu.Unlock()
	cur := v.Current()
	i := v.Find(res.SHA256)
	switch {
	case i >= 0 && !res.Accepted:
		// Verified since it was probed (learnt, or a sync's): the probe
		// checked nothing past repomd.xml (a reviewer saw such a mirror
		// listed ok, its packages and signature never checked). The
		// next probe does.
		res.State = health.Unknown
		res.Reason = fmt.Sprintf("serves revision %s, verified since it was probed: judged at the next probe", revName(res.Revision))
	case i == 0:
		res.State, res.Reason = health.OK, ""
	case i > 0 && hold != nil:
		// A revision the written mirrors may serve while the rollback
		// that made the hold moves them (withdrawn).
		rev := v.Revisions[i]
		switch {
		case m.Written() && (res.Checked.Before(hold.Done) || r.rollbackUnderWay(hold)):
			// Listed, with its repomd.xml as the metalink's alternate,
			// until rollback has moved it (or the probe after, for one
			// probed before the rollback was done).
			res.State = health.Behind
			res.Reason = fmt.Sprintf("serves revision %s, which rpmirror rollback (by %s) withdraws: it brings the written mirrors to revision %s (snapshot %s) now", revName(rev.Revision), hold.By, revName(hold.Revision), hold.Snapshot)
		case m.Written() && hold.Done.IsZero() && now.Sub(rev.SupersededAt) < rc.MaxLag:
			// The rollback stopped before it was done (killed, or its
			// host went down): the mirrors it did not move serve what
			// they served before it, verified. Listed for max_lag, as a
			// superseded revision is, not none at all until someone
			// acts (a tester's clients all failed "No URLs in metalink").
			res.State = health.Behind
			res.Reason = fmt.Sprintf("serves revision %s, which rpmirror rollback (by %s) was withdrawing when it stopped before it was done, %s ago (max_lag %s): run rpmirror rollback again, or rpmirror resume", revName(rev.Revision), hold.By, roundLag(now.Sub(hold.At)), rc.MaxLag)
		default:
			res.State = health.Stale
			res.Reason = heldStale(m, res, hold)
			if m.Written() && hold.Done.IsZero() {
				res.Reason += " (it stopped before it was done: run it again, or rpmirror resume)"
			}
		}
	case i > 0:
		rev := v.Revisions[i]
		lag := now.Sub(rev.SupersededAt)
		// The revision that superseded it, at rev.SupersededAt: the
		// current one only when it came right after (a tester's partner
		// two revisions behind read "superseded by" the current one,
		// verified seconds before, "5m0s ago").
		next := successor(v, i)
		by := revName(v.Revisions[next].Revision)
		if next > 0 {
			by += fmt.Sprintf(" (now %s)", revName(cur.Revision))
		}
		switch {
		case m.Written() && (syncing || r.followingFor(now) < max(rc.MaxLag, busyAlertAfter)):
			// The daemon's sync, or another rpmirror's (a sync by hand
			// beside it), is bringing it forward now.
			res.State = health.Behind
			res.Reason = fmt.Sprintf("serves verified revision %s; rpmirror is bringing it to %s now", revName(rev.Revision), revName(cur.Revision))
		case lag < rc.MaxLag:
			res.State = health.Behind
			res.Reason = fmt.Sprintf("serves verified revision %s, superseded by %s %s ago (max_lag %s)", revName(rev.Revision), by, roundLag(lag), rc.MaxLag)
		default:
			res.State = health.Stale
			res.Reason = fmt.Sprintf("serves verified revision %s, superseded by %s %s ago: more than max_lag %s", revName(rev.Revision), by, roundLag(lag), rc.MaxLag)
		}
	case hold != nil && m.Written() && (res.Checked.Before(hold.Done) || r.rollbackUnderWay(hold)):
		// Not stale: probed before its turn came. Not listed either.
		res.State = health.Unknown
		res.Reason = fmt.Sprintf("pending: rpmirror rollback (by %s) brings the written mirrors to revision %s (snapshot %s); it served revision %s when probed, judged again at the next probe", hold.By, revName(hold.Revision), hold.Snapshot, revName(res.Revision))
	case hold != nil:
		res.State = health.Stale
		res.Reason = heldStale(m, res, hold)
	case cur == nil:
		res.State, res.Reason = health.Unknown, "no revision is verified yet: nothing to compare with until the first sync verifies one"
	case pending:
		// A mirror that took the origin's new revision before rpmirror
		// verified it: not listed, but not news either.
		res.State = health.Unknown
		res.Reason = fmt.Sprintf("serves the origin's revision %s, not verified yet: judged once rpmirror has verified it", revName(res.Revision))
	default:
		res.State = health.Stale
		res.Reason = fmt.Sprintf("serves a repomd.xml (revision %s) that rpmirror has not verified; the current verified revision is %s", revName(res.Revision), revName(cur.Revision))
	}
	return res
}

// followingFor returns how long another rpmirror process has been at
// work on the repo as the state watcher sees it (watchState), at now;
// math.MaxInt64 when none is.
func (r *repo) followingFor(now time.Time) time.Duration {
	if !r.following.Load() {
		return math.MaxInt64
	}
	return now.Sub(time.Unix(0, r.followingSince.Load()))
}

// lagOf returns how long ago the revision a mirror serves was
// superseded: 0 for the current revision, false when it serves no
// verified revision (or nothing known).
func lagOf(v *state.Verified, sum string, now time.Time) (time.Duration, bool) {
	i := v.Find(sum)
	switch {
	case sum == "" || i < 0:
		return 0, false
	case i == 0:
		return 0, true
	}
	return max(now.Sub(v.Revisions[i].SupersededAt), 0), true
}

func revName(rev string) string {
	if rev == "" {
		return "(no revision)"
	}
	return rev
}

// successor returns the index in v of the revision verified next after
// v.Revisions[i], which superseded it: the one before it in the list,
// unless a revision was put back among them out of order (the one a hold
// was at, kept while rpmirror resume lifts it, older than the others: a
// reviewer's mirror read "superseded by" an older revision).
func successor(v *state.Verified, i int) int {
	at := v.Revisions[i].VerifiedAt
	best := i - 1
	for j := range i {
		t := v.Revisions[j].VerifiedAt
		if t.After(at) && (!v.Revisions[best].VerifiedAt.After(at) || t.Before(v.Revisions[best].VerifiedAt)) {
			best = j
		}
	}
	return best
}

// heldStale is the reason of a mirror that serves a revision other than
// the one the repository is held at: rpmirror rollback brings a written
// mirror back to it; a probe-only mirror is listed again once its own
// sync serves that revision, or the current one after rpmirror resume
// (an operator tester's probe-only mirror was told of rollback, which
// does not write it).
func heldStale(m config.Mirror, res health.Result, hold *state.Hold) string {
	why := fmt.Sprintf("serves revision %s, not revision %s the repository is held at (snapshot %s, by %s)", revName(res.Revision), revName(hold.Revision), hold.Snapshot, hold.By)
	if m.Written() {
		return why + ": rpmirror rollback brings a written mirror back to it"
	}
	return why + ": listed again once it serves that revision, or, after rpmirror resume, the current one"
}

func roundLag(d time.Duration) time.Duration {
	if d >= time.Minute {
		return d.Round(time.Minute)
	}
	return d.Round(time.Second)
}

// rollbackUnderWay reports whether rpmirror rollback is bringing the
// written mirrors to hold now: the hold is not done (state.Hold.Done)
// and the repository's lock is held, or, for a rollback on another host,
// another process holds the lease on one of its mirrors in object
// storage. A rollback that died leaves the hold not done but not the
// lock (nor a lease, past its TTL): its mirrors are judged as any held
// repository's.
func (r *repo) rollbackUnderWay(hold *state.Hold) bool {
	if !hold.Done.IsZero() {
		return false
	}
	if _, elsewhere := r.lockHeld(); elsewhere {
		// (While the daemon's own sync is under way, no rollback holds
		// the lock.)
		return true
	}
	// A rollback on another host (its hold learnt from the records kept
	// with a mirror in object storage) holds that mirror's lease while it
	// republishes it: under way while another process holds a lease, as
	// last read. One that died lets its lease lapse.
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range r.leases {
		if l != nil && l.Held && !l.Mine {
			return true
		}
	}
	return false
}

func (r *repo) recordProbe(m config.Mirror, res health.Result) { r.record(m, res, false) }

// record is recordProbe; carried is set for a result the daemon before
// this one found (carryProbed): judged and recorded the same, but no news
// (that daemon logged and alerted it): no alert, no failure on /status,
// logged at debug level. The judged state it leaves is what the next
// probe's alert goes from.
func (r *repo) record(m config.Mirror, res health.Result, carried bool) {
	now := time.Now()
	probed := res
	res = r.judge(m, probed, now)
	if res.State == health.Stale && m.Written() && r.refreshHold() {
		// rpmirror rollback (or resume) ran beside the daemon after this
		// probe round read the hold: it saves the hold before it
		// changes what a written mirror serves, so the hold read now is
		// the one to judge what the probe found against.
		res = r.judge(m, probed, now)
	}
	if needsPerson(res.State) && m.Written() && r.awaitsFirstSync(m.Name) {
		// Nothing has written it yet: a written mirror just added is
		// down (or serves what was there before) until the sync its
		// addition asked for publishes it. Pending, not news.
		res.State, res.Reason = health.Unknown, "pending: rpmirror has not published it yet, and no sync has run to it yet (one skipped for want of a usable upstream does not count; "+string(res.State)+": "+res.Reason+"); judged once its first sync has run"
	}
	r.mu.Lock()
	kept := r.probedLocked(m)
	if last, ok := r.probed[m.Name]; ok && probed.Checked.Before(last.Checked) {
		// A result judged again (setVerified) while a newer probe of
		// the mirror was recorded: the newer one stands.
		kept = false
	}
	var prev health.State
	var changed bool
	if kept {
		if r.probed == nil {
			r.probed = map[string]health.Result{}
		}
		r.probed[m.Name] = probed
		// Under r.mu: a reload that removed the mirror meanwhile forgot
		// its series and its last probe, which must not come back.
		lag, known := lagOf(r.verified, res.SHA256, now)
		r.d.metrics.setMirror(r.name, m.Name, res, lag, known)
		prev, changed = r.tracker.Update(m.Name, res)
	}
	r.mu.Unlock()
	if !kept || !changed {
		return
	}
	// A mirror that goes stale or down wants a person: logged at WARN,
	// as the alerts' state changes are, so that a log kept at WARN has it.
	level := slog.LevelInfo
	if needsPerson(res.State) {
		level = slog.LevelWarn
	}
	if carried {
		r.log.Debug("mirror state carried from the last daemon", "mirror", m.Name, "state", res.State, "reason", res.Reason)
		if res.State != health.Unknown {
			r.mu.Lock()
			if r.judged == nil {
				r.judged = map[string]health.State{}
			}
			r.judged[m.Name] = res.State
			r.mu.Unlock()
		}
		return
	}
	r.log.Log(context.Background(), level, "mirror state", "mirror", m.Name, "from", prev, "to", res.State, "reason", res.Reason)
	if wrongSize := (*health.SizeError)(nil); errors.As(res.Err, &wrongSize) {
		if wrongSize.Metadata {
			r.log.Warn("mirror serves a metadata file at a size other than its repomd.xml gives", "mirror", m.Name, "file", wrongSize.Package, "want_bytes", wrongSize.Want, "got_bytes", wrongSize.Got)
		} else {
			r.log.Warn("mirror serves a package at a size other than the verified metadata's", "mirror", m.Name, "package", wrongSize.Package, "want_bytes", wrongSize.Want, "got_bytes", wrongSize.Got)
		}
	}
	if needsPerson(res.State) {
		r.addFailure("mirror "+m.Name, string(res.State)+": "+res.Reason)
	}
	// Alerts are for what needs a person: entering or leaving stale or
	// down. Behind is a mirror doing its job a little late; coming up is
	// not news. They go from the last state judged to the next: unknown
	// between them (pending while a sync publishes, a revision not
	// verified yet) is no news, so ok, unknown, stale alerts "ok to
	// stale" (a tester saw "unknown to stale"), and stale, unknown, stale
	// nothing.
	if res.State == health.Unknown {
		return
	}
	r.mu.Lock()
	if r.judged == nil {
		r.judged = map[string]health.State{}
	}
	from, seen := r.judged[m.Name]
	r.judged[m.Name] = res.State
	r.mu.Unlock()
	if !seen {
		from = health.Unknown
	}
	switch {
	case from == res.State:
		return
	case !needsPerson(from) && !needsPerson(res.State):
		return
	case from == health.Unknown && !needsPerson(res.State):
		return
	}
	r.d.alerts.Send(alert.Event{Kind: "mirror", Repo: r.name, Mirror: m.Name, URL: res.URL, From: string(from), To: string(res.State), Reason: res.Reason})
}

// warnOnChange logs err, a failure of what (done each probe round) on
// mirror, when it differs from the last one logged for them, and that
// what works again once err is nil: a store that refuses the daemon's
// credentials is one warning, not two every probe round. /status shows
// the failure meanwhile.
func (r *repo) warnOnChange(what, mirror string, err error) {
	key := what + "\x00" + mirror
	msg := ""
	if err != nil {
		msg = oneLine(err)
	}
	r.mu.Lock()
	if r.warned == nil {
		r.warned = map[string]string{}
	}
	last := r.warned[key]
	r.warned[key] = msg
	r.mu.Unlock()
	switch {
	case msg == last:
	case msg != "":
		r.log.Warn(what, "mirror", mirror, "err", msg)
	default:
		r.log.Info(what+": works again", "mirror", mirror)
	}
}

// needsPerson reports whether a mirror in state s needs someone to look.
func needsPerson(s health.State) bool { return s == health.Stale || s == health.Down }

func (r *repo) addFailure(what, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures = append(r.failures, server.FailureStatus{Time: time.Now().UTC(), What: what, Error: msg})
	if len(r.failures) > maxFailures {
		r.failures = r.failures[len(r.failures)-maxFailures:]
	}
}

// listed returns the mirrors to list: those serving the current revision,
// sorted, then those behind, sorted; the verified revisions the behind
// ones serve, which the metalink carries as alternates; and the same
// mirrors as the mirror routes' candidates, in configuration order, with
// the revision each serves. Each mirror's last result is read once, so
// that the lists and the routes agree (a probe recorded meanwhile is
// rendered next).
//
// Whatever a mirror was judged, it is listed only with the revision it
// served at its last probe among v's, which the metalink names (current
// or alternate): the lists are rendered at once when the revisions
// change (a hold read, a lift), a moment before the mirrors are judged
// again, and a tester's dnf clients, given a metalink naming only the
// held revision beside mirrors judged ok against the one before, failed
// in that moment.
func (r *repo) listed(rc config.Repo, v *state.Verified) (ms []mirrorlist.Mirror, alts []mirrorlist.File, cands []candidate) {
	var ok, behind []mirrorlist.Mirror
	seen := map[string]bool{}
	for _, m := range rc.Mirrors {
		if m.URL == "" {
			continue
		}
		res, found := r.tracker.Get(m.Name)
		if !found {
			continue
		}
		lm := mirrorlist.Mirror{URL: m.URL, Priority: m.Priority, Latency: res.Latency}
		if res.State != health.OK && res.State != health.Behind {
			continue
		}
		i := v.Find(res.SHA256)
		switch {
		case i < 0:
			// Judged against other revisions: listed once judged again.
			continue
		case i == 0:
			ok = append(ok, lm)
		default:
			behind = append(behind, lm)
			if !seen[res.SHA256] {
				seen[res.SHA256] = true
				alts = append(alts, describe(v.Revisions[i].Repomd))
			}
		}
		cands = append(cands, candidate{m: m, behind: i > 0, sha256: res.SHA256})
	}
	mirrorlist.Sort(ok)
	mirrorlist.Sort(behind)
	return append(ok, behind...), alts, cands
}

func describe(repomd []byte) mirrorlist.File {
	ts, _ := mirrorlist.RepomdTimestamp(repomd)
	return mirrorlist.Describe(repomd, ts)
}

// fallback decides what the lists hold when no mirror serves a verified
// revision: the origin as a last resort, unless what it serves failed
// verification or is not what the mirrors serve (a filtered repository:
// the origin serves every package, under other metadata); and the
// revision the metalink describes.
func fallback(rc config.Repo, v *state.Verified, originRepomd []byte, refused *refusal, origin health.State) (mirrorlist.Fallback, mirrorlist.File, []mirrorlist.File) {
	const none = "no mirror can be listed (none is up and serving a verified revision)"
	cur := v.Current()
	var current mirrorlist.File
	if cur != nil {
		current = describe(cur.Repomd)
	}
	if rc.Filter != nil {
		return mirrorlist.Fallback{Comment: none + ", and the origin serves the whole repository, not this filtered one: listing nothing"}, current, nil
	}
	if originRepomd == nil {
		why := "not probed yet"
		if origin == health.Down {
			why = "down at its last probe"
		}
		if cur == nil {
			// Nothing to describe in the metalink: dnf would take
			// whatever the origin serves, unchecked.
			return mirrorlist.Fallback{Comment: fmt.Sprintf("no revision is verified yet, and the origin is %s: listing nothing", why)}, current, nil
		}
		return mirrorlist.Fallback{URL: rc.Origin, Comment: fmt.Sprintf("%s: serving the origin instead (%s)", none, why)}, current, nil
	}
	if cur == nil && origin == health.Down {
		return mirrorlist.Fallback{Comment: "no revision is verified yet, and the origin is down at its last probe: listing nothing"}, current, nil
	}
	down := ""
	if origin == health.Down {
		down = ", though it was down at its last probe"
	}
	sum := sha256Hex(originRepomd)
	rev := "(no revision)"
	if md, err := repodata.ParseRepomd(originRepomd); err == nil {
		rev = revName(md.Revision)
	}
	switch i := v.Find(sum); {
	case refused != nil && refused.sha256 == sum && i >= 0:
		// Verified once, refused now: the origin went back to it.
		return mirrorlist.Fallback{Comment: fmt.Sprintf("%s, and the origin's revision %s was refused by the last sync (see /status): listing nothing", none, rev)}, current, nil
	case refused != nil && refused.sha256 == sum:
		return mirrorlist.Fallback{Comment: fmt.Sprintf("%s, and the origin's revision %s failed verification: listing nothing", none, rev)}, current, nil
	case i == 0:
		return mirrorlist.Fallback{URL: rc.Origin, Comment: fmt.Sprintf("%s: serving the origin instead, which serves the current verified revision %s%s", none, rev, down)}, current, nil
	case i > 0:
		return mirrorlist.Fallback{URL: rc.Origin, Comment: fmt.Sprintf("%s: serving the origin instead, which serves the earlier verified revision %s%s", none, rev, down)}, current, []mirrorlist.File{describe(v.Revisions[i].Repomd)}
	}
	// Not verified yet (a sync will tell), and nothing better to offer:
	// the metalink describes what the origin serves, or dnf would refuse
	// it too.
	return mirrorlist.Fallback{URL: rc.Origin, Comment: fmt.Sprintf("%s: serving the origin instead, whose revision %s is not verified yet%s", none, rev, down)}, describe(originRepomd), nil
}

// heldFallback is what the lists hold when no mirror serves the revision
// a held repo is held at: nothing, and why.
func heldFallback(h *state.Hold) (mirrorlist.Fallback, mirrorlist.File, []mirrorlist.File) {
	return mirrorlist.Fallback{Comment: fmt.Sprintf("no mirror serves revision %s, which the repository is held at (snapshot %s, by %s): listing nothing, not the origin", revName(h.Revision), h.Snapshot, h.By)},
		describe(h.Repomd), nil
}

// render rebuilds the mirrorlist and metalink when what they show has
// changed (always when force is set), and writes them into every written
// mirror.
func (r *repo) render(force bool) {
	if r.renderViews(force) {
		r.writeLists()
	}
}

// renderViews rebuilds the mirrorlist and metalink when what they show
// has changed (always when force is set), and reports whether it did:
// then they are to be written into the written mirrors (writeLists).
func (r *repo) renderViews(force bool) bool {
	r.rendering.Lock()
	defer r.rendering.Unlock()
	rc := r.config()
	r.mu.Lock()
	v, originRepomd, refused, hold, originState := r.verified, r.originRepomd, r.refused, r.hold, r.origin.State
	r.mu.Unlock()
	// While held, the origin (which serves what the hold keeps out) is
	// no last resort.
	fallback := fallback
	if hold != nil {
		fallback = func(config.Repo, *state.Verified, []byte, *refusal, health.State) (mirrorlist.Fallback, mirrorlist.File, []mirrorlist.File) {
			return heldFallback(hold)
		}
	}
	ms, alts, cands := r.listed(rc, v)
	var cur mirrorlist.File
	if c := v.Current(); c != nil {
		cur = describe(c.Repomd)
	}
	// The origin to send clients to, in every list that falls back to it
	// (the written lists, the routes' answers), is the first usable
	// upstream, not the primary whatever its state.
	frc := rc
	frc.Origin = r.fallbackOrigin(rc)
	var fb mirrorlist.Fallback
	if len(ms) == 0 {
		fb, cur, alts = fallback(frc, v, originRepomd, refused, originState)
	}
	var key strings.Builder
	fmt.Fprintf(&key, "%s|%s|%s|%s|", cur.SHA256, fb.URL, fb.Comment, frc.Origin)
	for _, a := range alts {
		fmt.Fprintf(&key, "%s ", a.SHA256)
	}
	// The listed mirrors by URL in the key, their order apart.
	var order strings.Builder
	for _, m := range ms {
		order.WriteString(m.URL)
		order.WriteByte(' ')
	}
	for _, m := range slices.SortedStableFunc(slices.Values(ms), func(a, b mirrorlist.Mirror) int { return strings.Compare(a.URL, b.URL) }) {
		fmt.Fprintf(&key, "|%s %d", m.URL, m.Priority)
	}
	for _, c := range cands {
		fmt.Fprintf(&key, "|%s %t %s", c.m.Name, c.behind, c.sha256)
	}
	snapIdx := r.snapshotIndexes(rc)
	key.WriteString(snapshotsKey(snapIdx))
	now := r.d.now()
	// The lists written into the mirrors are for anyone to read: private
	// mirrors stay out of them.
	written := func() *views {
		pub, pcur, palts, pfb := publicOnly(rc, ms), cur, alts, fb
		if len(pub) == 0 && len(ms) > 0 {
			pfb, pcur, palts = fallback(frc, v, originRepomd, refused, originState)
		}
		return &views{
			mirrorlist: mirrorlist.TextFallback(pub, pfb),
			metalink:   mirrorlist.MetalinkFallback(pcur, palts, pub, pfb, now),
			key:        key.String(),
			order:      order.String(),
			at:         now,
		}
	}
	if old := r.views.Load(); !force && old != nil && old.key == key.String() {
		// Unchanged, but what they name may have changed all the same:
		// with no mirror listed, the lists name the origin's revision,
		// whatever was verified meanwhile.
		r.noteListed(v.Current())
		if old.order == order.String() || now.Sub(old.at) < listsReorderRounds*r.d.probeInterval() {
			return false
		}
		// Only the order by latency changed, and not lately: the
		// written lists again; what the mirror routes serve does not
		// depend on that order.
		r.views.Store(written())
		return true
	}
	r.views.Store(written())
	// What the mirror routes order per request: the same candidates and,
	// for a request left with none of them, the same fallback as a list
	// of no mirror.
	efb, ecur, ealts := fallback(frc, v, originRepomd, refused, originState)
	sr := r.prepare(cands, cur, alts, mirrorlist.TextFallback(nil, efb), mirrorlist.MetalinkFallback(ecur, ealts, nil, efb, now),
		r.redirectFiles(frc, cands, v, originRepomd, refused), now)
	if u, err := url.Parse(efb.URL); err == nil && efb.URL != "" && mirrorlist.Usable(efb.URL) {
		// A request for the other protocol gets no origin of this one.
		nfb := mirrorlist.Fallback{Comment: fmt.Sprintf("no listed mirror offers the protocol asked, and the origin is %s: listing nothing", u.Scheme)}
		sr.Elsewhere = server.Elsewhere{Scheme: u.Scheme, Text: mirrorlist.TextFallback(nil, nfb), Metalink: mirrorlist.MetalinkFallback(ecur, ealts, nil, nfb, now)}
	} else if efb.URL == "" && slices.ContainsFunc(cands, func(c candidate) bool { return !c.m.Private }) {
		// Public mirrors are listed, none of the protocol asked, and
		// the lists fall back to nothing: say that, not the fallback's
		// reason, which is why no mirror at all would be listed (an
		// operator tester's ?protocol=https, with an http mirror up,
		// was told none was up and the origin's revision failed
		// verification). Not for private ones alone, listed only to
		// clients in their networks (a reviewer's: one outside them
		// was told no listed mirror offers the protocol it does).
		nfb := mirrorlist.Fallback{Comment: "no listed mirror offers the protocol asked: listing nothing"}
		sr.Elsewhere = server.Elsewhere{Any: true, Text: mirrorlist.TextFallback(nil, nfb), Metalink: mirrorlist.MetalinkFallback(ecur, ealts, nil, nfb, now)}
	}
	sr.Snapshots = r.snapshotLists(rc, cands, snapIdx, now)
	r.live.Store(sr)
	r.noteListed(v.Current())
	r.d.metrics.listed.WithLabelValues(r.name).Set(float64(len(ms)))
	return true
}

// writeLists writes the lists into each written mirror that rpmirror has
// published to, through its target (atomically, as Put does), when they
// changed since last written there. One writeLists of a repo runs at a
// time, and it writes the latest rendering, so an older one never
// overwrites a newer.
func (r *repo) writeLists() {
	r.writing.Lock()
	defer r.writing.Unlock()
	v := r.views.Load()
	if v == nil {
		return
	}
	r.mu.Lock()
	syncing := r.syncing
	r.mu.Unlock()
	sig := append(append([]byte(nil), v.mirrorlist...), v.metalink...)
	var todo []config.Mirror
	r.mu.Lock()
	for _, m := range r.cfg.Mirrors {
		if m.Written() && !bytes.Equal(r.written[targetKeyOf(m)], sig) {
			todo = append(todo, m)
		}
	}
	rc := r.cfg
	r.mu.Unlock()
	if len(todo) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), targetTimeout)
	defer cancel()
	published, _ := r.publishedMirrors(rc)
	for _, m := range published {
		if !slices.ContainsFunc(todo, func(t config.Mirror) bool { return t.Name == m.Name }) {
			continue
		}
		tg, err := r.target(ctx, m)
		if err == nil {
			_, err = tg.Stat(ctx, sync.RepomdPath)
		}
		if err != nil {
			// Never published here, or gone: nothing to point at.
			r.log.Debug("writing mirror lists", "mirror", m.Name, "err", err)
			continue
		}
		if _, leased := tg.(target.LeaseReader); leased {
			if syncing {
				// The sync holds the lease, and writes the lists
				// when it ends (runSync): never compete with it
				// for the lease.
				r.listsRetry.Store(true)
				continue
			}
			// One writer at a time, lists included: take the lease
			// for the two objects, or leave them to its holder.
			unlock, err := tg.Lock(ctx)
			if err != nil {
				r.log.Debug("writing mirror lists: the lease is held elsewhere; trying again at the next probe round", "mirror", m.Name, "err", err)
				r.listsRetry.Store(true)
				continue
			}
			defer unlock()
		}
		okAll := true
		for _, f := range []struct {
			name string
			b    []byte
		}{{MirrorlistFile, v.mirrorlist}, {MetalinkFile, v.metalink}} {
			if err := r.putBytes(ctx, tg, f.name, f.b); err != nil {
				r.log.Warn("writing mirror lists", "mirror", m.Name, "file", f.name, "err", err)
				okAll = false
			}
		}
		if okAll {
			r.mu.Lock()
			r.written[targetKeyOf(m)] = sig
			r.mu.Unlock()
		} else {
			// Tried again at the next probe round, not only once
			// the lists change again.
			r.listsRetry.Store(true)
		}
	}
}

// putBytes stores b at p in tg, staged in a file of its own under
// state_dir/tmp (a name no other writer uses, in this process or another).
func (r *repo) putBytes(ctx context.Context, tg target.Target, p string, b []byte) error {
	tmp, err := safefs.CreateTemp(r.d.store.Dir(), state.TempDir, listStagePrefix+"*", b)
	if err != nil {
		return fmt.Errorf("staging %s: %w", p, err)
	}
	defer os.Remove(tmp)
	return tg.Put(ctx, target.File{Path: p, Local: tmp, Size: int64(len(b))})
}

// The mirror lists are staged in state_dir's state.TempDir as lists-*,
// each for the milliseconds until it is stored.
const listStagePrefix = "lists-"

// staleStaging is how old a staged list must be for Run to remove it: no
// daemon keeps one that long, so it is what a killed one left (several
// daemons may share a state_dir: a younger one may be another's, in use).
const staleStaging = time.Hour

// status returns what /status shows of the repo.
func (r *repo) status() server.RepoStatus {
	rc := r.config()
	r.mu.Lock()
	defer r.mu.Unlock()
	st := server.RepoStatus{
		Name:          rc.Name,
		Origin:        fetch.Redact(rc.OriginDesc()),
		OriginState:   string(r.origin.State),
		OriginReason:  r.origin.Reason,
		OriginChecked: r.origin.Checked,
		Revision:      r.origin.Revision,
		OriginNote:    r.originNoteLocked(),
		Syncing:       r.syncing,
		LastSync:      r.lastSync,
		LastSuccess:   r.lastSuccess,
		Failures:      append([]server.FailureStatus(nil), r.failures...),
		Upstreams:     r.upstreamStatus(rc),
	}
	if r.sched != nil {
		// Before the scheduler starts; Daemon.Status replaces it with the
		// scheduler's own next run once it has one.
		st.NextSync = r.sched.Next(time.Now()).UTC()
	}
	now := time.Now()
	if cur := r.verified.Current(); cur != nil {
		st.CurrentRevision, st.CurrentVerified = revName(cur.Revision), cur.VerifiedAt
	}
	if h := r.hold; h != nil {
		st.Held = &server.HoldStatus{Snapshot: h.Snapshot, Revision: h.Revision, By: h.By, Since: h.At}
	}
	for _, m := range rc.Mirrors {
		ms := server.MirrorStatus{Name: m.Name, URL: fetch.Redact(m.URL), Written: m.Written(), Priority: m.Priority, State: string(health.Unknown)}
		if m.URL == "" {
			ms.Reason = "no url: written but not probed or listed"
		} else if res, ok := r.tracker.Get(m.Name); ok {
			ms.State, ms.Reason, ms.Checked, ms.Revision = string(res.State), res.Reason, res.Checked, res.Revision
			ms.LatencyMS = float64(res.Latency.Microseconds()) / 1000
			if lag, ok := lagOf(r.verified, res.SHA256, now); ok && res.State != health.Down && res.State != health.Unknown {
				secs := lag.Seconds()
				ms.LagSeconds = &secs
			}
			if res.State == health.OK || res.State == health.Behind {
				st.Listed++
			}
		}
		if l := r.leases[m.Name]; l != nil {
			lc := *l
			ms.Lease = &lc
		}
		st.Mirrors = append(st.Mirrors, ms)
	}
	return st
}
