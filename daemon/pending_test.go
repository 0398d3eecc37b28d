package daemon_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/alert"
	"github.com/rpmirror/rpmirror/internal/testrepo"
)

// TestNewMirrorPendingUntilFirstSync: a written mirror added to the
// configuration is not alerted on as down while no sync has published it
// (here the origin is down and the repository filtered, its revision
// written from the origin's, so the sync its addition asks for is
// skipped: see TestMirrorAddedWhileTheOriginIsDownIsFilled for one that
// is not): /status says it is pending, and once the origin is back its
// first sync publishes it and lists it, with no alert on the way. After
// that first sync it is a mirror like the others: down is alerted. It
// used to alert "unknown -> down" before its first sync.
func TestNewMirrorPendingUntilFirstSync(t *testing.T) {
	e := newEnv(t, envOpts{probeInterval: time.Second, probeTimeout: time.Second, filter: "{exclude: [sample-data]}"})
	e.waitHealthy()
	e.net.setStatus("origin", http.StatusServiceUnavailable)
	waitFor(t, 15*time.Second, "the origin to be seen down", func() bool { return e.status().Repos[0].OriginState == "down" })
	e.addMirror("m3")
	// Two probe rounds after the first that saw it.
	var first time.Time
	waitFor(t, 30*time.Second, "m3 to be probed three times", func() bool {
		st := e.mirrorState("m3")
		if first.IsZero() {
			first = st.Checked
		}
		return !first.IsZero() && st.Checked.Sub(first) >= 2*time.Second
	})
	if st := e.mirrorState("m3"); st.State != "unknown" || !strings.HasPrefix(st.Reason, "pending: rpmirror has not published it yet") {
		t.Errorf("m3 before its first sync: %s (%s), want unknown, pending", st.State, st.Reason)
	}
	e.net.setStatus("origin", 0)
	waitFor(t, 15*time.Second, "the webhook to hear the origin is back", func() bool {
		_, ok := e.hook.find(func(a alert.Event) bool { return a.Kind == "origin" && a.From == "down" && a.To == "ok" })
		return ok
	})
	e.d.TriggerSync("demo")
	waitFor(t, 60*time.Second, "m3 to be synced and listed", func() bool { return len(e.mirrorlist()) == 3 })
	// Alerts are delivered in order: the origin's recovery came after
	// every probe of m3 before its first sync.
	if a, ok := e.hook.find(func(a alert.Event) bool { return a.Mirror == "m3" }); ok {
		t.Errorf("alert on m3 before its first sync: %s", a.Summary())
	}
	e.net.setStatus("m3", http.StatusNotFound)
	waitFor(t, 15*time.Second, "the webhook to hear m3 went down after its first sync", func() bool {
		_, ok := e.hook.find(func(a alert.Event) bool { return a.Mirror == "m3" && a.From == "ok" && a.To == "down" })
		return ok
	})
}

