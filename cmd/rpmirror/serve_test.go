package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rpmirror/rpmirror/server"
)

// noRepos is a server.Source with nothing to serve.
type noRepos struct{}

func (noRepos) Mirrors() *server.Mirrors {
	return &server.Mirrors{Catalog: server.NewCatalog(nil)}
}
func (noRepos) Status() *server.Status { return &server.Status{} }

// TestDebugHandler: -debug-listen serves Go's profiler; the public
// routes never do, although this binary imports net/http/pprof (which
// registers it on http.DefaultServeMux).
func TestDebugHandler(t *testing.T) {
	debug := httptest.NewServer(debugHandler())
	defer debug.Close()
	public := httptest.NewServer(server.New(noRepos{}, prometheus.NewRegistry(), nil))
	defer public.Close()
	for _, tc := range []struct {
		name string
		url  string
		code int
		want string
	}{
		{"index", debug.URL + "/debug/pprof/", 200, "goroutine"},
		{"a profile", debug.URL + "/debug/pprof/goroutine?debug=1", 200, "goroutine profile:"},
		{"public index", public.URL + "/debug/pprof/", 404, ""},
		{"public profile", public.URL + "/debug/pprof/goroutine?debug=1", 404, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Get(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.code || !strings.Contains(string(b), tc.want) {
				t.Errorf("%d, want %d with %q:\n%.300s", resp.StatusCode, tc.code, tc.want, b)
			}
		})
	}
}

// TestSameListen: the warning that the socket systemd passed is not
// listen's comes only when they differ, not for the same address
// written another way.
func TestSameListen(t *testing.T) {
	for _, tc := range []struct {
		got, addr string
		same      bool
	}{
		{"127.0.0.1:8080", "127.0.0.1:8080", true},
		{"[::]:8080", ":8080", true},
		{"0.0.0.0:8080", ":8080", true},
		{"[::]:8080", "0.0.0.0:8080", true},
		{"127.0.0.1:8080", "localhost:8080", true},
		{"[::1]:8080", "localhost:8080", true},
		{"[::ffff:127.0.0.1]:8080", "127.0.0.1:8080", true},
		{"127.0.0.1:8081", "127.0.0.1:8080", false},
		{"192.0.2.1:8080", "127.0.0.1:8080", false},
		{"[::]:8080", "127.0.0.1:8080", false},
		{"192.0.2.1:8080", "localhost:8080", false},
		{"/run/rpmirror.sock", "127.0.0.1:8080", false},
	} {
		if got := sameListen(tc.got, tc.addr); got != tc.same {
			t.Errorf("sameListen(%q, %q) = %v, want %v", tc.got, tc.addr, got, tc.same)
		}
	}
}
