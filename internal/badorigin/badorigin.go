package badorigin

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Match selects requests. A nil Match matches every request.
type Match func(r *http.Request) bool

// All matches every request.
func All() Match { return func(*http.Request) bool { return true } }

// Paths matches requests for exactly these paths (relative to the origin's
// root, without a leading slash: "repodata/repomd.xml").
func Paths(paths ...string) Match {
	return func(r *http.Request) bool {
		p := relPath(r)
		for _, q := range paths {
			if p == q {
				return true
			}
		}
		return false
	}
}

// Glob matches requests whose path (relative, as for Paths) matches one of
// the patterns in the syntax of path.Match, where * does not cross a
// slash: "Packages/*/*.rpm", "repodata/*-primary.xml.gz".
func Glob(patterns ...string) Match {
	for _, p := range patterns {
		if _, err := path.Match(p, ""); err != nil {
			panic(fmt.Sprintf("badorigin: bad pattern %q: %v", p, err))
		}
	}
	return func(r *http.Request) bool {
		p := relPath(r)
		for _, pat := range patterns {
			if ok, _ := path.Match(pat, p); ok {
				return true
			}
		}
		return false
	}
}

// Method matches requests with this method (GET, HEAD).
func Method(m string) Match {
	return func(r *http.Request) bool { return r.Method == m }
}

// And matches requests that every m matches.
func And(ms ...Match) Match {
	return func(r *http.Request) bool {
		for _, m := range ms {
			if m != nil && !m(r) {
				return false
			}
		}
		return true
	}
}

// Not matches the requests m does not match.
func Not(m Match) Match {
	return func(r *http.Request) bool { return m != nil && !m(r) }
}

func relPath(r *http.Request) string { return strings.TrimPrefix(r.URL.Path, "/") }

// A Fault is one way of misbehaving. Several faults may apply to one
// request: a status or redirect answers at once, IgnoreRange and the
// header faults change the answer, and at most one of the body faults
// (CutAfter, ResetAfter, StallAfter, Trickle) decides how its body is sent.
type Fault func(*plan)

type plan struct {
	status      int
	redirect    string
	chain       int
	hang        bool
	ignoreRange bool
	lenDelta    int64
	chunked     bool
	cutAt       int64 // -1: none
	reset       bool
	stallAt     int64 // -1: none
	trickle     int
	every       time.Duration
}

// Status answers with code (and a short text body).
func Status(code int) Fault { return func(p *plan) { p.status = code } }

// Redirect answers 302 Found pointing at to, a path relative to the root:
// Redirect("b") on "a" and Redirect("a") on "b" make a loop.
func Redirect(to string) Fault { return func(p *plan) { p.redirect = to } }

// RedirectChain redirects a request n times (to the same path with a
// growing "hop" query parameter) before answering it.
func RedirectChain(n int) Fault { return func(p *plan) { p.chain = n } }

// Hang sends nothing at all, not even a status line, until the client goes
// away or the server is closed.
func Hang() Fault { return func(p *plan) { p.hang = true } }

// IgnoreRange answers a Range request with 200 and the whole body (while
// still advertising Accept-Ranges: bytes, as broken servers do).
func IgnoreRange() Fault { return func(p *plan) { p.ignoreRange = true } }

// LieLength declares a Content-Length of the true length plus delta. With
// delta < 0 the client gets a body that looks complete but is short; with
// delta > 0 the connection is closed after the true body.
func LieLength(delta int64) Fault { return func(p *plan) { p.lenDelta = delta } }

// Chunked sends no Content-Length (chunked transfer encoding), so a client
// cannot know the length in advance.
func Chunked() Fault { return func(p *plan) { p.chunked = true } }

// CutAfter sends the headers and n bytes of the body, then closes the
// connection (a FIN): the client sees the body end too early.
func CutAfter(n int64) Fault { return func(p *plan) { p.cutAt, p.reset = n, false } }

// ResetAfter sends the headers and n bytes of the body, then resets the
// connection (an RST): the client sees "connection reset by peer".
func ResetAfter(n int64) Fault { return func(p *plan) { p.cutAt, p.reset = n, true } }

// StallAfter sends the headers and n bytes of the body, then sends nothing
// more until the client goes away or the server is closed.
func StallAfter(n int64) Fault { return func(p *plan) { p.stallAt = n } }

