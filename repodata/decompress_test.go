package repodata

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// compressed returns data compressed in each format Decompress reads:
// gzip, xz and zstd made here, bzip2 made by createrepo_c (the standard
// library cannot write it).
func compressed(t testing.TB, data []byte) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	var b bytes.Buffer
	gz := gzip.NewWriter(&b)
	gz.Write(data)
	gz.Close()
	out["gzip"] = bytes.Clone(b.Bytes())
	b.Reset()
	xw, err := xz.NewWriter(&b)
	if err != nil {
		t.Fatal(err)
	}
	xw.Write(data)
	xw.Close()
	out["xz"] = bytes.Clone(b.Bytes())
	b.Reset()
	zw, _ := zstd.NewWriter(&b)
	zw.Write(data)
	zw.Close()
	out["zstd"] = bytes.Clone(b.Bytes())
	return out
}

func decompressAll(r io.Reader, name string) ([]byte, error) {
	rc, err := Decompress(r, name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func TestDecompress(t *testing.T) {
	data := realPrimary(t)
	files := compressed(t, data)
	bz2, err := filepath.Glob("testdata/repos/bz2/repodata/*-primary.xml.bz2")
	if err != nil || len(bz2) != 1 {
		t.Fatal(bz2, err)
	}
	if files["bzip2"], err = os.ReadFile(bz2[0]); err != nil {
		t.Fatal(err)
	}
	files["none"] = data
	ext := map[string]string{"gzip": ".gz", "xz": ".xz", "zstd": ".zst", "bzip2": ".bz2", "none": ""}

	for format, content := range files {
		for _, name := range []string{
			"repodata/primary.xml" + ext[format], // as named
			"primary",                            // no extension: the magic decides
			"primary.xml.gz.BAK",                 // unknown extension
			strings.ToUpper("primary.xml" + ext[format]),
		} {
			t.Run(format+"/"+name, func(t *testing.T) {
				got, err := decompressAll(bytes.NewReader(content), name)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, data) {
					t.Errorf("got %d bytes, want %d", len(got), len(data))
				}
				got, err = decompressAll(iotest.OneByteReader(bytes.NewReader(content)), name)
				if err != nil || !bytes.Equal(got, data) {
					t.Errorf("one byte at a time: %d bytes, %v", len(got), err)
				}
			})
		}
		if format == "none" {
			continue
		}
		// The magic wins over a wrong extension.
		for _, other := range []string{".gz", ".xz", ".zst", ".bz2"} {
			if got, err := decompressAll(bytes.NewReader(content), "primary.xml"+other); err != nil || !bytes.Equal(got, data) {
				t.Errorf("%s named %s: %d bytes, %v", format, other, len(got), err)
			}
		}
		// Truncated and corrupt data are read errors.
		for _, cut := range []int{len(content) / 2, len(content) - 1} {
			_, err := decompressAll(bytes.NewReader(content[:cut]), "primary.xml"+ext[format])
			if err == nil || err == io.EOF {
				t.Errorf("%s cut at %d of %d: %v", format, cut, len(content), err)
			} else if !strings.HasPrefix(err.Error(), "decompressing primary.xml"+ext[format]+": "+format) {
				t.Errorf("%s cut at %d: error %q", format, cut, err)
			}
		}
		bad := bytes.Clone(content)
		bad[len(bad)/2] ^= 0x55
		if got, err := decompressAll(bytes.NewReader(bad), "x"); err == nil && bytes.Equal(got, data) {
			t.Errorf("%s: a corrupt byte went unnoticed", format)
		} else if err == nil {
			t.Errorf("%s: corrupt data decompressed without error", format)
		}
	}
}

func TestDecompressErrors(t *testing.T) {
	for _, tt := range []struct {
		name, content, file, want string
		unsupported               bool
	}{
		{"gz name, plain content", "<?xml?>", "repodata/primary.xml.gz", "decompressing repodata/primary.xml.gz: the name says gzip, but the content is not gzip", false},
		{"xz name, plain content", "<?xml?>", "primary.xml.xz", "decompressing primary.xml.xz: the name says xz, but the content is not xz", false},
		{"zst name, empty", "", "primary.xml.zst", "decompressing primary.xml.zst: the name says zstd, but the content is not zstd", false},
		{"bz2 name, short", "B", "primary.sqlite.bz2", "decompressing primary.sqlite.bz2: the name says bzip2, but the content is not bzip2", false},
		{"zchunk magic", "\x00ZCK1\x00\x00\x00", "primary.xml.gz", "decompressing primary.xml.gz: zchunk: unsupported compression", true},
		{"zchunk name", "<?xml?>", "primary.xml.zck", "decompressing primary.xml.zck: zchunk: unsupported compression", true},
		{"bad gzip header", "\x1f\x8b\x09\x00", "primary.xml.gz", "decompressing primary.xml.gz: gzip: unexpected EOF", false},
		{"bad xz header", "\xfd7zXZ\x00\x00\x00\x00\x00\x00\x00", "primary.xml.xz", "decompressing primary.xml.xz: xz: invalid checksum for file header", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decompressAll(strings.NewReader(tt.content), tt.file)
			if errString(err) != tt.want {
				t.Errorf("got %v, want %s", err, tt.want)
			}
			if errors.Is(err, ErrUnsupportedCompression) != tt.unsupported {
				t.Errorf("errors.Is(err, ErrUnsupportedCompression) = %v", !tt.unsupported)
			}
		})
	}

	// Uncompressed content, however short, is returned as it is.
	for _, s := range []string{"", "<", "hello, world", "BZhello"} {
		if got, err := decompressAll(strings.NewReader(s), "primary.xml"); err != nil || string(got) != s {
			t.Errorf("%q: got %q, %v", s, got, err)
		}
	}

	boom := errors.New("boom")
	if _, err := Decompress(iotest.ErrReader(boom), "x.gz"); !errors.Is(err, boom) || err.Error() != "decompressing x.gz: boom" {
		t.Errorf("read error: %v", err)
	}
}

