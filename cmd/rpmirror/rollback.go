package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"
	"slices"
	"time"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/state"
	"github.com/rpmirror/rpmirror/sync"
)

// runRollback republishes a snapshot as a repo's current content on every
// written mirror and holds the repo there: rpmirror rollback -c FILE
// --repo NAME --to SNAPSHOT.
func runRollback(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flags("rollback", stderr)
	file := fs.String("c", "", "configuration `FILE`")
	repo := fs.String("repo", "", "the repo `NAME` to roll back")
	to := fs.String("to", "", "the `SNAPSHOT` to roll back to (rpmirror snapshots lists them)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *repo == "":
		return &usageError{msg: "rollback: --repo NAME is required"}
	case *to == "":
		return &usageError{msg: "rollback: --to SNAPSHOT is required (rpmirror snapshots lists them)"}
	case !config.ValidSnapshotName(*to):
		return &usageError{msg: fmt.Sprintf("rollback: %q is not a snapshot name (like 20261126T120000Z; rpmirror snapshots lists them)", *to)}
	}
	cfg, r, store, err := loadOneRepo(*file, *repo)
	if err != nil {
		return err
	}
	log := newLogger(stderr, slog.LevelWarn, "text")
	eng := sync.New(sync.Options{Store: store, Logger: log, MaxMetadataSize: cfg.Download.MaxMetadataSize, BeforePublish: awaitServe(store, r.Name, log)})
	h, reps, err := eng.Rollback(ctx, r, *to, whoAmI())
	for _, m := range reps {
		if m.Err != nil {
			fmt.Fprintf(stdout, "%s: mirror %s: FAILED to republish snapshot %s: %s\n", r.Name, m.Mirror, m.Snapshot, oneLine(m.Err))
		} else {
			fmt.Fprintf(stdout, "%s: mirror %s: serves snapshot %s (revision %s)\n", r.Name, m.Mirror, m.Snapshot, revisionOrNone(h.Revision))
		}
	}
	if h != nil {
		fmt.Fprintf(stdout, "%s: held at snapshot %s by %s: no sync moves it forward until rpmirror resume -c %s --repo %s\n", r.Name, h.Snapshot, h.By, cfg.File, r.Name)
	}
	if err != nil && slices.ContainsFunc(reps, func(m sync.RollbackReport) bool { return m.Err != nil }) {
		return errFailed // each mirror's failure is printed above
	}
	if isBusy(err) {
		return fmt.Errorf("%s: %w: nothing was changed; run the rollback again once it is done", r.Name, err)
	}
	if err != nil && ctx.Err() != nil {
		// main says "interrupted"; what it left is said here.
		fmt.Fprintf(stderr, "rpmirror: %s: %s\n", r.Name, oneLine(err))
		return ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("%s: %w", r.Name, err)
	}
	return nil
}

// runResume removes a repo's hold: rpmirror resume -c FILE --repo NAME.
func runResume(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flags("resume", stderr)
	file := fs.String("c", "", "configuration `FILE`")
	repo := fs.String("repo", "", "the repo `NAME` to resume")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *repo == "" {
		return &usageError{msg: "resume: --repo NAME is required"}
	}
	cfg, r, store, err := loadOneRepo(*file, *repo)
	if err != nil {
		return err
	}
	eng := sync.New(sync.Options{Store: store, Logger: newLogger(stderr, slog.LevelWarn, "text"), MaxMetadataSize: cfg.Download.MaxMetadataSize})
	h, err := eng.Resume(ctx, r)
	switch {
	case isBusy(err):
		// Held or not, as the state_dir says now (the other process may
		// be a sync of a repository that is not held).
		if held, herr := store.LoadHold(r.Name); herr == nil && held != nil {
			return fmt.Errorf("%s: %w: nothing was changed, the repository is still held; run resume again once it is done", r.Name, err)
		}
		return fmt.Errorf("%s: %w: nothing was changed (the repository is not held now); run resume again once it is done if it should be", r.Name, err)
	case err != nil:
		return fmt.Errorf("%s: %w", r.Name, err)
	case h == nil:
		fmt.Fprintf(stdout, "%s: not held: nothing to resume\n", r.Name)
	default:
		fmt.Fprintf(stdout, "%s: resumed (it was held at snapshot %s by %s since %s): the next sync brings its mirrors to the origin's revision\n",
			r.Name, h.Snapshot, h.By, h.At.UTC().Format(time.RFC3339))
	}
	return nil
}

func loadOneRepo(file, name string) (*config.Config, *config.Repo, *state.Store, error) {
	cfg, err := loadConfig(file)
	if err != nil {
		return nil, nil, nil, err
	}
	sel, err := selectRepos(cfg, []string{name})
	if err != nil {
		return nil, nil, nil, err
	}
	store, err := state.Open(cfg.StateDir)
	if err != nil {
		return nil, nil, nil, err
	}
	return cfg, sel[0], store, nil
}

// whoAmI names who runs the command for a hold: the user sudo was run by
// when it was, else the user, at this host.
func whoAmI() string {
	name := os.Getenv("SUDO_USER")
	if name == "" {
		if u, err := user.Current(); err == nil {
			name = u.Username
		} else {
			name = fmt.Sprintf("uid %d", os.Getuid())
		}
	}
	host, err := os.Hostname()
	if err != nil {
		host = "unknown-host"
	}
	return name + "@" + host
}

// isHeld reports whether err says a repository is held.
func isHeld(err error) (*sync.HeldError, bool) {
	var he *sync.HeldError
	ok := errors.As(err, &he)
	return he, ok
}
