package repodata

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"testing/iotest"
)

// rawSpans reads b with a PrimaryReader keeping raw packages (primary) or
// an EntryReader, through r, and returns each package's raw bytes, the
// root start tag and the error that ended the read (nil at io.EOF).
func rawSpans(b []byte, primary, oneByte bool) ([][]byte, []byte, error) {
	var r io.Reader = bytes.NewReader(b)
	if oneByte {
		r = iotest.OneByteReader(r)
	}
	var spans [][]byte
	if primary {
		pr := NewPrimaryReader(r)
		pr.KeepRaw()
		for {
			_, err := pr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return spans, nil, err
			}
			spans = append(spans, bytes.Clone(pr.Raw()))
		}
		return spans, pr.Root().Tag, nil
	}
	er := NewEntryReader(r, "filelists.xml")
	for {
		e, err := er.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return spans, nil, err
		}
		spans = append(spans, bytes.Clone(e.Raw))
	}
	return spans, er.Root().Tag, nil
}

// checkSpans checks that spans are the <package> elements of b, byte for
// byte, in order, and root its root start tag.
func checkSpans(t *testing.T, b []byte, spans [][]byte, root []byte) {
	t.Helper()
	rest := b
	i := bytes.Index(rest, root)
	if i < 0 {
		t.Fatalf("root tag %q is not in the document", root)
	}
	rest = rest[i+len(root):]
	for n, s := range spans {
		if !bytes.HasPrefix(s, []byte("<package")) || !bytes.HasSuffix(s, []byte(">")) {
			t.Fatalf("package %d: %q is not an element", n+1, s)
		}
		i := bytes.Index(rest, s)
		if i < 0 {
			t.Fatalf("package %d: %q is not in the document after the previous one", n+1, s)
		}
		rest = rest[i+len(s):]
	}
}

func TestRawSpans(t *testing.T) {
	for _, repo := range []string{"plain", "extras", "sha"} {
		for _, typ := range []string{"primary", "filelists", "other"} {
			m, _ := filepath.Glob("testdata/repos/" + repo + "/repodata/*" + typ + ".xml*")
			for _, name := range m {
				t.Run(repo+"/"+typ, func(t *testing.T) {
					b, err := os.ReadFile(name)
					if err != nil {
						t.Fatal(err)
					}
					if b, err = decompressAll(bytes.NewReader(b), name); err != nil {
						t.Fatal(err)
					}
					spans, root, err := rawSpans(b, typ == "primary", false)
					if err != nil {
						t.Fatal(err)
					}
					if len(spans) == 0 {
						t.Fatal("no packages")
					}
					checkSpans(t, b, spans, root)
					spans1, _, err := rawSpans(b, typ == "primary", true)
					if err != nil || len(spans1) != len(spans) {
						t.Fatalf("one byte at a time: %d packages, %v", len(spans1), err)
					}
					for i := range spans {
						if !bytes.Equal(spans[i], spans1[i]) {
							t.Fatalf("package %d differs when read one byte at a time", i+1)
						}
					}
				})
			}
		}
	}
}

func TestRootWithCount(t *testing.T) {
	for _, c := range []struct{ doc, want string }{
		{`<metadata xmlns="x" packages="12"><package type="rpm"/></metadata>`, `<metadata xmlns="x" packages="7">`},
		{`<filelists packages='3' xmlns="x"></filelists>`, `<filelists packages='7' xmlns="x">`},
		{`<otherdata xmlns="x"></otherdata>`, `<otherdata xmlns="x" packages="7">`},
		{`<otherdata xmlns="x"/>`, `<otherdata xmlns="x" packages="7">`},
		{`<otherdata packages="0"/>`, `<otherdata packages="7">`},
	} {
		er := NewEntryReader(bytes.NewReader([]byte(c.doc)), "x.xml")
		root := er.Root()
		if root == nil {
			_, err := er.Next()
			t.Fatalf("%s: %v", c.doc, err)
		}
		if got := string(root.WithCount(7)); got != c.want {
			t.Errorf("%s: %s, want %s", c.doc, got, c.want)
		}
	}
}

func TestEntryReaderErrors(t *testing.T) {
	for _, c := range []struct{ name, doc string }{
		{"no pkgid", `<filelists packages="1"><package name="a"></package></filelists>`},
		{"count", `<filelists packages="2"><package pkgid="a"></package></filelists>`},
		{"truncated", `<filelists packages="1"><package pkgid="a"><file>/x</fi`},
		{"doctype", `<!DOCTYPE x [<!ENTITY a "b">]><filelists><package pkgid="a"/></filelists>`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := rawSpans([]byte(c.doc), false, false)
			if err == nil {
				t.Fatal("no error")
			}
			if c.name == "truncated" && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("%v does not match io.ErrUnexpectedEOF", err)
			}
		})
	}
}

// FuzzRawSpans checks that the raw packages PrimaryReader and EntryReader
// return are the document's elements byte for byte, in order, whatever
// the reads' sizes.
func FuzzRawSpans(f *testing.F) {
	for _, s := range primarySeeds(f) {
		f.Add(s, true)
		f.Add(bytes.ReplaceAll(s, []byte("metadata"), []byte("filelists")), false)
	}
	f.Add([]byte(`<filelists packages="1"><package pkgid="a" name="n" arch="x"><file>/&amp;</file></package></filelists>`), false)
	f.Fuzz(func(t *testing.T, b []byte, primary bool) {
		spans, root, err := rawSpans(b, primary, false)
		spans1, _, err1 := rawSpans(b, primary, true)
		if errString(err) != errString(err1) || len(spans) != len(spans1) {
			t.Fatalf("whole: %d packages, %v\none byte at a time: %d packages, %v", len(spans), err, len(spans1), err1)
		}
		for i := range spans {
			if !bytes.Equal(spans[i], spans1[i]) {
				t.Fatalf("package %d differs when read one byte at a time", i+1)
			}
		}
		if err != nil {
			return
		}
		checkSpans(t, b, spans, root)
	})
}
