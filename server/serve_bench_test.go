package server

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/rpmirror/rpmirror/geo"
	"github.com/rpmirror/rpmirror/internal/geotest"
	"github.com/rpmirror/rpmirror/mirrorlist"
	"github.com/rpmirror/rpmirror/selection"
)

// benchCountries are where the GeoIP database of the loopback benchmark
// places 10.N.0.0/16: N modulo eight picks one (as benchgen geoip does
// for scripts/bench-serve.sh).
var benchCountries = []string{"DE", "FR", "US", "JP", "BR", "NL", "CA", "AU"}

// benchMirrors are the mirrors of scripts/bench-serve.sh: countries,
// weights, networks, one private.
var benchMirrors = []selection.Mirror{
	{URL: "http://127.0.0.1:8080/m1/", Country: "DE", Weight: 200},
	{URL: "http://127.0.0.1:8080/m2/", Country: "US"},
	{URL: "http://127.0.0.1:8080/p1/", Country: "DE", Networks: []netip.Prefix{netip.MustParsePrefix("10.8.0.0/16")}, Private: true},
	{URL: "http://127.0.0.1:8080/p2/", Country: "JP", Networks: []netip.Prefix{netip.MustParsePrefix("10.3.0.0/16"), netip.MustParsePrefix("10.11.0.0/16")}},
	{URL: "http://127.0.0.1:8080/p3/", Country: "FR", Weight: 50},
}

// benchServer starts, on loopback, the routes as rpmirror serve runs them
// (NewServer, fasthttp; or with fe "net/http", NewHTTPServer) with
// selection fully on: a GeoIP database, 127.0.0.0/8 as the trusted proxy,
// the mirrors of scripts/bench-serve.sh and metrics. It returns the
// server's address.
func benchServer(b *testing.B, fe string, log *AccessLog) string {
	b.Helper()
	h := benchHandler(b, log)
	if fe == "fasthttp" {
		return strings.TrimPrefix(serveFast(b, NewServer(h.ServeFast, nil, DefaultLimits)), "http://")
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Config = NewHTTPServer(h, slog.New(slog.DiscardHandler))
	srv.Start()
	b.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// benchHandler returns the routes of benchServer.
func benchHandler(b *testing.B, log *AccessLog) *Handler {
	b.Helper()
	nets := geotest.Networks{}
	for i := range 256 {
		nets[fmt.Sprintf("10.%d.0.0/16", i)] = benchCountries[i%len(benchCountries)]
	}
	p := filepath.Join(b.TempDir(), "country.mmdb")
	geotest.Write(b, p, nets)
	db, err := geo.Open(p)
	if err != nil {
		b.Fatal(err)
	}
	ms := make([]mirrorlist.Mirror, len(benchMirrors))
	for i, m := range benchMirrors {
		ms[i] = mirrorlist.Mirror{URL: m.URL, Location: m.Country}
	}
	cur := mirrorlist.Describe([]byte("<repomd/>"), 1)
	live := &Live{}
	live.Store(&Repo{Set: selection.NewSet(benchMirrors), Lists: mirrorlist.NewTemplate(cur, nil, ms, nil, nil, time.Unix(0, 0))})
	src := fixed{ms: &Mirrors{Catalog: NewCatalog([]Entry{{Name: "demo-x86_64", MirrorlistName: "demo", Arch: "x86_64"}}), Live: []*Live{live}}}
	reg := prometheus.NewRegistry()
	h := New(src, reg, nil, WithSelection(Selection{
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		GeoIP:          db,
		Metrics:        NewMetrics(reg),
		AccessLog:      log,
	}))
	return h
}

// benchRequests are GET requests for path, as wrk sends them through
// scripts/bench-serve.sh's xff.lua: from 1024 clients, 10.(i%256).(i/256).7.
func benchRequests(host, path string) [][]byte {
	reqs := make([][]byte, 1024)
	for i := range reqs {
		reqs[i] = fmt.Appendf(nil, "GET %s HTTP/1.1\r\nHost: %s\r\nX-Forwarded-For: 10.%d.%d.7\r\n\r\n", path, host, i%256, i/256)
	}
	return reqs
}

// BenchmarkServe is what scripts/bench-serve.sh measures with wrk, in
// process: persistent connections over loopback to the real handler
// behind the daemon's server (fasthttp), each sending its next request
// once the answer to the previous one is read, from 1024 client
// addresses; mirrorlist-nethttp is the same behind net/http, the server
// rpmirror serve ran before. The client side writes prepared bytes and
// skips the answer, so that the CPU profile (-cpuprofile) and allocs/op
// are the server's.
func BenchmarkServe(b *testing.B) {
	for _, tc := range []struct {
		name string
		log  bool
		fe   string
	}{
		{"mirrorlist", false, "fasthttp"},
		{"metalink", false, "fasthttp"},
		{"mirrorlist-accesslog", true, "fasthttp"},
		{"mirrorlist-nethttp", false, "net/http"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var log *AccessLog
			if tc.log {
				var err error
				if log, err = OpenAccessLog(filepath.Join(b.TempDir(), "access.json")); err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { log.Close() })
			}
			addr := benchServer(b, tc.fe, log)
			route, _, _ := bytes.Cut([]byte(tc.name), []byte("-"))
			reqs := benchRequests(addr, "/"+string(route)+"?repo=demo&arch=x86_64")
			b.SetParallelism(16) // 32 connections on 2 cores
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					b.Error(err)
					return
				}
				defer c.Close()
				br := bufio.NewReaderSize(c, 16<<10)
				for i := 0; pb.Next(); i++ {
					if _, err := c.Write(reqs[i%len(reqs)]); err != nil {
						b.Error(err)
						return
					}
					if err := skipResponse(br); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// skipResponse reads one HTTP/1.1 response with a Content-Length, and
// fails unless its status is 200.
func skipResponse(br *bufio.Reader) error {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(line, []byte("HTTP/1.1 200 ")) {
		return fmt.Errorf("answer %q", line)
	}
	n := -1
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
			if n, err = strconv.Atoi(string(v)); err != nil {
				return err
			}
		}
	}
	if n < 0 {
		return fmt.Errorf("no Content-Length")
	}
	_, err = br.Discard(n)
	if err == nil && n == 0 {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// BenchmarkServeFast is BenchmarkServe's handler alone: ServeFast on
// requests fasthttp has read already, from the 1024 clients, with no
// connection, parsing or writing, so that its time and CPU profile are
// the route's own work (client address, GeoIP, ordering, the body,
// counters).
func BenchmarkServeFast(b *testing.B) {
	for _, route := range []string{"mirrorlist", "metalink"} {
		b.Run(route, func(b *testing.B) {
			h := benchHandler(b, nil)
			reqs := benchRequests("127.0.0.1", "/"+route+"?repo=demo&arch=x86_64")
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ctxs := make([]fasthttp.RequestCtx, len(reqs))
				for i := range ctxs {
					var req fasthttp.Request
					if err := req.Read(bufio.NewReader(bytes.NewReader(reqs[i]))); err != nil {
						b.Error(err)
						return
					}
					ctxs[i].Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4444}, nil)
				}
				for i := 0; pb.Next(); i++ {
					ctx := &ctxs[i%len(ctxs)]
					h.ServeFast(ctx)
					if ctx.Response.StatusCode() != 200 {
						b.Errorf("status %d", ctx.Response.StatusCode())
						return
					}
					ctx.Response.Reset()
					// The next request's URI unparsed, as the server
					// reads every request anew.
					ctx.Request.SetRequestURIBytes(ctx.Request.Header.RequestURI())
				}
			})
		})
	}
}
