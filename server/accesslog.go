package server

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// Access is one request as the access log records it.
type Access struct {
	Time     time.Time
	Client   netip.Addr // as trusted_proxies decided it
	Country  string     // "" when not known
	Method   string
	URI      string // path and query, as requested
	Status   int
	Bytes    int
	Duration time.Duration
	Repo     string // the repo's configuration name, "" when none was found
	Kind     string // mirrorlist, metalink or redirect
	Location string // where a redirect sent the client
}

// AccessLog writes one JSON object per line for each request, to a file
// (appended to) or to standard output. Lines are buffered and written
// out at least once a second and on Close. Safe for concurrent use.
type AccessLog struct {
	path string // "-" for standard output

	mu   sync.Mutex
	f    *os.File
	w    *bufio.Writer
	buf  []byte
	err  error // the last write error, reported once
	stop chan struct{}
	done chan struct{}
}

// OpenAccessLog opens path for appending, creating it (mode 0640) if
// needed; "-" is standard output.
func OpenAccessLog(path string) (*AccessLog, error) {
	l := &AccessLog{path: path, stop: make(chan struct{}), done: make(chan struct{})}
	if err := l.open(); err != nil {
		return nil, err
	}
	go l.flusher()
	return l, nil
}

func (l *AccessLog) open() error {
	if l.path == "-" {
		l.f = os.Stdout
	} else {
		f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			return fmt.Errorf("opening access_log: %w", err)
		}
		l.f = f
	}
	l.w = bufio.NewWriterSize(l.f, 64<<10)
	return nil
}

// Reopen flushes and reopens the file, for log rotation (the daemon
// calls it on SIGHUP). On error the old file stays in use.
func (l *AccessLog) Reopen() error {
	if l.path == "-" {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.w.Flush()
	old := l.f
	if err := l.open(); err != nil {
		l.f = old
		l.w = bufio.NewWriterSize(old, 64<<10)
		return err
	}
	old.Close()
	return nil
}

func (l *AccessLog) flusher() {
	defer close(l.done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			l.mu.Lock()
			l.flushLocked()
			l.mu.Unlock()
		}
	}
}

func (l *AccessLog) flushLocked() {
	if err := l.w.Flush(); err != nil && l.err == nil {
		l.err = err
		fmt.Fprintf(os.Stderr, "rpmirror: writing access_log %s: %v\n", l.path, err)
	}
}

// Close writes out what is buffered and closes the file.
func (l *AccessLog) Close() error {
	close(l.stop)
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	err := l.w.Flush()
	if l.f != os.Stdout {
		if cerr := l.f.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// Log writes a line for a.
func (l *AccessLog) Log(a Access) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buf[:0]
	b = append(b, `{"time":"`...)
	b = a.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","client":"`...)
	if a.Client.IsValid() {
		b = a.Client.AppendTo(b)
	}
	b = append(b, `","country":`...)
	b = appendJSON(b, a.Country)
	b = append(b, `,"method":`...)
	b = appendJSON(b, a.Method)
	b = append(b, `,"uri":`...)
	b = appendJSON(b, a.URI)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(a.Status), 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, int64(a.Bytes), 10)
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendFloat(b, float64(a.Duration.Microseconds())/1000, 'f', 3, 64)
	if a.Repo != "" {
		b = append(b, `,"repo":`...)
		b = appendJSON(b, a.Repo)
	}
	b = append(b, `,"kind":`...)
	b = appendJSON(b, a.Kind)
	if a.Location != "" {
		b = append(b, `,"location":`...)
		b = appendJSON(b, a.Location)
	}
	b = append(b, "}\n"...)
	l.buf = b
	if _, err := l.w.Write(b); err != nil && l.err == nil {
		l.err = err
		fmt.Fprintf(os.Stderr, "rpmirror: writing access_log %s: %v\n", l.path, err)
	}
}

// appendJSON appends s as a JSON string: quotes, backslashes and control
// characters escaped, invalid UTF-8 replaced.
func appendJSON(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < ' ' || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
