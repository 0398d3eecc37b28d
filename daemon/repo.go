package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
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
	"github.com/rpmirror/rpmirror/state"
	"github.com/rpmirror/rpmirror/sync"
	"github.com/rpmirror/rpmirror/target"
	"github.com/rpmirror/rpmirror/target/local"
	"github.com/rpmirror/rpmirror/verify"
)

// File names of the lists written into each written mirror, next to
// repodata/. The sync refuses packages and metadata under these names.
const (
	MirrorlistFile = sync.MirrorlistPath
	MetalinkFile   = sync.MetalinkPath
	maxAlternates  = 5
	maxFailures    = 10
	samplePackages = 64
)

// views are a repo's rendered lists, swapped in whole.
type views struct {
	mirrorlist []byte
	metalink   []byte
	key        string // what they were rendered from
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
	views   atomic.Pointer[views]
	cronID  cron.EntryID
	tracker *health.Tracker

	mu           gosync.Mutex
	cfg          config.Repo
	sched        cron.Schedule
	origin       health.Result
	originRepomd []byte            // the origin's current repomd.xml, as last seen
	history      []mirrorlist.File // earlier revisions, newest first
	packages     []string          // sample of package hrefs, for package probes
	syncing      bool
	lastSync     *server.SyncStatus
	lastSyncOK   *bool
	rollbackSeen []byte // the repomd.xml of the last rollback alerted on
	lastSuccess  time.Time
	failures     []server.FailureStatus
	written      map[string][]byte // mirror path -> lists last written there
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
		origin:  health.Result{URL: fetch.Redact(rc.Origin), State: health.Unknown},
		written: map[string][]byte{},
	}
	// Until the origin answers, judge mirrors against the newest revision
	// rpmirror published.
	r.originRepomd = r.publishedRepomd()
	r.refreshPackages()
	if st, err := d.store.Load(rc.Name); err == nil {
		for _, run := range st.Runs {
			if run.Error == "" && !run.Cancelled {
				r.lastSuccess = run.Start.Add(run.Duration)
			}
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
	r.cfg = rc
	r.mu.Unlock()
	r.render(true)
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
			r.runSync(syncCtx, why)
		}
	}
}

// hasWritten reports whether rpmirror writes any mirror of the repo.
func hasWritten(rc config.Repo) bool {
	for _, m := range rc.Mirrors {
		if m.Written() {
			return true
		}
	}
	return false
}

