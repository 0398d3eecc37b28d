package readahead

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"
	"testing/iotest"
	"time"
)

type errAfter struct {
	r   io.Reader
	err error
}

func (e *errAfter) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		return n, e.err
	}
	return n, err
}

func TestReadAhead(t *testing.T) {
	data := make([]byte, 3<<20+123)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	for _, tc := range []struct {
		name string
		src  func() io.Reader
		n    int64 // bytes src gives
		want error
	}{
		{"whole", func() io.Reader { return bytes.NewReader(data) }, int64(len(data)), nil},
		{"one byte at a time", func() io.Reader { return iotest.OneByteReader(bytes.NewReader(data[:100000])) }, 100000, nil},
		{"error at the end", func() io.Reader { return &errAfter{bytes.NewReader(data), errors.New("corrupt input")} }, int64(len(data)), errors.New("corrupt input")},
		{"empty", func() io.Reader { return bytes.NewReader(nil) }, 0, nil},
	} {
		for _, size := range []struct {
			name string
			n    int64
		}{{"size unknown", -1}, {"size known", tc.n}} {
			t.Run(tc.name+", "+size.name, func(t *testing.T) {
				r := New(io.NopCloser(tc.src()), size.n)
				got, err := io.ReadAll(r)
				if tc.want != nil {
					if err == nil || err.Error() != tc.want.Error() {
						t.Fatalf("err = %v, want %v", err, tc.want)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				want := data[:tc.n]
				if tc.n == 0 {
					want = nil
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("read %d bytes, want %d, or they differ", len(got), len(want))
				}
				r.Close()
			})
		}
	}
}

// TestReadAheadCloseEarly: closing before the end stops the goroutine.
func TestReadAheadCloseEarly(t *testing.T) {
	before := runtime.NumGoroutine()
	for range 100 {
		r := New(io.NopCloser(bytes.NewReader(make([]byte, 10<<20))), 10<<20)
		r.Read(make([]byte, 10))
		r.Close()
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines left, %d before", n, before)
	}
}

// TestTee: NewTee gives the consumer what New gives, and the tee every
// byte in order before final is called; final's error replaces io.EOF,
// a read error and the tee's own error end the stream.
func TestTee(t *testing.T) {
	data := make([]byte, 2<<20+77)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	bad := errors.New("digest mismatch")
	for _, tc := range []struct {
		name     string
		src      io.Reader
		finalErr error
		teeErr   error
		want     error
	}{
		{"whole", bytes.NewReader(data), nil, nil, nil},
		{"one byte at a time", iotest.OneByteReader(bytes.NewReader(data[:50000])), nil, nil, nil},
		{"empty", bytes.NewReader(nil), nil, nil, nil},
		{"final refuses", bytes.NewReader(data), bad, nil, bad},
		{"read error", &errAfter{bytes.NewReader(data), errors.New("corrupt input")}, nil, nil, errors.New("corrupt input")},
		{"tee fails", bytes.NewReader(data), nil, errors.New("tee broke"), errors.New("tee broke")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tee bytes.Buffer
			var atFinal int
			w := io.Writer(&tee)
			if tc.teeErr != nil {
				w = failWriter{tc.teeErr}
			}
			r := NewTee(io.NopCloser(tc.src), int64(len(data)), w, func() error {
				atFinal = tee.Len()
				return tc.finalErr
			})
			defer r.Close()
			got, err := io.ReadAll(r)
			if tc.want != nil {
				if err == nil || err.Error() != tc.want.Error() {
					t.Fatalf("err = %v, want %v", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tee.Bytes()) || atFinal != len(got) {
				t.Fatalf("consumer read %d bytes, the tee got %d (%d when final was called), or they differ", len(got), tee.Len(), atFinal)
			}
		})
	}
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

// TestShortStreamMemory: a stream holds memory for what it reads ahead,
// not six blocks of the largest size whatever its length: a block is
// made only when none is free, and a stream of a known size gets blocks
// of about a sixteenth of it (issue 10's small syncs: a 1 MB primary.xml
// touched 1.5 MB of fresh memory here, which costs more than parsing it).
func TestShortStreamMemory(t *testing.T) {
	for _, tc := range []struct {
		name  string
		n     int64 // bytes in the stream
		size  int64 // the size New is given
		limit uint64
	}{
		{"10 KB, size unknown: one block", 10 << 10, -1, maxBlockSize + 64<<10},
		{"1 MB, size known: blocks of 64 KiB", 1 << 20, 1 << 20, maxBlocks*64<<10 + 64<<10},
		{"100 KB, size known: blocks of the least size", 100 << 10, 100 << 10, maxBlocks*minBlockSize + 64<<10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := make([]byte, tc.n)
			got := allocated(func() {
				r := New(io.NopCloser(bytes.NewReader(data)), tc.size)
				if n, err := io.Copy(io.Discard, r); err != nil || n != tc.n {
					t.Fatalf("read %d bytes, %v; want %d", n, err, tc.n)
				}
				r.Close()
			})
			if got > tc.limit {
				t.Errorf("allocated %d bytes reading %d, want at most %d", got, tc.n, tc.limit)
			}
		})
	}
}

// allocated returns the bytes allocated while f ran (on any goroutine).
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
