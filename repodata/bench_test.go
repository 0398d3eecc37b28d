package repodata

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// benchEntry is one <package> of primary.xml as createrepo_c writes it.
// genPrimary fills in the @...@ fields from a seeded random source, so
// that a package has the shape of an average one of Fedora's Everything
// repository (about 2.4 KB: 167 MB for 69,000 packages, compressed 9:1 by
// gzip): a description, a few provides, twenty-odd requires, a few files.
const benchEntry = `<package type="rpm">
  <name>@NAME@</name>
  <arch>@ARCH@</arch>
  <version epoch="@EPOCH@" ver="@VER@" rel="@REL@.fc40"/>
  <checksum type="sha256" pkgid="YES">@SUM@</checksum>
  <summary>@SUMMARY@</summary>
  <description>@DESC@</description>
  <packager>Fedora Project</packager>
  <url>https://@WORD@.example.org/@NAME@</url>
  <time file="@TIME@" build="@TIME@"/>
  <size package="@SIZE@" installed="@ISIZE@" archive="@ISIZE@"/>
  <location href="Packages/@INITIAL@/@NAME@-@VER@-@REL@.fc40.@ARCH@.rpm"/>
  <format>
    <rpm:license>MIT AND BSD-3-Clause</rpm:license>
    <rpm:vendor>Fedora Project</rpm:vendor>
    <rpm:group>Unspecified</rpm:group>
    <rpm:buildhost>buildvm-x86-@NUM@.iad2.fedoraproject.org</rpm:buildhost>
    <rpm:sourcerpm>@NAME@-@VER@-@REL@.fc40.src.rpm</rpm:sourcerpm>
    <rpm:header-range start="4504" end="@HEND@"/>
    <rpm:provides>
      <rpm:entry name="@NAME@" flags="EQ" epoch="@EPOCH@" ver="@VER@" rel="@REL@.fc40"/>
      <rpm:entry name="@NAME@(x86-64)" flags="EQ" epoch="@EPOCH@" ver="@VER@" rel="@REL@.fc40"/>
@PROVIDES@    </rpm:provides>
    <rpm:requires>
@REQUIRES@    </rpm:requires>
    <rpm:obsoletes>
      <rpm:entry name="@NAME@-legacy" flags="LT" epoch="0" ver="@VER@"/>
    </rpm:obsoletes>
@FILES@  </format>
</package>
`

// benchWords are words for descriptions, summaries and names.
var benchWords = strings.Fields(`a about access add all allows an and application are as at
audio based be between binding bindings build by c can client code collection command common
compatible configuration contains control core data database debug default desktop development
devel display document documentation driver easy editor engine example extension fast file files
font for format framework from functions gnome graphical graphics group header headers high
image implementation in interface is it kde language layer libraries library light line linux
manager media module modules more network new of on open package parser perl plugin plugins
program programs protocol provides python qt reading rust sdk server service set shared simple
small source standard static support system that the this to tool toolkit tools toolset uses
utilities utility version video web which widget with writing x11 xml`)

// genPrimary returns a primary.xml of n packages made from benchEntry.
func genPrimary(n int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	word := func() string { return benchWords[rng.IntN(len(benchWords))] }
	words := func(n int) string {
		w := make([]string, n)
		for i := range w {
			w[i] = word()
		}
		return strings.Join(w, " ")
	}
	// Libraries to require and provide: a pool, as in a real distribution.
	libs := make([]string, 3000)
	for i := range libs {
		libs[i] = fmt.Sprintf("lib%s%s.so.%d", word(), word(), rng.IntN(10))
	}
	entries := func(k int, indent string) string {
		var b strings.Builder
		for range k {
			lib := libs[rng.IntN(len(libs))]
			switch rng.IntN(4) {
			case 0:
				fmt.Fprintf(&b, "%s<rpm:entry name=\"%s()(64bit)\"/>\n", indent, lib)
			case 1:
				fmt.Fprintf(&b, "%s<rpm:entry name=\"%s(%s_%d.%d)(64bit)\"/>\n", indent, lib, strings.ToUpper(word()), rng.IntN(4), rng.IntN(40))
			case 2:
				fmt.Fprintf(&b, "%s<rpm:entry name=\"%s-%s\" flags=\"GE\" epoch=\"0\" ver=\"%d.%d\"/>\n", indent, word(), word(), rng.IntN(9), rng.IntN(30))
			default:
				fmt.Fprintf(&b, "%s<rpm:entry name=\"%s\"/>\n", indent, []string{"/usr/bin/sh", "rtld(GNU_HASH)", "libc.so.6(GLIBC_2.34)(64bit)", "libm.so.6()(64bit)"}[rng.IntN(4)])
			}
		}
		return b.String()
	}

	var b bytes.Buffer
	fmt.Fprintf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"+
		"<metadata xmlns=\"http://linux.duke.edu/metadata/common\" xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\" packages=\"%d\">\n", n)
	for i := range n {
		name := fmt.Sprintf("%s-%s%d", word(), word(), i)
		sum := sha256.Sum256([]byte(strconv.Itoa(i)))
		arch := "x86_64"
		if rng.IntN(4) == 0 {
			arch = "noarch"
		}
		var files strings.Builder
		for range rng.IntN(8) {
			fmt.Fprintf(&files, "    <file>/usr/%s/%s/%s-%s</file>\n", []string{"bin", "lib64", "share"}[rng.IntN(3)], name, word(), word())
		}
		strings.NewReplacer(
			"@NAME@", name,
			"@INITIAL@", name[:1],
			"@ARCH@", arch,
			"@EPOCH@", strconv.Itoa(rng.IntN(2)),
			"@VER@", fmt.Sprintf("%d.%d.%d", rng.IntN(10), rng.IntN(30), rng.IntN(100)),
			"@REL@", strconv.Itoa(1+rng.IntN(20)),
			"@SUM@", hex.EncodeToString(sum[:]),
			"@SUMMARY@", words(3+rng.IntN(6)),
			"@DESC@", words(15+rng.IntN(40)),
			"@WORD@", word(),
			"@TIME@", strconv.Itoa(1700000000+rng.IntN(20000000)),
			"@SIZE@", strconv.Itoa(10000+rng.IntN(2000000)),
			"@ISIZE@", strconv.Itoa(20000+rng.IntN(8000000)),
			"@NUM@", strconv.Itoa(rng.IntN(40)),
			"@HEND@", strconv.Itoa(6000+rng.IntN(40000)),
			"@PROVIDES@", entries(rng.IntN(8), "      "),
			"@REQUIRES@", entries(5+rng.IntN(20), "      "),
			"@FILES@", files.String(),
		).WriteString(&b, benchEntry)
	}
	b.WriteString("</metadata>\n")
	return b.Bytes()
}

