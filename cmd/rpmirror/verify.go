package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/fetch"
	"github.com/rpmirror/rpmirror/internal/safefs"
	snaps "github.com/rpmirror/rpmirror/snapshot"
	"github.com/rpmirror/rpmirror/state"
	"github.com/rpmirror/rpmirror/sync"
	"github.com/rpmirror/rpmirror/target"
	"github.com/rpmirror/rpmirror/target/targets"
)

func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flags("verify", stderr)
	rf := addRepoFlags(fs, "verify")
	repair := fs.Bool("repair", false, "put back every missing or damaged file of the served revision, from another mirror on this machine or else the origin, verified, atomically")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, sel, err := rf.load()
	if err != nil {
		return err
	}
	if *repair {
		return runRepair(ctx, cfg, sel, stdout, stderr)
	}
	bad := 0
	for _, r := range sel {
		opts, err := sync.CheckOptionsFor(r)
		if err != nil {
			return fmt.Errorf("%s: %w", r.Name, err)
		}
		opts.Signatures = sync.RecordedSignatures(state.OpenExisting(cfg.StateDir), r)
		opts.Keys = sync.RecordedKeys(state.OpenExisting(cfg.StateDir), r)
		opts.Verified = sync.VerifiedDigests(state.OpenExisting(cfg.StateDir), r)
		keyring, repoKeyring := opts.Keyring, opts.RepoKeyring
		if !slices.ContainsFunc(r.Mirrors, config.Mirror.Written) {
			// Said, not silent: verify printed nothing and exited 0.
			fmt.Fprintf(stdout, "%s: no written mirror, nothing to verify (rpmirror serve probes the %d probe-only mirrors)\n", r.Name, len(r.Mirrors))
			continue
		}
		for _, m := range r.Mirrors {
			if !m.Written() {
				continue
			}
			tg, err := targets.Open(ctx, m)
			if err != nil {
				fmt.Fprintf(stdout, "%s/%s: %s\n", r.Name, m.Name, errLine(err))
				bad++
				continue
			}
			problems, st, err := sync.CheckMirrorWith(ctx, tg, opts)
			if err != nil {
				err = sync.ExplainNoRepomd(err, state.OpenExisting(cfg.StateDir), r.Name, m.Name)
				fmt.Fprintf(stdout, "%s/%s: %s\n", r.Name, m.Name, errLine(err))
				bad++
				continue
			}
			if uerr := st.Unverified(opts.Verified); uerr != nil {
				problems = append(problems, sync.Problem{Path: sync.RepomdPath, Err: uerr})
			}
			for _, p := range problems {
				fmt.Fprintf(stdout, "%s/%s: %s: %s\n", r.Name, m.Name, p.Path, errLine(p.Err))
			}
			bad += len(problems)
			verdict := "ok"
			if len(problems) > 0 {
				verdict = count(len(problems), "problem")
			}
			sigs := "signatures not checked (no gpgkeys)"
			if len(keyring) > 0 {
				sigs = "signatures checked"
			}
			if len(repoKeyring) > 0 {
				sigs += ", repomd.xml signature checked"
			}
			fmt.Fprintf(stdout, "%s/%s: revision %s: %s, %s, %s: %s\n", r.Name, m.Name, revisionOrNone(st.Revision), count(st.Metadata, "metadata file"), count(st.Packages, "package"), sigs, verdict)
			bad += verifySnapshots(ctx, stdout, r.Name, m.Name, tg, opts)
		}
	}
	if bad > 0 {
		return errFailed
	}
	return nil
}

