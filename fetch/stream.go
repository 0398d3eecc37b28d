package fetch

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"math/bits"
	"net/http"
	"os"
	"strconv"
	"strings"
	gosync "sync"
)

// Check accepts or rejects a downloaded file. It is given the file's bytes
// in order, from the first, while they arrive from the network: it must
// read r to its end (or return early with an error) and report whether
// those bytes are acceptable. An error for which verify.Permanent is true
// is not retried. Check runs once per attempt: on its own goroutine, fed
// while the bytes arrive, or, for a file of at most
// Options.BufferedCheckMax bytes (by the size File is given), on File's
// goroutine once they have all arrived, from memory: for a small file a
// goroutine and a hand-over per piece cost more than the check itself,
// and there is little to stop early.
//
// Only the bytes that were already in a resumed part file are read back
// from disk; every byte that crosses the network is checked as it is
// written, so no byte of a fresh download is read twice.
type Check func(r io.Reader) error

// stream feeds one attempt's bytes to a Check. The transport tees a GET
// response body into it; after the transfer the part file's length is
// compared with the bytes the check saw, so the check can never approve
// bytes other than those on disk.
type stream struct {
	part string
	pw   *io.PipeWriter // nil: buffered (see newStream)
	done chan error

	// A buffered stream collects the bytes in buf (up to limit of them)
	// and runs check on them in finish.
	check Check
	buf   *[]byte
	limit int

	mu   gosync.Mutex
	fed  bool  // a response body was attached
	seen int64 // bytes written to the check so far
	werr error // the first write error (the check returned early)
}

// DefaultBufferedCheckMax is Options.BufferedCheckMax's default: for a
// small package the check's goroutine, its pipe and a hand-over for each
// piece cost more CPU than the digests (issue 10's initial sync of 1000
// x 32 KiB), and such a file arrives in one or two reads anyway. The same
// as largeBuffer.
const DefaultBufferedCheckMax = largeBuffer

// Buffered checks (newStream) hold a file's bytes, and one byte more, in
// a buffer for files of up to a power of two of bytes, from minSmallBuffer
// to DefaultBufferedCheckMax, pooled by that size: one buffer as large as
// the largest for every file touched four times the memory a 32 KiB
// package needs, and memory first touched is much of what a small sync
// costs.
const minSmallBuffer = 4 << 10

// smallBufferClasses is the number of sizes: 4 KiB to 256 KiB.
const smallBufferClasses = 7

// smallBuffers[k] pools the buffers for files of up to minSmallBuffer<<k
// bytes (their capacity is one byte more).
var smallBuffers [smallBufferClasses]gosync.Pool

// smallBufferClass returns the index in smallBuffers of the buffers for
// files of size bytes, or -1 when size is more than the largest holds.
func smallBufferClass(size int) int {
	k := 0
	if size > minSmallBuffer {
		k = bits.Len(uint(size-1)) - bits.Len(minSmallBuffer-1)
	}
	if k >= len(smallBuffers) {
		return -1
	}
	return k
}

// getSmallBuffer returns an empty buffer that holds size+1 bytes, from
// smallBuffers when size is at most DefaultBufferedCheckMax.
func getSmallBuffer(size int) *[]byte {
	k := smallBufferClass(size)
	if k < 0 {
		b := make([]byte, 0, size+1)
		return &b
	}
	if b, ok := smallBuffers[k].Get().(*[]byte); ok {
		*b = (*b)[:0]
		return b
	}
	b := make([]byte, 0, minSmallBuffer<<k+1)
	return &b
}

// putSmallBuffer gives a buffer from getSmallBuffer back to its pool.
func putSmallBuffer(b *[]byte) {
	n := cap(*b) - 1
	if k := smallBufferClass(n); k >= 0 && n == minSmallBuffer<<k {
		smallBuffers[k].Put(b)
	}
}

// newStream returns the stream of one attempt to download a file of size
// bytes (<= 0: unknown). A file of at most bufferedMax bytes is buffered
// and checked in finish. Any other starts check on its own goroutine; a
// check that fails calls stop with its error, so a download that is
// already known to be bad is not carried on to its end.
func newStream(part string, size, bufferedMax int64, check Check, stop context.CancelCauseFunc) *stream {
	if size > 0 && size <= bufferedMax {
		// One byte more than declared, so that the check sees a file
		// that is too long as such.
		return &stream{part: part, check: check, buf: getSmallBuffer(int(size)), limit: int(size) + 1}
	}
	pr, pw := io.Pipe()
	s := &stream{part: part, pw: pw, done: make(chan error, 1)}
	go func() {
		err := check(pr)
		// A check that stopped early must not block the transfer.
		pr.CloseWithError(errCheckDone)
		if err != nil {
			stop(&checkFailed{err})
		}
		s.done <- err
	}()
	return s
}

// checkFailed is the cause given to a transfer stopped by its check.
type checkFailed struct{ err error }

func (c *checkFailed) Error() string { return c.err.Error() }
func (c *checkFailed) Unwrap() error { return c.err }

var errCheckDone = fmt.Errorf("check finished before the end of the file")

