package health

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/rpmirror/rpmirror/internal/redact"
	"github.com/rpmirror/rpmirror/repodata"
)

// State is a mirror's health as its last probe saw it.
type State string

const (
	// Unknown: not probed yet, or the probe was interrupted by its caller
	// (the context passed to Probe was cancelled) and says nothing about
	// the mirror.
	Unknown State = "unknown"
	// OK: the mirror serves the repomd.xml expected (the current
	// revision), byte for byte, and the package checked.
	OK State = "ok"
	// Behind: the mirror serves an earlier revision that is still
	// accepted, and the package checked. Probe never returns it: the
	// caller decides, from the revision a mirror serves (Result.SHA256),
	// whether an OK mirror is behind.
	Behind State = "behind"
	// Stale: the mirror serves a valid repomd.xml that is not accepted.
	Stale State = "stale"
	// Down: a client would fail on the mirror.
	Down State = "down"
)

// Result is the outcome of one probe.
type Result struct {
	// URL is the mirror base URL probed, ending in "/", with any password
	// redacted.
	URL   string
	State State
	// Accepted is set when Accept took the repomd.xml served, so that the
	// packages, metadata file and signature it asked for were checked;
	// a result refused there (Stale) checked nothing more.
	Accepted bool
	// Reason says why the state is not OK, naming what was requested
	// relative to URL: "GET repodata/repomd.xml: 403 Forbidden",
	// "repomd.xml differs from the origin's (revision 17 vs 18)",
	// "HEAD Packages/a/a-1.rpm: 404 Not Found",
	// "GET repodata/repomd.xml: timeout after 10s". It is "" when the
	// state is OK.
	Reason string
	// Latency is the time from sending the repomd.xml request to the end
	// of its response body; 0 when the probe failed before a complete
	// answer (connection refused, timeout, body cut short).
	Latency time.Duration
	// Checked is when the probe started.
	Checked time.Time
	// Revision is the <revision> of the repomd.xml the mirror served, when
	// it parsed ("" when it has none).
	Revision string
	// Package is the href of the package checked, "" when none was.
	Package string
	// Metadata is the href of the metadata file checked (one of those
	// the repomd.xml lists), "" when none was.
	Metadata string
	// SHA256 is the hex sha256 digest of the repomd.xml the mirror
	// served, when it parsed.
	SHA256 string
	// Err is the failure behind a Down state when it is one a caller
	// may branch on (errors.As, errors.Is): a *SizeError for a package
	// or metadata file served at a size other than the verified metadata
	// gives, an error wrapping ErrSizeUnknown for one whose size the
	// mirror does not tell. Reason is then Err.Error(). It is nil for
	// other failures: Reason says what they were.
	Err error
	// Turn counts the probes of the mirror (CheckAgain carries it on
	// from the last one), from a random start: the package and the
	// metadata file a probe checks are the Turn-th of their lists, so
	// that each is checked within as many probes as its list is long.
	// Chosen at random each time, a broken file could wait many times
	// that (a metadata file 80 s where six probes of 10 s would do).
	Turn int
}

// SizeError is a package a mirror serves at a size other than the one
// the revision's primary metadata gives (<size package>), or a metadata
// file at a size other than its repomd.xml gives (<size>): a copy cut
// short (a disk that filled up during an rsync) or replaced by another
// file. A client would fetch it and fail its checksum, or worse.
type SizeError struct {
	// Mirror is the mirror's base URL, with any password redacted.
	Mirror string
	// Op is the request that told the size, relative to Mirror: "HEAD
	// Packages/a/a-1.rpm" or "GET Packages/a/a-1.rpm (Range bytes=0-0)".
	Op string
	// Package is the href of the file, relative to Mirror: a package, or
	// a metadata file when Metadata is set.
	Package string
	// Metadata says the file is one of the metadata files the
	// repomd.xml lists (its <size>), not a package.
	Metadata bool
	// Want is the size the metadata gives, Got the size served.
	Want, Got int64
}

func (e *SizeError) Error() string {
	how := "replaced or appended to"
	if e.Got < e.Want {
		how = "truncated or replaced"
	}
	return fmt.Sprintf("%s: %d bytes served, the verified metadata says %d: %s", e.Op, e.Got, e.Want, how)
}

