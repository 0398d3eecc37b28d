package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpmirror/rpmirror/filter"
	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/sync"
)

func TestCheckExplain(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "mirrors.yaml")
	os.WriteFile(cfg, []byte("state_dir: "+dir+"/state\nrepos:\n"+
		"  - name: whole\n    origin: https://example.org/a/\n    mirrors:\n      - name: a\n        path: "+dir+"/a\n"+
		"  - name: el9\n    origin: https://example.org/b/\n    filter:\n      arch: [x86_64, noarch]\n      exclude: [\"*-debuginfo\"]\n      newest: 2\n"+
		"    mirrors:\n      - name: b\n        path: "+dir+"/b\n"), 0o644)
	code, out, errOut := rpmirror(t, "check", "--explain", "--offline", "-c", cfg)
	if code != 0 {
		t.Fatalf("check --explain: exit %d\n%s", code, errOut)
	}
	for _, want := range []string{
		"repo whole: mirrored whole: the origin's repodata and packages byte for byte, its repomd.xml (and .asc, .key) included;\n  not the delta RPMs (drpms/) prestodelta names",
		"(prestodelta too, but not the delta RPMs it names: clients with deltarpm on need deltarpm=0)",
		"repo el9: filtered (line 10): rpmirror writes the repository's metadata itself",
		"keeps:    arch x86_64, noarch; except names matching *-debuginfo; the newest 2 versions of each name.arch",
		"a new repomd.xml (the origin's revision, tags and timestamps)",
		"drops:    sqlite databases (*_db) and zchunk files (*_zck): dnf reads the XML metadata",
		"refuses:  a revision with modules metadata",
		"signs:    nothing: the origin's repomd.xml.asc no longer matches and is not published",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check --explain does not say %q:\n%s", want, out)
		}
	}
}

// TestPrintFilterReport: a sync or dry run of a filtered repository says
// what the filter kept and dropped, by reason, and which metadata it left
// out or did not know. An origin whose repomd.xml has no <revision> is
// said to have none: the line read "origin revision : kept 2 of 8".
func TestPrintFilterReport(t *testing.T) {
	counts := filter.Counts{Packages: 10, Kept: 4, Arch: 3, Include: 0, Exclude: 1, Newest: 2}
	for _, tc := range []struct {
		name     string
		revision string
		reused   bool
		want     []string
	}{
		{"revision", "7", false, []string{
			"filter   origin revision 7: kept 4 of 10 packages; dropped 3 by arch, 0 by include, 1 by exclude, 2 by newest\n",
			"filter   metadata not published (dnf reads the XML): primary_db, primary_zck\n",
			"filter   metadata carried that rpmirror does not know: appstream\n",
		}},
		{"no revision", "", false, []string{
			"filter   origin revision (none): kept 4 of 10 packages; dropped 3 by arch, 0 by include, 1 by exclude, 2 by newest\n",
		}},
		{"reused", "7", true, []string{
			"filter   origin revision 7 and the filter as when the mirrors' revision was written: not read again\n",
		}},
		{"reused, no revision", "", true, []string{
			"filter   origin revision (none) and the filter as when the mirrors' revision was written: not read again\n",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			printReport(&b, &sync.Report{Repo: "el9", Revision: tc.revision, DryRun: true, Filter: &sync.FilterReport{
				Counts: counts, OriginRevision: tc.revision, Reused: tc.reused,
				Dropped: []string{"primary_db", "primary_zck"}, Unknown: []string{"appstream"},
			}}, "")
			for _, want := range tc.want {
				if !strings.Contains(b.String(), want) {
					t.Errorf("report does not say %q:\n%s", want, b.String())
				}
			}
		})
	}
}

// TestFilteredSyncVerify: a filtered repository through the command line,
// with repo_gpgcheck on the origin and sign_with: the dry run counts what
// the filter drops, the sync publishes rpmirror's signed repomd.xml, and
// rpmirror verify checks it against sign_with's key.
func TestFilteredSyncVerify(t *testing.T) {
	pkgs := testrepo.DemoPackages(nil)
	f := newFixture(t, pkgs, 2)
	signer := testrepo.NewKey(t, "rpmirror CLI filter signer")
	signWith := filepath.Join(f.dir, "sign.asc")
	if err := signer.ExportSecret(signWith); err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	filtered := strings.Replace(string(cfg), "    prune_after: 0s\n",
		"    prune_after: 0s\n    repo_gpgcheck: true\n    filter:\n      exclude: [\"sample-*\", \"mirror-docs\"]\n    sign_with: "+signWith+"\n", 1)
	if err := os.WriteFile(f.cfg, []byte(filtered), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := rpmirror(t, "sync", "-c", f.cfg, "--dry-run")
	if code != 0 || !strings.Contains(out, "would fetch 4 packages") ||
		!strings.Contains(out, "kept 4 of 6 packages; dropped 0 by arch, 0 by include, 2 by exclude, 0 by newest") ||
		!strings.Contains(out, "metadata not published (dnf reads the XML): primary_db, filelists_db, other_db") {
		t.Errorf("dry run: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut = rpmirror(t, "sync", "-c", f.cfg); code != 0 || !strings.Contains(out, "fetched 4 packages") {
		t.Fatalf("sync: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = rpmirror(t, "verify", "-c", f.cfg)
	if code != 0 || strings.Count(out, "4 packages, signatures checked, repomd.xml signature checked: ok") != 2 {
		t.Errorf("verify: exit %d\n%s", code, out)
	}
	if code, out, _ = rpmirror(t, "sync", "-c", f.cfg); code != 0 || !strings.Contains(out, "no change") {
		t.Errorf("second sync: exit %d\n%s", code, out)
	}
	// A signature that is not sign_with's fails verify.
	asc := filepath.Join(f.mirrors[0], "repodata", "repomd.xml.asc")
	other := testrepo.NewKey(t, "someone else")
	if err := other.DetachSign(filepath.Join(f.mirrors[0], "repodata", "repomd.xml"), asc+".new"); err != nil {
		t.Fatal(err)
	}
	os.Remove(asc)
	os.Rename(asc+".new", asc)
	if code, out, _ = rpmirror(t, "verify", "-c", f.cfg); code != 1 || !strings.Contains(out, "test/m1: repodata/repomd.xml.asc") {
		t.Errorf("verify with another key's signature: exit %d\n%s", code, out)
	}
}
