package daemon_test

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/alert"
)

// replaceFile puts content at path as a new file (a new inode, as rsync
// writes): the written mirrors' packages are hard links to one another's,
// and m2 must keep its own copy.
func replaceFile(t *testing.T, path string, content []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, content, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// mirrorPackages returns the package files (relative, slash-separated)
// under dir, by name.
func mirrorPackages(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(filepath.Join(dir, "Packages"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".rpm") {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		out[d.Name()] = filepath.ToSlash(rel)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestProbeCatchesWrongSizedPackage: a mirror where a package of the
// verified revision is cut short by a byte (a disk that filled up during
// an rsync), or replaced by a file of the same name and another size,
// goes down and leaves the mirrorlist and the metalink, dnf is no longer
// sent to it, and /status, /status.json, /metrics and the alert name the
// package and both sizes; the mirror served right stays listed
// throughout. The mirror stays down while the package is wrong (the
// probes check it again rather than another), and comes back once it is
// put right.
func TestProbeCatchesWrongSizedPackage(t *testing.T) {
	e := newEnv(t, envOpts{probeInterval: time.Second, probeTimeout: time.Second})
	e.waitHealthy()
	m1 := filepath.Join(e.dir, "m1")
	pkgs := mirrorPackages(t, m1)
	hello, tools := pkgs["hello-mirror-1.1-1.noarch.rpm"], pkgs["tools-common-2.3.1-1.noarch.rpm"]
	if hello == "" || tools == "" {
		t.Fatalf("m1 lacks the demo's packages: %v", pkgs)
	}
	read := func(rel string) []byte {
		b, err := os.ReadFile(filepath.Join(m1, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	tests := []struct {
		name  string
		href  string
		bad   func(good []byte) []byte
		dnfOf string // a package dnf installs meanwhile
	}{
		{"truncated by one byte", hello, func(good []byte) []byte { return good[:len(good)-1] }, "hello-mirror"},
		{"replaced by another package of the same name", tools, func([]byte) []byte { return read(hello) }, "tools-common"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(m1, filepath.FromSlash(tc.href))
			good := read(tc.href)
			bad := tc.bad(good)
			if len(bad) == len(good) {
				t.Fatalf("the bad copy has the good one's size, %d bytes", len(good))
			}
			replaceFile(t, path, bad)
			defer replaceFile(t, path, good)

			waitFor(t, 2*time.Minute, "m1 to leave the mirrorlist", func() bool {
				l := e.mirrorlist()
				return len(l) == 1 && l[0] == e.net.URL("m2")
			})
			if strings.Contains(e.metalink(), e.net.URL("m1")) {
				t.Error("m1 is still in the metalink")
			}
			want := []string{tc.href, strconv.Itoa(len(bad)) + " bytes served", "the verified metadata says " + strconv.Itoa(len(good))}
			names := func(what, s string) {
				t.Helper()
				for _, w := range want {
					if !strings.Contains(s, w) {
						t.Errorf("%s: %q does not name %q", what, s, w)
					}
				}
			}
			st := e.mirrorState("m1")
			if st.State != "down" {
				t.Errorf("/status.json: m1 is %s (%s), want down", st.State, st.Reason)
			}
			names("/status.json reason", st.Reason)
			if st := e.mirrorState("m2"); st.State != "ok" {
				t.Errorf("/status.json: m2, served right, is %s (%s)", st.State, st.Reason)
			}
			if _, page := e.get("/status"); !strings.Contains(page, st.Reason) {
				t.Errorf("/status does not show m1's reason %q", st.Reason)
			}
			_, metrics := e.get("/metrics")
			for _, w := range []string{`rpmirror_mirror_state{mirror="m1",repo="demo",state="down"} 1`, `rpmirror_mirror_state{mirror="m2",repo="demo",state="ok"} 1`, `rpmirror_mirror_package_wrong_size_total{mirror="m1",repo="demo"} `} {
				if !strings.Contains(metrics, w) {
					t.Errorf("/metrics lacks %s", w)
				}
			}
			if strings.Contains(metrics, `rpmirror_mirror_package_wrong_size_total{mirror="m2"`) {
				t.Error("/metrics counts wrong sizes on m2, served right")
			}
			waitFor(t, 15*time.Second, "the webhook to hear m1 went down", func() bool {
				a, ok := e.hook.find(func(a alert.Event) bool {
					return a.Mirror == "m1" && a.To == "down" && strings.Contains(a.Reason, tc.href)
				})
				if ok {
					names("alert reason", a.Reason)
				}
				return ok
			})

			// It stays down over the next probes, which check that package
			// again rather than one picked at random; dnf is sent to m2.
			hits := e.net.hitsOf("m1")
			waitFor(t, time.Minute, "three more probes of m1", func() bool { return e.net.hitsOf("m1") >= hits+6 })
			if l := e.mirrorlist(); len(l) != 1 {
				t.Errorf("m1 came back with its package still wrong: %v", l)
			}
			dnfHits := e.net.dnfHitsOf("m1")
			if out, err := e.dnf("mirrorlist="+e.base+"/mirrorlist?repo=demo", "install", tc.dnfOf); err != nil {
				t.Errorf("dnf install %s with m1 down: %v\n%s", tc.dnfOf, err, out)
			}
			if n := e.net.dnfHitsOf("m1") - dnfHits; n != 0 {
				t.Errorf("dnf was sent to m1 %d times", n)
			}

			// Put right, it comes back.
			replaceFile(t, path, good)
			waitFor(t, time.Minute, "m1 to come back", func() bool { return len(e.mirrorlist()) == 2 })
		})
	}
}

// TestProbeSizesWithStateFromBeforeSizes: verified revisions written by
// an rpmirror that kept no package sizes (no package_sizes) still load
// after an upgrade, and the probes still catch a package cut short on a
// written mirror: they take the sizes from the primary metadata of a
// written mirror serving that revision. The start-up sync, with nothing
// to do, leaves the file as it was.
func TestProbeSizesWithStateFromBeforeSizes(t *testing.T) {
	e := newEnv(t, envOpts{probeInterval: time.Second, probeTimeout: time.Second})
	e.waitHealthy()
	e.stop()

	// The verified revisions, as the previous version wrote them.
	path := filepath.Join(e.dir, "state", "verified", "demo.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	revs, _ := v["revisions"].([]any)
	if len(revs) == 0 {
		t.Fatalf("no verified revision in %s", b)
	}
	for _, r := range revs {
		rev := r.(map[string]any)
		if _, ok := rev["package_sizes"]; !ok {
			t.Fatalf("this version wrote no package_sizes: %s", b)
		}
		delete(rev, "package_sizes")
	}
	if b, err = json.MarshalIndent(v, "", "  "); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}

	m1 := filepath.Join(e.dir, "m1")
	hello := mirrorPackages(t, m1)["hello-mirror-1.1-1.noarch.rpm"]
	good, err := os.ReadFile(filepath.Join(m1, filepath.FromSlash(hello)))
	if err != nil {
		t.Fatal(err)
	}
	replaceFile(t, filepath.Join(m1, filepath.FromSlash(hello)), good[:len(good)-1])

	e.start()
	waitFor(t, 2*time.Minute, "m1 to leave the mirrorlist", func() bool {
		l := e.mirrorlist()
		return len(l) == 1 && l[0] == e.net.URL("m2")
	})
	st := e.mirrorState("m1")
	for _, w := range []string{hello, strconv.Itoa(len(good)-1) + " bytes served", "the verified metadata says " + strconv.Itoa(len(good))} {
		if !strings.Contains(st.Reason, w) {
			t.Errorf("m1: %s %q, does not name %q", st.State, st.Reason, w)
		}
	}
	if rs := e.status().Repos[0]; rs.CurrentRevision == "" {
		t.Errorf("no current verified revision after loading the older file: %+v", rs)
	}
	if after, err := os.ReadFile(path); err != nil || strings.Contains(string(after), "package_sizes") {
		t.Errorf("the start-up sync, with nothing to do, rewrote the verified revisions (%v): the sizes did not come from the written mirror", err)
	}
}