// ErrSizeUnknown is wrapped by the error of a probe that could not learn
// the size of a package (or metadata file) from the mirror: HEAD
// answered without a Content-Length, and a GET of its first byte without
// a Content-Range (or Content-Length) giving its total size. A mirror
// that never tells is Down: rpmirror sends clients only to copies it
// checked.
var ErrSizeUnknown = errors.New("the mirror does not tell the file's size")

// Defaults for the zero fields of a Prober.
const (
	DefaultTimeout   = 10 * time.Second
	DefaultMaxRepomd = 16 << 20
	DefaultUserAgent = "rpmirror"
)

// Prober probes mirrors. Its fields are read, never changed, by Probe: set
// them before the first probe. A Prober may then be used by several
// goroutines at once, provided Rand is safe for concurrent use (the
// default is).
type Prober struct {
	// Client makes the requests: the caller sets its transport, TLS
	// settings and redirect policy (the default policy follows up to 10
	// redirects; a loop is then an error, so Down). nil means
	// http.DefaultClient. Probe bounds each probe by Timeout through the
	// request context, whatever the client's own timeouts.
	Client *http.Client
	// Timeout bounds the whole probe: repomd.xml and package, connections
	// and bodies included. Default DefaultTimeout.
	Timeout time.Duration
	// MaxRepomd is the largest repomd.xml accepted, in bytes: a longer
	// body makes the mirror Down. Default DefaultMaxRepomd.
	MaxRepomd int64
	// Rand returns a number in [0, n): the index of the package to check.
	// Default rand.IntN of math/rand/v2. Tests fix it.
	Rand func(n int) int
	// UserAgent is sent with every request. Default DefaultUserAgent.
	UserAgent string
}

// drainLimit is how much of an unwanted body (an error page) is read
// before closing it, so the connection can be reused; longer bodies are
// closed unread and their connection discarded.
const drainLimit = 4 << 10

// maxReason bounds the length of Result.Reason.
const maxReason = 300

// rpmLeadMagic is the first byte of every RPM package file (the lead's
// magic is ed ab ee db).
const rpmLeadMagic = 0xed

// errProbeTimeout is the cause of a probe's context when Timeout expires.
var errProbeTimeout = errors.New("probe timeout")

// Probe checks the mirror at base against want, the repomd.xml bytes
// expected, and checks one of packages, chosen with Rand: that it is
// served and, when its Size is known, at that size.
//
// With want nil, Probe only checks that the mirror answers a valid
// repomd.xml: this is how the origin itself is probed, which is then OK or
// Down, never Stale. The packages' hrefs are relative to base (see
// SamplePackages); when packages is empty, no package is checked. The package is only
// checked when the repomd.xml matched (or want is nil): a Stale mirror is
// not expected to have the current revision's packages.
//
// Probe returns within Timeout (plus the time to tear a connection down).
// If ctx is done before the probe ends, Probe returns a Result with State
// Unknown and a Reason saying so: an interrupted probe says nothing about
// the mirror, and is best not recorded.
func (p *Prober) Probe(ctx context.Context, base string, want []byte, packages []Package) Result {
	var wantSum string
	if want != nil {
		sum := sha256.Sum256(want)
		wantSum = hex.EncodeToString(sum[:])
	}
	return p.Check(ctx, base, func(md *repodata.Repomd, sum string) ([]Package, string, bool) {
		if want != nil && sum != wantSum {
			return nil, staleReason(md.Revision, want), false
		}
		return packages, "", true
	})
}

// Accept decides whether a mirror serving a repomd.xml (parsed as md, with
// hex sha256 digest sum; md is shared with other probes, and must not be
// changed) serves a revision it should. When it does, it
// returns packages of that revision, one of which the probe checks (none
// when empty), and the files it checks every time (Package.Always); when
// it does not, it returns why, and the mirror is Stale.
type Accept func(md *repodata.Repomd, sum string) (packages []Package, reason string, ok bool)

// Check is Probe with the decision of which repomd.xml to accept left to
// accept: for a caller that accepts several revisions, each with its
// packages. It is OK, Stale (accept refused the repomd.xml), Down or
// Unknown, as for Probe.
func (p *Prober) Check(ctx context.Context, base string, accept Accept) Result {
	return p.CheckAgain(ctx, base, accept, Result{})
}

