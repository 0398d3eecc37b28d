package main

import (
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestDocsCommandLinesParse: every rpmirror command line that README.md
// and docs/ show, in a shell block or in running text, is one the
// command accepts: its flags exist and take the values shown, and no
// stray argument is left (docs/configuration.md told operators to run
// `rpmirror sync --dry-run el9-baseos-ci`, which exits 2 with
// "unexpected argument": the repo goes with --repo).
func TestDocsCommandLinesParse(t *testing.T) {
	names := make([]string, len(commands))
	byName := map[string]command{}
	for i, c := range commands {
		names[i] = c.name
		byName[c.name] = c
	}
	alt := strings.Join(names, "|")
	inBlock := regexp.MustCompile(`(?:^|\s)(rpmirror (?:` + alt + `)\b.*)$`)
	inText := regexp.MustCompile("`(rpmirror (?:" + alt + ")\\b[^`]*)`")
	fence := regexp.MustCompile("(?m)^```.*$")
	n := 0
	for _, f := range []string{"../../README.md", "../../docs/configuration.md", "../../docs/operations.md", "../../docs/security.md", "../../docs/design.md"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for i, part := range fence.Split(string(b), -1) {
			if i%2 == 1 { // inside a fenced block
				for _, l := range strings.Split(part, "\n") {
					if m := inBlock.FindStringSubmatch(l); m != nil {
						lines = append(lines, m[1])
					}
				}
				continue
			}
			for _, m := range inText.FindAllStringSubmatch(strings.ReplaceAll(part, "\n", " "), -1) {
				lines = append(lines, m[1])
			}
		}
		for _, l := range lines {
			if i := strings.Index(l, " #"); i >= 0 {
				l = l[:i]
			}
			if strings.Contains(l, "...") || strings.Contains(l, "[") {
				continue // a pattern, not a command line
			}
			args := strings.Fields(l)[1:]
			c := byName[args[0]]
			if c.name == "snapshot" {
				continue // pin|unpin SNAPSHOT: positional by design
			}
			fs, err := commandFlags(c)
			if err != nil {
				t.Fatal(err)
			}
			fs.SetOutput(io.Discard)
			n++
			if err := fs.Parse(args[1:]); err != nil {
				t.Errorf("%s: %q: %v", f, l, err)
			} else if fs.NArg() > 0 {
				t.Errorf("%s: %q: rpmirror %s takes no argument %q", f, l, c.name, fs.Arg(0))
			}
		}
	}
	if n < 20 {
		t.Errorf("found %d command lines in the docs; the pattern is broken", n)
	}
}
