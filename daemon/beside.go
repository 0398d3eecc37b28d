package daemon

import (
	"context"
	"log/slog"
	"time"

	"github.com/rpmirror/rpmirror/state"
)

// A sync, rollback or resume run beside the daemon (by hand, or from
// cron) changes the revision its metalink names. The daemon follows at
// once (watchState), but a client that fetched a metalink just before
// fetches the repomd.xml it names a moment later, and a mirror that
// moved meanwhile serves another, which dnf refuses (from every mirror
// alike: the install fails). The daemon's own syncs wait for those
// clients (verifiedBySync); a process beside it waits through the
// state_dir (state.Store.Serving, state.Adopted):
//
//   - the daemon, once its lists name the revision another process made
//     current (or held), records so, with when it last answered a
//     metalink before (ackListed);
//   - the process, before it moves the first mirror, waits for that
//     record, then until metalinkGrace after that answer (AwaitServe).

// ackListed records, for the processes beside the daemon, the revision
// the lists name now, unless recorded already.
func (r *repo) ackListed() {
	r.mu.Lock()
	cur := r.verified.Current()
	if cur == nil || r.acked == cur.SHA256 {
		r.mu.Unlock()
		return
	}
	r.acked = cur.SHA256
	r.mu.Unlock()
	// Read after the lists were rendered (the callers judged the mirrors
	// again first): a metalink answered since names this revision.
	a := &state.Adopted{Repo: r.name, SHA256: cur.SHA256, At: time.Now().UTC(), MetalinkServed: r.live.MetalinkServedAt()}
	if err := r.d.store.SaveAdopted(a); err != nil {
		r.log.Warn("a sync beside the daemon will publish without waiting for its metalink clients", "err", err)
		r.mu.Lock()
		r.acked = ""
		r.mu.Unlock()
	}
}

// adoptWait bounds how long AwaitServe waits for the daemon to name the
// revision: it looks at the state_dir as soon as inotify tells it, and
// every Options.StateWatchInterval (2 s) where inotify tells nothing
// (NFS).
const adoptWait = 5 * time.Second

// adoptPoll is how often AwaitServe reads the daemon's record.
const adoptPoll = 10 * time.Millisecond

// AwaitServe is for a process that is about to publish revision sum of
// repo, made current (or held) in store at since beside a running
// rpmirror serve: it waits until the daemon's lists name sum (a record
// of the daemon's from since on), and then until metalinkGrace has passed
// since the daemon last answered a metalink that did not name it, so that
// the client of that metalink has fetched the repomd.xml it names. With
// no daemon running, or no metalink answered lately, it returns at once;
// it waits at most adoptWait for the daemon, then metalinkGrace, and
// returns when ctx ends.
func AwaitServe(ctx context.Context, store *state.Store, repo, sum string, since time.Time, log *slog.Logger) {
	if !store.Served() {
		return
	}
	start := time.Now()
	for {
		a, err := store.LoadAdopted(repo)
		if err != nil {
			log.Warn("publishing without waiting for rpmirror serve's metalink clients", "err", err)
			return
		}
		// A second's slack for the clocks of two hosts sharing the
		// state_dir (NFS); a record older names the revision from the
		// last time it was current.
		if a != nil && a.SHA256 == sum && !a.At.Before(since.Add(-time.Second)) {
			wait := min(time.Until(a.MetalinkServed.Add(metalinkGrace)), metalinkGrace)
			if wait > 0 {
				log.Info("waiting for clients of rpmirror serve's metalink before publishing", "wait", wait.Round(time.Millisecond))
				sleep(ctx, wait)
			}
			return
		}
		if time.Since(start) >= adoptWait {
			log.Warn("rpmirror serve runs on this state_dir but did not list the new revision; publishing without waiting for its metalink clients", "waited", adoptWait)
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