// Trickle sends the body chunk bytes at a time, one chunk every interval
// (Trickle(1, 100*time.Millisecond): one byte per 100 ms).
func Trickle(chunk int, every time.Duration) Fault {
	return func(p *plan) { p.trickle, p.every = chunk, every }
}

// Rule applies faults to the requests its Match selects.
type Rule struct {
	o      *Origin
	match  Match
	faults []Fault
	left   int // requests it still applies to; -1: no limit
}

// Times limits r to the next n requests it matches (counted from when
// they arrive, HEAD requests included), after which it no longer applies.
func (r *Rule) Times(n int) *Rule {
	r.o.mu.Lock()
	r.left = n
	r.o.mu.Unlock()
	return r
}

// Remove stops r from applying.
func (r *Rule) Remove() {
	r.o.mu.Lock()
	defer r.o.mu.Unlock()
	for i, q := range r.o.rules {
		if q == r {
			r.o.rules = append(r.o.rules[:i], r.o.rules[i+1:]...)
			return
		}
	}
}

// Request is one request the origin received.
type Request struct {
	Seq    int // from 1, in order of arrival since the origin started
	Time   time.Time
	Method string
	Path   string // relative to the root, without a leading slash
	Query  string
	Range  string // the Range header, "" when none
	Dir    string // the directory it was served from
	Faulty bool   // some rule applied to it
}

type swap struct {
	match Match // nil: after count requests
	count int
	dir   string
}

// Origin is an http.Handler serving a directory with faults. It is safe for
// concurrent use; its settings may change while it serves.
type Origin struct {
	mu       sync.Mutex
	dir      string
	rules    []*Rule
	swaps    []*swap
	requests []Request
	seen     int // requests ever received; Forget does not reset it
	quit     chan struct{}
	closed   bool
}

// New returns an Origin serving dir.
func New(dir string) *Origin {
	return &Origin{dir: dir, quit: make(chan struct{})}
}

// On adds a rule applying faults to the requests m matches, from now on.
// Every rule that matches a request applies, in the order they were added.
func (o *Origin) On(m Match, faults ...Fault) *Rule {
	r := &Rule{o: o, match: m, faults: faults, left: -1}
	o.mu.Lock()
	o.rules = append(o.rules, r)
	o.mu.Unlock()
	return r
}

// Heal removes every rule and pending swap: the origin behaves again.
func (o *Origin) Heal() {
	o.mu.Lock()
	o.rules, o.swaps = nil, nil
	o.mu.Unlock()
}

// Dir returns the directory served now.
func (o *Origin) Dir() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.dir
}

// SetDir serves dir from the next request on, as an origin publishing a
// new revision at once.
func (o *Origin) SetDir(dir string) {
	o.mu.Lock()
	o.dir = dir
	o.mu.Unlock()
}

// SwapAfter serves dir once n more requests have arrived: the nth request
// from now is still served from the current directory, the next from dir.
func (o *Origin) SwapAfter(n int, dir string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if n <= 0 {
		o.dir = dir
		return
	}
	o.swaps = append(o.swaps, &swap{count: o.seen + n, dir: dir})
}

// SwapOn serves dir after the first request m matches from now on: that
// request is still served from the current directory, every request that
// arrives after it from dir. SwapOn(Glob("Packages/*/*.rpm"), v2) is "the
// origin publishes v2 right after a client asked for its first package".
func (o *Origin) SwapOn(m Match, dir string) {
	o.mu.Lock()
	o.swaps = append(o.swaps, &swap{match: m, dir: dir})
	o.mu.Unlock()
}

// Requests returns every request received so far, in order of arrival.
func (o *Origin) Requests() []Request {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]Request(nil), o.requests...)
}

// Count returns how many requests (of any method) asked for path p.
func (o *Origin) Count(p string) int {
	return len(o.RequestsFor(p, ""))
}

// RequestsFor returns the requests for path p with method (any when "").
func (o *Origin) RequestsFor(p, method string) []Request {
	var got []Request
	for _, r := range o.Requests() {
		if r.Path == p && (method == "" || r.Method == method) {
			got = append(got, r)
		}
	}
	return got
}

// Ranges returns the Range headers of the requests for path p, "" for a
// request without one, in order of arrival (GET requests only).
func (o *Origin) Ranges(p string) []string {
	var got []string
	for _, r := range o.RequestsFor(p, http.MethodGet) {
		got = append(got, r.Range)
	}
	return got
}

// Forget clears the request log.
func (o *Origin) Forget() {
	o.mu.Lock()
	o.requests = nil
	o.mu.Unlock()
}

