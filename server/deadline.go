package server

import (
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"
)

// lazyListener hands fasthttp its TCP connections as lazyConns.
type lazyListener struct{ net.Listener }

func (l lazyListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		if lc, err := newLazyConn(tc); err == nil {
			return lc, nil
		}
	}
	return c, nil
}

// lazyConn is a TCP connection whose deadlines reach the runtime's
// poller only when a read or write has to wait.
//
// fasthttp sets three deadlines per request: the idle timeout before
// it waits for the next request, the read timeout once its first byte
// is there, the write timeout before it answers. Each one moves a timer
// of the runtime (a lock of a P's timer heap, often the other core's),
// which the profile of rpmirror serve showed as a few per cent of its
// CPU; yet a request arrives whole and its answer fits the socket's
// buffer, so only the wait for the next request ever waits. A lazyConn
// records the deadlines it is given and arms one in the runtime only
// before a wait, and only when the one armed would fire later than the
// one wanted; a deadline armed earlier than wanted that fires is armed
// again with the one wanted, and the wait goes on. So a wait never
// lasts past its deadline and never ends before it, as with net.Conn;
// the differences are that a read or write that finds its data or room
// at once succeeds even when its deadline has passed, and that a
// deadline set while a read or write waits applies from its next wait
// on (fasthttp sets them only between its own reads and writes, and
// Shutdown closes idle connections rather than setting deadlines).
//
// Reads and writes go through syscall.RawConn, which waits in the same
// poller as net.Conn does, and are raw system calls (rawRead, rawWrite:
// the socket never blocks, and the runtime handing the P of a thread
// in a call to another thread cost more than the call). Their errors
// are what net.Conn returns (*net.OpError with the syscall error,
// os.ErrDeadlineExceeded for a timeout, io.EOF at the end).
type lazyConn struct {
	tc     *net.TCPConn
	rc     syscall.RawConn
	rd, wd deadline

	// The read and write in progress, for readFn and writeFn (method
	// values made once, so that no read or write allocates a closure).
	rbuf, wbuf      []byte
	rn, wn          int
	rerr, werr      error
	readFn, writeFn func(fd uintptr) bool
}

var _ net.Conn = (*lazyConn)(nil)

// deadline is one direction's deadline: wanted is what the caller set,
// armed what the runtime holds, as Unix nanoseconds, 0 for none.
type deadline struct{ wanted, armed atomic.Int64 }

func newLazyConn(tc *net.TCPConn) (*lazyConn, error) {
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil, err
	}
	c := &lazyConn{tc: tc, rc: rc}
	c.readFn, c.writeFn = c.read, c.write
	return c, nil
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	if n := t.UnixNano(); n != 0 {
		return n
	}
	return -1 // the epoch itself, in the past all the same
}

func (c *lazyConn) SetDeadline(t time.Time) error {
	n := unixNano(t)
	c.rd.wanted.Store(n)
	c.wd.wanted.Store(n)
	return nil
}

func (c *lazyConn) SetReadDeadline(t time.Time) error {
	c.rd.wanted.Store(unixNano(t))
	return nil
}

func (c *lazyConn) SetWriteDeadline(t time.Time) error {
	c.wd.wanted.Store(unixNano(t))
	return nil
}

// arm makes the runtime's deadline of d, before a wait, fire no later
// than the one wanted: it arms the wanted one unless the armed one is
// no later (or none is wanted and none armed).
func (c *lazyConn) arm(d *deadline) {
	wanted, armed := d.wanted.Load(), d.armed.Load()
	if armed == wanted || armed != 0 && (wanted == 0 || armed < wanted) {
		return
	}
	c.setArmed(d, wanted)
}

// setArmed arms wanted in the runtime as d's deadline.
func (c *lazyConn) setArmed(d *deadline, wanted int64) {
	t := time.Time{}
	if wanted != 0 {
		t = time.Unix(0, wanted)
	}
	if d == &c.rd {
		c.tc.SetReadDeadline(t)
	} else {
		c.tc.SetWriteDeadline(t)
	}
	d.armed.Store(wanted)
}

// rearm answers a deadline the runtime reported as passed: when the
// wanted one has not passed, it arms that and reports true (wait
// again); else false (a timeout).
func (c *lazyConn) rearm(d *deadline) bool {
	wanted := d.wanted.Load()
	if wanted != 0 && time.Now().UnixNano() >= wanted {
		return false
	}
	c.setArmed(d, wanted)
	return true
}

func (c *lazyConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.rbuf = p
	for {
		c.rn, c.rerr = 0, nil
		err := c.rc.Read(c.readFn)
		if err == nil {
			err = c.rerr
		}
		if err == nil {
			c.rbuf = nil
			return c.rn, nil
		}
		if err == io.EOF {
			c.rbuf = nil
			return 0, io.EOF
		}
		if errors.Is(err, os.ErrDeadlineExceeded) && c.rearm(&c.rd) {
			continue
		}
		c.rbuf = nil
		return 0, c.opError("read", err)
	}
}

// read is the RawConn callback of Read.
func (c *lazyConn) read(fd uintptr) bool {
	for {
		n, err := rawRead(int(fd), c.rbuf)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			c.arm(&c.rd)
			return false
		case err != nil:
			c.rerr = os.NewSyscallError("read", err)
		case n == 0:
			c.rerr = io.EOF
		default:
			c.rn = n
		}
		return true
	}
}

func (c *lazyConn) Write(p []byte) (int, error) {
	c.wbuf, c.wn = p, 0
	for {
		c.werr = nil
		err := c.rc.Write(c.writeFn)
		if err == nil {
			err = c.werr
		}
		if err == nil {
			c.wbuf = nil
			return c.wn, nil
		}
		if errors.Is(err, os.ErrDeadlineExceeded) && c.rearm(&c.wd) {
			continue
		}
		c.wbuf = nil
		return c.wn, c.opError("write", err)
	}
}

// write is the RawConn callback of Write.
func (c *lazyConn) write(fd uintptr) bool {
	for c.wn < len(c.wbuf) {
		n, err := rawWrite(int(fd), c.wbuf[c.wn:])
		if n > 0 {
			c.wn += n
		}
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			c.arm(&c.wd)
			return false
		case err != nil:
			c.werr = os.NewSyscallError("write", err)
			return true
		case n == 0:
			c.werr = io.ErrUnexpectedEOF
			return true
		}
	}
	return true
}

// opError wraps err as net.Conn's methods do (RawConn's own errors are
// *net.OpErrors of "raw-read" and "raw-write": their cause is kept).
func (c *lazyConn) opError(op string, err error) error {
	if oe, ok := err.(*net.OpError); ok {
		err = oe.Err
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.tc.LocalAddr(), Addr: c.tc.RemoteAddr(), Err: err}
}

func (c *lazyConn) Close() error         { return c.tc.Close() }
func (c *lazyConn) LocalAddr() net.Addr  { return c.tc.LocalAddr() }
func (c *lazyConn) RemoteAddr() net.Addr { return c.tc.RemoteAddr() }
