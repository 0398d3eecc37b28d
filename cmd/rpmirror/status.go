package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/fetch"
	"github.com/rpmirror/rpmirror/state"
)

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flags("status", stderr)
	rf := addRepoFlags(fs, "show")
	runs := intAtLeast(fs, "runs", 5, 0, "show the last `N` runs of each repo")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	// Status only reads: state_dir may be read-only to it.
	cfg, sel, err := rf.loadToRead()
	if err != nil {
		return err
	}
	store := state.OpenExisting(cfg.StateDir)
	now := time.Now()
	for _, r := range sel {
		st, err := store.Load(r.Name)
		var corrupt *state.CorruptError
		if errors.As(err, &corrupt) {
			fmt.Fprintf(stdout, "%s  %s; the next sync rebuilds it from the mirrors\n", r.Name, errLine(corrupt))
		} else if err != nil {
			return err
		}
		origin := fetch.Redact(r.OriginDesc())
		if r.OriginMetalink == "" && r.OriginMirrorlist == "" && len(r.Origins) > 1 {
			// Every upstream, not the first alone (an operator
			// tester's), in the order they are tried.
			var rest []string
			for _, u := range r.Origins[1:] {
				rest = append(rest, fetch.Redact(u))
			}
			origin += " (then " + strings.Join(rest, ", ") + ")"
		}
		fmt.Fprintf(stdout, "%s  origin %s\n", r.Name, origin)
		if h, err := store.LoadHold(r.Name); err != nil {
			fmt.Fprintf(stdout, "  held         %v\n", err)
		} else if h != nil {
			fmt.Fprintf(stdout, "  HELD         at snapshot %s (revision %s) by %s since %s: syncs skip it until rpmirror resume -c %s --repo %s\n",
				h.Snapshot, revisionOrNone(h.Revision), h.By, ago(now, h.At), cfg.File, r.Name)
			if h.Done.IsZero() {
				// Status only reads: it does not glance at the lock.
				fmt.Fprintf(stdout, "  rollback     not done: under way now, or it stopped before it was done (then run rpmirror rollback -c %s --repo %s --to %s again, or resume)\n",
					cfg.File, r.Name, h.Snapshot)
			}
		}
		if v, err := store.LoadVerified(r.Name); err != nil {
			fmt.Fprintf(stdout, "  verified     %v\n", err)
		} else if cur := v.Current(); cur == nil {
			fmt.Fprintln(stdout, "  verified     no revision yet")
		} else {
			fmt.Fprintf(stdout, "  verified     revision %s, verified %s", revisionOrNone(cur.Revision), ago(now, cur.VerifiedAt))
			earlier := v.Revisions[1:]
			for _, e := range earlier[:min(len(earlier), statusEarlier)] {
				fmt.Fprintf(stdout, "; earlier %s, superseded %s", revisionOrNone(e.Revision), ago(now, e.SupersededAt))
			}
			if n := len(earlier) - statusEarlier; n > 0 {
				// Up to 32 are kept: one line, not a screen of them.
				fmt.Fprintf(stdout, "; and %d more before", n)
			}
			fmt.Fprintln(stdout)
		}
		for _, m := range r.Mirrors {
			if !m.Written() {
				fmt.Fprintf(stdout, "  %-12s probe-only  %s\n", m.Name, fetch.Redact(m.URL))
				continue
			}
			ms := st.Mirrors[m.Name]
			if ms == nil || ms.RepomdSHA256 == "" { // a revision may have no <revision>
				fmt.Fprintf(stdout, "  %-12s never synced  %s\n", m.Name, where(m))
				continue
			}
			fmt.Fprintf(stdout, "  %-12s revision %s  published %s  last checked %s  %d files pending prune  %s\n",
				m.Name, revisionOrNone(ms.Revision), ago(now, ms.PublishedAt), ago(now, ms.CheckedAt), len(ms.Pending), where(m))
		}
		n := len(st.Runs)
		for i := max(0, n-*runs); i < n; i++ {
			run := st.Runs[i]
			// run.Bytes counts the metadata too: "6 packages (59.1 KiB)"
			// read as the packages' size, which sync's summary gives as
			// 47.0 KiB beside 12.2 KiB of metadata.
			what := fmt.Sprintf("fetched %d packages and metadata, %s in all, verified %d", run.Fetched, human(run.Bytes), run.Verified)
			if run.NoChange {
				what = "no change"
			}
			result := "ok"
			switch {
			case run.Cancelled:
				result = "interrupted"
			case run.Skipped: // as sync printed it: not a failure
				result = "SKIPPED: " + errLine(errors.New(run.Error))
			case run.Error != "":
				result = "FAILED: " + errLine(errors.New(run.Error)) // as the origin said it
			case run.FromMirror != "":
				result = "ok, no usable upstream: the current verified revision taken from mirror " + run.FromMirror
			}
			fmt.Fprintf(stdout, "  run %s  %s  %s  %s\n", run.Start.UTC().Format(time.RFC3339), run.Duration.Round(time.Millisecond), what, result)
		}
		if n == 0 {
			fmt.Fprintln(stdout, "  no runs recorded")
		}
	}
	return nil
}

func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.RFC3339) + " (" + now.Sub(t).Round(time.Second).String() + " ago)"
}

// where names the place a written mirror is kept: its directory, or its
// bucket and prefix in object storage.
func where(m config.Mirror) string {
	if m.S3 != nil {
		return "s3://" + m.S3.Bucket + "/" + m.S3.Prefix + " at " + fetch.Redact(m.S3.Endpoint)
	}
	return m.Path
}

// statusEarlier is how many earlier verified revisions status names.
const statusEarlier = 3
