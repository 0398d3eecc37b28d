package source

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"strings"
	gosync "sync"
	"sync/atomic"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/fetch"
	"github.com/rpmirror/rpmirror/repodata"
)

// Paths of the files every upstream serves at a fixed name, relative to
// its base URL, and the most that is read of each.
const (
	AscPath = "repodata/repomd.xml.asc"
	KeyPath = "repodata/repomd.xml.key"

	// MaxRepomdSize bounds what is read of a repomd.xml (and its .asc and
	// .key): real ones are a few kilobytes.
	MaxRepomdSize = repodata.MaxRepomdSize
	// MaxListSize bounds what is read of a metalink or mirrorlist.
	MaxListSize = 4 << 20
	// repomdAttempts is how often Read starts over when repomd.xml
	// changes while it and its signature are read.
	repomdAttempts = 3
)

// Kind says where a Source's upstreams come from.
type Kind string

// The kinds of origin, as mirrors.yaml names them.
const (
	KindList       Kind = "origin"
	KindMetalink   Kind = "origin_metalink"
	KindMirrorlist Kind = "origin_mirrorlist"
)

// Upstream is one place the origin is served from.
type Upstream struct {
	URL string // base URL ending in "/"
	// Primary is the upstream origin_auth_file's credentials go to: the
	// first of origin's URLs (never one taken from a metalink or
	// mirrorlist).
	Primary bool
	// Local, set by UseLocal alone, names the written mirror on this
	// machine a revision is taken from when no upstream is usable; URL
	// is "" then.
	Local string
}

// Snapshot is one upstream's repomd.xml, with repomd.xml.asc and
// repomd.xml.key when it serves them (nil otherwise), read consistently:
// repomd.xml was the same before and after its signature was read.
type Snapshot struct {
	Upstream         *Upstream
	Repomd, Asc, Key []byte
	MD               *repodata.Repomd
	SHA256           string // hex digest of Repomd
}

// State is what a sync made of one upstream.
type State string

// The states an upstream ends a sync in.
const (
	// Used: the sync's metadata came from this upstream.
	Used State = "used"
	// SameRevision: it serves the revision in use, and files were (or
	// could have been) fetched from it after the used one failed them.
	SameRevision State = "same revision"
	// OtherRevision: it serves another revision; nothing was taken from it.
	OtherRevision State = "other revision"
	// Skipped: it failed; Status.Err says why.
	Skipped State = "skipped"
	// NotTried: an earlier upstream was used, and this one was not needed.
	NotTried State = "not tried"
)

// Status is what a sync made of one upstream, for its report.
type Status struct {
	URL      string // redacted
	State    State
	Revision string // <revision> it served, when read
	Files    int    // files fetched from it
	Err      error  // why it was skipped, or why fetching from it failed
}

// Options configure a Source.
type Options struct {
	// Fetcher makes every request; the Source adds the repo's TLS
	// settings and credentials to it.
	Fetcher *fetch.Fetcher
	Logger  *slog.Logger
}

// Source is the origin of one repository. It is safe for concurrent use.
type Source struct {
	*core
	fetcher *fetch.Fetcher
}

// core is what the Sources CountingTo returns share.
type core struct {
	kind      Kind
	listURL   string // metalink or mirrorlist URL; "" for KindList
	log       *slog.Logger
	metalink  *Metalink
	upstreams []*Upstream
	bytes     atomic.Int64

	mu     gosync.Mutex
	status []Status
	chosen *Snapshot
	// same caches, per upstream, whether it serves the chosen revision:
	// 0 not known yet, 1 yes, -1 no (or unreachable).
	same []int
}

// Configured returns the Source of repo without fetching anything: for
// origin_metalink and origin_mirrorlist its upstreams are known only
// after Open (or Load).
func Configured(repo *config.Repo, opts Options) (*Source, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	f, err := WithTLS(opts.Fetcher, repo, opts.Logger)
	if err != nil {
		return nil, err
	}
	s := &Source{core: &core{kind: KindList, log: opts.Logger}, fetcher: f}
	user, pass, err := repo.OriginAuth()
	if err != nil {
		return nil, err
	}
	switch {
	case repo.OriginMetalink != "":
		s.kind, s.listURL = KindMetalink, repo.OriginMetalink
	case repo.OriginMirrorlist != "":
		s.kind, s.listURL = KindMirrorlist, repo.OriginMirrorlist
	default:
		for i, u := range repo.OriginURLs() {
			s.upstreams = append(s.upstreams, &Upstream{URL: u, Primary: i == 0})
		}
	}
	if user != "" {
		prefix := s.listURL
		if prefix == "" && len(s.upstreams) > 0 {
			prefix = s.upstreams[0].URL
		}
		s.fetcher = s.fetcher.WithAuth(prefix, user, pass)
	}
	s.reset()
	return s, nil
}

