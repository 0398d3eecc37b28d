package daemon_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/daemon"
)

// lockedBuffer collects the daemon's log from its goroutines.
type lockedBuffer struct {
	mu gosync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestSecretsAreNeverShown runs the daemon with credentials in every URL
// it knows: a token as the origin's user (config refuses it in the file,
// but code that builds a Config may not), a probe-only mirror with a
// password, and a webhook whose query holds its secret. The origin and
// the webhook cannot be reached, so the failures name those URLs. The
// secret must appear in none of /status.json, /status, /metrics, the
// recorded errors and the log.
func TestSecretsAreNeverShown(t *testing.T) {
	const secret = "s3cret-t0ken"
	dir := t.TempDir()
	net1 := newSwitchable(t)
	net1.serve("third", filepath.Join(dir, "nothing"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String() // nobody listens here once closed
	ln.Close()
	yaml := fmt.Sprintf(`state_dir: %[1]s/state
probe_interval: 1s
probe_timeout: 1s
download:
  retries: 0
repos:
  - name: demo
    origin: http://%[2]s/origin/
    mirrors:
      - name: m1
        path: %[1]s/m1
      - name: third
        url: %[3]s
`, dir, dead, net1.URL("third"))
	path := filepath.Join(dir, "mirrors.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Repos[0].Origin = "http://" + secret + "@" + dead + "/origin/"
	cfg.Repos[0].Origins = []string{cfg.Repos[0].Origin}
	cfg.Repos[0].Mirrors[1].URL = strings.Replace(net1.URL("third"), "http://", "http://partner:"+secret+"@", 1)
	cfg.Alerts.Webhook = "http://" + dead + "/hook?secret=" + secret
	var log lockedBuffer
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the daemon's log:\n%s", log.String())
		}
	})
	d, e := runDaemon(t, cfg, daemon.Options{Logger: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug})), ShutdownTimeout: 5 * time.Second})
	d.TriggerSync("demo")
	// The sync fails (is skipped) and records why, or, when the origin's
	// probe found it down first, is not started ("sync skipped: the
	// origin is down") and the origin's failure says why: either names
	// the origin's URL.
	syncErr := func() string {
		for _, f := range e.status().Repos[0].Failures {
			if f.What == "sync" || f.What == "sync skipped" || f.What == "origin" {
				return f.Error
			}
		}
		return ""
	}
	waitFor(t, 30*time.Second, "a failed (skipped) sync or the origin's failure, the origin down and an alert not delivered", func() bool {
		return syncErr() != "" && e.status().Repos[0].OriginState == "down" && strings.Contains(log.String(), "delivering alert")
	})
	st := e.status().Repos[0]
	if !strings.Contains(st.Origin, dead) || !strings.Contains(syncErr(), "connection refused") || !strings.Contains(st.Mirrors[1].URL, "/third/") {
		t.Errorf("the status says too little to check: origin %q, sync error %q, third %q", st.Origin, syncErr(), st.Mirrors[1].URL)
	}
	for _, p := range []string{"/status.json", "/status", "/metrics"} {
		if code, body := e.get(p); code != 200 || strings.Contains(body, secret) {
			t.Errorf("%s (%d) shows the secret:\n%s", p, code, body)
		}
	}
	if out := log.String(); strings.Contains(out, secret) {
		t.Errorf("the log shows the secret:\n%s", out)
	}
}