func (r *repo) runSync(ctx context.Context, why string) {
	defer r.d.recoverPanic("syncing " + r.name)
	rc := r.config()
	if !hasWritten(rc) {
		return
	}
	cfg, fetcher, _ := r.d.tools()
	r.mu.Lock()
	origin := r.origin
	r.mu.Unlock()
	now := time.Now().UTC()
	if origin.State == health.Down {
		// Not a failure of ours: the origin is down. Skip, visibly, and
		// try again on the next trigger.
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
	defer release()
	r.mu.Lock()
	r.syncing = true
	r.mu.Unlock()
	r.d.metrics.syncRunning.WithLabelValues(r.name).Set(1)
	r.log.Info("sync starting", "why", why)
	rep := r.safeSync(ctx, sync.Options{
		Store:           r.d.store,
		Fetcher:         fetcher,
		Logger:          r.d.log,
		Concurrency:     cfg.Download.Concurrency,
		MaxMetadataSize: cfg.Download.MaxMetadataSize,
	}, &rc)
	r.d.metrics.syncRunning.WithLabelValues(r.name).Set(0)
	r.recordSync(rep)
	if rep.Err != nil && strings.Contains(rep.Err.Error(), "fetching "+sync.RepomdPath+" from ") {
		// The sync met the origin down before a probe did: say so now,
		// so that the next triggers skip instead of failing again.
		r.mu.Lock()
		url := r.origin.URL
		r.mu.Unlock()
		r.setOrigin(health.Result{URL: url, State: health.Down, Checked: time.Now().UTC(), Reason: oneLine(rep.Err)})
	}
	if rep.Err == nil && rep.Repomd != nil {
		r.noteOrigin(rep.Repomd)
		r.refreshPackages()
	}
	// Probe now rather than at the next round, so the mirror lists follow
	// the sync at once; and rewrite the lists into the mirrors, which a
	// whole-tree swap during the sync may have left out.
	if ctx.Err() == nil {
		r.probeMirrors(ctx)
	}
	r.render(true)
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
func (r *repo) recordSync(rep *sync.Report) {
	m := r.d.metrics
	result := "ok"
	if rep.NoChange {
		result = "no change"
	}
	if rep.Err != nil {
		result = "failed"
	}
	st := &server.SyncStatus{
		Start:    rep.Start,
		Seconds:  rep.Duration.Seconds(),
		Result:   result,
		Fetched:  rep.Fetched,
		Bytes:    rep.Bytes,
		Revision: rep.Revision,
	}
	m.syncDuration.WithLabelValues(r.name).Observe(rep.Duration.Seconds())
	m.syncBytes.WithLabelValues(r.name).Add(float64(rep.Bytes))
	m.syncPackages.WithLabelValues(r.name).Add(float64(rep.Fetched))
	ok := rep.Err == nil
	if ok {
		m.syncRuns.WithLabelValues(r.name, "ok").Inc()
		m.syncLastSuccess.WithLabelValues(r.name).Set(float64(rep.Start.Add(rep.Duration).Unix()))
		r.log.Info("sync done", "result", result, "revision", rep.Revision, "fetched", rep.Fetched, "bytes", rep.Bytes, "duration", rep.Duration)
	} else {
		st.Error = oneLine(rep.Err)
		m.syncRuns.WithLabelValues(r.name, "failed").Inc()
		m.syncFailures.WithLabelValues(r.name, failureReason(rep)).Inc()
		r.log.Error("sync failed", "err", st.Error)
	}
	r.mu.Lock()
	r.syncing = false
	r.lastSync = st
	if ok {
		r.lastSuccess = rep.Start.Add(rep.Duration)
	} else {
		r.failures = append(r.failures, server.FailureStatus{Time: rep.Start, What: "sync", Error: st.Error})
		if len(r.failures) > maxFailures {
			r.failures = r.failures[len(r.failures)-maxFailures:]
		}
	}
	prev := r.lastSyncOK
	r.lastSyncOK = &ok
	r.mu.Unlock()
	var rb *sync.RollbackError
	if errors.As(rep.Err, &rb) {
		// A rollback is an attack or a mistake at the origin: say so on
		// its own, once per refused revision, whatever the sync alerts.
		r.mu.Lock()
		again := bytes.Equal(r.rollbackSeen, rep.Repomd)
		r.rollbackSeen = bytes.Clone(rep.Repomd)
		r.mu.Unlock()
		if !again {
			r.d.alerts.Send(alert.Event{Kind: "rollback", Repo: r.name, From: rb.CurrentRevision, To: rb.Revision, Reason: st.Error})
		}
	}
	switch {
	case !ok && (prev == nil || *prev):
		r.d.alerts.Send(alert.Event{Kind: "sync", Repo: r.name, From: "ok", To: "failed", Reason: st.Error})
	case ok && prev != nil && !*prev:
		r.d.alerts.Send(alert.Event{Kind: "sync", Repo: r.name, From: "failed", To: "ok"})
	}
}

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
	)
	var (
		rb  *sync.RollbackError
		rse *sync.RepomdSignatureError
	)
	switch {
	case errors.As(err, &rb):
		return "rollback"
	case errors.As(err, &rse):
		return "verify"
	case errors.Is(err, state.ErrLocked) || errors.Is(err, target.ErrLocked):
		return "locked"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.As(err, &se), errors.As(err, &ce), errors.As(err, &he), errors.As(err, &co), errors.As(err, &sz):
		return "verify"
	case errors.As(err, &st), strings.Contains(err.Error(), "origin's"), strings.Contains(err.Error(), "fetching"):
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
	if r.originRepomd != nil {
		ts, _ := mirrorlist.RepomdTimestamp(r.originRepomd)
		r.history = append([]mirrorlist.File{mirrorlist.Describe(r.originRepomd, ts)}, r.history...)
		if len(r.history) > maxAlternates {
			r.history = r.history[:maxAlternates]
		}
	}
	r.originRepomd = bytes.Clone(b)
	return true
}

// publishedRepomd returns the repomd.xml of the written mirror published
// last, or nil.
func (r *repo) publishedRepomd() []byte {
	rc := r.config()
	st, err := r.d.store.Load(rc.Name)
	var corrupt *state.CorruptError
	if err != nil && !errors.As(err, &corrupt) {
		return nil // a damaged state file still gives usable (empty) state
	}
	var best []byte
	var when time.Time
	for _, m := range rc.Mirrors {
		if !m.Written() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(m.Path, "repodata", "repomd.xml"))
		if err != nil {
			continue
		}
		t := time.Time{}
		if ms := st.Mirrors[m.Name]; ms != nil {
			t = ms.PublishedAt
		}
		if best == nil || t.After(when) {
			best, when = b, t
		}
	}
	return best
}

