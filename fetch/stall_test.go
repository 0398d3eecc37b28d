package fetch_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/fetch"
	"github.com/rpmirror/rpmirror/internal/badorigin"
)

// TestStalledOriginFailsFast: an origin that sends headers and then nothing
// (or too little) is given up on after MaxStallRetries retries, however
// many retries are configured for errors that can heal, while a body that
// arrives above the low-speed limit completes however long it takes.
// Attempts are counted at the origin; the limits are small so the test
// takes seconds.
func TestStalledOriginFailsFast(t *testing.T) {
	const retries = 3 // the default: a 503 would get 4 attempts
	for _, tc := range []struct {
		name    string
		path    string
		fault   badorigin.Fault
		wantErr bool
		crawl   bool // the error is a *StalledError (some bytes, too few)
		gets    int
	}{
		{name: "headers then nothing", path: "big", fault: badorigin.StallAfter(0), wantErr: true, gets: fetch.MaxStallRetries + 1},
		{name: "part of the body then nothing", path: "big", fault: badorigin.StallAfter(mbCut), wantErr: true, gets: fetch.MaxStallRetries + 1},
		// 16 bytes every 100 ms is 160 bytes/s, below the 1000 of the limit.
		{name: "a trickle below the low-speed limit", path: "big", fault: badorigin.Trickle(16, 100*time.Millisecond), wantErr: true, crawl: true, gets: fetch.MaxStallRetries + 1},
		// 16 KiB every 50 ms is about 320 kB/s: slow, over several windows, but above the limit.
		{name: "slow but above the low-speed limit completes", path: "big", fault: badorigin.Trickle(16<<10, 50*time.Millisecond), gets: 1},
	} {
		for _, via := range []string{"File", "FetchBytes"} {
			t.Run(via+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				dir, big := mbOrigin(t)
				srv := badorigin.Start(t, dir)
				srv.On(badorigin.Paths(tc.path), tc.fault)
				f := fetch.New(fetch.Options{
					Retries:        retries,
					Backoff:        time.Millisecond,
					StallTimeout:   mbStall,
					LowSpeedLimit:  1000,
					ConnectTimeout: 2 * time.Second,
				})
				var err error
				if via == "File" {
					_, err = fileWithin(t, time.Minute, f, srv.URL()+tc.path, filepath.Join(t.TempDir(), tc.path), mbSize, sha256Check(big))
				} else {
					_, err = f.FetchBytes(context.Background(), srv.URL()+tc.path, 1<<20)
				}
				if tc.wantErr {
					if !errors.Is(err, fetch.ErrStalled) {
						t.Fatalf("err = %v, want a stall", err)
					}
					var se *fetch.StalledError
					if got := errors.As(err, &se); got != tc.crawl {
						t.Errorf("errors.As(%v, *StalledError) = %v, want %v", err, got, tc.crawl)
					}
				} else if err != nil {
					t.Fatal(err)
				}
				if got := len(srv.RequestsFor(tc.path, http.MethodGet)); got != tc.gets {
					t.Errorf("%d GET requests, want %d", got, tc.gets)
				}
			})
		}
	}
}

// TestStallIsBoundedByDefault: with the default settings (config's
// retries, stall_timeout, connect_timeout and fetch's backoff), the worst a
// stalled origin can cost one download is under two minutes: what every
// attempt may wait for headers, plus MaxStallRetries+1 low-speed windows,
// plus the backoffs between them at their longest (1.5x with jitter).
func TestStallIsBoundedByDefault(t *testing.T) {
	if config.DefaultStallTimeout != fetch.DefaultStallTimeout {
		t.Errorf("config's stall_timeout default %s differs from fetch's %s", config.DefaultStallTimeout, fetch.DefaultStallTimeout)
	}
	attempts := min(config.DefaultRetries, fetch.MaxStallRetries) + 1
	worst := time.Duration(attempts) * (config.DefaultConnectTimeout + config.DefaultStallTimeout)
	for i := range attempts - 1 {
		worst += time.Second << i * 3 / 2
	}
	if worst > 2*time.Minute {
		t.Errorf("a stalled origin may take %s to fail a download with the defaults, want at most 2m", worst)
	}
}
