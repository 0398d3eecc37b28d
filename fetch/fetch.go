// Package fetch downloads files from an origin over HTTP(S) (or file://)
// with the behaviour a mirror needs from every transfer: timeouts on
// connecting and on every read, a watchdog that aborts a body arriving
// slower than a low-speed limit (librepo's rule: below 1000 bytes/s for
// 30 s), bounded retries with exponential backoff and jitter, resume of partial
// downloads, and verification of the result before it is given a final
// name. Files are downloaded with github.com/cavaliergopher/grab/v3 into a
// ".part" file beside the destination, and renamed into place only after
// the caller's check accepts them, so a file at its final name is always
// complete and verified.
package fetch

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cavaliergopher/grab/v3"

	"github.com/rpmirror/rpmirror/internal/redact"
	"github.com/rpmirror/rpmirror/internal/safefs"
	"github.com/rpmirror/rpmirror/verify"
)

// Options configure a Fetcher.
type Options struct {
	Retries        int           // attempts after the first (default 0)
	ConnectTimeout time.Duration // dial, TLS handshake and response headers (default 10s)
	// StallTimeout is the low-speed window: a transfer that receives less
	// than LowSpeedLimit bytes per second over this long is aborted as
	// stalled (default 30s).
	StallTimeout time.Duration
	// LowSpeedLimit is the slowest a body may arrive, in bytes per second,
	// averaged over StallTimeout (default 1000, librepo's; negative: only
	// a transfer that receives nothing at all for StallTimeout stalls).
	LowSpeedLimit int64
	Backoff       time.Duration // first retry delay, doubled each time, capped at 30s (default 1s)
	// BufferedCheckMax is the largest file (by the size File is given)
	// whose Check runs once all its bytes have arrived, from memory,
	// instead of on a goroutine of its own while they arrive (default
	// DefaultBufferedCheckMax; negative: every check streams).
	BufferedCheckMax int64
	UserAgent        string
	Logger           *slog.Logger
}

// Fetcher downloads files. It is safe for concurrent use.
type Fetcher struct {
	opts   Options
	client *http.Client
	grab   *grab.Client
	auth   *auth
	// Bytes counts bytes received so far, for progress display; shared by
	// the Fetchers WithAuth, WithTLS and CountingTo return.
	Bytes *atomic.Int64
	also  *atomic.Int64 // see CountingTo; nil: none
}

// CountingTo returns a Fetcher like f (its connections, credentials and
// Bytes) that also adds every byte it receives to c: a caller sharing f
// with others counts its own transfers there. Fetchers derived from the
// result count to c too.
func (f *Fetcher) CountingTo(c *atomic.Int64) *Fetcher {
	g := *f
	g.also = c
	return &g
}

// WithRetries returns a Fetcher like f (its connections, credentials and
// counters) that makes n attempts after the first: 0 for a health probe,
// which answers within its own timeout.
func (f *Fetcher) WithRetries(n int) *Fetcher {
	g := *f
	g.opts.Retries = max(n, 0)
	return &g
}

// count adds n received bytes to the counters.
func (f *Fetcher) count(n int64) {
	f.Bytes.Add(n)
	if f.also != nil {
		f.also.Add(n)
	}
}

// WithTLS returns a Fetcher whose connections trust the certificates in
// roots instead of the system's (roots nil: the system's), or, with
// insecure, verify no certificate at all. It shares the byte counter and
// credentials with f, not its connections.
func (f *Fetcher) WithTLS(roots *x509.CertPool, insecure bool) *Fetcher {
	tr := f.client.Transport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: roots, InsecureSkipVerify: insecure, MinVersion: tls.VersionTLS12}
	client := &http.Client{Transport: tr, CheckRedirect: f.client.CheckRedirect}
	gc := grab.NewClient()
	gc.HTTPClient = &http.Client{Transport: teeTransport{tr}, CheckRedirect: client.CheckRedirect}
	gc.UserAgent = f.opts.UserAgent
	gc.BufferSize = f.grab.BufferSize
	return &Fetcher{opts: f.opts, client: client, grab: gc, auth: f.auth, Bytes: f.Bytes, also: f.also}
}

// auth is HTTP basic authentication for URLs under a prefix.
type auth struct {
	prefix, user, password string
}

