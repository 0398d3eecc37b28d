package server

import (
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rpmirror/rpmirror/geo"
	"github.com/rpmirror/rpmirror/mirrorlist"
	"github.com/rpmirror/rpmirror/selection"
	"github.com/rpmirror/rpmirror/target"
)

// Repo is what the mirror routes answer for one repository, prepared
// whenever probes or syncs change it, so that a request only orders the
// candidates for its client and copies bytes.
type Repo struct {
	// Set holds the candidate mirrors: those that may be listed.
	Set *selection.Set
	// Lists renders the mirrorlist and metalink of the candidates of Set
	// (the same indices), and what to answer when none is left.
	Lists *mirrorlist.Template
	// Files answers redirects; nil answers every /r/ request with 404.
	Files Files
	// Snapshots answers ?snapshot=NAME and /snapshots.json; nil when the
	// repository keeps no snapshots.
	Snapshots *Snapshots
	// Elsewhere is what a request with ?protocol= is answered when no
	// candidate is left and the last resort Lists falls back to (the
	// origin) is not of that protocol: a client that asked for https is
	// not sent to an http origin (a failover test with dnf). Its Scheme
	// is the origin's; zero when Lists' fallback lists nothing. With
	// Any set, it answers a request for any protocol that leaves no
	// candidate while others are listed (Lists' fallback listing
	// nothing, its comment would say why no mirror at all is listed).
	Elsewhere Elsewhere
}

// Elsewhere is what a repository's lists answer a request for another
// protocol than its fallback's (Repo.Elsewhere).
type Elsewhere struct {
	Scheme         string // "http" or "https"; "" for none
	Any            bool   // for a request of any protocol (Repo.Elsewhere)
	Text, Metalink []byte
}

// elsewhere reports whether a request for protocol, whose order names no
// candidate Lists would list, is answered with Elsewhere.
func (r *Repo) elsewhere(protocol selection.Protocol, order []int) bool {
	if protocol == "" || r.Lists.Lists(order) {
		return false
	}
	return r.Elsewhere.Any || (r.Elsewhere.Scheme != "" && string(protocol) != r.Elsewhere.Scheme)
}

// Files is what redirects need to know of a repository's candidates.
// Implementations must be safe for concurrent use, and must not keep a
// path they are given past the call: it may alias the HTTP server's
// request buffer, which the next request reuses.
type Files interface {
	// Serves reports whether candidate i (an index of Set) serves path
	// with the content the current revision has there, or, for a path the
	// current revision does not have, serves it at all. path is clean and
	// relative (target.CheckPath accepts it).
	Serves(i int, path string) bool
	// Base returns candidate i's base URL, ending in "/" (or holding a
	// query string).
	Base(i int) string
	// Origin returns the base URL of the origin when clients may be sent
	// there for path (it serves a verified revision holding it), else "".
	Origin(path string) string
}

// Live holds a repository's current Repo; the daemon swaps it, requests
// read it.
type Live struct {
	atomic.Pointer[Repo]
	// metalinkAt is when a metalink of the repository was last answered,
	// in Unix nanoseconds (MetalinkServedAt).
	metalinkAt atomic.Int64
}

