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
}

// Files is what redirects need to know of a repository's candidates.
// Implementations must be safe for concurrent use.
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
type Live struct{ atomic.Pointer[Repo] }

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

// request is what one mirror request found out, for metrics and the log.
type request struct {
	start    time.Time
	client   selection.Client
	repo     string // configuration name, "" when not found
	kind     string
	status   int
	bytes    int
	location string
}

var (
	orderPool = sync.Pool{New: func() any { b := make([]int, 0, 64); return &b }}
	bodyPool  = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}
)

// Header values of the lists, shared by every answer (net/http copies
// them when it writes the header; nothing changes them).
var (
	textType     = []string{"text/plain; charset=utf-8"}
	metalinkType = []string{"application/metalink+xml"}
	noCache      = []string{"no-cache"}
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

// client returns who asks: the address trusted_proxies lets through, and
// its location, from ?country= when that is a known code, else GeoIP.
func (m *mirrorRoutes) client(r *http.Request, country string) selection.Client {
	c := selection.Client{Addr: selection.ClientAddr(r.RemoteAddr, r.Header["X-Forwarded-For"], m.sel.TrustedProxies)}
	if loc, ok := geo.At(country); ok {
		c.Location = loc
	} else {
		c.Location = m.sel.GeoIP.Lookup(c.Addr)
	}
	return c
}

func parseProtocol(s string) (selection.Protocol, bool) {
	switch s {
	case "":
		return "", true
	case "http", "https":
		return selection.Protocol(s), true
	}
	return "", false
}

// list answers /mirrorlist and /metalink.
func (m *mirrorRoutes) list(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := parseQuery(r.URL.RawQuery)
		rq := request{start: m.now(), kind: kind, client: m.client(r, q.Get("country"))}
		defer m.done(r, &rq)
		name, arch := q.Get("repo"), q.Get("arch")
		if name == "" {
			rq.status = http.StatusBadRequest
			http.Error(w, "missing ?repo=NAME (and &arch=ARCH)", rq.status)
			return
		}
		protocol, ok := parseProtocol(q.Get("protocol"))
		if !ok {
			rq.status = http.StatusBadRequest
			http.Error(w, "protocol: want http or https", rq.status)
			return
		}
		ms := m.src.Mirrors()
		i, ok := ms.Catalog.Find(name, arch)
		if !ok {
			rq.status = http.StatusNotFound
			m.notFound(w, r, ms.Catalog, name, arch, kind)
			return
		}
		rq.repo = ms.Catalog.Entry(i).Name
		m.countme(rq.repo, q.Get("countme"))
		repo := ms.Live[i].Load()
		if repo == nil {
			rq.status = http.StatusServiceUnavailable
			http.Error(w, "starting up: try again in a moment", rq.status)
			return
		}

		op := orderPool.Get().(*[]int)
		bp := bodyPool.Get().(*[]byte)
		order := repo.Set.Order((*op)[:0], rq.client, protocol, nil)
		var body []byte
		h := w.Header()
		if snap := q.Get("snapshot"); snap != "" {
			body = m.snapshotList(w, r, &rq, repo, order, snap, (*bp)[:0])
			*op, *bp = order, body
			orderPool.Put(op)
			if cap(body) <= 1<<20 {
				bodyPool.Put(bp)
			}
			return
		}
		// Header values are shared, prepared slices, set with their
		// canonical keys: no request allocates them.
		if kind == KindMetalink {
			body = repo.Lists.AppendMetalink((*bp)[:0], order)
			h["Content-Type"] = metalinkType
		} else {
			body = repo.Lists.AppendText((*bp)[:0], order)
			h["Content-Type"] = textType
		}
		h["Content-Length"] = contentLength(len(body))
		h["Cache-Control"] = noCache
		rq.status = http.StatusOK
		if r.Method != http.MethodHead {
			w.Write(body)
			rq.bytes = len(body)
		}
		*op, *bp = order, body
		orderPool.Put(op)
		if cap(body) <= 1<<20 {
			bodyPool.Put(bp)
		}
	}
}

