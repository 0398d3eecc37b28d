package benchgen

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Stats describe what WriteMetadataRepos wrote.
type Stats struct {
	OpenSize int64            // bytes of uncompressed primary.xml
	Sizes    map[string]int64 // compressed size by format ("gz", "zst")
}

// WriteMetadataRepos writes the primary metadata of o into dir/gz and
// dir/zst, each a repository of metadata only: repodata/repomd.xml
// naming repodata/<sha256>-primary.xml.gz (or .zst) with its checksum,
// open checksum and sizes, as createrepo_c lays it out. The packages it
// lists do not exist; a dry run plans without fetching them.
func WriteMetadataRepos(dir string, o PrimaryOpts) (*Stats, error) {
	type out struct {
		name string
		f    *os.File
		wc   io.WriteCloser
		h    hash.Hash
		n    countWriter
	}
	openH := sha256.New()
	var open countWriter
	var outs []*out
	var writers []io.Writer
	for _, format := range []string{"gz", "zst"} {
		rd := filepath.Join(dir, format, "repodata")
		if err := os.RemoveAll(filepath.Join(dir, format)); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(rd, 0o755); err != nil {
			return nil, err
		}
		f, err := os.Create(filepath.Join(rd, "primary.tmp"))
		if err != nil {
			return nil, err
		}
		o := &out{name: format, f: f, h: sha256.New()}
		sink := io.MultiWriter(f, o.h, &o.n)
		switch format {
		case "gz":
			o.wc, err = gzip.NewWriterLevel(sink, gzip.DefaultCompression)
		case "zst":
			o.wc, err = zstd.NewWriter(sink, zstd.WithEncoderLevel(zstd.SpeedDefault))
		}
		if err != nil {
			return nil, err
		}
		outs = append(outs, o)
		writers = append(writers, o.wc)
	}
	writers = append(writers, openH, &open)
	if err := WritePrimary(io.MultiWriter(writers...), o); err != nil {
		return nil, err
	}
	st := &Stats{OpenSize: int64(open), Sizes: map[string]int64{}}
	openSum := hex.EncodeToString(openH.Sum(nil))
	now := time.Now().Unix()
	for _, o2 := range outs {
		if err := o2.wc.Close(); err != nil {
			return nil, err
		}
		if err := o2.f.Close(); err != nil {
			return nil, err
		}
		sum := hex.EncodeToString(o2.h.Sum(nil))
		href := fmt.Sprintf("repodata/%s-primary.xml.%s", sum, o2.name)
		rd := filepath.Join(dir, o2.name)
		if err := os.Rename(o2.f.Name(), filepath.Join(rd, href)); err != nil {
			return nil, err
		}
		st.Sizes[o2.name] = int64(o2.n)
		repomd := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">
  <revision>%d</revision>
  <data type="primary">
    <checksum type="sha256">%s</checksum>
    <open-checksum type="sha256">%s</open-checksum>
    <location href="%s"/>
    <timestamp>%d</timestamp>
    <size>%d</size>
    <open-size>%d</open-size>
  </data>
</repomd>
`, max(o.Revision, 1), sum, openSum, href, now, int64(o2.n), st.OpenSize)
		if err := os.WriteFile(filepath.Join(rd, "repodata", "repomd.xml"), []byte(repomd), 0o644); err != nil {
			return nil, err
		}
	}
	return st, nil
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }
