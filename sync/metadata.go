package sync

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/rpmirror/rpmirror/repodata"
	"github.com/rpmirror/rpmirror/verify"
)

// openPrimary returns the uncompressed primary metadata of the origin.
func (s *run) openPrimary() (io.ReadCloser, *repodata.Data, error) {
	d, ok := s.md.Find("primary")
	if !ok {
		return nil, nil, fmt.Errorf("origin's %s lists no primary metadata", RepomdPath)
	}
	rc, err := s.openMeta(d)
	if err != nil {
		return nil, nil, err
	}
	return rc, &d, nil
}

// capMetadata bounds what is read of a decompressed metadata file: at
// most its declared open-size (and its open-checksum must match, when
// given), and at most max bytes in any case, so that a decompression bomb
// costs an error, not hours of CPU.
func capMetadata(rc io.ReadCloser, d repodata.Data, max int64) (io.ReadCloser, error) {
	var r io.Reader = rc
	if d.OpenChecksum != nil {
		vr, err := verify.NewReader(r, d.OpenSize, *d.OpenChecksum)
		if err != nil {
			return nil, fmt.Errorf("%s: open-checksum: %w", d.Href, err)
		}
		r = vr
	} else if d.OpenSize >= 0 {
		r = &capReader{r: r, left: d.OpenSize, what: fmt.Sprintf("%s: more than its declared open-size of %d bytes once decompressed", d.Href, d.OpenSize)}
	}
	return &readCloser{&capReader{r: r, left: max, what: fmt.Sprintf("%s: more than max_metadata_size (%d bytes) once decompressed", d.Href, max)}, rc}, nil
}

// capReader returns an error, not EOF, when its source has more than
// left bytes.
type capReader struct {
	r    io.Reader
	left int64
	what string
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		var one [1]byte
		n, err := c.r.Read(one[:])
		if n > 0 {
			return 0, errors.New(c.what)
		}
		return 0, err
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

type readCloser struct {
	io.Reader
	c io.Closer
}

func (r *readCloser) Close() error { return r.c.Close() }

type closeBoth struct {
	io.ReadCloser
	f *os.File
}

func (c *closeBoth) Close() error {
	c.ReadCloser.Close()
	return c.f.Close()
}