// WithAuth returns a Fetcher that sends user and password (HTTP basic
// authentication) with requests for URLs that start with prefix, and with
// no others: credentials for an origin never go to another host. The
// returned Fetcher shares connections and the byte counter with f.
func (f *Fetcher) WithAuth(prefix, user, password string) *Fetcher {
	g := &Fetcher{opts: f.opts, client: f.client, grab: f.grab, Bytes: f.Bytes, also: f.also}
	if user != "" {
		g.auth = &auth{prefix: prefix, user: user, password: password}
	}
	return g
}

// authorize adds credentials to req when its URL is under the prefix.
// req's context must come from authContext, so that a redirect keeps
// them only under the prefix too (checkRedirect).
func (f *Fetcher) authorize(req *http.Request, u string) {
	if f.auth != nil && strings.HasPrefix(u, f.auth.prefix) {
		req.SetBasicAuth(f.auth.user, f.auth.password)
	}
}

// authPrefixKey is the context key under which authContext records the
// prefix of the URLs credentials may go to.
type authPrefixKey struct{}

// authContext returns ctx carrying the prefix of the URLs f's
// credentials may be sent to, for checkRedirect.
func (f *Fetcher) authContext(ctx context.Context) context.Context {
	if f.auth == nil {
		return ctx
	}
	return context.WithValue(ctx, authPrefixKey{}, f.auth.prefix)
}

// RedirectError is a redirect rpmirror does not follow: to anything but
// an http or https URL. An origin, or a mirror probed, that answered
// "302 Location: file:///etc/..." had rpmirror read a local file as the
// one it asked for, and publish it (a tester's finding).
type RedirectError struct {
	From, To string
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("redirect from %s to %s refused: only http and https URLs are followed", Redact(e.From), Redact(e.To))
}

// checkRedirect is the clients' http.Client.CheckRedirect: at most 10
// redirects, only to http and https URLs, and credentials (which the
// client copies to a redirect to the same host, any port) only to URLs
// under the prefix they are for (authContext).
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errTooManyRedirects
	}
	if s := req.URL.Scheme; s != "http" && s != "https" {
		return &RedirectError{From: via[len(via)-1].URL.String(), To: req.URL.String()}
	}
	if req.Header.Get("Authorization") != "" {
		if p, _ := req.Context().Value(authPrefixKey{}).(string); p == "" || !strings.HasPrefix(req.URL.String(), p) {
			req.Header.Del("Authorization")
		}
	}
	return nil
}

// StatusError is an HTTP answer other than success.
type StatusError struct {
	URL  string
	Code int
	// RetryAfter is what the server's Retry-After header asked for (429,
	// 503), capped at MaxRetryAfter; 0 when it sent none.
	RetryAfter time.Duration
}

// MaxRetryAfter caps how long a Retry-After header can make a retry wait.
const MaxRetryAfter = 5 * time.Minute

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(h http.Header) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = time.Until(t)
	}
	return min(max(d, 0), MaxRetryAfter)
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("server answered %d %s", e.Code, http.StatusText(e.Code))
}

var errTooManyRedirects = errors.New("stopped after 10 redirects")

// ErrStalled reports a transfer that received less than LowSpeedLimit
// bytes per second over StallTimeout. A stalled transfer is retried at
// most MaxStallRetries times whatever Retries says: an origin that stalls
// usually stalls again, and each stall costs a whole StallTimeout.
var ErrStalled = errors.New("transfer stalled")

// MaxStallRetries is how many times one download is retried after a
// stall (a new connection, resuming what arrived). With the defaults a
// stalled origin fails a download after two windows of 30 s, about a
// minute, where retrying as for other errors would take four.
const MaxStallRetries = 1

// ErrNotFound is wrapped by errors for 404 and 410 answers, which callers
// may treat as "the origin does not have this optional file".
var ErrNotFound = errors.New("not found")

func (e *StatusError) Unwrap() error {
	if e.Code == http.StatusNotFound || e.Code == http.StatusGone {
		return ErrNotFound
	}
	return nil
}

// The low-speed defaults are librepo's (LRO_LOWSPEEDTIME, LRO_LOWSPEEDLIMIT).
const (
	DefaultStallTimeout  = 30 * time.Second
	DefaultLowSpeedLimit = 1000 // bytes per second
)

