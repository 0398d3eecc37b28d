package daemon

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	gosync "sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/rpmirror/rpmirror/internal/safefs"
	"github.com/rpmirror/rpmirror/state"
)

// DefaultStateWatchInterval is how often the daemon looks whether another
// rpmirror (a sync, rollback or resume run by hand, the same state_dir)
// changed a repository's records (state.Stamp): three stats a
// repository, and a glance at the lock of a repository another process
// is working on. Where the filesystem tells of changes (inotify, through
// fsnotify), a repository is also looked at as soon as one of its records
// is written; the interval is what is left where it does not (NFS). The
// end of another process's run is noticed within followGlance.
const DefaultStateWatchInterval = 2 * time.Second

// stateRecordDirs are the directories of the state_dir holding the
// records a Stamp covers, one REPO.json each.
var stateRecordDirs = []string{"verified", "holds", "repos"}

// watchStateLoop follows what other rpmirror commands do to the
// repositories until ctx ends (repo.watchState): each repository when
// its records are written, and all every Options.StateWatchInterval
// (default DefaultStateWatchInterval). It waits for
// the probes it started. Without it, a sync run by hand left every
// metalink client failing until the next probe round: the mirrors served
// the new revision, and the metalink named the old one's digests.
func (d *Daemon) watchStateLoop(ctx context.Context) {
	var probes gosync.WaitGroup
	defer probes.Wait()
	look := func(r *repo) {
		if !r.watchState() {
			return
		}
		// Not waited for: a probe waits for a slot behind a whole probe
		// round at times, and the next look must not. (repo.probe runs
		// one probe of a repo at a time.)
		probes.Go(func() {
			defer d.recoverPanic("probing " + r.name + " again")
			r.probe(ctx)
		})
	}
	written := d.notifyRecords(ctx)
	interval := d.opts.StateWatchInterval
	if interval <= 0 {
		interval = DefaultStateWatchInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	// The end of another process's run writes nothing more to look at:
	// the repos followed are glanced at often, so that their mirrors are
	// probed (and listed again) as soon as it lets the lock go, not at
	// the next interval (a tester's clients found no mirror listed for
	// up to 2 s after each rollback).
	glance := time.NewTicker(followGlance)
	defer glance.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case name := <-written:
			if r, ok := d.repo(name); ok {
				look(r)
			}
		case <-t.C:
			for _, r := range d.snapshot() {
				look(r)
			}
		case <-glance.C:
			if d.followed.Load() == 0 {
				continue // nothing to glance at (most of the time)
			}
			for _, r := range d.snapshot() {
				if r.following.Load() {
					look(r)
				}
			}
		}
	}
}

// followGlance is how often the repos another process is at work on are
// glanced at (their lock tried), until it is done.
const followGlance = 100 * time.Millisecond

// follow marks the repo as followed, another process being at work on
// it, and reports whether it was not already.
func (r *repo) follow() bool {
	if r.following.Load() {
		return false
	}
	r.followingSince.Store(time.Now().UnixNano()) // before following is seen set (judge)
	if !r.following.CompareAndSwap(false, true) {
		return false
	}
	r.d.followed.Add(1)
	return true
}

// notifyRecords returns the names of the repositories whose records in
// the state_dir are written, as the filesystem tells (fsnotify), until
// ctx ends; a channel that never delivers where it cannot tell. Names
// that come faster than they are taken are dropped: the next interval's
// look finds those changes.
func (d *Daemon) notifyRecords(ctx context.Context) <-chan string {
	names := make(chan string, 256)
	w, err := fsnotify.NewWatcher()
	if err != nil {
		d.log.Info("the state_dir is looked at every few seconds only: no change notifications", "err", err)
		return names
	}
	for _, dir := range stateRecordDirs {
		// Created if absent (a state_dir no rollback ever held): a
		// directory made later would not be watched.
		err := safefs.MkdirAll(d.store.Dir(), dir, 0o755)
		if err == nil {
			err = w.Add(filepath.Join(d.store.Dir(), dir))
		}
		if err != nil {
			d.log.Info("the state_dir is looked at every few seconds only: no change notifications", "dir", dir, "err", err)
		}
	}
	go func() {
		<-ctx.Done()
		w.Close()
	}()
	go func() {
		for {
			select {
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				name, isRecord := strings.CutSuffix(filepath.Base(ev.Name), ".json")
				if !isRecord || strings.HasPrefix(name, ".") || !ev.Has(fsnotify.Create|fsnotify.Write|fsnotify.Remove|fsnotify.Rename) {
					continue // a temporary file, written before it is renamed into place
				}
				select {
				case names <- name:
				default:
				}
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				d.log.Debug("state_dir change notifications", "err", err)
			}
		}
	}()
	return names
}

