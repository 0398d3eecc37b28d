package fetch_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/fetch"
	"github.com/rpmirror/rpmirror/internal/badorigin"
	"github.com/rpmirror/rpmirror/verify"
)

// The misbehaving origin serves "big" (mbSize random bytes) and "small".
const (
	mbSize  = 300_000
	mbCut   = 100_000 // where bodies are cut or stall
	mbSmall = "fifteen bytes.\n"
	mbStall = 300 * time.Millisecond
)

func mbOrigin(t *testing.T) (dir string, big []byte) {
	t.Helper()
	dir = t.TempDir()
	big = make([]byte, mbSize)
	rand.NewChaCha8([32]byte{7}).Read(big)
	if err := os.WriteFile(filepath.Join(dir, "big"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "small"), []byte(mbSmall), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, big
}

// mbFetcher has small timeouts, so that a test of a stall or a backoff
// takes a fraction of a second. It has no low-speed limit (only a body
// that sends nothing for StallTimeout stalls); TestLowSpeedLimit sets one.
func mbFetcher(retries int, backoff time.Duration) *fetch.Fetcher {
	return mbFetcherWith(fetch.Options{Retries: retries, Backoff: backoff})
}

// mbFetcherWith is mbFetcher with more of opts set.
func mbFetcherWith(opts fetch.Options) *fetch.Fetcher {
	opts.StallTimeout = mbStall
	opts.LowSpeedLimit = -1
	opts.ConnectTimeout = 500 * time.Millisecond
	return fetch.New(opts)
}

// sha256Check accepts a file only when its content has the sha256 of want,
// as the engine's checks do; a mismatch is a transient ChecksumError.
func sha256Check(want []byte) fetch.Check {
	sum := sha256.Sum256(want)
	w := hex.EncodeToString(sum[:])
	return func(r io.Reader) error {
		h := sha256.New()
		if _, err := io.Copy(h, r); err != nil {
			return err
		}
		if g := hex.EncodeToString(h.Sum(nil)); g != w {
			return &verify.ChecksumError{Type: "sha256", Want: w, Got: g}
		}
		return nil
	}
}

// fileWithin runs File, failing the test if it has not returned after
// limit: a hang is a failure, not a stuck test.
func fileWithin(t *testing.T, limit time.Duration, f *fetch.Fetcher, u, dst string, size int64, check fetch.Check) (int64, error) {
	t.Helper()
	type result struct {
		n   int64
		err error
	}
	ch := make(chan result, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		n, err := f.File(ctx, u, dst, size, check)
		ch <- result{n, err}
	}()
	select {
	case r := <-ch:
		return r.n, r.err
	case <-time.After(limit):
		cancel()
		t.Fatalf("File still running after %s", limit)
		return 0, nil
	}
}

// TestFileAgainstMisbehavingOrigin: for each way an origin misbehaves, the
// download ends as it should (recovered, or a clear error), the origin saw
// a bounded number of requests, and the final name never holds a file that
// is not the origin's file.
func TestFileAgainstMisbehavingOrigin(t *testing.T) {
	// Every case twice: with the check fed while the bytes arrive (the
	// way of files over fetch.DefaultBufferedCheckMax) and with the check
	// run on the whole file once it arrived (small files' way).
	for _, mode := range []struct {
		name        string
		bufferedMax int64
	}{{"streamed check", -1}, {"buffered check", 1 << 20}} {
		t.Run(mode.name, func(t *testing.T) { testFileAgainstMisbehavingOrigin(t, mode.bufferedMax) })
	}
}

func testFileAgainstMisbehavingOrigin(t *testing.T, bufferedMax int64) {
	for _, tc := range []struct {
		name    string
		path    string // "big" unless set
		setup   func(s *badorigin.Server)
		retries int
		size    int64 // declared size; 0: the true size, -1: unknown
		wantErr string
		is      error
		// gets is the number of GET requests for the file the origin
		// must see (HEAD requests, which grab sends before resuming, are
		// not counted).
		gets int
		// ranges, when set, are the Range headers of those GETs.
		ranges []string
		// sent is the number of bytes File reports transferred (-1: any).
		sent int64
		// either: success with the right file or any error will do.
		either bool
	}{
		{
			name: "reset mid-body once: resumed with Range", retries: 1, gets: 2, sent: -1,
			setup: func(s *badorigin.Server) {
				s.On(badorigin.Paths("big"), badorigin.ResetAfter(mbCut)).Times(1)
			},
		},
		{
			name: "cut short once: resumed from where it stopped", retries: 1, gets: 2, sent: mbSize,
			ranges: []string{"", fmt.Sprintf("bytes=%d-", mbCut)},
			setup: func(s *badorigin.Server) {
				s.On(badorigin.Paths("big"), badorigin.CutAfter(mbCut)).Times(1)
			},
		},
		{
			// Every resume makes progress, so three attempts are enough.
			name: "cut short on every attempt, each resume goes further: completes", retries: 2, gets: 3, sent: mbSize,
			ranges: []string{"", fmt.Sprintf("bytes=%d-", mbCut), fmt.Sprintf("bytes=%d-", 2*mbCut)},
			setup: func(s *badorigin.Server) {
				s.On(badorigin.Paths("big"), badorigin.CutAfter(mbCut))
			},
		},
		{
			name: "cut short on every attempt: gives up after the retries", retries: 2, gets: 3, sent: 3 * mbCut / 10,
			ranges:  []string{"", fmt.Sprintf("bytes=%d-", mbCut/10), fmt.Sprintf("bytes=%d-", 2*mbCut/10)},
			wantErr: "unexpected EOF",
			setup: func(s *badorigin.Server) {
				s.On(badorigin.Paths("big"), badorigin.CutAfter(mbCut/10))
			},
		},
		{
			name: "reset on every attempt: gives up after the retries", retries: 2, gets: 3, sent: -1,
			wantErr: "connection reset",
			setup: func(s *badorigin.Server) {
				// Once the first bytes are in, every resume is reset at once.
				s.On(badorigin.Paths("big"), badorigin.ResetAfter(0))
			},
		},
		{
			name: "stall: aborted after StallTimeout", retries: 0, gets: 1, sent: -1,
			wantErr: "transfer stalled", is: fetch.ErrStalled,
			setup: func(s *badorigin.Server) {
				s.On(badorigin.Paths("big"), badorigin.StallAfter(mbCut))
			},
		},
		{
			name: "stall, then a good answer: resumed", retries: 1, gets: 2, sent: mbSize,
			ranges: []string{"", fmt.Sprintf("bytes=%d-", mbCut)},
			setup: func(s *badorigin.Server) {
				s.On(badorigin.Paths("big"), badorigin.StallAfter(mbCut)).Times(1)
			},
		},
		{
			name: "no answer at all: aborted after ConnectTimeout", retries: 0, gets: 1, sent: -1,
			wantErr: "timeout awaiting response headers",
			setup: func(s *badorigin.Server) {
				s.On(badorigin.Paths("big"), badorigin.Hang())
			},
		},
		{
			// The resume is answered with 200 and the whole file: grab
			// sees the length is wrong, fetch drops the part file and the
			// next attempt starts from zero.
			name: "ignores Range on resume: restarted from zero", retries: 2, gets: 3, sent: -1,
			ranges: []string{"", fmt.Sprintf("bytes=%d-", mbCut), ""},
			setup: func(s *badorigin.Server) {
				s.On(badorigin.Paths("big"), badorigin.CutAfter(mbCut)).Times(1)
				s.On(badorigin.Paths("big"), badorigin.IgnoreRange())
			},
		},
		{
			name: "ignores Range on resume, without Content-Length: restarted from zero", retries: 2, gets: 3, sent: -1,
			ranges: []string{"", fmt.Sprintf("bytes=%d-", mbCut), ""},
			setup: func(s *badorigin.Server) {
				s.On(badorigin.Paths("big"), badorigin.CutAfter(mbCut)).Times(1)
				s.On(badorigin.Paths("big"), badorigin.IgnoreRange(), badorigin.Chunked())
			},
		},
		{
			name: "ignores Range on resume, size unknown: caught by the check", retries: 2, size: -1, gets: 3, sent: -1,
			setup: func(s *badorigin.Server) {
				s.On(badorigin.Paths("big"), badorigin.CutAfter(mbCut)).Times(1)
				s.On(badorigin.Paths("big"), badorigin.IgnoreRange())
			},
		},
		{
			name: "Content-Length too small: refused", retries: 1, gets: 2, sent: -1,
			wantErr: "bad content length",
			setup: func(s *badorigin.Server) {
				s.On(badorigin.Paths("big"), badorigin.LieLength(-1000))
			},
		},
		{
			name: "Content-Length too small, size unknown: caught by the check", retries: 1, size: -1, gets: 2, sent: -1,
			wantErr: "checksum mismatch",
			setup: func(s *badorigin.Server) {
				s.On(badorigin.Paths("big"), badorigin.LieLength(-1000))
			},
		},
		{
			name: "Content-Length too large: refused", retries: 1, gets: 2, sent: -1,
			wantErr: "bad content length",
			setup: func(s *badorigin.Server) {
				s.On(badorigin.Paths("big"), badorigin.LieLength(1000))
			},
		},
		{
			name: "Content-Length too large, size unknown: never a wrong file", retries: 1, size: -1, gets: -1, sent: -1,
			either: true,
			setup: func(s *badorigin.Server) {
				s.On(badorigin.Paths("big"), badorigin.LieLength(1000))
			},
		},
		{
			name: "redirect loop: an error about redirects", retries: 1, gets: -1, sent: -1,
			wantErr: "redirects",
			setup: func(s *badorigin.Server) {
				s.On(badorigin.Paths("big"), badorigin.Redirect("loop"))
				s.On(badorigin.Paths("loop"), badorigin.Redirect("big"))
			},
		},
		{
			name: "a chain of 5 redirects is followed", retries: 0, gets: 6, sent: mbSize,
			setup: func(s *badorigin.Server) {
				s.On(badorigin.Paths("big"), badorigin.RedirectChain(5))
			},
		},
		{
			name: "a chain of 30 redirects is not", retries: 0, gets: 10, sent: -1,
			wantErr: "redirects",
			setup: func(s *badorigin.Server) {
				s.On(badorigin.Paths("big"), badorigin.RedirectChain(30))
			},
		},
		{
			name: "503 on every attempt: retries+1 requests", retries: 3, gets: 4, sent: -1,
			wantErr: "server answered 503 Service Unavailable",
			setup: func(s *badorigin.Server) {
				s.On(badorigin.Paths("big"), badorigin.Status(http.StatusServiceUnavailable))
			},
		},
		{
			name: "429 on every attempt: retries+1 requests", retries: 3, gets: 4, sent: -1,
			wantErr: "server answered 429 Too Many Requests",
			setup: func(s *badorigin.Server) {
				s.On(badorigin.Paths("big"), badorigin.Status(http.StatusTooManyRequests))
			},
		},
		{
			name: "429 twice, then the file", retries: 3, gets: 3, sent: mbSize,
			setup: func(s *badorigin.Server) {
				s.On(badorigin.Paths("big"), badorigin.Status(http.StatusTooManyRequests)).Times(2)
			},
		},
		{
			name: "403 is not retried", retries: 3, gets: 1, sent: -1,
			wantErr: "server answered 403 Forbidden",
			setup: func(s *badorigin.Server) {
				s.On(badorigin.Paths("big"), badorigin.Status(http.StatusForbidden))
			},
		},
		{
			name: "404 is not retried", retries: 3, gets: 1, sent: -1,
			wantErr: "server answered 404 Not Found", is: fetch.ErrNotFound,
			setup: func(s *badorigin.Server) {
				s.On(badorigin.Paths("big"), badorigin.Status(http.StatusNotFound))
			},
		},
		{
			// Bytes keep arriving, if slowly: one every 100 ms, for longer
			// than StallTimeout in all, yet never StallTimeout apart.
			name: "slow trickle below the stall timeout completes", path: "small", retries: 0, gets: 1, sent: int64(len(mbSmall)),
			setup: func(s *badorigin.Server) {
				s.On(badorigin.Paths("small"), badorigin.Trickle(1, 100*time.Millisecond))
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir, big := mbOrigin(t)
			p, want := "big", big
			if tc.path == "small" {
				p, want = "small", []byte(mbSmall)
			}
			srv := badorigin.Start(t, dir)
			tc.setup(srv)
			size := int64(len(want))
			switch tc.size {
			case -1:
				size = 0
			case 0:
			default:
				size = tc.size
			}
			dst := filepath.Join(t.TempDir(), "cache", p)
			start := time.Now()
			f := mbFetcherWith(fetch.Options{Retries: tc.retries, Backoff: time.Millisecond, BufferedCheckMax: bufferedMax})
			n, err := fileWithin(t, 20*time.Second, f, srv.URL()+p, dst, size, sha256Check(want))
			elapsed := time.Since(start)
			if tc.either && err != nil {
				t.Logf("File: %v", err)
				if _, serr := os.Stat(dst); serr == nil {
					t.Error("a failed download has its final name")
				}
			} else if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("File: %v", err)
				}
				got, rerr := os.ReadFile(dst)
				if rerr != nil || !bytes.Equal(got, want) {
					t.Fatalf("the file at the final name is not the origin's (%d bytes, %v)", len(got), rerr)
				}
			} else {
				if err == nil {
					t.Fatal("File succeeded")
				}
				t.Logf("File: %v", err)
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("err = %q, want it to say %q", err, tc.wantErr)
				}
				if tc.is != nil && !errors.Is(err, tc.is) {
					t.Errorf("err = %v, not %v", err, tc.is)
				}
				// Whatever failed, the final name holds nothing.
				if _, serr := os.Stat(dst); serr == nil {
					t.Error("a failed download has its final name")
				}
			}
			gets := srv.RequestsFor(p, http.MethodGet)
			if tc.gets >= 0 && len(gets) != tc.gets {
				t.Errorf("%d GET requests for %s, want %d: %+v", len(gets), p, tc.gets, srv.Requests())
			}
			if tc.ranges != nil {
				if got := srv.Ranges(p); fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tc.ranges) {
					t.Errorf("Range headers %q, want %q", got, tc.ranges)
				}
			}
			// Nothing is requested without bound: every attempt is a few
			// requests (a HEAD before a resume; at most 10 redirects).
			if all := len(srv.Requests()); all > (tc.retries+1)*10 {
				t.Errorf("%d requests for %d attempts", all, tc.retries+1)
			}
			switch {
			case strings.HasPrefix(tc.name, "stall:"):
				// One stall costs StallTimeout and the watchdog's tick
				// (200 ms), not the minute the origin would wait.
				if elapsed > mbStall+2*time.Second {
					t.Errorf("a stall took %s to notice with StallTimeout %s", elapsed, mbStall)
				}
				if elapsed < mbStall {
					t.Errorf("a stall was declared after %s, before StallTimeout %s", elapsed, mbStall)
				}
			case strings.HasPrefix(tc.name, "slow trickle"):
				if elapsed < 3*mbStall {
					t.Errorf("the trickle took %s: not slow enough to prove anything", elapsed)
				}
			}
			// Last, as it may skip.
			if tc.sent >= 0 && n != tc.sent {
				t.Errorf("File reports %d bytes transferred, want %d", n, tc.sent)
			}
		})
	}
}

