package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	gosync "sync"
	"time"

	"github.com/rpmirror/rpmirror/alert"
	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/fetch"
	"github.com/rpmirror/rpmirror/health"
	"github.com/rpmirror/rpmirror/server"
	"github.com/rpmirror/rpmirror/source"
	"github.com/rpmirror/rpmirror/sync"
)

// maxUpstreamProbes bounds the upstreams of one repo probed at once (a
// metalink may list dozens).
const maxUpstreamProbes = 8

// probeOrigin probes every upstream of the repo's origin (source.Probe:
// repomd.xml fetched once, parsed, checked against the metalink), records
// each one's state, and derives the origin's: ok when any upstream is,
// with the first usable upstream's repomd.xml as the origin's current
// one. A new revision, or the origin coming back, asks for a sync.
func (r *repo) probeOrigin(ctx context.Context) {
	release, err := r.d.probeSlots.acquire(ctx)
	if err != nil {
		return
	}
	defer release()
	cfg, fetcher, _ := r.d.tools()
	rc := r.config()
	checked := time.Now().UTC()
	pctx, cancel := context.WithTimeout(ctx, cfg.ProbeTimeout)
	defer cancel()
	src, err := source.Configured(&rc, source.Options{Fetcher: fetcher.WithRetries(0), Logger: slog.New(slog.DiscardHandler)})
	if err == nil {
		err = src.Load(pctx)
	}
	if err != nil {
		if ctx.Err() != nil {
			return // interrupted: says nothing about the origin
		}
		r.setUpstreams(nil)
		r.setOrigin(health.Result{URL: fetch.Redact(rc.OriginDesc()), State: health.Down, Checked: checked, Reason: oneLine(err)})
		return
	}
	ups := src.Upstreams()
	results := make([]health.Result, len(ups))
	bodies := make([][]byte, len(ups))
	var wg gosync.WaitGroup
	slots := make(chan struct{}, maxUpstreamProbes)
	for i, u := range ups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			slots <- struct{}{}
			defer func() { <-slots }()
			start := time.Now()
			body, md, err := src.Probe(pctx, u)
			res := health.Result{URL: fetch.Redact(u.URL), Checked: checked, Latency: time.Since(start)}
			if err != nil {
				res.State, res.Reason, res.Latency = health.Down, upstreamReason(err), 0
			} else {
				res.State, res.Revision, res.SHA256 = health.OK, md.Revision, sha256Hex(body)
				bodies[i] = body
			}
			results[i] = res
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return
	}
	r.setUpstreams(results)
	origin := aggregate(rc, results)
	prev := r.setOrigin(origin)
	if origin.State != health.OK {
		return
	}
	var body []byte
	for i := range results {
		if results[i].State == health.OK {
			body = bodies[i]
			break
		}
	}
	// A new revision, or the origin back, asks for one sync: both at
	// once asked for two, the second run right after the first (and
	// failing again, when the first failed on that revision).
	// At start, the sync every repository gets follows this probe
	// (syncAtStart): the origin state the last daemon saved and no
	// repomd.xml seen yet by this one asked for another besides, "new
	// revision" on every restart (an operator tester's).
	startPending := r.syncAtStart.Load()
	switch {
	case r.noteOrigin(body) && prev != health.Unknown && !startPending:
		// The origin published a new revision: sync now rather than at
		// the next scheduled time.
		r.requestSync("new revision at the origin")
	case prev == health.Down && !startPending:
		r.requestSync("origin recovered")
	default:
		if n, ok := r.retryDue(time.Now()); ok {
			why := "trying again after a sync that failed or was skipped"
			if n > 1 {
				why = fmt.Sprintf("trying again after %d syncs in a row that failed or were skipped", n)
			}
			r.requestSync(why)
		}
	}
}

// upstreamReason is what the status shows of an upstream's error: the
// error without the URL, which the status lists beside it.
func upstreamReason(err error) string {
	var ue *source.UpstreamError
	if errors.As(err, &ue) {
		return ue.Op + ": " + oneLine(ue.Err)
	}
	return oneLine(err)
}

// aggregate is the origin's state from its upstreams': ok (with the
// first usable upstream's revision) when any is usable, down (saying why
// for each) when none is.
func aggregate(rc config.Repo, ups []health.Result) health.Result {
	res := health.Result{URL: fetch.Redact(rc.OriginDesc()), State: health.Unknown}
	var why []string
	for _, u := range ups {
		res.Checked = u.Checked
		switch u.State {
		case health.OK:
			through := u.URL
			u.URL = res.URL
			if len(ups) > 1 {
				u.Reason = ""
				if len(why) > 0 {
					// Up, but not through the first: say which, and
					// what the ones before it answer.
					u.Reason = "up through " + through + "; down: " + strings.Join(why, "; ")
				}
			}
			return u
		case health.Down:
			res.State = health.Down
			if len(ups) == 1 {
				why = append(why, u.Reason)
			} else {
				why = append(why, u.URL+": "+u.Reason)
			}
		}
	}
	res.Reason = strings.Join(why, "; ")
	return res
}

// setUpstreams records the upstreams' states, their metrics, and alerts
// on a change of one of several upstreams (with one, the origin's alert
// says it).
func (r *repo) setUpstreams(ups []health.Result) { r.recordUpstreams(ups, false) }

