package main

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/rpmirror/rpmirror/sync"
)

// progressSnapshot is what one repository's bar or log line shows, read
// from its sync.Progress: the repository's own numbers, never a sum.
type progressSnapshot struct {
	repo, phase                        string
	done, total, bytesDone, bytesTotal int64
}

// snapshot reads p; ok is false before its sync started.
func snapshot(p *sync.Progress) (s progressSnapshot, ok bool) {
	repo, phase := p.Repo.Load(), p.Phase.Load()
	if repo == nil || phase == nil {
		return s, false
	}
	return progressSnapshot{
		repo: *repo, phase: *phase,
		done: p.PackagesDone.Load(), total: p.PackagesTotal.Load(),
		bytesDone: p.BytesDone.Load(), bytesTotal: p.BytesTotal.Load(),
	}, true
}

// text is the line's words, as long as fits in width (at least the name).
func (s progressSnapshot) text(width int) string {
	full := fmt.Sprintf("%s %s %d/%d %s/%s", s.repo, s.phase, s.done, s.total, human(s.bytesDone), human(s.bytesTotal))
	if s.total == 0 {
		full = s.repo + " " + s.phase
	}
	for _, t := range []string{full, fmt.Sprintf("%s %d/%d", s.repo, s.done, s.total), s.repo} {
		if len(t) <= width {
			return t
		}
	}
	if width < 1 {
		return ""
	}
	return s.repo[:width]
}

// minBar is the narrowest bar worth drawing beside the words.
const minBar = 10

// showProgress draws one bar per repository being synced on w, a
// terminal: its packages fetched of those it needs, the bytes, its phase.
// A bar appears when its repository's sync starts and goes when it ends;
// the words shorten to fit the terminal's width, so a redraw never wraps.
// opts are for tests (a width, forced rendering into a buffer).
func showProgress(w io.Writer, progs []*sync.Progress, opts ...mpb.ContainerOption) (stop func()) {
	p := mpb.New(append([]mpb.ContainerOption{mpb.WithOutput(w), mpb.WithRefreshRate(200 * time.Millisecond)}, opts...)...)
	bars := make([]*mpb.Bar, len(progs))
	update := func(final bool) {
		for i, pr := range progs {
			s, ok := snapshot(pr)
			if !ok {
				continue
			}
			b := bars[i]
			if b == nil {
				if s.phase == "done" {
					continue // started and finished between two looks
				}
				name := decor.Any(func(st decor.Statistics) string {
					cur, _ := snapshot(pr)
					return cur.text(st.AvailableWidth - minBar - 1)
				}, decor.WC{C: decor.DindentRight | decor.DSyncWidth})
				b = p.AddBar(s.total+1, mpb.PrependDecorators(name), mpb.BarRemoveOnComplete())
				bars[i] = b
			}
			// One step more than the packages: the bar completes (and
			// goes) when the sync is done, not when publishing starts.
			b.SetTotal(s.total+1, false)
			b.SetCurrent(s.done)
			if (s.phase == "done" || final) && !b.Completed() {
				b.SetTotal(-1, true)
			}
		}
	}
	quit := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-quit:
				update(true)
				p.Wait()
				return
			case <-t.C:
				update(false)
			}
		}
	}()
	return func() { close(quit); <-finished }
}

// logProgress logs, every interval, one line per repository that is
// fetching packages, for syncs that run unattended and take long.
func logProgress(log *slog.Logger, progs []*sync.Progress, interval time.Duration) func() {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			for _, p := range progs {
				s, ok := snapshot(p)
				if !ok || s.total == 0 || s.done == s.total || s.phase == "done" {
					continue
				}
				log.Info("progress", "repo", s.repo, "phase", s.phase,
					"packages_done", s.done, "packages_total", s.total,
					"bytes_done", s.bytesDone, "bytes_total", s.bytesTotal)
			}
		}
	}()
	return func() { close(done); <-finished }
}