// TestRedirectLoopIsRetried documents what happens to a redirect loop: the
// http.Client stops after 10 redirects, and fetch.Transient counts that
// error as transient, so each attempt repeats the 10 requests. Bounded, but
// a loop is a configuration error that no retry will cure.
func TestRedirectLoopIsNotRetried(t *testing.T) {
	dir, big := mbOrigin(t)
	srv := badorigin.Start(t, dir)
	srv.On(badorigin.Paths("big"), badorigin.Redirect("loop"))
	srv.On(badorigin.Paths("loop"), badorigin.Redirect("big"))
	const retries = 2
	_, err := fileWithin(t, 10*time.Second, mbFetcher(retries, time.Millisecond), srv.URL()+"big", filepath.Join(t.TempDir(), "big"), mbSize, sha256Check(big))
	if err == nil || !strings.Contains(err.Error(), "stopped after 10 redirects") {
		t.Fatalf("err = %v", err)
	}
	n := len(srv.Requests())
	if n > (retries+1)*10 {
		t.Errorf("%d requests: unbounded", n)
	}
	if n != 10 {
		t.Errorf("a redirect loop was retried: %d requests for one attempt of 10 redirects", n)
	}
}

// TestFetchBytesAgainstMisbehavingOrigin: FetchBytes, which reads
// repomd.xml and its signature, has its own stall timer and no resume.
func TestFetchBytesAgainstMisbehavingOrigin(t *testing.T) {
	for _, tc := range []struct {
		name    string
		path    string
		fault   []badorigin.Fault
		times   int
		retries int
		wantErr string
		is      error
		gets    int
	}{
		{name: "stall: aborted after StallTimeout", path: "big", fault: []badorigin.Fault{badorigin.StallAfter(mbCut)}, wantErr: "transfer stalled", is: fetch.ErrStalled, gets: 1},
		{name: "stall before the body: aborted after StallTimeout", path: "big", fault: []badorigin.Fault{badorigin.StallAfter(0)}, wantErr: "transfer stalled", is: fetch.ErrStalled, gets: 1},
		{name: "reset once: retried", path: "big", fault: []badorigin.Fault{badorigin.ResetAfter(mbCut)}, times: 1, retries: 1, gets: 2},
		{name: "cut on every attempt", path: "big", fault: []badorigin.Fault{badorigin.CutAfter(mbCut)}, retries: 2, wantErr: "unexpected EOF", gets: 3},
		{name: "503 on every attempt", path: "big", fault: []badorigin.Fault{badorigin.Status(503)}, retries: 2, wantErr: "503", gets: 3},
		{name: "404 is not retried", path: "big", fault: []badorigin.Fault{badorigin.Status(404)}, retries: 2, wantErr: "404", is: fetch.ErrNotFound, gets: 1},
		{name: "slow trickle below the stall timeout completes", path: "small", fault: []badorigin.Fault{badorigin.Trickle(1, 100*time.Millisecond)}, gets: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir, big := mbOrigin(t)
			want := big
			if tc.path == "small" {
				want = []byte(mbSmall)
			}
			srv := badorigin.Start(t, dir)
			r := srv.On(badorigin.Paths(tc.path), tc.fault...)
			if tc.times > 0 {
				r.Times(tc.times)
			}
			start := time.Now()
			b, err := mbFetcher(tc.retries, time.Millisecond).FetchBytes(context.Background(), srv.URL()+tc.path, 1<<20)
			elapsed := time.Since(start)
			if tc.wantErr == "" {
				if err != nil || !bytes.Equal(b, want) {
					t.Fatalf("FetchBytes: %d bytes, %v", len(b), err)
				}
			} else {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if tc.is != nil && !errors.Is(err, tc.is) {
					t.Errorf("err = %v, not %v", err, tc.is)
				}
			}
			if got := len(srv.RequestsFor(tc.path, http.MethodGet)); got != tc.gets {
				t.Errorf("%d GET requests, want %d", got, tc.gets)
			}
			if strings.HasPrefix(tc.name, "stall") && (elapsed < mbStall || elapsed > mbStall+2*time.Second) {
				t.Errorf("stall noticed after %s with StallTimeout %s", elapsed, mbStall)
			}
			if strings.HasPrefix(tc.name, "slow trickle") && elapsed < 3*mbStall {
				t.Errorf("the trickle took %s: not slow enough to prove anything", elapsed)
			}
		})
	}
}