// New returns a Fetcher.
func New(opts Options) *Fetcher {
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 10 * time.Second
	}
	if opts.StallTimeout <= 0 {
		opts.StallTimeout = DefaultStallTimeout
	}
	if opts.LowSpeedLimit == 0 {
		opts.LowSpeedLimit = DefaultLowSpeedLimit
	}
	if opts.Backoff <= 0 {
		opts.Backoff = time.Second
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "rpmirror"
	}
	if opts.BufferedCheckMax == 0 {
		opts.BufferedCheckMax = DefaultBufferedCheckMax
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	tr := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   opts.ConnectTimeout,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		TLSHandshakeTimeout:   opts.ConnectTimeout,
		ResponseHeaderTimeout: opts.ConnectTimeout,
		ExpectContinueTimeout: time.Second,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	tr.RegisterProtocol("file", http.NewFileTransport(http.Dir("/")))
	client := &http.Client{Transport: tr, CheckRedirect: checkRedirect}
	gc := grab.NewClient()
	gc.HTTPClient = &http.Client{Transport: teeTransport{tr}, CheckRedirect: client.CheckRedirect}
	gc.UserAgent = opts.UserAgent
	gc.BufferSize = largeBuffer
	return &Fetcher{opts: opts, client: client, grab: gc, Bytes: new(atomic.Int64)}
}

// HTTPClient returns the client the Fetcher uses, with its timeouts.
func (f *Fetcher) HTTPClient() *http.Client { return f.client }

// FetchBytes returns the body of u, which must be at most limit bytes. It
// retries transient failures.
func (f *Fetcher) FetchBytes(ctx context.Context, u string, limit int64) ([]byte, error) {
	var body []byte
	err := f.retry(ctx, u, func(ctx context.Context) error {
		var err error
		body, err = f.getBytes(ctx, u, limit)
		return err
	})
	return body, err
}

func (f *Fetcher) getBytes(ctx context.Context, u string, limit int64) ([]byte, error) {
	ctx, cancel := context.WithCancelCause(f.authContext(ctx))
	defer cancel(nil)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", f.opts.UserAgent)
	f.authorize(req, u)
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &StatusError{URL: u, Code: resp.StatusCode, RetryAfter: retryAfter(resp.Header)}
	}
	if resp.ContentLength > limit {
		return nil, &TooLargeError{Size: resp.ContentLength, Limit: limit}
	}
	// Abort a body that stalls or crawls.
	cr := &countingReader{r: io.LimitReader(resp.Body, limit+1)}
	done := make(chan struct{})
	defer close(done)
	go func() {
		w := f.newSpeedWatch()
		tick := time.NewTicker(w.tick())
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case now := <-tick.C:
				if err := w.check(now, cr.n.Load()); err != nil {
					cancel(err)
					return
				}
			}
		}
	}()
	b, err := io.ReadAll(cr)
	if err != nil {
		if c := context.Cause(ctx); c != nil {
			err = c
		}
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, &TooLargeError{Size: -1, Limit: limit}
	}
	f.count(int64(len(b)))
	return b, nil
}

type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// speedWatch decides when a transfer is stalled: it samples the bytes
// received so far and reports a stall once a whole window has passed in
// which fewer than min bytes arrived (a sliding window, so a burst
// followed by silence is caught one window after the silence began, at
// the latest, plus a tick).
type speedWatch struct {
	window  time.Duration
	limit   int64 // bytes per second; < 0: any byte will do
	min     int64 // bytes that must arrive per window
	samples []speedSample
}

type speedSample struct {
	t time.Time
	n int64
}

func (f *Fetcher) newSpeedWatch() *speedWatch {
	w := &speedWatch{window: f.opts.StallTimeout, limit: f.opts.LowSpeedLimit}
	w.min = 1
	if w.limit > 0 {
		w.min = max(1, int64(float64(w.limit)*w.window.Seconds()))
	}
	w.samples = []speedSample{{time.Now(), 0}}
	return w
}

// tick is how often to sample: five times a window, at most every 200 ms.
func (w *speedWatch) tick() time.Duration {
	return max(min(200*time.Millisecond, w.window/5), time.Millisecond)
}

// check records that n bytes had arrived at now and returns an error
// wrapping ErrStalled when the last window brought fewer than min bytes.
func (w *speedWatch) check(now time.Time, n int64) error {
	w.samples = append(w.samples, speedSample{now, n})
	// Keep one sample at or before the window's start, none older.
	start := now.Add(-w.window)
	i := 0
	for i+1 < len(w.samples) && !w.samples[i+1].t.After(start) {
		i++
	}
	w.samples = w.samples[i:]
	old := w.samples[0]
	if old.t.After(start) {
		return nil // not a whole window yet
	}
	got := n - old.n
	if got >= w.min {
		return nil
	}
	if got == 0 {
		return fmt.Errorf("%w: no data for %s", ErrStalled, w.window)
	}
	return &StalledError{Window: w.window, Got: got, Limit: w.limit}
}

