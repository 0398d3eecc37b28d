package checker_test

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/rpmirror/rpmirror/internal/checker"
	"github.com/rpmirror/rpmirror/internal/testrepo"
)

const pkg = "Packages/h/hello-mirror-1.0-1.noarch.rpm"

// demoCopy copies the committed demo origin v1 to a new directory.
func demoCopy(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "mirror")
	if err := os.CopyFS(dir, os.DirFS(testrepo.DemoOrigin(t, "v1"))); err != nil {
		t.Fatal(err)
	}
	return dir
}

func demoKey(t *testing.T) string {
	t.Helper()
	root, err := testrepo.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "internal", "demo", "RPM-GPG-KEY-rpmirror-test")
}

var primaryRE = regexp.MustCompile(`(?s)<data type="primary">.*?</data>`)

// primaryHref returns the location of the primary metadata in dir.
func primaryHref(t *testing.T, dir string) string {
	t.Helper()
	md, err := os.ReadFile(filepath.Join(dir, "repodata", "repomd.xml"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`href="([^"]*primary[^"]*)"`).FindSubmatch(primaryRE.Find(md))
	if m == nil {
		t.Fatal("no primary in repomd.xml")
	}
	return string(m[1])
}

// rewritePrimary replaces the primary metadata of dir with edit's result
// compressed by compress (gz, xz, zstd, bz2 or none), and repomd.xml's
// entry with one that matches it; the signature of repomd.xml goes.
func rewritePrimary(t *testing.T, dir, compress string, edit func([]byte) []byte) {
	t.Helper()
	old := primaryHref(t, dir)
	f, err := os.Open(filepath.Join(dir, old))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	plain = edit(plain)
	var packed bytes.Buffer
	switch compress {
	case "gz":
		w := gzip.NewWriter(&packed)
		w.Write(plain)
		w.Close()
	case "xz":
		w, _ := xz.NewWriter(&packed)
		w.Write(plain)
		w.Close()
	case "zstd":
		w, _ := zstd.NewWriter(&packed)
		w.Write(plain)
		w.Close()
	case "bz2":
		if _, err := exec.LookPath("bzip2"); err != nil {
			t.Skip("skipping: bzip2 not found in $PATH")
		}
		cmd := exec.Command("bzip2", "-c")
		cmd.Stdin = bytes.NewReader(plain)
		cmd.Stdout = &packed
		if err := cmd.Run(); err != nil {
			t.Fatal(err)
		}
	case "none":
		packed.Write(plain)
	}
	sum := sha256.Sum256(packed.Bytes())
	href := "repodata/" + hex.EncodeToString(sum[:]) + "-primary.xml." + compress
	if err := os.WriteFile(filepath.Join(dir, href), packed.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, old))
	entry := fmt.Sprintf("<data type=\"primary\">\n<checksum type=\"sha256\">%x</checksum>\n<location href=%q/>\n<size>%d</size>\n</data>", sum, href, packed.Len())
	mdPath := filepath.Join(dir, "repodata", "repomd.xml")
	md, _ := os.ReadFile(mdPath)
	os.WriteFile(mdPath, primaryRE.ReplaceAll(md, []byte(entry)), 0o644)
	os.Remove(mdPath + ".asc")
}