// MetalinkServedAt returns when a metalink of the repository (of its
// current revision, not a snapshot's) was last answered; zero when none
// was. A client that fetched it may still be about to fetch the
// repomd.xml it describes: the daemon holds a publish back for such
// clients (daemon's metalinkGrace).
func (l *Live) MetalinkServedAt() time.Time {
	if n := l.metalinkAt.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// Mirrors is every repository the mirror routes serve: how clients name
// them and what each currently answers, Catalog entry i's in Live[i].
type Mirrors struct {
	Catalog *Catalog
	Live    []*Live
}

// Selection configures how the mirror routes pick mirrors for a client.
type Selection struct {
	// TrustedProxies are the proxies whose X-Forwarded-For is believed
	// (see selection.ClientAddr).
	TrustedProxies []netip.Prefix
	// GeoIP places clients in a country; nil places none.
	GeoIP *geo.DB
	// AccessLog receives a line per request; nil writes none.
	AccessLog *AccessLog
	// Metrics counts requests; nil counts none.
	Metrics *Metrics
}

// Kinds of mirror requests, as metrics and the access log name them.
const (
	KindMirrorlist = "mirrorlist"
	KindMetalink   = "metalink"
	KindRedirect   = "redirect"
)

type mirrorRoutes struct {
	src Source
	sel Selection
}

// mirrorRequest is a mirror request as the routes read it, whichever
// HTTP server received it: the front-ends (mirrorRoutes.list and
// redirect for net/http, fastList and fastRedirect for fasthttp) fill it
// in, the core (answerList, answerRedirect) answers it into an answer,
// and the front-end writes that out. Its strings may alias the server's
// buffers: nothing keeps them past the request.
type mirrorRequest struct {
	head     bool       // HEAD: the answer is written without its body
	client   netip.Addr // the client, as trusted_proxies decided
	rawQuery string     // the query string, undecoded
	path     string     // redirects: the path after /r/, unescaped
	uri      string     // path and query as requested; set only for the access log
}

// answer is what the core answers a mirror request with; the front-end
// writes it with its own server's calls.
type answer struct {
	status      int
	contentType string // "" for none (a redirect)
	noCache     bool   // Cache-Control: no-cache
	nosniff     bool   // X-Content-Type-Options: nosniff, as http.Error sends it
	location    string
	// body holds the answer's bytes, appended to the buffer the
	// front-end passes in (a pooled one, or fasthttp's own).
	body []byte
}

// fail makes a an error answer, as http.Error writes it.
func (a *answer) fail(status int, msg string) {
	a.status, a.contentType, a.nosniff = status, contentText, true
	a.body = append(append(a.body[:0], msg...), '\n')
}

// request is what one mirror request found out, for metrics and the log.
type request struct {
	start    time.Time
	client   selection.Client
	repo     string // configuration name, "" when not found
	kind     string
	status   int
	location string
}

var (
	orderPool = sync.Pool{New: func() any { b := make([]int, 0, 64); return &b }}
	bodyPool  = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}
)

// Content types of the mirror routes' answers.
const (
	contentText     = "text/plain; charset=utf-8"
	contentMetalink = "application/metalink+xml"
)

// Header values of the lists, shared by every answer (net/http copies
// them when it writes the header; nothing changes them).
var (
	textType     = []string{contentText}
	metalinkType = []string{contentMetalink}
	noCache      = []string{"no-cache"}
	nosniff      = []string{"nosniff"}
)

// contentLengths holds the Content-Length values of the list sizes seen
// so far, each made once.
var contentLengths [16 << 10]atomic.Pointer[[]string]

// contentLength returns the header value of a body of n bytes.
func contentLength(n int) []string {
	if n >= len(contentLengths) {
		return []string{strconv.Itoa(n)}
	}
	if v := contentLengths[n].Load(); v != nil {
		return *v
	}
	v := []string{strconv.Itoa(n)}
	contentLengths[n].Store(&v)
	return v
}

// now returns the time a request starts, for the access log; the zero
// Time when there is none (reading the clock costs every request).
func (m *mirrorRoutes) now() time.Time {
	if m.sel.AccessLog == nil {
		return time.Time{}
	}
	return time.Now()
}

// wall returns when the request started, reading the clock if now did
// not (no access log).
func (rq *request) wall() time.Time {
	if rq.start.IsZero() {
		return time.Now()
	}
	return rq.start
}

// locate returns the client with its location, from ?country= when that
// is a known code, else GeoIP.
func (m *mirrorRoutes) locate(addr netip.Addr, country string) selection.Client {
	c := selection.Client{Addr: addr}
	if loc, ok := geo.At(country); ok {
		c.Location = loc
	} else {
		c.Location = m.sel.GeoIP.Lookup(c.Addr)
	}
	return c
}

// parseProtocol reads ?protocol=, in any case as ?country= is.
func parseProtocol(s string) (selection.Protocol, bool) {
	switch {
	case s == "":
		return "", true
	case strings.EqualFold(s, "http"):
		return "http", true
	case strings.EqualFold(s, "https"):
		return "https", true
	}
	return "", false
}

