package daemon_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/snapshot"
)

// addMirror adds a written mirror called name (served at its own URL) to
// the repo in the configuration file and reloads the daemon from the
// file, as SIGHUP does.
func (e *env) addMirror(name string) {
	e.t.Helper()
	e.net.serve(name, filepath.Join(e.dir, name))
	entry := "      - name: " + name + "\n        path: " + filepath.Join(e.dir, name) + "\n        url: " + e.net.URL(name) + "\n"
	e.editConfig(func(yaml string) string {
		return strings.Replace(yaml, "      - name: third\n", entry+"      - name: third\n", 1)
	})
}

// editConfig rewrites the configuration file with edit and reloads the
// daemon from the file, as SIGHUP does.
func (e *env) editConfig(edit func(yaml string) string) {
	e.t.Helper()
	path := filepath.Join(e.dir, "mirrors.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(edit(string(b))), 0o644); err != nil {
		e.t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		e.t.Fatal(err)
	}
	e.cfg = cfg
	e.d.Reload(cfg)
}

// TestSnapshotNameSharedByMirrorAddedLater: a written mirror added to a
// repo that keeps snapshots, a second or more after the others published
// the current revision, names its snapshot of that revision as they do
// (not for its own publish time): latest.txt is the same on all three,
// /snapshots.json names it on each, and ?snapshot=NAME and its metalink
// list all three mirrors, so a CI job pinned to the name keeps its
// failover.
func TestSnapshotNameSharedByMirrorAddedLater(t *testing.T) {
	e := newEnv(t, envOpts{probeInterval: time.Second, probeTimeout: time.Second, snapshots: "{keep: 5}"})
	e.waitHealthy()
	name := e.latestSnapshot("m1")
	if got := e.latestSnapshot("m2"); got != name {
		t.Fatalf("m1's snapshot %s, m2's %s: one sync names them alike", name, got)
	}
	// The new mirror publishes in a later second than the others did
	// (its own publish time would name its snapshot differently).
	waitFor(t, 5*time.Second, "the clock to pass the snapshot's second", func() bool {
		return snapshot.Compare(snapshot.Name(time.Now()), name) > 0
	})
	e.addMirror("m3")
	waitFor(t, 60*time.Second, "m3 to be synced and listed", func() bool {
		return len(e.mirrorlist()) == 3
	})
	waitFor(t, 30*time.Second, "m3's snapshot", func() bool {
		_, err := os.Stat(filepath.Join(e.dir, "m3", "snapshots", "latest.txt"))
		return err == nil
	})
	for _, m := range []string{"m1", "m2", "m3"} {
		if got := e.latestSnapshot(m); got != name {
			t.Errorf("%s's latest snapshot is %s, want %s as on the others", m, got, name)
		}
	}
	waitFor(t, 30*time.Second, "/snapshots.json to name the snapshot on all three mirrors", func() bool {
		d := e.snapshotsDoc()
		if len(d.Repos) != 1 || d.Repos[0].Latest != name || len(d.Repos[0].Mirrors) != 3 {
			return false
		}
		for _, m := range d.Repos[0].Mirrors {
			if m.Latest != name {
				return false
			}
		}
		return true
	})
	if d := e.snapshotsDoc().Repos[0]; strings.Join(d.Snapshots, " ") != name {
		t.Errorf("/snapshots.json lists snapshots %q, want only %s", d.Snapshots, name)
	}
	code, body := e.get("/mirrorlist?repo=demo&snapshot=" + name)
	for _, m := range []string{"m1", "m2", "m3"} {
		if code != 200 || !strings.Contains(body, e.net.URL(m)+"snapshots/"+name+"/\n") {
			t.Errorf("/mirrorlist?snapshot=%s: %d, no %s in\n%s", name, code, m, body)
		}
	}
	code, body = e.get("/metalink?repo=demo&snapshot=" + name)
	if code != 200 || strings.Count(body, "snapshots/"+name+"/repodata/repomd.xml") != 3 {
		t.Errorf("/metalink?snapshot=%s: %d, want the three mirrors' URLs\n%s", name, code, body)
	}
}
