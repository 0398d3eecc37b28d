// Package server is the HTTP face of rpmirror serve: the mirrorlist and
// metalink that dnf reads, redirects to a mirror for plain baseurl=
// clients, Prometheus metrics, a liveness check, and a status page for
// people (and its JSON twin for programs).
//
// Every answer comes from memory. The daemon prepares each repository's
// candidate mirrors and their lists (a Repo) whenever probes or syncs
// change them; a request finds its client (behind trusted proxies) and
// country, orders the candidates for it (package selection: networks,
// country, continent, state, priority, weighted shuffle) and copies the
// pieces of the lists in that order. The server is read-only: it answers
// GET and HEAD on its routes and nothing else, and no part of a request
// ever reaches the filesystem.
//
// Handler serves the routes to net/http and to fasthttp; rpmirror serve
// runs fasthttp (NewServer), answering the mirror routes natively and the
// others through their net/http handlers (docs/design.md says why).
package server

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
)

// Source is what the server shows. Implementations must be safe for
// concurrent use and fast: every mirror request calls Mirrors.
type Source interface {
	// Mirrors returns the repositories the mirror routes serve.
	Mirrors() *Mirrors
	// Status returns the state of every repository.
	Status() *Status
}

// Status is what /status and /status.json show.
type Status struct {
	Generated time.Time    `json:"generated"`
	Repos     []RepoStatus `json:"repos"`
	// ReloadError, when set, says the configuration file was read again
	// (SIGHUP) and did not load: the daemon runs on the one it had.
	ReloadError *ReloadError `json:"reload_error,omitempty"`
	// Summary is filled in by the server when it answers (see Summarize).
	Summary *Summary `json:"summary,omitempty"`
}

// ReloadError is a failed reload of the configuration file: when, and
// each problem (FILE:LINE: what).
type ReloadError struct {
	At       time.Time `json:"at"`
	Problems []string  `json:"problems"`
}

// RepoStatus is one repository.
type RepoStatus struct {
	Name          string    `json:"name"`
	Origin        string    `json:"origin"`
	OriginState   string    `json:"origin_state"`
	OriginReason  string    `json:"origin_reason,omitempty"`
	OriginChecked time.Time `json:"origin_checked"`
	Revision      string    `json:"revision,omitempty"` // the origin's current revision, as last seen
	// CurrentRevision is the newest revision rpmirror verified, which
	// mirrors are judged against, and CurrentVerified when it was
	// verified.
	CurrentRevision string    `json:"current_revision,omitempty"`
	CurrentVerified time.Time `json:"current_verified,omitzero"`
	// OriginNote says why the current revision is not the origin's:
	// "origin revision 1795700000 refused: package ... signature check
	// failed", "origin revision 1795700000 not verified yet: ...". Empty
	// when the origin serves the current revision.
	OriginNote string `json:"origin_note,omitempty"`
	// Upstreams are the places the origin is served from, in the order
	// a sync tries them, each as last probed.
	Upstreams   []UpstreamStatus `json:"upstreams"`
	Listed      int              `json:"listed"` // mirrors in the mirrorlist (ok, then behind)
	Syncing     bool             `json:"syncing"`
	LastSync    *SyncStatus      `json:"last_sync,omitempty"`
	LastSuccess time.Time        `json:"last_success"`
	NextSync    time.Time        `json:"next_sync"`
	Mirrors     []MirrorStatus   `json:"mirrors"`
	Failures    []FailureStatus  `json:"recent_failures"`
	// Held is set while rpmirror rollback holds the repository at a
	// snapshot: no sync moves it forward until rpmirror resume, and
	// CurrentRevision is the held revision.
	Held *HoldStatus `json:"held,omitempty"`
}

// HoldStatus is a repository held at a snapshot by rpmirror rollback.
type HoldStatus struct {
	Snapshot string    `json:"snapshot"`
	Revision string    `json:"revision,omitempty"`
	By       string    `json:"by"` // user@host
	Since    time.Time `json:"since"`
}

