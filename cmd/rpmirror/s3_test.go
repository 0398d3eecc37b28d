package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rpmirror/rpmirror/internal/checker"
	"github.com/rpmirror/rpmirror/internal/s3test"
	"github.com/rpmirror/rpmirror/internal/testrepo"
)

// s3Fixture is an origin that serves one of the demo revisions, a real
// S3 server (versitygw) with bucket "mirrors", and a configuration that
// syncs the origin to the prefix "demo/" of it.
type s3Fixture struct {
	dir, cfg string
	srv      *s3test.Server
	rev      atomic.Pointer[string] // the origin's directory
	origin   *httptest.Server
	key      string
	// mirror is the directory versitygw keeps the mirror's objects in.
	mirror string
}

func demoRev(name string) string {
	return filepath.Join("..", "..", "internal", "demo", "origin", name)
}

func newS3Fixture(t *testing.T, extra string) *s3Fixture {
	t.Helper()
	f := &s3Fixture{dir: t.TempDir(), srv: s3test.Start(t, "mirrors")}
	f.key, _ = filepath.Abs(filepath.Join("..", "..", "internal", "demo", "RPM-GPG-KEY-rpmirror-test"))
	v1 := demoRev("v1")
	f.rev.Store(&v1)
	f.origin = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.FileServer(http.Dir(*f.rev.Load())).ServeHTTP(w, r)
	}))
	t.Cleanup(f.origin.Close)
	f.mirror = filepath.Join(f.srv.Dir, "mirrors", "demo")
	f.cfg = filepath.Join(f.dir, "mirrors.yaml")
	conf := fmt.Sprintf(`state_dir: %s/state
%srepos:
  - name: demo
    origin: %s/
    gpgkeys: [%s]
    prune_after: 0s
    mirrors:
      - name: obj
        s3:
          endpoint: %s
          bucket: mirrors
          prefix: demo/
          region: us-east-1
          credentials_file: %s
`, f.dir, extra, f.origin.URL, f.key, f.srv.Endpoint, s3test.CredentialsFile(t, f.dir))
	if err := os.WriteFile(f.cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *s3Fixture) publish(rev string) {
	d := demoRev(rev)
	f.rev.Store(&d)
}

// bucketTree lists the mirror's files in the bucket with their sizes and
// modification times: what a dry run must not change.
func (f *s3Fixture) bucketTree(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	filepath.WalkDir(filepath.Join(f.srv.Dir, "mirrors"), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			info, _ := d.Info()
			fmt.Fprintf(&b, "%s %d %d\n", p, info.Size(), info.ModTime().UnixNano())
		}
		return nil
	})
	return b.String()
}