var benchData = sync.OnceValue(func() []byte { return genPrimary(40000) }) // about 100 MB

func BenchmarkPrimary(b *testing.B) {
	data := benchData()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		pr := NewPrimaryReader(bytes.NewReader(data))
		for {
			_, err := pr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != 40000 {
			b.Fatalf("read %d packages", n)
		}
	}
}

// BenchmarkPrimaryEncodingXML is the same work with encoding/xml, for
// comparison.
func BenchmarkPrimaryEncodingXML(b *testing.B) {
	data := benchData()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		pkgs, _, err := refParse(data)
		if err != nil {
			b.Fatal(err)
		}
		if len(pkgs) != 40000 {
			b.Fatalf("read %d packages", len(pkgs))
		}
	}
}

// benchCompressed returns a primary.xml of about 25 MB compressed in each
// format: gzip and zstd by klauspost/compress, xz and bzip2 by the xz and
// bzip2 commands (ulikunitz/xz compresses at a few hundred KB/s; the
// standard library cannot write bzip2).
var benchCompressed = sync.OnceValue(func() map[string][]byte {
	data := genPrimary(10000)
	out := map[string][]byte{"none": data}
	var buf bytes.Buffer
	gz, _ := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
	gz.Write(data)
	gz.Close()
	out["gzip"] = bytes.Clone(buf.Bytes())
	buf.Reset()
	zw, _ := zstd.NewWriter(&buf, zstd.WithEncoderLevel(zstd.SpeedBetterCompression))
	zw.Write(data)
	zw.Close()
	out["zstd"] = bytes.Clone(buf.Bytes())
	out["xz"] = compressCommand(data, "xz")
	out["bzip2"] = compressCommand(data, "bzip2")
	return out
})

func BenchmarkDecompress(b *testing.B) {
	files := benchCompressed()
	size := int64(len(files["none"]))
	for _, f := range []string{"gzip", "xz", "zstd", "bzip2"} {
		b.Run(f, func(b *testing.B) {
			if files[f] == nil {
				b.Skipf("no %s command to compress with", f)
			}
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				rc, err := Decompress(bytes.NewReader(files[f]), "primary.xml")
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.Copy(io.Discard, rc)
				rc.Close()
				if err != nil || n != size {
					b.Fatalf("read %d bytes: %v", n, err)
				}
			}
		})
	}
}

// BenchmarkPrimaryGzip is what a sync does: decompress and parse.
func BenchmarkPrimaryGzip(b *testing.B) {
	files := benchCompressed()
	b.SetBytes(int64(len(files["none"])))
	for b.Loop() {
		rc, err := Decompress(bytes.NewReader(files["gzip"]), "primary.xml.gz")
		if err != nil {
			b.Fatal(err)
		}
		pr := NewPrimaryReader(rc)
		for {
			if _, err := pr.Next(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
		rc.Close()
	}
}

// compressCommand compresses data with a command (xz, bzip2) at its
// default level, or returns nil without it.
func compressCommand(data []byte, command string) []byte {
	path, err := exec.LookPath(command)
	if err != nil {
		return nil
	}
	cmd := exec.Command(path, "-c")
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	if err != nil {
		return nil
	}
	return out
}