// Open returns the Source of repo with its upstreams: for origin_metalink
// and origin_mirrorlist, the list is fetched and read now. When it cannot
// be, the error is a *NoUsableUpstreamError (the sync is skipped, not
// failed); a configuration problem (an unreadable origin_auth_file or
// ca_file) is returned as it is.
func Open(ctx context.Context, repo *config.Repo, opts Options) (*Source, error) {
	s, err := Configured(repo, opts)
	if err != nil {
		return nil, err
	}
	if err := s.Load(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Load fetches the metalink or mirrorlist again and takes the upstreams
// it lists; for an origin that lists its upstreams itself it does
// nothing.
func (s *Source) Load(ctx context.Context) error {
	if s.kind == KindList {
		return nil
	}
	what := "metalink"
	if s.kind == KindMirrorlist {
		what = "mirrorlist"
	}
	fail := func(stage Stage, op string, err error) error {
		return &NoUsableUpstreamError{Errs: []*UpstreamError{{URL: fetch.Redact(s.listURL), Op: op, Stage: stage, Err: err}}}
	}
	b, err := s.fetcher.FetchBytes(ctx, s.listURL, MaxListSize)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fail(StageFetch, "fetching the "+what, err)
	}
	s.bytes.Add(int64(len(b)))
	var urls []string
	var ml *Metalink
	if s.kind == KindMetalink {
		if ml, err = ParseMetalink(b); err != nil {
			return fail(StageParse, "reading the "+what, err)
		}
		urls = ml.Upstreams
	} else {
		urls = ParseMirrorlist(b)
	}
	if len(urls) == 0 {
		return fail(StageParse, "reading the "+what, errors.New("it lists no http or https URL"))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.metalink = ml
	s.upstreams = nil
	for _, u := range urls {
		s.upstreams = append(s.upstreams, &Upstream{URL: u})
	}
	s.resetLocked()
	return nil
}

func (s *Source) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resetLocked()
}

func (s *Source) resetLocked() {
	s.status = make([]Status, len(s.upstreams))
	for i, u := range s.upstreams {
		s.status[i] = Status{URL: fetch.Redact(u.URL), State: NotTried}
	}
	s.same = make([]int, len(s.upstreams))
	s.chosen = nil
}

// CountingTo returns a Source like s, sharing its upstreams and what
// became of them, whose requests also add every byte received to c (see
// fetch.Fetcher.CountingTo).
func (s *Source) CountingTo(c *atomic.Int64) *Source {
	return &Source{core: s.core, fetcher: s.fetcher.CountingTo(c)}
}

// Kind says where the upstreams come from.
func (s *Source) Kind() Kind { return s.kind }

// Upstreams returns the upstreams, in the order they are tried.
func (s *Source) Upstreams() []*Upstream {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Upstream(nil), s.upstreams...)
}

// Metalink returns what the metalink says, or nil for another kind of
// origin.
func (s *Source) Metalink() *Metalink {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.metalink
}

// Bytes returns the bytes read so far of lists and repomd.xml files
// (what File fetches is counted by its return value).
func (s *Source) Bytes() int64 { return s.bytes.Load() }

// Status returns what became of each upstream so far, in order.
func (s *Source) Status() []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Status(nil), s.status...)
}

func (s *Source) index(u *Upstream) int {
	for i, v := range s.upstreams {
		if v == u {
			return i
		}
	}
	return -1
}

func (s *Source) setStatus(u *Upstream, f func(*Status)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := s.index(u); i >= 0 {
		f(&s.status[i])
	}
}

// upstreamErr wraps err as an error of upstream u, failed at stage.
func upstreamErr(u *Upstream, stage Stage, op string, err error) *UpstreamError {
	var ue *UpstreamError
	if errors.As(err, &ue) && ue.URL == fetch.Redact(u.URL) {
		return ue
	}
	return &UpstreamError{URL: fetch.Redact(u.URL), Op: op, Stage: stage, Err: err}
}

