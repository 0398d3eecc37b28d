package repodata

import (
	"bytes"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/rpmirror/rpmirror/internal/inflate"
	"github.com/ulikunitz/xz"
)

// ErrUnsupportedCompression is returned (wrapped) by Decompress for
// content it recognizes but cannot decompress: zchunk.
var ErrUnsupportedCompression = errors.New("unsupported compression")

// Limits on what a decoder may allocate for one stream. Real metadata uses
// far less (createrepo_c: an 8 MiB xz dictionary, a zstd window of a few
// MiB; xz -9 uses 64 MiB); a hostile header could otherwise ask for GiBs.
const (
	maxXZDict     = 128 << 20
	maxZstdWindow = 128 << 20
)

type format struct {
	name  string // as in error messages
	ext   string
	magic string
}

var formats = []format{
	{"gzip", ".gz", "\x1f\x8b"},
	{"xz", ".xz", "\xfd7zXZ\x00"},
	{"zstd", ".zst", "\x28\xb5\x2f\xfd"},
	{"bzip2", ".bz2", "BZh"},
	{"zchunk", ".zck", "\x00ZCK1"},
}

// Decompress returns a reader of the uncompressed content of r, a metadata
// file called name (only its extension matters).
//
// The format is detected from the first bytes: gzip, xz, zstd and bzip2
// are decompressed; content with none of these magic numbers is returned
// as it is. The name is only used to give a better error when it promises
// a compression the content does not have (a ".gz" file that is not gzip).
// zchunk (magic or ".zck") is refused with ErrUnsupportedCompression: use
// the non-zchunk variant of the metadata.
//
// Decompress reads a few bytes of r before returning. Errors in the
// compressed data, including a stream that ends early, are returned by
// Read. Close releases the decoder's resources and returns nil; it does
// not close r.
// Decompress does not limit the size of the output: compare it with the
// open-size of repomd.xml, or limit it.
func Decompress(r io.Reader, name string) (io.ReadCloser, error) {
	var head [6]byte
	n, err := io.ReadFull(r, head[:])
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return nil, fmt.Errorf("decompressing %s: %w", name, err)
	}
	src := io.MultiReader(bytes.NewReader(head[:n]), r)

	var f *format
	for i := range formats {
		if bytes.HasPrefix(head[:n], []byte(formats[i].magic)) {
			f = &formats[i]
			break
		}
	}
	if f != nil && f.name == "bzip2" && (n < 4 || head[3] < '1' || head[3] > '9') {
		f = nil // "BZh" and a block size, 1 to 9: "BZhello" is text
	}
	if f == nil {
		lower := strings.ToLower(name)
		for _, g := range formats {
			if strings.HasSuffix(lower, g.ext) {
				if g.name == "zchunk" {
					return nil, fmt.Errorf("decompressing %s: zchunk: %w", name, ErrUnsupportedCompression)
				}
				return nil, fmt.Errorf("decompressing %s: the name says %s, but the content is not %s", name, g.name, g.name)
			}
		}
		return io.NopCloser(src), nil
	}

	var rc io.ReadCloser
	switch f.name {
	case "gzip":
		var z *inflate.Reader
		if z, err = inflate.NewReader(src); err == nil {
			rc = z
		}
	case "xz":
		var z *xz.Reader
		if z, err = xz.NewReader(newXZGuard(src, maxXZDict)); err == nil {
			rc = io.NopCloser(z)
		}
	case "zstd":
		var z *zstd.Decoder
		z, err = zstd.NewReader(src,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxWindow(maxZstdWindow))
		if err == nil {
			rc = z.IOReadCloser()
		}
	case "bzip2":
		rc = io.NopCloser(bzip2.NewReader(src))
	case "zchunk":
		return nil, fmt.Errorf("decompressing %s: zchunk: %w", name, ErrUnsupportedCompression)
	}
	if err != nil {
		return nil, decompressError(name, f.name, err)
	}
	return &decompressor{rc: rc, name: name, format: f.name}, nil
}

// decompressor names the file and format in read errors.
type decompressor struct {
	rc     io.ReadCloser
	name   string
	format string
	closed bool
}

func (d *decompressor) Read(p []byte) (int, error) {
	if d.closed {
		return 0, fmt.Errorf("decompressing %s: read after Close", d.name)
	}
	n, err := d.rc.Read(p)
	if err != nil && err != io.EOF {
		err = decompressError(d.name, d.format, err)
	}
	return n, err
}

// decompressError names the file and, unless the decoder's message does,
// the format.
func decompressError(name, format string, err error) error {
	if strings.HasPrefix(err.Error(), format) {
		return fmt.Errorf("decompressing %s: %w", name, err)
	}
	return fmt.Errorf("decompressing %s: %s: %w", name, format, err)
}

// Close releases the decoder. Its error is ignored: decoders report there
// the errors in the data that Read has already returned.
func (d *decompressor) Close() error {
	if !d.closed {
		d.closed = true
		d.rc.Close()
	}
	return nil
}
