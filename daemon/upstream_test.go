package daemon_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/alert"
	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/server"
)

// primaryForbidden is the incident's set-up: the origin lists two
// upstreams, "primary" (the demo's v2) answering 403 to everything from
// the start, and "origin"; probes every probeInterval.
func primaryForbidden(t *testing.T, probeInterval, probeTimeout time.Duration) envOpts {
	return envOpts{
		probeInterval: probeInterval, probeTimeout: probeTimeout,
		upstreams: []string{"primary", "origin"},
		setup: func(n *switchable) {
			n.serve("primary", testrepo.DemoOrigin(t, "v2"))
			n.setStatus("primary", http.StatusForbidden)
		},
	}
}

// TestUpstreamFailover: the origin lists two upstreams and the primary
// answers 403, as in the incident. The daemon probes both, the origin is
// up through the second, syncs take everything from it, and /status,
// /status.json and /metrics show each upstream's state. When the primary
// comes back, its state and metric follow and the webhook hears it.
func TestUpstreamFailover(t *testing.T) {
	e := newEnv(t, primaryForbidden(t, time.Second, 500*time.Millisecond))
	e.waitHealthy()
	primary, second := e.net.URL("primary"), e.net.URL("origin")
	var st = e.status().Repos[0]
	waitFor(t, 10*time.Second, "both upstreams to be probed", func() bool {
		st = e.status().Repos[0]
		return len(st.Upstreams) == 2 && st.Upstreams[0].State == "down" && st.Upstreams[1].State == "ok"
	})
	waitFor(t, 10*time.Second, "the webhook to hear the primary upstream down from the start", func() bool {
		_, ok := e.hook.find(func(a alert.Event) bool {
			return a.Kind == "upstream" && a.URL == primary && a.From == "unknown" && a.To == "down"
		})
		return ok
	})
	if st.OriginState != "ok" || st.Origin != primary || !strings.Contains(st.OriginReason, "up through "+second) || !strings.Contains(st.OriginReason, "403 Forbidden") {
		t.Errorf("origin %q is %q (%q); want the primary named, up through the second upstream, saying the primary's 403", st.Origin, st.OriginState, st.OriginReason)
	}
	var raw struct {
		Summary server.Summary `json:"summary"`
	}
	if _, b := e.get("/status.json"); json.Unmarshal([]byte(b), &raw) != nil || raw.Summary.UpstreamsDown != 1 || !slices.Contains(raw.Summary.Attention, "demo") {
		t.Errorf("/status.json summary %+v: want 1 upstream down and the repo needing attention", raw.Summary)
	}
	if u := st.Upstreams[0]; u.URL != primary || !strings.Contains(u.Reason, "403 Forbidden") {
		t.Errorf("primary upstream %+v: want it down, saying 403 Forbidden", u)
	}
	if u := st.Upstreams[1]; u.URL != second || u.Revision == "" {
		t.Errorf("second upstream %+v: want it ok with its revision", u)
	}
	if ls := st.LastSync; ls == nil || ls.Result == "failed" || ls.Result == "skipped" {
		t.Errorf("last sync %+v: want it done through the second upstream", ls)
	}
	if got := e.net.hitsOf("primary"); got == 0 {
		t.Error("the primary upstream was never asked")
	}
	_, page := e.get("/status")
	if !strings.Contains(page, "upstreams") || !strings.Contains(page, primary) || !strings.Contains(page, second) {
		t.Errorf("/status does not list both upstreams:\n%s", page)
	}
	_, m := e.get("/metrics")
	for _, want := range []string{
		`rpmirror_upstream_up{repo="demo",upstream="` + primary + `"} 0`,
		`rpmirror_upstream_up{repo="demo",upstream="` + second + `"} 1`,
		`rpmirror_origin_up{repo="demo"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, grepLines(m, "_up{"))
		}
	}

	// No mirror can be listed: the lists served send clients to the
	// usable upstream, not to the primary answering 403 (a tester's: the
	// routes fell back to the primary whatever its state, and 74 dnf
	// runs failed on its 403).
	for _, m := range []string{"m1", "m2", "third"} {
		e.net.setStatus(m, http.StatusForbidden)
	}
	waitFor(t, 15*time.Second, "the mirrorlist to fall back to the second upstream", func() bool {
		l := e.mirrorlist()
		return len(l) == 1 && l[0] == second
	})
	if ml := e.metalink(); !strings.Contains(ml, second) || strings.Contains(ml, primary) {
		t.Errorf("metalink with no mirror listed: want the second upstream, not the primary:\n%s", ml)
	}
	// Redirects too (a tester's: /r/ sent clients to the primary's 403
	// while the lists named the second upstream).
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(e.base + "/r/demo/repodata/repomd.xml")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || loc != second+"repodata/repomd.xml" {
		t.Errorf("/r/ with no mirror listed: %d %q, want a redirect to the second upstream %s", resp.StatusCode, loc, second)
	}
	for _, m := range []string{"m1", "m2", "third"} {
		e.net.setStatus(m, 0)
	}
	waitFor(t, 15*time.Second, "m1 and m2 listed again", func() bool {
		l := e.mirrorlist()
		return len(l) >= 2 && l[0] == e.net.URL("m1") && l[1] == e.net.URL("m2")
	})

	e.net.setStatus("primary", 0)
	waitFor(t, 10*time.Second, "the primary upstream to be seen up", func() bool {
		return e.status().Repos[0].Upstreams[0].State == "ok"
	})
	waitFor(t, 10*time.Second, "the webhook to hear the primary upstream recovered", func() bool {
		_, ok := e.hook.find(func(a alert.Event) bool {
			return a.Kind == "upstream" && a.URL == primary && a.From == "down" && a.To == "ok"
		})
		return ok
	})
	if _, m := e.get("/metrics"); !strings.Contains(m, `rpmirror_upstream_up{repo="demo",upstream="`+primary+`"} 1`) {
		t.Errorf("/metrics: the primary is not up:\n%s", grepLines(m, "_up{"))
	}
}

// TestUpstreamDownAlertedOnce: an upstream down from the start is
// alerted once, unknown -> down, and not again when the daemon restarts
// and takes the last one's probes (a reviewer's: every restart alerted
// it anew).
func TestUpstreamDownAlertedOnce(t *testing.T) {
	e := newEnv(t, primaryForbidden(t, time.Second, 500*time.Millisecond))
	e.waitHealthy()
	primary := e.net.URL("primary")
	downs := func() int {
		n := 0
		for _, a := range e.hook.all() {
			if a.Kind == "upstream" && a.URL == primary && a.To == "down" {
				n++
			}
		}
		return n
	}
	waitFor(t, 10*time.Second, "the primary upstream's down to be alerted", func() bool { return downs() == 1 })
	e.stop()
	e.start()
	waitFor(t, 10*time.Second, "the restarted daemon to probe the upstreams", func() bool {
		st := e.status().Repos[0]
		return len(st.Upstreams) == 2 && st.Upstreams[0].State == "down" && st.Upstreams[0].Checked.After(time.Now().Add(-time.Second))
	})
	time.Sleep(2 * time.Second) // more rounds
	if n := downs(); n != 1 {
		t.Errorf("the primary upstream's down alerted %d times across a restart, want once:\n%+v", n, e.hook.all())
	}
}

// TestRestartSyncsOnce: a daemon restarted on an unchanged origin runs
// one sync, the one every repository gets at start. It ran two, the
// first "new revision at the origin": the origin's state the last daemon
// saved made the first probe's repomd.xml, new to this process, look
// like news (an operator tester's).
func TestRestartSyncsOnce(t *testing.T) {
	e := newEnv(t, envOpts{probeInterval: time.Second, probeTimeout: time.Second})
	e.waitHealthy()
	e.stop()
	e.start()
	waitFor(t, 15*time.Second, "the start-up sync", func() bool {
		ls := e.status().Repos[0].LastSync
		return ls != nil && ls.Result != ""
	})
	time.Sleep(3 * time.Second) // probe rounds that would ask for another
	_, m := e.get("/metrics")
	runs := 0.0
	for _, l := range strings.Split(m, "\n") {
		if strings.HasPrefix(l, `rpmirror_sync_runs_total{repo="demo"`) {
			var v float64
			if _, err := fmt.Sscan(l[strings.LastIndex(l, " ")+1:], &v); err == nil {
				runs += v
			}
		}
	}
	if runs != 1 {
		t.Errorf("syncs since the restart: %v, want 1 (the start's):\n%s", runs, grepLines(m, "sync_runs_total"))
	}
}

// TestNoUsableUpstreamSkipsSync: with every upstream refusing, a sync is
// skipped, not failed, and says why for each.
func TestNoUsableUpstreamSkipsSync(t *testing.T) {
	e := newEnv(t, primaryForbidden(t, time.Hour, 2*time.Second))
	e.waitHealthy()
	e.net.setStatus("origin", http.StatusServiceUnavailable)
	e.d.TriggerSync("demo")
	waitFor(t, 20*time.Second, "a skipped sync", func() bool {
		ls := e.status().Repos[0].LastSync
		return ls != nil && ls.Result == "skipped"
	})
	st := e.status().Repos[0]
	if !strings.Contains(st.LastSync.Error, "403 Forbidden") || !strings.Contains(st.LastSync.Error, "503 Service Unavailable") {
		t.Errorf("skipped sync says %q; want each upstream's reason", st.LastSync.Error)
	}
	if st.OriginState != "down" || len(st.Upstreams) != 2 || st.Upstreams[1].State != "down" {
		t.Errorf("origin %q, upstreams %+v: want both down after the skipped sync", st.OriginState, st.Upstreams)
	}
	if _, m := e.get("/metrics"); !strings.Contains(m, `rpmirror_sync_runs_total{repo="demo",result="skipped"} 1`) || strings.Contains(m, `result="failed"`) {
		t.Errorf("want one skipped sync and no failed one:\n%s", grepLines(m, "rpmirror_sync_runs_total"))
	}
}

// TestFallbackFollowsTheUpstreamAtOnce: with no mirror listed, the lists
// fall back to the first usable upstream; when it goes down they name the
// next as soon as the origin's probe finds it, not once the round's
// mirror probes end (one hangs here for probe_timeout). A reviewer's: the
// routes kept sending clients to the upstream found down until then.
func TestFallbackFollowsTheUpstreamAtOnce(t *testing.T) {
	e := newEnv(t, envOpts{
		probeInterval: 4 * time.Second, probeTimeout: 4 * time.Second,
		upstreams: []string{"primary", "origin"},
		setup:     func(n *switchable) { n.serve("primary", testrepo.DemoOrigin(t, "v2")) },
	})
	e.waitHealthy()
	primary, second := e.net.URL("primary"), e.net.URL("origin")
	e.net.setStatus("m1", http.StatusForbidden)
	e.net.setStatus("m2", http.StatusForbidden)
	e.net.setHang("third", true)
	waitFor(t, 30*time.Second, "the mirrorlist to fall back to the primary upstream", func() bool {
		l := e.mirrorlist()
		return len(l) == 1 && l[0] == primary
	})
	e.net.setStatus("primary", http.StatusForbidden)
	waitFor(t, 30*time.Second, "the origin's probe to find the primary down", func() bool {
		ups := e.status().Repos[0].Upstreams
		return len(ups) == 2 && ups[0].State == "down"
	})
	waitFor(t, 1500*time.Millisecond, "the mirrorlist to name the second upstream while third's probe still hangs", func() bool {
		l := e.mirrorlist()
		return len(l) == 1 && l[0] == second
	})
}
