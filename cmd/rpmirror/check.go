package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/target/s3"
	"github.com/rpmirror/rpmirror/target/targets"
)

// storeCheckTimeout bounds the questions check asks one object store.
const storeCheckTimeout = 20 * time.Second

// checkStores asks the object store of every s3 mirror, with the mirror's
// credentials, for one key of its prefix: a missing bucket, credentials
// the store refuses, a wrong region or a store that does not answer is
// reported at the line of the key to fix. It writes nothing.
func checkStores(ctx context.Context, cfg *config.Config) config.Errors {
	var errs config.Errors
	for _, r := range cfg.Repos {
		for _, m := range r.Mirrors {
			c := m.S3
			if c == nil {
				continue
			}
			where := fmt.Sprintf("repo %q: mirror %q: s3: ", r.Name, m.Name)
			add := func(line int, msg string) {
				if line == 0 {
					line = c.Line
				}
				errs = append(errs, &config.Error{File: cfg.File, Line: line, Msg: where + msg})
			}
			tg, err := targets.Open(ctx, m)
			if err != nil {
				add(c.CredentialsLine, err.Error())
				continue
			}
			checker, ok := tg.(interface{ Check(context.Context) error })
			if !ok {
				continue
			}
			cctx, cancel := context.WithTimeout(ctx, storeCheckTimeout)
			err = checker.Check(cctx)
			cancel()
			var ce *s3.CheckError
			switch {
			case err == nil:
			case !errors.As(err, &ce):
				add(c.EndpointLine, err.Error())
			case ce.Problem == s3.NoBucket:
				add(c.BucketLine, fmt.Sprintf("bucket %q: %v", c.Bucket, err))
			case ce.Problem == s3.BadCredentials || ce.Problem == s3.Denied:
				src := "the environment's AWS_ACCESS_KEY_ID"
				if c.CredentialsFile != "" {
					src = "credentials_file " + c.CredentialsFile
				}
				add(c.CredentialsLine, fmt.Sprintf("credentials from %s: %v", src, err))
			case ce.Problem == s3.WrongRegion:
				add(c.RegionLine, fmt.Sprintf("region %q: %v", c.Region, err))
			default:
				add(c.EndpointLine, fmt.Sprintf("endpoint %s: %v", c.Endpoint, err))
			}
		}
	}
	return errs
}

func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flags("check", stderr)
	file := fs.String("c", "", "configuration `FILE`")
	expand := fs.Bool("expand", false, "print every repo as rpmirror sees it, entries with vars expanded")
	explain := fs.Bool("explain", false, "say what a sync of each repo publishes: the origin whole, or a filter's kept packages and the metadata rpmirror writes, carries and drops")
	offline := fs.Bool("offline", false, "do not ask object stores (s3 mirrors) whether their bucket and credentials work")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*file)
	if err != nil {
		return err
	}
	if !*offline {
		if errs := checkStores(ctx, cfg); len(errs) > 0 {
			return &configError{err: errs}
		}
	}
	written, probed := 0, 0
	for _, r := range cfg.Repos {
		for _, m := range r.Mirrors {
			if m.Written() {
				written++
			} else {
				probed++
			}
		}
	}
	fmt.Fprintf(stdout, "%s: ok: %d repos, %d written mirrors, %d probe-only mirrors\n", cfg.File, len(cfg.Repos), written, probed)
	if *expand {
		printExpanded(stdout, cfg)
	}
	if *explain {
		printExplain(stdout, cfg)
	}
	return nil
}

// printExpanded writes every repo with the keys that vars can change, its
// sync settings (schedule, prune_after, repo_gpgcheck, snapshots) as
// defaults complete them, and the selection settings of its mirrors.
func printExpanded(w io.Writer, cfg *config.Config) {
	for _, r := range cfg.Repos {
		fmt.Fprintf(w, "\nrepo %s (line %d", r.Name, r.Line)
		for _, v := range r.Vars {
			fmt.Fprintf(w, ", %s=%s", v.Name, v.Value)
		}
		fmt.Fprintln(w, ")")
		q := "repo=" + r.MirrorlistName
		if r.Arch != "" {
			q += "&arch=" + r.Arch
		}
		fmt.Fprintf(w, "  clients ask:  /mirrorlist?%s  /metalink?%s\n", q, q)
		switch {
		case r.OriginMetalink != "":
			fmt.Fprintf(w, "  origin:       upstreams from the metalink %s\n", r.OriginMetalink)
		case r.OriginMirrorlist != "":
			fmt.Fprintf(w, "  origin:       upstreams from the mirrorlist %s\n", r.OriginMirrorlist)
		default:
			for i, u := range r.OriginURLs() {
				if i == 0 {
					fmt.Fprintf(w, "  origin:       %s\n", u)
				} else {
					fmt.Fprintf(w, "  then:         %s\n", u)
				}
			}
		}
		for _, k := range r.GPGKeys {
			fmt.Fprintf(w, "  gpgkey:       %s\n", k)
		}
		sync := fmt.Sprintf("schedule %q, prune_after %s", r.Schedule, r.PruneAfter)
		if r.RepoGPGCheck {
			sync += ", repo_gpgcheck"
		}
		fmt.Fprintf(w, "  sync:         %s\n", sync)
		if sn := r.Snapshots; sn != nil {
			line := fmt.Sprintf("keep %d, keep_for %s", sn.Keep, sn.KeepFor)
			if len(sn.Pinned) > 0 {
				line += ", pinned " + strings.Join(sn.Pinned, " ")
			}
			fmt.Fprintf(w, "  snapshots:    %s\n", line)
		}
		for _, m := range r.Mirrors {
			fmt.Fprintf(w, "  mirror %s:\n", m.Name)
			if m.Path != "" {
				fmt.Fprintf(w, "    path:       %s\n", m.Path)
			}
			if c := m.S3; c != nil {
				fmt.Fprintf(w, "    s3:         bucket %s prefix %q at %s\n", c.Bucket, c.Prefix, c.Endpoint)
			}
			if m.URL != "" {
				fmt.Fprintf(w, "    url:        %s\n", m.URL)
			}
			var sel []string
			if m.Country != "" {
				sel = append(sel, "country "+m.Country)
			}
			if len(m.Networks) > 0 {
				sel = append(sel, "networks "+joinPrefixes(m.Networks))
			}
			if m.Private {
				sel = append(sel, "private")
			}
			sel = append(sel, fmt.Sprintf("priority %d", m.Priority), fmt.Sprintf("weight %d", m.Weight))
			fmt.Fprintf(w, "    selection:  %s\n", strings.Join(sel, ", "))
		}
	}
}

func joinPrefixes(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, " ")
}
