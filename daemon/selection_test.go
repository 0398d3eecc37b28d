package daemon_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/daemon"
	"github.com/rpmirror/rpmirror/internal/geotest"
	"github.com/rpmirror/rpmirror/internal/testrepo"
)

// selEnv is a daemon serving a small distribution as the worked example
// of docs/configuration.md lays it out: one repo entry with vars for two
// architectures, mirrors in Germany and the USA, and a CI farm's private
// mirror; a GeoIP database; 127.0.0.0/8 as the trusted proxy, so that
// tests choose the client with X-Forwarded-For.
type selEnv struct {
	t       *testing.T
	dir     string
	net     *switchable
	d       *daemon.Daemon
	base    string
	geoPath string
}

// Client addresses, as the test GeoIP database places them.
const (
	clientDE = "192.0.2.10"
	clientUS = "198.51.100.10"
	clientJP = "203.0.113.10"
	clientCI = "10.20.7.1"
)

var arches = []string{"x86_64", "aarch64"}

func newSelEnv(t *testing.T) *selEnv { return newSelEnvAt(t, "v2", "") }

// newSelEnvAt starts with the origin at revision rev of the demo
// repository and extra appended to the mirrors of the repo entry, NET in
// it replaced by the base URL of the test web server.
func newSelEnvAt(t *testing.T, rev, extra string) *selEnv {
	testrepo.RequireTools(t, "dnf")
	e := &selEnv{t: t, dir: t.TempDir(), net: newSwitchable(t)}
	e.net.serve("origin", testrepo.DemoOrigin(t, rev))
	for _, m := range []string{"de", "us", "ci"} {
		for _, a := range arches {
			e.net.serve(m+"-"+a, filepath.Join(e.dir, m, a))
		}
	}
	e.geoPath = filepath.Join(e.dir, "country.mmdb")
	geotest.Write(t, e.geoPath, geotest.Networks{"192.0.2.0/24": "DE", "198.51.100.0/24": "US", "203.0.113.0/24": "JP"})
	yaml := fmt.Sprintf(`state_dir: %[1]s/state
probe_interval: 1s
probe_timeout: 500ms
geoip_db: %[1]s/country.mmdb
trusted_proxies: [127.0.0.0/8]
access_log: %[1]s/access.json
download:
  retries: 0
repos:
  - name: demo-9-${basearch}
    mirrorlist_name: demo-9
    arch: ${basearch}
    vars:
      basearch: [x86_64, aarch64]
    origin: %[2]s
    gpgkeys: [%[3]s]
    mirrors:
      - name: de
        path: %[1]s/de/${basearch}
        url: %[4]s/de-${basearch}/
        country: DE
      - name: us
        path: %[1]s/us/${basearch}
        url: %[4]s/us-${basearch}/
        country: US
        weight: 300
      - name: ci
        path: %[1]s/ci/${basearch}
        url: %[4]s/ci-${basearch}/
        networks: [10.20.0.0/16]
        private: true
%[5]s`, e.dir, e.net.URL("origin"), testrepo.Testdata(t, "keys", "test.pub"), e.net.srv.URL, strings.ReplaceAll(extra, "NET", e.net.srv.URL))
	path := filepath.Join(e.dir, "mirrors.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	d, err := daemon.New(cfg, daemon.Options{Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil)), ShutdownTimeout: 5 * time.Second})
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
	stopped := make(chan error, 1)
	go func() { stopped <- d.Run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-stopped:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("the daemon did not stop")
		}
	})
	waitFor(t, 60*time.Second, "every mirror synced and listed", func() bool {
		for _, a := range arches {
			if n := len(e.list("/mirrorlist?repo=demo-9&arch="+a, clientCI)); n < 3 {
				return false
			}
		}
		return true
	})
	return e
}

// get requests path with X-Forwarded-For: xff (none when empty), without
// following redirects.
func (e *selEnv) get(path, xff string) (int, http.Header, string) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.base+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// list returns the mirror names ("de", "us", "ci") a mirrorlist names, in
// order.
func (e *selEnv) list(path, xff string) []string {
	e.t.Helper()
	code, _, body := e.get(path, xff)
	if code != 200 {
		e.t.Fatalf("%s: %d %s", path, code, body)
	}
	var names []string
	for _, l := range strings.Split(body, "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimPrefix(l, e.net.srv.URL+"/"), "-")
		names = append(names, name)
	}
	return names
}

