// Package daemon is rpmirror serve: it keeps every repository's mirrors
// synced on their schedules, probes every mirror and origin as a client
// would, renders a mirrorlist and a metalink of the healthy mirrors for
// the HTTP server (and as files in each written mirror), exports
// Prometheus metrics, and posts state changes to a webhook.
//
// Concurrency: each repository has one worker goroutine that runs its
// syncs one at a time, fed by a trigger channel of capacity one, so two
// syncs of a repository never overlap and requests made while one runs
// collapse into one more run. Triggers come from the cron schedule, from
// a probe that sees a new revision at the origin or a hold lifted, from
// start-up (once each repository's origin is probed), and from the state
// watcher (watchStateLoop), which follows other rpmirror processes
// through the state_dir and runs again a sync that found the lock busy.
// One probe loop probes every repository each probe_interval. Rendered
// lists are swapped in atomically; the HTTP server only reads them.
package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	gosync "sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/robfig/cron/v3"
	"github.com/valyala/fasthttp"
	"golang.org/x/sync/errgroup"

	"github.com/rpmirror/rpmirror/alert"
	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/fetch"
	"github.com/rpmirror/rpmirror/geo"
	"github.com/rpmirror/rpmirror/health"
	"github.com/rpmirror/rpmirror/internal/safefs"
	"github.com/rpmirror/rpmirror/server"
	"github.com/rpmirror/rpmirror/state"
)

// Options configure a Daemon.
type Options struct {
	Logger *slog.Logger
	// ShutdownTimeout is how long in-flight syncs may run on after the
	// daemon is told to stop, before they are cancelled (default 30s).
	// Either way every mirror stays consistent.
	ShutdownTimeout time.Duration
	// Version is reported in the User-Agent.
	Version string
	// AlertDrainTimeout is how long, once everything else has stopped,
	// Run waits for the alerts still queued to reach the webhook before
	// it returns (default DefaultAlertDrainTimeout): those left then are
	// lost, and logged.
	AlertDrainTimeout time.Duration
	// StateWatchInterval is how often every repository's records in the
	// state_dir are looked at for what other rpmirror commands did
	// (default DefaultStateWatchInterval; see watchStateLoop).
	StateWatchInterval time.Duration
}

// DefaultAlertDrainTimeout is the default Options.AlertDrainTimeout.
const DefaultAlertDrainTimeout = 5 * time.Second

// Daemon is a running rpmirror serve.
type Daemon struct {
	// followed counts the repos another process is at work on
	// (repo.following): the state watcher glances at them often.
	followed atomic.Int32
	opts     Options
	log      *slog.Logger
	registry *prometheus.Registry
	metrics  *metrics
	alerts   *alert.Sender
	// reloadErr is the last reload's failure (ReloadFailed), nil once a
	// reload succeeds; reloadMu guards it.
	reloadMu  gosync.Mutex
	reloadErr *server.ReloadError
	store     *state.Store

	// interval is cfg.ProbeInterval, set with it: read where d.mu may
	// not be taken (renderViews, under a repo's rendering lock, which a
	// reload holding d.mu waits for).
	interval atomic.Int64

	mu      gosync.Mutex
	cfg     *config.Config
	fetcher *fetch.Fetcher
	prober  *health.Prober
	repos   map[string]*repo
	order   []string // repo names in configuration order
	cron    *cron.Cron

	// What the mirror routes use; see selection.go.
	srvMetrics *server.Metrics
	geoPath    string
	geoDB      *geo.DB
	logPath    string
	accessLog  *server.AccessLog
	mirrors    atomic.Pointer[server.Mirrors]

	runCtx      context.Context // lives as long as Run
	syncCtx     context.Context // cancelled when in-flight syncs must stop
	cancelSyncs context.CancelFunc
	workers     gosync.WaitGroup
	reprobe     chan struct{} // asks the probe loop to start a round now
	handler     atomic.Pointer[server.Handler]
	// syncSlots bounds the syncs running at once (max_parallel_syncs),
	// probeSlots the probes in flight (max_parallel_probes); both are
	// sized at start and keep their size until a restart.
	syncSlots  slots
	probeSlots slots

	// lists are the repos whose lists a probe re-rendered, waiting for
	// the list writers (writeListsLater); listsWake wakes one.
	listsMu   gosync.Mutex
	lists     []*repo
	listsWake chan struct{}

	// clock is the time for what tests move on (the renderings of the
	// lists); nil is time.Now.
	clock func() time.Time
}

