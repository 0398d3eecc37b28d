package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/daemon"
	"github.com/rpmirror/rpmirror/fetch"
	"github.com/rpmirror/rpmirror/source"
	"github.com/rpmirror/rpmirror/state"
	"github.com/rpmirror/rpmirror/sync"
	"github.com/rpmirror/rpmirror/target"
)

func runSync(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flags("sync", stderr)
	rf := addRepoFlags(fs, "sync")
	dryRun := fs.Bool("dry-run", false, "say what would be fetched, published and deleted; change nothing")
	parallel := intAtLeast(fs, "parallel", 4, 1, "sync up to `N` repositories at once")
	verbose := fs.Bool("v", false, "log every package")
	allowRollback := fs.Bool("allow-rollback", false, "accept an origin that went back to an older revision (as allow_rollback: true does), for this run")
	logFormat := choice(fs, "log-format", "text", "log `FORMAT`: text or json", "text", "json")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, sel, err := rf.load()
	if err != nil {
		return err
	}
	if *allowRollback {
		for _, r := range sel {
			r.AllowRollback = true
		}
	}
	// Bars need a terminal with a width: on one without (a serial
	// console, script(1) from cron), the log says what happens.
	tty := isTerminal(stderr) && terminalWidth(stderr) > 0
	level := slog.LevelInfo
	if tty {
		level = slog.LevelWarn // the progress line says the rest
	}
	if *verbose {
		level = slog.LevelDebug
	}
	log := newLogger(stderr, level, *logFormat)
	reports, err := syncRepos(ctx, cfg, sel, *dryRun, *parallel, log, tty, stderr)
	if err != nil {
		return err
	}
	failed, busy := false, false
	// A dry run of a large repository prints a line per package: write
	// them through a buffer, not a system call each.
	out := bufio.NewWriterSize(stdout, 64<<10)
	for _, r := range reports {
		printReport(out, r, cfg.File)
		if err := out.Flush(); err != nil {
			return fmt.Errorf("writing the report: %w", err)
		}
		if r.Err != nil && !errors.Is(r.Err, sync.ErrInterrupted) && !errors.Is(r.Err, sync.ErrHeld) {
			if isBusy(r.Err) {
				// Not a failure: said as such, for a cron job that mails
				// what it prints on stderr.
				busy = true
				fmt.Fprintf(stderr, "rpmirror: %s: BUSY, not failed: %s\n", r.Repo, oneLine(r.Err))
				continue
			}
			failed = true
			fmt.Fprintf(stderr, "rpmirror: %s: %s\n", r.Repo, oneLine(r.Err))
		}
	}
	switch {
	case ctx.Err() != nil:
		// Ctrl-C or SIGTERM: main says "interrupted" and exits 130.
		return ctx.Err()
	case failed:
		return errFailed
	case busy:
		return errBusy
	}
	return nil
}

// syncRepos syncs the selected repositories one after another.
func syncRepos(ctx context.Context, cfg *config.Config, sel []*config.Repo, dryRun bool, parallel int, log *slog.Logger, tty bool, stderr io.Writer) ([]*sync.Report, error) {
	var store *state.Store
	if dryRun {
		store = state.OpenExisting(cfg.StateDir)
	} else {
		var err error
		if store, err = state.Open(cfg.StateDir); err != nil {
			return nil, err
		}
	}
	fetcher := fetch.New(fetch.Options{
		Retries:        cfg.Download.Retries,
		ConnectTimeout: cfg.Download.ConnectTimeout,
		StallTimeout:   cfg.Download.StallTimeout,
		UserAgent:      "rpmirror/" + version,
		Logger:         log,
	})
	// Repositories are synced a few at a time: most syncs are no-ops that
	// wait on one small request, and several repos share the machine
	// well. Each still downloads with download.concurrency.
	progs := make([]*sync.Progress, len(sel))
	for i := range progs {
		progs[i] = &sync.Progress{}
	}
	// Bars on a terminal; otherwise nothing is drawn, and a long sync
	// logs its progress now and then.
	var stopProgress func()
	if tty {
		stopProgress = showProgress(stderr, progs)
	} else {
		stopProgress = logProgress(log, progs, 15*time.Second)
	}
	reports := make([]*sync.Report, len(sel))
	var g errgroup.Group
	g.SetLimit(max(parallel, 1))
	for i, r := range sel {
		g.Go(func() error {
			if ctx.Err() != nil {
				return nil
			}
			eng := sync.New(sync.Options{
				Store:           store,
				Fetcher:         fetcher,
				Logger:          log,
				Concurrency:     cfg.Download.Concurrency,
				MaxMetadataSize: cfg.Download.MaxMetadataSize,
				DryRun:          dryRun,
				Progress:        progs[i],
				BeforePublish:   awaitServe(store, r.Name, log),
			})
			reports[i] = eng.Sync(ctx, r)
			return nil
		})
	}
	g.Wait()
	stopProgress()
	var done []*sync.Report
	for _, r := range reports {
		if r != nil {
			done = append(done, r)
		}
	}
	return done, nil
}

