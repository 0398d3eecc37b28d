package verify

import (
	"encoding/hex"
	"fmt"
	"hash"
	"io"

	"github.com/rpmirror/rpmirror/repodata"
)

// Reader passes bytes through from an underlying reader while hashing and
// counting them. At the end of the stream it returns a *SizeError or
// *ChecksumError instead of io.EOF when the content is not what was
// expected, so a caller that reads to EOF cannot miss a mismatch. It never
// returns more than the expected size plus one byte, which bounds what a
// hostile server can make it read.
type Reader struct {
	r    io.Reader
	h    hash.Hash
	want repodata.Checksum
	size int64 // expected size; -1 when unknown
	n    int64
	err  error
}

// NewReader returns a Reader that expects size bytes (size < 0: any size)
// whose digest is sum.
func NewReader(r io.Reader, size int64, sum repodata.Checksum) (*Reader, error) {
	h, err := repodata.NewHash(sum.Type)
	if err != nil {
		return nil, err
	}
	if size >= 0 {
		r = io.LimitReader(r, size+1)
	}
	return &Reader{r: r, h: h, want: sum, size: size}, nil
}

func (v *Reader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.r.Read(p)
	v.n += int64(n)
	v.h.Write(p[:n])
	if v.size >= 0 && v.n > v.size {
		v.err = &SizeError{Want: v.size, Got: v.n}
		return n, v.err
	}
	if err == io.EOF {
		if v.err = v.check(); v.err == nil {
			v.err = io.EOF
		}
		return n, v.err
	}
	if err != nil {
		v.err = err
	}
	return n, err
}

func (v *Reader) check() error {
	if v.size >= 0 && v.n != v.size {
		return &SizeError{Want: v.size, Got: v.n}
	}
	if got := hex.EncodeToString(v.h.Sum(nil)); got != v.want.Value {
		return &ChecksumError{Type: v.want.Type, Want: v.want.Value, Got: got}
	}
	return nil
}

// N returns the number of bytes read so far.
func (v *Reader) N() int64 { return v.n }

// Content reads r to the end and reports whether it is size bytes (size < 0:
// any) with digest sum.
func Content(r io.Reader, size int64, sum repodata.Checksum) error {
	vr, err := NewReader(r, size, sum)
	if err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, vr); err != nil {
		return err
	}
	return nil
}

// Sum returns the digest of r's content as lower-case hex.
func Sum(r io.Reader, typ string) (string, int64, error) {
	h, err := repodata.NewHash(typ)
	if err != nil {
		return "", 0, err
	}
	n, err := io.Copy(h, r)
	if err != nil {
		return "", n, fmt.Errorf("hashing: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}