// now returns the time of d's clock.
func (d *Daemon) now() time.Time {
	if d.clock != nil {
		return d.clock()
	}
	return time.Now()
}

// probeInterval returns the configuration's probe_interval.
func (d *Daemon) probeInterval() time.Duration {
	return time.Duration(d.interval.Load())
}

// listWriters is how many repos' lists are written into their mirrors
// at once after probes (writeListsLater).
const listWriters = 4

// slots is a counting semaphore.
type slots chan struct{}

// acquire waits for a free slot or for ctx to end; release frees it.
func (s slots) acquire(ctx context.Context) (release func(), err error) {
	select {
	case s <- struct{}{}:
		return func() { <-s }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// New prepares a daemon for cfg. It creates the state directory but
// starts nothing: call Run.
func New(cfg *config.Config, opts Options) (*Daemon, error) {
	// Syncs, probes and list writers write side by side all the time: a
	// small batch is flushed with its own fsyncs, never with a syncfs
	// that waits for the others' writes (safefs.Flush).
	safefs.KeepSmallFlushes()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 30 * time.Second
	}
	if opts.AlertDrainTimeout <= 0 {
		opts.AlertDrainTimeout = DefaultAlertDrainTimeout
	}
	store, err := state.Open(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	d := &Daemon{
		opts:       opts,
		log:        opts.Logger,
		registry:   prometheus.NewRegistry(),
		store:      store,
		repos:      map[string]*repo{},
		reprobe:    make(chan struct{}, 1),
		listsWake:  make(chan struct{}, 1),
		syncSlots:  make(slots, max(1, cfg.MaxParallelSyncs)),
		probeSlots: make(slots, max(1, cfg.MaxParallelProbes)),
	}
	d.alerts = alert.New(alert.Options{URL: cfg.Alerts.Webhook, Logger: opts.Logger})
	d.metrics = newMetrics(d.registry, d.alerts.Stats)
	d.srvMetrics = server.NewMetrics(d.registry)
	d.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	d.cron = cron.New(cron.WithLocation(time.UTC), cron.WithParser(cronParser), cron.WithLogger(cronLogger{opts.Logger}))
	d.apply(cfg)
	return d, nil
}

// cronParser is the parser config.ValidateCron accepts specs for.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Handler returns the HTTP handler of the daemon's routes. POST /sync is
// there when the configuration provides an API token.
func (d *Daemon) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.handler.Load().ServeHTTP(w, r)
	})
}

// serveFast serves a request of the daemon's fasthttp server with the
// current routes.
func (d *Daemon) serveFast(ctx *fasthttp.RequestCtx) { d.handler.Load().ServeFast(ctx) }

// buildHandler makes the routes for the current token.
func (d *Daemon) buildHandler(cfg *config.Config) {
	token, err := cfg.APIToken()
	if err != nil {
		d.log.Error("no API token: POST /sync is off", "err", err)
		token = ""
	}
	h := server.New(d, d.registry, d.log, server.WithTrigger(token, d.TriggerSync), server.WithSelection(server.Selection{
		TrustedProxies: cfg.TrustedProxies,
		GeoIP:          d.geoDB,
		AccessLog:      d.accessLog,
		Metrics:        d.srvMetrics,
	}))
	d.handler.Store(h)
}

// TriggerSync asks for a sync of repo now and reports whether the repo
// exists.
func (d *Daemon) TriggerSync(name string) bool {
	r, ok := d.repo(name)
	if ok {
		r.requestSync("requested over HTTP")
	}
	return ok
}

