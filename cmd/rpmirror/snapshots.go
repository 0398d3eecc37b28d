package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/rpmirror/rpmirror/config"
	snaps "github.com/rpmirror/rpmirror/snapshot"
	"github.com/rpmirror/rpmirror/target"
	"github.com/rpmirror/rpmirror/target/targets"
)

// runSnapshots lists the snapshots of each written mirror.
func runSnapshots(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flags("snapshots", stderr)
	rf := addRepoFlags(fs, "list")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, sel, err := rf.load()
	if err != nil {
		return err
	}
	now := time.Now()
	failed := false
	for _, r := range sel {
		setting := "snapshots is not set"
		if s := r.Snapshots; s != nil {
			setting = fmt.Sprintf("keep %d, keep_for %s, %d pinned in %s", s.Keep, s.KeepFor, len(s.Pinned), cfg.File)
		}
		fmt.Fprintf(stdout, "%s  (%s)\n", r.Name, setting)
		for _, m := range r.Mirrors {
			if !m.Written() {
				continue
			}
			if err := listSnapshots(ctx, stdout, cfg, r, m, now); err != nil {
				fmt.Fprintf(stderr, "rpmirror: %s: mirror %s: %s\n", r.Name, m.Name, errLine(err))
				failed = true
			}
		}
	}
	if failed {
		return errFailed
	}
	return nil
}

