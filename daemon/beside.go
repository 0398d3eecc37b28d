package daemon

import (
	"context"
	"log/slog"
	"time"

	"github.com/rpmirror/rpmirror/state"
)

// The metalink names the current revision's repomd.xml by its hashes,
// and dnf refuses a repomd.xml its metalink does not name (from every
// mirror alike: the install fails). A client that fetched a metalink just
// before the lists named a new revision fetches repomd.xml a moment
// later; a mirror moved to the new revision meanwhile fails it. So a
// mirror is moved to a revision only once the lists name it and the
// clients of the last metalink answered before that have had
// metalinkGrace to fetch their repomd.xml:
//
//   - renderViews notes, each time the current revision the lists name
//     changes (a sync's, a hold's, a lift's, or the first at start), when
//     a metalink was last answered before (noteListed), and records it in
//     the state_dir for the processes beside the daemon (state.Adopted);
//   - the daemon's own syncs wait at sync.Options.BeforePublish from what
//     it noted (beforePublish);
//   - rpmirror sync beside the daemon waits from the record (AwaitServe),
//     the daemon holding state_dir/serve/lock while it runs
//     (state.Store.Serving) so that it knows to. (After rpmirror resume,
//     the sync that moves the mirrors off the held revision waits so.)
//   - rpmirror rollback beside the daemon waits so for the held
//     revision, once its hold is saved: meanwhile, and while it moves
//     the written mirrors, the lists name the written mirrors not moved
//     yet with the withdrawn revision as an alternate (withdrawn, judge),
//     so that clients always have a mirror.

// noteListed notes that the lists, just stored, name cur as the current
// revision (nil: none), and records it unless that was so already.
func (r *repo) noteListed(cur *state.Revision) {
	if cur == nil {
		return
	}
	r.mu.Lock()
	if r.listedSum == cur.SHA256 && r.recordedSum == cur.SHA256 {
		r.mu.Unlock()
		return
	}
	if r.listedSum != cur.SHA256 {
		// Read after the lists were stored: a metalink answered since
		// names cur (server.Live.MetalinkServedAt is set before the lists
		// are read).
		r.listedSum, r.listedMetalink = cur.SHA256, r.live.MetalinkServedAt()
	}
	served := r.listedMetalink
	r.mu.Unlock()
	a := &state.Adopted{Repo: r.name, SHA256: cur.SHA256, At: time.Now().UTC(), MetalinkServed: served}
	if err := r.d.store.SaveAdopted(a); err != nil {
		r.log.Warn("commands run beside the daemon will wait for it up to their limit before they publish; trying again at the next change of the lists", "err", err)
		return
	}
	r.mu.Lock()
	if r.listedSum == cur.SHA256 {
		r.recordedSum = cur.SHA256
	}
	r.mu.Unlock()
}

// beforePublish is the daemon's own syncs' sync.Options.BeforePublish:
// with the lists naming rev, it waits until metalinkGrace has passed
// since a metalink was last answered before they did (a client that
// fetched that metalink fetches the repomd.xml it names right after). A
// sync's new revision is named once the sync reported it
// (verifiedBySync); a lifted hold's revision once the lift was seen.
func (r *repo) beforePublish(ctx context.Context, rev state.Revision) {
	r.mu.Lock()
	sum, served := r.listedSum, r.listedMetalink
	r.mu.Unlock()
	if sum != rev.SHA256 {
		return // not named: nothing the daemon can wait for
	}
	// At most metalinkGrace, whatever the wall clock did.
	wait := min(time.Until(served.Add(metalinkGrace)), metalinkGrace)
	if wait <= 0 {
		return
	}
	r.log.Debug("publish held back for a metalink client that may still fetch the previous repomd.xml", "wait", wait.Round(time.Millisecond))
	sleep(ctx, wait)
}

// adoptWait bounds how long AwaitServe waits for the daemon to name the
// revision: it looks at the state_dir as soon as inotify tells it, and
// every Options.StateWatchInterval (2 s) where inotify tells nothing
// (NFS, where attribute caching can delay what it sees further).
const adoptWait = 15 * time.Second

// adoptPoll is how often AwaitServe reads the daemon's record.
const adoptPoll = 10 * time.Millisecond

// AwaitServe is for a process about to move a mirror of repo to revision
// sum, recorded in store as current (or held): with an rpmirror serve
// running on store that serves repo, it waits until the daemon's lists
// name sum (its record, state.Adopted), then until metalinkGrace has
// passed since the daemon last answered a metalink before they did, so
// that the client of that metalink has fetched the repomd.xml it names.
// With no daemon running, none serving repo (no record), or no metalink
// answered lately, it returns at once; it waits at most adoptWait for the
// daemon, then metalinkGrace, and returns when ctx ends.
func AwaitServe(ctx context.Context, store *state.Store, repo, sum string, log *slog.Logger) {
	served, err := store.Served()
	if err != nil {
		log.Warn("publishing without waiting for rpmirror serve's metalink clients", "err", err)
		return
	}
	if !served {
		return
	}
	start := time.Now()
	for {
		a, err := store.LoadAdopted(repo)
		if err != nil {
			log.Warn("publishing without waiting for rpmirror serve's metalink clients", "err", err)
			return
		}
		if a == nil {
			return // the daemon does not serve repo
		}
		if a.SHA256 == sum {
			wait := min(time.Until(a.MetalinkServed.Add(metalinkGrace)), metalinkGrace)
			if wait > 0 {
				log.Info("waiting for clients of rpmirror serve's metalink before publishing", "wait", wait.Round(time.Millisecond))
				sleep(ctx, wait)
			}
			return
		}
		if time.Since(start) >= adoptWait {
			log.Warn("rpmirror serve runs on this state_dir but did not list the revision; publishing without waiting for its metalink clients", "waited", adoptWait)
			return
		}
		if !sleep(ctx, adoptPoll) {
			return
		}
	}
}

// sleep waits for d, or until ctx ends (false).
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