// TestS3DryRunVerifyRepairAndDNF: on a mirror in object storage, sync
// --dry-run says what the sync would do and writes nothing; dnf installs
// a package from the bucket served over HTTP; verify finds damage and
// verify --repair mends it.
func TestS3DryRunVerifyRepairAndDNF(t *testing.T) {
	f := newS3Fixture(t, "")

	// A dry run on an empty bucket: everything is to be published.
	code, out, errOut := rpmirror(t, "sync", "--dry-run", "-c", f.cfg)
	if code != 0 || !strings.Contains(out, "(dry run) would fetch 6 packages") || !strings.Contains(out, "obj          would publish") {
		t.Fatalf("dry run on an empty bucket: exit %d\n%s%s", code, out, errOut)
	}
	if tree := f.bucketTree(t); tree != "" {
		t.Fatalf("the dry run wrote into the bucket:\n%s", tree)
	}
	if code, out, errOut := rpmirror(t, "sync", "-c", f.cfg); code != 0 {
		t.Fatalf("sync: exit %d\n%s%s", code, out, errOut)
	}
	if r := checker.Check(f.mirror, checker.Options{KeyFiles: []string{f.key}}); len(r.Problems) > 0 || !r.Served {
		t.Fatalf("the bucket after the sync: served %v, problems:\n%s", r.Served, strings.Join(r.Problems, "\n"))
	}

	if code, out, errOut := rpmirror(t, "status", "-c", f.cfg); code != 0 || !strings.Contains(out, "s3://mirrors/demo/ at "+f.srv.Endpoint) {
		t.Errorf("status does not say where the mirror is: exit %d\n%s%s", code, out, errOut)
	}

	t.Run("dnf through a web front", func(t *testing.T) {
		testrepo.RequireTools(t, "dnf")
		// The web front: the bucket's directory served over HTTP, as
		// nginx or a CDN in front of the store would.
		front := httptest.NewServer(http.FileServer(http.Dir(filepath.Join(f.srv.Dir, "mirrors"))))
		defer front.Close()
		repo := testrepo.Repo{Name: "objstore", URL: front.URL + "/demo/", GPGKeys: []string{f.key}}
		c := testrepo.NewDNF(t, repo.String())
		if out, err := c.Run("install", "hello-mirror"); err != nil {
			t.Fatalf("dnf install from the bucket: %v\n%s", err, out)
		}
		if out, err := c.Run("list", "--installed", "-q"); err != nil || !strings.Contains(out, "hello-mirror") {
			t.Errorf("hello-mirror is not installed: %v\n%s", err, out)
		}
	})

	t.Run("dry run", func(t *testing.T) {
		before := f.bucketTree(t)
		code, out, errOut := rpmirror(t, "sync", "--dry-run", "-c", f.cfg)
		if code != 0 || !strings.Contains(out, "(dry run) every mirror is current") {
			t.Errorf("dry run on a current bucket: exit %d\n%s%s", code, out, errOut)
		}
		f.publish("v2")
		defer f.publish("v1")
		code, out, errOut = rpmirror(t, "sync", "--dry-run", "-c", f.cfg)
		if code != 0 || strings.Contains(out, "would fetch 0 packages") || !strings.Contains(out, "would fetch") {
			t.Fatalf("dry run of an update: exit %d\n%s%s", code, out, errOut)
		}
		// Only what v2 changed: the packages v1 has are not fetched.
		v1pkgs, _ := filepath.Glob(filepath.Join(demoRev("v1"), "Packages", "*", "*.rpm"))
		for _, p := range v1pkgs {
			rel := "Packages/" + filepath.Base(filepath.Dir(p)) + "/" + filepath.Base(p)
			if _, err := os.Stat(filepath.Join(demoRev("v2"), filepath.FromSlash(rel))); err == nil && strings.Contains(out, "fetch    "+rel) {
				t.Errorf("the dry run would fetch %s, which the bucket holds", rel)
			}
		}
		if after := f.bucketTree(t); after != before {
			t.Errorf("the dry run changed the bucket:\nbefore\n%s\nafter\n%s", before, after)
		}
	})

	t.Run("verify and repair", func(t *testing.T) {
		if code, out, errOut := rpmirror(t, "verify", "-c", f.cfg); code != 0 || !strings.Contains(out, "6 packages, signatures checked: ok") {
			t.Fatalf("verify of a sound bucket: exit %d\n%s%s", code, out, errOut)
		}
		md, _ := os.ReadFile(filepath.Join(f.mirror, "repodata", "repomd.xml"))
		other := string(regexp.MustCompile(`(?s)<data type="other">.*?<location href="([^"]+)"`).FindSubmatch(md)[1])
		pkgs, _ := filepath.Glob(filepath.Join(f.mirror, "Packages", "*", "*.rpm"))
		damaged, _ := filepath.Rel(f.mirror, pkgs[0])
		deleted, _ := filepath.Rel(f.mirror, pkgs[1])
		// Damage behind the store's back, in the directory it serves.
		b, _ := os.ReadFile(pkgs[0])
		b[100] ^= 0xff
		os.WriteFile(pkgs[0], b, 0o644)
		os.Remove(pkgs[1])
		os.Remove(filepath.Join(f.mirror, filepath.FromSlash(other)))

		code, out, _ := rpmirror(t, "verify", "-c", f.cfg)
		for _, want := range []string{"demo/obj: " + damaged + ": ", "demo/obj: " + deleted + ": missing", "demo/obj: " + other + ": missing"} {
			if !strings.Contains(out, want) {
				t.Errorf("verify does not say %q:\n%s", want, out)
			}
		}
		if code != 1 {
			t.Errorf("verify of a damaged bucket: exit %d, want 1", code)
		}
		code, out, errOut := rpmirror(t, "verify", "--repair", "-c", f.cfg)
		if code != 0 {
			t.Fatalf("verify --repair: exit %d\n%s%s", code, out, errOut)
		}
		for _, want := range []string{"replaced " + damaged, "replaced " + deleted + " (it was: missing)", "replaced " + other + " (it was: missing)"} {
			if !strings.Contains(out, want) {
				t.Errorf("verify --repair does not say %q:\n%s", want, out)
			}
		}
		if code, out, errOut := rpmirror(t, "verify", "-c", f.cfg); code != 0 || !strings.Contains(out, "6 packages, signatures checked: ok") {
			t.Errorf("verify after the repair: exit %d\n%s%s", code, out, errOut)
		}
	})
}