// CheckAgain is Check for a mirror whose last probe was last. When last
// found the mirror Down on a package (last.Package, among those accept
// returns) or a metadata file (last.Metadata) that the repomd.xml it
// serves now names too (the same one, or a revision published since),
// that file is checked again rather than one chosen with
// Rand: the mirror stays Down until the file is served right, instead of
// coming back up whenever the probe picks another (a round in 64, for a
// package sample).
func (p *Prober) CheckAgain(ctx context.Context, base string, accept Accept, last Result) Result {
	return p.check(ctx, base, accept, last, true)
}

// check is CheckAgain. A mirror found Down on a file past its
// repomd.xml is asked for repomd.xml again: when that changed meanwhile,
// the mirror published a revision while it was probed (its repomd.xml
// read before, the file after: the previous revision's .asc gone, its
// metadata files too), which says nothing against it, and it is probed
// once more from the start (with again false). Before, a written
// mirror published to during a probe was found down and alerted on, and
// up again 0.3 s later (a tester's webhook).
func (p *Prober) check(ctx context.Context, base string, accept Accept, last Result, again bool) Result {
	r := Result{URL: base, Checked: time.Now()}
	u, err := parseBase(base)
	if err != nil {
		r.State, r.Reason = Down, limitReason(err.Error())
		return r
	}
	r.URL = redact.URL(u.String())

	timeout := p.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	pctx, cancel := context.WithTimeoutCause(ctx, timeout, errProbeTimeout)
	defer cancel()
	pr := &probe{Prober: p, ctx: pctx, base: u, timeout: timeout}

	body, latency, state, reason := pr.repomd()
	r.Latency = latency
	if state != OK {
		r.State, r.Reason = state, limitReason(reason)
		return r
	}
	sum := sha256.Sum256(body)
	md, err := parsedRepomd.parse(sum, body)
	if err != nil {
		r.State = Down
		r.Reason = limitReason("GET repodata/repomd.xml: 200 OK but not a repomd.xml: " + err.Error())
		return r
	}
	r.Revision = md.Revision
	r.SHA256 = hex.EncodeToString(sum[:])
	if _, ok := md.Find("primary"); !ok {
		r.State = Down
		r.Reason = "GET repodata/repomd.xml: 200 OK but the repomd.xml lists no primary metadata"
		return r
	}
	packages, reason, ok := accept(md, r.SHA256)
	if !ok {
		r.State, r.Reason = Stale, limitReason(reason)
		return r
	}
	r.Accepted = true

	rnd := p.Rand
	if rnd == nil {
		rnd = rand.IntN
	}
	r.Turn = last.Turn + 1
	if last.Turn == 0 {
		// A random start, so that mirrors do not all check the same
		// file in the same round.
		start := rnd(1 << 20)
		if start < 0 || start >= 1<<20 {
			start = 0
		}
		r.Turn = start + 1
	}
	moved := func() bool {
		if !again {
			return false
		}
		b, _, st, _ := pr.repomd()
		return st == OK && sha256.Sum256(b) != sum
	}
	// The file the last probe found the mirror down on is checked again,
	// in this revision too when it names that file: a publish to the
	// mirror (another repomd.xml) does not mend a damaged package it
	// keeps (a tester's mirror, down on a truncated package, was listed
	// again after each publish until the probes came round to it).
	lastDown := Result{}
	if last.State == Down {
		lastDown = last
	}
	for _, pk := range packages {
		if !pk.Always {
			continue
		}
		check := func() (State, string, error) { return pr.file(pk, true) }
		if pk.Content != "" {
			check = func() (State, string, error) { return pr.content(pk) }
		}
		if state, reason, err := check(); state != OK {
			if state == Down && moved() {
				return p.check(pctx, base, accept, last, false) // within this probe's deadline
			}
			r.Metadata = pk.Href
			r.State, r.Reason, r.Err = state, limitReason(reason), err
			return r
		}
	}
	if always := func(p Package) bool { return p.Always }; slices.ContainsFunc(packages, always) {
		// The sample to take a turn in, without them: a copy, since
		// accept's slice is shared; none when there is nothing to leave
		// out (a revision served without a signature).
		packages = slices.DeleteFunc(slices.Clone(packages), always)
	}
	if len(packages) > 0 {
		i := slices.IndexFunc(packages, func(p Package) bool { return lastDown.Package != "" && p.Href == lastDown.Package })
		if i < 0 {
			i = (r.Turn - 1) % len(packages)
		}
		r.Package = packages[i].Href
		if state, reason, err := pr.pkg(packages[i]); state != OK {
			if state == Down && moved() {
				return p.check(pctx, base, accept, last, false) // within this probe's deadline
			}
			r.State, r.Reason, r.Err = state, limitReason(reason), err
			return r
		}
	}
	if d, ok := pickMetadata(md, r.Turn, lastDown.Metadata); ok {
		r.Metadata = d.Href
		if state, reason, err := pr.metadata(d); state != OK {
			if state == Down && moved() {
				return p.check(pctx, base, accept, last, false) // within this probe's deadline
			}
			r.State, r.Reason, r.Err = state, limitReason(reason), err
			return r
		}
	}
	r.State = OK
	return r
}

