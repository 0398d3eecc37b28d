package repodata

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// realPrimary returns the uncompressed primary.xml of the "plain" test
// repository, as createrepo_c wrote it.
func realPrimary(t testing.TB) []byte {
	t.Helper()
	m, err := filepath.Glob("testdata/repos/plain/repodata/*-primary.xml")
	if err != nil || len(m) != 1 {
		t.Fatalf("finding the plain primary.xml: %v %v", m, err)
	}
	b, err := os.ReadFile(m[0])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readAll reads every package of r.
func readAll(r io.Reader) ([]*Package, error) {
	pr := NewPrimaryReader(r)
	var pkgs []*Package
	for {
		p, err := pr.Next()
		if err == io.EOF {
			return pkgs, nil
		}
		if err != nil {
			return pkgs, err
		}
		pkgs = append(pkgs, p)
	}
}

// onePkg is the tiny-devel package as createrepo_c wrote it; error cases
// below are edits of it.
const onePkg = `<package type="rpm">
  <name>tiny-devel</name>
  <arch>x86_64</arch>
  <version epoch="0" ver="1.0" rel="1"/>
  <checksum type="sha256" pkgid="YES">4477f5f5c26a385166b3a3f3a0a75c4ee15b64f65396aef4cf748aa9aaa4a987</checksum>
  <summary>Development files for tiny</summary>
  <description>Devel files.</description>
  <packager></packager>
  <url>https://example.com/tiny?a=1&amp;b=2</url>
  <time file="1704067200" build="1704067200"/>
  <size package="6400" installed="7" archive="264"/>
  <location href="x86_64/tiny-devel-1.0-1.x86_64.rpm"/>
  <format>
    <rpm:license>MIT</rpm:license>
    <rpm:sourcerpm>tiny-1.0-1.src.rpm</rpm:sourcerpm>
    <rpm:header-range start="4504" end="6293"/>
    <rpm:requires>
      <rpm:entry name="tiny" flags="EQ" epoch="0" ver="1.0" rel="1"/>
    </rpm:requires>
  </format>
</package>
`

var onePkgWant = Package{
	Name: "tiny-devel", Arch: "x86_64", Epoch: "0", Version: "1.0", Release: "1",
	Checksum: Checksum{Type: "sha256", Value: "4477f5f5c26a385166b3a3f3a0a75c4ee15b64f65396aef4cf748aa9aaa4a987"},
	Size:     6400, Href: "x86_64/tiny-devel-1.0-1.x86_64.rpm", Time: 1704067200,
}

const header = `<?xml version="1.0" encoding="UTF-8"?>
<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="1">
`

// doc is a primary.xml of onePkg with the replacements old, new, ... made.
func doc(oldnew ...string) string {
	return strings.NewReplacer(oldnew...).Replace(header + onePkg + "</metadata>\n")
}

func TestPrimaryReaderAccepts(t *testing.T) {
	want := onePkgWant
	with := func(f func(p *Package)) []Package {
		p := want
		f(&p)
		return []Package{p}
	}
	tests := []struct {
		name string
		doc  string
		want []Package
	}{
		{"as written", doc(), []Package{want}},
		{"no xml declaration", strings.TrimPrefix(doc(), `<?xml version="1.0" encoding="UTF-8"?>`+"\n"), []Package{want}},
		{"byte order mark", "\xef\xbb\xbf" + doc(), []Package{want}},
		{"no trailing newline", strings.TrimSuffix(doc(), "\n"), []Package{want}},
		{"comments and processing instructions", doc(
			"<metadata", "<!-- a comment -->\n<?pi x?><metadata",
			"<name>", "<!-- c --><name>",
			"</metadata>", "<?pi y?></metadata><!-- after -->"), []Package{want}},
		{"entities in text and attributes", doc(
			"<name>tiny-devel</name>", "<name>t&#105;n&#x79;&amp;&lt;&gt;&quot;&apos;</name>",
			`href="x86_64/`, `href="a&amp;b &#x26; &#38; &lt;&gt;&quot;&apos;/`),
			with(func(p *Package) {
				p.Name = `tiny&<>"'`
				p.Href = `a&b & & <>"'/tiny-devel-1.0-1.x86_64.rpm`
			})},
		{"CDATA and split text", doc("<name>tiny-devel</name>", "<name><![CDATA[ti<&>]]>ny<!-- x -->-devel</name>"),
			with(func(p *Package) { p.Name = "ti<&>ny-devel" })},
		{"line ends normalized", doc("<name>tiny-devel</name>", "<name>a\r\nb\rc</name>"),
			with(func(p *Package) { p.Name = "a\nb\nc" })},
		{"non-ASCII", doc("<name>tiny-devel</name>", "<name>café-日本語</name>"),
			with(func(p *Package) { p.Name = "café-日本語" })},
		{"single quotes and spaces", doc(`<version epoch="0" ver="1.0" rel="1"/>`, `<version  epoch = '0'	ver='1.0'
rel="1" />`, "</name>", "</name >"), []Package{want}},
		{"xml:base", doc("<location ", `<location xml:base="http://example.com/a?b&amp;c" `),
			with(func(p *Package) { p.Base = "http://example.com/a?b&c" })},
		{"epoch", doc(`epoch="0"`, `epoch="12"`), with(func(p *Package) { p.Epoch = "12" })},
		{"no epoch", doc(`epoch="0" `, ""), []Package{want}},
		{"empty epoch", doc(`epoch="0"`, `epoch=""`), []Package{want}},
		{"checksum case and space", doc(`type="sha256" pkgid="YES">4477f5f5c26a385166b3a3f3a0a75c4ee15b64f65396aef4cf748aa9aaa4a987`,
			`type="SHA256" pkgid="YES">
			4477F5F5C26A385166B3A3F3A0A75C4EE15B64F65396AEF4CF748AA9AAA4A987 `), []Package{want}},
		{"sha", doc(`type="sha256" pkgid="YES">4477f5f5c26a385166b3a3f3a0a75c4ee15b64f65396aef4cf748aa9aaa4a987`,
			`type="sha" pkgid="YES">4477f5f5c26a385166b3a3f3a0a75c4ee15b64f6`),
			with(func(p *Package) { p.Checksum = Checksum{"sha1", "4477f5f5c26a385166b3a3f3a0a75c4ee15b64f6"} })},
		{"no size and time", doc(`<size package="6400" installed="7" archive="264"/>`, "", `<time file="1704067200" build="1704067200"/>`, ""),
			with(func(p *Package) { p.Size, p.Time = -1, 0 })},
		{"no package type", doc(`<package type="rpm">`, `<package>`), []Package{want}},
		{"elements with content", doc(`<size package="6400" installed="7" archive="264"/>`, `<size package="6400"> <x/> </size>`), []Package{want}},
		{"unknown elements", doc("<metadata ", "<metadata ", "<package ", "<other a='1'><package/></other><empty/><package "), []Package{want}},
		{"no package count", doc(` packages="1"`, ""), []Package{want}},
		{"empty", `<metadata packages="0"/>`, nil},
		{"empty, not self-closing", `<metadata packages="0"></metadata>`, nil},
		{"two", doc(onePkg, onePkg+onePkg, `packages="1"`, `packages="2"`), []Package{want, want}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkgs, err := readAll(strings.NewReader(tt.doc))
			if err != nil {
				t.Fatal(err)
			}
			var got []Package
			for _, p := range pkgs {
				got = append(got, *p)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
			// encoding/xml reads the same.
			ref, _, err := refParse([]byte(tt.doc))
			if err != nil {
				t.Fatalf("encoding/xml: %v", err)
			}
			if !reflect.DeepEqual(ref, tt.want) {
				t.Errorf("encoding/xml read %+v", ref)
			}
		})
	}
}

func TestPrimaryReaderErrors(t *testing.T) {
	big := strings.Repeat("x", maxTokenSize+10)
	tests := []struct {
		name string
		doc  string
		want string
	}{
		{"empty", "", "primary.xml:1: no root element"},
		{"only white space", " \n ", "primary.xml:2: no root element"},
		{"DOCTYPE", strings.Replace(doc(), "<metadata", `<!DOCTYPE metadata [<!ENTITY x "y">]><metadata`, 1),
			"primary.xml:2: <!DOCTYPE> is not allowed (DOCTYPE and entity declarations are refused)"},
		{"ENTITY", doc("<package ", `<!ENTITY x SYSTEM "file:///etc/passwd"><package `),
			"primary.xml:3: <!ENTITY> is not allowed (DOCTYPE and entity declarations are refused)"},
		{"unknown entity", doc("<name>tiny-devel", "<name>&x;"), `primary.xml:4: unknown entity "&x;"`},
		{"entity without semicolon", doc("<name>tiny-devel", "<name>a & b"), `primary.xml:4: malformed reference "& b"`},
		{"bad character reference", doc("<name>tiny-devel", "<name>&#1;"), `primary.xml:4: character reference "&#1;" is not an XML character`},
		{"surrogate character reference", doc(`href="x86_64`, `href="&#xD800;`), `primary.xml:14: attribute href of <location>: character reference "&#xD800;" is not an XML character`},
		{"huge character reference", doc(`href="x86_64`, `href="&#99999999999;`), `primary.xml:14: attribute href of <location>: character reference "&#99999999999;" out of range`},
		{"root element", `<repomd></repomd>`, "primary.xml:1: root element is <repomd>, want <metadata>"},
		{"bad package count", doc(`packages="1"`, `packages="-1"`), `primary.xml:2: <metadata packages="-1">: not a package count`},
		{"wrong package count", doc(`packages="1"`, `packages="2"`), `primary.xml: <metadata packages="2"> but the document has 1 <package> elements`},
		{"too many packages", doc(onePkg, onePkg+onePkg), `primary.xml: <metadata packages="1"> but the document has 2 <package> elements`},
		{"package type", doc(`type="rpm"`, `type="drpm"`), `primary.xml:3: package 1: type "drpm" is not supported (want "rpm")`},
		{"no name", doc("<name>tiny-devel</name>", ""), "primary.xml:23: package 1: missing <name>"},
		{"empty name", doc("<name>tiny-devel</name>", "<name></name>"), "primary.xml:23: package 1: missing <name>"},
		{"self-closing name", doc("<name>tiny-devel</name>", "<name/>"), "primary.xml:23: package 1: missing <name>"},
		{"no arch", doc("<arch>x86_64</arch>", ""), "primary.xml:23: package 1 (tiny-devel): missing <arch>"},
		{"no version", doc(`<version epoch="0" ver="1.0" rel="1"/>`, ""), "primary.xml:23: package 1 (tiny-devel): missing <version ver>"},
		{"no ver", doc(`ver="1.0"`, ""), "primary.xml:23: package 1 (tiny-devel): missing <version ver>"},
		{"no rel", doc(`rel="1"`, `rel=""`), "primary.xml:23: package 1 (tiny-devel): missing <version rel>"},
		{"bad epoch", doc(`epoch="0"`, `epoch="1a"`), `primary.xml:23: package 1 (tiny-devel): <version epoch="1a">: not a number`},
		{"no checksum", doc(`<checksum type="sha256" pkgid="YES">4477f5f5c26a385166b3a3f3a0a75c4ee15b64f65396aef4cf748aa9aaa4a987</checksum>`, ""),
			"primary.xml:23: package 1 (tiny-devel): missing <checksum>"},
		{"checksum without type", doc(`type="sha256" `, ""), "primary.xml:7: package 1 (tiny-devel): <checksum> without a type attribute"},
		{"checksum type", doc(`type="sha256"`, `type="md4"`), `primary.xml:7: package 1 (tiny-devel): <checksum>: unknown checksum type "md4"`},
		{"checksum length", doc("4477f5f5c26a385166b3a3f3a0a75c4ee15b64f65396aef4cf748aa9aaa4a987", "4477f5"),
			`primary.xml:23: package 1 (tiny-devel): <checksum>: sha256 checksum "4477f5": want 64 hex digits, have 6`},
		{"checksum not hex", doc("4477f5f5c26a385166b3a3f3a0a75c4ee15b64f65396aef4cf748aa9aaa4a987", "4477f5f5c26a385166b3a3f3a0a75c4ee15b64f65396aef4cf748aa9aaa4a98g"),
			`primary.xml:23: package 1 (tiny-devel): <checksum>: sha256 checksum "4477f5f5c26a385166b3a3f3a0a75c4ee15b64f65396aef4cf748aa9aaa4a98g": not lower-case hex`},
		{"no location", doc(`<location href="x86_64/tiny-devel-1.0-1.x86_64.rpm"/>`, ""), "primary.xml:23: package 1 (tiny-devel): missing <location href>"},
		{"no href", doc(`href=`, `ref=`), "primary.xml:23: package 1 (tiny-devel): missing <location href>"},
		{"empty href", doc(`href="x86_64/tiny-devel-1.0-1.x86_64.rpm"`, `href=""`), "primary.xml:23: package 1 (tiny-devel): missing <location href>"},
		{"name with a newline", doc("<name>tiny-devel</name>", "<name>a\nb</name>", "<arch>x86_64</arch>", ""), `primary.xml:24: package 1 ("a\nb"): missing <arch>`},
		{"two names", doc("<arch>", "<name>b</name><arch>"), "primary.xml:5: package 1 (tiny-devel): more than one <name>"},
		{"two locations", doc("<location ", "<location href='a'/><location "), "primary.xml:14: package 1 (tiny-devel): more than one <location>"},
		{"bad size", doc(`package="6400"`, `package="64k"`), `primary.xml:13: package 1 (tiny-devel): <size package>="64k": not a number`},
		{"huge size", doc(`package="6400"`, `package="99999999999999999999"`), `primary.xml:13: package 1 (tiny-devel): <size package>="99999999999999999999": not a number`},
		{"bad time", doc(`file="1704067200"`, `file=""`), `primary.xml:12: package 1 (tiny-devel): <time file>="": not a number`},
		{"element in name", doc("<name>tiny-devel</name>", "<name>a<b/>c</name>"), "primary.xml:4: package 1: unexpected <b> inside <name>"},
		{"invalid UTF-8", doc("<name>tiny-devel", "<name>a\xffb"), "primary.xml:4: package 1: <name>: invalid UTF-8"},
		{"control character", doc(`href="x86_64`, "href=\"x\x01"), "primary.xml:14: package 1 (tiny-devel): <location href>: illegal character U+0001"},
		{"long field", doc("<name>tiny-devel", "<name>"+strings.Repeat("n", maxFieldSize+1)), "primary.xml:4: package 1: <name> longer than 65536 bytes"},
		{"mismatched end tag", doc("</arch>", "</name>"), "primary.xml:5: end tag </name> does not match <arch>"},
		{"end tag at top", "</metadata>", "primary.xml:1: unexpected end tag </metadata>"},
		{"malformed end tag", doc("</arch>", "</ arch>"), `primary.xml:5: malformed end tag "</ arch>"`},
		{"malformed tag", doc("<arch>", "< arch>"), `primary.xml:5: malformed tag "< "`},
		{"tag starting with a digit", doc("<arch>", "<1arch>"), `primary.xml:5: malformed tag "<1arch>"`},
		{"'<' in attribute", doc(`rel="1"`, `rel="<1"`), "primary.xml:6: attribute rel of <version>: '<' in value"},
		{"unquoted attribute", doc(`rel="1"`, `rel=1`), "primary.xml:6: attribute rel of <version>: value not quoted"},
		{"attribute without value", doc(`rel="1"`, `rel`), "primary.xml:6: attribute rel of <version> has no value"},
		{"attributes run together", doc(`ver="1.0" rel`, `ver="1.0"rel`), "primary.xml:6: malformed tag <version>: no space after attribute ver"},
		{"slash in tag", doc(`rel="1"/>`, `rel="1"/ >`), "primary.xml:6: malformed tag <version>: '/' not followed by '>'"},
		{"]]> in text", doc("Devel files.", "a]]>b"), `primary.xml:9: "]]>" in text`},
		{"non-ASCII tag", doc("<name>", "<nämé/><name>"), `primary.xml:4: malformed tag <n>`},
		{"-- in comment", doc("<name>", "<!-- a -- b --><name>"), `primary.xml:4: "--" inside a comment`},
		{"comment ending in -", doc("<name>", "<!-- a ---><name>"), `primary.xml:4: "--" inside a comment`},
		{"misplaced XML declaration", "\n" + doc(), "primary.xml:2: XML declaration not at the start of the document"},
		{"XML declaration after BOM and space", "\xef\xbb\xbf " + doc(), "primary.xml:1: XML declaration not at the start of the document"},
		{"encoding", doc("UTF-8", "ISO-8859-1"), `primary.xml:1: XML declaration: unsupported encoding "ISO-8859-1" (only UTF-8 is)`},
		{"XML 1.1", doc(`version="1.0"`, `version="1.1"`), `primary.xml:1: XML declaration: unsupported version "1.1"`},
		{"CDATA outside root", "<![CDATA[x]]>" + doc(), "primary.xml:1: CDATA section outside the root element"},
		{"text before root", "x" + doc(), "primary.xml:1: text outside the root element"},
		{"text after root", doc() + "x", "primary.xml:25: text outside the root element"},
		{"element after root", doc() + "<metadata/>", "primary.xml:25: element <metadata> after the root element"},
		{"second root after self-closing", `<metadata/><metadata/>`, "primary.xml:1: element <metadata> after the root element"},
		{"long attribute", doc(`rel="1"`, `rel="`+big+`"`), "primary.xml:6: tag longer than 1048576 bytes"},
		{"long text", doc("Devel files.", big), "primary.xml:9: text longer than 1048576 bytes"},
		{"long comment", doc("<name>", "<!--"+big+"--><name>"), "primary.xml:4: comment longer than 1048576 bytes"},
		{"deep nesting", doc("<rpm:license>", strings.Repeat("<a>", maxDepth)), "primary.xml:16: elements nested more than 256 deep"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pr := NewPrimaryReader(strings.NewReader(tt.doc))
			var err error
			for err == nil {
				_, err = pr.Next()
			}
			if err == io.EOF || err.Error() != tt.want {
				t.Fatalf("got error\n%v\nwant\n%s", err, tt.want)
			}
			if _, err2 := pr.Next(); err2 != err {
				t.Errorf("second Next returned %v, want the same error", err2)
			}
		})
	}
}

