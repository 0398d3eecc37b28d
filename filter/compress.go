package filter

import (
	"io"
	"strings"

	"github.com/dsnet/compress/bzip2"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// compression is how a metadata file is compressed, told by its name as
// createrepo_c names them.
type compression struct {
	ext string // ".zst", ".xz", ".gz", ".bz2", or "" for none
	// newWriter returns a compressor whose output depends only on what
	// is written to it: no time, no file name. (klauspost's zstd encoder
	// writes the same bytes whatever its concurrency: the block
	// boundaries do not depend on timing; TestWriteDeterministic.)
	newWriter func(w io.Writer) (io.WriteCloser, error)
}

var compressions = []compression{
	{".zst", func(w io.Writer) (io.WriteCloser, error) {
		return zstd.NewWriter(w, zstd.WithEncoderConcurrency(2), zstd.WithEncoderLevel(zstd.SpeedFastest))
	}},
	{".xz", func(w io.Writer) (io.WriteCloser, error) {
		return xz.WriterConfig{}.NewWriter(w)
	}},
	{".gz", func(w io.Writer) (io.WriteCloser, error) {
		// No name, no modification time: the header is the same every time.
		return gzip.NewWriterLevel(w, gzip.DefaultCompression)
	}},
	{".bz2", func(w io.Writer) (io.WriteCloser, error) {
		return bzip2.NewWriter(w, &bzip2.WriterConfig{Level: bzip2.DefaultCompression})
	}},
}

// compressionOf returns the compression of the metadata file href.
func compressionOf(href string) compression {
	lower := strings.ToLower(href)
	for _, c := range compressions {
		if strings.HasSuffix(lower, c.ext) {
			return c
		}
	}
	return compression{newWriter: func(w io.Writer) (io.WriteCloser, error) { return nopCloser{w}, nil }}
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