// watchState compares the repo's records in the state_dir with what it
// saw last, and reports whether the repo is to be probed again.
//
// Records another process wrote mean it is at work on the repo
// (following): new verified revisions are taken at once (a sync records
// them before it publishes, so the metalink names the new repomd.xml,
// with the revision the mirrors serve until then as an alternate), and
// written mirrors serving an earlier verified revision are behind, not
// stale, meanwhile (judge). Once the process has let the repository's
// lock go, the mirrors are probed again (finding what they serve now, the
// hold a rollback or resume left), and a sync of the daemon's own that
// found the lock taken (busy) runs. The daemon's own syncs are not news:
// nothing is looked at while one runs, and runSync takes the stamp after
// it.
func (r *repo) watchState() bool {
	r.stampMu.Lock()
	if r.syncLocked {
		// The daemon's own sync writes (one waiting for the lock does
		// not: what the process holding it writes is followed).
		r.stampMu.Unlock()
		return false
	}
	// Under stampMu: never a stamp older than the one the daemon's sync
	// took (BeforeUnlock).
	stamp := r.d.store.Stamp(r.name)
	prev := r.stamp
	r.stamp = stamp
	r.stampMu.Unlock()
	if !stamp.Equal(prev) {
		if !stamp.Verified.Equal(prev.Verified) {
			r.learnStored()
		}
		if !stamp.Hold.Equal(prev.Hold) && r.refreshHold() {
			// At once, not at the probe once the process is done: a
			// rollback saves the hold before it moves the first mirror,
			// and the lists are to name the held revision by then. The
			// mirrors are judged again against it from their last probes
			// (judge: a written mirror not yet moved by a rollback under
			// way is pending, not listed); judged ok against the
			// revision before, they stayed listed beside the held
			// revision's metalink while they served the other.
			r.judgeAgain()
		}
		// What the mirrors are to be probed for: a new verified
		// revision, a hold or its lift, a mirror published to (a
		// rollback, a sync that moved it). A sync by hand that changed
		// nothing (a cron job's) records a run, and asks for no probe.
		changed := !stamp.Verified.Equal(prev.Verified) || !stamp.Hold.Equal(prev.Hold)
		if !stamp.State.Equal(prev.State) {
			pub := r.publishedDigest()
			r.stampMu.Lock()
			if pub != r.published {
				r.published, changed = pub, true
			}
			r.stampMu.Unlock()
		}
		if changed {
			r.followChanged.Store(true)
		}
		if r.follow() {
			r.log.Debug("another rpmirror process changed the repository's records in state_dir: following it")
		}
	}
	if r.following.Load() {
		if own, elsewhere := r.lockHeld(); own || elsewhere {
			return false // still at work: probed once it is done
		}
		if r.following.CompareAndSwap(true, false) {
			r.d.followed.Add(-1)
		}
		r.mu.Lock()
		r.busySince = time.Time{} // the lock is free: a later collision starts afresh
		r.mu.Unlock()
		if r.followChanged.Swap(false) {
			r.reprobe.Store(true)
		}
		r.judgeAgain() // its written mirrors are no longer behind for its sake
		if r.busy.Swap(false) {
			r.requestSync("another rpmirror process held the repository's lock when the daemon's sync was due; it is done")
		}
	}
	return r.reprobe.Load()
}

// publishedDigest sums up what the state_dir says each written mirror of
// the repo was last published with: it changes when another process
// publishes a revision to one.
func (r *repo) publishedDigest() string {
	st, err := r.d.store.Load(r.name)
	if err != nil || st == nil {
		return ""
	}
	names := make([]string, 0, len(st.Mirrors))
	for n := range st.Mirrors {
		names = append(names, n)
	}
	slices.Sort(names)
	var b strings.Builder
	for _, n := range names {
		m := st.Mirrors[n]
		fmt.Fprintf(&b, "%s=%s@%d;", n, m.RepomdSHA256, m.PublishedAt.UnixNano())
	}
	return b.String()
}

// lockHeld reports whether the repository's lock is held by the
// daemon's own sync (own: it is under way, and the lock is not glanced
// at) or else by another process (elsewhere: glancing at it,
// lockedElsewhere). Under glanceMu, so that the daemon's own sync cannot
// take the lock in between (runSync sets r.syncing under it first): on
// NFS, where flock is emulated with POSIX locks, the glance's unlock
// would drop its own sync's lock. Not under r.mu: the glance is file
// I/O, which a hung mount would make /status wait for.
func (r *repo) lockHeld() (own, elsewhere bool) {
	r.glanceMu.Lock()
	defer r.glanceMu.Unlock()
	r.mu.Lock()
	syncing := r.syncing
	r.mu.Unlock()
	if syncing {
		return true, false
	}
	return false, r.lockedElsewhere()
}

// lockedElsewhere reports whether another process holds the repository's
// lock now, taking it for a moment to learn (commands wait a little for
// it: state.Store.LockWithin). Callers go through lockHeld.
func (r *repo) lockedElsewhere() bool {
	unlock, err := r.d.store.Lock(r.name)
	if err != nil {
		return errors.Is(err, state.ErrLocked)
	}
	unlock()
	return false
}

// learnStored takes the verified revisions the state_dir holds, merged
// into those the repo has (adoptVerified).
func (r *repo) learnStored() {
	r.mu.Lock()
	known := r.stored
	r.mu.Unlock()
	v, err := r.d.store.LoadVerified(r.name)
	r.warnOnChange("reading the verified revisions in state_dir", "", err)
	if v != nil {
		r.adoptVerified(known, []*state.Verified{v})
	}
}
