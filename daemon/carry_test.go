package daemon_test

import (
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/state"
)

// TestRestartStartsFromTheLastProbes: a daemon started again starts from
// the last probes of the one before (saved when it stopped) while they are
// recent, judged again: its first answers list the mirrors that were
// listed, even when a mirror's first probe hangs, and never the origin,
// which is failing (the incident's 403); a mirror found down on a package
// stays unlisted and is checked on that package first. Results older than
// two probe intervals are not carried: a daemon started later waits for
// its own probes, as a first start does.
func TestRestartStartsFromTheLastProbes(t *testing.T) {
	const interval = time.Second
	e := newEnv(t, envOpts{probeInterval: interval, probeTimeout: 500 * time.Millisecond})
	e.waitHealthy()

	var pkg string
	filepath.WalkDir(filepath.Join(e.dir, "m2"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && pkg == "" && strings.HasSuffix(p, ".rpm") {
			pkg, _ = filepath.Rel(filepath.Join(e.dir, "m2"), p)
		}
		return nil
	})
	if pkg == "" {
		t.Fatal("no package in m2")
	}
	pkg = filepath.ToSlash(pkg)
	e.net.setStatusOf("m2", pkg, http.StatusNotFound)
	waitFor(t, 30*time.Second, "m2 to be found down on "+pkg, func() bool {
		st := e.mirrorState("m2")
		return st.State == "down" && strings.Contains(st.Reason, pkg)
	})
	waitFor(t, 10*time.Second, "m1 alone listed", func() bool { return slices.Equal(e.mirrorlist(), []string{e.net.URL("m1")}) })

	e.stop()
	stopped := time.Now()
	e.net.setStatus("origin", http.StatusForbidden)
	e.net.setHang("m1", true)
	e.cfg.ProbeTimeout = 3 * time.Second // m1's first probe hangs that long
	saved := filepath.Join(e.dir, "state", "probes", "demo.json")
	if _, err := os.Stat(saved); err != nil {
		t.Fatalf("the stopped daemon saved no probes: %v", err)
	}
	// As if the daemon had waited 2.5 s (more than two probe intervals)
	// for a sync in flight after it stopped probing: the probes are as
	// fresh as they were then (a tester's restart during a sync started
	// from nothing, and listed the failing origin).
	store, err := state.Open(filepath.Join(e.dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := store.LoadProbed("demo")
	if err != nil || rec == nil || rec.Origin == nil || len(rec.Mirrors) < 2 {
		t.Fatalf("saved probes %+v, %v: want the mirrors' and the origin's", rec, err)
	}
	const drain = 2500 * time.Millisecond
	rec.ProbesStopped = rec.ProbesStopped.Add(-drain)
	for i := range rec.Mirrors {
		rec.Mirrors[i].Checked = rec.Mirrors[i].Checked.Add(-drain)
	}
	rec.Origin.Checked = rec.Origin.Checked.Add(-drain)
	if err := store.SaveProbed(rec); err != nil {
		t.Fatal(err)
	}
	alerts := len(e.hook.all())
	e.start()
	if _, err := os.Stat(saved); !os.IsNotExist(err) {
		// A daemon killed later saves none: the next must not start
		// from these, older than what this one found since.
		t.Errorf("the probes the daemon started from are still there: %v", err)
	}
	if got := e.mirrorlist(); !slices.Equal(got, []string{e.net.URL("m1")}) {
		t.Errorf("restarted %s after the stop, with m1's probe hanging: the mirrorlist lists %q, want m1 alone, as before the restart", time.Since(stopped).Round(time.Millisecond), got)
	}
	_, metalink := e.get("/metalink?repo=demo")
	if !strings.Contains(metalink, e.net.URL("m1")) || strings.Contains(metalink, e.net.URL("origin")) || strings.Contains(metalink, e.net.URL("m2")) {
		t.Errorf("the metalink right after the restart does not list m1 alone:\n%s", metalink)
	}
	// m2's first probe by this daemon checks the package it was down on.
	var reason string
	waitFor(t, 10*time.Second, "m2 to be probed by the new daemon", func() bool {
		st := e.mirrorState("m2")
		reason = st.Reason
		return st.Checked.After(stopped)
	})
	if !strings.Contains(reason, pkg) {
		t.Errorf("m2's first probe after the restart: %q, want it to check %s again first", reason, pkg)
	}
	if slices.Contains(e.mirrorlist(), e.net.URL("m2")) {
		t.Error("m2, down on a package, listed after the restart")
	}
	// What the last daemon alerted on is no news to this one: m2 still
	// down is not alerted again (the origin's 403, new, is).
	// The origin's alert goes from the state the last daemon found it in
	// (ok), carried over, not from unknown.
	waitFor(t, 10*time.Second, "the origin's 403 to be alerted", func() bool {
		for _, a := range e.hook.all()[alerts:] {
			if a.Kind == "origin" {
				return true
			}
		}
		return false
	})
	time.Sleep(500 * time.Millisecond) // alerts are sent on their own goroutine
	for _, a := range e.hook.all()[alerts:] {
		switch {
		case a.Mirror != "":
			t.Errorf("alert after the restart: %+v", a)
		case a.Kind == "origin" && (a.From != "ok" || a.To != "down"):
			t.Errorf("the origin's alert after the restart goes %s -> %s, want ok -> down (the state carried over)", a.From, a.To)
		}
	}
	e.net.setHang("m1", false)
	e.stop()

	// Too old to carry: the next daemon lists nothing it has not probed.
	time.Sleep(2*interval + 500*time.Millisecond)
	e.net.setHang("m1", true)
	e.start()
	if got := e.mirrorlist(); slices.Contains(got, e.net.URL("m1")) {
		t.Errorf("restarted more than two probe intervals after the last probes: m1 listed (%q) before this daemon probed it", got)
	}
	e.net.setHang("m1", false)
}