// TestBackoffGrowsWithJitter records when a 503ing origin sees each
// attempt: the gaps between attempts are at least half of Backoff, 2*Backoff,
// 4*Backoff (exponential, with jitter from 0.5x to 1.5x), and across
// several downloads they vary (jitter: a sleep shorter than the nominal
// delay only happens with jitter).
func TestBackoffGrowsWithJitter(t *testing.T) {
	const (
		backoff = 40 * time.Millisecond
		retries = 3
		runs    = 8
	)
	dir, big := mbOrigin(t)
	srv := badorigin.Start(t, dir)
	srv.On(nil, badorigin.Status(http.StatusServiceUnavailable))
	var wg gosync.WaitGroup
	for i := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each run asks for its own path, so its requests can be told
			// apart.
			u := fmt.Sprintf("%sbig?run=%d", srv.URL(), i)
			_, err := mbFetcher(retries, backoff).File(context.Background(), u, filepath.Join(t.TempDir(), "big"), mbSize, sha256Check(big))
			if err == nil || !strings.Contains(err.Error(), "503") {
				t.Errorf("run %d: err = %v", i, err)
			}
		}()
	}
	wg.Wait()
	times := map[string][]time.Time{}
	for _, r := range srv.Requests() {
		times[r.Query] = append(times[r.Query], r.Time)
	}
	var short int // sleeps shorter than the nominal delay: jitter at work
	var sum [retries]time.Duration
	for q, ts := range times {
		if len(ts) != retries+1 {
			t.Errorf("%s: %d requests, want retries+1 = %d", q, len(ts), retries+1)
			continue
		}
		for i := 1; i < len(ts); i++ {
			gap := ts[i].Sub(ts[i-1])
			nominal := backoff << (i - 1)
			sum[i-1] += gap
			if gap < nominal/2 {
				t.Errorf("%s: retry %d came %s after the attempt before, less than half of %s", q, i, gap, nominal)
			}
			if gap < nominal*95/100 {
				short++
			}
		}
	}
	if len(times) != runs {
		t.Errorf("%d runs seen by the origin, want %d", len(times), runs)
	}
	for i := 1; i < retries; i++ {
		if sum[i] <= sum[i-1] {
			t.Errorf("mean delay before retry %d (%s) is not longer than before retry %d (%s)", i+1, sum[i]/runs, i, sum[i-1]/runs)
		}
	}
	if short == 0 {
		t.Errorf("no delay in %d was shorter than nominal: no jitter?", runs*retries)
	}
	t.Logf("mean delays: %s, %s, %s; %d of %d shorter than nominal", sum[0]/runs, sum[1]/runs, sum[2]/runs, short, runs*retries)
}