func TestDecompressClose(t *testing.T) {
	files := compressed(t, []byte("hello"))
	for format, content := range files {
		rc, err := Decompress(bytes.NewReader(content), "x")
		if err != nil {
			t.Fatal(err)
		}
		if err := rc.Close(); err != nil {
			t.Errorf("%s: Close: %v", format, err)
		}
		if err := rc.Close(); err != nil {
			t.Errorf("%s: second Close: %v", format, err)
		}
		if _, err := rc.Read(make([]byte, 10)); err == nil {
			t.Errorf("%s: Read after Close succeeded", format)
		}
	}
}

// TestDecompressConcatenated reads files made of several streams, as
// parallel compressors (pigz, pbzip2, xz -T) and cat write them.
func TestDecompressConcatenated(t *testing.T) {
	a, b := []byte("first stream\n"), []byte("second stream\n")
	fa, fb := compressed(t, a), compressed(t, b)
	for format := range fa {
		content := append(bytes.Clone(fa[format]), fb[format]...)
		got, err := decompressAll(bytes.NewReader(content), "x")
		if err != nil || string(got) != string(a)+string(b) {
			t.Errorf("%s: got %q, %v", format, got, err)
		}
	}
}

// TestXZGuard reads xz files made by the xz tool with different block,
// check and stream layouts through the guard.
func TestXZGuard(t *testing.T) {
	want, err := os.ReadFile("testdata/xz/primary.xml")
	if err != nil {
		t.Fatal(err)
	}
	gz := gzipNoName(t, want)
	files, _ := filepath.Glob("testdata/xz/*.xz")
	if len(files) < 9 {
		t.Fatalf("only %d xz files", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			content, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			w := want
			switch filepath.Base(f) {
			case "empty.xz":
				w = nil
			case "concat-padded.xz":
				w = append(bytes.Clone(want), want...)
			case "incompressible.xz":
				w = gz
			}
			for _, r := range []io.Reader{bytes.NewReader(content), iotest.OneByteReader(bytes.NewReader(content))} {
				got, err := decompressAll(r, f)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, w) {
					t.Fatalf("got %d bytes, want %d", len(got), len(w))
				}
			}
		})
	}
}

// gzipNoName compresses like "gzip -n -9", as gen.sh does before xz.
func gzipNoName(t *testing.T, data []byte) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/xz/incompressible.xz")
	if err != nil {
		t.Fatal(err)
	}
	r, err := xz.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	// It must at least be the gzip of data.
	zr, err := gzip.NewReader(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if plain, err := io.ReadAll(zr); err != nil || !bytes.Equal(plain, data) {
		t.Fatalf("incompressible.xz is not primary.xml gzipped: %v", err)
	}
	return out
}

// setXZDict returns an xz file with the dictionary size code of its first
// block set to code, its header CRC fixed.
func setXZDict(t *testing.T, content []byte, code byte) []byte {
	t.Helper()
	b := bytes.Clone(content)
	h := b[12 : 12+(int(b[12])+1)*4]
	i := 2
	for _, present := range []bool{h[1]&0x40 != 0, h[1]&0x80 != 0} {
		if present {
			_, n := binary.Uvarint(h[i:])
			i += n
		}
	}
	if h[i] != 0x21 || h[i+1] != 1 {
		t.Fatalf("unexpected block header % x", h)
	}
	h[i+2] = code
	binary.LittleEndian.PutUint32(h[len(h)-4:], crc32.ChecksumIEEE(h[:len(h)-4]))
	return b
}

func TestXZGuardDictionary(t *testing.T) {
	content, err := os.ReadFile("testdata/xz/default.xz")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := decompressAll(bytes.NewReader(content), "x.xz")
	for _, tt := range []struct {
		code byte
		want string
	}{
		{30, ""}, // 128 MiB: allowed
		{31, "decompressing x.xz: xz: LZMA2 dictionary of 192 MiB is larger than the limit of 128 MiB"},
		{40, "decompressing x.xz: xz: LZMA2 dictionary of 4095 MiB is larger than the limit of 128 MiB"},
		{41, "decompressing x.xz: xz: corrupt LZMA2 dictionary size"},
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		got, err := decompressAll(bytes.NewReader(setXZDict(t, content, tt.code)), "x.xz")
		runtime.ReadMemStats(&after)
		if errString(err) != tt.want {
			t.Errorf("code %d: got %v, want %q", tt.code, err, tt.want)
		}
		if tt.want == "" && !bytes.Equal(got, want) {
			t.Errorf("code %d: got %d bytes", tt.code, len(got))
		}
		if tt.want != "" && after.TotalAlloc-before.TotalAlloc > 16<<20 {
			t.Errorf("code %d: allocated %d MiB before failing", tt.code, (after.TotalAlloc-before.TotalAlloc)>>20)
		}
	}

	// In a later block, too.
	multi, err := os.ReadFile("testdata/xz/concat-padded.xz")
	if err != nil {
		t.Fatal(err)
	}
	second := bytes.Index(multi[12:], []byte("\xfd7zXZ\x00")) + 12
	patched := append(bytes.Clone(multi[:second]), setXZDict(t, multi[second:], 40)...)
	_, err = decompressAll(bytes.NewReader(patched), "x.xz")
	if errString(err) != "decompressing x.xz: xz: LZMA2 dictionary of 4095 MiB is larger than the limit of 128 MiB" {
		t.Errorf("second stream: %v", err)
	}
}
