// Package readahead reads a stream in its own goroutine, a few blocks
// ahead of its consumer: decompressing metadata and parsing it then use
// two cores. The sync engine and the filter benchmark share it.
package readahead

import (
	"io"
	gosync "sync"
)

// New reads r in its own goroutine, a few blocks ahead of the consumer,
// so that decompressing metadata and parsing it use two cores. size is
// how many bytes r gives, or a negative number when that is not known:
// the blocks of a short stream are smaller. Close stops the goroutine and
// closes r.
func New(r io.ReadCloser, size int64) io.ReadCloser { return newAhead(r, size, nil, nil) }

// NewTee is New, and also writes what it reads from r to w (a hash, say)
// on a third goroutine, between the one reading r and the consumer: a
// block is handed to the consumer once w has it, so reading r, writing
// w and consuming run side by side. At the end of r, once w has every
// byte, final is called: an error it returns is what the consumer gets
// in place of io.EOF. An error from w ends the stream with that error.
func NewTee(r io.ReadCloser, size int64, w io.Writer, final func() error) io.ReadCloser {
	return newAhead(r, size, w, final)
}

// A stream is read ahead in at most maxBlocks blocks of at most
// maxBlockSize bytes. A stream of a known size gets blocks of about a
// sixteenth of it, from minBlockSize up: read ahead whole (which a
// consumer slower than the decompressor lets happen), a short stream
// would otherwise touch as much memory again as it holds, and memory
// first touched is much of what a small sync costs. Blocks are made
// only when none is free.
const (
	maxBlocks    = 6
	maxBlockSize = 256 << 10
	minBlockSize = 16 << 10
)

// blockSize returns the size of the blocks of a stream of size bytes
// (negative: unknown).
func blockSize(size int64) int {
	if size < 0 || size/16 >= maxBlockSize {
		return maxBlockSize
	}
	b := int(size/16+4095) &^ 4095
	return max(b, minBlockSize)
}

func newAhead(r io.ReadCloser, size int64, w io.Writer, final func() error) io.ReadCloser {
	ra := &aheadReader{
		src:       r,
		full:      make(chan block, maxBlocks),
		free:      make(chan []byte, maxBlocks),
		done:      make(chan struct{}),
		tee:       w,
		final:     final,
		blockSize: blockSize(size),
	}
	ra.out = ra.full
	if w != nil {
		ra.out = make(chan block, maxBlocks)
		ra.wg.Add(1)
		go ra.write()
	}
	ra.wg.Add(1)
	go ra.fill()
	return ra
}

type block struct {
	b   []byte
	err error
}

type aheadReader struct {
	src  io.ReadCloser
	full chan block // to the consumer
	out  chan block // what fill reads goes here: full, or to write
	free chan []byte
	done chan struct{}
	once gosync.Once
	wg   gosync.WaitGroup

	tee   io.Writer    // NewTee's w, or nil
	final func() error // NewTee's final

	blockSize int // of each block
	made      int // blocks made so far (by fill)

	cur []byte // the part of the current block not read yet
	buf []byte // the current block, to give back
	err error
}

func (a *aheadReader) fill() {
	defer a.wg.Done()
	for {
		var buf []byte
		select {
		case buf = <-a.free:
		default:
			if a.made < maxBlocks {
				a.made++
				buf = make([]byte, a.blockSize)
				break
			}
			select {
			case buf = <-a.free:
			case <-a.done:
				return
			}
		}
		n, err := io.ReadFull(a.src, buf)
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
		select {
		case a.out <- block{buf[:n], err}:
		case <-a.done:
			return
		}
		if err != nil {
			return
		}
	}
}

// write gives each block to the tee, then to the consumer.
func (a *aheadReader) write() {
	defer a.wg.Done()
	for {
		var blk block
		select {
		case blk = <-a.out:
		case <-a.done:
			return
		}
		if _, err := a.tee.Write(blk.b); err != nil {
			blk.err = err
		} else if blk.err == io.EOF && a.final != nil {
			if err := a.final(); err != nil {
				blk.err = err
			}
		}
		select {
		case a.full <- blk:
		case <-a.done:
			return
		}
		if blk.err != nil {
			return
		}
	}
}

func (a *aheadReader) Read(p []byte) (int, error) {
	for len(a.cur) == 0 {
		if a.err != nil {
			return 0, a.err
		}
		if a.buf != nil {
			a.free <- a.buf[:cap(a.buf)]
			a.buf = nil
		}
		blk := <-a.full
		a.cur, a.buf, a.err = blk.b, blk.b, blk.err
	}
	n := copy(p, a.cur)
	a.cur = a.cur[n:]
	return n, nil
}

func (a *aheadReader) Close() error {
	a.once.Do(func() { close(a.done) })
	a.wg.Wait()
	return a.src.Close()
}
