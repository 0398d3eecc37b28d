package daemon_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rpmirror/rpmirror/alert"
	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/daemon"
	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/server"
	"github.com/rpmirror/rpmirror/state"
)

// switchable serves directories under URL prefixes, each of which a test
// can point elsewhere or make answer a fixed status.
type switchable struct {
	srv *httptest.Server

	mu       gosync.Mutex
	dirs     map[string]string // prefix ("origin", "m1", ...) -> directory
	status   map[string]int
	statusOf map[string]int  // exact path ("/origin/Packages/a/a.rpm") -> status
	hits     map[string]int  // prefix -> requests
	dnf      map[string]int  // prefix -> requests by dnf (libdnf's User-Agent)
	hang     map[string]bool // prefix -> answers nothing until the client gives up
}

func newSwitchable(t *testing.T) *switchable {
	s := &switchable{dirs: map[string]string{}, status: map[string]int{}, statusOf: map[string]int{}, hits: map[string]int{}, dnf: map[string]int{}, hang: map[string]bool{}}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		prefix, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		s.mu.Lock()
		dir, status, hang := s.dirs[prefix], s.status[prefix], s.hang[prefix]
		if st, ok := s.statusOf[r.URL.Path]; ok {
			status = st
		}
		s.hits[prefix]++
		if strings.Contains(r.UserAgent(), "libdnf") {
			s.dnf[prefix]++
		}
		s.mu.Unlock()
		if hang {
			<-r.Context().Done()
			return
		}
		if status != 0 {
			http.Error(w, http.StatusText(status), status)
			return
		}
		if dir == "" {
			http.NotFound(w, r)
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/" + rest
		http.FileServer(http.Dir(dir)).ServeHTTP(w, r2)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *switchable) URL(prefix string) string { return s.srv.URL + "/" + prefix + "/" }

func (s *switchable) serve(prefix, dir string) {
	s.mu.Lock()
	s.dirs[prefix] = dir
	s.mu.Unlock()
}

// setHang makes prefix answer nothing, or answer again.
func (s *switchable) setHang(prefix string, hang bool) {
	s.mu.Lock()
	s.hang[prefix] = hang
	s.mu.Unlock()
}

func (s *switchable) setStatus(prefix string, code int) {
	s.mu.Lock()
	s.status[prefix] = code
	s.mu.Unlock()
}

// setStatusOf makes one path (relative to prefix) answer code; 0 undoes.
func (s *switchable) setStatusOf(prefix, path string, code int) {
	s.mu.Lock()
	if code == 0 {
		delete(s.statusOf, "/"+prefix+"/"+path)
	} else {
		s.statusOf["/"+prefix+"/"+path] = code
	}
	s.mu.Unlock()
}

// dnfHitsOf returns the requests dnf made under prefix.
func (s *switchable) dnfHitsOf(prefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dnf[prefix]
}

func (s *switchable) hitsOf(prefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[prefix]
}

// webhook collects alert events.
type webhook struct {
	srv    *httptest.Server
	mu     gosync.Mutex
	events []alert.Event
}

func newWebhook(t *testing.T) *webhook {
	w := &webhook{}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var e alert.Event
		if err := json.NewDecoder(r.Body).Decode(&e); err != nil {
			t.Errorf("webhook got a body that is not an event: %v", err)
		}
		w.mu.Lock()
		w.events = append(w.events, e)
		w.mu.Unlock()
	}))
	t.Cleanup(w.srv.Close)
	return w
}

// all returns the events received so far, in order.
func (w *webhook) all() []alert.Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.events)
}

func (w *webhook) find(match func(alert.Event) bool) (alert.Event, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range w.events {
		if match(e) {
			return e, true
		}
	}
	return alert.Event{}, false
}

// env is a running daemon with an origin, two written mirrors (m1, m2)
// served over HTTP, and a probe-only third-party mirror.
type env struct {
	t       *testing.T
	dir     string
	net     *switchable
	hook    *webhook
	cfg     *config.Config
	d       *daemon.Daemon
	base    string // the daemon's HTTP address
	cancel  context.CancelFunc
	stopped chan error
	// stateWatch: envOpts.stateWatch.
	stateWatch time.Duration
}