// runRepair is verify --repair: every written mirror of every selected
// repository is checked, and what is missing or damaged is fetched again.
func runRepair(ctx context.Context, cfg *config.Config, sel []*config.Repo, stdout, stderr io.Writer) error {
	store, err := state.Open(cfg.StateDir)
	if err != nil {
		return err
	}
	log := newLogger(stderr, slog.LevelWarn, "text")
	fetcher := fetch.New(fetch.Options{
		Retries:        cfg.Download.Retries,
		ConnectTimeout: cfg.Download.ConnectTimeout,
		StallTimeout:   cfg.Download.StallTimeout,
		UserAgent:      "rpmirror/" + version,
		Logger:         log,
	})
	bad, busy := 0, false
	for _, r := range sel {
		if !slices.ContainsFunc(r.Mirrors, config.Mirror.Written) {
			fmt.Fprintf(stdout, "%s: no written mirror, nothing to repair (rpmirror serve probes the %d probe-only mirrors)\n", r.Name, len(r.Mirrors))
			continue
		}
		eng := sync.New(sync.Options{Store: store, Fetcher: fetcher, Logger: log, MaxMetadataSize: cfg.Download.MaxMetadataSize})
		reps, err := eng.Repair(ctx, r)
		for _, m := range reps {
			name := r.Name + "/" + m.Name
			if isBusy(m.Err) {
				fmt.Fprintf(stdout, "%s: BUSY, not repaired: %s\n", name, errLine(m.Err))
				busy = true
				continue
			}
			if m.Err != nil {
				fmt.Fprintf(stdout, "%s: %s\n", name, errLine(m.Err))
				bad++
				continue
			}
			for _, p := range m.Replaced {
				fmt.Fprintf(stdout, "%s: replaced %s (it was: %s)\n", name, p.Path, errLine(p.Err))
			}
			repoMirror := name
			for _, name := range m.Unindexed {
				fmt.Fprintf(stdout, "%s: removed snapshot %s from snapshots/index.json (its directory is gone)\n", repoMirror, name)
			}
			if l := m.Latest; l != nil {
				fmt.Fprintf(stdout, "%s: %s\n", repoMirror, rewroteLatest(l))
			}
			for _, p := range m.MadeReadable {
				fmt.Fprintf(stdout, "%s: made %s readable (it was: %s)\n", name, p.Path, unreadable(p.Err))
			}
			for _, p := range m.Left {
				fmt.Fprintf(stdout, "%s: %s: %s\n", name, p.Path, errLine(p.Err))
			}
			bad += len(m.Left)
			verdict := "ok"
			if len(m.Left) > 0 {
				verdict = count(len(m.Left), "problem") + " left (neither another mirror here nor the origin gave an intact copy; a sync publishes the origin's current revision once the origin serves it)"
				if slices.ContainsFunc(m.Left, func(p sync.Problem) bool { var se *safefs.SymlinkError; return errors.As(p.Err, &se) }) {
					// Neither a repair nor a sync writes through one.
					verdict = count(len(m.Left), "problem") + " left (remove the symlinks named above, then run verify --repair again)"
				}
			}
			readable := ""
			if len(m.MadeReadable) > 0 {
				readable = fmt.Sprintf(", %d made readable", len(m.MadeReadable))
			}
			fmt.Fprintf(stdout, "%s: revision %s: %s replaced%s: %s\n", name, revisionOrNone(m.Revision), count(len(m.Replaced), "file"), readable, verdict)
			bad += brokenSnapshots(ctx, stdout, r, m.Name)
		}
		switch {
		case isBusy(err):
			fmt.Fprintf(stdout, "%s: BUSY, not repaired: %s\n", r.Name, errLine(err))
			busy = true
		case err != nil:
			fmt.Fprintf(stdout, "%s: %s\n", r.Name, errLine(err))
			bad++
		}
	}
	switch {
	case bad > 0:
		return errFailed
	case busy:
		return errBusy
	}
	return nil
}

// brokenSnapshots names, after a repair, each snapshot of mirror that is
// still broken (a file missing or not what it should be that the repair
// could not put back) and how to repair it, and returns how
// many there are. A repair said "ok" and exited 0 while verify called
// them broken (an operator's test).
func brokenSnapshots(ctx context.Context, w io.Writer, r *config.Repo, mirror string) int {
	i := slices.IndexFunc(r.Mirrors, func(m config.Mirror) bool { return m.Name == mirror })
	if i < 0 {
		return 0
	}
	opts, err := sync.CheckOptionsFor(r)
	if err != nil {
		return 0 // the repair itself said so
	}
	tg, err := targets.Open(ctx, r.Mirrors[i])
	if err != nil {
		return 0
	}
	c, err := sync.CheckSnapshots(ctx, tg, r.Name, opts)
	if err != nil {
		fmt.Fprintf(w, "%s/%s: snapshots: %s\n", r.Name, mirror, errLine(err))
		return 1
	}
	n := 0
	// What the index and latest.txt still name that is gone: the repair
	// left them as they were (the snapshot the repository is held at is
	// gone), and each says what mends it.
	for _, p := range c.Files {
		if staleListing(p.Err) {
			fmt.Fprintf(w, "%s/%s: %s: %s\n", r.Name, mirror, p.Path, errLine(p.Err))
			n++
		}
	}
	for _, s := range c.Index.Snapshots {
		problems := c.Broken[s.Name]
		if len(problems) == 0 {
			continue
		}
		n++
		pinned := ""
		if s.Pinned || (r.Snapshots != nil && slices.Contains(r.Snapshots.Pinned, s.Name)) {
			// A tester removed a pinned one as told, and nothing said
			// what that lost.
			pinned = " (it is pinned: jobs pinned to it lose it, and no sync makes it again)"
		}
		fmt.Fprintf(w, "%s/%s: snapshot %s is still broken (%s: %s): the repair could not put it back; remove %s to repair it%s\n",
			r.Name, mirror, s.Name, problems[0].Path, errLine(problems[0].Err), snaps.Path(s.Name), pinned)
	}
	return n
}