// UpstreamStatus is one upstream of a repository's origin.
type UpstreamStatus struct {
	URL       string    `json:"url"`
	State     string    `json:"state"` // "ok", "down" or "unknown"
	Reason    string    `json:"reason,omitempty"`
	LatencyMS float64   `json:"latency_ms"`
	Checked   time.Time `json:"checked"`
	Revision  string    `json:"revision,omitempty"`
}

// MirrorStatus is one mirror of a repository.
type MirrorStatus struct {
	Name      string    `json:"name"`
	URL       string    `json:"url,omitempty"`
	Written   bool      `json:"written"`
	Priority  int       `json:"priority"`
	State     string    `json:"state"`
	Reason    string    `json:"reason,omitempty"`
	LatencyMS float64   `json:"latency_ms"`
	Checked   time.Time `json:"checked"`
	Revision  string    `json:"revision,omitempty"`
	// LagSeconds is how long ago the verified revision the mirror serves
	// was superseded: 0 for the current revision; absent when it serves
	// no verified revision.
	LagSeconds *float64 `json:"lag_seconds,omitempty"`
	// Lease is who writes a mirror in object storage; absent for other
	// mirrors.
	Lease *LeaseStatus `json:"lease,omitempty"`
}

// LeaseStatus is the lease on a mirror in object storage, as last read
// from the bucket: which rpmirror writes it.
type LeaseStatus struct {
	// Held: some rpmirror holds it now; Holder names it (its
	// lease_holder, HOST/PID by default), or the last one when not Held.
	Held   bool   `json:"held"`
	Holder string `json:"holder,omitempty"`
	// Mine: the holder is this rpmirror.
	Mine bool `json:"mine"`
	// Renewed is when the holder last renewed it (the store's clock),
	// and TTLSeconds how long after that it expires unless renewed.
	Renewed    time.Time `json:"renewed,omitzero"`
	TTLSeconds float64   `json:"ttl_seconds,omitempty"`
	Checked    time.Time `json:"checked"`
	// Error says why it could not be read.
	Error string `json:"error,omitempty"`
}

// SyncStatus is the outcome of a sync.
type SyncStatus struct {
	Start    time.Time `json:"start"`
	Seconds  float64   `json:"seconds"`
	Result   string    `json:"result"` // "ok", "no change", "failed", "skipped", "held", "standby", "interrupted"
	Error    string    `json:"error,omitempty"`
	Fetched  int       `json:"fetched"`
	Bytes    int64     `json:"bytes"`
	Revision string    `json:"revision,omitempty"`
	// FromMirror names the written mirror on this machine the revision
	// was taken from when no upstream was usable (sync.Report.FromMirror).
	FromMirror string `json:"from_mirror,omitempty"`
}

// FailureStatus is one recent failure.
type FailureStatus struct {
	Time  time.Time `json:"time"`
	What  string    `json:"what"`
	Error string    `json:"error"`
}

// Limits on requests, applied by NewHTTPServer's http.Server and, as
// DefaultLimits, by NewServer's fasthttp server.
const (
	MaxHeaderBytes    = 16 << 10
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 10 * time.Second
	WriteTimeout      = 30 * time.Second
	IdleTimeout       = 120 * time.Second
)

