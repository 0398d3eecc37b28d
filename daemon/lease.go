package daemon

import (
	"context"
	"errors"
	"time"

	"github.com/rpmirror/rpmirror/server"
	"github.com/rpmirror/rpmirror/sync"
	"github.com/rpmirror/rpmirror/target"
)

// Two daemons, one mirror in object storage. Both probe and both serve
// the lists; at most one writes, the holder of the mirror's lease (see
// target/s3). A sync that finds the lease held elsewhere ends at once
// with target.ErrLocked: this daemon is then on standby for the repo,
// which is no failure. Every probe round reads each lease; on standby,
// a lease found free (released, or expired because its holder died)
// starts a sync at once, which takes the lease and brings the mirror to
// the origin's revision from the records the writer kept in the bucket.

// isStandby reports whether a sync ended because another process holds
// the lease on one of the repo's mirrors.
func isStandby(rep *sync.Report) bool {
	return rep.Err != nil && errors.Is(rep.Err, target.ErrLocked)
}

// probeLeases reads the lease on each mirror of the repo that has one,
// for /status and /metrics, and with takeOver, on standby, requests a
// sync when one is free. A probe round takes over; the reading after a
// sync does not: a sync that went on standby and found the lease free
// right after started the next at once, and a lease no sync could take
// (a store refusing its write) made that a loop without pause. Takeovers
// come a probe round apart.
func (r *repo) probeLeases(ctx context.Context, takeOver bool) {
	rc := r.config()
	cfg, _, _ := r.d.tools()
	free := ""
	for _, m := range rc.Mirrors {
		if m.Kind() != "s3" {
			continue
		}
		st := &server.LeaseStatus{Checked: time.Now().UTC()}
		mine := false
		tg, err := r.target(ctx, m)
		var lr target.LeaseReader
		var l target.Lease
		if err == nil {
			var ok bool
			if lr, ok = tg.(target.LeaseReader); !ok {
				continue
			}
			lctx, cancel := context.WithTimeout(ctx, cfg.ProbeTimeout)
			l, err = lr.Lease(lctx)
			cancel()
			if err == nil {
				if !l.Held && l.Holder == "" {
					// Released (deleted): the last holder is the
					// one this daemon saw last.
					r.mu.Lock()
					if prev := r.leases[m.Name]; prev != nil {
						l.Holder = prev.Holder
					}
					r.mu.Unlock()
				}
				mine = l.Held && l.Holder == lr.Holder()
				st.Held, st.Holder, st.Mine = l.Held, l.Holder, mine
				st.Renewed, st.TTLSeconds = l.Renewed, l.TTL.Seconds()
				if !l.Held {
					free = m.Name
				}
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			st.Error = oneLine(err)
		}
		r.warnOnChange("reading the lease", m.Name, err)
		r.mu.Lock()
		// Under r.mu, and only for a mirror still in object storage: a
		// reload that removed it (or moved it) meanwhile forgot its
		// lease and series (forgetMirrorsLocked).
		if now, ok := mirrorNamed(r.cfg, m.Name); ok && now.Kind() == "s3" {
			if err == nil {
				r.d.metrics.setLease(r.name, m.Name, l, mine)
			}
			r.leases[m.Name] = st
		}
		r.mu.Unlock()
	}
	r.mu.Lock()
	standby := r.standby
	r.mu.Unlock()
	if takeOver && standby && free != "" {
		r.requestSync("standby: the lease on mirror " + free + " is free; taking over")
	}
}

// heldLeases records, after a sync of this daemon that succeeded, that
// it was the last holder of the lease on each of the repo's mirrors that
// have one: the sync took the lease and released it at its end, maybe
// between two probe rounds, which would never have seen it held.
func (r *repo) heldLeases(ctx context.Context) {
	for _, m := range r.config().Mirrors {
		if m.Kind() != "s3" {
			continue
		}
		tg, err := r.target(ctx, m)
		if err != nil {
			continue
		}
		lr, ok := tg.(target.LeaseReader)
		if !ok {
			continue
		}
		r.mu.Lock()
		st := r.leases[m.Name]
		if st == nil || !st.Held {
			st = &server.LeaseStatus{Checked: time.Now().UTC(), Holder: lr.Holder()}
			r.leases[m.Name] = st
		}
		r.mu.Unlock()
	}
}
