package repodata

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"github.com/ulikunitz/xz"
)

func FuzzRepomd(f *testing.F) {
	files, _ := filepath.Glob("testdata/repos/*/repodata/repomd.xml")
	files = append(files, "testdata/fedora38-repomd.xml")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(repomdDoc("<repomd ", `<!DOCTYPE repomd [<!ENTITY x "y">]><repomd `)))
	f.Add([]byte(repomdDoc("<location ", `<location xml:base="http://example.com/r/" `)))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRepomd(b)
		if err != nil {
			if r != nil {
				t.Fatal("a Repomd and an error")
			}
			return
		}
		seen := map[string]bool{}
		for _, d := range r.Data {
			if d.Type == "" || seen[d.Type] || d.Href == "" {
				t.Fatalf("bad data %+v", d)
			}
			seen[d.Type] = true
			for _, c := range []*Checksum{&d.Checksum, d.OpenChecksum, d.HeaderChecksum} {
				if c != nil {
					if err := c.Validate(); err != nil {
						t.Fatalf("%s: %v", d.Type, err)
					}
				}
			}
			if d.Size < -1 || d.OpenSize < -1 || d.HeaderSize < -1 || d.Timestamp < 0 {
				t.Fatalf("bad numbers %+v", d)
			}
			if got, ok := r.Find(d.Type); !ok || !reflect.DeepEqual(got, d) {
				t.Fatalf("Find(%q) = %+v", d.Type, got)
			}
		}
	})
}

// primarySeeds are the primary.xml files of the test repositories and
// the documents of the table tests.
func primarySeeds(f *testing.F) [][]byte {
	var seeds [][]byte
	for _, repo := range []string{"plain", "extras", "sha"} {
		m, _ := filepath.Glob("testdata/repos/" + repo + "/repodata/*primary.xml*")
		for _, name := range m {
			b, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			if b, err = decompressAll(bytes.NewReader(b), name); err != nil {
				f.Fatal(err)
			}
			seeds = append(seeds, b)
		}
	}
	seeds = append(seeds,
		[]byte(doc()),
		[]byte(doc("<name>tiny-devel</name>", "<name>t&#105;n&#x79;&amp;<![CDATA[<&>]]><!-- c --></name>")),
		[]byte("\xef\xbb\xbf"+doc(`href="x86_64/`, `xml:base='b&lt;' href="a&amp;b/`)),
		[]byte(`<metadata packages="0"/>`),
		[]byte(doc(onePkg, onePkg+onePkg, `packages="1"`, `packages="2"`)),
	)
	return seeds
}

// FuzzPrimary checks that PrimaryReader never panics; that it reads the
// same through a one-byte-at-a-time reader (which exercises every way a
// token can straddle reads); that what it returns is valid; and that when
// it accepts a document, encoding/xml accepts it too and reads the same
// packages.
func FuzzPrimary(f *testing.F) {
	for _, s := range primarySeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, err := readAll(bytes.NewReader(b))
		pkgs1, err1 := readAll(iotest.OneByteReader(bytes.NewReader(b)))
		if errString(err) != errString(err1) || !reflect.DeepEqual(pkgs, pkgs1) {
			t.Fatalf("whole: %d packages, %v\none byte at a time: %d packages, %v", len(pkgs), err, len(pkgs1), err1)
		}
		// NextLocation reads the same document with the same checks:
		// the same locations and checksums, the same error.
		locs, lerr := readLocations(iotest.HalfReader(bytes.NewReader(b)))
		if errString(err) != errString(lerr) || len(locs) != len(pkgs) {
			t.Fatalf("Next: %d packages, %v\nNextLocation: %d, %v", len(pkgs), err, len(locs), lerr)
		}
		for i, p := range pkgs {
			if want := p.Href + " " + p.Checksum.String(); locs[i] != want {
				t.Fatalf("package %d: NextLocation read %q, Next %q", i+1, locs[i], want)
			}
		}
		if err != nil {
			return
		}
		var got []Package
		for _, p := range pkgs {
			if p.Name == "" || p.Arch == "" || p.Version == "" || p.Release == "" || p.Href == "" ||
				p.Epoch == "" || strings.Trim(p.Epoch, "0123456789") != "" || p.Size < -1 || p.Time < 0 {
				t.Fatalf("bad package %+v", p)
			}
			if err := p.Checksum.Validate(); err != nil {
				t.Fatalf("bad package %+v: %v", p, err)
			}
			got = append(got, *p)
		}
		if !utf8.Valid(b) || hasControl(b) {
			return // we check only the characters we keep; encoding/xml checks all
		}
		ref, declared, err := refParse(b)
		if err != nil {
			t.Fatalf("PrimaryReader accepted what encoding/xml refuses: %v", err)
		}
		if !reflect.DeepEqual(ref, got) {
			t.Fatalf("PrimaryReader read\n%+v\nencoding/xml read\n%+v", got, ref)
		}
		if pr := NewPrimaryReader(bytes.NewReader(b)); pr.Declared() != declared {
			t.Fatalf("Declared() = %d, encoding/xml read %d", pr.Declared(), declared)
		}
	})
}

