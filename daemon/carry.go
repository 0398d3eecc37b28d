package daemon

import (
	"time"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/fetch"
	"github.com/rpmirror/rpmirror/health"
	"github.com/rpmirror/rpmirror/state"
)

// A daemon saves its last probe of every mirror, and of the origin and
// its upstreams, when it stops, and the next daemon starts from those
// results, judged again against what it has verified: until its own first
// probes replace them (moments later), its lists are what they were
// before the restart, not the origin's fallback ("not probed yet"), a
// mirror found down on a file is still checked on that file first, and
// nothing the last daemon alerted on is alerted on again. They are taken
// when the daemon was down for at most carryProbesFor probe intervals and
// each was at most that old when probing stopped (the daemon then waits
// for its syncs in flight, up to --shutdown-timeout, before it saves and
// exits). The record is removed once read: a daemon killed (not stopped)
// saves nothing, and the next one starts as a first start does.

// carryProbesFor bounds, in probe intervals, how long a daemon may have
// been down, and how old a probe result may have been when probing
// stopped, for the next daemon to start from it.
const carryProbesFor = 2

// probedOf is what state keeps of a probe result.
func probedOf(name, configured string, res health.Result) state.ProbedMirror {
	return state.ProbedMirror{
		Name: name, Configured: configured,
		URL: res.URL, State: string(res.State), Accepted: res.Accepted, Reason: res.Reason,
		Latency: res.Latency, Checked: res.Checked.UTC(), Revision: res.Revision,
		Package: res.Package, Metadata: res.Metadata, SHA256: res.SHA256, Turn: res.Turn,
	}
}

// resultOf is the probe result pm keeps.
func resultOf(pm state.ProbedMirror) health.Result {
	return health.Result{
		URL: pm.URL, State: health.State(pm.State), Accepted: pm.Accepted, Reason: pm.Reason, Latency: pm.Latency,
		Checked: pm.Checked, Revision: pm.Revision, Package: pm.Package, Metadata: pm.Metadata,
		SHA256: pm.SHA256, Turn: pm.Turn,
	}
}

// saveProbed records the last probes of each repo (state.Store.SaveProbed):
// of each probed mirror, of the origin and of its upstreams. Run calls it
// as it exits; probing stopped at stopped.
func (d *Daemon) saveProbed(stopped time.Time) {
	d.mu.Lock()
	repos := make([]*repo, 0, len(d.repos))
	for _, name := range d.order {
		repos = append(repos, d.repos[name])
	}
	d.mu.Unlock()
	now := time.Now().UTC()
	for _, r := range repos {
		p := &state.Probed{Repo: r.name, Saved: now, ProbesStopped: stopped.UTC()}
		r.mu.Lock()
		for _, m := range r.cfg.Mirrors {
			res, ok := r.probed[m.Name]
			if !ok || m.URL == "" || res.State == health.Unknown || res.Checked.IsZero() {
				continue
			}
			p.Mirrors = append(p.Mirrors, probedOf(m.Name, fetch.Redact(m.URL), res))
		}
		if r.origin.State != health.Unknown && !r.origin.Checked.IsZero() {
			o := probedOf("", fetch.Redact(r.cfg.OriginDesc()), r.origin)
			p.Origin = &o
			for _, u := range r.upstreams {
				p.Upstreams = append(p.Upstreams, probedOf("", u.URL, u))
			}
		}
		r.mu.Unlock()
		if err := d.store.SaveProbed(p); err != nil {
			r.log.Warn("the next daemon will not start from this one's probes", "err", err)
		}
	}
}

// carryProbed records, as the last probes of its mirrors, origin and
// upstreams, what the daemon before this one saved of them (saveProbed)
// when recent enough, and reports how many mirrors' it took. newRepo
// calls it at the daemon's start, before the lists are first rendered.
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
	bound := carryProbesFor * r.d.probeInterval()
	stopped := p.ProbesStopped
	if stopped.IsZero() {
		stopped = p.Saved
	}
	if now.Sub(p.Saved) > bound || p.Saved.After(now) || stopped.After(p.Saved) {
		return 0 // down too long, or a clock gone back
	}
	fresh := func(pm state.ProbedMirror) bool {
		switch health.State(pm.State) {
		case health.OK, health.Behind, health.Stale, health.Down:
		default:
			return false
		}
		return !pm.Checked.After(stopped) && stopped.Sub(pm.Checked) <= bound
	}
	if o := p.Origin; o != nil && o.Configured == fetch.Redact(rc.OriginDesc()) && fresh(*o) {
		var ups []health.Result
		for _, u := range p.Upstreams {
			if fresh(u) {
				ups = append(ups, resultOf(u))
			}
		}
		r.recordUpstreams(ups, true) // the last daemon alerted on them
		r.mu.Lock()
		r.origin = resultOf(*o)
		r.mu.Unlock()
		v := 0.0
		if r.origin.State == health.OK {
			v = 1
		}
		r.d.metrics.originUp.WithLabelValues(r.name).Set(v)
	}
	n := 0
	for _, pm := range p.Mirrors {
		m, ok := mirrorNamed(rc, pm.Name)
		if !ok || m.URL == "" || fetch.Redact(m.URL) != pm.Configured || !fresh(pm) {
			continue // removed, probed at another url, or too old
		}
		r.record(m, resultOf(pm), true)
		n++
	}
	return n
}