// httpRequest describes r for the core.
func (m *mirrorRoutes) httpRequest(r *http.Request) mirrorRequest {
	req := mirrorRequest{
		head:     r.Method == http.MethodHead,
		client:   selection.ClientAddr(r.RemoteAddr, r.Header["X-Forwarded-For"], m.sel.TrustedProxies),
		rawQuery: r.URL.RawQuery,
	}
	if m.sel.AccessLog != nil {
		req.uri = r.URL.RequestURI()
	}
	return req
}

// writeHTTP writes a with net/http. Header values are shared, prepared
// slices, set with their canonical keys: no request allocates them.
func writeHTTP(w http.ResponseWriter, req *mirrorRequest, a *answer) {
	h := w.Header()
	switch a.contentType {
	case contentText:
		h["Content-Type"] = textType
	case contentMetalink:
		h["Content-Type"] = metalinkType
	}
	if a.nosniff {
		h["X-Content-Type-Options"] = nosniff
	}
	if a.noCache {
		h["Cache-Control"] = noCache
	}
	if a.location != "" {
		h.Set("Location", a.location)
	} else {
		h["Content-Length"] = contentLength(len(a.body))
	}
	if a.status != http.StatusOK {
		w.WriteHeader(a.status)
	}
	if !req.head && len(a.body) > 0 {
		w.Write(a.body)
	}
}

// list answers /mirrorlist and /metalink through net/http.
func (m *mirrorRoutes) list(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		req := m.httpRequest(r)
		bp := bodyPool.Get().(*[]byte)
		a := answer{body: (*bp)[:0]}
		m.answerList(kind, &req, &a)
		writeHTTP(w, &req, &a)
		if *bp = a.body; cap(a.body) <= 1<<20 {
			bodyPool.Put(bp)
		}
	}
}

// answerList answers a /mirrorlist or /metalink request: the list of
// the candidates in the client's order; errors as the issue names them.
// It counts and logs the request.
func (m *mirrorRoutes) answerList(kind string, req *mirrorRequest, a *answer) {
	q := parseQuery(req.rawQuery)
	rq := request{start: m.now(), kind: kind, client: m.locate(req.client, q.Get("country"))}
	defer m.done(req, &rq, a)
	name, arch := q.Get("repo"), q.Get("arch")
	if name == "" {
		rq.status = http.StatusBadRequest
		a.fail(rq.status, "missing ?repo=NAME (and &arch=ARCH)")
		return
	}
	protocol, ok := parseProtocol(q.Get("protocol"))
	if !ok {
		rq.status = http.StatusBadRequest
		a.fail(rq.status, "protocol: want http or https")
		return
	}
	ms := m.src.Mirrors()
	i, ok := ms.Catalog.Find(name, arch)
	if !ok {
		rq.status = http.StatusNotFound
		m.notFound(a, ms.Catalog, name, arch, kind)
		return
	}
	rq.repo = ms.Catalog.Entry(i).Name
	m.countme(rq.repo, q.Get("countme"))
	if kind == KindMetalink && q.Get("snapshot") == "" {
		// Before the lists are read: a sync that swaps them in between
		// and then looks (the daemon's metalink grace) sees this client.
		ms.Live[i].metalinkAt.Store(rq.wall().UnixNano())
	}
	repo := ms.Live[i].Load()
	if repo == nil {
		rq.status = http.StatusServiceUnavailable
		a.fail(rq.status, "starting up: try again in a moment")
		return
	}

	op := orderPool.Get().(*[]int)
	order := repo.Set.Order((*op)[:0], rq.client, protocol, nil)
	if snap := q.Get("snapshot"); snap != "" {
		m.snapshotList(a, &rq, repo, order, snap)
	} else {
		switch {
		case kind == KindMetalink && repo.elsewhere(protocol, order):
			a.body, a.contentType = append(a.body[:0], repo.Elsewhere.Metalink...), contentMetalink
		case kind == KindMetalink:
			a.body = repo.Lists.AppendMetalink(a.body[:0], order)
			a.contentType = contentMetalink
		case repo.elsewhere(protocol, order):
			a.body, a.contentType = append(a.body[:0], repo.Elsewhere.Text...), contentText
		default:
			a.body = repo.Lists.AppendText(a.body[:0], order)
			a.contentType = contentText
		}
		a.status, a.noCache = http.StatusOK, true
		rq.status = a.status
	}
	*op = order
	orderPool.Put(op)
}

