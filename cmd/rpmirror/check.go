package main

import (
	"context"
	"fmt"
	"io"
)

func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flags("check", stderr)
	file := fs.String("c", "", "configuration `FILE`")
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
	return nil
}
