package server

import (
	"errors"
	"syscall"
	"testing"
)

// TestRawIO: rawRead and rawWrite return what syscall.Read and
// syscall.Write return on a non-blocking socket, in every case a
// lazyConn meets: data, none yet (EAGAIN), the peer gone (EOF, EPIPE),
// an empty buffer, a closed descriptor.
func TestRawIO(t *testing.T) {
	type result struct {
		n   int
		err error
	}
	// Each case prepares a fresh non-blocking socket pair, then does one
	// call on fd a with buf.
	cases := []struct {
		name  string
		write bool
		buf   int
		prep  func(t *testing.T, p *pair)
	}{
		{"read data", false, 64, func(t *testing.T, p *pair) { mustWrite(t, p.fd[1], "GET / HTTP/1.1\r\n\r\n") }},
		{"read part of the data", false, 4, func(t *testing.T, p *pair) { mustWrite(t, p.fd[1], "GET / HTTP/1.1\r\n\r\n") }},
		{"read none yet", false, 64, func(t *testing.T, p *pair) {}},
		{"read the end", false, 64, func(t *testing.T, p *pair) { p.close(1) }},
		{"read into nothing", false, 0, func(t *testing.T, p *pair) { mustWrite(t, p.fd[1], "x") }},
		{"read closed descriptor", false, 64, func(t *testing.T, p *pair) { p.close(0) }},
		{"write", true, 64, func(t *testing.T, p *pair) {}},
		{"write nothing", true, 0, func(t *testing.T, p *pair) {}},
		{"write to a peer gone", true, 64, func(t *testing.T, p *pair) { p.close(1) }},
		{"write to a full socket", true, 64, func(t *testing.T, p *pair) { fill(t, p.fd[0]) }},
		{"write closed descriptor", true, 64, func(t *testing.T, p *pair) { p.close(0) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got [2]result
			var read [2]string
			for i, f := range []struct {
				read, write func(int, []byte) (int, error)
			}{{syscall.Read, syscall.Write}, {rawRead, rawWrite}} {
				p := socketPair(t)
				a := p.fd[0]
				tc.prep(t, p)
				buf := make([]byte, tc.buf)
				var r result
				if tc.write {
					r.n, r.err = f.write(a, buf)
				} else {
					r.n, r.err = f.read(a, buf)
					if r.n > 0 {
						read[i] = string(buf[:r.n])
					}
				}
				got[i] = r
			}
			if got[0].n != got[1].n || !errors.Is(got[1].err, got[0].err) || (got[0].err == nil) != (got[1].err == nil) || read[0] != read[1] {
				t.Errorf("raw call: %d, %v, %q; syscall package: %d, %v, %q", got[1].n, got[1].err, read[1], got[0].n, got[0].err, read[0])
			}
			if _, ok := got[1].err.(syscall.Errno); got[1].err != nil && !ok {
				t.Errorf("raw call's error is a %T, want a syscall.Errno", got[1].err)
			}
		})
	}
}

// pair is a connected pair of non-blocking stream sockets.
type pair struct {
	fd     [2]int
	closed [2]bool
}

// close closes end i. The call the case makes then is on a closed
// descriptor, whose number nothing reuses meanwhile.
func (p *pair) close(i int) {
	syscall.Close(p.fd[i])
	p.closed[i] = true
}

// socketPair returns a pair whose ends still open are closed at the
// end of the test.
func socketPair(t *testing.T) *pair {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	p := &pair{fd: [2]int{fds[0], fds[1]}}
	t.Cleanup(func() {
		for i, c := range p.closed {
			if !c {
				syscall.Close(p.fd[i])
			}
		}
	})
	return p
}

func mustWrite(t *testing.T, fd int, s string) {
	t.Helper()
	if n, err := syscall.Write(fd, []byte(s)); err != nil || n != len(s) {
		t.Fatalf("writing %q: %d, %v", s, n, err)
	}
}

// fill writes to fd until its send buffer is full.
func fill(t *testing.T, fd int) {
	t.Helper()
	buf := make([]byte, 64<<10)
	for {
		if _, err := syscall.Write(fd, buf); err == syscall.EAGAIN {
			return
		} else if err != nil {
			t.Fatalf("filling a socket: %v", err)
		}
	}
}
