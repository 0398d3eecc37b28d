package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpmirror/rpmirror/filter"
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
		"repo whole: mirrored whole: the origin's files byte for byte",
		"repo el9: filtered (line 10): rpmirror writes the repository's metadata itself",
		"keeps:    arch x86_64, noarch; except names matching *-debuginfo; the newest 2 versions of each name.arch",
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
// out or did not know.
func TestPrintFilterReport(t *testing.T) {
	var b bytes.Buffer
	printReport(&b, &sync.Report{Repo: "el9", Revision: "7", DryRun: true, Filter: &sync.FilterReport{
		Counts:         filter.Counts{Packages: 10, Kept: 4, Arch: 3, Include: 0, Exclude: 1, Newest: 2},
		OriginRevision: "7", Dropped: []string{"primary_db", "primary_zck"}, Unknown: []string{"appstream"},
	}})
	for _, want := range []string{
		"filter   origin revision 7: kept 4 of 10 packages; dropped 3 by arch, 0 by include, 1 by exclude, 2 by newest",
		"filter   metadata not published (dnf reads the XML): primary_db, primary_zck",
		"filter   metadata carried that rpmirror does not know: appstream",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report does not say %q:\n%s", want, b.String())
		}
	}
}