// pickMetadata chooses the metadata file of md a probe checks: again,
// when md lists it, else the turn-th (Result.Turn) of those the mirror
// itself serves (no xml:base) under a plain relative href. It returns
// false when there is none.
func pickMetadata(md *repodata.Repomd, turn int, again string) (repodata.Data, bool) {
	var files []repodata.Data
	for _, d := range md.Data {
		if d.Base != "" || !fs.ValidPath(d.Href) || d.Href == "." {
			continue
		}
		if again != "" && d.Href == again {
			return d, true
		}
		files = append(files, d)
	}
	if len(files) == 0 {
		return repodata.Data{}, false
	}
	return files[(max(turn, 1)-1)%len(files)], true
}

// parseBase parses a mirror's base URL, adding the trailing "/" if
// missing. Its errors do not repeat the URL, which may hold credentials.
func parseBase(base string) (*url.URL, error) {
	u, err := url.Parse(base)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("parsing the mirror URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("parsing the mirror URL: scheme %q is not http or https", u.Scheme)
	}
	if u.Host == "" {
		return nil, errors.New("parsing the mirror URL: no host")
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
		if u.RawPath != "" {
			u.RawPath += "/"
		}
	}
	return u, nil
}

// probe is one run of Prober.Probe.
type probe struct {
	*Prober
	ctx     context.Context // bounded by timeout
	base    *url.URL
	timeout time.Duration
}

func (pr *probe) client() *http.Client {
	if pr.Client != nil {
		return pr.Client
	}
	return http.DefaultClient
}

// request returns a request for href, relative to the base URL.
func (pr *probe) request(method, href string) (*http.Request, error) {
	u := pr.base.ResolveReference(&url.URL{Path: href})
	req, err := http.NewRequestWithContext(pr.ctx, method, u.String(), nil)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, err
	}
	ua := pr.UserAgent
	if ua == "" {
		ua = DefaultUserAgent
	}
	req.Header.Set("User-Agent", ua)
	return req, nil
}

// repomd fetches repodata/repomd.xml. It returns its body and the state OK
// when the server answered 200 with a body within MaxRepomd, whatever the
// body is.
func (pr *probe) repomd() (body []byte, latency time.Duration, state State, reason string) {
	const op = "GET repodata/repomd.xml"
	start := time.Now()
	req, err := pr.request(http.MethodGet, "repodata/repomd.xml")
	if err != nil {
		return nil, 0, Down, op + ": " + err.Error()
	}
	resp, err := pr.client().Do(req)
	if err != nil {
		state, reason := pr.failure(op, err)
		return nil, 0, state, reason
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		drain(resp.Body)
		return nil, time.Since(start), Down, op + ": " + status(resp.StatusCode)
	}
	limit := pr.MaxRepomd
	if limit <= 0 {
		limit = DefaultMaxRepomd
	}
	body, err = io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		state, reason := pr.failure(op, err)
		return nil, 0, state, reason
	}
	latency = time.Since(start)
	if int64(len(body)) > limit {
		return nil, latency, Down, fmt.Sprintf("%s: 200 OK but the body is larger than %s", op, size(limit))
	}
	return body, latency, OK, ""
}

// content checks that the file pk holds pk.Content, byte for byte: a GET
// of at most one byte more.
func (pr *probe) content(pk Package) (State, string, error) {
	op := "GET " + pk.Href
	req, err := pr.request(http.MethodGet, pk.Href)
	if err != nil {
		return Down, op + ": " + err.Error(), nil
	}
	resp, err := pr.client().Do(req)
	if err != nil {
		state, reason := pr.failure(op, err)
		return state, reason, nil
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		drain(resp.Body)
		return Down, op + ": " + status(resp.StatusCode), nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, int64(len(pk.Content))+1))
	if err != nil {
		state, reason := pr.failure(op, err)
		return state, reason, nil
	}
	if string(body) != pk.Content {
		return Down, op + ": 200 OK but not the one verified with the repomd.xml served (dnf with repo_gpgcheck refuses it)", nil
	}
	return OK, "", nil
}