// awaitServe is the sync.Options.BeforePublish of rpmirror sync and
// rollback for repo: beside an rpmirror serve on the same state_dir, it
// waits for the daemon's metalink clients (daemon.AwaitServe).
func awaitServe(store *state.Store, repo string, log *slog.Logger) func(context.Context, state.Revision) {
	return func(ctx context.Context, rev state.Revision) {
		daemon.AwaitServe(ctx, store, repo, rev.SHA256, log.With("repo", repo))
	}
}

// isBusy reports whether err is that of a command that found the
// repository (or one of its mirrors) held by another rpmirror process:
// not a failure of the repository, but nothing done by this run (exit
// code exitBusy). Errors joined (errors.Join) are busy only when each of
// them is: a lock held on one mirror does not hide another's failure.
func isBusy(err error) bool {
	switch x := err.(type) {
	case nil:
		return false
	case interface{ Unwrap() []error }:
		errs := x.Unwrap()
		for _, e := range errs {
			if !isBusy(e) {
				return false
			}
		}
		return len(errs) > 0
	case interface{ Is(error) bool }:
		if x.Is(state.ErrLocked) || x.Is(target.ErrLocked) {
			return true
		}
	}
	if err == state.ErrLocked || err == target.ErrLocked {
		return true
	}
	return isBusy(errors.Unwrap(err))
}

// fetched says what a sync downloaded, packages and metadata apart, in the
// same words whether it succeeded or not: a failed sync's "fetched 0
// packages (12.2 KiB)" read as packages' bytes, which were metadata's.
func fetched(r *sync.Report) string {
	from := ""
	if r.FromMirrors > 0 {
		// A mirror added beside others: what they held was not
		// downloaded again.
		from = fmt.Sprintf(", took %s from the other mirrors", count(r.FromMirrors, "package"))
	}
	return fmt.Sprintf("fetched %s (%s) and %s of metadata%s, verified %d", count(r.Fetched, "package"), human(r.PackageBytes), human(r.Bytes-r.PackageBytes), from, r.Verified)
}

// revisionOrNone is rev, or "(none)" for a repomd.xml without a
// <revision>, where a line must name one (the head line leaves it out).
func revisionOrNone(rev string) string {
	if rev == "" {
		return "(none)"
	}
	return printable(rev)
}