func TestSelectionPerClient(t *testing.T) {
	e := newSelEnv(t)
	for _, tc := range []struct {
		name, path, xff string
		first           string // the mirror every answer starts with
		listed          int
	}{
		{"Germany", "/mirrorlist?repo=demo-9&arch=x86_64", clientDE, "de", 2},
		{"USA", "/mirrorlist?repo=demo-9&arch=x86_64", clientUS, "us", 2},
		{"CI farm", "/mirrorlist?repo=demo-9&arch=aarch64", clientCI, "ci", 3},
		{"?country=", "/mirrorlist?repo=demo-9&arch=aarch64&country=DE", clientUS, "de", 2},
		{"the configuration name", "/mirrorlist?repo=demo-9-aarch64", clientDE, "de", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 10 {
				got := e.list(tc.path, tc.xff)
				if len(got) != tc.listed || got[0] != tc.first {
					t.Fatalf("mirrors %v, want %d starting with %s", got, tc.listed, tc.first)
				}
			}
		})
	}
	// The architecture is in every URL listed.
	_, _, body := e.get("/metalink?repo=demo-9&arch=aarch64", clientJP)
	if strings.Contains(body, "x86_64") || !strings.Contains(body, "/us-aarch64/repodata/repomd.xml") || strings.Contains(body, "ci-") {
		t.Errorf("aarch64 metalink for Japan:\n%s", body)
	}
	// Japan: no mirror in Asia; us (weight 300) first about three times
	// in four.
	usFirst := 0
	for range 200 {
		if e.list("/mirrorlist?repo=demo-9&arch=x86_64", clientJP)[0] == "us" {
			usFirst++
		}
	}
	if usFirst < 110 || usFirst > 190 {
		t.Errorf("us first in %d of 200 lists for Japan, want about 150 (weights 300 and 100)", usFirst)
	}
	// The lists written into the mirrors, for anyone to read, leave the
	// private mirror out. (List writers write them after the lists
	// served change: a moment after, on a busy machine.)
	for _, f := range []string{"mirrorlist", "metalink.xml"} {
		var b []byte
		var err error
		waitFor(t, 10*time.Second, f+" written into de", func() bool {
			b, err = os.ReadFile(filepath.Join(e.dir, "de", "x86_64", f))
			return err == nil && strings.Contains(string(b), e.net.URL("us-x86_64"))
		})
		if strings.Contains(string(b), "ci-") {
			t.Errorf("%s written into de names the private mirror:\n%s", f, b)
		}
	}
	// An unknown pair: 404 and the valid ones.
	code, _, body := e.get("/mirrorlist?repo=demo-9&arch=ppc64le", clientDE)
	if code != 404 || body != "# no repository for repo=demo-9&arch=ppc64le\n# valid repo and arch pairs:\n#   repo=demo-9&arch=aarch64\n#   repo=demo-9&arch=x86_64\n" {
		t.Errorf("unknown arch: %d %q", code, body)
	}

	// A new GeoIP database, read again on SIGHUP (ReopenFiles): the
	// German address is now in the USA.
	geotest.Write(t, e.geoPath+".new", geotest.Networks{"192.0.2.0/24": "US"})
	if err := os.Rename(e.geoPath+".new", e.geoPath); err != nil {
		t.Fatal(err)
	}
	e.d.ReopenFiles()
	if got := e.list("/mirrorlist?repo=demo-9&arch=x86_64", clientDE); got[0] != "us" {
		t.Errorf("after the GeoIP reload, 192.0.2.10 gets %v, want us first", got)
	}
}