// notFound answers 404 for an unknown repo and arch, listing the valid
// pairs as comments: in a text document for a mirrorlist or a redirect,
// in an XML comment of an empty metalink for a metalink.
func (m *mirrorRoutes) notFound(w http.ResponseWriter, r *http.Request, c *Catalog, name, arch, kind string) {
	body := c.notFound(name, arch)
	if kind == KindMetalink {
		w.Header().Set("Content-Type", "application/metalink+xml")
		body = `<?xml version="1.0" encoding="utf-8"?>` + "\n" +
			`<metalink version="3.0" xmlns="` + mirrorlist.MetalinkNS + `" type="dynamic" generator="` + mirrorlist.Generator + `">` + "\n" +
			"<!--\n" + body + "-->\n</metalink>\n"
	} else {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusNotFound)
	if r.Method != http.MethodHead {
		w.Write([]byte(body))
	}
}

// redirect answers GET /r/REPO/PATH and /r/REPO/ARCH/PATH with a 302 to
// the best mirror for the client that serves PATH as the current revision
// has it; to the origin when no candidate does and the origin may be
// used; else 404.
func (m *mirrorRoutes) redirect(w http.ResponseWriter, r *http.Request) {
	q := parseQuery(r.URL.RawQuery)
	rq := request{start: m.now(), kind: KindRedirect, client: m.client(r, q.Get("country"))}
	defer m.done(r, &rq)
	protocol, ok := parseProtocol(q.Get("protocol"))
	if !ok {
		rq.status = http.StatusBadRequest
		http.Error(w, "protocol: want http or https", rq.status)
		return
	}
	ms := m.src.Mirrors()
	name, rest, _ := strings.Cut(r.PathValue("path"), "/")
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
		m.notFound(w, r, ms.Catalog, name, "", KindRedirect)
		return
	}
	rq.repo = ms.Catalog.Entry(i).Name
	m.countme(rq.repo, q.Get("countme"))
	if err := target.CheckPath(rest); err != nil {
		rq.status = http.StatusBadRequest
		http.Error(w, "not a file of the repository: "+clean(rest), rq.status)
		return
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
			if o := repo.Files.Origin(rest); o != "" {
				rq.location = join(o, rest)
			}
		}
	}
	if rq.location == "" {
		rq.status = http.StatusNotFound
		http.Error(w, "no mirror serves "+clean(rest)+" of "+rq.repo, rq.status)
		return
	}
	w.Header().Set("Location", rq.location)
	w.Header().Set("Cache-Control", "no-cache")
	rq.status = http.StatusFound
	w.WriteHeader(rq.status)
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

// countme counts dnf's weekly countme=N (1..4: how long the system has
// existed, in libdnf's buckets) per repository.
func (m *mirrorRoutes) countme(repo, bucket string) {
	if bucket == "" || m.sel.Metrics == nil {
		return
	}
	switch bucket {
	case "1", "2", "3", "4":
		m.sel.Metrics.countme.WithLabelValues(repo, bucket).Inc()
	}
}

// done counts and logs a finished request.
func (m *mirrorRoutes) done(r *http.Request, rq *request) {
	country := rq.client.Location.Country
	if country == "" {
		country = "unknown"
	}
	if m.sel.Metrics != nil && rq.repo != "" {
		m.sel.Metrics.request(rq.repo, rq.kind, country).Inc()
	}
	if m.sel.AccessLog != nil {
		m.sel.AccessLog.Log(Access{
			Time:     rq.start,
			Client:   rq.client.Addr,
			Country:  rq.client.Location.Country,
			Method:   r.Method,
			URI:      r.URL.RequestURI(),
			Status:   rq.status,
			Bytes:    rq.bytes,
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
		if strings.ContainsAny(v, "%+") {
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
