package config

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestConfigurationTablesListEveryKey: the table under each section of
// docs/configuration.md lists every key rpmirror accepts there, so an
// operator reading a table ("each entry is a mapping with these keys")
// sees them all. The repos table lacked seven keys (repo_gpgcheck,
// repo_gpgkeys, allow_rollback, min_checksum, follow_xml_base,
// origin_auth_file, tls), described only further down.
func TestConfigurationTablesListEveryKey(t *testing.T) {
	doc, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(doc), "\n")
	firstCell := regexp.MustCompile("^\\| \\[?`([a-z0-9_]+)`")
	// tableKeys returns the keys in the first column of the first table
	// after the heading, or nil when there is no such heading.
	tableKeys := func(heading string) []string {
		i := slices.Index(lines, heading)
		if i < 0 {
			return nil
		}
		var keys []string
		inTable := false
		for _, l := range lines[i+1:] {
			if strings.HasPrefix(l, "#") {
				break
			}
			if !strings.HasPrefix(l, "|") {
				if inTable {
					break
				}
				continue
			}
			inTable = true
			if m := firstCell.FindStringSubmatch(l); m != nil {
				keys = append(keys, m[1])
			}
		}
		return keys
	}
	for _, tc := range []struct {
		heading string
		keys    []string
	}{
		{"## Top level", keysOf[Config]()},
		{"### `alerts`", keysOf[Alerts]()},
		{"### `download`", keysOf[Download]()},
		{"### `repos`", keysOf[Repo]()},
		{"#### repos[].`tls`", keysOf[TLS]()},
		{"#### repos[].`snapshots`", keysOf[Snapshots]()},
		{"#### repos[].`filter` and `sign_with`", keysOf[Filter]()},
		{"#### repos[].`mirrors`", keysOf[Mirror]()},
		{"#### mirrors[].`s3`", keysOf[S3]()},
	} {
		t.Run(tc.heading, func(t *testing.T) {
			got := tableKeys(tc.heading)
			if got == nil {
				t.Fatalf("docs/configuration.md has no table under %q", tc.heading)
			}
			for _, k := range tc.keys {
				if tc.heading == "#### repos[].`filter` and `sign_with`" && k == "sign_with" {
					continue // a repo key, in the repos table
				}
				if !slices.Contains(got, k) {
					t.Errorf("the table under %q does not list the key %s (it lists %v)", tc.heading, k, got)
				}
			}
			for _, k := range got {
				if !slices.Contains(tc.keys, k) {
					t.Errorf("the table under %q lists %s, which is not a key there", tc.heading, k)
				}
			}
		})
	}
}

// TestDocsFlowSequencesWithVariables: every `key: [...]` holding a
// template variable that README.md, docs/ or the example mirrors.yaml
// (in its comments too) shows parses, as a repo key or a filter key.
// docs/configuration.md showed `arch: [${basearch}, noarch]`, which the
// YAML parser refuses ("did not find expected ','"): inside [...] a
// value holding ${...} must be quoted.
func TestDocsFlowSequencesWithVariables(t *testing.T) {
	snippet := regexp.MustCompile(`([a-z_]+): \[[^]\n` + "`" + `]*\$\{[^]\n` + "`" + `]*\]`)
	const head = "state_dir: /var/lib/rpmirror\nrepos:\n  - name: r-${basearch}-${releasever}\n    vars: {basearch: [x86_64], releasever: [\"9\"]}\n    origin: https://example.org/${releasever}/${basearch}/\n    mirrors: [{name: local, path: \"/srv/mirror/r-${basearch}\"}]\n"
	n := 0
	for _, f := range []string{"../README.md", "../docs/configuration.md", "../docs/operations.md", "../docs/design.md", "../docs/security.md", "../mirrors.yaml"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range snippet.FindAllStringSubmatch(string(b), -1) {
			n++
			var yaml string
			switch {
			case slices.Contains(keysOf[Filter](), m[1]):
				yaml = head + "    filter:\n      " + m[0] + "\n"
			case slices.Contains(keysOf[Repo](), m[1]):
				yaml = head + "    " + m[0] + "\n"
			default:
				t.Errorf("%s: %s: not a repo or filter key", f, m[0])
				continue
			}
			if _, err := ParseWith([]byte(yaml), "mirrors.yaml", LoadOptions{SkipFilesystem: true}); err != nil {
				t.Errorf("%s shows %s, which does not parse: %v", f, m[0], err)
			}
		}
	}
	if n < 3 {
		t.Errorf("found %d snippets in the docs; the pattern is broken", n)
	}
}
