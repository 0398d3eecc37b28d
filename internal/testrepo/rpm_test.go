package testrepo

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	rpmutils "github.com/sassoftware/go-rpmutils"
)

func TestBuildRPMs(t *testing.T) {
	RequireTools(t)
	test, unknown := TestKey(t), UnknownKey(t)
	keyring := readKeyring(t, test.PublicPath)

	pkgs := []Pkg{
		{Name: "signed", Sign: test},
		{Name: "unsigned"},
		{Name: "foreign", Sign: unknown},
		{Name: "epoch", Version: "2.0", Release: "3.el9", Epoch: 7, Sign: test},
		{Name: "binary", Arch: "x86_64", Sign: test},
		{Name: "twice", Version: "1.0", Sign: test},
		{Name: "twice", Version: "1.1", Sign: test},
		{Name: "big", Size: 300_000, Sign: test},
		{Name: "Capital", Sign: test},
	}
	dir := t.TempDir()
	paths := BuildRPMs(t, dir, pkgs...)

	for i, p := range pkgs {
		p = p.withDefaults()
		t.Run(p.FileName(), func(t *testing.T) {
			want := filepath.Join(dir, filepath.FromSlash(p.RelPath()))
			if paths[i] != want {
				t.Fatalf("path %s, want %s", paths[i], want)
			}
			f, err := os.Open(paths[i])
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			hdr, sigs, err := rpmutils.Verify(f, keyring)
			if p.Sign == unknown {
				var nf rpmutils.KeyNotFoundError
				if !errors.As(err, &nf) {
					t.Fatalf("Verify with the test key: error %v, want KeyNotFoundError", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			switch {
			case p.Sign == nil && len(sigs) != 0:
				t.Errorf("unsigned package has %d signatures", len(sigs))
			case p.Sign != nil && len(sigs) != 1:
				t.Errorf("%d signatures, want 1", len(sigs))
			case p.Sign != nil && (sigs[0].Signer == nil || sigs[0].PrimaryName != test.Name):
				t.Errorf("signature not by the test key: %+v", sigs[0])
			}
			nevra, err := hdr.GetNEVRA()
			if err != nil {
				t.Fatal(err)
			}
			got := nevra.Name + "-" + nevra.Epoch + ":" + nevra.Version + "-" + nevra.Release + "." + nevra.Arch
			if got != p.NEVRA() {
				t.Errorf("header NEVRA %s, want %s", got, p.NEVRA())
			}
			if size, err := hdr.InstalledSize(); err != nil || size != int64(p.Size) {
				t.Errorf("installed size %d (%v), want %d", size, err, p.Size)
			}
			if bt, err := hdr.GetInt(rpmutils.BUILDTIME); err != nil || bt != SourceDateEpoch {
				t.Errorf("build time %d (%v), want %d", bt, err, SourceDateEpoch)
			}
		})
	}

	// Payloads differ between packages and are stable across builds.
	again := BuildRPMs(t, t.TempDir(), pkgs[1])
	a, _ := os.ReadFile(paths[1])
	b, _ := os.ReadFile(again[0])
	if string(a) != string(b) {
		t.Errorf("rebuilding an unsigned package changed its bytes")
	}
}

func TestBuildRejects(t *testing.T) {
	tests := []struct {
		name string
		pkgs []Pkg
		want string
	}{
		{"bad name", []Pkg{{Name: "a b"}}, "package name"},
		{"dash in version", []Pkg{{Name: "a", Version: "1-2"}}, "version"},
		{"reserved name", []Pkg{{Name: specName}}, "reserved"},
		{"twice", []Pkg{{Name: "a"}, {Name: "a"}}, "listed twice"},
		{"macro in requires", []Pkg{{Name: "a", Requires: []string{"%{x}"}}}, "requirement"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Build(t.TempDir(), tt.pkgs...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestRpmkeysChecksig checks signatures the way rpm and dnf do: the key
// imported into an rpm database.
func TestRpmkeysChecksig(t *testing.T) {
	RequireTools(t, append(DefaultTools, "rpmkeys")...)
	test, unknown := TestKey(t), UnknownKey(t)
	dir := t.TempDir()
	paths := BuildRPMs(t, dir, Pkg{Name: "good", Sign: test}, Pkg{Name: "foreign", Sign: unknown}, Pkg{Name: "plain"})
	dbpath := t.TempDir()
	if out, err := exec.Command("rpmkeys", "--dbpath", dbpath, "--import", test.PublicPath).CombinedOutput(); err != nil {
		t.Fatalf("rpmkeys --import: %v: %s", err, out)
	}
	tests := []struct {
		path   string
		wantOK bool
		want   string
	}{
		{paths[0], true, "digests signatures OK"},
		{paths[1], false, "SIGNATURES NOT OK"},
		{paths[2], true, "digests OK"}, // no signature to fail
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.path), func(t *testing.T) {
			out, err := exec.Command("rpmkeys", "--dbpath", dbpath, "--checksig", tt.path).CombinedOutput()
			if (err == nil) != tt.wantOK || !strings.Contains(string(out), tt.want) {
				t.Errorf("rpmkeys --checksig: %v: %s; want success %v and %q", err, out, tt.wantOK, tt.want)
			}
		})
	}
	out, err := exec.Command("rpmkeys", "--dbpath", dbpath, "-Kv", paths[0]).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Header V4 RSA/SHA256 Signature, key ID "+strings.ToLower(test.ID[8:])+": OK") ||
		!strings.Contains(string(out), "Payload SHA256 digest: OK") {
		t.Errorf("rpmkeys -Kv: %v:\n%s", err, out)
	}
}

// BenchmarkBuild measures building many tiny packages, unsigned, then
// signing them: what LargeRepo costs.
func BenchmarkBuild(b *testing.B) {
	RequireTools(b)
	for _, n := range []int{100, 1000} {
		b.Run("build-"+strconv.Itoa(n), func(b *testing.B) {
			for b.Loop() {
				BuildRPMs(b, b.TempDir(), ManyPackages(n, nil)...)
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N)/float64(n), "ms/pkg")
		})
		b.Run("sign-"+strconv.Itoa(n), func(b *testing.B) {
			key := NewKey(b, "bench <bench@rpmirror.invalid>")
			paths := BuildRPMs(b, b.TempDir(), ManyPackages(n, nil)...)
			for b.Loop() {
				if err := Sign(key, paths...); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N)/float64(n), "ms/pkg")
		})
	}
}
