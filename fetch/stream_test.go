package fetch_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/fetch"
	"github.com/rpmirror/rpmirror/verify"
)

// TestCheckStreams: the check reads the bytes while they arrive. The
// server sends half the file and waits until the check has seen that
// half; a check run on the finished file would never let it go on, and
// the test would fail on its time limit instead of passing.
func TestCheckStreams(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	half := len(data) / 2
	seenHalf := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Write(data[:half])
		w.(http.Flusher).Flush()
		select {
		case <-seenHalf:
		case <-time.After(20 * time.Second):
			return // cut: the check did not see the first half in time
		}
		w.Write(data[half:])
	}))
	defer srv.Close()
	check := func(r io.Reader) error {
		got := make([]byte, 0, len(data))
		buf := make([]byte, 32<<10)
		signalled := false
		for {
			n, err := r.Read(buf)
			got = append(got, buf[:n]...)
			if !signalled && len(got) >= half {
				close(seenHalf)
				signalled = true
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
		}
		if !bytes.Equal(got, data) {
			return &verify.ChecksumError{Type: "test", Want: "data", Got: fmt.Sprintf("%d bytes", len(got))}
		}
		return nil
	}
	dst := filepath.Join(t.TempDir(), "f")
	if _, err := fileWithin(t, 30*time.Second, fetcher(0), srv.URL+"/f", dst, int64(len(data)), check); err != nil {
		t.Fatalf("File: %v", err)
	}
	if b, _ := os.ReadFile(dst); !bytes.Equal(b, data) {
		t.Error("the file on disk is not the data")
	}
}

// TestSmallFileCheckedWhole: the check of a small file (at most
// fetch.DefaultBufferedCheckMax) starts once the whole file has arrived
// and is in the part file, not while it arrives (a goroutine and a
// hand-over per piece cost a small file more than its check). The server
// sends half the file and waits for the check to start: a streamed check
// would start then, and see the part file short.
func TestSmallFileCheckedWhole(t *testing.T) {
	data := bytes.Repeat([]byte("small file "), 3000) // 33 KB
	started := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Write(data[:len(data)/2])
		w.(http.Flusher).Flush()
		select {
		case <-started:
		case <-time.After(200 * time.Millisecond): // a buffered check waits for the rest
		}
		w.Write(data[len(data)/2:])
	}))
	defer srv.Close()
	dst := filepath.Join(t.TempDir(), "f")
	var partSize int64 = -1
	check := func(r io.Reader) error {
		close(started)
		if fi, err := os.Stat(dst + ".part"); err == nil {
			partSize = fi.Size()
		}
		return sameContent(data)(r)
	}
	f := fetch.New(fetch.Options{StallTimeout: 10 * time.Second, ConnectTimeout: 10 * time.Second})
	if _, err := fileWithin(t, 30*time.Second, f, srv.URL+"/f", dst, int64(len(data)), check); err != nil {
		t.Fatalf("File: %v", err)
	}
	if partSize != int64(len(data)) {
		t.Errorf("the check started with %d bytes in the part file, want all %d", partSize, len(data))
	}
	if b, _ := os.ReadFile(dst); !bytes.Equal(b, data) {
		t.Error("the file on disk is not the data")
	}
}

// TestCheckSeesResumedFile: after a cut, the second attempt resumes with
// a Range request; the check of that attempt sees the whole file, the
// bytes of the first attempt (read back from the part file) and then the
// new ones, and the server sends only the missing bytes.
func TestCheckSeesResumedFile(t *testing.T) {
	data := bytes.Repeat([]byte("resume me "), 100<<10)
	var calls atomic.Int32
	var sent atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && calls.Add(1) == 1 {
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
			w.Write(data[:len(data)/3])
			sent.Add(int64(len(data) / 3))
			panic(http.ErrAbortHandler) // cut the connection
		}
		http.ServeContent(countingWriter{w, &sent}, r, "f", time.Time{}, bytes.NewReader(data))
	}))
	defer srv.Close()
	var checked [][]byte
	check := func(r io.Reader) error {
		b, err := io.ReadAll(r)
		checked = append(checked, b)
		if err != nil {
			return err
		}
		if !bytes.Equal(b, data) {
			return &verify.ChecksumError{Type: "test", Want: "data", Got: fmt.Sprintf("%d bytes", len(b))}
		}
		return nil
	}
	if _, err := fileWithin(t, 30*time.Second, fetcher(2), srv.URL+"/f", filepath.Join(t.TempDir(), "f"), int64(len(data)), check); err != nil {
		t.Fatalf("File: %v", err)
	}
	if last := checked[len(checked)-1]; !bytes.Equal(last, data) {
		t.Errorf("the last check saw %d bytes, want the whole %d", len(last), len(data))
	}
	if got := sent.Load(); got > int64(len(data))+int64(len(data))/10 {
		t.Errorf("the server sent %d bytes for a %d-byte file: the resume started over", got, len(data))
	}
}