// StalledError is a transfer that received some bytes, but fewer than the
// low-speed limit asks for over the window. It wraps ErrStalled.
type StalledError struct {
	Window time.Duration
	Got    int64 // bytes received in the window
	Limit  int64 // bytes per second
}

func (e *StalledError) Error() string {
	return fmt.Sprintf("%v: %d bytes in %s, below the low-speed limit of %d bytes/s", ErrStalled, e.Got, e.Window, e.Limit)
}

func (e *StalledError) Unwrap() error { return ErrStalled }

// File downloads u to dst. size is the expected size (<= 0: unknown).
// The transfer goes to dst+".part", resuming what an earlier attempt left
// there; check is called on the complete part file, and only when it
// returns nil is the file renamed to dst. A file already at dst is taken as
// verified and not fetched again: only File ever puts a file there (it
// is checked again from disk, since it may predate a power cut).
// File does not fsync: see SyncFS.
// check sees the bytes while they arrive (see Check).
// It returns the number of bytes transferred.
func (f *Fetcher) File(ctx context.Context, u, dst string, size int64, check Check) (int64, error) {
	part := dst + ".part"
	// dst's directory is rpmirror's own; a symlink planted in it is
	// refused, not followed.
	dstInfo, dstErr := os.Lstat(dst)
	partInfo, partErr := os.Lstat(part)
	for _, c := range []struct {
		path string
		fi   fs.FileInfo
		err  error
	}{{dst, dstInfo, dstErr}, {part, partInfo, partErr}} {
		if c.err == nil && c.fi.Mode()&fs.ModeSymlink != 0 {
			return 0, &safefs.SymlinkError{Path: c.path}
		}
	}
	// What the part file holds before the first attempt (resumed from):
	// known from the Lstat above, so the attempt need not ask again.
	partSize := int64(-1)
	if partErr == nil {
		partSize = partInfo.Size()
	} else if errors.Is(partErr, fs.ErrNotExist) {
		partSize = 0
	}
	if fi, err := dstInfo, dstErr; err == nil && fi.Mode().IsRegular() && (size <= 0 || fi.Size() == size) {
		// Files are not fsynced one by one (see SyncFS): one left by a
		// run that a power cut ended may be empty or stale, so it is
		// checked again, from disk, before it is trusted.
		if err := checkFile(dst, check); err == nil {
			return 0, nil
		}
		if err := os.Remove(dst); err != nil {
			return 0, err
		}
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return 0, err
	}
	var total int64
	var done fs.FileInfo // the part file once an attempt succeeded
	err := f.retry(ctx, u, func(ctx context.Context) error {
		start := partSize
		partSize = -1 // a later attempt finds out again
		n, fi, err := f.transfer(ctx, u, part, size, start, check)
		total += n
		done = fi
		var cf *checkFailed
		switch {
		case err == nil:
			return nil
		case errors.Is(err, grab.ErrBadLength):
			// The server sent another length than metadata says, or
			// ignored our Range request: start over.
			os.Remove(part)
			return fmt.Errorf("the server's length disagrees with the %d bytes metadata declares, or it ignored a Range request: %w", size, err)
		case errors.As(err, &cf), errors.Is(err, errPartMismatch), errors.Is(err, errBadRange):
			// The bytes are not the file: never resume from them.
			os.Remove(part)
			if cf != nil {
				return cf.err
			}
		}
		return err
	})
	if err != nil {
		return total, err
	}
	// The file is not fsynced here (see SyncFS), but a large one's
	// writeback starts now, while other downloads go on, not all at once
	// in the SyncFS before the commit. Small files are left to SyncFS,
	// which writes them together for less than a call each costs.
	if total >= writebackMin || size >= writebackMin {
		startWriteback(part)
	}
	// grab creates the file 0666 less the umask: usually 0644 already.
	if done == nil || done.Mode().Perm() != 0o644 {
		if err := os.Chmod(part, 0o644); err != nil {
			return total, err
		}
	}
	// dst is no directory (checked above); os.Rename would Lstat it
	// again to say so.
	if err := syscall.Rename(part, dst); err != nil {
		return total, &os.LinkError{Op: "rename", Old: part, New: dst, Err: err}
	}
	return total, nil
}