// Close releases every request that stalls, hangs or trickles. Start and
// StartTLS call it when the test ends, before closing the server.
func (o *Origin) Close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.closed {
		o.closed = true
		close(o.quit)
	}
}

// admit records r, decides the directory it is served from and the faults
// that apply, and performs due swaps.
func (o *Origin) admit(r *http.Request) (string, *plan, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	// Swaps due by count happen before the request.
	var keep []*swap
	for _, s := range o.swaps {
		if s.match == nil && o.seen >= s.count {
			o.dir = s.dir
			continue
		}
		keep = append(keep, s)
	}
	o.swaps = keep
	dir := o.dir
	p := &plan{cutAt: -1, stallAt: -1}
	faulty := false
	for _, rule := range o.rules {
		if rule.left == 0 || (rule.match != nil && !rule.match(r)) {
			continue
		}
		if rule.left > 0 {
			rule.left--
		}
		faulty = true
		for _, f := range rule.faults {
			f(p)
		}
	}
	o.seen++
	o.requests = append(o.requests, Request{
		Seq:    o.seen,
		Time:   time.Now(),
		Method: r.Method,
		Path:   relPath(r),
		Query:  r.URL.RawQuery,
		Range:  r.Header.Get("Range"),
		Dir:    dir,
		Faulty: faulty,
	})
	// Swaps triggered by this request happen after it.
	keep = nil
	for _, s := range o.swaps {
		if s.match != nil && s.match(r) {
			o.dir = s.dir
			continue
		}
		keep = append(keep, s)
	}
	o.swaps = keep
	return dir, p, faulty
}