// countingWriter counts the body bytes a handler writes.
type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// TestWrongContentRange: a server that answers a resume with another
// range than asked for is not trusted with the file: the part file is
// discarded and the file fetched whole.
func TestWrongContentRange(t *testing.T) {
	data := bytes.Repeat([]byte("range "), 50<<10)
	var gets atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			w.Header().Set("Accept-Ranges", "bytes")
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
			return
		}
		gets.Add(1)
		if r.Header.Get("Range") != "" {
			// Claim to resume from byte 0 while asked for more.
			w.Header().Set("Content-Range", fmt.Sprintf("bytes 0-%d/%d", len(data)-1, len(data)))
			w.WriteHeader(http.StatusPartialContent)
			w.Write(data)
			return
		}
		w.Write(data)
	}))
	defer srv.Close()
	dst := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(dst+".part", data[:1000], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := fileWithin(t, 30*time.Second, fetcher(2), srv.URL+"/f", dst, int64(len(data)), sameContent(data)); err != nil {
		t.Fatalf("File: %v", err)
	}
	if b, _ := os.ReadFile(dst); !bytes.Equal(b, data) {
		t.Error("the file on disk is not the data")
	}
	if gets.Load() < 2 {
		t.Errorf("%d GET requests: the bad range answer was accepted", gets.Load())
	}
}

// TestCheckStopsTransfer: a check that refuses the bytes early (a bad
// signature in the header) ends the transfer: the rest of a large file is
// not downloaded, and the check's error is what File returns.
func TestCheckStopsTransfer(t *testing.T) {
	const size = 64 << 20
	var sent atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		chunk := make([]byte, 64<<10)
		for sent.Load() < size {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			sent.Add(int64(len(chunk)))
		}
	}))
	defer srv.Close()
	refuse := func(r io.Reader) error {
		io.ReadFull(r, make([]byte, 4096))
		return &verify.SignatureError{Reason: verify.ErrUnknownKey}
	}
	dst := filepath.Join(t.TempDir(), "f")
	_, err := fileWithin(t, 30*time.Second, fetcher(3), srv.URL+"/f", dst, size, refuse)
	var se *verify.SignatureError
	if !errors.As(err, &se) {
		t.Fatalf("File: %v, want the check's *verify.SignatureError", err)
	}
	if got := sent.Load(); got >= size {
		t.Errorf("the server sent all %d bytes after the check refused the file", got)
	}
	if _, err := os.Stat(dst + ".part"); err == nil {
		t.Error("refused bytes were kept in the part file, to be resumed from")
	}
}

func sameContent(want []byte) fetch.Check {
	return func(r io.Reader) error {
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		if !bytes.Equal(b, want) {
			return &verify.ChecksumError{Type: "test", Want: "data", Got: fmt.Sprintf("%d bytes", len(b))}
		}
		return nil
	}
}

// TestStaleFinalFileRefetched: downloads are not fsynced one by one, so a
// file at its final name after a power cut may hold zeros. File checks
// such a file again and fetches it anew when the check refuses it.
func TestStaleFinalFileRefetched(t *testing.T) {
	data := bytes.Repeat([]byte("durable "), 4096)
	var gets atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gets.Add(1)
		w.Write(data)
	}))
	defer srv.Close()
	dst := filepath.Join(t.TempDir(), "f")
	for _, tc := range []struct {
		name     string
		onDisk   []byte
		wantGets int32
	}{
		{"zeros of the right size", make([]byte, len(data)), 1},
		{"the right bytes", data, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gets.Store(0)
			if err := os.WriteFile(dst, tc.onDisk, 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := fileWithin(t, 30*time.Second, fetcher(0), srv.URL+"/f", dst, int64(len(data)), sameContent(data)); err != nil {
				t.Fatalf("File: %v", err)
			}
			if b, _ := os.ReadFile(dst); !bytes.Equal(b, data) {
				t.Error("the file on disk is not the data")
			}
			if got := gets.Load(); got != tc.wantGets {
				t.Errorf("%d requests, want %d", got, tc.wantGets)
			}
		})
	}
}

// TestSyncFS: SyncFS flushes the filesystem of an existing directory and
// reports a missing one.
func TestSyncFS(t *testing.T) {
	if err := fetch.SyncFS(t.TempDir()); err != nil {
		t.Errorf("SyncFS: %v", err)
	}
	if err := fetch.SyncFS(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("SyncFS of a missing directory: no error")
	}
}