// transfer runs one attempt: grab writes the part file while check reads
// the same bytes from the response body. start is the size of the part
// file before the attempt, or -1 when the caller does not know it. It
// returns the bytes received, the part file's information when the
// attempt succeeded, and a *checkFailed when check refused them.
func (f *Fetcher) transfer(ctx context.Context, u, part string, size, start int64, check Check) (int64, fs.FileInfo, error) {
	req, err := grab.NewRequest(part, u)
	if err != nil {
		return 0, nil, err
	}
	ctx, cancel := context.WithCancelCause(f.authContext(ctx))
	defer cancel(nil)
	st := newStream(part, size, f.opts.BufferedCheckMax, check, cancel)
	req = req.WithContext(withStream(ctx, st))
	f.authorize(req.HTTPRequest, u)
	req.NoCreateDirectories = true
	if size > 0 {
		req.Size = size
		// grab allocates a buffer of BufferSize for every transfer: no
		// larger than the file.
		req.BufferSize = int(min(max(size, minBuffer), int64(f.grab.BufferSize)))
	}
	// Bytes already in the part file were counted by the run that fetched
	// them: note how many there are before grab touches the file.
	if start < 0 {
		start = 0
		if fi, err := os.Stat(part); err == nil {
			start = fi.Size()
		}
	}
	resp := f.grab.Do(req)
	// Watch progress: count bytes for the display, abort a stall.
	w := f.newSpeedWatch()
	tick := time.NewTicker(w.tick())
	defer tick.Stop()
	seen := start
	stalled := false
	for done := false; !done; {
		now := time.Now()
		select {
		case <-resp.Done:
			done = true
		case now = <-tick.C:
		}
		n := resp.BytesComplete()
		if d := n - seen; d > 0 {
			f.count(d)
			seen = n
		}
		if !done && !stalled {
			if err := w.check(now, n-start); err != nil {
				stalled = true
				cancel(err)
			}
		}
	}
	err = resp.Err()
	if err == nil {
		fi, verr := st.finish()
		if verr == nil {
			return received(fi.Size(), start, resp.DidResume), fi, nil
		}
		err = &checkFailed{verr}
		if errors.Is(verr, errPartMismatch) {
			err = verr
		}
	} else {
		// The cause first: aborting the stream ends the check, which
		// then reports the abort.
		c := context.Cause(ctx)
		st.abort(err)
		var cf *checkFailed
		if errors.Is(c, ErrStalled) || errors.As(c, &cf) {
			err = c
		}
		var sc grab.StatusCodeError
		if errors.As(err, &sc) {
			se := &StatusError{URL: u, Code: int(sc)}
			if resp.HTTPResponse != nil {
				se.RetryAfter = retryAfter(resp.HTTPResponse.Header)
			}
			err = se
		}
	}
	fi, serr := os.Stat(part)
	if serr != nil {
		return 0, nil, err
	}
	return received(fi.Size(), start, resp.DidResume), nil, err
}

// received is how many bytes an attempt brought, given the part file's
// size after it and before it (start), and whether it resumed.
func received(size, start int64, resumed bool) int64 {
	switch {
	case resumed && start <= size:
		return size - start
	case resumed:
		return 0
	}
	return size
}

// retry calls op until it succeeds, fails permanently, attempts run out or
// ctx ends, sleeping with exponential backoff and jitter in between.
func (f *Fetcher) retry(ctx context.Context, u string, op func(context.Context) error) error {
	var err error
	stalls := 0
	for attempt := 0; ; attempt++ {
		// The http.Client's errors name the URL (a redirect's too, with
		// a presigned query): hide its secrets before anyone sees them.
		err = redact.Error(op(ctx))
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, ErrStalled) {
			stalls++
		}
		if attempt >= f.opts.Retries || !Transient(err) || stalls > MaxStallRetries {
			break
		}
		d := f.opts.Backoff << attempt
		if d > 30*time.Second || d <= 0 {
			d = 30 * time.Second
		}
		d = d/2 + rand.N(d) // jitter: 0.5x to 1.5x
		var se *StatusError
		if errors.As(err, &se) && se.RetryAfter > d {
			d = se.RetryAfter // the server said how long to wait
		}
		f.opts.Logger.Warn("retrying download", "url", Redact(u), "attempt", attempt+1, "after", d.Round(time.Millisecond), "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
	}
	return err
}

