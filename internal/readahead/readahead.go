// Package readahead reads a stream in its own goroutine, a few blocks
// ahead of its consumer: decompressing metadata and parsing it then use
// two cores. The sync engine and the filter benchmark share it.
package readahead

import (
	"io"
	gosync "sync"
)

// New reads r in its own goroutine, a few blocks ahead of the consumer,
// so that decompressing metadata and parsing it use two cores. Close
// stops the goroutine and closes r.
func New(r io.ReadCloser) io.ReadCloser {
	const blocks, size = 4, 256 << 10
	ra := &aheadReader{
		src:  r,
		full: make(chan block, blocks),
		free: make(chan []byte, blocks),
		done: make(chan struct{}),
	}
	for range blocks {
		ra.free <- make([]byte, size)
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
	full chan block
	free chan []byte
	done chan struct{}
	once gosync.Once
	wg   gosync.WaitGroup

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
		case <-a.done:
			return
		}
		n, err := io.ReadFull(a.src, buf)
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
		select {
		case a.full <- block{buf[:n], err}:
		case <-a.done:
			return
		}
		if err != nil {
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
