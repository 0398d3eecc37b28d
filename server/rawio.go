//go:build !race

package server

import (
	"syscall"
	"unsafe"
)

// rawRead and rawWrite are read(2) and write(2) on a lazyConn's socket
// as raw system calls: without telling the scheduler that the thread
// enters a system call, which syscall.Read and syscall.Write do.
//
// The socket is non-blocking (the runtime's poller waits for it), so
// neither call ever blocks: it returns data or room, or EAGAIN. Yet
// on loopback a write runs the peer's whole receive path and takes
// tens of microseconds, and the runtime's monitor thread (sysmon), which
// looks at every P each 20 µs to 10 ms, takes the P of a goroutine found
// in the same system call twice and hands it to another thread (handoffp,
// startm: a thread woken), then keeps looking every 20 µs, as it keeps
// finding such Ps. Under wrk on two cores that was 11-14% of the
// server's CPU in sysmon and as much again in the thread switches it
// caused, for Ps that had nothing else to run: the CPU per request of
// benchgen fixed (the ceiling in scripts/bench-serve.sh) went from 19
// to 12.5 µs with raw calls. A raw call keeps its P for the few
// microseconds it lasts, as any Go code between two calls does.
//
// Errors are the syscall.Errno read(2) and write(2) return, as with
// syscall.Read and syscall.Write (n is -1 with one).
func rawRead(fd int, p []byte) (int, error) {
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(unsafe.SliceData(p))
	}
	n, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(ptr), uintptr(len(p)))
	if e != 0 {
		return -1, e
	}
	return int(n), nil
}

func rawWrite(fd int, p []byte) (int, error) {
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(unsafe.SliceData(p))
	}
	n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(ptr), uintptr(len(p)))
	if e != 0 {
		return -1, e
	}
	return int(n), nil
}