// Read reads u's repomd.xml and, when u has them, its detached signature
// and key. repomd.xml is read again after them, and everything is read
// again (up to three times) when it changed: a signature read while the
// upstream published is never paired with another revision. With a
// metalink, repomd.xml must match it. Errors are *UpstreamError.
func (s *Source) Read(ctx context.Context, u *Upstream) (*Snapshot, error) {
	for attempt := 1; ; attempt++ {
		snap, err := s.readOnce(ctx, u)
		if err != nil {
			return nil, err
		}
		if snap.Asc == nil {
			return snap, s.checkMetalink(u, snap.Repomd)
		}
		again, err := s.fetcher.FetchBytes(ctx, u.URL+RepomdPath, MaxRepomdSize)
		if err != nil {
			return nil, upstreamErr(u, StageFetch, "fetching "+RepomdPath, err)
		}
		s.bytes.Add(int64(len(again)))
		if bytes.Equal(again, snap.Repomd) {
			return snap, s.checkMetalink(u, snap.Repomd)
		}
		if attempt == repomdAttempts {
			return nil, upstreamErr(u, StageParse, "reading "+RepomdPath, fmt.Errorf("it changed %d times while it and its signature were read: not publishing a signature that may belong to another revision; the next sync will try again", repomdAttempts))
		}
		s.log.Info("an upstream published a new revision while it was being read; reading it again", "upstream", fetch.Redact(u.URL))
	}
}

func (s *Source) checkMetalink(u *Upstream, repomd []byte) error {
	s.mu.Lock()
	ml := s.metalink
	s.mu.Unlock()
	if ml == nil {
		return nil
	}
	if err := ml.Check(repomd); err != nil {
		return upstreamErr(u, StageMetalink, "checking "+RepomdPath+" against the metalink", err)
	}
	return nil
}

