package sync

import (
	"context"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"io/fs"
	"os"
	"syscall"
	"time"

	"github.com/rpmirror/rpmirror/repodata"
	"github.com/rpmirror/rpmirror/verify"
)

// errStreamLost: the download ended before the part file a partStream
// reads held the whole file (an attempt failed, and another may have
// replaced the part file), and no downloaded file is there either. The
// plan is then made from the downloaded file.
var errStreamLost = errors.New("the download ended before the part file being read was complete")

// partStream reads a metadata file while fetch.File downloads it into
// its part file, so that planning starts with the first bytes, not once
// the last has arrived. It reads what the part file holds, waiting for
// more, up to the size repomd.xml declares; it hashes what it reads and
// at the end checks it against the declared checksum, so what it gives
// is the file whatever became of the attempt that wrote it. It never
// slows the download: it only reads what is on disk. A download that
// ended before the stream opened its part file (a small file arrives
// in one read, and is renamed into place at once) is read from where it
// was renamed to.
type partStream struct {
	ctx  context.Context
	path string // the part file
	dst  string // where the download is renamed to once verified
	size int64
	want repodata.Checksum
	h    hash.Hash

	poke chan struct{} // bytes arrived (buffered: one pending wake-up)
	done chan struct{} // the download ended, either way

	f     *os.File
	off   int64
	tick  *time.Ticker
	ended bool // done was seen: one more look, then errStreamLost
	err   error
}

// newPartStream returns a partStream of metadata file d, downloaded to
// dst through the part file dst+".part"; done is closed when the
// download has ended.
func newPartStream(ctx context.Context, dst string, d repodata.Data, done chan struct{}) (*partStream, error) {
	h, err := repodata.NewHash(d.Checksum.Type)
	if err != nil {
		return nil, err
	}
	return &partStream{ctx: ctx, path: dst + ".part", dst: dst, size: d.Size, want: d.Checksum, h: h,
		poke: make(chan struct{}, 1), done: done, tick: time.NewTicker(5 * time.Millisecond)}, nil
}

// arrived is called as the download receives bytes.
func (p *partStream) arrived() {
	select {
	case p.poke <- struct{}{}:
	default:
	}
}

func (p *partStream) Read(b []byte) (int, error) {
	for p.err == nil {
		if p.off == p.size {
			p.err = io.EOF
			if got := hex.EncodeToString(p.h.Sum(nil)); got != p.want.Value {
				p.err = &verify.ChecksumError{Type: p.want.Type, Want: p.want.Value, Got: got}
			}
			break
		}
		if p.f == nil {
			// Nothing was read yet: the part file, or once the download
			// is over, the file it was renamed to (what is read is
			// checked against the declared checksum either way).
			for _, path := range []string{p.path, p.dst} {
				f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
				if err == nil {
					p.f = f
					break
				}
				if !errors.Is(err, fs.ErrNotExist) {
					p.err = err
					return 0, err
				}
			}
		}
		if p.f != nil {
			n, err := p.f.ReadAt(b[:min(int64(len(b)), p.size-p.off)], p.off)
			if n > 0 {
				p.h.Write(b[:n])
				p.off += int64(n)
				return n, nil
			}
			if err != nil && err != io.EOF {
				p.err = err
				break
			}
		}
		if p.ended {
			p.err = errStreamLost
			break
		}
		select {
		case <-p.poke:
		case <-p.tick.C:
		case <-p.done:
			p.ended = true
		case <-p.ctx.Done():
			p.err = p.ctx.Err()
		}
	}
	return 0, p.err
}

// Close releases the part file.
func (p *partStream) Close() error {
	p.tick.Stop()
	if p.f != nil {
		return p.f.Close()
	}
	return nil
}

// arriving tells a partStream when the download it reads receives bytes.
type arriving struct {
	r io.Reader
	p *partStream
}

func (a *arriving) Read(b []byte) (int, error) {
	n, err := a.r.Read(b)
	a.p.arrived()
	return n, err
}