// Registry returns the daemon's Prometheus registry.
func (d *Daemon) Registry() *prometheus.Registry { return d.registry }

// Run serves on ln and runs schedules and probes until ctx ends; then it
// stops taking work, lets in-flight syncs finish for ShutdownTimeout,
// cancels the rest, and returns once everything has stopped.
func (d *Daemon) Run(ctx context.Context, ln net.Listener) error {
	if _, err := d.store.RemoveStaleTemp(listStagePrefix, staleStaging); err != nil {
		d.log.Warn("removing mirror lists left staged by an earlier daemon", "err", err)
	}
	// A sync run beside the daemon waits for its metalink clients
	// (AwaitServe) only while this is held, and for the repos
	// the daemon records what it lists of (noteListed): not one an
	// earlier daemon served.
	if release, err := d.store.Serving(); err != nil {
		d.log.Warn("syncs run beside the daemon will not wait for its metalink clients", "err", err)
	} else {
		defer release()
	}
	d.removeListedRecords()
	syncCtx, cancelSyncs := context.WithCancel(context.WithoutCancel(ctx))
	d.mu.Lock()
	d.runCtx, d.syncCtx, d.cancelSyncs = ctx, syncCtx, cancelSyncs
	for _, name := range d.order {
		d.startWorker(d.repos[name])
	}
	d.mu.Unlock()
	defer cancelSyncs()

	alertCtx, stopAlerts := context.WithCancel(context.WithoutCancel(ctx))
	defer stopAlerts()
	go d.alerts.Run(alertCtx)

	srv := server.NewServer(d.serveFast, d.log, server.DefaultLimits)
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	d.log.Info("serving", "addr", ln.Addr().String())

	probesDone := make(chan struct{})
	go func() {
		defer close(probesDone)
		d.probeLoop(ctx)
	}()
	var writers gosync.WaitGroup
	for range listWriters {
		writers.Go(func() { d.writeListsLoop(ctx) })
	}
	writers.Go(func() { d.watchStateLoop(ctx) })
	d.cron.Start()

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
		if err == nil {
			err = net.ErrClosed // the listener closed under the server
		}
		err = fmt.Errorf("serving HTTP: %w", err)
	}
	d.log.Info("shutting down")
	<-d.cron.Stop().Done()
	<-probesDone
	probesStopped := time.Now()
	writers.Wait() // and the state watcher; lists left unwritten are written at the next start (newRepo)

	// Let in-flight syncs finish, up to the timeout; then cancel them.
	// A cancelled sync leaves its mirrors consistent: that is the engine's
	// promise at every point. The routes answer meanwhile: clients of a
	// daemon restarted in the middle of a sync are answered, not left for
	// up to --shutdown-timeout in the queue of a socket systemd holds (a
	// reviewer's), or refused. A sync that publishes meanwhile has the
	// lists name its revision first, as always (beforePublish).
	done := make(chan struct{})
	go func() { d.workers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d.opts.ShutdownTimeout):
		d.log.Warn("cancelling in-flight syncs", "after", d.opts.ShutdownTimeout)
		cancelSyncs()
		<-done
	}
	d.saveProbed(probesStopped) // the next daemon starts from them
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	srv.Shutdown(shutCtx)
	cancel()
	d.closeFiles()
	// Alerts still queued (the last probe round's, a sync's that ended
	// meanwhile, or several behind a slow webhook) go out before the
	// process exits, for a bounded time: a webhook that is down does not
	// hold the shutdown up.
	drainCtx, cancelDrain := context.WithTimeout(context.Background(), d.opts.AlertDrainTimeout)
	d.alerts.Drain(drainCtx)
	cancelDrain()
	return err
}

