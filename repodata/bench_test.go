package repodata

import (
	"bytes"
	"io"
	"os/exec"
	"sync"
	"testing"

	"github.com/rpmirror/rpmirror/internal/benchgen"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// genPrimary returns a primary.xml of n packages shaped like Fedora's
// (internal/benchgen, shared with the benchmarks that write
// docs/benchmarks.md).
func genPrimary(n int) []byte {
	var b bytes.Buffer
	if err := benchgen.WritePrimary(&b, benchgen.PrimaryOpts{Packages: n, Revision: 1}); err != nil {
		panic(err)
	}
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

// BenchmarkPrimaryLocations reads the same document for locations and
// checksums only (NextLocation, what an index of a mirror needs), in full
// and skimming each package's <format> section (SkimRest).
func BenchmarkPrimaryLocations(b *testing.B) {
	data := benchData()
	for _, skim := range []bool{false, true} {
		name := "full"
		if skim {
			name = "skim"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				n := 0
				pr := NewPrimaryReader(bytes.NewReader(data))
				if skim {
					pr.SkimRest()
				}
				for {
					_, _, _, err := pr.NextLocation()
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
		})
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