// pkg checks that the package pk can be fetched: HEAD, or when the
// server refuses HEAD, a GET of its first byte, which must be an RPM's;
// and, when pk.Size is known, that the size served is pk.Size. HEAD tells
// the size by its Content-Length; when it has none (a server answering
// HEAD without it, or a compressed answer), the GET of the first byte
// tells it by the total of its Content-Range (or, from a server ignoring
// Range, the Content-Length of its 200). The error returned, when not
// nil, is the typed failure behind the state (Result.Err).
func (pr *probe) pkg(pk Package) (State, string, error) {
	return pr.file(pk, false)
}

// metadata checks the metadata file d that the repomd.xml lists as pkg
// checks a package, against the size the repomd.xml gives; its first
// byte is not checked (compressed or not, any format).
func (pr *probe) metadata(d repodata.Data) (State, string, error) {
	return pr.file(Package{Href: d.Href, Size: d.Size}, true)
}

// file is pkg for a package (meta false) or a metadata file.
func (pr *probe) file(pk Package, meta bool) (State, string, error) {
	href := pk.Href
	op := "HEAD " + href
	req, err := pr.request(http.MethodHead, href)
	if err != nil {
		return Down, op + ": " + err.Error(), nil
	}
	resp, err := pr.client().Do(req)
	if err != nil {
		state, reason := pr.failure(op, err)
		return state, reason, nil
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		if pk.Size <= 0 {
			return OK, "", nil
		}
		// Uncompressed: the transport asked for gzip and undid it,
		// dropping the Content-Length (of the compressed body anyway).
		if resp.ContentLength >= 0 && !resp.Uncompressed {
			return pr.size(op, pk, meta, resp.ContentLength)
		}
		// No size given: ask for the first byte, whose answer tells it.
	case http.StatusMethodNotAllowed, http.StatusNotImplemented:
		// Some servers and object stores refuse HEAD: ask for one byte.
	default:
		return Down, op + ": " + status(resp.StatusCode), nil
	}

	op = "GET " + href + " (Range bytes=0-0)"
	req, err = pr.request(http.MethodGet, href)
	if err != nil {
		return Down, op + ": " + err.Error(), nil
	}
	req.Header.Set("Range", "bytes=0-0")
	resp, err = pr.client().Do(req)
	if err != nil {
		state, reason := pr.failure(op, err)
		return state, reason, nil
	}
	// A server that ignores Range sends the whole package: read one byte
	// and close, which discards the connection rather than read the rest.
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && pk.Size > 0 {
		// Only an empty file has no byte 0: "Content-Range: bytes */0".
		if total, ok := rangeTotal(resp.Header.Get("Content-Range")); ok {
			drain(resp.Body)
			return pr.size(op, pk, meta, total)
		}
	}
	if resp.StatusCode != http.StatusPartialContent && resp.StatusCode != http.StatusOK {
		drain(resp.Body)
		return Down, op + ": " + status(resp.StatusCode), nil
	}
	var b [1]byte
	if _, err := io.ReadFull(resp.Body, b[:]); err != nil {
		if err == io.EOF {
			if resp.StatusCode == http.StatusOK && pk.Size > 0 {
				return pr.size(op, pk, meta, 0) // the whole file: empty
			}
			return Down, op + ": " + status(resp.StatusCode) + " but an empty body", nil
		}
		state, reason := pr.failure(op, err)
		return state, reason, nil
	}
	if !meta && b[0] != rpmLeadMagic {
		return Down, fmt.Sprintf("%s: %s but not an RPM package (it starts with %q)", op, status(resp.StatusCode), b[0]), nil
	}
	if pk.Size <= 0 {
		return OK, "", nil
	}
	total, ok := int64(-1), false
	if resp.StatusCode == http.StatusPartialContent {
		total, ok = rangeTotal(resp.Header.Get("Content-Range"))
	} else if resp.ContentLength >= 0 && !resp.Uncompressed {
		total, ok = resp.ContentLength, true
	}
	if !ok {
		what := "package"
		if meta {
			what = "file"
		}
		err := fmt.Errorf("%s: %s without the %s's total size (no Content-Range total nor Content-Length; the verified metadata says %d bytes): %w",
			op, status(resp.StatusCode), what, pk.Size, ErrSizeUnknown)
		return Down, err.Error(), err
	}
	return pr.size(op, pk, meta, total)
}