// removeListedRecords removes the records of what the daemon lists
// (state.Adopted) of the repos it does not serve, left by an earlier
// daemon: a command beside it would wait for a record that never comes.
func (d *Daemon) removeListedRecords() {
	names, err := d.store.AdoptedRepos()
	if err != nil {
		d.log.Warn("reading what earlier daemons recorded of their lists", "err", err)
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, name := range names {
		if _, ok := d.repos[name]; ok {
			continue
		}
		if err := d.store.RemoveAdopted(name); err != nil {
			d.log.Warn("a sync beside the daemon of a repo it does not serve will wait for it", "repo", name, "err", err)
		}
	}
}

// Reload applies a new configuration: repos added start, repos removed
// stop (a sync in flight finishes), changed ones take the new settings
// from their next sync and probe on. listen takes effect on restart only.
func (d *Daemon) Reload(cfg *config.Config) {
	d.reloadMu.Lock()
	d.reloadErr = nil
	d.reloadMu.Unlock()
	d.metrics.reloadOK.Set(1)
	d.metrics.reloadAt.SetToCurrentTime()
	d.mu.Lock()
	if cfg.Listen != d.cfg.Listen {
		d.log.Warn("listen changed: restart rpmirror serve to apply it", "old", d.cfg.Listen, "new", cfg.Listen)
	}
	if cfg.MaxParallelSyncs != d.cfg.MaxParallelSyncs || cfg.MaxParallelProbes != d.cfg.MaxParallelProbes {
		d.log.Warn("max_parallel_syncs or max_parallel_probes changed: restart rpmirror serve to apply it")
	}
	if cfg.StateDir != d.cfg.StateDir {
		d.log.Warn("state_dir changed: restart rpmirror serve to apply it", "old", d.cfg.StateDir, "new", cfg.StateDir)
		cfg.StateDir = d.cfg.StateDir
	}
	d.mu.Unlock()
	d.apply(cfg)
	d.log.Info("configuration reloaded", "repos", len(cfg.Repos))
	select {
	case d.reprobe <- struct{}{}:
	default:
	}
}

// apply makes the daemon's repos those of cfg.
func (d *Daemon) apply(cfg *config.Config) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cfg = cfg
	d.interval.Store(int64(cfg.ProbeInterval))
	d.fetcher = fetch.New(fetch.Options{
		Retries:        cfg.Download.Retries,
		ConnectTimeout: cfg.Download.ConnectTimeout,
		StallTimeout:   cfg.Download.StallTimeout,
		UserAgent:      "rpmirror/" + d.opts.Version,
		Logger:         d.log,
	})
	d.prober = &health.Prober{
		Client:    d.fetcher.HTTPClient(),
		Timeout:   cfg.ProbeTimeout,
		UserAgent: "rpmirror/" + d.opts.Version,
	}
	d.alerts.SetURL(cfg.Alerts.Webhook)
	d.openFiles(cfg)
	d.buildHandler(cfg)
	keep := map[string]bool{}
	d.order = d.order[:0]
	for i := range cfg.Repos {
		rc := cfg.Repos[i]
		keep[rc.Name] = true
		d.order = append(d.order, rc.Name)
		r, ok := d.repos[rc.Name]
		if !ok {
			r = newRepo(d, rc)
			d.repos[rc.Name] = r
			if d.runCtx != nil {
				d.startWorker(r)
				// The start-up sync is past: a repo added now gets its
				// first sync (or verification) at once.
				r.requestSync("added to the configuration")
			}
		} else {
			added := newWrittenMirror(r.config(), rc)
			r.setConfig(rc)
			if added != "" && d.runCtx != nil {
				// Nothing writes a new written mirror until the repo's
				// next sync, which its schedule may put hours away:
				// probed meanwhile, it is down (and alerted on).
				r.requestSync("written mirror " + added + " added to the configuration")
			}
		}
		if err := d.schedule(r); err != nil {
			d.log.Error("scheduling", "repo", rc.Name, "err", err)
		}
	}
	for name, r := range d.repos {
		if !keep[name] {
			d.cron.Remove(r.cronID)
			r.stop()
			delete(d.repos, name)
			if r.following.CompareAndSwap(true, false) {
				d.followed.Add(-1)
			}
			if err := d.store.RemoveAdopted(name); err != nil {
				d.log.Warn("a sync beside the daemon of a repo it no longer serves will wait for it", "repo", name, "err", err)
			}
			d.metrics.forget(name)
			d.srvMetrics.Forget(name)
			d.log.Info("repo removed", "repo", name)
		}
	}
	d.publishCatalog()
}

