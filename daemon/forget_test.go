package daemon_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/internal/testrepo"
)

// removeThird removes the probe-only mirror third from the configuration
// file and reloads the daemon from the file, as SIGHUP does.
func (e *env) removeThird() {
	e.t.Helper()
	entry := "      - name: third\n        url: " + e.net.URL("third") + "\n        priority: 1\n"
	e.editConfig(func(yaml string) string {
		if !strings.Contains(yaml, entry) {
			e.t.Fatalf("mirrors.yaml has no mirror third as the test wrote it:\n%s", yaml)
		}
		return strings.Replace(yaml, entry, "", 1)
	})
}

// TestReloadForgetsRemovedMirror: a mirror removed from mirrors.yaml
// leaves /metrics at the reload, every series of it (its state and
// probes, collected from the daemon's records at scrape time, and its
// wrong-size counter, a vector's): they stayed for ever, so
// RpmirrorMirrorDown kept firing for a decommissioned mirror (a
// tester's finding). The probe rounds after the reload do not bring
// them back, and the other mirrors keep theirs.
func TestReloadForgetsRemovedMirror(t *testing.T) {
	e := newEnv(t, envOpts{probeInterval: time.Second, probeTimeout: time.Second})
	// third serves the current revision with every package cut short by
	// a byte: down, and counted in mirror_package_wrong_size_total.
	bad := filepath.Join(t.TempDir(), "bad")
	if err := os.CopyFS(bad, os.DirFS(testrepo.DemoOrigin(t, "v2"))); err != nil {
		t.Fatal(err)
	}
	for _, rel := range mirrorPackages(t, bad) {
		p := filepath.Join(bad, filepath.FromSlash(rel))
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b[:len(b)-1], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e.net.serve("third", bad)
	e.waitHealthy()
	metrics := func() string { _, m := e.get("/metrics"); return m }
	waitFor(t, 30*time.Second, "third's series to say it is down, with a package at the wrong size", func() bool {
		m := metrics()
		return strings.Contains(m, `rpmirror_mirror_state{mirror="third",repo="demo",state="down"} 1`) &&
			strings.Contains(m, `rpmirror_mirror_package_wrong_size_total{mirror="third",repo="demo"}`)
	})

	e.removeThird()
	check := func(when string) {
		t.Helper()
		m := metrics()
		if left := grepLines(m, `mirror="third"`); left != "" {
			t.Errorf("%s, /metrics still has the removed mirror's series:\n%s", when, left)
		}
		for _, want := range []string{`rpmirror_mirror_state{mirror="m1",repo="demo",state="ok"} 1`, `rpmirror_mirror_last_probe_timestamp_seconds{mirror="m2",repo="demo"}`} {
			if !strings.Contains(m, want) {
				t.Errorf("%s, /metrics lacks %s", when, want)
			}
		}
	}
	check("right after the reload")
	time.Sleep(2500 * time.Millisecond) // two probe rounds
	check("two probe rounds after the reload")
	for _, ms := range e.status().Repos[0].Mirrors {
		if ms.Name == "third" {
			t.Errorf("/status.json still lists the removed mirror: %+v", ms)
		}
	}
}