type envOpts struct {
	probeInterval time.Duration
	probeTimeout  time.Duration
	schedule      string // default "@every 1h"
	// allowRollback lets the origin go back to an older revision (v1),
	// for tests that use v1 as a broken new revision.
	allowRollback bool
	origin        string // directory the origin serves first; default the demo's v2
	maxLag        string // the repo's max_lag; default left out (24h)
	snapshots     string // the repo's snapshots setting; default left out
	filter        string // the repo's filter setting; default left out
	repoExtra     string // YAML lines added to the repo (indented as its keys); KEY is replaced
	extra         string // YAML appended to the repos list; URL_<prefix> and KEY are replaced
	// upstreams, when set, name the switchable's prefixes the origin
	// lists, in order (default: "origin" alone); setup runs before the
	// daemon starts.
	upstreams []string
	setup     func(*switchable)
	// stateWatch is the daemon's Options.StateWatchInterval (default
	// left to the daemon).
	stateWatch time.Duration
}

func newEnv(t *testing.T, o envOpts) *env {
	testrepo.RequireTools(t, "dnf")
	e := &env{t: t, dir: t.TempDir(), net: newSwitchable(t), hook: newWebhook(t), stateWatch: o.stateWatch}
	if o.origin == "" {
		o.origin = testrepo.DemoOrigin(t, "v2")
	}
	e.net.serve("origin", o.origin)
	e.net.serve("m1", filepath.Join(e.dir, "m1"))
	e.net.serve("m2", filepath.Join(e.dir, "m2"))
	e.net.serve("third", testrepo.DemoOrigin(t, "v1")) // a partner that fell behind
	if o.schedule == "" {
		o.schedule = "@every 1h"
	}
	maxLag := ""
	if o.maxLag != "" {
		maxLag = "\n    max_lag: " + o.maxLag
	}
	if o.snapshots != "" {
		maxLag += "\n    snapshots: " + o.snapshots
	}
	if o.filter != "" {
		maxLag += "\n    filter: " + o.filter
	}
	if o.repoExtra != "" {
		maxLag += "\n" + strings.ReplaceAll(o.repoExtra, "KEY", testrepo.Testdata(t, "keys", "test.pub"))
	}
	if o.setup != nil {
		o.setup(e.net)
	}
	origin := e.net.URL("origin")
	if len(o.upstreams) > 0 {
		var urls []string
		for _, u := range o.upstreams {
			urls = append(urls, e.net.URL(u))
		}
		origin = "[" + strings.Join(urls, ", ") + "]"
	}
	if err := os.WriteFile(filepath.Join(e.dir, "token"), []byte(testToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yaml := fmt.Sprintf(`state_dir: %[1]s/state
api_token_file: %[1]s/token
probe_interval: %[2]s
probe_timeout: %[3]s
alerts:
  webhook: %[4]s
download:
  retries: 0
repos:
  - name: demo
    origin: %[5]s
    schedule: %[10]q
    gpgkeys: [%[6]s]
    prune_after: 0s
    allow_rollback: %[11]v%[12]s
    mirrors:
      - name: m1
        path: %[1]s/m1
        url: %[7]s
        priority: 10
      - name: m2
        path: %[1]s/m2
        url: %[8]s
      - name: third
        url: %[9]s
        priority: 1
`, e.dir, o.probeInterval, o.probeTimeout, e.hook.srv.URL, origin, testrepo.Testdata(t, "keys", "test.pub"),
		e.net.URL("m1"), e.net.URL("m2"), e.net.URL("third"), o.schedule, o.allowRollback, maxLag) +
		strings.NewReplacer("URL_po-origin", e.net.URL("po-origin"), "URL_pa", e.net.URL("pa"), "URL_pb", e.net.URL("pb"),
			"KEY", testrepo.Testdata(t, "keys", "test.pub")).Replace(o.extra)
	path := filepath.Join(e.dir, "mirrors.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	e.cfg = cfg
	e.start()
	return e
}

// start runs a daemon on e.cfg, stopped when the test ends (or by stop).
func (e *env) start() {
	t := e.t
	d, err := daemon.New(e.cfg, daemon.Options{Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})), ShutdownTimeout: 5 * time.Second, StateWatchInterval: e.stateWatch})
	if err != nil {
		t.Fatal(err)
	}
	e.d = d
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.base = "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.stopped = cancel, make(chan error, 1)
	go func() { e.stopped <- d.Run(ctx, ln) }()
	stopped := e.stopped
	t.Cleanup(func() {
		cancel()
		select {
		case err, ok := <-stopped:
			if ok && err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("the daemon did not stop")
		}
	})
}