// newWrittenMirror returns the name of a written mirror of next that
// old did not write (a new mirror, or a mirror given another path or
// place in object storage), or "" when there is none.
func newWrittenMirror(old, next config.Repo) string {
	had := map[targetKey]bool{}
	for _, m := range old.Mirrors {
		if m.Written() {
			had[targetKeyOf(m)] = true
		}
	}
	for _, m := range next.Mirrors {
		if m.Written() && !had[targetKeyOf(m)] {
			return m.Name
		}
	}
	return ""
}

// schedule (re)registers r's cron entry.
func (d *Daemon) schedule(r *repo) error {
	if r.cronID != 0 {
		d.cron.Remove(r.cronID)
		r.cronID = 0
	}
	spec := r.config().Schedule
	sched, err := parseSchedule(spec)
	if err != nil {
		return err
	}
	r.setSchedule(sched)
	r.cronID = d.cron.Schedule(sched, cron.FuncJob(func() { r.requestSync("schedule") }))
	return nil
}

// parseSchedule parses a cron spec, turning the panics robfig/cron has on
// some specs into errors (config.ValidateCron refused those already).
func parseSchedule(spec string) (s cron.Schedule, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("schedule %q: %v", spec, p)
		}
	}()
	return cronParser.Parse(spec)
}

func (d *Daemon) startWorker(r *repo) {
	d.workers.Add(1)
	go func() {
		defer d.workers.Done()
		r.work(d.runCtx, d.syncCtx)
	}()
}

// snapshot returns the repos in configuration order.
func (d *Daemon) snapshot() []*repo {
	d.mu.Lock()
	defer d.mu.Unlock()
	rs := make([]*repo, 0, len(d.order))
	for _, name := range d.order {
		rs = append(rs, d.repos[name])
	}
	return rs
}

func (d *Daemon) tools() (*config.Config, *fetch.Fetcher, *health.Prober) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cfg, d.fetcher, d.prober
}

func (d *Daemon) repo(name string) (*repo, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r, ok := d.repos[name]
	return r, ok
}

// probeLoop probes every repository at once on start, then every
// probe_interval, until ctx ends. Every repository gets a sync at start,
// so that mirrors behind the origin catch up: as soon as its origin is
// probed in the first round (repo.probe), not once the whole round is
// over (one hanging mirror held every repository's first sync back by
// probe_timeout, and a thousand repositories' by the round).
func (d *Daemon) probeLoop(ctx context.Context) {
	for _, r := range d.snapshot() {
		r.syncAtStart.Store(true)
	}
	for {
		cfg, _, _ := d.tools()
		start := time.Now()
		d.probeAll(ctx)
		if ctx.Err() != nil {
			return
		}
		wait := cfg.ProbeInterval - time.Since(start)
		if wait < 0 {
			wait = 0
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		case <-d.reprobe:
		}
	}
}

// probeAll probes every repository, several at once.
func (d *Daemon) probeAll(ctx context.Context) {
	// Each probe takes a slot of probeSlots; this only bounds the
	// goroutines waiting for one.
	cfg, _, _ := d.tools()
	var g errgroup.Group
	g.SetLimit(max(1, cfg.MaxParallelProbes))
	for _, r := range d.snapshot() {
		g.Go(func() error {
			defer d.recoverPanic("probing " + r.name)
			r.probe(ctx)
			return nil
		})
	}
	g.Wait()
}

