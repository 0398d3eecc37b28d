package sync_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpmirror/rpmirror/internal/testrepo"
)

// TestOddFileNames syncs a repository, made by createrepo_c, whose package
// file name holds characters a URL gives a meaning ('%', '#', '?', ' '):
// rpmirror asks the origin for the file by that name, as dnf does, stores
// it under it, and dnf downloads it from the mirror served over HTTP.
func TestOddFileNames(t *testing.T) {
	testrepo.RequireTools(t, "createrepo_c")
	v1 := filepath.Join("..", "internal", "demo", "origin", "v1")
	base := t.TempDir()
	odd := filepath.Join(base, "odd")
	if err := os.CopyFS(odd, os.DirFS(v1)); err != nil {
		t.Fatal(err)
	}
	const from = "Packages/h/hello-mirror-1.0-1.noarch.rpm"
	const href = "Packages/h/hello%41 mirror#1+x?y.rpm"
	if err := os.Rename(filepath.Join(odd, from), filepath.Join(odd, href)); err != nil {
		t.Fatal(err)
	}
	if err := testrepo.MakeRepo(odd, testrepo.RepoOpts{Revision: "1"}); err != nil {
		t.Fatal(err)
	}
	o := newOrigin(t, filepath.Join(base, "origin"))
	republish(t, o, odd)
	h := newHarness(t, o)
	h.mustSync()
	want, _ := os.ReadFile(filepath.Join(odd, href))
	for _, m := range h.mirrors {
		got, err := os.ReadFile(filepath.Join(m, href))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: the package is not stored under its name %q: %v", m, href, err)
		}
	}
	if n := o.fetched(); len(n) == 0 || !strings.Contains(strings.Join(n, "\n"), href) {
		t.Errorf("the origin was not asked for %q by name; it served %v", href, n)
	}

	testrepo.RequireTools(t, "dnf")
	srv := httptest.NewServer(http.FileServer(http.Dir(h.mirrors[0])))
	defer srv.Close()
	dest := filepath.Join(base, "dl")
	if out, err := testrepo.DNF(t, "m", srv.URL+"/", "download", "--destdir", dest, "hello-mirror"); err != nil {
		t.Fatalf("dnf download from the mirror: %v\n%s", err, out)
	}
	got, err := os.ReadFile(filepath.Join(dest, filepath.Base(href)))
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("dnf did not download the package from the mirror: %v", err)
	}
}
