package sync

import (
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"

	"github.com/rpmirror/rpmirror/internal/readahead"
	"github.com/rpmirror/rpmirror/repodata"
	"github.com/rpmirror/rpmirror/verify"
)

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

// decompressChecked returns the decompressed content of metadata file d,
// whose compressed content r gives, read ahead of its reader (decompressed
// on a goroutine of its own) and bounded by d's open-size and max. What r
// gives is checked against d's checksum, that of the compressed file, and
// read to its end whatever the decompressor needs, so that the check
// covers all of it: a reader of the result sees an error, not io.EOF,
// unless r gave exactly the file d names. That checksum names the content
// as surely as the open-checksum does, for a sixth of the hashing (a
// primary.xml compresses six times), so the open-checksum is not checked.
// With hashed, r checks d's checksum itself (a partStream) and is not
// hashed again.
func decompressChecked(r io.Reader, d repodata.Data, max int64, hashed bool) (io.ReadCloser, error) {
	if !hashed {
		vr, err := verify.NewReader(r, d.Size, d.Checksum)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d.Href, err)
		}
		r = vr
	}
	dr, err := repodata.Decompress(r, d.Href)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.Href, err)
	}
	open := d
	open.OpenChecksum = nil // the checksum of the compressed file is checked
	capped, err := capMetadata(&drained{dr, r}, open, max)
	if err != nil {
		dr.Close()
		return nil, err
	}
	return readahead.New(capped, d.OpenSize), nil
}

// readChecked returns dr, the decompressed content of metadata file d,
// read ahead of its reader: dr is read and bounded (by d's open-size and
// max) on one goroutine, hashed for d's open-checksum on another, and
// the reader (a parse) has a core of its own for what it does. The
// errors are capMetadata's.
func readChecked(dr io.ReadCloser, d repodata.Data, max int64) (io.ReadCloser, error) {
	if d.OpenChecksum == nil {
		capped, err := capMetadata(dr, d, max)
		if err != nil {
			return nil, err
		}
		return readahead.New(capped, d.OpenSize), nil
	}
	want := *d.OpenChecksum
	h, err := repodata.NewHash(want.Type)
	if err != nil {
		return nil, fmt.Errorf("%s: open-checksum: %w", d.Href, err)
	}
	var r io.Reader = dr
	if d.OpenSize >= 0 {
		r = &sizeReader{r: io.LimitReader(dr, d.OpenSize+1), size: d.OpenSize}
	}
	r = &capReader{r: r, left: max, what: fmt.Sprintf("%s: more than max_metadata_size (%d bytes) once decompressed", d.Href, max)}
	return readahead.NewTee(&readCloser{r, dr}, d.OpenSize, h, func() error {
		if got := hex.EncodeToString(h.Sum(nil)); got != want.Value {
			return &verify.ChecksumError{Type: want.Type, Want: want.Value, Got: got}
		}
		return nil
	}), nil
}

// sizeReader returns a *verify.SizeError, as verify.Reader does, when its
// source has more or fewer than size bytes (it reads at most one more).
type sizeReader struct {
	r    io.Reader
	size int64
	n    int64
	err  error
}

func (s *sizeReader) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.r.Read(p)
	s.n += int64(n)
	switch {
	case s.n > s.size, err == io.EOF && s.n != s.size:
		s.err = &verify.SizeError{Want: s.size, Got: s.n}
		return n, s.err
	case err != nil:
		s.err = err
	}
	return n, err
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

// openChecked hashes the decompressed content of metadata file d as it is
// read and, at its end, checks it against d's open-checksum and
// open-size: a mismatch is a *ZchunkContentError (the primary does not
// hold what its zchunk copy is checked against). Errors of what it reads
// from pass through as they are.
type openChecked struct {
	r    io.Reader
	d    repodata.Data
	h    hash.Hash
	n    int64
	done error
}

func newOpenChecked(r io.Reader, d repodata.Data) (*openChecked, error) {
	h, err := repodata.NewHash(d.OpenChecksum.Type)
	if err != nil {
		return nil, fmt.Errorf("%s: open-checksum: %w", d.Href, err)
	}
	return &openChecked{r: r, d: d, h: h}, nil
}

func (o *openChecked) Read(p []byte) (int, error) {
	if o.done != nil {
		return 0, o.done
	}
	n, err := o.r.Read(p)
	o.h.Write(p[:n])
	o.n += int64(n)
	if err == io.EOF {
		want := *o.d.OpenChecksum
		switch got := hex.EncodeToString(o.h.Sum(nil)); {
		case o.d.OpenSize >= 0 && o.n != o.d.OpenSize:
			err = &ZchunkContentError{Type: o.d.Type, Href: o.d.Href, Err: &verify.SizeError{Want: o.d.OpenSize, Got: o.n}}
		case got != want.Value:
			err = &ZchunkContentError{Type: o.d.Type, Href: o.d.Href, Err: &verify.ChecksumError{Type: want.Type, Want: want.Value, Got: got}}
		}
		o.done = err
	}
	return n, err
}