// writeListsLater has a list writer write r's lists into its written
// mirrors (writeLists, which writes the latest rendering), so that a
// probe round does not wait for the disk. A repo waits in the queue at
// most once: a rendering while it waits is written with it.
func (d *Daemon) writeListsLater(r *repo) {
	if r.listsQueued.Swap(true) {
		return
	}
	d.listsMu.Lock()
	d.lists = append(d.lists, r)
	d.listsMu.Unlock()
	select {
	case d.listsWake <- struct{}{}:
	default:
	}
}

// writeListsLoop writes the lists of the repos writeListsLater queued,
// one repo at a time, until ctx ends.
func (d *Daemon) writeListsLoop(ctx context.Context) {
	for ctx.Err() == nil {
		d.listsMu.Lock()
		var r *repo
		if len(d.lists) > 0 {
			r = d.lists[0]
			d.lists[0] = nil
			d.lists = d.lists[1:]
		}
		more := len(d.lists) > 0
		d.listsMu.Unlock()
		if more { // another writer takes the next
			select {
			case d.listsWake <- struct{}{}:
			default:
			}
		}
		if r == nil {
			select {
			case <-ctx.Done():
			case <-d.listsWake:
			}
			continue
		}
		r.listsQueued.Store(false)
		select {
		case <-r.done: // removed from the configuration
			continue
		default:
		}
		func() {
			defer d.recoverPanic("writing the lists of " + r.name)
			r.writeLists()
		}()
	}
}

func (d *Daemon) recoverPanic(what string) {
	if p := recover(); p != nil {
		d.log.Error("panic: recovered, the daemon goes on", "while", what, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	}
}

// Mirrors implements server.Source.
func (d *Daemon) Mirrors() *server.Mirrors { return d.mirrors.Load() }

// ReloadFailed records that the configuration file, read again (SIGHUP),
// did not load, with its problems: the daemon runs on with the
// configuration it has, and says so in /status, /status.json and
// /metrics (rpmirror_config_last_reload_successful 0) until a reload
// succeeds.
func (d *Daemon) ReloadFailed(problems []string) {
	d.reloadMu.Lock()
	d.reloadErr = &server.ReloadError{At: time.Now().UTC(), Problems: problems}
	d.reloadMu.Unlock()
	d.metrics.reloadOK.Set(0)
}

// Status implements server.Source.
func (d *Daemon) Status() *server.Status {
	st := &server.Status{Generated: time.Now().UTC()}
	d.reloadMu.Lock()
	st.ReloadError = d.reloadErr
	d.reloadMu.Unlock()
	next := d.nextRuns()
	for _, r := range d.snapshot() {
		rs := r.status()
		if t, ok := next[rs.Name]; ok {
			rs.NextSync = t
		}
		if t := r.retryTime(st.Generated); !t.IsZero() && (rs.NextSync.IsZero() || t.Before(rs.NextSync)) {
			rs.NextSync = t.UTC() // a failed sync tried again (noteRetryLocked)
		}
		st.Repos = append(st.Repos, rs)
	}
	return st
}

// nextRuns returns when the scheduler will next run each repo's sync, by
// repo name, once it runs. This is the schedule's real next run: for
// "@every 1h" an hour after the last run (or the start), not an hour from
// now as Schedule.Next(now) would say.
func (d *Daemon) nextRuns() map[string]time.Time {
	d.mu.Lock()
	ids := make(map[string]cron.EntryID, len(d.repos))
	for name, r := range d.repos {
		ids[name] = r.cronID
	}
	d.mu.Unlock()
	next := make(map[string]time.Time, len(ids))
	for name, id := range ids {
		if id == 0 {
			continue
		}
		if e := d.cron.Entry(id); !e.Next.IsZero() {
			next[name] = e.Next.UTC()
		}
	}
	return next
}

// cronLogger sends robfig/cron's messages to slog.
type cronLogger struct{ log *slog.Logger }

func (l cronLogger) Info(msg string, kv ...any) { l.log.Debug("cron: "+msg, kv...) }
func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error("cron: "+msg, append(kv, "err", err)...)
}
