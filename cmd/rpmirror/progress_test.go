package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vbauerster/mpb/v8"

	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/sync"
)

func progressOf(repo, phase string, done, total, bytesDone, bytesTotal int64) *sync.Progress {
	p := &sync.Progress{}
	p.Repo.Store(&repo)
	p.Phase.Store(&phase)
	p.PackagesDone.Store(done)
	p.PackagesTotal.Store(total)
	p.BytesDone.Store(bytesDone)
	p.BytesTotal.Store(bytesTotal)
	return p
}

var ansiRE = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)

// TestProgressBars draws the bars of two repositories being synced at
// once into a buffer, forcing mpb to render as on a terminal of a given
// width: each repository has its own line with its own numbers (never
// one label over the sum, "big: 125/520"), a repository not started yet
// has none, and no line is wider than the terminal, however narrow.
func TestProgressBars(t *testing.T) {
	for _, tc := range []struct {
		name  string
		width int
		want  []string // substrings of the big and small lines
	}{
		{"wide", 100, []string{"big fetching 125/500 1.2 MiB/4.9 MiB", "small publishing 20/20 20.0 KiB/20.0 KiB"}},
		{"narrow", 40, []string{"big 125/500", "small 20/20"}},
		{"very narrow", 18, []string{"big", "small"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			progs := []*sync.Progress{
				progressOf("big", "fetching", 125, 500, 1250<<10, 5000<<10),
				progressOf("small", "publishing", 20, 20, 20<<10, 20<<10),
				{}, // queued behind --parallel: not started
			}
			var out syncBuffer
			stop := showProgress(&out, progs, mpb.WithAutoRefresh(), mpb.WithWidth(tc.width))
			deadline := time.Now().Add(10 * time.Second)
			for !strings.Contains(out.String(), "small") && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			stop()
			frame := ansiRE.ReplaceAllString(out.String(), "")
			lines := strings.FieldsFunc(frame, func(r rune) bool { return r == '\n' || r == '\r' })
			found := make([]bool, len(tc.want))
			for _, l := range lines {
				if n := len([]rune(l)); n > tc.width {
					t.Errorf("a line of %d columns on a terminal of %d: %q", n, tc.width, l)
				}
				for i, w := range tc.want {
					if strings.Contains(l, w) {
						found[i] = true
					}
				}
				if strings.Contains(l, "big") && strings.Contains(l, "small") {
					t.Errorf("two repositories on one line: %q", l)
				}
				if strings.Contains(l, "520") || strings.Contains(l, "145") {
					t.Errorf("a line shows the sum of both repositories: %q", l)
				}
			}
			for i, w := range tc.want {
				if !found[i] {
					t.Errorf("no line says %q in:\n%s", w, frame)
				}
			}
		})
	}
}

// TestNoProgressWithoutTerminal: when stderr is not a terminal (a log
// file, a pipe, a CI job) the bars draw nothing at all: no carriage
// returns, no escape sequences.
func TestNoProgressWithoutTerminal(t *testing.T) {
	t.Run("bars on a buffer", func(t *testing.T) {
		var out bytes.Buffer
		stop := showProgress(&out, []*sync.Progress{progressOf("big", "fetching", 1, 5, 10, 50)})
		time.Sleep(500 * time.Millisecond) // a few refreshes' worth
		stop()
		if out.Len() != 0 {
			t.Errorf("drew %q on a writer that is not a terminal", out.String())
		}
	})
	t.Run("rpmirror sync", func(t *testing.T) {
		testrepo.RequireTools(t, "rpmbuild", "rpmsign", "gpg", "createrepo_c")
		f := newFixture(t, testrepo.ManyPackages(6, nil), 2)
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), []string{"sync", "-c", f.cfg}, &stdout, &stderr); code != 0 {
			t.Fatalf("sync: exit %d\n%s%s", code, stdout.String(), stderr.String())
		}
		if s := stderr.String(); strings.ContainsAny(s, "\r\x1b") {
			t.Errorf("sync drew on a stderr that is not a terminal: %q", s)
		}
	})
}