func flipByte(t *testing.T, p string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func truncate(t *testing.T, p string) {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
}

func TestCheck(t *testing.T) {
	key := demoKey(t)
	for _, tc := range []struct {
		name   string
		break_ func(t *testing.T, dir string)
		keys   []string
		served bool
		want   []string // substrings, one per expected problem; none: consistent
	}{
		{name: "consistent", served: true},
		{name: "consistent, signature by the configured key", keys: []string{key}, served: true},
		{name: "nothing published", break_: func(t *testing.T, dir string) { os.RemoveAll(filepath.Join(dir, "repodata")) }},
		{name: "mirror directory missing", break_: func(t *testing.T, dir string) { os.RemoveAll(dir) }},
		{
			name:   "missing package",
			break_: func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, pkg)) },
			served: true, want: []string{pkg},
		},
		{
			name:   "package with a wrong checksum",
			break_: func(t *testing.T, dir string) { flipByte(t, filepath.Join(dir, pkg)) },
			served: true, want: []string{pkg + ": sha256 "},
		},
		{
			name:   "truncated package",
			break_: func(t *testing.T, dir string) { truncate(t, filepath.Join(dir, pkg)) },
			served: true, want: []string{pkg + ": "},
		},
		{
			name: "package is a symlink out of the mirror",
			break_: func(t *testing.T, dir string) {
				os.Remove(filepath.Join(dir, pkg))
				os.Symlink("/etc/passwd", filepath.Join(dir, pkg))
			},
			served: true, want: []string{pkg},
		},
		{
			name: "missing metadata file",
			break_: func(t *testing.T, dir string) {
				m, _ := filepath.Glob(filepath.Join(dir, "repodata", "*-filelists.xml.gz"))
				os.Remove(m[0])
			},
			served: true, want: []string{"-filelists.xml.gz"},
		},
		{
			name: "metadata file with a wrong checksum",
			break_: func(t *testing.T, dir string) {
				m, _ := filepath.Glob(filepath.Join(dir, "repodata", "*-other.xml.gz"))
				flipByte(t, m[0])
			},
			served: true, want: []string{"-other.xml.gz: sha256 "},
		},
		{
			name:   "truncated primary",
			break_: func(t *testing.T, dir string) { truncate(t, filepath.Join(dir, primaryHref(t, dir))) },
			served: true, want: []string{"-primary.xml.gz: ", "packages not checked"},
		},
		{
			name: "repomd.xml does not parse",
			break_: func(t *testing.T, dir string) {
				os.WriteFile(filepath.Join(dir, "repodata", "repomd.xml"), []byte("<repomd><data"), 0o644)
				os.Remove(filepath.Join(dir, "repodata", "repomd.xml.asc"))
			},
			served: true, want: []string{"repodata/repomd.xml: XML syntax error"},
		},
		{
			name: "signature does not match repomd.xml",
			break_: func(t *testing.T, dir string) {
				p := filepath.Join(dir, "repodata", "repomd.xml")
				b, _ := os.ReadFile(p)
				os.WriteFile(p, bytes.Replace(b, []byte("<revision>"), []byte("<revision>1"), 1), 0o644)
			},
			served: true, want: []string{"repomd.xml.asc does not verify"},
		},
		{
			name:   "signature missing when keys are configured",
			break_: func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "repodata", "repomd.xml.asc")) },
			keys:   []string{key},
			served: true, want: []string{"repomd.xml.asc: missing"},
		},
		{
			name:   "primary in xz",
			break_: func(t *testing.T, dir string) { rewritePrimary(t, dir, "xz", func(b []byte) []byte { return b }) },
			served: true,
		},
		{
			name:   "primary in zstd",
			break_: func(t *testing.T, dir string) { rewritePrimary(t, dir, "zstd", func(b []byte) []byte { return b }) },
			served: true,
		},
		{
			name:   "primary in bzip2",
			break_: func(t *testing.T, dir string) { rewritePrimary(t, dir, "bz2", func(b []byte) []byte { return b }) },
			served: true,
		},
		{
			name:   "primary uncompressed",
			break_: func(t *testing.T, dir string) { rewritePrimary(t, dir, "none", func(b []byte) []byte { return b }) },
			served: true,
		},
		{
			name: "primary truncated inside its compression, with a matching checksum",
			break_: func(t *testing.T, dir string) {
				rewritePrimary(t, dir, "zstd", func(b []byte) []byte { return b[:len(b)*2/3] })
			},
			served: true, want: []string{"-primary.xml.zstd: "},
		},
		{
			name: "primary names a location outside the mirror",
			break_: func(t *testing.T, dir string) {
				rewritePrimary(t, dir, "gz", func(b []byte) []byte {
					return bytes.Replace(b, []byte(`href="`+pkg), []byte(`href="../../etc/passwd`), 1)
				})
			},
			served: true, want: []string{`unsafe location "../../etc/passwd"`},
		},
		{
			name: "primary declares more packages than it lists",
			break_: func(t *testing.T, dir string) {
				rewritePrimary(t, dir, "gz", func(b []byte) []byte {
					return bytes.Replace(b, []byte(`packages="6"`), []byte(`packages="7"`), 1)
				})
			},
			served: true, want: []string{"declares 7 packages, lists 6"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := demoCopy(t)
			if tc.break_ != nil {
				tc.break_(t, dir)
			}
			r := checker.Check(dir, checker.Options{KeyFiles: tc.keys})
			if r.Served != tc.served {
				t.Errorf("Served = %v, want %v", r.Served, tc.served)
			}
			if len(r.Problems) != len(tc.want) {
				t.Errorf("%d problems, want %d:\n%s", len(r.Problems), len(tc.want), strings.Join(r.Problems, "\n"))
			}
			for _, w := range tc.want {
				found := false
				for _, p := range r.Problems {
					found = found || strings.Contains(p, w)
				}
				if !found {
					t.Errorf("no problem mentions %q:\n%s", w, strings.Join(r.Problems, "\n"))
				}
			}
			if len(tc.want) == 0 && tc.served && len(r.Packages) != 6 {
				t.Errorf("%d packages, want the demo's 6", len(r.Packages))
			}
		})
	}
}

func TestDNF(t *testing.T) {
	testrepo.RequireTools(t, "dnf")
	key := demoKey(t)
	dir := demoCopy(t)
	r := checker.Check(dir, checker.Options{KeyFiles: []string{key}})
	if len(r.Problems) > 0 {
		t.Fatal(r.Problems)
	}
	if err := checker.DNF(t, dir, r, key); err != nil {
		t.Errorf("dnf on the demo repository: %v", err)
	}
	if want := testrepo.DemoPackages(nil); len(r.NEVRAs()) != len(want) || r.NEVRAs()[0] != "hello-mirror-0:1.0-1.noarch" {
		t.Errorf("NEVRAs = %v", r.NEVRAs())
	}

	// dnf sees a primary without one package: DNF says which.
	rewritePrimary(t, dir, "gz", func(b []byte) []byte {
		return regexp.MustCompile(`(?s)<package type="rpm">\s*<name>webapp-config</name>.*?</package>`).ReplaceAll(b, nil)
	})
	if err := checker.DNF(t, dir, r); err == nil || !strings.Contains(err.Error(), "missing [webapp-config-0:3.1-4.noarch]") {
		t.Errorf("dnf on a repository missing a package: %v", err)
	}
	// A signature that does not match: dnf refuses the repository.
	dir = demoCopy(t)
	p := filepath.Join(dir, "repodata", "repomd.xml")
	b, _ := os.ReadFile(p)
	os.WriteFile(p, bytes.Replace(b, []byte("<revision>"), []byte("<revision>1"), 1), 0o644)
	if err := checker.DNF(t, dir, r, key); err == nil {
		t.Error("dnf accepted a repomd.xml whose signature does not match")
	}
}
