package daemon

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/health"
	"github.com/rpmirror/rpmirror/state"
)

// TestListsReorderedByLatencyAlone: a probe round after which the
// listed mirrors are the same, only in a new order by latency, renders
// the written lists again (and so has them rewritten into the written
// mirrors) only when listsReorderRounds probe intervals have passed
// since they were rendered, and never re-prepares what the mirror routes
// serve, which does not depend on that order; any other change renders
// both at once.
func TestListsReorderedByLatencyAlone(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "mirrors.yaml")
	os.WriteFile(p, []byte("state_dir: "+dir+"/state\nprobe_interval: 1m\nrepos:\n  - name: a\n    origin: http://origin.example/a/\n    mirrors:\n"+
		"      - name: m1\n        url: http://m1.example/a/\n      - name: m2\n        url: http://m2.example/a/\n      - name: m3\n        url: http://m3.example/a/\n"), 0o644)
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(cfg, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	d.clock = func() time.Time { return now }
	r, _ := d.repo("a")
	// The mirrors serve the current verified revision.
	r.mu.Lock()
	r.verified = &state.Verified{Repo: "a", Revisions: []state.Revision{{Revision: "1", SHA256: "cur", Repomd: []byte("<repomd/>"), VerifiedAt: now}}}
	r.mu.Unlock()
	// probed sets what the last probes found: the mirrors' latencies in
	// milliseconds (m1, m2, m3), -1 for a mirror down.
	probed := func(ms ...int) {
		for i, name := range []string{"m1", "m2", "m3"} {
			res := health.Result{State: health.OK, SHA256: "cur", Revision: "1", Latency: time.Duration(ms[i]) * time.Millisecond}
			if ms[i] < 0 {
				res = health.Result{State: health.Down, Reason: "connection refused"}
			}
			r.tracker.Update(name, res)
		}
	}
	probed(3, 4, 5)
	if !r.renderViews(false) {
		t.Fatal("the first probes did not render the lists")
	}
	steps := []struct {
		name      string
		advance   time.Duration
		latencies []int
		// what renderViews should do: render the written lists, and
		// prepare the mirror routes' Repo anew
		render, live bool
		first        string // the first mirror of the written mirrorlist after it
	}{
		{"same order", time.Second, []int{3, 4, 6}, false, false, "http://m1.example/a/"},
		{"new order by latency, at once", time.Minute, []int{5, 4, 3}, false, false, "http://m1.example/a/"},
		{"new order by latency, nine rounds on", 8 * time.Minute, []int{5, 4, 3}, false, false, "http://m1.example/a/"},
		{"new order by latency, ten rounds on", time.Minute, []int{5, 4, 3}, true, false, "http://m3.example/a/"},
		{"order back, at once", time.Second, []int{3, 4, 5}, false, false, "http://m3.example/a/"},
		{"a mirror down, at once", time.Second, []int{3, 4, -1}, true, true, "http://m1.example/a/"},
		{"the mirror back, at once", time.Second, []int{3, 4, 5}, true, true, "http://m1.example/a/"},
	}
	for _, s := range steps {
		now = now.Add(s.advance)
		probed(s.latencies...)
		oldViews, oldLive := r.views.Load(), r.live.Load()
		if got := r.renderViews(false); got != s.render {
			t.Errorf("%s: renderViews reported %t, want %t", s.name, got, s.render)
		}
		if got := r.views.Load() != oldViews; got != s.render {
			t.Errorf("%s: written lists rendered anew: %t, want %t", s.name, got, s.render)
		}
		if got := r.live.Load() != oldLive; got != s.live {
			t.Errorf("%s: the mirror routes' Repo prepared anew: %t, want %t", s.name, got, s.live)
		}
		v := r.views.Load()
		if first := firstLine(string(v.mirrorlist)); first != s.first {
			t.Errorf("%s: the written mirrorlist starts with %q, want %q:\n%s", s.name, first, s.first, v.mirrorlist)
		}
	}
}

// firstLine returns the first line of a mirrorlist that is not a comment.
func firstLine(s string) string {
	for len(s) > 0 {
		var l string
		l, s, _ = strings.Cut(s, "\n")
		if l != "" && l[0] != '#' {
			return l
		}
	}
	return ""
}