// printReport writes r's report; cfgFile, when known, is the
// configuration file the commands it suggests name.
func printReport(w io.Writer, r *sync.Report, cfgFile string) {
	head := r.Repo
	if r.Revision != "" {
		head += "  revision " + printable(r.Revision)
	}
	switch {
	case r.DryRun && r.Err == nil && r.NoChange:
		fmt.Fprintf(w, "%s  (dry run) every mirror is current\n", head)
	case r.DryRun && r.Err == nil:
		// The same words and numbers as the sync's line below.
		from := ""
		if r.WouldTakeFromMirrors > 0 {
			from = fmt.Sprintf(", would take %s from the other mirrors", count(r.WouldTakeFromMirrors, "package"))
		}
		fmt.Fprintf(w, "%s  (dry run) would fetch %s (%s) and %s of metadata%s\n", head, count(len(r.WouldFetch), "package"), human(r.WouldFetchBytes), human(r.Bytes), from)
		for _, p := range r.WouldFetch {
			writeLine(w, "    fetch    ", p)
		}
	case errors.Is(r.Err, sync.ErrHeld):
		he, _ := isHeld(r.Err)
		resume := "rpmirror resume --repo " + r.Repo
		if cfgFile != "" {
			resume = fmt.Sprintf("rpmirror resume -c %s --repo %s", cfgFile, r.Repo)
		}
		fmt.Fprintf(w, "%s  HELD: %s\n", head, he.Until(resume))
	case r.Skipped:
		fmt.Fprintf(w, "%s  SKIPPED: no usable upstream; nothing was changed\n", head)
	case isBusy(r.Err):
		fmt.Fprintf(w, "%s  BUSY: %s; nothing was changed by this run\n", head, oneLine(r.Err))
	case errors.Is(r.Err, sync.ErrInterrupted):
		fmt.Fprintf(w, "%s  interrupted after %s: %s\n", head, r.Duration.Round(time.Millisecond), fetched(r))
	case r.Err != nil:
		fmt.Fprintf(w, "%s  FAILED after %s: %s\n", head, r.Duration.Round(time.Millisecond), fetched(r))
	case r.NoChange:
		fmt.Fprintf(w, "%s  no change  %s\n", head, r.Duration.Round(time.Millisecond))
	default:
		fmt.Fprintf(w, "%s  %s  %s\n", head, fetched(r), r.Duration.Round(time.Millisecond))
	}
	if f := r.Filter; f != nil && f.Reused {
		fmt.Fprintf(w, "  filter   origin revision %s and the filter as when the mirrors' revision was written: not read again\n", revisionOrNone(f.OriginRevision))
	} else if f != nil {
		fmt.Fprintf(w, "  filter   origin revision %s: kept %d of %d packages; dropped %d by arch, %d by include, %d by exclude, %d by newest\n",
			revisionOrNone(f.OriginRevision), f.Kept, f.Packages, f.Arch, f.Include, f.Exclude, f.Newest)
		if len(f.Dropped) > 0 {
			fmt.Fprintf(w, "  filter   metadata not published (dnf reads the XML): %s\n", strings.Join(f.Dropped, ", "))
		}
		if len(f.Unknown) > 0 {
			fmt.Fprintf(w, "  filter   metadata carried that rpmirror does not know: %s\n", strings.Join(f.Unknown, ", "))
		}
	}
	if r.FromMirror != "" {
		verb := "was"
		switch {
		case r.DryRun:
			verb = "would be"
		case r.Err != nil:
			verb = "was to be"
		}
		fmt.Fprintf(w, "  origin   no usable upstream: the current verified revision %s taken from mirror %s on this machine\n", verb, r.FromMirror)
	}
	if len(r.Upstreams) > 1 || r.Skipped || r.FromMirror != "" {
		for _, u := range r.Upstreams {
			line := fmt.Sprintf("  upstream %s  %s", u.URL, u.State)
			if u.Files > 0 && u.State != source.Used {
				line += fmt.Sprintf(" (%d files)", u.Files)
			}
			if u.Err != nil {
				line += ": " + oneLine(u.Err)
			}
			fmt.Fprintln(w, line)
		}
	}
	for _, m := range r.Mirrors {
		switch {
		case r.DryRun:
			mp := r.Plan.Mirror(m.Name)
			switch {
			case m.UpToDate:
				snap := ""
				if m.WouldSnapshot {
					// Snapshots turned on for a current mirror:
					// the sync takes one of what it serves.
					snap = ", would snapshot the revision it serves"
				}
				fmt.Fprintf(w, "  %-12s current%s\n", m.Name, snap)
			case mp != nil && mp.Refused != nil:
				fmt.Fprintf(w, "  %-12s would fail: %s\n", m.Name, oneLine(mp.Refused))
			case mp == nil && (r.Skipped || r.Err != nil):
				// Not planned: the run stopped before (an operator
				// tester's skipped dry run said "would publish 0 files").
				fmt.Fprintf(w, "  %-12s unchanged\n", m.Name)
			default:
				snap := ""
				if m.WouldSnapshot {
					// A tester's dry run did not say so; the sync then
					// made one. Nor is it said when the sync takes
					// none (the newest snapshot is of the revision
					// already: the first sync after a resume).
					snap = ", and snapshot the revision"
				}
				fmt.Fprintf(w, "  %-12s would publish %s, delete %d%s%s\n", m.Name, count(len(m.Publish), "file"), len(m.Delete), checkedInPlace(m), snap)
			}
			if mp != nil {
				// What the plan does to the mirror, a line each, and why.
				first := true
				for l := range mp.All() {
					if !first {
						writeLine(w, "  ", l)
					}
					first = false
				}
				break
			}
			for _, p := range m.Publish {
				fmt.Fprintf(w, "    publish  %s\n", p)
			}
			for _, p := range m.Delete {
				fmt.Fprintf(w, "    delete   %s\n", p)
			}
		case errors.Is(m.Err, sync.ErrInterrupted):
			fmt.Fprintf(w, "  %-12s interrupted\n", m.Name)
		case m.Err != nil:
			fmt.Fprintf(w, "  %-12s FAILED: %s\n", m.Name, oneLine(m.Err))
		case m.UpToDate:
			fmt.Fprintf(w, "  %-12s current, deleted %d\n", m.Name, m.Deleted)
		case (r.Skipped || r.Err != nil) && m.Published == 0 && m.Deleted == 0:
			// The sync stopped before it wrote anything here.
			fmt.Fprintf(w, "  %-12s unchanged\n", m.Name)
		default:
			fmt.Fprintf(w, "  %-12s published %s, deleted %d%s\n", m.Name, count(m.Published, "file"), m.Deleted, checkedInPlace(m))
		}
	}
}

// checkedInPlace says how many of the packages a mirror kept were read
// back and checked where they are (a mirror rpmirror did not publish),
// or nothing when none was.
func checkedInPlace(m *sync.MirrorReport) string {
	if m.Checked == 0 {
		return ""
	}
	return fmt.Sprintf(", checked %d kept packages in place", m.Checked)
}

// writeLine writes prefix, s and a newline: a dry run's report of a
// large repository is hundreds of thousands of these lines.
func writeLine(w io.Writer, prefix, s string) {
	io.WriteString(w, prefix)
	io.WriteString(w, s)
	io.WriteString(w, "\n")
}

func oneLine(err error) string { return errLine(err) }

// count says n of noun, in the plural unless n is 1: "1 package",
// "0 packages".
func count[N int | int64](n N, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func human(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