// notFound answers 404 for an unknown repo and arch, listing the valid
// pairs as comments: in a text document for a mirrorlist or a redirect,
// in an XML comment of an empty metalink for a metalink.
func (m *mirrorRoutes) notFound(a *answer, c *Catalog, name, arch, kind string) {
	body := c.notFound(name, arch)
	a.status = http.StatusNotFound
	if kind == KindMetalink {
		a.contentType = contentMetalink
		a.body = append(a.body[:0], `<?xml version="1.0" encoding="utf-8"?>`+"\n"+
			`<metalink version="3.0" xmlns="`+mirrorlist.MetalinkNS+`" type="dynamic" generator="`+mirrorlist.Generator+`">`+"\n"+
			"<!--\n"...)
		a.body = append(append(a.body, body...), "-->\n</metalink>\n"...)
	} else {
		a.contentType = contentText
		a.body = append(a.body[:0], body...)
	}
}

// redirect answers GET /r/REPO/PATH and /r/REPO/ARCH/PATH through
// net/http.
func (m *mirrorRoutes) redirect(w http.ResponseWriter, r *http.Request) {
	req := m.httpRequest(r)
	req.path = r.PathValue("path")
	bp := bodyPool.Get().(*[]byte)
	a := answer{body: (*bp)[:0]}
	m.answerRedirect(&req, &a)
	writeHTTP(w, &req, &a)
	if *bp = a.body; cap(a.body) <= 1<<20 {
		bodyPool.Put(bp)
	}
}

// answerRedirect answers /r/REPO/PATH and /r/REPO/ARCH/PATH with a 302
// to the best mirror for the client that serves PATH as the current
// revision has it; to the origin when no candidate does and the origin
// may be used; else 404. It counts and logs the request.
func (m *mirrorRoutes) answerRedirect(req *mirrorRequest, a *answer) {
	q := parseQuery(req.rawQuery)
	rq := request{start: m.now(), kind: KindRedirect, client: m.locate(req.client, q.Get("country"))}
	defer m.done(req, &rq, a)
	protocol, ok := parseProtocol(q.Get("protocol"))
	if !ok {
		rq.status = http.StatusBadRequest
		a.fail(rq.status, "protocol: want http or https")
		return
	}
	ms := m.src.Mirrors()
	name, rest, _ := strings.Cut(req.path, "/")
	i, found := -1, false
	if arch, after, ok := strings.Cut(rest, "/"); ok && arch != "" {
		if j, ok := ms.Catalog.FindExact(name, arch); ok {
			i, found, rest = j, true, after
		}
	}
	if !found {
		i, found = ms.Catalog.Find(name, "")
	}
	if !found {
		rq.status = http.StatusNotFound
		m.notFound(a, ms.Catalog, name, "", KindRedirect)
		return
	}
	rq.repo = ms.Catalog.Entry(i).Name
	if err := target.CheckPath(rest); err != nil {
		rq.status = http.StatusBadRequest
		a.fail(rq.status, "not a file of the repository: "+clean(rest))
		return
	}
	if rest == repomdPath {
		// What libdnf adds countme to with a baseurl: a countme on
		// another file (a package) is no system's weekly count.
		m.countme(rq.repo, q.Get("countme"))
	}
	repo := ms.Live[i].Load()
	if repo != nil && repo.Files != nil {
		op := orderPool.Get().(*[]int)
		order := repo.Set.Order((*op)[:0], rq.client, protocol, nil)
		for _, c := range order {
			if repo.Files.Serves(c, rest) {
				rq.location = join(repo.Files.Base(c), rest)
				break
			}
		}
		*op = order
		orderPool.Put(op)
		if rq.location == "" {
			// The origin, as a last resort, only over the protocol asked.
			if o := repo.Files.Origin(rest); o != "" && (protocol == "" || hasScheme(o, string(protocol))) {
				rq.location = join(o, rest)
			}
		}
	}
	if rq.location == "" {
		rq.status = http.StatusNotFound
		a.fail(rq.status, "no mirror serves "+clean(rest)+" of "+rq.repo)
		return
	}
	rq.status = http.StatusFound
	a.status, a.location, a.noCache, a.body = rq.status, rq.location, true, a.body[:0]
}

