package zchunk_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/internal/zchunk"
)

func readAll(t testing.TB, b []byte) ([]byte, error) {
	t.Helper()
	zr, err := zchunk.NewReader(bytes.NewReader(b), 64<<20)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	return io.ReadAll(zr)
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCommitted: the committed zchunk files (createrepo_c's primary.xml.zck
// of the demo's packages, without a dictionary and with a raw-content one)
// read back to the primary.xml createrepo_c wrote beside them.
func TestCommitted(t *testing.T) {
	want := mustRead(t, filepath.Join("testdata", "primary.xml"))
	for _, name := range []string{"primary.xml.zck", "primary-rawdict.xml.zck"} {
		got, err := readAll(t, mustRead(t, filepath.Join("testdata", name)))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes, %v; want the %d bytes of primary.xml", name, len(got), err, len(want))
		}
	}
}

// TestCreaterepo: every zchunk file createrepo_c writes (primary,
// filelists, other), without a dictionary, with a raw-content one and with
// one zstd trained (its format, naming the dictionary in each frame),
// reads back to the content of the .xml.gz beside it.
func TestCreaterepo(t *testing.T) {
	testrepo.RequireTools(t, "createrepo_c", "zstd")
	pkgs, err := filepath.Glob(filepath.Join(testrepo.DemoOrigin(t, "v1"), "Packages", "*", "*.rpm"))
	if err != nil || len(pkgs) == 0 {
		t.Fatalf("the demo's packages: %v, %v", pkgs, err)
	}
	base := t.TempDir()
	raw := filepath.Join(base, "raw")
	trained := filepath.Join(base, "trained")
	samples := filepath.Join(base, "samples")
	for _, d := range []string{raw, trained, samples} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	prim := mustRead(t, filepath.Join("testdata", "primary.xml"))
	for i := range 200 {
		// Samples to train a dictionary on: pieces of a primary.
		s := prim[(i*31)%(len(prim)-400):][:400]
		if err := os.WriteFile(filepath.Join(samples, "s"+string(rune('a'+i%26))+string(rune('a'+i/26))), s, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ents, _ := os.ReadDir(samples)
	args := []string{"-q", "--train", "--maxdict=4096", "-o", filepath.Join(trained, "dict")}
	for _, e := range ents {
		args = append(args, filepath.Join(samples, e.Name()))
	}
	if out, err := exec.Command("zstd", args...).CombinedOutput(); err != nil {
		t.Fatalf("zstd --train: %v\n%s", err, out)
	}
	for _, typ := range []string{"primary", "filelists", "other"} {
		if err := os.WriteFile(filepath.Join(raw, typ+".xml.zdict"), prim[:2000], 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Link(filepath.Join(trained, "dict"), filepath.Join(trained, typ+".xml.zdict")); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		dict string
	}{
		{"no dictionary", ""},
		{"raw-content dictionary", raw},
		{"trained dictionary", trained},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := t.TempDir()
			for _, p := range pkgs {
				if err := os.Link(p, filepath.Join(repo, filepath.Base(p))); err != nil {
					t.Fatal(err)
				}
			}
			args := []string{"-q", "--zck", "--no-database", repo}
			if tc.dict != "" {
				args = append([]string{"--zck-dict-dir", tc.dict}, args...)
			}
			if out, err := exec.Command("createrepo_c", args...).CombinedOutput(); err != nil {
				t.Fatalf("createrepo_c: %v\n%s", err, out)
			}
			for _, typ := range []string{"primary", "filelists", "other"} {
				zf, _ := filepath.Glob(filepath.Join(repo, "repodata", "*-"+typ+".xml.zck"))
				gf, _ := filepath.Glob(filepath.Join(repo, "repodata", "*-"+typ+".xml.gz"))
				if len(zf) != 1 || len(gf) != 1 {
					t.Fatalf("%s: zchunk %v, gzip %v", typ, zf, gf)
				}
				gr, err := gzip.NewReader(bytes.NewReader(mustRead(t, gf[0])))
				if err != nil {
					t.Fatal(err)
				}
				want, err := io.ReadAll(gr)
				if err != nil {
					t.Fatal(err)
				}
				z := mustRead(t, zf[0])
				if tc.dict != "" && bytes.Equal(z[len(z)-len(z)/2:], make([]byte, len(z)/2)) {
					t.Fatalf("%s: an empty file", typ)
				}
				got, err := readAll(t, z)
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("%s: %d bytes, %v; want the %d bytes of the .xml.gz", typ, len(got), err, len(want))
				}
			}
		})
	}
}

// TestDamaged: a zchunk file cut short anywhere, with a byte more at its
// end, or with any byte of its header changed is an error (a
// *FormatError where the format is broken), never a shorter content read
// without one; changing any byte never panics.
func TestDamaged(t *testing.T) {
	for _, name := range []string{"primary.xml.zck", "primary-rawdict.xml.zck"} {
		z := mustRead(t, filepath.Join("testdata", name))
		want := mustRead(t, filepath.Join("testdata", "primary.xml"))
		for n := range len(z) {
			got, err := readAll(t, z[:n])
			var fe *zchunk.FormatError
			if err == nil || !errors.As(err, &fe) {
				t.Errorf("%s cut to %d bytes: %d bytes read, err %v; want a *FormatError", name, n, len(got), err)
			}
		}
		if _, err := readAll(t, append(bytes.Clone(z), 0)); err == nil {
			t.Errorf("%s with a byte appended: no error", name)
		}
		// The compressed data starts with the first zstd frame; before
		// it, the header, whose checksums are not checked here.
		data := bytes.Index(z, []byte{0x28, 0xb5, 0x2f, 0xfd})
		if data < 0 {
			t.Fatalf("%s holds no zstd frame", name)
		}
		changed := 0
		for i := range len(z) {
			d := bytes.Clone(z)
			d[i] ^= 0x55
			got, err := readAll(t, d)
			if err != nil || !bytes.Equal(got, want) {
				changed++
			} else if i >= data && name == "primary.xml.zck" {
				// Without a dictionary, every byte after the header
				// is content. (A byte of a dictionary need not be
				// used by any chunk.)
				t.Errorf("%s with byte %d of its data changed reads back the same content", name, i)
			}
		}
		if changed < (len(z)-data)*9/10 {
			t.Errorf("%s: %d of %d changed bytes noticed, want at least nine in ten of the %d of the data", name, changed, len(z), len(z)-data)
		}
	}
}

// FuzzReader: whatever the bytes, NewReader and Read end, without a panic,
// with content or an error.
func FuzzReader(f *testing.F) {
	for _, name := range []string{"primary.xml.zck", "primary-rawdict.xml.zck"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		zr, err := zchunk.NewReader(bytes.NewReader(b), 64<<20)
		if err != nil {
			return
		}
		defer zr.Close()
		io.Copy(io.Discard, io.LimitReader(zr, 64<<20))
	})
}

// TestMax: a file whose chunks declare more content than the caller's
// bound is refused before anything is decompressed.
func TestMax(t *testing.T) {
	b := mustRead(t, filepath.Join("testdata", "primary.xml.zck"))
	want := mustRead(t, filepath.Join("testdata", "primary.xml"))
	var fe *zchunk.FormatError
	if _, err := zchunk.NewReader(bytes.NewReader(b), int64(len(want)-1)); !errors.As(err, &fe) {
		t.Errorf("content of %d bytes with a bound of %d: err %v, want a *FormatError", len(want), len(want)-1, err)
	}
	if _, err := zchunk.NewReader(bytes.NewReader(b), int64(len(want))); err != nil {
		t.Errorf("content of %d bytes with a bound of as many: %v", len(want), err)
	}
}
