package daemon

import (
	"context"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/rpmirror/rpmirror/state"
)

// stateWatchInterval is how often the daemon looks whether another
// rpmirror (a sync, rollback or resume run by hand, the same state_dir)
// changed a repository's records (state.Stamp): a stat of three files a
// repository.
const stateWatchInterval = 2 * time.Second

// watchStateLoop follows what other rpmirror commands do to the
// repositories, every stateWatchInterval, until ctx ends (watchState).
// Without it, a sync run by hand left every metalink client failing until
// the next probe round: the mirrors served the new revision, and the
// metalink named the old one's digests.
func (d *Daemon) watchStateLoop(ctx context.Context) {
	t := time.NewTicker(stateWatchInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		d.watchState(ctx)
	}
}

// watchState looks at every repository's records once, and probes again
// (several at once, as a probe round does) those another rpmirror
// changed.
func (d *Daemon) watchState(ctx context.Context) {
	cfg, _, _ := d.tools()
	var g errgroup.Group
	g.SetLimit(max(1, cfg.MaxParallelProbes))
	for _, r := range d.snapshot() {
		if !r.watchState() {
			continue
		}
		g.Go(func() error {
			defer d.recoverPanic("probing " + r.name + " again")
			r.probe(ctx)
			return nil
		})
	}
	g.Wait()
}

// watchState compares the repo's records in the state_dir with what it
// saw last, and reports whether the repo is to be probed again. New
// verified revisions are taken at once (a sync beside the daemon records
// them before it publishes): the lists name them, with the revision the
// mirrors serve until then as an alternate. A hold or a sync's end is
// followed by a probe, which reads the hold and finds what the mirrors
// serve now. The daemon's own syncs are not news (runSync stamps them).
// A probe already under way when the records changed may have read the
// mirrors before: the repo is then probed again at the next look.
func (r *repo) watchState() bool {
	stamp := r.d.store.Stamp(r.name)
	r.mu.Lock()
	prev, syncing := r.stamp, r.syncing
	if !syncing {
		r.stamp = stamp
	}
	r.mu.Unlock()
	if syncing || stamp.Equal(prev) {
		return !syncing && r.reprobe.Load()
	}
	if !stamp.Verified.Equal(prev.Verified) {
		r.learnStored()
	}
	r.log.Debug("the repository's records in state_dir changed: probing again", "was", prev, "now", stamp)
	r.reprobe.Store(true)
	return true
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
