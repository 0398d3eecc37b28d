package server

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp/fasthttpadaptor"
)

// manySeries returns a registry with n gauge series of repo and mirror
// labels, as the daemon's per-mirror series are, and a histogram: a
// /metrics of n * 100 bytes or so.
func manySeries(n int) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "rpmirror", Name: "mirror_last_probe_timestamp_seconds", Help: "When the mirror was last probed (Unix time)."}, []string{"repo", "mirror"})
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "rpmirror", Name: "sync_duration_seconds", Help: "How long syncs took."}, []string{"repo"})
	reg.MustRegister(g, h)
	for i := range n {
		repo := fmt.Sprintf("r%04d", i/10)
		g.WithLabelValues(repo, fmt.Sprintf("m%d", i%10)).Set(float64(1795700000 + i))
		if i%10 == 0 {
			h.WithLabelValues(repo).Observe(float64(i%7) / 3)
		}
	}
	return reg
}

// TestMetricsFrontEndsAgree: /metrics of many series (megabytes, streamed
// by fasthttp as it is written) is answered byte for byte alike by
// net/http and fasthttp, as text, compressed and as protocol buffers,
// and alike to HEAD.
func TestMetricsFrontEndsAgree(t *testing.T) {
	h := New(newFixed(), manySeries(20000), nil)
	// A client that neither asks for compression nor undoes it: the
	// bodies are compared as sent.
	raw := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	get := func(t *testing.T, base, method string, hdr http.Header) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, base+"/metrics", nil)
		if err != nil {
			t.Fatal(err)
		}
		maps(req.Header, hdr)
		resp, err := raw.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, b
	}
	std, fast := serve(t, h, "net/http"), serve(t, h, "fasthttp")
	for _, tc := range []struct {
		name, method string
		hdr          http.Header
		min          int // the body is at least this long
	}{
		{"text", "GET", nil, 1 << 20},
		{"gzip", "GET", http.Header{"Accept-Encoding": {"gzip"}}, 1 << 10},
		{"protobuf", "GET", http.Header{"Accept": {"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"}}, 1 << 20},
		{"head", "HEAD", nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, ab := get(t, std, tc.method, tc.hdr)
			b, bb := get(t, fast, tc.method, tc.hdr)
			if a.StatusCode != http.StatusOK || b.StatusCode != http.StatusOK {
				t.Fatalf("status: net/http %d, fasthttp %d", a.StatusCode, b.StatusCode)
			}
			ha, hb := a.Header.Clone(), b.Header.Clone()
			for _, h := range []http.Header{ha, hb} {
				h.Del("Date")
				h.Del("Content-Length") // net/http sends none for a long body, as fasthttp streaming one
			}
			if !equalHeaders(ha, hb) {
				t.Errorf("headers differ:\nnet/http %v\nfasthttp %v", ha, hb)
			}
			if len(ab) < tc.min {
				t.Errorf("body of %d bytes, want at least %d", len(ab), tc.min)
			}
			if !bytes.Equal(ab, bb) {
				t.Errorf("bodies differ: net/http %d bytes, fasthttp %d", len(ab), len(bb))
			}
		})
	}
}

// TestFlushingStreams: behind fasthttpadaptor, as rpmirror serve answers
// /metrics, what a flushing handler has written reaches the client
// before the handler returns: the handler waits for the client to have
// read its first part before it writes the rest, which it could not if
// the adaptor held the answer until the handler returned.
func TestFlushingStreams(t *testing.T) {
	part := bytes.Repeat([]byte("0123456789abcdef"), 3*flushAfter/16)
	read := make(chan struct{})
	h := flushing(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(part)
		select {
		case <-read:
		case <-r.Context().Done():
			return
		}
		w.Write(part)
	}))
	base := serveFast(t, NewServer(fasthttpadaptor.NewFastHTTPHandler(h), nil, DefaultLimits))
	type answer struct {
		resp *http.Response
		err  error
	}
	first := make(chan answer, 1)
	go func() {
		resp, err := http.Get(base + "/")
		if err == nil {
			_, err = io.ReadFull(resp.Body, make([]byte, len(part)))
		}
		first <- answer{resp, err}
	}()
	var a answer
	select {
	case a = <-first:
	case <-time.After(30 * time.Second): // a deadlock guard, not a measure
		close(read)
		t.Fatal("the first part never came: the answer was held until the handler returned")
	}
	close(read)
	if a.err != nil {
		t.Fatalf("reading the first part: %v", a.err)
	}
	defer a.resp.Body.Close()
	rest, err := io.ReadAll(a.resp.Body)
	if err != nil || !bytes.Equal(rest, part) {
		t.Fatalf("the rest: %d bytes (want %d), %v", len(rest), len(part), err)
	}
}

// TestFlushingHEAD: an answer to HEAD is not flushed (net/http discards
// its body; fasthttpadaptor, once flushed, would fail the writes after
// sending the header), and an answer shorter than flushAfter neither.
func TestFlushingHEAD(t *testing.T) {
	for _, tc := range []struct {
		method string
		size   int
		want   bool // flushed
	}{
		{"GET", 2 * flushAfter, true},
		{"GET", flushAfter - 1, false},
		{"HEAD", 2 * flushAfter, false},
	} {
		t.Run(fmt.Sprintf("%s %d", tc.method, tc.size), func(t *testing.T) {
			rec := httptest.NewRecorder()
			flushing(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Write(make([]byte, tc.size))
			})).ServeHTTP(rec, httptest.NewRequest(tc.method, "/metrics", nil))
			if rec.Flushed != tc.want || rec.Body.Len() != tc.size {
				t.Errorf("flushed %v, %d bytes; want flushed %v, %d bytes", rec.Flushed, rec.Body.Len(), tc.want, tc.size)
			}
		})
	}
}

// BenchmarkMetricsScrape: GET /metrics of 80,000 series through the
// daemon's server (fasthttp), as the serve1000 benchmark samples it:
// B/op is the memory a scrape allocates, the buffering of the answer
// included.
func BenchmarkMetricsScrape(b *testing.B) {
	h := New(newFixed(), manySeries(80000), nil)
	base := serveFast(b, NewServer(h.ServeFast, nil, DefaultLimits))
	b.ReportAllocs()
	for b.Loop() {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		b.SetBytes(n)
	}
}
