package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
	"unsafe"

	"github.com/valyala/fasthttp"

	"github.com/rpmirror/rpmirror/selection"
)

// Handler serves every route, to net/http (ServeHTTP) and to fasthttp
// (ServeFast). rpmirror serve runs fasthttp (see Server): there the mirror
// routes, the hot ones, are answered natively, and every other route by
// its net/http handler behind fasthttpadaptor. Both front-ends call the
// same core (answerList, answerRedirect), so they answer alike.
type Handler struct {
	http http.Handler // every route, for net/http
	mr   *mirrorRoutes
	rest fasthttp.RequestHandler // http behind fasthttpadaptor
}

var _ http.Handler = (*Handler)(nil)

// ServeHTTP serves r with net/http.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.http.ServeHTTP(w, r) }

// ServeFast serves a request with fasthttp. GET and HEAD of /mirrorlist,
// /metalink and /r/PATH are answered natively when their path is as
// net/http's mux routes it unchanged (no escapes, no dot segments, no
// doubled slashes); everything else, those included, goes to the
// net/http handlers, so that redirects to clean paths, 404s and 405s stay
// net/http's own.
func (h *Handler) ServeFast(ctx *fasthttp.RequestCtx) {
	if ctx.IsGet() || ctx.IsHead() {
		// Nearly every request: a list, its path as the request line
		// has it, no URI to parse.
		if kind, query, ok := listTarget(ctx.Request.Header.RequestURI()); ok {
			h.mr.fastList(ctx, kind, query)
			return
		}
		uri := ctx.URI()
		p := uri.PathOriginal()
		switch string(p) {
		case "/mirrorlist":
			h.mr.fastList(ctx, KindMirrorlist, uri.QueryString())
			return
		case "/metalink":
			h.mr.fastList(ctx, KindMetalink, uri.QueryString())
			return
		}
		if rest, ok := bytes.CutPrefix(p, []byte("/r/")); ok && bytes.IndexByte(p, '%') < 0 && bytes.Equal(p, uri.Path()) {
			h.mr.fastRedirect(ctx, rest, uri.QueryString())
			return
		}
	}
	h.rest(ctx)
}

// Paths of the lists, as a request target starts with them.
var (
	pathMirrorlist = []byte("/mirrorlist")
	pathMetalink   = []byte("/metalink")
)

// listTarget reports whether the request target raw (origin-form, as
// the request line has it) is /mirrorlist or /metalink with an optional
// query and fragment, and returns the kind and the query, as fasthttp's
// URI would give them, without parsing the whole URI (its path
// normalized, its host checked: 50 of the 700 ns of a request's work in
// BenchmarkServeFast). A target with a control byte, which fasthttp's
// URI refuses, is not one.
func listTarget(raw []byte) (kind string, query []byte, ok bool) {
	var rest []byte
	switch {
	case bytes.HasPrefix(raw, pathMirrorlist):
		kind, rest = KindMirrorlist, raw[len(pathMirrorlist):]
	case bytes.HasPrefix(raw, pathMetalink):
		kind, rest = KindMetalink, raw[len(pathMetalink):]
	default:
		return "", nil, false
	}
	if len(rest) > 0 && rest[0] != '?' && rest[0] != '#' {
		return "", nil, false
	}
	for _, c := range rest {
		if c < 0x20 || c == 0x7f {
			return "", nil, false
		}
	}
	rest, _, _ = bytes.Cut(rest, []byte{'#'})
	if len(rest) > 0 {
		query = rest[1:]
	}
	return kind, query, true
}

