package source_test

import (
	"testing"

	"github.com/rpmirror/rpmirror/source"
)

func TestHrefURL(t *testing.T) {
	for _, c := range []struct{ dir, href, want string }{
		{"http://o/el9/", "Packages/a/a-1.0-1.noarch.rpm", "http://o/el9/Packages/a/a-1.0-1.noarch.rpm"},
		{"http://o/", "repodata/0a1b-primary.xml.gz", "http://o/repodata/0a1b-primary.xml.gz"},
		// Characters a file name may hold that a URL gives a meaning.
		{"http://o/", "Packages/foo%41-1.rpm", "http://o/Packages/foo%2541-1.rpm"},
		{"http://o/", "Packages/a#b.rpm", "http://o/Packages/a%23b.rpm"},
		{"http://o/", "Packages/x.rpm?y", "http://o/Packages/x.rpm%3Fy"},
		{"http://o/", "Packages/with space.rpm", "http://o/Packages/with%20space.rpm"},
		// What file names commonly hold stays as written.
		{"http://o/", "Packages/libstdc++-13.2.1~rc1^20240101.x86_64.rpm", "http://o/Packages/libstdc++-13.2.1~rc1%5E20240101.x86_64.rpm"},
		// The upstream's own URL is used as configured.
		{"http://o/a%20b/", "Packages/p.rpm", "http://o/a%20b/Packages/p.rpm"},
	} {
		if got := source.HrefURL(c.dir, c.href); got != c.want {
			t.Errorf("HrefURL(%q, %q) = %q, want %q", c.dir, c.href, got, c.want)
		}
	}
}