// TooLargeError reports a body FetchBytes refused for being larger than
// the limit it was given (a repomd.xml or its .asc or .key larger than
// any real one): not transient.
type TooLargeError struct {
	Size  int64 // as the server declared it; -1 when it declared none
	Limit int64
}

func (e *TooLargeError) Error() string {
	if e.Size < 0 {
		return fmt.Sprintf("body exceeds the limit of %d bytes", e.Limit)
	}
	return fmt.Sprintf("body of %d bytes exceeds the limit of %d", e.Size, e.Limit)
}

// Transient reports whether err may go away if the request is repeated: a
// network error, a stall (which retry allows MaxStallRetries times), a server error or rate limiting, or content that
// arrived damaged. A 4xx answer, a bad signature or a package that is not
// what metadata says are not transient.
func Transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.Code >= 500 || se.Code == http.StatusTooManyRequests || se.Code == http.StatusRequestTimeout
	}
	if verify.Permanent(err) {
		return false
	}
	// A certificate that does not verify, a redirect loop or a redirect
	// refused will not get better by asking again.
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var redirect *RedirectError
	var tooLarge *TooLargeError
	if errors.As(err, &tooLarge) {
		return false // the file is what it is: asking again reads as much
	}
	if errors.As(err, &certErr) || errors.As(err, &unknownAuth) || errors.As(err, &hostErr) || errors.As(err, &invalid) || errors.Is(err, errTooManyRedirects) || errors.As(err, &redirect) {
		return false
	}
	var ue *url.Error
	if errors.As(err, &ue) && !ue.Timeout() && !ue.Temporary() {
		// An unsupported scheme or a malformed URL will not improve.
		var op *net.OpError
		if !errors.As(err, &op) {
			return !isURLUsageError(ue)
		}
	}
	return true
}

func isURLUsageError(ue *url.Error) bool {
	msg := ue.Err.Error()
	return len(msg) >= 11 && msg[:11] == "unsupported"
}

// Redact returns u with its userinfo and query hidden, for logs, errors
// and status (see package redact).
func Redact(u string) string { return redact.URL(u) }

// CheckFile reports whether the file at p (not a symlink: opened with
// O_NOFOLLOW) is a regular file of size bytes (any size when size <= 0)
// that check accepts, read from disk: what File trusts a file it finds
// at its destination by, for a caller that put it there itself.
func CheckFile(p string, size int64, check Check) error {
	// O_NONBLOCK: a FIFO planted there opens at once (and is refused
	// below), not waiting for a writer; a regular file ignores it.
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	switch {
	case err != nil:
		return err
	case !fi.Mode().IsRegular():
		return errors.New("not a regular file")
	case size > 0 && fi.Size() != size:
		return fmt.Errorf("%d bytes, want %d", fi.Size(), size)
	}
	return check(f)
}

// checkFile runs check over the file at p, read from disk.
func checkFile(p string, check Check) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	return check(f)
}

// largeBuffer is the largest buffer a transfer gets (a file of at least
// that size). Each buffer's worth of a body is one read from the socket,
// one write to the part file and one hand-over to the check's goroutine:
// 256 KiB, not 64, took the initial sync of 20 x 16 MiB from a median of
// 1.35 to 1.21 s, and its CPU from 1.74 to 1.50 s (the shared machine at
// real-time priority, old and new binaries alternating).
const largeBuffer = 256 << 10

// minBuffer is the smallest buffer a transfer gets (grab allocates one of
// Request.BufferSize per transfer; Fetcher.grab.BufferSize is the
// largest).
const minBuffer = 4 << 10

// startWriteback is safefs.StartWriteback; tests count its calls.
var startWriteback = safefs.StartWriteback

// writebackMin is the smallest download whose writeback File starts at
// once.
const writebackMin = 1 << 20

// SyncFS makes every file on the filesystem that holds dir durable
// (syncfs(2)): the one flush that replaces an fsync per downloaded file.
// File does not fsync what it downloads; a caller calls SyncFS on the
// download directory (or, for a few files, fsyncs just those:
// safefs.Flush chooses by their number) before anything that must
// survive a power cut (a published repomd.xml) names those files.
func SyncFS(dir string) error { return safefs.SyncFS(dir) }