// Write passes p to the check. It never fails the transfer: once the check
// has returned, further bytes are dropped and the check's verdict decides.
func (s *stream) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.buf != nil:
		if room := s.limit - len(*s.buf); room > 0 {
			*s.buf = append(*s.buf, p[:min(room, len(p))]...)
		}
	case s.werr == nil:
		if _, err := s.pw.Write(p); err != nil {
			s.werr = err
		}
	}
	s.seen += int64(len(p))
	return len(p), nil
}

// prefix feeds the first n bytes already in the part file: the part of a
// resumed download that an earlier attempt wrote.
func (s *stream) prefix(n int64) error {
	f, err := os.Open(s.part)
	if err != nil {
		return fmt.Errorf("reading the resumed part file: %w", err)
	}
	defer f.Close()
	got, err := io.Copy(s, io.LimitReader(f, n))
	if err == nil && got != n {
		err = fmt.Errorf("the part file holds %d bytes, the resumed request asked from byte %d", got, n)
	}
	return err
}

// whole feeds the whole part file.
func (s *stream) whole() error {
	f, err := os.Open(s.part)
	if err != nil {
		return fmt.Errorf("reading the part file: %w", err)
	}
	defer f.Close()
	_, err = io.Copy(s, f)
	return err
}

// finish ends the stream after a transfer that succeeded and returns the
// check's verdict, and with a nil verdict the part file's information.
// When no body went through it (grab found the part file already
// complete), the file is read from disk instead.
func (s *stream) finish() (fs.FileInfo, error) {
	s.mu.Lock()
	fed := s.fed
	s.mu.Unlock()
	if !fed {
		if err := s.whole(); err != nil {
			s.abort(err)
			return nil, err
		}
	}
	var err error
	if s.buf != nil {
		err = s.check(bytes.NewReader(*s.buf))
		s.release()
	} else {
		s.pw.Close()
		err = <-s.done
	}
	if err != nil {
		return nil, err
	}
	fi, serr := os.Stat(s.part)
	if serr != nil {
		return nil, serr
	}
	if fi.Size() != s.seen {
		return nil, fmt.Errorf("the part file has %d bytes, the transfer delivered %d: %w", fi.Size(), s.seen, errPartMismatch)
	}
	return fi, nil
}

// abort ends the stream after a failed transfer; the check's verdict is
// only interesting when it explains the failure (it was the check that
// stopped the transfer).
func (s *stream) abort(cause error) error {
	if s.buf != nil {
		s.release()
		return cause
	}
	s.pw.CloseWithError(cause)
	return <-s.done
}

// release returns a buffered stream's buffer to the pool; the stream
// takes no more bytes.
func (s *stream) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.buf != nil {
		putSmallBuffer(s.buf)
		s.buf, s.limit = &[]byte{}, 0
	}
}

// errBadRange: the server answered a resume with other bytes than asked
// for; the part file is dropped and the next attempt starts over.
var errBadRange = fmt.Errorf("a wrong range")

// errPartMismatch: what is on disk is not what the check saw; start over.
var errPartMismatch = fmt.Errorf("part file and transfer disagree")

type streamKey struct{}

// teeTransport gives the body of each GET response whose request context
// carries a *stream to that stream as it is read. For a 206 answer it
// first feeds the bytes the part file already holds, after checking that
// the server answered the range that was asked for (grab does not).
type teeTransport struct{ next http.RoundTripper }

func (t teeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil || req.Method != http.MethodGet {
		return resp, err
	}
	s, ok := req.Context().Value(streamKey{}).(*stream)
	if !ok || resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp, err
	}
	var start int64
	if resp.StatusCode == http.StatusPartialContent {
		want, ok := rangeStart(req.Header.Get("Range"))
		got, ok2 := contentRangeStart(resp.Header.Get("Content-Range"))
		if !ok || !ok2 || want != got {
			resp.Body.Close()
			return nil, fmt.Errorf("asked for %q, the server answered Content-Range %q: %w", req.Header.Get("Range"), resp.Header.Get("Content-Range"), errBadRange)
		}
		start = want
	}
	s.mu.Lock()
	if s.fed {
		s.mu.Unlock()
		resp.Body.Close()
		return nil, fmt.Errorf("a second response body for one transfer")
	}
	s.fed = true
	s.mu.Unlock()
	if start > 0 {
		if err := s.prefix(start); err != nil {
			resp.Body.Close()
			return nil, err
		}
	}
	resp.Body = teeBody{r: io.TeeReader(resp.Body, s), c: resp.Body}
	return resp, nil
}

type teeBody struct {
	r io.Reader
	c io.Closer
}

func (b teeBody) Read(p []byte) (int, error) { return b.r.Read(p) }
func (b teeBody) Close() error               { return b.c.Close() }

// rangeStart parses "bytes=N-".
func rangeStart(h string) (int64, bool) {
	v, ok := strings.CutPrefix(h, "bytes=")
	if !ok {
		return 0, false
	}
	v, ok = strings.CutSuffix(v, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil && n >= 0
}

// contentRangeStart parses "bytes N-M/T".
func contentRangeStart(h string) (int64, bool) {
	v, ok := strings.CutPrefix(h, "bytes ")
	if !ok {
		return 0, false
	}
	v, _, ok = strings.Cut(v, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil && n >= 0
}

// withStream returns ctx carrying s for teeTransport.
func withStream(ctx context.Context, s *stream) context.Context {
	return context.WithValue(ctx, streamKey{}, s)
}
