package fetch

import (
	"golang.org/x/sys/unix"

	"github.com/rpmirror/rpmirror/internal/safefs"
)

// writebackChunk is how much of a download arrives between two starts of
// its writeback while it is still arriving (see partWriteback).
const writebackChunk = 4 << 20

// startWritebackRange is safefs.StartWritebackRange; tests record its
// calls.
var startWritebackRange = safefs.StartWritebackRange

// partWriteback starts the writeback of a large download's part file
// while the download still arrives, each writebackChunk bytes, so that
// the flush before the commit (SyncFS) waits for the last few MiB of
// each file, not for whole files that completed just before it. Like
// startWriteback it is advice: durability comes from the flush alone.
// sync_file_range may wait for the disk's queue, so the calls run on a
// goroutine of their own, never on the one receiving the bytes. Bytes a
// check later refuses may have been written: the part file is removed
// then, as before.
type partWriteback struct {
	to   chan int64 // the part file's length so far: start its writeback up to there
	sent int64      // the last length handed over (the stream's, under its lock)
}

// newPartWriteback opens part and starts the goroutine.
func newPartWriteback(part string) *partWriteback {
	w := &partWriteback{to: make(chan int64, 1)}
	fd, err := unix.Open(part, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	go func() {
		var from int64
		for to := range w.to {
			if err == nil && to > from {
				startWritebackRange(fd, from, to-from)
			}
			from = to
		}
		if err == nil {
			unix.Close(fd)
		}
	}()
	return w
}

// written tells w that the part file holds n bytes. It never blocks: when
// the goroutine is still busy with an earlier range, the next call
// hands over the longer one.
func (w *partWriteback) written(n int64) {
	if n-w.sent < writebackChunk {
		return
	}
	select {
	case w.to <- n:
		w.sent = n
	default:
	}
}

// close ends the goroutine.
func (w *partWriteback) close() { close(w.to) }
