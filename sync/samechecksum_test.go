package sync_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rpmirror/rpmirror/internal/testrepo"
)

// TestMetadataSharingAChecksumFetchedOnce: repomd.xml names one file's
// bytes twice, under two types and two locations (one checksum, so one
// path in the download cache). Each is fetched into that path once, not
// by two transfers at the same time, and both are published: the mirror
// is consistent, and the origin was asked for one of the two locations
// only.
func TestMetadataSharingAChecksumFetchedOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "origin")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("..", "internal", "demo", "origin", "v1"))); err != nil {
		t.Fatal(err)
	}
	mdPath := filepath.Join(dir, "repodata", "repomd.xml")
	raw, err := os.ReadFile(mdPath)
	if err != nil {
		t.Fatal(err)
	}
	md := string(raw)
	block := regexp.MustCompile(`(?s)<data type="other">.*?</data>`).FindString(md)
	href := regexp.MustCompile(`<location href="([^"]+)"`).FindStringSubmatch(block)[1]
	copyHref := strings.Replace(href, "-other.", "-other-copy.", 1)
	b, err := os.ReadFile(filepath.Join(dir, href))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, copyHref), b, 0o644); err != nil {
		t.Fatal(err)
	}
	dup := strings.Replace(strings.Replace(block, `type="other"`, `type="other_copy"`, 1), href, copyHref, 1)
	md = strings.Replace(md, block, block+"\n  "+dup, 1)
	os.Remove(mdPath + ".asc")
	if err := os.WriteFile(mdPath, []byte(md), 0o644); err != nil {
		t.Fatal(err)
	}
	o := newOrigin(t, dir)
	h := newHarness(t, o, testrepo.Testdata(t, "keys", "test.pub"))
	h.concurrency = 8
	h.mustSync()
	o.mu.Lock()
	got := o.requests[href] + o.requests[copyHref]
	o.mu.Unlock()
	if got != 1 {
		t.Errorf("the file repomd.xml names twice was fetched %d times (%s, %s), want once", got, href, copyHref)
	}
	for _, m := range h.mirrors {
		checkConsistent(t, m)
		for _, p := range []string{href, copyHref} {
			if _, err := os.Stat(filepath.Join(m, p)); err != nil {
				t.Errorf("%s: %v", p, err)
			}
		}
	}
}