// refreshPackages samples package hrefs from a written mirror's primary
// metadata, for the package check of probes.
func (r *repo) refreshPackages() {
	rc := r.config()
	for _, m := range rc.Mirrors {
		if !m.Written() {
			continue
		}
		pkgs, err := samplePrimary(m.Path)
		if err != nil {
			r.log.Debug("sampling packages", "mirror", m.Name, "err", err)
			continue
		}
		r.mu.Lock()
		r.packages = pkgs
		r.mu.Unlock()
		return
	}
}

func samplePrimary(dir string) ([]string, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "repodata", "repomd.xml"))
	if err != nil {
		return nil, err
	}
	md, err := repodata.ParseRepomd(raw)
	if err != nil {
		return nil, err
	}
	d, ok := md.Find("primary")
	if !ok {
		return nil, errors.New("no primary metadata")
	}
	if err := target.CheckPath(d.Href); err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(dir, filepath.FromSlash(d.Href)))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rd, err := repodata.Decompress(f, d.Href)
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	return health.SamplePackages(rd, samplePackages, nil)
}

// probe probes the origin, then every mirror with a URL, and re-renders
// the lists. A probe of the repo already running makes this a no-op.
func (r *repo) probe(ctx context.Context) {
	if !r.probing.TryLock() {
		return
	}
	defer r.probing.Unlock()
	r.probeOrigin(ctx)
	r.probeMirrorsLocked(ctx)
	r.render(false)
}

// probeMirrors probes the mirrors only (after a sync).
func (r *repo) probeMirrors(ctx context.Context) {
	r.probing.Lock()
	defer r.probing.Unlock()
	r.probeMirrorsLocked(ctx)
}