func (s *Source) readOnce(ctx context.Context, u *Upstream) (*Snapshot, error) {
	b, err := s.fetcher.FetchBytes(ctx, u.URL+RepomdPath, MaxRepomdSize)
	if err != nil {
		return nil, upstreamErr(u, StageFetch, "fetching "+RepomdPath, err)
	}
	s.bytes.Add(int64(len(b)))
	md, err := repodata.ParseRepomd(b)
	if err != nil {
		return nil, upstreamErr(u, StageParse, "reading "+RepomdPath, err)
	}
	snap := &Snapshot{Upstream: u, Repomd: b, MD: md, SHA256: sha256Hex(b)}
	// The signature and the key are read at once, both after repomd.xml
	// (which Read reads again after them): a round trip less a sync.
	opts := []struct {
		path string
		dst  *[]byte
	}{{AscPath, &snap.Asc}, {KeyPath, &snap.Key}}
	errs := make([]error, len(opts))
	var wg gosync.WaitGroup
	for i, opt := range opts {
		wg.Go(func() {
			b, err := s.fetcher.FetchBytes(ctx, u.URL+opt.path, MaxRepomdSize)
			if errors.Is(err, fetch.ErrNotFound) {
				return
			}
			if err != nil {
				errs[i] = upstreamErr(u, StageFetch, "fetching "+opt.path, err)
				return
			}
			s.bytes.Add(int64(len(b)))
			*opt.dst = b
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return snap, nil
}

// Choose reads the upstreams in order and returns the first Snapshot that
// reads consistently, matches the metalink and that accept (when not nil)
// returns nil for. An upstream that fails is skipped for the next (its
// Status says why). With none usable it returns a *NoUsableUpstreamError;
// when ctx ends, ctx's error.
func (s *Source) Choose(ctx context.Context, accept func(*Snapshot) error) (*Snapshot, error) {
	s.reset()
	var errs []*UpstreamError
	for _, u := range s.Upstreams() {
		snap, err := s.Read(ctx, u)
		if err == nil && accept != nil {
			if aerr := accept(snap); aerr != nil {
				err = upstreamErr(u, StageAccept, "checking "+RepomdPath, aerr)
			}
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil {
			ue := upstreamErr(u, StageParse, "reading "+RepomdPath, err)
			errs = append(errs, ue)
			s.setStatus(u, func(st *Status) {
				st.State, st.Err = Skipped, ue
				if snap != nil {
					st.Revision = snap.MD.Revision
				}
			})
			if len(s.upstreams) > 1 {
				s.log.Warn("upstream skipped", "upstream", fetch.Redact(u.URL), "err", ue.Err)
			}
			continue
		}
		s.mu.Lock()
		s.chosen = snap
		i := s.index(u)
		s.status[i].State, s.status[i].Revision = Used, snap.MD.Revision
		s.same[i] = 1
		s.mu.Unlock()
		if len(errs) > 0 {
			s.log.Info("syncing from a later upstream", "upstream", fetch.Redact(u.URL), "skipped", len(errs))
		}
		return snap, nil
	}
	return nil, &NoUsableUpstreamError{Errs: errs}
}

// UseLocal makes snap the chosen revision after Choose found no usable
// upstream: a revision rpmirror verified, served by the written mirror on
// this machine that snap.Upstream.Local names (snap.Upstream.URL is ""),
// so that the mirrors behind can be brought to it while the origin is
// down. Every file then comes from that mirror: File checks what the
// caller put at its destination as it checks a download, and fetches
// nothing. The upstreams' Status stays as Choose left it.
func (s *Source) UseLocal(snap *Snapshot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chosen = snap
}

// URL returns the URL of a file that the chosen revision lists at href,
// with xml:base base ("" for none): under base when there is one, else
// under the upstream the metadata came from.
func (s *Source) URL(href, base string) string {
	if base != "" {
		return HrefURL(strings.TrimSuffix(base, "/")+"/", href)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.chosen == nil {
		return HrefURL(s.upstreams[0].URL, href)
	}
	return HrefURL(s.chosen.Upstream.URL, href)
}

// HrefURL returns the URL of the file metadata locates at href (a
// <location href>, a path relative to the repository) under dir, a URL
// ending in "/". Each element of href is percent-escaped (url.PathEscape),
// as dnf's librepo does: the file named "foo%41.rpm", "a#b.rpm" or
// "x.rpm?y" is asked for by that name, not as "fooA.rpm", "a" or "x.rpm"
// with a query.
func HrefURL(dir, href string) string {
	var b strings.Builder
	b.Grow(len(dir) + len(href) + 8)
	b.WriteString(dir)
	for i, el := range strings.Split(href, "/") {
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(url.PathEscape(el))
	}
	return b.String()
}

// File downloads the file that the chosen revision lists at href (with
// xml:base base, "" for none) to dst, as fetch.Fetcher.File does, with
// check deciding whether the bytes are the file. It tries the upstream
// Choose picked first; when that fails, each next upstream serving the
// same revision (byte-identical repomd.xml, read once per sync), in
// order. A file under an xml:base comes from there alone. It returns the
// bytes transferred; its error, when every upstream failed, names each.
//
// After UseLocal, File fetches nothing: the file must be at dst already,
// put there by the caller from the mirror, and pass check; it returns a
// *LocalFileError otherwise.
func (s *Source) File(ctx context.Context, href, base, dst string, size int64, check fetch.Check) (int64, error) {
	s.mu.Lock()
	chosen := s.chosen
	s.mu.Unlock()
	if chosen != nil && chosen.Upstream.Local != "" {
		if err := fetch.CheckFile(dst, size, check); err != nil {
			// The cache's link or copy, never the mirror's file: the
			// next sync exports it again (once the mirror is mended).
			if rerr := os.Remove(dst); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
				err = errors.Join(err, rerr)
			}
			return 0, &LocalFileError{Mirror: chosen.Upstream.Local, Href: href, Err: err}
		}
		return 0, nil
	}
	if base != "" {
		return s.fetcher.File(ctx, s.URL(href, base), dst, size, check)
	}
	if chosen == nil {
		return 0, errors.New("source: File called before Choose")
	}
	var total int64
	var errs []error
	var from []string
	for u := chosen.Upstream; u != nil; {
		n, err := s.fetcher.File(ctx, HrefURL(u.URL, href), dst, size, check)
		total += n
		if err == nil {
			s.setStatus(u, func(st *Status) { st.Files++ })
			return total, nil
		}
		if ctx.Err() != nil {
			return total, err
		}
		errs, from = append(errs, err), append(from, fetch.Redact(u.URL))
		next := s.nextSame(ctx, u)
		if next != nil {
			// Not said of the last (an operator tester's log said
			// "trying the next" with none left).
			s.log.Warn("fetching from an upstream failed; trying the next serving the same revision", "upstream", fetch.Redact(u.URL), "file", href, "err", err)
		}
		u = next
	}
	if len(errs) == 1 {
		return total, errs[0]
	}
	return total, &allFailedError{errs: errs, from: from}
}

// AnyFile downloads href (with xml:base base, "" for none: a file under
// an xml:base comes from there alone) from the first upstream, in order,
// whose file check accepts: for a caller that knows what the file must be (a repair
// of a revision a mirror serves, checked against that mirror's metadata),
// whichever revision each upstream serves now. Errors name each upstream
// tried.
func (s *Source) AnyFile(ctx context.Context, href, base, dst string, size int64, check fetch.Check) (int64, error) {
	if base != "" {
		return s.fetcher.File(ctx, s.URL(href, base), dst, size, check)
	}
	var total int64
	var errs []error
	for _, u := range s.Upstreams() {
		n, err := s.fetcher.File(ctx, HrefURL(u.URL, href), dst, size, check)
		total += n
		if err == nil {
			return total, nil
		}
		if ctx.Err() != nil {
			return total, err
		}
		errs = append(errs, upstreamErr(u, StageFetch, "fetching "+href, err))
	}
	switch len(errs) {
	case 0:
		return total, &NoUsableUpstreamError{}
	case 1:
		return total, errs[0]
	}
	return total, &allFailedError{errs: errs}
}

// allFailedError is a file every upstream serving the revision failed.
// from, when set, are the (redacted) upstreams errs are of, in order,
// for errors that do not name theirs (an operator tester's read "server
// answered 403 Forbidden; server answered 403 Forbidden", not which
// upstream said what).
type allFailedError struct {
	errs []error
	from []string
}

func (e *allFailedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "every upstream serving this revision failed (%d): ", len(e.errs))
	for i, err := range e.errs {
		if i > 0 {
			b.WriteString("; ")
		}
		if i < len(e.from) {
			b.WriteString(e.from[i] + ": ")
		}
		b.WriteString(err.Error())
	}
	return b.String()
}

func (e *allFailedError) Unwrap() []error { return e.errs }

// nextSame returns the first upstream after u that serves the chosen
// revision, reading the repomd.xml of those not asked yet, or nil.
func (s *Source) nextSame(ctx context.Context, u *Upstream) *Upstream {
	s.mu.Lock()
	start := s.index(u) + 1
	ups := s.upstreams
	want := s.chosen.SHA256
	s.mu.Unlock()
	for i := start; i < len(ups) && ctx.Err() == nil; i++ {
		s.mu.Lock()
		known := s.same[i]
		s.mu.Unlock()
		if known == 0 {
			known = -1
			b, err := s.fetcher.FetchBytes(ctx, ups[i].URL+RepomdPath, MaxRepomdSize)
			s.bytes.Add(int64(len(b)))
			rev := ""
			if md, perr := repodata.ParseRepomd(b); perr == nil {
				rev = md.Revision
			}
			s.mu.Lock()
			switch {
			case err != nil:
				if s.status[i].State == NotTried {
					s.status[i].State, s.status[i].Err = Skipped, upstreamErr(ups[i], StageFetch, "fetching "+RepomdPath, err)
				}
			case sha256Hex(b) == want:
				known = 1
				s.status[i].State, s.status[i].Revision = SameRevision, rev
			default:
				if s.status[i].State == NotTried {
					s.status[i].State, s.status[i].Revision = OtherRevision, rev
				}
			}
			s.same[i] = known
			s.mu.Unlock()
		}
		if known == 1 {
			return ups[i]
		}
	}
	return nil
}

// Probe reads u's repomd.xml once, without the signature, as a health
// probe does, and checks it against the metalink. Errors are
// *UpstreamError.
func (s *Source) Probe(ctx context.Context, u *Upstream) ([]byte, *repodata.Repomd, error) {
	b, err := s.fetcher.FetchBytes(ctx, u.URL+RepomdPath, MaxRepomdSize)
	if err != nil {
		return nil, nil, upstreamErr(u, StageFetch, "fetching "+RepomdPath, err)
	}
	md, err := repodata.ParseRepomd(b)
	if err != nil {
		return b, nil, upstreamErr(u, StageParse, "reading "+RepomdPath, err)
	}
	if err := s.checkMetalink(u, b); err != nil {
		return b, md, err
	}
	return b, md, nil
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// WithTLS returns f, or a Fetcher with the repo's TLS settings: its CA
// file, or no verification at all with insecure, which is logged as a
// warning every time.
func WithTLS(f *fetch.Fetcher, repo *config.Repo, log *slog.Logger) (*fetch.Fetcher, error) {
	if repo.TLS.CAFile == "" && !repo.TLS.Insecure {
		return f, nil
	}
	var roots *x509.CertPool
	if repo.TLS.CAFile != "" {
		pem, err := os.ReadFile(repo.TLS.CAFile)
		if err != nil {
			return nil, fmt.Errorf("reading tls ca_file: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls ca_file %s holds no PEM certificate", repo.TLS.CAFile)
		}
	}
	if repo.TLS.Insecure {
		log.Warn("TLS certificate verification is OFF for this origin (tls: insecure: true): anyone on the path can impersonate it; only checksums and signatures protect this mirror", "origin", fetch.Redact(repo.OriginDesc()))
	}
	return f.WithTLS(roots, repo.TLS.Insecure), nil
}