// TestSelectionDNF: dnf installs through the mirrorlist, the metalink and
// a baseurl= that rpmirror redirects to a mirror.
func TestSelectionDNF(t *testing.T) {
	e := newSelEnv(t)
	for _, via := range []string{
		"mirrorlist=" + e.base + "/mirrorlist?repo=demo-9&arch=x86_64",
		"metalink=" + e.base + "/metalink?repo=demo-9&arch=x86_64",
		e.base + "/r/demo-9/x86_64/",
	} {
		t.Run(strings.SplitN(via, "=", 2)[0], func(t *testing.T) {
			before := e.net.dnfHitsOf("de-x86_64") + e.net.dnfHitsOf("us-x86_64")
			repo := testrepo.Repo{Name: "demo", URL: via, GPGKeys: []string{testrepo.Testdata(t, "keys", "test.pub")}}
			c := testrepo.NewDNF(t, repo.String())
			out, err := c.Run("repoquery", "-q", "--qf", "%{name}-%{epoch}:%{version}-%{release}.%{arch}")
			if err != nil {
				t.Fatalf("dnf repoquery: %v\n%s", err, out)
			}
			if got := list(out); strings.Join(got, " ") != strings.Join(v2, " ") {
				t.Errorf("dnf lists %v, want %v", got, v2)
			}
			if out, err := c.Run("install", "hello-mirror"); err != nil {
				t.Fatalf("dnf install: %v\n%s", err, out)
			}
			if e.net.dnfHitsOf("de-x86_64")+e.net.dnfHitsOf("us-x86_64") == before {
				t.Error("dnf fetched nothing from the public mirrors")
			}
			if e.net.dnfHitsOf("ci-x86_64") != 0 {
				t.Error("dnf, outside the CI networks, was sent to the private mirror")
			}
		})
	}
}

