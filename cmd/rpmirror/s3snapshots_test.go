package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpmirror/rpmirror/internal/testrepo"
)

// TestS3SnapshotCommands: the snapshot commands on a mirror in object
// storage (versitygw). rpmirror snapshots lists both revisions' snapshots
// and says each stores its own copy (NOT SHARED counts every package);
// snapshot pin works through the bucket; verify checks every snapshot and
// names a damaged file in one; rollback --to the first snapshot makes the
// bucket serve it (dnf through a web front reads it), sync is held, and
// resume lets the next sync bring the bucket forward.
func TestS3SnapshotCommands(t *testing.T) {
	f := newS3Fixture(t, "")
	b, err := os.ReadFile(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.cfg, []byte(strings.Replace(string(b), "    mirrors:\n", "    snapshots: {keep: 5}\n    mirrors:\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "sync", "-c", f.cfg)
	first := strings.TrimSpace(readFile(t, filepath.Join(f.mirror, "snapshots", "latest.txt")))
	f.publish("v2")
	mustRun(t, "sync", "-c", f.cfg)
	second := strings.TrimSpace(readFile(t, filepath.Join(f.mirror, "snapshots", "latest.txt")))
	if first == "" || first == second {
		t.Fatalf("snapshots %q and %q for two revisions", first, second)
	}

	out := mustRun(t, "snapshots", "-c", f.cfg, "--repo", "demo")
	if !strings.Contains(out, "own copy of every file") || !strings.Contains(out, second+" (latest)") {
		t.Errorf("snapshots of a bucket:\n%s", out)
	}
	for _, name := range []string{first, second} {
		// Every package of the snapshot is its own, even those both
		// revisions have.
		var total int64
		pkgs, _ := filepath.Glob(filepath.Join(f.mirror, "snapshots", name, "Packages", "*", "*.rpm"))
		for _, p := range pkgs {
			fi, _ := os.Stat(p)
			total += fi.Size()
		}
		var row string
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), name+" ") {
				row = l
			}
		}
		if total == 0 || !strings.HasSuffix(row, "  "+human(total)) {
			t.Errorf("snapshot %s: row %q, want NOT SHARED %s (all %d packages)\n%s", name, row, human(total), len(pkgs), out)
		}
	}

	if out := mustRun(t, "snapshot", "pin", "-c", f.cfg, "--repo", "demo", first); !strings.Contains(out, "mirror obj: snapshot "+first+" pinned") {
		t.Errorf("snapshot pin:\n%s", out)
	}
	if out := mustRun(t, "snapshots", "-c", f.cfg); !strings.Contains(out, "yes (command)") {
		t.Errorf("after pin, snapshots:\n%s", out)
	}

	if out := mustRun(t, "verify", "-c", f.cfg); !strings.Contains(out, "demo/obj: 2 snapshots ok") {
		t.Errorf("verify of a bucket with snapshots:\n%s", out)
	}
	pkgs, _ := filepath.Glob(filepath.Join(f.mirror, "snapshots", first, "Packages", "*", "*.rpm"))
	victim := pkgs[0]
	good := readFile(t, victim)
	bad := []byte(good)
	bad[len(bad)-10] ^= 0xff
	os.WriteFile(victim, bad, 0o644) // behind the store's back
	rel := filepath.ToSlash(strings.TrimPrefix(victim, filepath.Join(f.mirror, "snapshots", first)+"/"))
	code, out, _ := rpmirror(t, "verify", "-c", f.cfg)
	if code != exitFailed || !strings.Contains(out, "demo/obj: snapshot "+first+": "+rel) || !strings.Contains(out, "1 snapshot ok, 1 broken: "+first) {
		t.Errorf("verify with a damaged snapshot in the bucket: exit %d\n%s", code, out)
	}
	os.WriteFile(victim, []byte(good), 0o644)

	out = mustRun(t, "rollback", "-c", f.cfg, "--repo", "demo", "--to", first)
	if !strings.Contains(out, "serves snapshot "+first) {
		t.Errorf("rollback output:\n%s", out)
	}
	if got, want := readFile(t, filepath.Join(f.mirror, "repodata", "repomd.xml")), readFile(t, filepath.Join(demoRev("v1"), "repodata", "repomd.xml")); got != want {
		t.Error("after rollback the bucket does not serve the first revision's repomd.xml")
	}
	t.Run("dnf through a web front", func(t *testing.T) {
		testrepo.RequireTools(t, "dnf")
		front := httptest.NewServer(http.FileServer(http.Dir(filepath.Join(f.srv.Dir, "mirrors"))))
		defer front.Close()
		for _, url := range []string{front.URL + "/demo/", front.URL + "/demo/snapshots/" + first + "/"} {
			repo := testrepo.Repo{Name: "objstore", URL: url, GPGKeys: []string{f.key}}
			c := testrepo.NewDNF(t, repo.String())
			out, err := c.Run("repoquery", "-q", "--qf", "%{name}-%{version}")
			if err != nil || !strings.Contains(out, "hello-mirror-1.0") || strings.Contains(out, "hello-mirror-1.1") {
				t.Errorf("dnf at %s after the rollback: %v\n%s", url, err, out)
			}
		}
	})
	if out := mustRun(t, "sync", "-c", f.cfg); !strings.Contains(out, "HELD: held at snapshot "+first) {
		t.Errorf("sync of a held repo:\n%s", out)
	}
	mustRun(t, "resume", "-c", f.cfg, "--repo", "demo")
	mustRun(t, "sync", "-c", f.cfg)
	if got, want := readFile(t, filepath.Join(f.mirror, "repodata", "repomd.xml")), readFile(t, filepath.Join(demoRev("v2"), "repodata", "repomd.xml")); got != want {
		t.Error("after resume and sync the bucket does not serve the origin's revision")
	}
}