// TestMirrorAddedWhileTheOriginIsDownIsFilled: the origin answers 403
// (the incident) when a written mirror is added: the sync its addition
// asks for is not skipped, it brings the new mirror to the current
// verified revision from a mirror beside it on this machine. The mirror
// is listed without the origin coming back, /status.json says where the
// revision came from, the origin stays down, nothing alerts on the new
// mirror, and the last successful sync is where it was (the origin was
// not synced: RpmirrorSyncStale still fires).
func TestMirrorAddedWhileTheOriginIsDownIsFilled(t *testing.T) {
	e := newEnv(t, envOpts{probeInterval: time.Second, probeTimeout: time.Second})
	e.waitHealthy()
	before, _ := e.lastSuccess("demo")
	e.net.setStatus("origin", http.StatusForbidden)
	waitFor(t, 15*time.Second, "the origin to be seen down", func() bool { return e.status().Repos[0].OriginState == "down" })
	time.Sleep(1100 * time.Millisecond) // a success now would be a later second
	e.addMirror("m3")
	waitFor(t, 30*time.Second, "m3 to be filled and listed", func() bool { return len(e.mirrorlist()) == 3 })
	if after, _ := e.lastSuccess("demo"); after != before {
		t.Errorf("the last successful sync moved from %v to %v with the origin down: RpmirrorSyncStale would not fire", before, after)
	}
	st := e.status().Repos[0]
	if ls := st.LastSync; ls == nil || ls.Result != "ok" || ls.FromMirror != "m1" {
		t.Errorf("the sync that filled m3: %+v; want ok, from mirror m1", ls)
	}
	if st.OriginState != "down" {
		t.Errorf("the origin after the sync from a mirror: %s, want still down", st.OriginState)
	}
	if ms := e.mirrorState("m3"); ms.State != "ok" {
		t.Errorf("m3: %s (%s), want ok", ms.State, ms.Reason)
	}
	if a, ok := e.hook.find(func(a alert.Event) bool { return a.Mirror == "m3" }); ok {
		t.Errorf("alert on m3: %s", a.Summary())
	}
	if _, page := e.get("/status"); !strings.Contains(page, "the current verified revision taken from mirror m1 on this machine") {
		t.Error("/status does not say the revision came from m1")
	}

	// m2 emptied by hand, the origin still down: the next sync fills it
	// again (the daemon asks the mirrors what they serve, not only its
	// state: an operator tester's daemon skipped every sync).
	for _, d := range []string{"Packages", "repodata"} {
		if err := os.RemoveAll(filepath.Join(e.dir, "m2", d)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 15*time.Second, "m2 emptied to be found down", func() bool { return e.mirrorState("m2").State == "down" })
	e.d.TriggerSync("demo")
	waitFor(t, 30*time.Second, "m2 to be filled again and listed", func() bool {
		return e.mirrorState("m2").State == "ok" && len(e.mirrorlist()) == 3
	})
}

// TestFillKeepsTheOriginsRefusal: the origin's last revision failed
// verification, then the origin went down; a mirror added is filled with
// the current verified revision from a mirror beside it, and the refusal
// stands: the revision taken from a mirror says nothing of what the
// origin serves (a reviewer's: the fill cleared the refused metric and
// note, and with every mirror down the origin was listed again).
func TestFillKeepsTheOriginsRefusal(t *testing.T) {
	e := newEnv(t, envOpts{probeInterval: time.Second, probeTimeout: time.Second})
	e.waitHealthy()
	key := testrepo.TestKey(t)
	pkg := testrepo.Pkg{Name: "hz-pkg1", Version: "1", Release: "1", Sign: key}
	corrupt := corruptRevision(t, pkg, time.Now().Unix()+10)
	e.net.serve("origin", corrupt)
	waitFor(t, 60*time.Second, "the origin's revision to be refused", func() bool {
		return strings.Contains(e.status().Repos[0].OriginNote, "refused")
	})
	refused := func() bool {
		_, m := e.get("/metrics")
		return strings.Contains(m, `rpmirror_origin_revision_refused{repo="demo"} 1`)
	}
	if !refused() {
		t.Fatal("rpmirror_origin_revision_refused is not 1 after the refusal")
	}
	e.net.setStatus("origin", http.StatusForbidden)
	waitFor(t, 15*time.Second, "the origin to be seen down", func() bool { return e.status().Repos[0].OriginState == "down" })
	e.addMirror("m3")
	waitFor(t, 30*time.Second, "m3 to be filled and listed", func() bool { return len(e.mirrorlist()) == 3 })
	if ls := e.status().Repos[0].LastSync; ls == nil || ls.FromMirror == "" {
		t.Fatalf("m3 listed, but not by a fill: %+v", ls)
	}
	if note := e.status().Repos[0].OriginNote; !refused() || !strings.Contains(note, "refused") {
		t.Errorf("after the fill: refused metric 1: %v, origin note %q; want the refusal to stand", refused(), note)
	}
}
