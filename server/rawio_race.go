//go:build race

package server

import "syscall"

// Under the race detector, a lazyConn's socket is read and written
// with syscall.Read and syscall.Write, which tell the detector of the
// bytes read and written (rawio.go has the raw calls of other builds).
func rawRead(fd int, p []byte) (int, error)  { return syscall.Read(fd, p) }
func rawWrite(fd int, p []byte) (int, error) { return syscall.Write(fd, p) }
