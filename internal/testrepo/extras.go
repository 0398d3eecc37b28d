package testrepo

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// CompsXML returns a comps file with one group, "rpmirror-demo", whose
// mandatory packages are names.
func CompsXML(names ...string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE comps PUBLIC "-//Red Hat, Inc.//DTD Comps info//EN" "comps.dtd">
<comps>
  <group>
    <id>rpmirror-demo</id>
    <name>rpmirror demo</name>
    <description>Packages of the rpmirror demo repository.</description>
    <default>false</default>
    <uservisible>true</uservisible>
    <packagelist>
`)
	for _, n := range names {
		fmt.Fprintf(&b, "      <packagereq type=\"mandatory\">%s</packagereq>\n", n)
	}
	b.WriteString(`    </packagelist>
  </group>
  <category>
    <id>rpmirror</id>
    <name>rpmirror</name>
    <description>rpmirror test content.</description>
    <grouplist>
      <groupid>rpmirror-demo</groupid>
    </grouplist>
  </category>
</comps>
`)
	return b.String()
}

// UpdateinfoXML returns an updateinfo file with one security advisory,
// RPMIRROR-2024-0001, that lists pkgs.
func UpdateinfoXML(pkgs ...Pkg) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<updates>
  <update from="security@rpmirror.invalid" status="stable" type="security" version="2.0">
    <id>RPMIRROR-2024-0001</id>
    <title>rpmirror demo update</title>
    <issued date="2024-01-01 00:00:00"/>
    <updated date="2024-01-02 00:00:00"/>
    <rights>CC0</rights>
    <release>rpmirror demo</release>
    <severity>Moderate</severity>
    <summary>An advisory for testing.</summary>
    <description>Fixes nothing; exists so that mirrors carry updateinfo.</description>
    <references>
      <reference href="https://rpmirror.invalid/advisories/1" id="1" type="self" title="RPMIRROR-2024-0001"/>
    </references>
    <pkglist>
      <collection short="rpmirror-demo">
        <name>rpmirror demo</name>
`)
	for _, p := range pkgs {
		p = p.withDefaults()
		fmt.Fprintf(&b, `        <package name="%s" version="%s" release="%s" epoch="%d" arch="%s" src="%s-%s-%s.src.rpm">
          <filename>%s</filename>
        </package>
`, p.Name, p.Version, p.Release, p.Epoch, p.Arch, p.Name, p.Version, p.Release, p.FileName())
	}
	b.WriteString(`      </collection>
    </pkglist>
  </update>
</updates>
`)
	return b.String()
}

// ModulesYAML returns a modulemd v2 stream and its modulemd-defaults
// document. The stream's only artifact is a package no fixture builds, so
// adding it never hides a repository's packages behind modular filtering.
func ModulesYAML() string {
	return `---
document: modulemd
version: 2
data:
  name: rpmirror-demo
  stream: "1"
  version: 20240101000000
  context: c0ffee42
  arch: noarch
  summary: rpmirror demo module
  description: >-
    A module stream so that mirrors carry modules metadata.
  license:
    module:
    - MIT
  profiles:
    default:
      rpms:
      - rpmirror-module-tool
  artifacts:
    rpms:
    - rpmirror-module-tool-0:1.0-1.noarch
...
---
document: modulemd-defaults
version: 1
data:
  module: rpmirror-demo
  stream: "1"
  profiles:
    "1": [default]
...
`
}

// WriteExtraFiles writes comps.xml, updateinfo.xml and modules.yaml into
// dir (not a repository directory: these are sources for RepoOpts.Extras)
// and returns them as Extras. The group lists pkgs' names, the advisory
// the first of pkgs.
func WriteExtraFiles(dir string, pkgs ...Pkg) ([]Extra, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var names []string
	for _, p := range pkgs {
		names = append(names, p.Name)
	}
	files := []struct{ typ, name, content string }{
		{"group", "comps.xml", CompsXML(names...)},
		{"updateinfo", "updateinfo.xml", UpdateinfoXML(pkgs[:min(1, len(pkgs))]...)},
		{"modules", "modules.yaml", ModulesYAML()},
	}
	var extras []Extra
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err := os.WriteFile(p, []byte(f.content), 0o644); err != nil {
			return nil, fmt.Errorf("writing %s: %w", p, err)
		}
		extras = append(extras, Extra{Type: f.typ, File: p})
	}
	return extras, nil
}

// WriteExtras is WriteExtraFiles for tests.
func WriteExtras(t testing.TB, dir string, pkgs ...Pkg) []Extra {
	t.Helper()
	extras, err := WriteExtraFiles(dir, pkgs...)
	check(t, err)
	return extras
}
