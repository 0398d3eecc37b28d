package repodata

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// benchEntry is one <package> of primary.xml as createrepo_c writes it,
// shaped like an average package of Fedora's Everything repository (about
// 2.4 KB: 167 MB for 69,000 packages): a description, a dozen provides,
// thirty-odd requires, a few files. @N@ and @SUM@ vary per package.
const benchEntry = `<package type="rpm">
  <name>libexample@N@</name>
  <arch>x86_64</arch>
  <version epoch="0" ver="2.14.@N@" rel="3.fc40"/>
  <checksum type="sha256" pkgid="YES">@SUM@</checksum>
  <summary>Example library &amp; tools for parsing things &lt;fast&gt;</summary>
  <description>libexample is a library for parsing and writing example documents.
It supports streaming, incremental updates and a small command-line tool
that converts between the formats the library knows about.

This package contains the shared library.</description>
  <packager>Fedora Project</packager>
  <url>https://example.org/libexample</url>
  <time file="1713000000" build="1712990000"/>
  <size package="184@N@" installed="512000" archive="515000"/>
  <location href="Packages/l/libexample@N@-2.14.@N@-3.fc40.x86_64.rpm"/>
  <format>
    <rpm:license>MIT AND BSD-3-Clause</rpm:license>
    <rpm:vendor>Fedora Project</rpm:vendor>
    <rpm:group>Unspecified</rpm:group>
    <rpm:buildhost>buildvm-x86-17.iad2.fedoraproject.org</rpm:buildhost>
    <rpm:sourcerpm>libexample@N@-2.14.@N@-3.fc40.src.rpm</rpm:sourcerpm>
    <rpm:header-range start="4504" end="21345"/>
    <rpm:provides>
      <rpm:entry name="libexample@N@" flags="EQ" epoch="0" ver="2.14.@N@" rel="3.fc40"/>
      <rpm:entry name="libexample@N@(x86-64)" flags="EQ" epoch="0" ver="2.14.@N@" rel="3.fc40"/>
      <rpm:entry name="libexample.so.2()(64bit)"/>
      <rpm:entry name="libexample.so.2(EXAMPLE_2.0)(64bit)"/>
      <rpm:entry name="libexample.so.2(EXAMPLE_2.1)(64bit)"/>
      <rpm:entry name="libexample.so.2(EXAMPLE_2.14)(64bit)"/>
      <rpm:entry name="bundled(jsmn)" flags="EQ" epoch="0" ver="1.1.0"/>
    </rpm:provides>
    <rpm:requires>
      <rpm:entry name="/usr/bin/sh" pre="1"/>
      <rpm:entry name="ld-linux-x86-64.so.2()(64bit)"/>
      <rpm:entry name="ld-linux-x86-64.so.2(GLIBC_2.3)(64bit)"/>
      <rpm:entry name="libc.so.6(GLIBC_2.34)(64bit)"/>
      <rpm:entry name="libc.so.6(GLIBC_2.38)(64bit)"/>
      <rpm:entry name="libcrypto.so.3()(64bit)"/>
      <rpm:entry name="libcrypto.so.3(OPENSSL_3.0.0)(64bit)"/>
      <rpm:entry name="libgcc_s.so.1()(64bit)"/>
      <rpm:entry name="libgcc_s.so.1(GCC_3.0)(64bit)"/>
      <rpm:entry name="libm.so.6()(64bit)"/>
      <rpm:entry name="libm.so.6(GLIBC_2.29)(64bit)"/>
      <rpm:entry name="libstdc++.so.6()(64bit)"/>
      <rpm:entry name="libstdc++.so.6(CXXABI_1.3)(64bit)"/>
      <rpm:entry name="libstdc++.so.6(GLIBCXX_3.4)(64bit)"/>
      <rpm:entry name="libstdc++.so.6(GLIBCXX_3.4.32)(64bit)"/>
      <rpm:entry name="libxml2.so.2()(64bit)"/>
      <rpm:entry name="libxml2.so.2(LIBXML2_2.4.30)(64bit)"/>
      <rpm:entry name="libz.so.1()(64bit)"/>
      <rpm:entry name="libz.so.1(ZLIB_1.2.0)(64bit)"/>
      <rpm:entry name="libzstd.so.1()(64bit)"/>
      <rpm:entry name="rtld(GNU_HASH)"/>
      <rpm:entry name="example-filesystem" flags="GE" epoch="0" ver="2"/>
      <rpm:entry name="(example-plugins if example-gui)"/>
    </rpm:requires>
    <rpm:conflicts>
      <rpm:entry name="libexample-compat" flags="LT" epoch="0" ver="2.0"/>
    </rpm:conflicts>
    <rpm:obsoletes>
      <rpm:entry name="libexample-legacy" flags="LT" epoch="0" ver="2.14.0" rel="1"/>
    </rpm:obsoletes>
    <rpm:recommends>
      <rpm:entry name="libexample-tools"/>
    </rpm:recommends>
    <file>/etc/libexample.conf</file>
    <file>/usr/bin/example-convert</file>
    <file>/usr/bin/example-validate</file>
    <file type="dir">/usr/lib/.build-id</file>
  </format>
</package>
`

// genPrimary returns a primary.xml of n packages made from benchEntry.
func genPrimary(n int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"+
		"<metadata xmlns=\"http://linux.duke.edu/metadata/common\" xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\" packages=\"%d\">\n", n)
	for i := range n {
		sum := sha256.Sum256([]byte(strconv.Itoa(i)))
		r := strings.NewReplacer("@N@", strconv.Itoa(i), "@SUM@", hex.EncodeToString(sum[:]))
		r.WriteString(&b, benchEntry)
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
// format.
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
	buf.Reset()
	xw, _ := xz.NewWriter(&buf)
	xw.Write(data)
	xw.Close()
	out["xz"] = bytes.Clone(buf.Bytes())
	out["bzip2"] = bzip2Compress(data)
	return out
})

func BenchmarkDecompress(b *testing.B) {
	files := benchCompressed()
	size := int64(len(files["none"]))
	for _, f := range []string{"gzip", "xz", "zstd", "bzip2"} {
		b.Run(f, func(b *testing.B) {
			if files[f] == nil {
				b.Skip("no bzip2 command to compress with")
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

// bzip2Compress compresses data with the bzip2 command (the standard
// library only decompresses), or returns nil without it.
func bzip2Compress(data []byte) []byte {
	path, err := exec.LookPath("bzip2")
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
