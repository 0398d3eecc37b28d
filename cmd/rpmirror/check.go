package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/rpmirror/rpmirror/config"
)

func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flags("check", stderr)
	file := fs.String("c", "", "configuration `FILE`")
	expand := fs.Bool("expand", false, "print every repo as rpmirror sees it, entries with vars expanded")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*file)
	if err != nil {
		return err
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
	return nil
}

// printExpanded writes every repo with the keys that vars can change and
// the selection settings of its mirrors.
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
		fmt.Fprintf(w, "  origin:       %s\n", r.Origin)
		for _, k := range r.GPGKeys {
			fmt.Fprintf(w, "  gpgkey:       %s\n", k)
		}
		for _, m := range r.Mirrors {
			fmt.Fprintf(w, "  mirror %s:\n", m.Name)
			if m.Path != "" {
				fmt.Fprintf(w, "    path:       %s\n", m.Path)
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