func listSnapshots(ctx context.Context, w io.Writer, cfg *config.Config, r *config.Repo, m config.Mirror, now time.Time) error {
	tg, err := targets.Open(ctx, m)
	if err != nil {
		return err
	}
	x, err := snaps.Read(ctx, tg, r.Name)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "  mirror %s  %s\n", m.Name, tg)
	if len(x.Snapshots) == 0 {
		fmt.Fprintln(w, "    no snapshots")
		return nil
	}
	// A package is shared when another snapshot, or the current tree,
	// holds the same file (the same location and checksum): on a local
	// mirror, the same inode, which removing the snapshot does not free
	// (a tester's latest snapshot counted all it shares with the tree).
	// In object storage every snapshot stores its own copy: nothing is.
	shares := tg.Properties().SnapshotsShareFiles
	pkgs := make([][]snaps.Package, len(x.Snapshots))
	holders := map[snaps.Package]int{}
	if shares {
		tree, err := snaps.TreePackages(ctx, tg, cfg.Download.MaxMetadataSize)
		if err != nil {
			return err
		}
		for _, p := range tree {
			holders[p]++
		}
	}
	// A snapshot that cannot be read is a row of its own, marked, not
	// the end of the listing (an operator tester's: one snapshot without
	// its repomd.xml hid every other).
	unread := make([]error, len(x.Snapshots))
	var firstErr error
	for i, s := range x.Snapshots {
		if pkgs[i], err = snaps.Packages(ctx, tg, s.Name, cfg.Download.MaxMetadataSize); err != nil {
			if ctx.Err() != nil {
				return err
			}
			unread[i] = err
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		for _, p := range pkgs[i] {
			holders[p]++
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "    NAME\tREVISION\tAGE\tPINNED\tPACKAGES\tNOT SHARED")
	for i, s := range x.Snapshots {
		var own int64
		for _, p := range pkgs[i] {
			if holders[p] == 1 || !shares {
				own += max(p.Size, 0)
			}
		}
		pinned := "no"
		switch {
		case r.Snapshots != nil && slices.Contains(r.Snapshots.Pinned, s.Name):
			// Pinned in the file: index.json says so from the next sync
			// on, pruning already goes by the file.
			pinned = "yes (" + snaps.PinnedByConfig + ")"
		case s.Pinned && s.PinnedBy != snaps.PinnedByConfig:
			pinned = "yes (" + s.PinnedBy + ")"
		}
		latest := ""
		if s.Name == x.Latest {
			latest = " (latest)"
		}
		if s.Name == x.Held {
			latest += " (held)"
		}
		if unread[i] != nil {
			fmt.Fprintf(tw, "    %s%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, latest, revisionOrNone(s.Revision), age(now.Sub(s.Published)), pinned, "?", "? (cannot be read: see below)")
			continue
		}
		fmt.Fprintf(tw, "    %s%s\t%s\t%s\t%s\t%d\t%s\n", s.Name, latest, revisionOrNone(s.Revision), age(now.Sub(s.Published)), pinned, len(pkgs[i]), human(own))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for i, err := range unread {
		if err != nil {
			fmt.Fprintf(w, "    snapshot %s cannot be read: %s (rpmirror verify names what is wrong; verify --repair mends it, or says to remove it)\n", x.Snapshots[i].Name, errLine(err))
		}
	}
	if firstErr != nil {
		if !shares {
			fmt.Fprintln(w, "    (each snapshot stores its own copy of every file here: NOT SHARED counts all its packages, unless the store deduplicates)")
		}
		return fmt.Errorf("snapshot %s: %w", x.Snapshots[slices.IndexFunc(unread, func(e error) bool { return e != nil })].Name, firstErr)
	}
	if !shares {
		fmt.Fprintln(w, "    (each snapshot stores its own copy of every file here: NOT SHARED counts all its packages, unless the store deduplicates)")
	}
	return nil
}

// runSnapshot pins or unpins one snapshot on every written mirror of a
// repo: rpmirror snapshot pin|unpin -c FILE --repo NAME SNAP.
func runSnapshot(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flags("snapshot", stderr)
	file := fs.String("c", "", "configuration `FILE`")
	repo := fs.String("repo", "", "the repo `NAME` whose snapshot to pin or unpin")
	verb := ""
	if len(args) > 0 && (args[0] == "pin" || args[0] == "unpin") {
		verb, args = args[0], args[1:]
	}
	rest, err := parseFlagsAndArgs(fs, args)
	if err != nil {
		return err
	}
	switch {
	case verb == "":
		return &usageError{msg: "snapshot: want pin or unpin: rpmirror snapshot pin|unpin -c FILE --repo NAME SNAPSHOT"}
	case len(rest) != 1:
		return &usageError{msg: fmt.Sprintf("snapshot %s: want one snapshot name, found %d arguments", verb, len(rest))}
	case *repo == "":
		return &usageError{msg: fmt.Sprintf("snapshot %s: --repo NAME is required", verb)}
	case !config.ValidSnapshotName(rest[0]):
		return &usageError{msg: fmt.Sprintf("snapshot %s: %q is not a snapshot name (like 20261126T120000Z; rpmirror snapshots lists them)", verb, rest[0])}
	}
	name := rest[0]
	cfg, err := loadConfig(*file)
	if err != nil {
		return err
	}
	sel, err := selectRepos(cfg, []string{*repo})
	if err != nil {
		return err
	}
	r := sel[0]
	setting := r.Snapshots
	if setting == nil {
		setting = &config.Snapshots{}
	}
	found, failed, busy := 0, false, false
	for _, m := range r.Mirrors {
		if !m.Written() {
			continue
		}
		changed, err := setPin(ctx, m, r.Name, setting, cfg.File, name, verb == "pin")
		switch {
		case errors.Is(err, snaps.ErrNotFound):
			fmt.Fprintf(stderr, "rpmirror: %s: mirror %s has no snapshot %s\n", r.Name, m.Name, name)
		case isBusy(err):
			// Not a failure: a sync holds the mirror. Pinning again is
			// safe, so the caller may simply retry (exit 75).
			fmt.Fprintf(stderr, "rpmirror: %s: mirror %s: BUSY, not %sned: %v\n", r.Name, m.Name, verb, err)
			busy = true
		case err != nil:
			fmt.Fprintf(stderr, "rpmirror: %s: mirror %s: %v\n", r.Name, m.Name, err)
			failed = true
		case !changed && verb == "pin":
			// Already as asked: not a failure, so that a script may
			// pin (or unpin) again safely.
			found++
			fmt.Fprintf(stdout, "%s: mirror %s: snapshot %s was already pinned\n", r.Name, m.Name, name)
		case !changed:
			found++
			fmt.Fprintf(stdout, "%s: mirror %s: snapshot %s was not pinned\n", r.Name, m.Name, name)
		default:
			found++
			fmt.Fprintf(stdout, "%s: mirror %s: snapshot %s %sned\n", r.Name, m.Name, name, verb)
		}
	}
	switch {
	case failed:
		return errFailed
	case busy:
		// The mirrors not held were done; those held may hold the
		// snapshot too: try again later.
		return errBusy
	case found == 0:
		return fmt.Errorf("%s: no mirror has a snapshot %s: %w", r.Name, name, snaps.ErrNotFound)
	}
	return nil
}

func setPin(ctx context.Context, m config.Mirror, repo string, setting *config.Snapshots, file, name string, pin bool) (changed bool, err error) {
	tg, err := targets.Open(ctx, m)
	if err != nil {
		return false, err
	}
	unlock, err := tg.Lock(ctx)
	if errors.Is(err, target.ErrLocked) {
		return false, fmt.Errorf("%w: a sync is writing it; nothing was changed on it; try again when it is done", err)
	}
	if err != nil {
		return false, err
	}
	defer unlock()
	return snaps.SetPin(ctx, tg, repo, setting, file, name, pin)
}

// parseFlagsAndArgs parses fs from args, allowing arguments that are not
// flags before, between and after the flags, and returns them.
func parseFlagsAndArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &usageError{msg: err.Error()}
		}
		if fs.NArg() == 0 {
			return rest, nil
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// age is how old a snapshot is, as a person reads it in a table: seconds
// under a minute, then minutes, hours and minutes under two days, then
// days and hours ("45s", "12m", "5h07m", "3d04h"), rounded down.
func age(d time.Duration) string {
	switch {
	case d < 0:
		return "0s" // published by a host whose clock is ahead
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return fmt.Sprintf("%dd%02dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
}