// hasScheme reports whether the URL u has the scheme s, in any case.
func hasScheme(u, s string) bool {
	return len(u) > len(s)+3 && strings.EqualFold(u[:len(s)], s) && u[len(s):len(s)+3] == "://"
}

// join appends the relative path p, escaped, to base, before its query
// string if it has one.
func join(base, p string) string {
	escaped := (&url.URL{Path: p}).EscapedPath()
	if i := strings.IndexByte(base, '?'); i >= 0 {
		b := base[:i]
		if !strings.HasSuffix(b, "/") {
			b += "/"
		}
		return b + escaped + base[i:]
	}
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	return base + escaped
}

// escaped reports whether v holds a '%' or '+', which a query value
// needs unescaped. A loop over bytes: strings.ContainsAny decodes runes,
// and every parameter of every request passes here.
func escaped(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] == '%' || v[i] == '+' {
			return true
		}
	}
	return false
}

// repomdPath is the path of a repository's repomd.xml, the one file of
// a redirect whose countme=N is counted.
const repomdPath = "repodata/repomd.xml"

// countmeBuckets are libdnf's countme values.
var countmeBuckets = [...]string{"1", "2", "3", "4"}

// countme counts dnf's weekly countme=N (1..4: how long the system has
// existed, in libdnf's buckets) per repository.
func (m *mirrorRoutes) countme(repo, bucket string) {
	if bucket == "" || m.sel.Metrics == nil {
		return
	}
	// The label is one of the constants, never the request's string,
	// which may alias a buffer the server reuses.
	for _, b := range countmeBuckets {
		if bucket == b {
			m.sel.Metrics.countme.WithLabelValues(repo, b).Inc()
			return
		}
	}
}

// done counts and logs a finished request, answered with a: the bytes
// logged are those of a's body, whatever the status (an error's message
// too), none for HEAD, which gets no body.
func (m *mirrorRoutes) done(req *mirrorRequest, rq *request, a *answer) {
	country := rq.client.Location.Country
	if country == "" {
		country = "unknown"
	}
	if m.sel.Metrics != nil && rq.repo != "" {
		m.sel.Metrics.request(rq.repo, rq.kind, country).Inc()
	}
	if m.sel.AccessLog != nil {
		method, bytes := http.MethodGet, len(a.body)
		if req.head {
			method, bytes = http.MethodHead, 0
		}
		m.sel.AccessLog.Log(Access{
			Time:     rq.start,
			Client:   rq.client.Addr,
			Country:  rq.client.Location.Country,
			Method:   method,
			URI:      req.uri,
			Status:   rq.status,
			Bytes:    bytes,
			Duration: time.Since(rq.start),
			Repo:     rq.repo,
			Kind:     rq.kind,
			Location: rq.location,
		})
	}
}

// query holds the parameters the mirror routes read. Other parameters
// are ignored; of one given twice, the first counts (as url.Values.Get).
type query struct{ repo, arch, country, protocol, countme, snapshot string }

func (q *query) Get(name string) string {
	switch name {
	case "repo":
		return q.repo
	case "arch":
		return q.arch
	case "country":
		return q.country
	case "protocol":
		return q.protocol
	case "countme":
		return q.countme
	case "snapshot":
		return q.snapshot
	}
	return ""
}

// parseQuery reads the parameters of query without allocating a map for
// every parameter, as url.ParseQuery would: this is every request's
// path. A parameter that does not unescape counts as absent.
func parseQuery(raw string) query {
	var q query
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		k, v, _ := strings.Cut(kv, "=")
		var dst *string
		switch k {
		case "repo":
			dst = &q.repo
		case "arch":
			dst = &q.arch
		case "country":
			dst = &q.country
		case "protocol":
			dst = &q.protocol
		case "countme":
			dst = &q.countme
		case "snapshot":
			dst = &q.snapshot
		default:
			continue
		}
		if *dst != "" {
			continue
		}
		if escaped(v) {
			u, err := url.QueryUnescape(v)
			if err != nil {
				continue
			}
			v = u
		}
		*dst = v
	}
	return q
}
