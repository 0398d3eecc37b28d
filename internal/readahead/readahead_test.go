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
		src  io.Reader
		want error
	}{
		{"whole", bytes.NewReader(data), nil},
		{"one byte at a time", iotest.OneByteReader(bytes.NewReader(data[:100000])), nil},
		{"error at the end", &errAfter{bytes.NewReader(data), errors.New("corrupt input")}, errors.New("corrupt input")},
		{"empty", bytes.NewReader(nil), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := New(io.NopCloser(tc.src))
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
			want := data
			switch tc.name {
			case "one byte at a time":
				want = data[:100000]
			case "empty":
				want = nil
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("read %d bytes, want %d, or they differ", len(got), len(want))
			}
			r.Close()
		})
	}
}

// TestReadAheadCloseEarly: closing before the end stops the goroutine.
func TestReadAheadCloseEarly(t *testing.T) {
	before := runtime.NumGoroutine()
	for range 100 {
		r := New(io.NopCloser(bytes.NewReader(make([]byte, 10<<20))))
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
			r := NewTee(io.NopCloser(tc.src), w, func() error {
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