// recordUpstreams is setUpstreams; carried says ups are the states the
// last daemon saved (carryProbed), recorded as known without an alert:
// it alerted on them.
func (r *repo) recordUpstreams(ups []health.Result, carried bool) {
	r.mu.Lock()
	prev := map[string]health.State{}
	for _, u := range r.upstreams {
		prev[u.URL] = u.State
	}
	r.upstreams = ups
	if r.upstreamSeen == nil {
		r.upstreamSeen = map[string]health.State{}
	}
	// The state each upstream was last known in, kept when a round
	// knows none (the metalink unreadable): what alerts compare with.
	seen := maps.Clone(r.upstreamSeen)
	for _, u := range ups {
		r.upstreamSeen[u.URL] = u.State
	}
	r.mu.Unlock()
	m := r.d.metrics
	// Only the series of upstreams gone are deleted, by their labels: a
	// partial match scans every repo's series (1,000 repos, each probed
	// every round), and the series of one still there never vanishes
	// from a scrape.
	for url := range prev {
		if !slices.ContainsFunc(ups, func(u health.Result) bool { return u.URL == url }) {
			m.upstreamUp.DeleteLabelValues(r.name, url)
		}
	}
	for _, u := range ups {
		v := 0.0
		if u.State == health.OK {
			v = 1
		}
		m.upstreamUp.WithLabelValues(r.name, u.URL).Set(v)
		was, known := seen[u.URL]
		if !known {
			// First seen (at start, or added by a reload): down is
			// news, as a mirror's is; it was said only when it came
			// back, "down -> ok" of a down never told (an operator
			// tester's). Not again for one the last daemon saved
			// (carried), nor for one the metalink left out for a
			// while (a reviewer's).
			was = health.Unknown
		}
		if carried || len(ups) < 2 || was == u.State || (was == health.Unknown && u.State == health.OK) {
			continue
		}
		r.log.Info("upstream state", "upstream", u.URL, "from", was, "to", u.State, "reason", u.Reason)
		r.d.alerts.Send(alert.Event{Kind: "upstream", Repo: r.name, URL: u.URL, From: string(was), To: string(u.State), Reason: u.Reason})
	}
}

// noteSkipped takes what a sync skipped for want of a usable upstream
// learned of each: an upstream that failed to answer, or served something
// unreadable or not matching the metalink, is down until a probe finds it
// back. One whose revision the sync refused (a rollback, a bad signature)
// answers fine and stays as the probe saw it.
func (r *repo) noteSkipped(rep *sync.Report) {
	rc := r.config()
	r.mu.Lock()
	ups := append([]health.Result(nil), r.upstreams...)
	r.mu.Unlock()
	now := time.Now().UTC()
	byURL := map[string]int{}
	for i, u := range ups {
		byURL[u.URL] = i
	}
	for _, st := range rep.Upstreams {
		var ue *source.UpstreamError
		if st.State != source.Skipped || !errors.As(st.Err, &ue) || ue.Stage == source.StageAccept {
			continue
		}
		res := health.Result{URL: st.URL, State: health.Down, Checked: now, Reason: upstreamReason(st.Err)}
		if i, ok := byURL[st.URL]; ok {
			ups[i] = res
		} else {
			ups = append(ups, res)
		}
	}
	var nu *source.NoUsableUpstreamError
	if len(rep.Upstreams) == 0 && errors.As(rep.Err, &nu) && len(nu.Errs) == 1 {
		// The metalink or mirrorlist itself could not be had.
		r.setUpstreams(nil)
		r.setOrigin(health.Result{URL: fetch.Redact(rc.OriginDesc()), State: health.Down, Checked: now, Reason: oneLine(rep.Err)})
		return
	}
	r.setUpstreams(ups)
	if origin := aggregate(rc, ups); origin.State == health.Down {
		r.setOrigin(origin)
	}
}

// upstreamStatus is what /status shows of each upstream: as last probed,
// or, before the first probe, as configured.
func (r *repo) upstreamStatus(rc config.Repo) []server.UpstreamStatus {
	var out []server.UpstreamStatus
	for _, u := range r.upstreams {
		out = append(out, server.UpstreamStatus{
			URL: u.URL, State: string(u.State), Reason: u.Reason, Checked: u.Checked, Revision: u.Revision,
			LatencyMS: float64(u.Latency.Microseconds()) / 1000,
		})
	}
	if out == nil {
		for _, u := range rc.OriginURLs() {
			out = append(out, server.UpstreamStatus{URL: fetch.Redact(u), State: string(health.Unknown)})
		}
	}
	return out
}

// fallbackOrigin is where the mirror lists and /r/ send clients when no
// mirror is healthy: the first usable upstream serving the repomd.xml
// they describe, else the first usable, else the primary one.
func (r *repo) fallbackOrigin(rc config.Repo) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	urls := rc.OriginURLs()
	ups := r.upstreams
	if r.originRepomd != nil && len(ups) > 1 {
		// The first up serving the repomd.xml the lists and redirects
		// describe (originRepomd: a probe's or the last sync's), before
		// the first up: an upstream serving another (a rolled-back or
		// badly signed revision the sync skipped for the next, which
		// probes do not judge) was where /r/ sent clients (a
		// reviewer's).
		sum := sha256Hex(r.originRepomd)
		i := slices.IndexFunc(ups, func(u health.Result) bool { return u.State == health.OK && u.SHA256 == sum })
		if i > 0 {
			ups = append(append([]health.Result{ups[i]}, ups[:i]...), ups[i+1:]...)
		}
	}
	for _, u := range ups {
		if u.State != health.OK {
			continue
		}
		for _, full := range urls {
			if fetch.Redact(full) == u.URL {
				return full
			}
		}
		// Taken from a metalink or mirrorlist: such a URL holds no
		// credentials and no query, so it is shown as it is.
		return u.URL
	}
	return rc.Origin
}
