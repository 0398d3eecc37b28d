package daemon_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/alert"
	"github.com/rpmirror/rpmirror/repodata"
)

// TestProbeCatchesWrongSizedMetadata: a mirror whose primary.xml.gz (a
// file its repomd.xml lists) is cut short goes down once a probe checks
// that file, and leaves the mirrorlist; /status.json, /metrics and the
// alert name the file and both sizes. It stays down while the file is
// wrong (the probes check that file again rather than one picked at
// random), dnf is sent to the other mirror meanwhile, and it comes back
// once the file is put right.
func TestProbeCatchesWrongSizedMetadata(t *testing.T) {
	e := newEnv(t, envOpts{probeInterval: time.Second, probeTimeout: time.Second})
	e.waitHealthy()
	m1 := filepath.Join(e.dir, "m1")
	repomd, err := os.ReadFile(filepath.Join(m1, "repodata", "repomd.xml"))
	if err != nil {
		t.Fatal(err)
	}
	md, err := repodata.ParseRepomd(repomd)
	if err != nil {
		t.Fatal(err)
	}
	primary, ok := md.Find("primary")
	if !ok {
		t.Fatal("m1's repomd.xml lists no primary")
	}
	path := filepath.Join(m1, filepath.FromSlash(primary.Href))
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	bad := good[:len(good)/2]
	replaceFile(t, path, bad)
	defer replaceFile(t, path, good)

	waitFor(t, 2*time.Minute, "m1 to leave the mirrorlist", func() bool {
		l := e.mirrorlist()
		return len(l) == 1 && l[0] == e.net.URL("m2")
	})
	st := e.mirrorState("m1")
	for _, w := range []string{primary.Href, strconv.Itoa(len(bad)) + " bytes served", "says " + strconv.Itoa(len(good))} {
		if !strings.Contains(st.Reason, w) {
			t.Errorf("/status.json: m1's reason %q does not name %q", st.Reason, w)
		}
	}
	if st.State != "down" {
		t.Errorf("/status.json: m1 is %s, want down", st.State)
	}
	_, metrics := e.get("/metrics")
	if !strings.Contains(metrics, `rpmirror_mirror_metadata_wrong_size_total{mirror="m1",repo="demo"} `) {
		t.Error("/metrics does not count m1's wrong-sized metadata file")
	}
	if strings.Contains(metrics, `rpmirror_mirror_package_wrong_size_total{mirror="m1"`) {
		t.Error("/metrics counts m1's metadata file as a package")
	}
	waitFor(t, 15*time.Second, "the webhook to hear m1 went down", func() bool {
		_, ok := e.hook.find(func(a alert.Event) bool {
			return a.Mirror == "m1" && a.To == "down" && strings.Contains(a.Reason, primary.Href)
		})
		return ok
	})

	// It stays down over the next probes; dnf is sent to m2.
	hits := e.net.hitsOf("m1")
	waitFor(t, time.Minute, "three more probes of m1", func() bool { return e.net.hitsOf("m1") >= hits+9 })
	if l := e.mirrorlist(); len(l) != 1 {
		t.Errorf("m1 came back with its primary still cut short: %v", l)
	}
	dnfHits := e.net.dnfHitsOf("m1")
	if out, err := e.dnf("mirrorlist="+e.base+"/mirrorlist?repo=demo", "install", "hello-mirror"); err != nil {
		t.Errorf("dnf install with m1 down: %v\n%s", err, out)
	}
	if n := e.net.dnfHitsOf("m1") - dnfHits; n != 0 {
		t.Errorf("dnf was sent to m1 %d times", n)
	}

	replaceFile(t, path, good)
	waitFor(t, time.Minute, "m1 to come back", func() bool { return len(e.mirrorlist()) == 2 })
}