// str returns b's bytes as a string without copying them. The string is
// valid while b is: for a request's bytes, until its handler returns,
// which is why the core keeps none of a mirrorRequest's strings.
func str(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// fastRequest describes ctx's request, of query string query, for the
// core.
func (m *mirrorRoutes) fastRequest(ctx *fasthttp.RequestCtx, query []byte, xff []string) mirrorRequest {
	remote, _ := netip.AddrFromSlice(ctx.RemoteIP())
	if len(m.sel.TrustedProxies) > 0 {
		for _, v := range ctx.Request.Header.PeekAll(fasthttp.HeaderXForwardedFor) {
			xff = append(xff, str(v))
		}
	}
	req := mirrorRequest{
		head:     ctx.IsHead(),
		client:   selection.ClientAddrFrom(remote, xff, m.sel.TrustedProxies),
		rawQuery: str(query),
	}
	if m.sel.AccessLog != nil {
		req.uri = str(ctx.RequestURI())
	}
	return req
}

// fastList answers /mirrorlist and /metalink with fasthttp; query is the
// query string. The body is rendered straight into the response's own
// (pooled) buffer.
func (m *mirrorRoutes) fastList(ctx *fasthttp.RequestCtx, kind string, query []byte) {
	var xff [4]string
	req := m.fastRequest(ctx, query, xff[:0])
	a := answer{body: ctx.Response.SwapBody(nil)[:0]}
	m.answerList(kind, &req, &a)
	writeFast(ctx, &a)
}

// fastRedirect answers /r/PATH with fasthttp; path is what follows /r/,
// query the query string.
func (m *mirrorRoutes) fastRedirect(ctx *fasthttp.RequestCtx, path, query []byte) {
	var xff [4]string
	req := m.fastRequest(ctx, query, xff[:0])
	req.path = str(path)
	a := answer{body: ctx.Response.SwapBody(nil)[:0]}
	m.answerRedirect(&req, &a)
	writeFast(ctx, &a)
}

// Header names and values the fast front-end sets, canonical already.
var (
	hdrCacheControl = []byte("Cache-Control")
	hdrNosniff      = []byte("X-Content-Type-Options")
	valNoCache      = []byte("no-cache")
	valNosniff      = []byte("nosniff")
)

// writeFast writes a with fasthttp: the same status, headers and body
// as writeHTTP. fasthttp adds Date and Content-Length, and leaves the
// body out of an answer to HEAD.
func writeFast(ctx *fasthttp.RequestCtx, a *answer) {
	ctx.SetStatusCode(a.status)
	h := &ctx.Response.Header
	if a.contentType != "" {
		h.SetContentType(a.contentType)
	}
	if a.nosniff {
		h.SetCanonical(hdrNosniff, valNosniff)
	}
	if a.noCache {
		h.SetCanonical(hdrCacheControl, valNoCache)
	}
	if a.location != "" {
		h.Set(fasthttp.HeaderLocation, a.location)
	}
	ctx.Response.SwapBody(a.body)
}

// Server serves a Handler over HTTP with fasthttp, with the limits of
// NewHTTPServer (MaxHeaderBytes, the timeouts).
type Server struct {
	fs *fasthttp.Server

	mu   sync.Mutex
	shut bool           // Shutdown was called
	lns  []net.Listener // what Serve was given
}

// Limits are a Server's limits on requests and connections.
type Limits struct {
	// MaxHeaderBytes bounds the request line and header: a larger one is
	// refused with 431 Request Header Fields Too Large.
	MaxHeaderBytes int
	// ReadTimeout bounds reading a request, from its first byte (the
	// header and the small bodies POST /sync takes).
	ReadTimeout time.Duration
	// WriteTimeout bounds writing an answer.
	WriteTimeout time.Duration
	// IdleTimeout bounds how long a kept-alive connection waits for its
	// next request.
	IdleTimeout time.Duration
}

// DefaultLimits are the limits rpmirror serve runs with, those of
// NewHTTPServer. fasthttp reads a request's header and body under one
// timeout; the bodies the routes take are at most 1 KiB (POST /sync), so
// ReadHeaderTimeout bounds both.
var DefaultLimits = Limits{
	MaxHeaderBytes: MaxHeaderBytes,
	ReadTimeout:    ReadHeaderTimeout,
	WriteTimeout:   WriteTimeout,
	IdleTimeout:    IdleTimeout,
}

// writeBufferSize is a connection's write buffer: an answer that fits
// is written with one write(2). fasthttp writes a larger one from its
// buffer and then the rest, two writes, unless the connection is a
// *net.TCPConn (then one writev(2)); a Server's connections are
// lazyConns, so the buffer holds a list of a hundred mirrors or so
// (fasthttp's default is 4 KiB).
const writeBufferSize = 16 << 10

// maxBody is the largest request body a Server reads: POST /sync takes
// at most 1 KiB (readOnly's MaxBytesReader); every other route none.
const maxBody = 1 << 10

// NewServer returns a Server calling serve (a Handler's ServeFast, or a
// function that picks the current Handler's) for every request. It sends
// no Server header, and a Content-Type only where the route sets one.
func NewServer(serve func(*fasthttp.RequestCtx), log *slog.Logger, lim Limits) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{fs: &fasthttp.Server{
		Handler:                      serve,
		ErrorHandler:                 serveError,
		ReadBufferSize:               lim.MaxHeaderBytes,
		WriteBufferSize:              writeBufferSize,
		ReadTimeout:                  lim.ReadTimeout,
		WriteTimeout:                 lim.WriteTimeout,
		IdleTimeout:                  lim.IdleTimeout,
		MaxRequestBodySize:           maxBody,
		NoDefaultServerHeader:        true,
		NoDefaultContentType:         true,
		DisablePreParseMultipartForm: true,
		CloseOnShutdown:              true,
		LazyRequestTime:              true, // nothing reads RequestCtx.Time: no clock read a request
		Logger:                       fastLogger{log},
	}}
}