// New returns the handler of every route, for net/http and fasthttp.
// gatherer serves /metrics.
//
// With a token and a trigger (WithTrigger), POST /sync?repo=NAME starts a
// sync of the repo when the request carries "Authorization: Bearer
// <token>" (compared in constant time); otherwise the server is read-only.
func New(src Source, gatherer prometheus.Gatherer, log *slog.Logger, opts ...Option) *Handler {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	mr := &mirrorRoutes{src: src, sel: o.sel}
	mux.HandleFunc("GET /mirrorlist", mr.list(KindMirrorlist))
	mux.HandleFunc("GET /metalink", mr.list(KindMetalink))
	mux.HandleFunc("GET /r/{path...}", mr.redirect)
	mux.HandleFunc("GET /snapshots.json", mr.snapshots)
	mux.Handle("GET /metrics", flushing(promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{ErrorLog: slogPrinter{log}})))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /status.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(withLists(src.Status()))
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err := statusPage().Execute(w, withLists(src.Status())); err != nil {
			log.Warn("rendering /status", "err", err)
		}
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/status", http.StatusFound)
	})
	if o.token != "" && o.trigger != nil {
		mux.HandleFunc("POST /sync", func(w http.ResponseWriter, r *http.Request) {
			if !authorized(r, o.token) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="rpmirror"`)
				http.Error(w, "a valid bearer token is required", http.StatusUnauthorized)
				return
			}
			repo := r.URL.Query().Get("repo")
			if !o.trigger(repo) {
				http.Error(w, fmt.Sprintf("unknown repo %q", truncate(repo, 100)), http.StatusNotFound)
				return
			}
			log.Info("sync requested over HTTP", "repo", repo, "remote", r.RemoteAddr)
			w.WriteHeader(http.StatusAccepted)
			fmt.Fprintln(w, "sync requested")
		})
	}
	h := &Handler{http: readOnly(mux, o.token != "" && o.trigger != nil), mr: mr}
	h.rest = fasthttpadaptor.NewFastHTTPHandler(h.http)
	return h
}

// flushAfter is how much of a streamed answer (see flushing) is written
// between two flushes.
const flushAfter = 32 << 10

// flushing passes on the body of h's answers to GET as h writes it, a
// flush every flushAfter bytes, rather than all of it when h returns.
// fasthttpadaptor, through which rpmirror serve answers the routes it
// does not answer natively, holds an answer in memory until its handler
// returns or flushes (then it streams the rest): /metrics is about 10 MB
// of text for 10,000 mirrors, buffered whole in a buffer grown by
// doubling on each scrape. A body shorter than flushAfter is answered as
// before, in one piece. An answer to HEAD is never flushed: its body,
// which net/http discards, would be cut short.
func flushing(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := w.(http.Flusher)
		if !ok || r.Method != http.MethodGet {
			h.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(&flushWriter{ResponseWriter: w, f: f}, r)
	})
}

// flushWriter flushes every flushAfter bytes written.
type flushWriter struct {
	http.ResponseWriter
	f http.Flusher
	n int // written since the last flush
}

func (w *flushWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	if w.n += n; err == nil && w.n >= flushAfter {
		w.f.Flush()
		w.n = 0
	}
	return n, err
}

// Unwrap lets http.ResponseController reach the writer underneath.
func (w *flushWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Option configures New.
type Option func(*options)

type options struct {
	token   string
	trigger func(repo string) bool
	sel     Selection
}

// WithSelection sets how the mirror routes find clients and where they
// count and log requests.
func WithSelection(s Selection) Option {
	return func(o *options) { o.sel = s }
}

// WithTrigger enables POST /sync?repo=NAME for requests carrying token.
// trigger starts a sync and reports whether the repo exists. An empty
// token leaves the endpoint out.
func WithTrigger(token string, trigger func(repo string) bool) Option {
	return func(o *options) { o.token, o.trigger = token, trigger }
}

// authorized compares the request's bearer token with token in constant
// time.
func authorized(r *http.Request, token string) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}

// readOnly answers 405 to every method but GET and HEAD, before routing
// (and but POST to /sync, when the trigger is enabled).
func readOnly(next http.Handler, allowSync bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if allowSync && r.Method == http.MethodPost && r.URL.Path == "/sync" {
			r.Body = http.MaxBytesReader(w, r.Body, 1<<10)
			next.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed: this server is read-only", http.StatusMethodNotAllowed)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Println(v ...any) { p.log.Warn("metrics", "err", fmt.Sprint(v...)) }

// NewHTTPServer returns an http.Server for h with the timeouts and size
// limits above.
func NewHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		MaxHeaderBytes:    MaxHeaderBytes,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
}