// FuzzSkimRest checks NextLocation with SkimRest against the full read
// (Next) of the same document, its promise: of a document Next accepts,
// the same locations and checksums and no error, whatever the reads'
// sizes; of one it refuses, the packages Next read before its error, in
// the same order (and perhaps more after them, or an error of its own).
func FuzzSkimRest(f *testing.F) {
	for _, s := range primarySeeds(f) {
		f.Add(s)
	}
	for _, s := range skimDocs {
		f.Add([]byte(s.doc))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, err := readAll(bytes.NewReader(b))
		for _, r := range []io.Reader{bytes.NewReader(b), iotest.OneByteReader(bytes.NewReader(b)), iotest.HalfReader(bytes.NewReader(b))} {
			locs, serr := readSkimmed(r)
			if err == nil && serr != nil {
				t.Fatalf("Next accepted the document, NextLocation with SkimRest refused it: %v", serr)
			}
			if len(locs) < len(pkgs) || err == nil && len(locs) != len(pkgs) {
				t.Fatalf("Next: %d packages, %v\nskimmed: %d, %v", len(pkgs), err, len(locs), serr)
			}
			for i, p := range pkgs {
				if want := p.Href + " " + p.Checksum.String(); locs[i] != want {
					t.Fatalf("package %d: skimmed %q, Next read %q", i+1, locs[i], want)
				}
			}
		}
	})
}

// readSkimmed is readLocations with SkimRest.
func readSkimmed(r io.Reader) ([]string, error) {
	pr := NewPrimaryReader(r)
	pr.SkimRest()
	var locs []string
	for {
		href, typ, sum, err := pr.NextLocation()
		if err == io.EOF {
			return locs, nil
		}
		if err != nil {
			return locs, err
		}
		locs = append(locs, string(href)+" "+typ+":"+string(sum))
	}
}

// hasControl reports whether b has a character XML does not allow.
func hasControl(b []byte) bool {
	for _, r := range string(b) {
		if !isXMLChar(r) {
			return true
		}
	}
	return false
}