// stop stops the daemon, as a restart would.
func (e *env) stop() {
	e.t.Helper()
	e.cancel()
	select {
	case err := <-e.stopped:
		if err != nil {
			e.t.Errorf("Run: %v", err)
		}
		close(e.stopped)
	case <-time.After(20 * time.Second):
		e.t.Fatal("the daemon did not stop")
	}
}

// forgetProbes removes what the last daemon saved of its probes, as a
// daemon killed rather than stopped leaves it: the next starts from its
// own probes alone.
func (e *env) forgetProbes() {
	e.t.Helper()
	if err := os.RemoveAll(filepath.Join(e.dir, "state", "probes")); err != nil {
		e.t.Fatal(err)
	}
}

const testToken = "test-token-0123456789"

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (e *env) get(path string) (int, string) {
	e.t.Helper()
	resp, err := http.Get(e.base + path)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (e *env) status() *server.Status {
	e.t.Helper()
	code, body := e.get("/status.json")
	if code != 200 {
		e.t.Fatalf("/status.json: %d", code)
	}
	var st server.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		e.t.Fatal(err)
	}
	return &st
}

func (e *env) mirrorState(name string) server.MirrorStatus {
	for _, m := range e.status().Repos[0].Mirrors {
		if m.Name == name {
			return m
		}
	}
	e.t.Fatalf("no mirror %s in /status.json", name)
	return server.MirrorStatus{}
}

