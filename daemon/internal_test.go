package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	gosync "sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/sync"
)

// startBare runs a daemon whose repos all have the demo repository as
// origin, with the sync engine replaced by engine.
func startBare(t *testing.T, repos int, schedule string, engine func(context.Context, sync.Options, *config.Repo) *sync.Report) *Daemon {
	return startBareWith(t, repos, schedule, "", engine)
}

// startBareWith is startBare with top, more top-level configuration lines.
func startBareWith(t *testing.T, repos int, schedule, top string, engine func(context.Context, sync.Options, *config.Repo) *sync.Report) *Daemon {
	cfg := bareConfig(t, repos, schedule, top)
	old := runEngine
	runEngine = engine
	t.Cleanup(func() { runEngine = old })
	d, stop := runBare(t, cfg, Options{Logger: slog.New(slog.DiscardHandler), ShutdownTimeout: 5 * time.Second})
	t.Cleanup(stop)
	return d
}

// bareConfig is the configuration startBareWith runs.
func bareConfig(t *testing.T, repos int, schedule, top string) *config.Config {
	dir := t.TempDir()
	origin := httptest.NewServer(http.StripPrefix("/", http.FileServer(http.Dir(filepath.Join("..", "internal", "demo", "origin")))))
	t.Cleanup(origin.Close)
	host := strings.TrimPrefix(origin.URL, "http://")
	yaml := fmt.Sprintf("state_dir: %s/state\nprobe_interval: 1h\nprobe_timeout: 1s\n%srepos:\n", dir, top)
	for i := range repos {
		yaml += fmt.Sprintf("  - name: r%d\n    origin: http://%s/v1/\n    schedule: %q\n    mirrors:\n      - name: m\n        path: %s/m%d\n", i, host, schedule, dir, i)
	}
	p := filepath.Join(dir, "mirrors.yaml")
	os.WriteFile(p, []byte(yaml), 0o644)
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// bareRepo is a daemon of bareConfig's one repo, "r0", not run (no sync
// or probe of its own), logging to logger, and that repo.
func bareRepo(t *testing.T, logger *slog.Logger) (*Daemon, *repo) {
	t.Helper()
	d, err := New(bareConfig(t, 1, "@every 1h", ""), Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	r, ok := d.repo("r0")
	if !ok {
		t.Fatal("no repo r0")
	}
	return d, r
}

// published records r's mirror as published to (not pending a first
// sync), serving the repomd.xml whose digest is "cur", and returns it.
func published(t *testing.T, d *Daemon, r *repo) config.Mirror {
	t.Helper()
	m := r.config().Mirrors[0]
	st, err := d.store.Load(r.name)
	if err != nil {
		t.Fatal(err)
	}
	st.Mirror(m.Name).RepomdSHA256 = "cur"
	if err := d.store.Save(st); err != nil {
		t.Fatal(err)
	}
	return m
}

// runBare runs a daemon for cfg; stop shuts it down as SIGTERM does and
// returns once Run has (calling it again does nothing).
func runBare(t *testing.T, cfg *config.Config, opts Options) (d *Daemon, stop func()) {
	d, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx, ln); close(done) }()
	return d, func() { cancel(); <-done }
}

// TestNeverTwoSyncsOfARepoAtOnce fires many sync requests, from the
// schedule and from goroutines, at a repo whose syncs are slow: at most
// one runs at a time, and the others fold into one pending run.
func TestNeverTwoSyncsOfARepoAtOnce(t *testing.T) {
	var running, most, runs atomic.Int32
	d := startBare(t, 1, "@every 1s", func(ctx context.Context, _ sync.Options, rc *config.Repo) *sync.Report {
		n := running.Add(1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(300 * time.Millisecond)
		running.Add(-1)
		runs.Add(1)
		return &sync.Report{Repo: rc.Name, Start: time.Now()}
	})
	r, _ := d.repo("r0")
	var wg gosync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				r.requestSync("test")
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	time.Sleep(2 * time.Second)
	if most.Load() != 1 {
		t.Errorf("%d syncs of one repo ran at once", most.Load())
	}
	if n := runs.Load(); n < 2 || n > 12 {
		t.Errorf("%d syncs ran for 200 requests over ~2.5s of 300ms syncs: requests were not folded, or were lost", n)
	}
}

// TestPanicInASyncDoesNotStopTheDaemon: a sync that panics is reported
// as failed; the daemon, and other repos' syncs, go on.
func TestPanicInASyncDoesNotStopTheDaemon(t *testing.T) {
	var okRuns atomic.Int32
	d := startBare(t, 2, "@every 1h", func(ctx context.Context, _ sync.Options, rc *config.Repo) *sync.Report {
		if rc.Name == "r0" {
			panic("boom")
		}
		okRuns.Add(1)
		return &sync.Report{Repo: rc.Name, Start: time.Now()}
	})
	// The daemon's start-up syncs run both.
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := d.Status()
		if st.Repos[0].LastSync != nil && okRuns.Load() > 0 {
			if ls := st.Repos[0].LastSync; ls.Result != "failed" || ls.Error != "internal error: the sync panicked: boom" {
				t.Errorf("r0's last sync: %+v", ls)
			}
			if st.Repos[0].Syncing {
				t.Error("r0 still shows a sync running")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the syncs did not run")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// r0's worker still takes requests.
	r, _ := d.repo("r0")
	r.requestSync("again")
	time.Sleep(100 * time.Millisecond)
	if d.Status().Repos[0].Syncing {
		t.Error("r0 is stuck")
	}
}

// TestMaxParallelSyncs: at start-up every repo wants a sync; with
// max_parallel_syncs: 2 no more than two run at once, and every one of
// them runs.
func TestMaxParallelSyncs(t *testing.T) {
	for _, tc := range []struct {
		name  string
		top   string
		limit int32
	}{
		{"max_parallel_syncs: 2", "max_parallel_syncs: 2\n", 2},
		{"default", "", config.DefaultMaxParallelSyncs},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const repos = 10
			var running, most, runs atomic.Int32
			startBareWith(t, repos, "@every 1h", tc.top, func(ctx context.Context, _ sync.Options, rc *config.Repo) *sync.Report {
				n := running.Add(1)
				for {
					m := most.Load()
					if n <= m || most.CompareAndSwap(m, n) {
						break
					}
				}
				time.Sleep(200 * time.Millisecond)
				running.Add(-1)
				runs.Add(1)
				return &sync.Report{Repo: rc.Name, Start: time.Now()}
			})
			deadline := time.Now().Add(30 * time.Second)
			for runs.Load() < repos && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			if got := runs.Load(); got != repos {
				t.Fatalf("%d of %d start-up syncs ran", got, repos)
			}
			if got := most.Load(); got > tc.limit {
				t.Errorf("%d syncs ran at once, limit %d", got, tc.limit)
			}
		})
	}
}

// TestSlots: a slot is taken until released; a waiter gives up when its
// context ends.
func TestSlots(t *testing.T) {
	s := make(slots, 1)
	release, err := s.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.acquire(ctx); err == nil {
		t.Fatal("a second acquire of a one-slot semaphore succeeded")
	}
	release()
	if r, err := s.acquire(context.Background()); err != nil {
		t.Fatalf("acquire after release: %v", err)
	} else {
		r()
	}
}