// FuzzDecompress checks that Decompress and its readers never panic, on
// any content under any name.
func FuzzDecompress(f *testing.F) {
	names := []string{"primary.xml", "primary.xml.gz", "primary.xml.xz", "primary.xml.zst", "primary.sqlite.bz2", "primary.xml.zck"}
	files, _ := filepath.Glob("testdata/repos/*/repodata/*-primary.xml*")
	xzFiles, _ := filepath.Glob("testdata/xz/*.xz")
	for _, name := range append(files, xzFiles...) {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(0))
	}
	for format, b := range compressed(f, []byte("hello, world\n")) {
		f.Add(b, uint8(len(format)))
	}
	f.Add([]byte("\x00ZCK1"), uint8(5))
	f.Fuzz(func(t *testing.T, b []byte, n uint8) {
		name := names[int(n)%len(names)]
		rc, err := Decompress(bytes.NewReader(b), name)
		if err != nil {
			if rc != nil {
				t.Fatal("a reader and an error")
			}
			return
		}
		var out bytes.Buffer
		_, err = io.Copy(&out, io.LimitReader(rc, 4<<20))
		if err := rc.Close(); err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte("\xfd7zXZ\x00")) || strings.Contains(errString(err), "larger than the limit") {
			return
		}
		// The xz guard passes data through unchanged: the decoder alone
		// must give the same result (it may not allocate a large
		// dictionary: the guard would have refused it).
		xr, xerr := xz.NewReader(bytes.NewReader(b))
		var xout bytes.Buffer
		if xerr == nil {
			_, xerr = io.Copy(&xout, io.LimitReader(xr, 4<<20))
		}
		if (err == nil) != (xerr == nil) || !bytes.Equal(out.Bytes(), xout.Bytes()) {
			t.Fatalf("with the guard: %d bytes, %v\nwithout: %d bytes, %v", out.Len(), err, xout.Len(), xerr)
		}
	})
}

// readLocations reads r with NextLocation: "href type:value" a package.
func readLocations(r io.Reader) ([]string, error) {
	pr := NewPrimaryReader(r)
	var locs []string
	for {
		href, typ, sum, err := pr.NextLocation()
		if err == io.EOF {
			return locs, nil
		}
		if err != nil {
			return locs, err
		}
		locs = append(locs, string(href)+" "+typ+":"+string(sum))
	}
}

// TestSkimRestMutations checks FuzzSkimRest's promise on documents made
// from the seeds by random edits that favour markup (a fixed seed, so a
// failure repeats): what the fuzzer would try first, without its time.
func TestSkimRestMutations(t *testing.T) {
	bits := []string{"<", ">", "/", "</package>", "<package>", "</format>", "<format>", "<!--", "-->",
		"<![CDATA[", "]]>", "<?x ", "?>", "&", "&amp;", "&bogus;", `"`, "'", " ", "<location href=\"x\"/>",
		`<checksum type="sha256">` + strings.Repeat("a", 64) + "</checksum>", "</description>", "</summary >", "<rpm:entry name=\"a\"/>"}
	seeds := [][]byte{[]byte(doc()), []byte(doc(onePkg, onePkg+onePkg, `packages="1"`, `packages="2"`))}
	for _, s := range skimDocs {
		seeds = append(seeds, []byte(s.doc))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	n := 5000
	if testing.Short() {
		n = 1000
	}
	accepted, traded := 0, 0
	for i := range n {
		b := bytes.Clone(seeds[rng.IntN(len(seeds))])
		for range 1 + rng.IntN(3) {
			at := rng.IntN(len(b) + 1)
			switch rng.IntN(3) {
			case 0: // insert
				b = slices.Insert(b, at, []byte(bits[rng.IntN(len(bits))])...)
			case 1: // delete
				b = slices.Delete(b, at, min(len(b), at+1+rng.IntN(12)))
			default: // replace a byte
				if at < len(b) {
					b[at] = "<>/!?&\"' ax"[rng.IntN(11)]
				}
			}
		}
		pkgs, err := readAll(bytes.NewReader(b))
		locs, serr := readSkimmed(iotest.HalfReader(bytes.NewReader(b)))
		if err == nil && serr != nil || len(locs) < len(pkgs) || err == nil && len(locs) != len(pkgs) {
			t.Fatalf("mutation %d:\n%s\nNext: %d packages, %v\nskimmed: %d, %v", i, b, len(pkgs), err, len(locs), serr)
		}
		for j, p := range pkgs {
			if want := p.Href + " " + p.Checksum.String(); locs[j] != want {
				t.Fatalf("mutation %d:\n%s\npackage %d: skimmed %q, Next read %q", i, b, j+1, locs[j], want)
			}
		}
		if err == nil {
			accepted++
		} else if serr == nil {
			traded++
		}
	}
	t.Logf("%d documents: %d accepted by both, %d by the skim alone", n, accepted, traded)
}
