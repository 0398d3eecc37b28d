package daemon_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/daemon"
	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/server"
)

const chromium = "/usr/bin/chromium"

// dumpDOM loads url in headless Chromium and returns the DOM it built.
func dumpDOM(t *testing.T, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--dump-dom", url)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom %s: %v\n%s", url, err, stderr.String())
	}
	return string(out)
}

// TestStatusPageInBrowser runs the daemon with four repositories, one
// healthy, one whose origin is down, one whose only probed mirror is down
// and one whose sync fails (its packages are not signed by its key), and
// reads /status as headless Chromium renders it: the summary banner counts
// them right and names the three that need attention, and the revisions
// are dates. /status.json has the same summary and [] for empty
// lists.
func TestStatusPageInBrowser(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		t.Skip("chromium is not installed (.ci/run installs it): the status page is not checked in a browser")
	}
	testrepo.RequireTools(t, "dnf")
	dir := t.TempDir()
	sw := newSwitchable(t)
	sw.serve("origin", testrepo.DemoOrigin(t, "v2"))
	sw.serve("h1", filepath.Join(dir, "h1"))
	sw.setStatus("d1", http.StatusServiceUnavailable)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	yaml := fmt.Sprintf(`state_dir: %[1]s/state
probe_interval: 1s
download:
  retries: 0
repos:
  - name: healthy
    origin: %[2]s
    gpgkeys: [%[3]s]
    mirrors:
      - name: h1
        path: %[1]s/h1
        url: %[4]s
  - name: dead-origin
    origin: http://%[6]s/origin/
    mirrors:
      - name: o1
        path: %[1]s/o1
  - name: mirror-down
    origin: %[2]s
    gpgkeys: [%[3]s]
    mirrors:
      - name: d1
        path: %[1]s/d1
        url: %[5]s
  - name: bad-signature
    origin: %[2]s
    gpgkeys: [%[7]s]
    mirrors:
      - name: b1
        path: %[1]s/b1
`, dir, sw.URL("origin"), testrepo.Testdata(t, "keys", "test.pub"), sw.URL("h1"), sw.URL("d1"), dead, testrepo.Testdata(t, "keys", "unknown.pub"))
	cfg := loadConfig(t, dir, yaml)
	_, e := runDaemon(t, cfg, daemon.Options{ShutdownTimeout: 5 * time.Second})
	var st *server.Status
	defer func() {
		if t.Failed() {
			_, b := e.get("/status.json")
			t.Logf("/status.json:\n%s", b)
		}
	}()
	// The dead origin's first sync fails, or is skipped when a probe saw
	// the origin down first: either way it does not run again within the
	// test (the schedule is hourly), so the counts are stable after this.
	failed := 0
	waitFor(t, 60*time.Second, "h1 ok, d1 down, the dead origin down, every repo synced once", func() bool {
		st = e.status()
		byName := map[string]server.RepoStatus{}
		failed = 0
		for _, r := range st.Repos {
			byName[r.Name] = r
			if r.LastSync == nil {
				return false
			}
			if r.LastSync.Result == "failed" {
				failed++
			}
		}
		h, o, m, b := byName["healthy"], byName["dead-origin"], byName["mirror-down"], byName["bad-signature"]
		return len(h.Mirrors) == 1 && h.Mirrors[0].State == "ok" && h.Revision != "" && h.LastSync.Result == "ok" &&
			o.OriginState == "down" &&
			len(m.Mirrors) == 1 && m.Mirrors[0].State == "down" && m.LastSync.Result == "ok" &&
			b.OriginState == "ok" && b.LastSync.Result == "failed"
	})

	dom := dumpDOM(t, e.base+"/status")
	banner := regexp.MustCompile(`(?s)<section id="summary"[^>]*>(.*?)</section>`).FindStringSubmatch(dom)
	if banner == nil {
		t.Fatalf("no summary banner in the page Chromium rendered:\n%s", dom)
	}
	count := func(id string) string {
		m := regexp.MustCompile(`id="` + id + `">(\d+)<`).FindStringSubmatch(banner[1])
		if m == nil {
			return ""
		}
		return m[1]
	}
	for id, want := range map[string]string{"summary-repos": "4", "summary-mirrors": "4", "summary-origins-down": "1", "summary-failed-syncs": fmt.Sprint(failed)} {
		if got := count(id); got != want {
			t.Errorf("banner %s = %q, want %s", id, got, want)
		}
	}
	for state, want := range map[string]string{"ok": "1", "down": "1", "unknown": "2"} {
		m := regexp.MustCompile(`data-state="` + state + `"><span class="count">(\d+)</span>`).FindStringSubmatch(banner[1])
		if m == nil || m[1] != want {
			t.Errorf("banner: mirrors %s = %v, want %s", state, m, want)
		}
	}
	var attention []string
	for _, m := range regexp.MustCompile(`<a class="attention" href="#([^"]+)">`).FindAllStringSubmatch(banner[1], -1) {
		attention = append(attention, m[1])
	}
	if strings.Join(attention, " ") != "dead-origin mirror-down bad-signature" {
		t.Errorf("banner: needs attention %v, want dead-origin, mirror-down and bad-signature", attention)
	}
	if !strings.Contains(banner[0], `class="attention"`) {
		t.Error("the banner is not marked as needing attention")
	}
	// Revisions are dates (createrepo_c's revision is a Unix time).
	rev := regexp.MustCompile(`<time class="revision" datetime="(\d{4}-\d\d-\d\dT[0-9:]+Z)" title="revision (\d+)">(\d{4}-\d\d-\d\d \d\d:\d\d UTC)</time>`).FindStringSubmatch(dom)
	if rev == nil {
		t.Errorf("no revision shown as a date in:\n%s", dom)
	} else if sec, _ := time.Parse(time.RFC3339, rev[1]); fmt.Sprint(sec.Unix()) != rev[2] {
		t.Errorf("revision %s shown as %s", rev[2], rev[1])
	}

	// status.json: the same summary, and never a null (server's
	// TestStatusJSONLists checks the empty lists one by one).
	_, body := e.get("/status.json")
	if strings.Contains(body, "null") {
		t.Errorf("/status.json has a null:\n%s", body)
	}
	var raw struct {
		Summary server.Summary `json:"summary"`
	}
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		t.Fatal(err)
	}
	if s := raw.Summary; s.Repos != 4 || s.OriginsDown != 1 || s.FailedSyncs != failed || s.MirrorsByState["ok"] != 1 || s.MirrorsByState["down"] != 1 {
		t.Errorf("/status.json summary %+v", s)
	}
}