func (r *repo) probeOrigin(ctx context.Context) {
	release, err := r.d.probeSlots.acquire(ctx)
	if err != nil {
		return
	}
	defer release()
	cfg, fetcher, prober := r.d.tools()
	rc := r.config()
	res := health.Result{URL: fetch.Redact(rc.Origin), Checked: time.Now().UTC()}
	pctx, cancel := context.WithTimeout(ctx, cfg.ProbeTimeout)
	user, pass, err := rc.OriginAuth()
	client := prober.Client
	if err == nil && (rc.TLS.CAFile != "" || rc.TLS.Insecure) {
		var f *fetch.Fetcher
		if f, err = sync.WithOriginTLS(fetcher, &rc, slog.New(slog.DiscardHandler)); err == nil {
			client = f.HTTPClient()
		}
	}
	var body []byte
	if err == nil {
		body, err = getRepomd(pctx, client, rc.Origin, prober.UserAgent, user, pass)
	}
	cancel()
	res.Latency = time.Since(res.Checked)
	switch {
	case ctx.Err() != nil:
		return // interrupted: says nothing about the origin
	case err != nil:
		res.State, res.Reason, res.Latency = health.Down, err.Error(), 0
	default:
		if md, perr := repodata.ParseRepomd(body); perr != nil {
			res.State, res.Reason = health.Down, "repodata/repomd.xml: "+perr.Error()
		} else {
			res.State, res.Revision = health.OK, md.Revision
		}
	}
	prev := r.setOrigin(res)
	if res.State == health.OK && r.noteOrigin(body) && prev != health.Unknown {
		// The origin published a new revision: sync now rather than at
		// the next scheduled time.
		r.requestSync("new revision at the origin")
	}
	if res.State == health.OK && prev == health.Down {
		r.requestSync("origin recovered")
	}
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

// getRepomd fetches base's repodata/repomd.xml once, without retries.
func getRepomd(ctx context.Context, c *http.Client, base, ua, user, pass string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"repodata/repomd.xml", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", ua)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := c.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("GET repodata/repomd.xml: timeout")
		}
		return nil, fmt.Errorf("GET repodata/repomd.xml: %v", errors.Unwrap(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, fmt.Errorf("GET repodata/repomd.xml: %s", resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, sync.MaxRepomdSize+1))
	if err != nil {
		return nil, fmt.Errorf("GET repodata/repomd.xml: %v", err)
	}
	if len(b) > sync.MaxRepomdSize {
		return nil, fmt.Errorf("GET repodata/repomd.xml: larger than %d bytes", sync.MaxRepomdSize)
	}
	return b, nil
}

func (r *repo) probeMirrorsLocked(ctx context.Context) {
	_, _, prober := r.d.tools()
	rc := r.config()
	r.mu.Lock()
	want, pkgs := r.originRepomd, r.packages
	r.mu.Unlock()
	var wg gosync.WaitGroup
	for _, m := range rc.Mirrors {
		if m.URL == "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.d.recoverPanic("probing " + r.name + "/" + m.Name)
			var res health.Result
			if want == nil {
				res = health.Result{URL: fetch.Redact(m.URL), State: health.Unknown, Checked: time.Now().UTC(),
					Reason: "the origin's repomd.xml is not known yet: nothing to compare with"}
			} else {
				release, err := r.d.probeSlots.acquire(ctx)
				if err != nil {
					return
				}
				res = prober.Probe(ctx, m.URL, want, pkgs)
				release()
			}
			if ctx.Err() != nil {
				return
			}
			r.recordProbe(m, res)
		}()
	}
	wg.Wait()
}

func (r *repo) recordProbe(m config.Mirror, res health.Result) {
	r.d.metrics.setMirror(r.name, m.Name, res)
	prev, changed := r.tracker.Update(m.Name, res)
	if !changed {
		return
	}
	r.log.Info("mirror state", "mirror", m.Name, "from", prev, "to", res.State, "reason", res.Reason)
	if res.State == health.Down || res.State == health.Stale {
		r.addFailure("mirror "+m.Name, string(res.State)+": "+res.Reason)
	}
	if prev == health.Unknown && res.State == health.OK {
		return // coming up is not news
	}
	r.d.alerts.Send(alert.Event{Kind: "mirror", Repo: r.name, Mirror: m.Name, URL: res.URL, From: string(prev), To: string(res.State), Reason: res.Reason})
}

func (r *repo) addFailure(what, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures = append(r.failures, server.FailureStatus{Time: time.Now().UTC(), What: what, Error: msg})
	if len(r.failures) > maxFailures {
		r.failures = r.failures[len(r.failures)-maxFailures:]
	}
}

// healthy returns the mirrors to list, sorted.
func (r *repo) healthy(rc config.Repo) []mirrorlist.Mirror {
	var ms []mirrorlist.Mirror
	for _, m := range rc.Mirrors {
		if m.URL == "" {
			continue
		}
		res, ok := r.tracker.Get(m.Name)
		if !ok || res.State != health.OK {
			continue
		}
		ms = append(ms, mirrorlist.Mirror{URL: m.URL, Priority: m.Priority, Latency: res.Latency})
	}
	mirrorlist.Sort(ms)
	return ms
}