func (o *Origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	dir, p, _ := o.admit(r)
	if p.hang {
		select {
		case <-r.Context().Done():
		case <-o.quit:
		}
		return
	}
	if p.status != 0 {
		http.Error(w, http.StatusText(p.status), p.status)
		return
	}
	if p.redirect != "" {
		http.Redirect(w, r, "/"+strings.TrimPrefix(p.redirect, "/"), http.StatusFound)
		return
	}
	if p.chain > 0 {
		hop, _ := strconv.Atoi(r.URL.Query().Get("hop"))
		if hop < p.chain {
			http.Redirect(w, r, fmt.Sprintf("%s?hop=%d", r.URL.Path, hop+1), http.StatusFound)
			return
		}
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	rel := path.Clean("/" + relPath(r))
	f, err := os.Open(filepath.Join(dir, filepath.FromSlash(rel)))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	if p.ignoreRange {
		r.Header.Del("Range")
		r.Header.Del("If-Range")
	}
	fw := &faultWriter{ResponseWriter: w, p: p, ctx: r, quit: o.quit, cap: -1}
	// No modification time: clients get no Last-Modified and no
	// conditional answers, only the faults asked for.
	http.ServeContent(fw, r, path.Base(rel), time.Time{}, f)
}

var errAborted = errors.New("badorigin: body aborted on purpose")

// faultWriter sends a body the way its plan says.
type faultWriter struct {
	http.ResponseWriter
	p    *plan
	ctx  *http.Request
	quit chan struct{}
	sent int64
	cap  int64 // with a Content-Length too small: send no more than this; -1: no cap
	dead bool
}

func (w *faultWriter) WriteHeader(code int) {
	h := w.Header()
	if code == http.StatusOK || code == http.StatusPartialContent {
		if cl := h.Get("Content-Length"); cl != "" && w.p.lenDelta != 0 {
			if n, err := strconv.ParseInt(cl, 10, 64); err == nil {
				declared := max(n+w.p.lenDelta, 0)
				h.Set("Content-Length", strconv.FormatInt(declared, 10))
				if declared < n {
					// Send what was declared, so that the answer looks
					// complete (net/http would refuse the write crossing
					// the declared length and close the connection).
					w.cap = declared
				}
			}
		}
		if w.p.chunked {
			h.Del("Content-Length")
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *faultWriter) flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// wait blocks for d, or until the client goes away or the server closes.
func (w *faultWriter) wait(d time.Duration) bool {
	var after <-chan time.Time
	if d >= 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		after = t.C
	}
	select {
	case <-after:
		return true
	case <-w.ctx.Context().Done():
	case <-w.quit:
	}
	return false
}

func (w *faultWriter) Write(b []byte) (int, error) {
	if w.dead {
		return 0, errAborted
	}
	if w.cap >= 0 && w.sent+int64(len(b)) > w.cap {
		n, err := w.Write(b[:w.cap-w.sent])
		if err == nil {
			err = errAborted
		}
		w.dead = true
		return n, err
	}
	// How much may go out before the body fault strikes.
	limit := int64(len(b))
	stop := int64(-1)
	for _, at := range []int64{w.p.cutAt, w.p.stallAt} {
		if at >= 0 && (stop < 0 || at < stop) {
			stop = at
		}
	}
	if stop >= 0 && w.sent+limit > stop {
		limit = max(stop-w.sent, 0)
	}
	n, err := w.send(b[:limit])
	if err != nil || n == len(b) {
		return n, err
	}
	// The body fault strikes now.
	w.dead = true
	w.flush()
	if w.p.stallAt >= 0 && (w.p.cutAt < 0 || w.p.stallAt <= w.p.cutAt) {
		w.wait(-1)
		return n, errAborted
	}
	w.kill()
	return n, errAborted
}

// send writes b, in trickles when the plan says so.
func (w *faultWriter) send(b []byte) (int, error) {
	if w.p.trickle <= 0 {
		n, err := w.ResponseWriter.Write(b)
		w.sent += int64(n)
		return n, err
	}
	var done int
	for done < len(b) {
		if done > 0 || w.sent > 0 {
			if !w.wait(w.p.every) {
				w.dead = true
				return done, errAborted
			}
		}
		end := min(done+w.p.trickle, len(b))
		n, err := w.ResponseWriter.Write(b[done:end])
		done += n
		w.sent += int64(n)
		if err != nil {
			return done, err
		}
		w.flush()
	}
	return done, nil
}

// kill closes the connection under the response, with an RST when the
// plan says reset.
func (w *faultWriter) kill() {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return // HTTP/2: the handler's error ends the stream
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if w.p.reset {
		raw := conn
		if nc, ok := conn.(interface{ NetConn() net.Conn }); ok {
			raw = nc.NetConn()
		}
		if tc, ok := raw.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		raw.Close()
		return
	}
	conn.Close()
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *faultWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

var _ http.Handler = (*Origin)(nil)

// Server is an Origin listening on 127.0.0.1.
type Server struct {
	*Origin
	// HTTP is the running server.
	HTTP *httptest.Server
	// CAPEM is, for StartTLS, the PEM encoding of the self-signed CA
	// certificate that signed the server's certificate.
	CAPEM []byte
}

// URL returns the origin's root URL, ending in a slash.
func (s *Server) URL() string { return s.HTTP.URL + "/" }

// CertPool returns a pool trusting the server's certificate (StartTLS).
func (s *Server) CertPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.CAPEM)
	return pool
}

// Start serves dir over HTTP on 127.0.0.1 until t ends.
func Start(t testing.TB, dir string) *Server {
	t.Helper()
	s := &Server{Origin: New(dir), HTTP: newServer()}
	s.HTTP.Config.Handler = s.Origin
	s.HTTP.Start()
	t.Cleanup(s.Close)
	return s
}

// StartTLS serves dir over HTTPS on 127.0.0.1 until t ends, with a
// certificate for 127.0.0.1 signed by a CA made for this server alone (see
// CAPEM): two servers never trust each other's CA.
func StartTLS(t testing.TB, dir string) *Server {
	t.Helper()
	caPEM, cert, err := newCA()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Origin: New(dir), HTTP: newServer(), CAPEM: caPEM}
	s.HTTP.Config.Handler = s.Origin
	s.HTTP.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	s.HTTP.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// newCA makes a self-signed CA and a certificate it signs for 127.0.0.1,
// ::1 and localhost, valid for a day.
func newCA() ([]byte, tls.Certificate, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "badorigin test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:     []string{"localhost"},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	cert := tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: leafKey}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), cert, nil
}

// newServer returns an unstarted server on 127.0.0.1 that does not log
// the handshake failures and cut connections it causes on purpose.
func newServer() *httptest.Server {
	srv := httptest.NewUnstartedServer(nil)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	return srv
}

// Close releases stalled requests and stops the server.
func (s *Server) Close() {
	s.Origin.Close()
	s.HTTP.Close()
}

// WriteCA writes the server's CA certificate to a file in dir and returns
// its path, for clients configured with a CA file.
func (s *Server) WriteCA(dir string) (string, error) {
	p := filepath.Join(dir, "badorigin-ca.pem")
	return p, os.WriteFile(p, s.CAPEM, 0o644)
}
