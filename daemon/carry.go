package daemon

import (
	"time"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/fetch"
	"github.com/rpmirror/rpmirror/health"
	"github.com/rpmirror/rpmirror/state"
)

// A daemon saves its last probe of every mirror when it stops, and the
// next daemon starts from those results, judged again against what it has
// verified, while they are at most carryProbesFor probe intervals old:
// until its own first probes replace them (moments later), its lists are
// what they were before the restart, not the origin's fallback ("not
// probed yet"), and a mirror found down on a file is still checked on that
// file first. The record is removed once read: a daemon killed (not
// stopped) saves nothing, and the next one starts as a first start does.

// carryProbesFor bounds the age of a saved probe result the next daemon
// starts from, in probe intervals.
const carryProbesFor = 2

// saveProbed records the last probe of each probed mirror of each repo
// (state.Store.SaveProbed). Run calls it once the probes have stopped.
func (d *Daemon) saveProbed() {
	d.mu.Lock()
	repos := make([]*repo, 0, len(d.repos))
	for _, name := range d.order {
		repos = append(repos, d.repos[name])
	}
	d.mu.Unlock()
	now := time.Now().UTC()
	for _, r := range repos {
		p := &state.Probed{Repo: r.name, Saved: now}
		r.mu.Lock()
		for _, m := range r.cfg.Mirrors {
			res, ok := r.probed[m.Name]
			if !ok || m.URL == "" || res.State == health.Unknown || res.Checked.IsZero() {
				continue
			}
			p.Mirrors = append(p.Mirrors, state.ProbedMirror{
				Name: m.Name, Configured: fetch.Redact(m.URL),
				URL: res.URL, State: string(res.State), Accepted: res.Accepted, Reason: res.Reason,
				Latency: res.Latency, Checked: res.Checked.UTC(), Revision: res.Revision,
				Package: res.Package, Metadata: res.Metadata, SHA256: res.SHA256, Turn: res.Turn,
			})
		}
		r.mu.Unlock()
		if err := d.store.SaveProbed(p); err != nil {
			r.log.Warn("the next daemon will not start from this one's probes", "err", err)
		}
	}
}

// carryProbed records, as its mirrors' last probes, what the daemon
// before this one saved of them (saveProbed) when recent enough, and
// reports how many it took. newRepo calls it at the daemon's start, before
// the lists are first rendered.
func (r *repo) carryProbed(rc config.Repo, now time.Time) int {
	p, err := r.d.store.LoadProbed(r.name)
	if err != nil {
		r.log.Warn("starting without the last daemon's probes", "err", err)
		return 0
	}
	if p == nil {
		return 0
	}
	// Read once: from now on this daemon's own probes stand, and one
	// killed later saves none, so the next must not find these.
	if err := r.d.store.RemoveProbed(r.name); err != nil {
		r.log.Warn("a daemon started after this one is killed may start from older probes", "err", err)
	}
	oldest := now.Add(-carryProbesFor * r.d.probeInterval())
	n := 0
	for _, pm := range p.Mirrors {
		m, ok := mirrorNamed(rc, pm.Name)
		if !ok || m.URL == "" || fetch.Redact(m.URL) != pm.Configured {
			continue // removed, or probed at another url
		}
		st := health.State(pm.State)
		switch st {
		case health.OK, health.Behind, health.Stale, health.Down:
		default:
			continue
		}
		if pm.Checked.Before(oldest) || pm.Checked.After(now) {
			continue
		}
		r.recordProbe(m, health.Result{
			URL: pm.URL, State: st, Accepted: pm.Accepted, Reason: pm.Reason, Latency: pm.Latency,
			Checked: pm.Checked, Revision: pm.Revision, Package: pm.Package, Metadata: pm.Metadata,
			SHA256: pm.SHA256, Turn: pm.Turn,
		})
		n++
	}
	return n
}
