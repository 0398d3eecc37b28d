package fetch

import (
	"context"
	"io"
	"path/filepath"
	"testing"
)

// TestBufferedCheckSizedToFile: the buffer a small download is checked
// from holds the file and the byte past it, and is at most about twice
// the file, not DefaultBufferedCheckMax for every file (issue 10's small
// syncs: a 40 KB package held 256 KiB, four downloads at once touched
// a megabyte of memory for a few packages). A buffer goes back to the
// pool of its size and comes out again for a file of that size.
func TestBufferedCheckSizedToFile(t *testing.T) {
	part := filepath.Join(t.TempDir(), "part")
	check := func(io.Reader) error { return nil }
	_, stop := context.WithCancelCause(context.Background())
	defer stop(nil)
	for _, tc := range []struct {
		name         string
		size         int64
		wantCap      int
		fromSmallest bool
	}{
		{"one byte", 1, 4<<10 + 1, true},
		{"4 KiB", 4 << 10, 4<<10 + 1, true},
		{"just over 4 KiB", 4<<10 + 1, 8<<10 + 1, false},
		{"a 32 KiB package", 39614, 64<<10 + 1, false},
		{"the largest buffered", DefaultBufferedCheckMax, DefaultBufferedCheckMax + 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newStream(part, tc.size, DefaultBufferedCheckMax, check, stop)
			if st.buf == nil {
				t.Fatal("not a buffered check")
			}
			got := cap(*st.buf)
			if got != tc.wantCap {
				t.Errorf("buffer for %d bytes: capacity %d, want %d", tc.size, got, tc.wantCap)
			}
			st.release()
			again := newStream(part, tc.size, DefaultBufferedCheckMax, check, stop)
			if cap(*again.buf) != tc.wantCap || len(*again.buf) != 0 {
				t.Errorf("buffer again: capacity %d, length %d, want %d, 0", cap(*again.buf), len(*again.buf), tc.wantCap)
			}
			again.release()
		})
	}
	if got := minSmallBuffer << (smallBufferClasses - 1); got != DefaultBufferedCheckMax {
		t.Errorf("the largest pooled buffer is for %d bytes, DefaultBufferedCheckMax is %d", got, DefaultBufferedCheckMax)
	}
}

// TestBufferedCheckOverMax: a file buffered because Options.BufferedCheckMax
// is above the default gets a buffer of its size at once (not grown by
// appending), not pooled.
func TestBufferedCheckOverMax(t *testing.T) {
	part := filepath.Join(t.TempDir(), "part")
	_, stop := context.WithCancelCause(context.Background())
	defer stop(nil)
	size := int64(DefaultBufferedCheckMax + 100)
	st := newStream(part, size, 2*DefaultBufferedCheckMax, func(io.Reader) error { return nil }, stop)
	if st.buf == nil {
		t.Fatal("not a buffered check")
	}
	if got := cap(*st.buf); got < int(size)+1 || got > int(size)+1+8 {
		t.Errorf("buffer for %d bytes: capacity %d, want %d", size, got, size+1)
	}
	st.release()
}