// mirrorlist returns the URLs the daemon lists, comments left out.
func (e *env) mirrorlist() []string {
	e.t.Helper()
	code, body := e.get("/mirrorlist?repo=demo")
	if code != 200 {
		e.t.Fatalf("/mirrorlist: %d %s", code, body)
	}
	var urls []string
	for _, l := range strings.Split(body, "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			urls = append(urls, l)
		}
	}
	return urls
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("after %s: still waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}

func (e *env) waitHealthy() {
	e.t.Helper()
	waitFor(e.t, 60*time.Second, "m1 and m2 to be synced and listed", func() bool {
		l := e.mirrorlist()
		return len(l) == 2 && l[0] == e.net.URL("m1") && l[1] == e.net.URL("m2")
	})
}

func (e *env) dnf(repoLine string, args ...string) (string, error) {
	repo := testrepo.Repo{Name: "demo", URL: repoLine, GPGKeys: []string{testrepo.Testdata(e.t, "keys", "test.pub")}}
	return testrepo.NewDNF(e.t, repo.String()).Run(args...)
}

var v2 = []string{"hello-mirror-0:1.1-1.noarch", "libexample-1:0.9.2-2.noarch", "mirror-docs-0:1.0-1.noarch", "status-agent-0:0.1-1.noarch", "tools-common-0:2.3.1-1.noarch", "webapp-config-0:3.1-4.noarch"}

func list(out string) []string {
	l := strings.Fields(out)
	sort.Strings(l)
	return l
}

// TestServe: the daemon syncs the mirrors at start, lists the healthy
// ones (never the stale third party), and dnf installs through both its
// mirrorlist and its metalink. The same lists are written into the
// mirrors; the metrics pass promtool's checks.
func TestServe(t *testing.T) {
	e := newEnv(t, envOpts{probeInterval: time.Second, probeTimeout: 500 * time.Millisecond})
	e.waitHealthy()
	if st := e.mirrorState("third"); st.State != "stale" {
		t.Errorf("third-party mirror serving an old revision: state %q (%s), want stale", st.State, st.Reason)
	}
	for _, via := range []string{"mirrorlist=" + e.base + "/mirrorlist?repo=demo", "metalink=" + e.base + "/metalink?repo=demo"} {
		out, err := e.dnf(via, "repoquery", "-q", "--qf", "%{name}-%{epoch}:%{version}-%{release}.%{arch}")
		if err != nil {
			t.Fatalf("dnf through %s: %v\n%s", via, err, out)
		}
		if got := list(out); strings.Join(got, " ") != strings.Join(v2, " ") {
			t.Errorf("dnf through %s lists %v, want %v", via, got, v2)
		}
		if out, err := e.dnf(via, "install", "hello-mirror"); err != nil {
			t.Errorf("dnf install through %s: %v\n%s", via, err, out)
		}
	}
	// The lists, as files in each written mirror.
	for _, m := range []string{"m1", "m2"} {
		b, err := os.ReadFile(filepath.Join(e.dir, m, "mirrorlist"))
		if err != nil || !strings.Contains(string(b), e.net.URL("m1")) {
			t.Errorf("%s/mirrorlist: %q, %v", m, b, err)
		}
		if b, err := os.ReadFile(filepath.Join(e.dir, m, "metalink.xml")); err != nil || !strings.Contains(string(b), e.net.URL("m2")+"repodata/repomd.xml") {
			t.Errorf("%s/metalink.xml: %v", m, err)
		}
	}
	// Unknown repo, bad method.
	if code, body := e.get("/mirrorlist?repo=nope"); code != 404 || !strings.Contains(body, "# no repository for repo=nope\n# valid repo and arch pairs:\n#   repo=demo\n") {
		t.Errorf("unknown repo: %d %q", code, body)
	}
	resp, err := http.Post(e.base+"/mirrorlist?repo=demo", "text/plain", nil)
	if err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %v %v", resp.StatusCode, err)
	}
	// Metrics.
	code, metrics := e.get("/metrics")
	for _, want := range []string{`rpmirror_mirror_state{mirror="m1",repo="demo",state="ok"} 1`, `rpmirror_mirror_state{mirror="third",repo="demo",state="stale"} 1`, `rpmirror_sync_runs_total{repo="demo",result="ok"}`, `rpmirror_mirrorlist_mirrors{repo="demo"} 2`, `rpmirror_origin_up{repo="demo"} 1`} {
		if code != 200 || !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if problems, err := testutil.GatherAndLint(e.d.Registry()); err != nil || len(problems) > 0 {
		t.Errorf("metrics lint: %v %v", problems, err)
	}
	if promtool, err := exec.LookPath("promtool"); err == nil {
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(metrics)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	} else {
		t.Log("promtool not installed: checked with promlint only")
	}
	if code, body := e.get("/status"); code != 200 || !strings.Contains(body, "m1") || !strings.Contains(body, "stale") {
		t.Errorf("/status: %d", code)
	}
	if code, body := e.get("/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}

	// POST /sync with the token starts a sync now.
	runs := func() string {
		_, m := e.get("/metrics")
		return grepLines(m, `rpmirror_sync_runs_total{repo="demo",result="ok"}`)
	}
	before := runs()
	req, _ := http.NewRequest(http.MethodPost, e.base+"/sync?repo=demo", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /sync: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	waitFor(t, 15*time.Second, "the requested sync to run", func() bool { return runs() != before })
	resp, _ = http.Post(e.base+"/sync?repo=demo", "text/plain", nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST /sync without the token: %d", resp.StatusCode)
	}
	resp.Body.Close()
}

// TestIncident replays the incident that motivated rpmirror: a mirror
// starts answering 403 to everything. It must leave the mirrorlist within
// probe_interval + probe_timeout, dnf must keep working through the other
// mirror, the webhook must hear of it, and /status must show it. When the
// mirror recovers it comes back.
func TestIncident(t *testing.T) {
	const interval, timeout = time.Second, 500 * time.Millisecond
	e := newEnv(t, envOpts{probeInterval: interval, probeTimeout: timeout})
	e.waitHealthy()

	// The bound holds by construction if the first probe that meets the
	// 403 takes m1 out: probes start every interval and end within the
	// timeout. So count the probes m1 saw before it left; the clock check
	// has slack for a loaded machine.
	hits := e.net.hitsOf("m1")
	e.net.setStatus("m1", http.StatusForbidden)
	took := waitFor(t, interval+timeout+5*time.Second, "m1 to leave the mirrorlist", func() bool {
		l := e.mirrorlist()
		return len(l) == 1 && l[0] == e.net.URL("m2")
	})
	probes := e.net.hitsOf("m1") - hits
	t.Logf("m1 left the mirrorlist %s after it broke, after %d requests to it", took, probes)
	if probes > 2 {
		t.Errorf("m1 was probed %d times before it left the mirrorlist: the first failed probe must remove it", probes)
	}
	if strings.Contains(func() string { _, b := e.get("/metalink?repo=demo"); return b }(), e.net.URL("m1")) {
		t.Error("m1 is still in the metalink")
	}
	st := e.mirrorState("m1")
	if st.State != "down" || !strings.Contains(st.Reason, "403") {
		t.Errorf("/status.json says m1 is %q (%s), want down with 403", st.State, st.Reason)
	}
	if _, page := e.get("/status"); !strings.Contains(page, "403 Forbidden") {
		t.Error("/status does not show the 403")
	}
	waitFor(t, 15*time.Second, "the webhook to hear m1 went down", func() bool {
		_, ok := e.hook.find(func(a alert.Event) bool { return a.Mirror == "m1" && a.From == "ok" && a.To == "down" })
		return ok
	})
	out, err := e.dnf("mirrorlist="+e.base+"/mirrorlist?repo=demo", "install", "hello-mirror")
	if err != nil {
		t.Fatalf("dnf install with m1 down: %v\n%s", err, out)
	}

	e.net.setStatus("m1", 0)
	waitFor(t, interval+timeout+5*time.Second, "m1 to come back", func() bool { return len(e.mirrorlist()) == 2 })
	waitFor(t, 15*time.Second, "the webhook to hear m1 recovered", func() bool {
		_, ok := e.hook.find(func(a alert.Event) bool { return a.Mirror == "m1" && a.From == "down" && a.To == "ok" })
		return ok
	})
}

// TestMetalinkRejectsStaleMirror: a mirror that goes stale between two
// probes is still listed, but the metalink carries the checksums of the
// current repomd.xml, so dnf itself refuses the stale copy and moves on.
func TestMetalinkRejectsStaleMirror(t *testing.T) {
	e := newEnv(t, envOpts{probeInterval: time.Hour, probeTimeout: 2 * time.Second})
	e.waitHealthy()
	// m1, listed first, now serves an old revision; no probe will notice
	// for an hour.
	e.net.serve("m1", testrepo.DemoOrigin(t, "v1"))
	if l := e.mirrorlist(); len(l) != 2 {
		t.Fatalf("mirrorlist %v", l)
	}
	before := e.net.hitsOf("m1")
	out, err := e.dnf("metalink="+e.base+"/metalink?repo=demo", "repoquery", "-q", "--qf", "%{name}-%{epoch}:%{version}-%{release}.%{arch}")
	if err != nil {
		t.Fatalf("dnf through the metalink: %v\n%s", err, out)
	}
	if got := list(out); strings.Join(got, " ") != strings.Join(v2, " ") {
		t.Errorf("dnf lists %v, want the current revision %v (the stale mirror's content leaked)", got, v2)
	}
	if e.net.hitsOf("m1") == before {
		t.Error("dnf never asked the stale mirror, so the test proves nothing")
	}
}

// TestOriginDownSkipsSyncs: with the origin down, a sync is skipped (not
// failed), the state is visible, and the mirrors stay listed.
func TestOriginDownSkipsSyncs(t *testing.T) {
	e := newEnv(t, envOpts{probeInterval: time.Second, probeTimeout: 500 * time.Millisecond, schedule: "@every 1s"})
	e.waitHealthy()
	e.net.setStatus("origin", http.StatusForbidden)
	waitFor(t, 15*time.Second, "the origin to be seen down", func() bool { return e.status().Repos[0].OriginState == "down" })
	if l := e.mirrorlist(); len(l) != 2 {
		t.Errorf("with the origin down the healthy mirrors must stay listed: %v", l)
	}
	waitFor(t, 15*time.Second, "the webhook to hear the origin went down", func() bool {
		_, ok := e.hook.find(func(a alert.Event) bool { return a.Kind == "origin" && a.To == "down" })
		return ok
	})
	waitFor(t, 15*time.Second, "a scheduled sync to be skipped", func() bool {
		ls := e.status().Repos[0].LastSync
		return ls != nil && ls.Result == "skipped" && strings.Contains(ls.Error, "origin is down: fetching repodata/repomd.xml: server answered 403 Forbidden")
	})
	// A sync may have met the origin down before a probe did, and failed
	// once; every later one is skipped.
	time.Sleep(2 * time.Second)
	_, m := e.get("/metrics")
	if !strings.Contains(m, `rpmirror_sync_runs_total{repo="demo",result="skipped"}`) || strings.Contains(m, `rpmirror_sync_runs_total{repo="demo",result="failed"} 2`) {
		t.Errorf("with the origin down, syncs must be skipped, not fail again and again:\n%s", grepLines(m, "rpmirror_sync_runs_total"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestReload(t *testing.T) {
	e := newEnv(t, envOpts{probeInterval: time.Second, probeTimeout: 500 * time.Millisecond})
	e.waitHealthy()
	cfg := *e.cfg
	second := cfg.Repos[0]
	second.Name, second.MirrorlistName = "demo-copy", "demo-copy"
	second.Mirrors = []config.Mirror{{Name: "m1", URL: e.net.URL("m1"), Priority: 100}}
	cfg.Repos = append(append([]config.Repo(nil), cfg.Repos...), second)
	e.d.Reload(&cfg)
	waitFor(t, 15*time.Second, "the new repo's mirrorlist", func() bool {
		code, body := e.get("/mirrorlist?repo=demo-copy")
		return code == 200 && strings.Contains(body, e.net.URL("m1"))
	})
	cfg.Repos = cfg.Repos[1:]
	e.d.Reload(&cfg)
	if code, _ := e.get("/mirrorlist?repo=demo"); code != 404 {
		t.Errorf("a removed repo still answers: %d", code)
	}
}

// TestSyncFailureAlerts: the origin publishes a revision with a corrupt
// package; the sync it triggers fails, which the webhook, /status and the
// metrics report; the mirrors keep their last good revision; when the
// origin is fixed, the next sync recovers and says so.
func TestSyncFailureAlerts(t *testing.T) {
	// The broken revision is v1 with a corrupt package: older than the
	// v2 the mirrors serve, so rollback is allowed for it to be synced.
	e := newEnv(t, envOpts{probeInterval: time.Second, probeTimeout: 500 * time.Millisecond, allowRollback: true})
	e.waitHealthy()
	bad := filepath.Join(t.TempDir(), "bad")
	if err := os.CopyFS(bad, os.DirFS(testrepo.DemoOrigin(t, "v1"))); err != nil {
		t.Fatal(err)
	}
	damage(t, filepath.Join(bad, filepath.FromSlash(testrepo.DemoPackages(nil)[4].RelPath()))) // sample-data: in v1, not in v2
	before, _ := os.ReadFile(filepath.Join(e.dir, "m1", "repodata", "repomd.xml"))

	e.net.serve("origin", bad)
	waitFor(t, 20*time.Second, "the webhook to hear the sync failed", func() bool {
		_, ok := e.hook.find(func(a alert.Event) bool {
			return a.Kind == "sync" && a.To == "failed" && strings.Contains(a.Reason, "checksum mismatch")
		})
		return ok
	})
	st := e.status().Repos[0]
	if st.LastSync == nil || st.LastSync.Result != "failed" || !strings.Contains(st.LastSync.Error, "sample-data") || len(st.Failures) == 0 {
		t.Errorf("/status.json after the failed sync: %+v", st.LastSync)
	}
	if _, m := e.get("/metrics"); !strings.Contains(m, `rpmirror_sync_failures_total{reason="verify",repo="demo"} 1`) {
		t.Error("the failure is not in rpmirror_sync_failures_total")
	}
	if after, _ := os.ReadFile(filepath.Join(e.dir, "m1", "repodata", "repomd.xml")); string(after) != string(before) {
		t.Error("a failed sync changed the mirror")
	}

	e.net.serve("origin", testrepo.DemoOrigin(t, "v2"))
	waitFor(t, 20*time.Second, "the webhook to hear the sync recovered", func() bool {
		_, ok := e.hook.find(func(a alert.Event) bool { return a.Kind == "sync" && a.From == "failed" && a.To == "ok" })
		return ok
	})
	e.waitHealthy()
}

// TestListsWrittenAgainAfterAFailedWrite: a write of the lists into a
// written mirror that fails (here its temporary directory is blocked; in
// production a store's error, a full disk, or a sync of another process
// clearing the temporary directory under the write) is tried again at the
// next probe round. It used to wait until the lists changed again, so
// the mirror's mirrorlist file kept listing a mirror that was down.
func TestListsWrittenAgainAfterAFailedWrite(t *testing.T) {
	e := newEnv(t, envOpts{probeInterval: time.Second, probeTimeout: 500 * time.Millisecond})
	e.waitHealthy()
	file := func(m string) string {
		b, _ := os.ReadFile(filepath.Join(e.dir, m, daemon.MirrorlistFile))
		return string(b)
	}
	waitFor(t, 15*time.Second, "the mirrorlist files to list m1 and m2", func() bool {
		return strings.Contains(file("m1"), e.net.URL("m2")) && strings.Contains(file("m2"), e.net.URL("m1"))
	})
	tmp := filepath.Join(e.dir, "m2", ".rpmirror", "tmp")
	if err := os.RemoveAll(tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tmp, nil, 0o644); err != nil { // no directory can be made there
		t.Fatal(err)
	}
	e.net.setStatus("m1", http.StatusForbidden)
	// The lists are written into m1, then m2 (which fails).
	waitFor(t, 15*time.Second, "m1's mirrorlist file to drop m1", func() bool { return !strings.Contains(file("m1"), e.net.URL("m1")) })
	time.Sleep(200 * time.Millisecond)
	if !strings.Contains(file("m2"), e.net.URL("m1")) {
		t.Fatal("the lists were written into m2 with its temporary directory blocked")
	}
	if err := os.Remove(tmp); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "m2's mirrorlist file to drop m1 once it can be written", func() bool {
		return !strings.Contains(file("m2"), e.net.URL("m1"))
	})
}

// TestStartRemovesStaleStagedLists: a mirror list a killed daemon left
// staged in state_dir/tmp is removed when a daemon starts, once an hour
// old; a younger one (another daemon's on the same state_dir, in use)
// stays.
func TestStartRemovesStaleStagedLists(t *testing.T) {
	e := newEnv(t, envOpts{probeInterval: time.Hour, probeTimeout: 2 * time.Second})
	e.stop() // the lists are planted as a killed daemon left them
	dir := filepath.Join(e.cfg.StateDir, state.TempDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	old, young := filepath.Join(dir, "lists-1"), filepath.Join(dir, "lists-2")
	for _, p := range []string{old, young} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	hourAgo := time.Now().Add(-61 * time.Minute)
	if err := os.Chtimes(old, hourAgo, hourAgo); err != nil {
		t.Fatal(err)
	}
	e.start() // as a restart would
	waitFor(t, 10*time.Second, "the stale staged list removed", func() bool {
		_, err := os.Stat(old)
		return os.IsNotExist(err)
	})
	if _, err := os.Stat(young); err != nil {
		t.Errorf("a staged list younger than an hour: %v, want it kept", err)
	}
}

// TestOriginFallbackKeepsToTheProtocol: with every mirror down, the
// lists fall back to the origin (http here); a request for
// ?protocol=https is not given it (a failover test with dnf got the
// http origin for protocol=https), a request for http is.
func TestOriginFallbackKeepsToTheProtocol(t *testing.T) {
	e := newEnv(t, envOpts{probeInterval: time.Second, probeTimeout: 500 * time.Millisecond})
	e.waitHealthy()
	e.net.setStatus("m1", http.StatusForbidden)
	e.net.setStatus("m2", http.StatusForbidden)
	originURL := e.net.URL("origin")
	waitFor(t, 15*time.Second, "the lists to fall back to the origin", func() bool {
		l := e.mirrorlist()
		return len(l) == 1 && strings.HasPrefix(l[0], originURL)
	})
	for _, q := range []string{"/mirrorlist?repo=demo&protocol=https", "/metalink?repo=demo&protocol=https"} {
		if code, body := e.get(q); code != 200 || strings.Contains(body, originURL) || !strings.Contains(body, "listing nothing") {
			t.Errorf("%s with the http origin as the last resort: %d\n%s", q, code, body)
		}
	}
	if code, body := e.get("/mirrorlist?repo=demo&protocol=http"); code != 200 || !strings.Contains(body, originURL) {
		t.Errorf("protocol=http with the http origin as the last resort: %d\n%s", code, body)
	}
}

// TestFilteredRepoServe: a daemon keeping a filtered repository (rpmirror
// writes its metadata). With the origin unchanged, probes ask for no
// sync: the origin's repomd.xml is compared with the one the filtered
// revision was written from, not with rpmirror's own (a tester's
// finding: a sync every probe round, for ever). With every mirror down,
// the lists name nothing rather than the origin, which serves the whole
// repository under other metadata (a tester's finding: dnf through the
// mirrorlist got every package the filter drops, and the metalink named
// the origin with the filtered repomd.xml's digests).
func TestFilteredRepoServe(t *testing.T) {
	e := newEnv(t, envOpts{probeInterval: time.Second, probeTimeout: time.Second, filter: "{exclude: [sample-data]}"})
	e.waitHealthy()
	out, err := e.dnf("mirrorlist="+e.base+"/mirrorlist?repo=demo", "repoquery", "-q", "--qf", "%{name}")
	if err != nil || strings.Contains(out, "sample-data") || !strings.Contains(out, "hello-mirror") {
		t.Fatalf("dnf through the filtered repo's mirrorlist: %v\n%s", err, out)
	}
	runs := func() string {
		_, m := e.get("/metrics")
		return grepLines(m, `rpmirror_sync_runs_total{repo="demo"`)
	}
	before := runs()
	time.Sleep(4 * time.Second) // four probe rounds of an unchanged origin
	if after := runs(); after != before {
		t.Errorf("syncs ran with the origin unchanged:\nbefore: %s\nafter:  %s", before, after)
	}
	// Up to date: /status says nothing of the origin's revision (its
	// repomd.xml is never among a filtered repo's verified revisions; a
	// reviewer saw "not verified yet").
	if note := e.status().Repos[0].OriginNote; note != "" {
		t.Errorf("origin note of an up-to-date filtered repo: %q", note)
	}

	originURL := e.net.URL("origin")
	e.net.setStatus("m1", http.StatusForbidden)
	e.net.setStatus("m2", http.StatusForbidden)
	waitFor(t, 15*time.Second, "the lists to name no mirror", func() bool { return len(e.mirrorlist()) == 0 })
	for _, q := range []string{"/mirrorlist?repo=demo", "/metalink?repo=demo"} {
		if code, body := e.get(q); code != 200 || strings.Contains(body, originURL) || !strings.Contains(body, "not this filtered one: listing nothing") {
			t.Errorf("%s with every mirror of a filtered repo down: %d\n%s", q, code, body)
		}
	}
}

// TestStartSyncDoesNotWaitForAHangingMirror: the daemon's start-up sync
// of a repository runs once its origin is probed, not once the first
// probe round is over: restarted while the origin has a new revision and
// a mirror's probe hangs for probe_timeout (30 s), the daemon brings the
// written mirrors to it within seconds (they waited the whole
// probe_timeout).
func TestStartSyncDoesNotWaitForAHangingMirror(t *testing.T) {
	e := newEnv(t, envOpts{probeInterval: time.Minute, probeTimeout: 30 * time.Second})
	e.waitHealthy()
	e.stop()
	e.forgetProbes() // as after a daemon killed: nothing carried over
	next := newRevision(t, testrepo.Pkg{Name: "zz-start", Version: "1", Release: "1", Sign: testrepo.TestKey(t)}, time.Now().Unix()+100)
	want := repomdSHA256(t, next)
	e.net.serve("origin", next)
	e.net.setHang("third", true)
	e.start()
	start := time.Now()
	waitFor(t, 15*time.Second, "the written mirrors synced to the origin's new revision while the third mirror's probe hangs", func() bool {
		return repomdSHA256(t, filepath.Join(e.dir, "m1")) == want && repomdSHA256(t, filepath.Join(e.dir, "m2")) == want
	})
	t.Logf("synced %s after the start", time.Since(start).Round(time.Millisecond))
	if st := mirrorOf(e.status().Repos[0], "third"); st.State != "unknown" && st.State != "" {
		t.Errorf("the hanging mirror was judged (%s) within %s: the test did not test", st.State, time.Since(start))
	}
}

// TestListsDoNotWaitForAHangingMirror: after a restart, the lists name
// the mirrors the first probes find ok as soon as they do, not once the
// round's slowest probe times out (a tester's daemon, one mirror hanging,
// sent every client to the origin for probe_timeout after each start);
// and a mirror found down leaves them as soon as it is.
func TestListsDoNotWaitForAHangingMirror(t *testing.T) {
	e := newEnv(t, envOpts{probeInterval: 10 * time.Second, probeTimeout: 10 * time.Second})
	e.waitHealthy()
	e.stop()
	e.forgetProbes() // as after a daemon killed: nothing carried over
	e.net.setHang("third", true)
	e.start()
	start := time.Now()
	waitFor(t, 10*time.Second, "m1 and m2 listed while the third mirror's probe hangs", func() bool {
		l := e.mirrorlist()
		return len(l) == 2 && l[0] == e.net.URL("m1") && l[1] == e.net.URL("m2")
	})
	if st := mirrorOf(e.status().Repos[0], "third"); st.State != "unknown" && st.State != "" {
		t.Errorf("the hanging mirror was judged (%s) within %s: the test did not test", st.State, time.Since(start))
	}
	// The next round (each waits for the hanging mirror's timeout)
	// probes m2 at its start.
	e.net.setStatus("m2", http.StatusForbidden)
	waitFor(t, 15*time.Second, "m2, found down, to leave the lists before the round's hanging probe ends", func() bool {
		l := e.mirrorlist()
		return len(l) == 1 && l[0] == e.net.URL("m1")
	})
}