// TestPrimaryReaderTruncated cuts the real primary.xml at every byte: the
// reader must fail, never return fewer packages and io.EOF.
func TestPrimaryReaderTruncated(t *testing.T) {
	data := realPrimary(t)
	end := bytes.LastIndex(data, []byte("</metadata>")) + len("</metadata>")
	for n := range len(data) {
		pkgs, err := readAll(bytes.NewReader(data[:n]))
		if n >= end {
			if err != nil || len(pkgs) != 6 {
				t.Fatalf("cut at %d of %d (after </metadata>): %d packages, %v", n, len(data), len(pkgs), err)
			}
			continue
		}
		if err == nil {
			t.Fatalf("cut at %d of %d: no error, %d packages", n, len(data), len(pkgs))
		}
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("cut at %d of %d: error %v does not match io.ErrUnexpectedEOF", n, len(data), err)
		}
	}
}

// TestPrimaryReaderReads checks reading through readers that return
// little data at a time, and read errors.
func TestPrimaryReaderReads(t *testing.T) {
	data := realPrimary(t)
	want, err := readAll(bytes.NewReader(data))
	if err != nil || len(want) != 6 {
		t.Fatalf("%d packages, %v", len(want), err)
	}
	for _, tt := range []struct {
		name string
		r    io.Reader
	}{
		{"one byte", iotest.OneByteReader(bytes.NewReader(data))},
		{"half", iotest.HalfReader(bytes.NewReader(data))},
		{"data and EOF", iotest.DataErrReader(bytes.NewReader(data))},
		{"empty reads", &emptyReads{r: bytes.NewReader(data)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readAll(tt.r)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}

	t.Run("read error", func(t *testing.T) {
		boom := errors.New("boom")
		r := io.MultiReader(bytes.NewReader(data[:len(data)/2]), iotest.ErrReader(boom))
		_, err := readAll(r)
		if !errors.Is(err, boom) || err.Error() != "primary.xml: reading: boom" {
			t.Errorf("got %v", err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		_, err := readAll(iotest.TimeoutReader(bytes.NewReader(data)))
		if !errors.Is(err, iotest.ErrTimeout) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("no progress", func(t *testing.T) {
		_, err := readAll(&emptyReads{r: bytes.NewReader(data), n: 1000})
		if !errors.Is(err, io.ErrNoProgress) {
			t.Errorf("got %v", err)
		}
	})
}

// emptyReads returns (0, nil) n times (3 if n is 0) before each read.
type emptyReads struct {
	r    io.Reader
	n, i int
}

func (e *emptyReads) Read(p []byte) (int, error) {
	n := e.n
	if n == 0 {
		n = 3
	}
	if e.i < n {
		e.i++
		return 0, nil
	}
	e.i = 0
	return e.r.Read(p)
}

// endless is an endless reader: prefix, then fill repeated forever.
type endless struct {
	prefix string
	fill   string
	off    int // in fill
	read   int64
}

func (e *endless) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(e.prefix) > 0 {
			k := copy(p[n:], e.prefix)
			e.prefix = e.prefix[k:]
			n += k
			continue
		}
		k := copy(p[n:], e.fill[e.off:])
		e.off = (e.off + k) % len(e.fill)
		n += k
	}
	e.read += int64(n)
	return n, nil
}

// TestPrimaryReaderBounded feeds endless hostile documents: each must
// fail after reading a bounded amount.
func TestPrimaryReaderBounded(t *testing.T) {
	const limit = 4 << 20
	for _, tt := range []struct {
		name   string
		r      *endless
		errSub string
	}{
		{"attribute", &endless{prefix: `<metadata a="`, fill: "x"}, "tag longer than"},
		{"text", &endless{prefix: `<metadata>`, fill: "x"}, "text longer than"},
		{"white space", &endless{prefix: `<metadata>`, fill: " \n"}, "text longer than"},
		{"comment", &endless{prefix: `<metadata><!--`, fill: "x"}, "comment longer than"},
		{"CDATA", &endless{prefix: `<metadata><![CDATA[`, fill: "x"}, "CDATA section longer than"},
		{"processing instruction", &endless{prefix: `<metadata><?x`, fill: "x"}, "processing instruction longer than"},
		{"end tag", &endless{prefix: `<metadata></metadata`, fill: "x"}, "end tag longer than"},
		{"nesting", &endless{prefix: `<metadata>`, fill: "<a>"}, "nested more than"},
		{"attributes", &endless{prefix: `<metadata`, fill: ` a="b"`}, "tag longer than"},
		{"name text", &endless{prefix: `<metadata><package><name>`, fill: "x<!---->"}, "<name> longer than"},
		{"text before root", &endless{fill: " "}, "text longer than"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readAll(tt.r)
			if err == nil || !strings.Contains(err.Error(), tt.errSub) {
				t.Fatalf("got %v, want an error with %q", err, tt.errSub)
			}
			if tt.r.read > limit {
				t.Errorf("read %d bytes before failing", tt.r.read)
			}
		})
	}
}

func TestPrimaryReaderDeclared(t *testing.T) {
	for _, tt := range []struct {
		doc  string
		want int
	}{
		{doc(), 1},
		{doc(` packages="1"`, ""), -1},
		{`<metadata packages="0"/>`, 0},
		{"", -1},
		{"<metadata packages='x'>", -1},
	} {
		pr := NewPrimaryReader(strings.NewReader(tt.doc))
		if got := pr.Declared(); got != tt.want {
			t.Errorf("%.40q: Declared() = %d, want %d", tt.doc, got, tt.want)
		}
	}
}

func TestPrimaryReaderFreshPackages(t *testing.T) {
	pr := NewPrimaryReader(strings.NewReader(doc(onePkg, onePkg+strings.Replace(onePkg, "tiny-devel<", "other<", 1), `packages="1"`, `packages="2"`)))
	a, err := pr.Next()
	if err != nil {
		t.Fatal(err)
	}
	b, err := pr.Next()
	if err != nil {
		t.Fatal(err)
	}
	if a == b || a.Name != "tiny-devel" || b.Name != "other" {
		t.Errorf("got %p %v and %p %v", a, a, b, b)
	}
	if _, err := pr.Next(); err != io.EOF {
		t.Errorf("third Next: %v", err)
	}
	if _, err := pr.Next(); err != io.EOF {
		t.Errorf("Next after io.EOF: %v", err)
	}
}

func TestNEVRA(t *testing.T) {
	for _, tt := range []struct {
		p    Package
		want string
	}{
		{Package{Name: "tiny", Epoch: "0", Version: "1.0", Release: "1", Arch: "x86_64"}, "tiny-0:1.0-1.x86_64"},
		{Package{Name: "epochy", Epoch: "3", Version: "2.0~rc1", Release: "4.el9", Arch: "src"}, "epochy-3:2.0~rc1-4.el9.src"},
		{Package{Name: "x", Version: "1", Release: "2", Arch: "noarch"}, "x-0:1-2.noarch"},
	} {
		if got := tt.p.NEVRA(); got != tt.want {
			t.Errorf("NEVRA() = %q, want %q", got, tt.want)
		}
	}
}

// skimDocs are documents whose <format> section SkimRest must not take
// at its word, and what NextLocation reads of them with it: "" where the
// full read refuses them too (wantErr), else the locations.
var skimDocs = []struct {
	name    string
	doc     string
	wantErr string // a part of the error, "" for none
	skimmed bool   // read although the full read refuses it (the trade)
}{
	{"as written", doc(), "", false},
	{"end tag in a comment", doc("<rpm:license>", `<!-- </package><package type="rpm"><location href="evil"/> --><rpm:license>`), "", false},
	{"end tag in CDATA", doc("<rpm:license>MIT", `<rpm:license><![CDATA[</package>]]>MIT`), "", false},
	{"end tag in a processing instruction", doc("<rpm:license>", `<?x </package> ?><rpm:license>`), "", false},
	{"a second location after format", doc("</format>", `</format><location href="other"/>`), "more than one <location>", false},
	{"a second checksum after format", doc("</format>", `</format><checksum type="sha256">`+strings.Repeat("0", 64)+`</checksum>`), "more than one <checksum>", false},
	{"a location nested in format", doc("<rpm:license>", `<x><location href="other"/></x><rpm:license>`), "", false},
	{"a package nested in format", doc("<rpm:license>", `<package><name>x</name></package><rpm:license>`), "", false},
	{"size after format", doc(`<size package="6400" installed="7" archive="264"/>`, "", "</format>", `</format><size package="x"/>`), "not a number", false},
	{"end tag with a space", doc("</package>", "</package >"), "", false},
	{"truncated in format", strings.TrimSuffix(doc(), "  </format>\n</package>\n</metadata>\n"), "unexpected end of file", false},
	{"two packages, one declared", doc(onePkg, onePkg+onePkg), "the document has 2", false},
	{"a comment in the description", doc("<description>Devel", "<description><!-- </description> -->Devel"), "", false},
	{"an element in the description", doc("<description>Devel", "<description><b>x</b>Devel"), "", false},
	{"the description's end tag with a space", doc("files.</description>", "files.</description >"), "", false},
	{"the summary's end tag misspelt", doc("for tiny</summary>", "for tiny</summry>"), "does not match", false},
	{"a bad reference in the summary", doc("for tiny</summary>", "for &tiny;</summary>"), "unknown entity", true},
	{"mismatched tags in format", doc("</rpm:requires>", "</rpm:provides>"), "does not match", true},
	{"bad reference in format", doc("<rpm:license>MIT", "<rpm:license>M&bogus;IT"), "unknown entity", true},
}

// TestSkimRest reads skimDocs with and without SkimRest: the same
// locations and checksums; the same refusals, but for the markup of the
// skimmed part, which SkimRest does not check (its trade).
func TestSkimRest(t *testing.T) {
	for _, tt := range skimDocs {
		t.Run(tt.name, func(t *testing.T) {
			full, ferr := readLocations(strings.NewReader(tt.doc))
			skim, serr := readSkimmed(strings.NewReader(tt.doc))
			if tt.wantErr == "" {
				if ferr != nil || serr != nil {
					t.Fatalf("full read: %v; skimmed: %v", ferr, serr)
				}
			} else if ferr == nil || !strings.Contains(ferr.Error(), tt.wantErr) {
				t.Fatalf("full read: %v, want an error with %q", ferr, tt.wantErr)
			}
			switch {
			case tt.skimmed:
				if serr != nil || len(skim) != 1 || skim[0] != "x86_64/tiny-devel-1.0-1.x86_64.rpm sha256:"+onePkgWant.Checksum.Value {
					t.Fatalf("skimmed: %q, %v; want the package read", skim, serr)
				}
			case errString(ferr) != errString(serr) || !slices.Equal(full, skim):
				t.Fatalf("full read: %q, %v\nskimmed: %q, %v", full, ferr, skim, serr)
			}
		})
	}
}

// TestSkippedContent checks what the reader finds in the elements it
// skips (<format> here): skip scans white space, start and end tags
// itself while they are buffered, and leaves the rest to next. Each
// document is read whole (the fast path) and one byte at a time (every
// token straddles a read, so next scans it): both must accept the same
// packages or fail with the same error, the one given.
func TestSkippedContent(t *testing.T) {
	in := func(s string) string { return doc("<rpm:license>", s+"<rpm:license>") }
	tests := []struct {
		name string
		doc  string
		want string // the error, "" when the document is accepted
	}{
		{"as createrepo_c writes it", doc(), ""},
		{"comment", in("<!-- a comment -->"), ""},
		{"processing instruction", in("<?x y?>"), ""},
		{"CDATA", in("<![CDATA[<&>]]>"), ""},
		{"references in text", in("<a>&amp;&#x41;&lt;</a>"), ""},
		{"reference in an attribute", in(`<a b="&quot;"/>`), ""},
		{"end tag with space", in("<a></a >"), ""},
		{"nested, same names", in("<a><a><a/></a></a>"), ""},
		{"names that share a prefix", in(`<rpm:entry/><rpm:entryx/><rpm:entr/><rpm:entry a="1"/>`), ""},
		{"mismatched end tag", in("<a></b>"), "primary.xml:16: end tag </b> does not match <a>"},
		{"end tag of a prefix", in("<ab></a>"), "primary.xml:16: end tag </a> does not match <ab>"},
		{"end tag longer than the name", in("<a></ab>"), "primary.xml:16: end tag </ab> does not match <a>"},
		{"malformed tag", in("< a/>"), `primary.xml:16: malformed tag "< "`},
		{"tag after a name it shares a prefix with", in(`<rpm:entry/><rpm:entry"/>`), "primary.xml:16: malformed tag <rpm:entry>"},
		{"'<' in attribute", in(`<a b="<"/>`), "primary.xml:16: attribute b of <a>: '<' in value"},
		{"unquoted attribute", in(`<a b=1/>`), "primary.xml:16: attribute b of <a>: value not quoted"},
		{"unknown entity", in("<a>&x;</a>"), `primary.xml:16: unknown entity "&x;"`},
		{"]]> in text", in("<a>]]></a>"), `primary.xml:16: "]]>" in text`},
		{"-- in comment", in("<!-- -- -->"), `primary.xml:16: "--" inside a comment`},
		{"DOCTYPE", in("<!DOCTYPE x>"), "primary.xml:16: <!DOCTYPE> is not allowed (DOCTYPE and entity declarations are refused)"},
		{"deep nesting", in(strings.Repeat("<a>", maxDepth)), "primary.xml:16: elements nested more than 256 deep"},
		{"unclosed", strings.Replace(doc(), "</format>", "", 1), "primary.xml:23: end tag </package> does not match <format>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkgs, err := readAll(strings.NewReader(tt.doc))
			pkgs1, err1 := readAll(iotest.OneByteReader(strings.NewReader(tt.doc)))
			if errString(err) != tt.want {
				t.Fatalf("read whole: error %v, want %q", err, tt.want)
			}
			if errString(err1) != tt.want {
				t.Fatalf("read a byte at a time: error %v, want %q", err1, tt.want)
			}
			if !reflect.DeepEqual(pkgs, pkgs1) {
				t.Fatalf("read whole: %d packages; a byte at a time: %d", len(pkgs), len(pkgs1))
			}
			if tt.want == "" && (len(pkgs) != 1 || *pkgs[0] != onePkgWant) {
				t.Fatalf("read %d packages, want onePkgWant", len(pkgs))
			}
		})
	}
}

// TestSkipRoot skips a whole document's root element, as no reader does
// yet: the document is then over, and an element after it is refused,
// whether skip or next scans the end tag.
func TestSkipRoot(t *testing.T) {
	for _, tt := range []struct{ doc, want string }{
		{"<a><b/> <c></c></a>", ""},
		{"<a><b/> <c></c></a><d/>", "x.xml:1: element <d> after the root element"},
	} {
		for _, r := range []io.Reader{strings.NewReader(tt.doc), iotest.OneByteReader(strings.NewReader(tt.doc))} {
			s := xmlScanner{file: "x.xml", r: r}
			if k, err := s.next(); k != tokStart || err != nil {
				t.Fatalf("%q: first token %v, %v", tt.doc, k, err)
			}
			if err := s.skip(); err != nil {
				t.Fatalf("%q: skip: %v", tt.doc, err)
			}
			k, err := s.next()
			if errString(err) != tt.want || err == nil && k != tokEOF {
				t.Fatalf("%q: after skip: %v, %v; want tokEOF, %q", tt.doc, k, err, tt.want)
			}
		}
	}
}
