package health

import (
	"bytes"
	"context"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// A daemon probes every mirror every minute for months: probes must not
// leave goroutines or connections behind, whatever the servers do. 1000
// probes run against a loopback server that answers in every way the
// probe handles; once the client's idle connections are closed, the
// number of goroutines must come back to what it was before.
func TestProbeNoGoroutineLeak(t *testing.T) {
	if testing.Short() {
		t.Skip("1000 probes")
	}
	v1, v2 := demoRepomd(t, "v1"), demoRepomd(t, "v2")
	pkgs := demoPackages(t, "v1")
	big := append([]byte{rpmLeadMagic}, bytes.Repeat([]byte{0}, 1<<20)...)

	// Each behaviour is served under its own prefix.
	behaviours := map[string]http.Handler{
		"ok":        mirror("v1"),
		"forbidden": statusAll(http.StatusForbidden),
		"html":      htmlPage(),
		"pkg404":    override("v1", isPackage, http.NotFoundHandler()),
		"head405":   headRefused("v1", http.StatusMethodNotAllowed),
		"wholepkg":  override("v1", isPackage, fullBody(big)), // HEAD gets 200 too
		"norange":   override("v1", isPackage, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { noHead(w, r, big) })),
		"stallbody": override("v1", isRepomd, stallAfter(v1, len(v1)/2)),
		"stallhead": stallHeaders(),
		"stallpkg":  override("v1", isPackage, stallHeaders()),
		"bigrepomd": override("v1", isRepomd, fullBody(big)),
		"redirloop": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, r.URL.Path, http.StatusFound) }),
		"stale":     override("v1", isRepomd, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(v2) })),
		"cutshort": override("v1", isRepomd, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100000")
			w.Write(v1[:100])
		})),
		"emptyrange": override("v1", isPackage, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { noHead(w, r, nil) })),
	}
	names := make([]string, 0, len(behaviours))
	mux := http.NewServeMux()
	for name, h := range behaviours {
		names = append(names, name)
		mux.Handle("/"+name+"/", http.StripPrefix("/"+name, h))
	}

	srv := serve(t, mux)
	tr := &http.Transport{MaxIdleConnsPerHost: 4}
	client := &http.Client{Transport: tr}
	// A long Timeout, so that no probe deadline cleans up after a leak
	// before the check below.
	p := &Prober{Client: client, Timeout: time.Minute, MaxRepomd: 64 << 10}
	quick := &Prober{Client: client, Timeout: 50 * time.Millisecond}

	baseline := runtime.NumGoroutine()
	const probes, parallel = 1000, 8
	states := map[State]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	next := make(chan int)
	for range parallel {
		wg.Go(func() {
			for i := range next {
				name := names[i%len(names)]
				pr := p
				if strings.HasPrefix(name, "stall") {
					pr = quick
				}
				r := pr.Probe(context.Background(), srv.URL+"/"+name+"/", v1, pkgs)
				mu.Lock()
				states[r.State]++
				mu.Unlock()
			}
		})
	}
	for i := range probes {
		next <- i
	}
	close(next)
	wg.Wait()
	t.Logf("%d probes: %v", probes, states)
	if states[OK] == 0 || states[Down] == 0 || states[Stale] == 0 {
		t.Errorf("states %v: want every behaviour exercised", states)
	}

	// Connections in use (a body left open) are not idle and would keep
	// their client and server goroutines.
	tr.CloseIdleConnections()
	start := time.Now()
	deadline := time.Now().Add(5 * time.Second)
	n := runtime.NumGoroutine()
	for n > baseline && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		tr.CloseIdleConnections()
		n = runtime.NumGoroutine()
	}
	t.Logf("back to %d goroutines (baseline %d) after %v", n, baseline, time.Since(start))
	if n > baseline {
		buf := make([]byte, 64<<10) // enough to see what leaked
		buf = buf[:runtime.Stack(buf, true)]
		t.Errorf("%d goroutines after %d probes, %d before:\n%s", n, probes, baseline, buf)
	}
}

// noHead refuses HEAD with 405 and answers every GET, Range or not, with
// 200 and all of body.
func noHead(w http.ResponseWriter, r *http.Request, body []byte) {
	if r.Method == http.MethodHead {
		http.Error(w, "no HEAD", http.StatusMethodNotAllowed)
		return
	}
	fullBody(body).ServeHTTP(w, r)
}