// size compares got, the size of pk that op learnt from the mirror, with
// pk.Size.
func (pr *probe) size(op string, pk Package, meta bool, got int64) (State, string, error) {
	if got == pk.Size {
		return OK, "", nil
	}
	err := &SizeError{Mirror: redact.URL(pr.base.String()), Op: op, Package: pk.Href, Metadata: meta, Want: pk.Size, Got: got}
	return Down, err.Error(), err
}

// rangeTotal returns the complete length of a Content-Range header value
// ("bytes 0-0/1234", "bytes */1234"), false when there is none ("*") or
// it does not parse.
func rangeTotal(v string) (int64, bool) {
	unit, rest, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok || !strings.EqualFold(unit, "bytes") {
		return 0, false
	}
	_, total, ok := strings.Cut(rest, "/")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(total), 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// failure turns the error of a request, or of reading its body, into a
// state and a reason.
func (pr *probe) failure(op string, err error) (State, string) {
	if context.Cause(pr.ctx) == errProbeTimeout {
		return Down, fmt.Sprintf("%s: timeout after %v", op, pr.timeout)
	}
	if pr.ctx.Err() != nil { // the caller's context is done
		return Unknown, "probe interrupted: " + context.Cause(pr.ctx).Error()
	}
	// A *url.Error repeats the method and the full URL, which may hold
	// credentials: keep what it wraps.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return Down, fmt.Sprintf("%s: timeout (%v)", op, err)
	}
	return Down, fmt.Sprintf("%s: %v", op, err)
}

// staleReason says how the mirror's repomd.xml, with revision got,
// differs from want.
func staleReason(got string, want []byte) string {
	const differs = "repomd.xml differs from the origin's"
	md, err := repodata.ParseRepomd(want)
	if err != nil {
		return differs
	}
	if got != md.Revision {
		return fmt.Sprintf("%s (revision %s vs %s)", differs, revision(got), revision(md.Revision))
	}
	return fmt.Sprintf("%s (same revision %s, other content)", differs, revision(got))
}

func revision(r string) string {
	if r == "" {
		return "(none)"
	}
	return r
}

// status formats an HTTP status code: "403 Forbidden". The server's own
// reason phrase is not used: it is whatever the server chose to send.
func status(code int) string {
	if t := http.StatusText(code); t != "" {
		return fmt.Sprintf("%d %s", code, t)
	}
	return fmt.Sprintf("%d", code)
}

// size formats a byte count: "16 MiB", "1000 bytes".
func size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// drain reads what is left of a short body, so that its connection can be
// reused.
func drain(body io.Reader) {
	io.CopyN(io.Discard, body, drainLimit)
}

// limitReason cuts a reason to maxReason bytes, at a rune boundary.
func limitReason(s string) string {
	if len(s) <= maxReason {
		return s
	}
	s = s[:maxReason]
	for len(s) > 0 {
		if r, n := utf8.DecodeLastRuneInString(s); r != utf8.RuneError || n > 1 {
			break
		}
		s = s[:len(s)-1]
	}
	return s + "..."
}

// repomdCache holds parsed repomd.xml files by the sha256 digest of their
// bytes. The mirrors of a repository serve the same few repomd.xml, each
// probed again every probe_interval: 10,000 mirrors parsed theirs with
// encoding/xml every round, a tenth of rpmirror serve's CPU. Content
// addressed, one cache serves every Prober.
type repomdCache struct {
	mu     sync.Mutex
	parsed map[[sha256.Size]byte]*repodata.Repomd
}

// maxCachedRepomd bounds the repomd.xml files kept parsed; when full, the
// cache starts again empty.
const maxCachedRepomd = 4096

var parsedRepomd repomdCache

// parse returns body, of digest sum, parsed. An error is not kept.
func (c *repomdCache) parse(sum [sha256.Size]byte, body []byte) (*repodata.Repomd, error) {
	c.mu.Lock()
	md := c.parsed[sum]
	c.mu.Unlock()
	if md != nil {
		return md, nil
	}
	md, err := repodata.ParseRepomd(body)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.parsed == nil || len(c.parsed) >= maxCachedRepomd {
		c.parsed = map[[sha256.Size]byte]*repodata.Repomd{}
	}
	c.parsed[sum] = md
	c.mu.Unlock()
	return md, nil
}