// Serve accepts connections on ln until Shutdown; then it returns nil.
// After Shutdown it closes ln and returns nil at once. TCP connections
// are served as lazyConns, which arm a deadline in the runtime only
// before a wait (see lazyConn).
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.shut {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.lns = append(s.lns, ln)
	s.mu.Unlock()
	if err := s.fs.Serve(lazyListener{ln}); err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}

// Shutdown stops accepting connections, closes idle ones and waits for
// those answering a request until ctx ends. A Serve that had not
// started serving when Shutdown was called (fasthttp's Shutdown sees no
// listener then) stops too.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shut = true
	lns := s.lns
	s.mu.Unlock()
	err := s.fs.ShutdownWithContext(ctx)
	for _, ln := range lns {
		ln.Close() // closed already, unless Serve had not handed it to fasthttp yet
	}
	return err
}

// serveError answers a request fasthttp could not read, as net/http
// does: 431 for a header over the limit, 408 for one too slow, 413 for a
// body over the limit, 400 else; always closing the connection.
func serveError(ctx *fasthttp.RequestCtx, err error) {
	status, msg := http.StatusBadRequest, "400 Bad Request"
	var small *fasthttp.ErrSmallBuffer
	var timeout interface{ Timeout() bool }
	switch {
	case errors.As(err, &small):
		status, msg = http.StatusRequestHeaderFieldsTooLarge, "431 Request Header Fields Too Large"
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		status, msg = http.StatusRequestEntityTooLarge, "413 Request Entity Too Large"
	case errors.As(err, &timeout) && timeout.Timeout():
		status, msg = http.StatusRequestTimeout, "408 Request Timeout"
	}
	ctx.Response.Reset()
	ctx.SetStatusCode(status)
	ctx.Response.Header.SetContentType(contentText)
	ctx.Response.SetConnectionClose()
	ctx.SetBodyString(msg)
}

// fastLogger sends fasthttp's messages to the daemon's log at debug
// level, as NewHTTPServer does net/http's.
type fastLogger struct{ log *slog.Logger }

func (l fastLogger) Printf(format string, args ...any) {
	l.log.Debug("http server", "msg", fmt.Sprintf(format, args...))
}