// TestSelectionRedirectAndCounting: /r/ sends a client to a mirror that
// serves the file; requests are counted per repo, kind and country, and
// logged as JSON with the client trusted_proxies decided on; dnf's
// countme=N is counted on the repomd.xml request, not on a package's.
func TestSelectionRedirectAndCounting(t *testing.T) {
	e := newSelEnv(t)
	const pkg = "Packages/h/hello-mirror-1.1-1.noarch.rpm"
	code, h, body := e.get("/r/demo-9/x86_64/"+pkg+"?countme=3", clientUS)
	if code != 302 || h.Get("Location") != e.net.URL("us-x86_64")+pkg {
		t.Fatalf("redirect for the USA: %d %q %s", code, h.Get("Location"), body)
	}
	resp, err := http.Get(h.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("the mirror redirected to answers %d", resp.StatusCode)
	}
	if code, h, _ := e.get("/r/demo-9/x86_64/repodata/repomd.xml?countme=3", clientCI); code != 302 || !strings.HasPrefix(h.Get("Location"), e.net.URL("ci-x86_64")) {
		t.Errorf("redirect for the CI farm: %d %q", code, h.Get("Location"))
	}
	if code, _, _ := e.get("/r/demo-9/x86_64/Packages/n/no-such-1.0.rpm", clientUS); code != 404 {
		t.Errorf("a file no revision has: %d, want 404", code)
	}
	e.get("/metalink?repo=demo-9&arch=aarch64&countme=1", clientDE)

	_, _, metrics := e.get("/metrics", "")
	for _, want := range []string{
		`rpmirror_mirror_requests_total{country="US",kind="redirect",repo="demo-9-x86_64"} 2`,
		`rpmirror_mirror_requests_total{country="DE",kind="metalink",repo="demo-9-aarch64"} 1`,
		`rpmirror_countme_total{bucket="3",repo="demo-9-x86_64"} 1`,
		`rpmirror_countme_total{bucket="1",repo="demo-9-aarch64"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// The access log is written out within a second.
	var lines []map[string]any
	waitFor(t, 10*time.Second, "the access log", func() bool {
		f, err := os.Open(filepath.Join(e.dir, "access.json"))
		if err != nil {
			return false
		}
		defer f.Close()
		lines = nil
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatalf("access log line %q: %v", sc.Text(), err)
			}
			if m["kind"] == "redirect" || m["kind"] == "metalink" && m["client"] == clientDE {
				lines = append(lines, m)
			}
		}
		return len(lines) >= 4
	})
	if l := lines[0]; l["client"] != clientUS || l["country"] != "US" || l["status"] != float64(302) || l["location"] != e.net.URL("us-x86_64")+pkg {
		t.Errorf("access log: %v", l)
	}
}

// state returns the state of a mirror of a repo, from /status.json.
func (e *selEnv) state(repo, mirror string) string {
	e.t.Helper()
	_, _, body := e.get("/status.json", "")
	var st struct {
		Repos []struct {
			Name    string
			Mirrors []struct{ Name, State string }
		}
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		e.t.Fatal(err)
	}
	for _, r := range st.Repos {
		for _, m := range r.Mirrors {
			if r.Name == repo && m.Name == mirror {
				return m.State
			}
		}
	}
	return ""
}

// TestSelectionBehind: a mirror in Japan still serves the previous
// verified revision. Clients in Japan get it first (its place comes
// before its state), and the metalink carries that revision as an
// alternate; but a redirect never sends them there for a file whose
// content changed (repomd.xml) or that is new in the current revision:
// only for files both revisions share, or that only the earlier one has.
func TestSelectionBehind(t *testing.T) {
	e := newSelEnvAt(t, "v1", `      - name: jp
        url: NET/jp-${basearch}/
        country: JP
`)
	for _, a := range arches {
		e.net.serve("jp-"+a, testrepo.DemoOrigin(t, "v1"))
	}
	const repo = "demo-9-x86_64"
	waitFor(t, 30*time.Second, "jp ok at the first revision", func() bool { return e.state(repo, "jp") == "ok" })
	e.net.serve("origin", testrepo.DemoOrigin(t, "v2"))
	e.d.TriggerSync(repo)
	// /status.json shows new states a moment before the lists are built
	// again from them: wait for the redirects too.
	waitFor(t, 60*time.Second, "jp behind, de and us ok at the second revision", func() bool {
		if e.state(repo, "jp") != "behind" || e.state(repo, "de") != "ok" || e.state(repo, "us") != "ok" {
			return false
		}
		code, _, _ := e.get("/r/demo-9/x86_64/repodata/repomd.xml", clientJP)
		return code == http.StatusFound
	})

	// Japan: jp first, behind or not: it is in the client's country.
	if got := e.list("/mirrorlist?repo=demo-9&arch=x86_64", clientJP); len(got) != 3 || got[0] != "jp" {
		t.Errorf("mirrorlist for Japan: %v, want jp first of 3", got)
	}
	_, _, metalink := e.get("/metalink?repo=demo-9&arch=x86_64", clientJP)
	if !strings.Contains(metalink, "<mm0:alternates>") {
		t.Errorf("metalink without the revision jp serves as an alternate:\n%s", metalink)
	}
	// Germany: jp last (elsewhere, and behind).
	if got := e.list("/mirrorlist?repo=demo-9&arch=x86_64", clientDE); len(got) != 3 || got[2] != "jp" {
		t.Errorf("mirrorlist for Germany: %v, want jp last", got)
	}

	for _, tc := range []struct {
		path   string
		toJP   bool
		reason string
	}{
		{"repodata/repomd.xml", false, "its content changed"},
		{"Packages/h/hello-mirror-1.1-1.noarch.rpm", false, "new in the current revision"},
		{"Packages/s/status-agent-0.1-1.noarch.rpm", false, "new in the current revision"},
		{"Packages/l/libexample-0.9.2-2.noarch.rpm", true, "in both revisions, same content"},
		{"Packages/s/sample-data-2024.01-1.noarch.rpm", true, "only the earlier revision has it"},
	} {
		for range 5 {
			code, h, body := e.get("/r/demo-9/x86_64/"+tc.path, clientJP)
			if code != 302 {
				t.Fatalf("%s: %d %s", tc.path, code, body)
			}
			loc := h.Get("Location")
			if toJP := strings.HasPrefix(loc, e.net.URL("jp-x86_64")); toJP != tc.toJP {
				t.Fatalf("%s (%s): redirected to %s", tc.path, tc.reason, loc)
			}
			resp, err := http.Get(loc)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("%s: the mirror redirected to answers %d", tc.path, resp.StatusCode)
			}
		}
	}
}
