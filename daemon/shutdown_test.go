package daemon

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	gosync "sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/sync"
)

// recordLog keeps the daemon's JSON log lines for a test to read.
type recordLog struct {
	mu gosync.Mutex
	b  bytes.Buffer
}

func (l *recordLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// records returns the log's records whose msg is msg.
func (l *recordLog) records(t *testing.T, msg string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(l.b.Bytes()))
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// TestShutdownMidSync stops the daemon (SIGTERM) while a sync runs and
// another is pending behind it. The pending one never starts, and a sync
// that the shutdown timeout cancels is recorded as interrupted: not a
// failed sync, and no alert, to which no "recovered" would ever follow.
// rpmirror serve used to send "sync demo: ok -> failed: interrupted" to the
// webhook on every restart in the middle of a sync, count it in
// rpmirror_sync_runs_total{result="failed"}, and then, half the time,
// start the pending sync during the drain.
func TestShutdownMidSync(t *testing.T) {
	for _, tc := range []struct {
		name string
		// cancelled: the sync outlasts -shutdown-timeout and is
		// cancelled; else it ends by itself during the drain.
		cancelled  bool
		wantResult string
	}{
		{name: "cancelled by the shutdown timeout", cancelled: true, wantResult: "interrupted"},
		{name: "finishes during the drain", wantResult: "ok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The pending sync is chosen or not at random (select), so
			// a few rounds catch a daemon that starts it.
			for round := range 8 {
				var calls atomic.Int32
				started := make(chan struct{}, 1)
				finish := make(chan struct{})
				old := runEngine
				runEngine = func(ctx context.Context, _ sync.Options, rc *config.Repo) *sync.Report {
					rep := &sync.Report{Repo: rc.Name, Start: time.Now()}
					if calls.Add(1) > 1 {
						return rep
					}
					started <- struct{}{}
					select {
					case <-ctx.Done():
						rep.Err = fmt.Errorf("fetching Packages/x.rpm: %w", sync.ErrInterrupted)
					case <-finish:
					}
					return rep
				}
				t.Cleanup(func() { runEngine = old })
				var log recordLog
				timeout := time.Hour
				if tc.cancelled {
					timeout = time.Millisecond
				}
				d, stop := runBare(t, bareConfig(t, 1, "@every 1h", ""), Options{
					Logger:          slog.New(slog.NewJSONHandler(&log, nil)),
					ShutdownTimeout: timeout,
				})
				<-started // the start-up sync
				r, _ := d.repo("r0")
				r.requestSync("pending")
				stopped := make(chan struct{})
				go func() { stop(); close(stopped) }()
				if !tc.cancelled {
					for !stopping(d) {
						time.Sleep(time.Millisecond)
					}
					close(finish)
				}
				<-stopped
				if n := calls.Load(); n != 1 {
					t.Errorf("round %d: %d syncs ran: the one pending at shutdown started", round, n)
				}
				for _, rec := range log.records(t, "state change") {
					t.Errorf("round %d: alert at shutdown: %v", round, rec)
				}
				if st := d.Status().Repos[0]; st.LastSync == nil || st.LastSync.Result != tc.wantResult {
					t.Errorf("round %d: last sync %+v, want result %q", round, st.LastSync, tc.wantResult)
				}
				for _, result := range []string{"failed", tc.wantResult} {
					want := 0.0
					if result == tc.wantResult {
						want = 1
					}
					if got := testutil.ToFloat64(d.metrics.syncRuns.WithLabelValues("r0", result)); got != want {
						t.Errorf("round %d: rpmirror_sync_runs_total{result=%q} = %v, want %v", round, result, got, want)
					}
				}
				runEngine = old
			}
		})
	}
}

// stopping says whether d's Run has been told to stop.
func stopping(d *Daemon) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.runCtx.Err() != nil
}

// TestFirstSyncFailureAlert: when the daemon's first sync of a repo
// fails, the alert says it went from "unknown" to failed, not from "ok":
// no sync of this daemon had succeeded. The recovery after it is
// "failed -> ok".
func TestFirstSyncFailureAlert(t *testing.T) {
	var calls atomic.Int32
	old := runEngine
	runEngine = func(ctx context.Context, _ sync.Options, rc *config.Repo) *sync.Report {
		rep := &sync.Report{Repo: rc.Name, Start: time.Now()}
		if calls.Add(1) == 1 {
			rep.Err = errors.New("publishing to mirror m: no space left on device")
		}
		return rep
	}
	t.Cleanup(func() { runEngine = old })
	var log recordLog
	d, stop := runBare(t, bareConfig(t, 1, "@every 1h", ""), Options{Logger: slog.New(slog.NewJSONHandler(&log, nil)), ShutdownTimeout: time.Second})
	defer stop()
	r, _ := d.repo("r0")
	deadline := time.Now().Add(10 * time.Second)
	for calls.Load() < 1 || r.status().LastSync == nil {
		if time.Now().After(deadline) {
			t.Fatal("no start-up sync")
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.requestSync("again")
	for calls.Load() < 2 || r.status().LastSync.Result != "ok" {
		if time.Now().After(deadline) {
			t.Fatal("no second sync")
		}
		time.Sleep(10 * time.Millisecond)
	}
	var got []string
	for _, rec := range log.records(t, "state change") {
		if rec["kind"] == "sync" {
			got = append(got, fmt.Sprint(rec["from"], " -> ", rec["to"]))
		}
	}
	if want := []string{"unknown -> failed", "failed -> ok"}; !slices.Equal(got, want) {
		t.Errorf("sync alerts %q, want %q", got, want)
	}
}

// TestRoutesAnswerWhileSyncsDrain: a daemon told to stop while a sync
// runs answers its routes until the sync is done and it exits: clients of
// a daemon restarted in the middle of a sync are answered, not refused
// (or, on a socket systemd holds, left waiting in its queue for up to
// --shutdown-timeout, a reviewer's).
func TestRoutesAnswerWhileSyncsDrain(t *testing.T) {
	started, finish := make(chan struct{}, 1), make(chan struct{})
	old := runEngine
	runEngine = func(ctx context.Context, _ sync.Options, rc *config.Repo) *sync.Report {
		select {
		case started <- struct{}{}:
		default:
		}
		<-finish
		return &sync.Report{Repo: rc.Name, Start: time.Now()}
	}
	t.Cleanup(func() { runEngine = old })
	d, err := New(bareConfig(t, 1, "@every 1h", ""), Options{Logger: slog.New(slog.DiscardHandler), ShutdownTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx, ln); close(done) }()
	<-started // the start-up sync, held
	cancel()
	for !stopping(d) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // the probes and list writers stop
	for _, path := range []string{"/mirrorlist?repo=r0", "/status.json", "/healthz"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Errorf("GET %s while a sync drains: %v", path, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s while a sync drains: %s", path, resp.Status)
		}
	}
	select {
	case <-done:
		t.Fatal("the daemon exited before its sync was done")
	default:
	}
	close(finish)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the daemon did not stop once its sync was done")
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("the daemon still answers after it stopped")
	}
}
