package server

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// lazyPair returns the two ends of a loopback TCP connection: the
// server's, accepted through lazyListener, and the client's.
func lazyPair(t *testing.T) (*lazyConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	c, err := lazyListener{ln}.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	lc, ok := c.(*lazyConn)
	if !ok {
		t.Fatalf("accepted a %T, want a *lazyConn", c)
	}
	return lc, client
}

// within runs f and fails the test when it has not returned after far
// longer than any deadline of these tests (a wait that ignored its
// deadline).
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: still waiting long after its deadline", what)
	}
}

// isTimeout reports whether err is the timeout net.Conn reports.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) && errors.As(err, &ne) && ne.Timeout()
}

// TestLazyDeadlines: a lazyConn's reads and writes wait until their
// deadline and no longer, whichever deadline the runtime held before
// (none, a later one, an earlier one that fired); they read what
// arrives, the end of the stream, and stop when the connection closes.
func TestLazyDeadlines(t *testing.T) {
	// readLater reads from c while the client writes msg after a pause,
	// so that the read waits.
	readLater := func(t *testing.T, c *lazyConn, client net.Conn, msg string) {
		t.Helper()
		go func() {
			time.Sleep(50 * time.Millisecond)
			io.WriteString(client, msg)
		}()
		buf := make([]byte, 64)
		var n int
		var err error
		within(t, "read", func() { n, err = c.Read(buf) })
		if err != nil || string(buf[:n]) != msg {
			t.Fatalf("read %q, %v; want %q", buf[:n], err, msg)
		}
	}
	readTimesOut := func(t *testing.T, c *lazyConn) {
		t.Helper()
		var err error
		within(t, "read", func() { _, err = c.Read(make([]byte, 64)) })
		if !isTimeout(err) {
			t.Fatalf("read: %v, want a timeout", err)
		}
	}
	for _, tc := range []struct {
		name string
		test func(t *testing.T, c *lazyConn, client net.Conn)
	}{
		{"no deadline: reads what arrives", func(t *testing.T, c *lazyConn, client net.Conn) {
			readLater(t, c, client, "a")
		}},
		{"a deadline passes while waiting", func(t *testing.T, c *lazyConn, client net.Conn) {
			c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			readTimesOut(t, c)
		}},
		{"an earlier deadline after a later one was armed", func(t *testing.T, c *lazyConn, client net.Conn) {
			c.SetReadDeadline(time.Now().Add(time.Hour))
			readLater(t, c, client, "a") // arms the hour
			c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			readTimesOut(t, c)
		}},
		{"a later deadline after an earlier one fired", func(t *testing.T, c *lazyConn, client net.Conn) {
			c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			readTimesOut(t, c)
			c.SetReadDeadline(time.Now().Add(time.Hour))
			readLater(t, c, client, "b")
		}},
		{"an earlier deadline armed fires during a later one's wait", func(t *testing.T, c *lazyConn, client net.Conn) {
			c.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
			go io.WriteString(client, "a")
			buf := make([]byte, 64)
			if n, err := c.Read(buf); err != nil || string(buf[:n]) != "a" {
				t.Fatalf("read %q, %v", buf[:n], err)
			}
			// The 30 ms deadline may be armed; the read waits past it.
			c.SetReadDeadline(time.Now().Add(time.Hour))
			go func() {
				time.Sleep(200 * time.Millisecond)
				io.WriteString(client, "b")
			}()
			var n int
			var err error
			within(t, "read", func() { n, err = c.Read(buf) })
			if err != nil || string(buf[:n]) != "b" {
				t.Fatalf("read %q, %v; want b", buf[:n], err)
			}
		}},
		{"the deadline cleared", func(t *testing.T, c *lazyConn, client net.Conn) {
			c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			readTimesOut(t, c)
			c.SetReadDeadline(time.Time{})
			readLater(t, c, client, "c")
		}},
		{"the end of the stream", func(t *testing.T, c *lazyConn, client net.Conn) {
			c.SetReadDeadline(time.Now().Add(time.Hour))
			go func() {
				time.Sleep(50 * time.Millisecond)
				client.Close()
			}()
			var err error
			within(t, "read", func() { _, err = c.Read(make([]byte, 64)) })
			if err != io.EOF {
				t.Fatalf("read: %v, want io.EOF", err)
			}
		}},
		{"closed while waiting", func(t *testing.T, c *lazyConn, client net.Conn) {
			go func() {
				time.Sleep(50 * time.Millisecond)
				c.Close()
			}()
			var err error
			within(t, "read", func() { _, err = c.Read(make([]byte, 64)) })
			var oe *net.OpError
			if !errors.Is(err, net.ErrClosed) || !errors.As(err, &oe) || oe.Op != "read" {
				t.Fatalf("read: %v, want a read error of a closed connection", err)
			}
		}},
		{"a write the client never reads", func(t *testing.T, c *lazyConn, client net.Conn) {
			c.SetWriteDeadline(time.Now().Add(time.Hour))
			if n, err := c.Write([]byte("hello")); n != 5 || err != nil {
				t.Fatalf("write: %d, %v", n, err)
			}
			c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
			big := make([]byte, 64<<20)
			var n int
			var err error
			within(t, "write", func() { n, err = c.Write(big) })
			if !isTimeout(err) || n >= len(big) {
				t.Fatalf("write: %d bytes, %v; want a timeout", n, err)
			}
		}},
		{"a write the client reads", func(t *testing.T, c *lazyConn, client net.Conn) {
			c.SetWriteDeadline(time.Now().Add(time.Hour))
			big := make([]byte, 8<<20)
			go io.Copy(io.Discard, client)
			var n int
			var err error
			within(t, "write", func() { n, err = c.Write(big) })
			if n != len(big) || err != nil {
				t.Fatalf("write: %d bytes, %v; want all", n, err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, client := lazyPair(t)
			tc.test(t, c, client)
		})
	}
}