// staleListing reports whether err is index.json or latest.txt naming
// a snapshot that is gone, or latest.txt missing (snapshot.Stale).
func staleListing(err error) bool {
	var g *snaps.GoneError
	var l *snaps.LatestError
	return errors.As(err, &g) || errors.As(err, &l)
}

// rewroteLatest says what verify --repair did to a latest.txt that was
// missing or named a snapshot that is gone (snapshot.Tidy).
func rewroteLatest(l *snaps.LatestError) string {
	was := "it was missing"
	if l.Names != "" {
		was = "it named " + l.Names + ", whose directory is gone"
	}
	switch {
	case l.Latest == "":
		return fmt.Sprintf("removed %s (%s, and no snapshot is left)", snaps.LatestPath, was)
	case l.Held:
		return fmt.Sprintf("wrote %s again, naming %s, the snapshot the repository is held at (%s)", snaps.LatestPath, l.Latest, was)
	}
	return fmt.Sprintf("wrote %s again, naming %s, the newest snapshot, as a sync does (%s)", snaps.LatestPath, l.Latest, was)
}

// unreadable says what was wrong with a file made readable: its mode,
// without the hint that verify --repair mends it, which it just did.
func unreadable(err error) string {
	var nr *target.NotReadableError
	if errors.As(err, &nr) {
		return fmt.Sprintf("mode %04o", uint32(nr.Mode.Perm()))
	}
	return errLine(err)
}

// verifySnapshots checks every snapshot of a mirror as the mirror is
// checked, prints each problem with the snapshot it is in and a summary
// line, and returns the number of problems.
func verifySnapshots(ctx context.Context, w io.Writer, repo, mirror string, tg target.Target, opts sync.CheckOptions) int {
	c, err := sync.CheckSnapshots(ctx, tg, repo, opts)
	if err != nil {
		fmt.Fprintf(w, "%s/%s: snapshots: %s\n", repo, mirror, errLine(err))
		return 1
	}
	x := c.Index
	if len(x.Snapshots) == 0 && len(c.Files) == 0 {
		return 0
	}
	bad := len(c.Files)
	// index.json or latest.txt naming a snapshot that is gone (removed
	// by hand): verify said the snapshots were ok while CI jobs following
	// latest.txt got 404 (an operator tester's).
	var gone []string
	latest := ""
	for _, p := range c.Files {
		fmt.Fprintf(w, "%s/%s: %s: %s\n", repo, mirror, p.Path, errLine(p.Err))
		var g *snaps.GoneError
		var l *snaps.LatestError
		switch {
		case errors.As(p.Err, &g):
			gone = append(gone, g.Name)
		case errors.As(p.Err, &l) && l.Names == "":
			latest = snaps.LatestPath + " missing"
		case errors.As(p.Err, &l):
			latest = snaps.LatestPath + " names " + l.Names + ", which is gone"
		}
	}
	// A snapshot whose only problems are files the web server cannot
	// read is not broken: verify --repair mends it, where removing it,
	// the repair of a broken one, would lose a good snapshot.
	var broken, unreadable []string
	for _, s := range x.Snapshots {
		problems := c.Broken[s.Name]
		if len(problems) == 0 {
			continue
		}
		modeOnly := true
		for _, p := range problems {
			fmt.Fprintf(w, "%s/%s: snapshot %s: %s: %s\n", repo, mirror, s.Name, p.Path, errLine(p.Err))
			var nr *target.NotReadableError
			if !errors.As(p.Err, &nr) {
				modeOnly = false
			}
		}
		if modeOnly {
			unreadable = append(unreadable, s.Name)
		} else {
			broken = append(broken, s.Name)
		}
		bad += len(problems)
	}
	summary := fmt.Sprintf("%s/%s: %s ok", repo, mirror, count(len(x.Snapshots)-len(broken)-len(unreadable), "snapshot"))
	if len(unreadable) > 0 {
		summary += fmt.Sprintf(", %d with files the web server cannot read (rpmirror verify --repair makes them readable): %s", len(unreadable), strings.Join(unreadable, ", "))
	}
	if len(broken) > 0 {
		summary += fmt.Sprintf(", %d broken: %s", len(broken), strings.Join(broken, ", "))
	}
	if len(gone) > 0 {
		summary += fmt.Sprintf(", %d gone but named by %s: %s", len(gone), snaps.IndexPath, strings.Join(gone, ", "))
	}
	if latest != "" {
		summary += ", " + latest
	}
	fmt.Fprintln(w, summary)
	return bad
}