// TestUnknownCA: an https origin whose certificate no configured CA signed
// fails with a message about the certificate; trusting the CA fixes it.
func TestUnknownCA(t *testing.T) {
	dir, big := mbOrigin(t)
	srv := badorigin.StartTLS(t, dir)
	dst := filepath.Join(t.TempDir(), "big")
	const retries = 2
	f := mbFetcher(retries, time.Millisecond)
	_, err := fileWithin(t, 10*time.Second, f, srv.URL()+"big", dst, mbSize, sha256Check(big))
	if err == nil || !strings.Contains(err.Error(), "x509: certificate signed by unknown authority") {
		t.Fatalf("err = %v, want x509: certificate signed by unknown authority", err)
	}
	if _, err := f.FetchBytes(context.Background(), srv.URL()+"small", 1<<20); err == nil || !strings.Contains(err.Error(), "unknown authority") {
		t.Errorf("FetchBytes: err = %v", err)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests got through", n)
	}
	// The same origin, its CA trusted: the file arrives. So the error
	// above is the CA's.
	trusting := mbFetcher(0, time.Millisecond).WithTLS(srv.CertPool(), false)
	if _, err := fileWithin(t, 10*time.Second, trusting, srv.URL()+"big", dst, mbSize, sha256Check(big)); err != nil {
		t.Fatalf("with the CA trusted: %v", err)
	}
}

// TestUnknownCAIsNotRetried: a certificate that does not verify will not
// verify on the next attempt either.
func TestUnknownCAIsNotRetried(t *testing.T) {
	dir, big := mbOrigin(t)
	srv := badorigin.StartTLS(t, dir)
	_, err := fileWithin(t, 10*time.Second, mbFetcher(3, time.Millisecond), srv.URL()+"big", filepath.Join(t.TempDir(), "big"), mbSize, sha256Check(big))
	if err == nil {
		t.Fatal("no error")
	}
	if fetch.Transient(err) {
		t.Errorf("fetch.Transient(%q) is true: a certificate error would be retried like a network error", err)
	}
}