// render rebuilds the mirrorlist and metalink when what they show has
// changed (always when force is set), and writes them into every written
// mirror.
func (r *repo) render(force bool) {
	rc := r.config()
	ms := r.healthy(rc)
	r.mu.Lock()
	repomd := r.originRepomd
	alts := append([]mirrorlist.File(nil), r.history...)
	r.mu.Unlock()
	var key strings.Builder
	fmt.Fprintf(&key, "%s|%x|%d|", rc.Origin, repomd, len(alts))
	for _, m := range ms {
		fmt.Fprintf(&key, "%s %d|", m.URL, m.Priority)
	}
	if old := r.views.Load(); !force && old != nil && old.key == key.String() {
		return
	}
	var cur mirrorlist.File
	if repomd != nil {
		ts, _ := mirrorlist.RepomdTimestamp(repomd)
		cur = mirrorlist.Describe(repomd, ts)
	}
	v := &views{
		mirrorlist: mirrorlist.Text(ms, rc.Origin),
		metalink:   mirrorlist.Metalink(cur, alts, ms, rc.Origin, time.Now()),
		key:        key.String(),
	}
	r.views.Store(v)
	r.d.metrics.listed.WithLabelValues(r.name).Set(float64(len(ms)))
	r.writeLists(rc, v)
}

// writeLists writes the lists into each written mirror, atomically, when
// they changed since last written there.
func (r *repo) writeLists(rc config.Repo, v *views) {
	for _, m := range rc.Mirrors {
		if !m.Written() {
			continue
		}
		if _, err := os.Stat(filepath.Join(m.Path, "repodata", "repomd.xml")); err != nil {
			continue // never published: nothing to point at yet
		}
		sig := append(append([]byte(nil), v.mirrorlist...), v.metalink...)
		r.mu.Lock()
		same := bytes.Equal(r.written[m.Path], sig)
		r.mu.Unlock()
		if same {
			continue
		}
		tg, err := local.New(m.Path)
		if err != nil {
			r.log.Warn("writing mirror lists", "mirror", m.Name, "err", err)
			continue
		}
		okAll := true
		for _, f := range []struct {
			name string
			b    []byte
		}{{MirrorlistFile, v.mirrorlist}, {MetalinkFile, v.metalink}} {
			tmpRel := "tmp/" + r.name + "-" + m.Name + "-" + f.name
			tmp := filepath.Join(r.d.store.Dir(), filepath.FromSlash(tmpRel))
			if err := safefs.WriteFile(r.d.store.Dir(), tmpRel, f.b, 0o644); err != nil {
				r.log.Warn("writing mirror lists", "mirror", m.Name, "err", err)
				okAll = false
				continue
			}
			if err := tg.Put(context.Background(), target.File{Path: f.name, Local: tmp, Size: int64(len(f.b))}); err != nil {
				r.log.Warn("writing mirror lists", "mirror", m.Name, "file", f.name, "err", err)
				okAll = false
			}
			os.Remove(tmp)
		}
		if okAll {
			r.mu.Lock()
			r.written[m.Path] = sig
			r.mu.Unlock()
		}
	}
}

// status returns what /status shows of the repo.
func (r *repo) status() server.RepoStatus {
	rc := r.config()
	r.mu.Lock()
	defer r.mu.Unlock()
	st := server.RepoStatus{
		Name:          rc.Name,
		Origin:        fetch.Redact(rc.Origin),
		OriginState:   string(r.origin.State),
		OriginReason:  r.origin.Reason,
		OriginChecked: r.origin.Checked,
		Revision:      r.origin.Revision,
		Syncing:       r.syncing,
		LastSync:      r.lastSync,
		LastSuccess:   r.lastSuccess,
		Failures:      append([]server.FailureStatus(nil), r.failures...),
	}
	if r.sched != nil {
		// Before the scheduler starts; Daemon.Status replaces it with the
		// scheduler's own next run once it has one.
		st.NextSync = r.sched.Next(time.Now()).UTC()
	}
	for _, m := range rc.Mirrors {
		ms := server.MirrorStatus{Name: m.Name, URL: fetch.Redact(m.URL), Written: m.Written(), Priority: m.Priority, State: string(health.Unknown)}
		if m.URL == "" {
			ms.Reason = "no url: written but not probed or listed"
		} else if res, ok := r.tracker.Get(m.Name); ok {
			ms.State, ms.Reason, ms.Checked, ms.Revision = string(res.State), res.Reason, res.Checked, res.Revision
			ms.LatencyMS = float64(res.Latency.Microseconds()) / 1000
			if res.State == health.OK {
				st.Listed++
			}
		}
		st.Mirrors = append(st.Mirrors, ms)
	}
	return st
}
