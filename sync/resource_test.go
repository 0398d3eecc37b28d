package sync_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	gosync "sync"
	"syscall"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/fetch"
	"github.com/rpmirror/rpmirror/internal/checker"
	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/state"
	"github.com/rpmirror/rpmirror/sync"
	"github.com/rpmirror/rpmirror/target"
	"github.com/rpmirror/rpmirror/target/local"
)

// demoKey is the key the committed demo origin is signed with.
func demoKey(t testing.TB) string {
	t.Helper()
	root, err := testrepo.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "internal", "demo", "RPM-GPG-KEY-rpmirror-test")
}

// engineWith is h.engine(false) with opts changed by change.
func (h *harness) engineWith(change func(*sync.Options)) *sync.Engine {
	opts := sync.Options{
		Store:       h.store,
		Fetcher:     fetch.New(fetch.Options{Retries: 1, Backoff: time.Millisecond, StallTimeout: 10 * time.Second}),
		Logger:      slog.New(slog.NewTextHandler(testWriter{h.t}, &slog.HandlerOptions{Level: slog.LevelInfo})),
		Concurrency: 4,
		Now:         func() time.Time { return h.now },
	}
	change(&opts)
	return sync.New(opts)
}

// checkIndependently runs the independent checker on every mirror.
func (h *harness) checkIndependently(when string) []*checker.Report {
	h.t.Helper()
	var reps []*checker.Report
	for _, m := range h.mirrors {
		r := checker.Check(m, checker.Options{KeyFiles: h.keys})
		for _, p := range r.Problems {
			h.t.Errorf("%s: mirror %s is inconsistent: %s", when, m, p)
		}
		reps = append(reps, r)
	}
	return reps
}

// device is the free space of a simulated disk.
type device struct {
	mu   gosync.Mutex
	free int64
}

// fullTarget is a target.Target on a device: a Put or Commit that would
// write more than the device has free fails with an error wrapping
// ENOSPC and writes nothing.
type fullTarget struct {
	target.Target
	dev *device
}

func (f *fullTarget) spend(files ...target.File) error {
	f.dev.mu.Lock()
	defer f.dev.mu.Unlock()
	var n int64
	for _, file := range files {
		n += max(file.Size, 0)
	}
	if n > f.dev.free {
		return fmt.Errorf("writing %s: %w", files[0].Path, syscall.ENOSPC)
	}
	f.dev.free -= n
	return nil
}

func (f *fullTarget) Put(ctx context.Context, file target.File) error {
	if err := f.spend(file); err != nil {
		return err
	}
	return f.Target.Put(ctx, file)
}

func (f *fullTarget) Commit(ctx context.Context, files []target.File, remove []string) error {
	if len(files) > 0 {
		if err := f.spend(files...); err != nil {
			return err
		}
	}
	return f.Target.Commit(ctx, files, remove)
}

// dirSize returns the bytes in the regular files below dir.
func dirSize(dir string) (n int64) {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// entries returns the names in dir; none when it does not exist.
func entries(dir string) []string {
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func fileSize(t *testing.T, p string) int64 {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// checkDiskFull syncs h three times, expecting each sync to fail for want
// of space on the mirrors full, and checks what is left: every mirror
// consistent, those full serving what they served with the files they had
// unchanged (identical trees when identical is set) and no staging files,
// and a download cache that does not grow. sync runs one sync.
func checkDiskFull(t *testing.T, h *harness, full []string, identical bool, sync func() *sync.Report) {
	t.Helper()
	before := map[string]map[string]string{}
	for _, m := range full {
		before[m] = tree(t, m)
	}
	cache := h.store.CacheDir("test")
	var sizes []int64
	for i := range 3 {
		rep := sync()
		if rep.Err == nil {
			t.Fatalf("sync %d succeeded on a full device", i)
		}
		if !errors.Is(rep.Err, syscall.ENOSPC) || !strings.Contains(rep.Err.Error(), "no space left on device") {
			t.Errorf("sync %d: error %q does not say the device is full", i, rep.Err)
		}
		h.checkIndependently(fmt.Sprintf("after failing sync %d", i))
		for _, m := range full {
			after := tree(t, m)
			if identical && !reflect.DeepEqual(after, before[m]) {
				t.Errorf("sync %d changed mirror %s:\nbefore %v\nafter  %v", i, m, before[m], after)
			}
			for p, sum := range before[m] {
				if after[p] != sum {
					t.Errorf("sync %d changed %s in mirror %s", i, p, m)
				}
			}
			if left := entries(filepath.Join(m, ".rpmirror", "tmp")); len(left) > 0 {
				t.Errorf("sync %d left staging files in %s/.rpmirror/tmp: %v", i, m, left)
			}
			if left := entries(filepath.Join(m, ".rpmirror", "next-repodata")); len(left) > 0 {
				t.Errorf("sync %d left %s/.rpmirror/next-repodata with %v", i, m, left)
			}
		}
		sizes = append(sizes, dirSize(cache))
	}
	if sizes[2] > sizes[0] {
		t.Errorf("the download cache grew across failing syncs: %v bytes", sizes)
	}
	t.Logf("download cache after each failing sync: %v bytes", sizes)
}

// TestDiskFull: a mirror whose device is full fails the sync with a
// message saying so, and is left serving what it served, byte for byte,
// without staging files; the download cache does not grow across
// repeated failures; once there is space the sync completes.
func TestDiskFull(t *testing.T) {
	v1, v2 := testrepo.DemoOrigin(t, "v1"), testrepo.DemoOrigin(t, "v2")
	// What v2 adds at new paths: the only puts.
	puts := fileSize(t, filepath.Join(v2, "Packages/h/hello-mirror-1.1-1.noarch.rpm")) +
		fileSize(t, filepath.Join(v2, "Packages/s/status-agent-0.1-1.noarch.rpm"))
	for _, tc := range []struct {
		name      string
		budget    int64
		identical bool
	}{
		{"the first package does not fit", 0, true},
		{"the packages fit, the metadata does not", puts, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newOrigin(t, filepath.Join(t.TempDir(), "origin"))
			republish(t, o, v1)
			h := newHarness(t, o, demoKey(t))
			h.mustSync()
			republish(t, o, v2)
			devices := map[string]*device{}
			for _, m := range h.repo.Mirrors {
				devices[m.Name] = &device{free: tc.budget}
			}
			full := func() *sync.Report {
				return h.engineWith(func(opts *sync.Options) {
					opts.OpenTarget = func(_ context.Context, m config.Mirror) (target.Target, error) {
						tg, err := local.New(m.Path)
						if err != nil {
							return nil, err
						}
						return &fullTarget{Target: tg, dev: devices[m.Name]}, nil
					}
				}).Sync(context.Background(), h.repo)
			}
			checkDiskFull(t, h, h.mirrors, tc.identical, full)
			want, _ := os.ReadFile(filepath.Join(v1, "repodata", "repomd.xml"))
			for i, r := range h.checkIndependently("after the failures") {
				if string(r.Repomd) != string(want) {
					t.Errorf("mirror %d no longer serves v1", i)
				}
			}
			h.mustSync()
			h.checkMirrors()
			if left := entries(h.store.CacheDir("test")); len(left) > 0 {
				t.Errorf("the download cache holds %v after a complete sync", left)
			}
		})
	}
}

// TestDiskFullTmpfs is TestDiskFull on a real filesystem: mirror one on a
// tmpfs of 256 KiB that the new revision does not fit on, once for a big
// package and once for big metadata.
func TestDiskFullTmpfs(t *testing.T) {
	testrepo.RequireTools(t, "rpmbuild", "createrepo_c")
	probe := t.TempDir()
	if err := syscall.Mount("tmpfs", probe, "tmpfs", 0, "size=256k"); err != nil {
		t.Skipf("skipping: mounting a tmpfs needs privileges: %v", err)
	}
	syscall.Unmount(probe, 0)

	base := t.TempDir()
	v1 := testrepo.DemoOrigin(t, "v1")
	big := testrepo.Pkg{Name: "big-data", Size: 200 << 10}
	bigPkg := filepath.Join(base, "big-package")
	buildRepo(t, bigPkg, v1, testrepo.RepoOpts{Revision: "1795537925"}, append(testrepo.DemoPackages(nil), big)...)
	bigMeta := filepath.Join(base, "big-metadata")
	// Text, for modifyrepo_c, that compresses to about 200 KiB.
	blob := filepath.Join(base, "blob.txt")
	b := make([]byte, 150<<10)
	rand.NewChaCha8([32]byte{}).Read(b)
	os.WriteFile(blob, []byte(base64.StdEncoding.EncodeToString(b)), 0o644)
	buildRepo(t, bigMeta, v1, testrepo.RepoOpts{Revision: "1795537925", Extras: []testrepo.Extra{{Type: "blob", File: blob}}}, testrepo.DemoPackages(nil)...)

	for _, tc := range []struct{ name, v2 string }{
		{"package", bigPkg},
		{"metadata", bigMeta},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newOrigin(t, filepath.Join(t.TempDir(), "origin"))
			republish(t, o, v1)
			h := newHarness(t, o)
			mnt := filepath.Join(t.TempDir(), "tmpfs")
			os.MkdirAll(mnt, 0o755)
			if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=256k"); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { syscall.Unmount(mnt, syscall.MNT_DETACH) })
			h.mirrors[0] = filepath.Join(mnt, "one")
			h.repo.Mirrors[0].Path = h.mirrors[0]
			h.mustSync()
			var st syscall.Statfs_t
			syscall.Statfs(mnt, &st)
			free := st.Bfree
			republish(t, o, tc.v2)
			checkDiskFull(t, h, h.mirrors[:1], true, h.sync)
			syscall.Statfs(mnt, &st)
			if st.Bfree != free {
				t.Errorf("the tmpfs had %d free blocks before the failing syncs, %d after: staging space was not released", free, st.Bfree)
			}
		})
	}
}

// gatedOrigin serves dir and holds every package request until release
// is closed; started is closed at the first.
type gatedOrigin struct {
	srv     *httptest.Server
	started chan struct{}
	release chan struct{}
}

func newGatedOrigin(t *testing.T, dir string) *gatedOrigin {
	g := &gatedOrigin{started: make(chan struct{}), release: make(chan struct{})}
	var once gosync.Once
	fsrv := http.FileServer(http.Dir(dir))
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ".rpm") {
			once.Do(func() { close(g.started) })
			<-g.release
		}
		fsrv.ServeHTTP(w, r)
	}))
	t.Cleanup(g.srv.Close)
	t.Cleanup(func() {
		select {
		case <-g.release:
		default:
			close(g.release)
		}
	})
	return g
}

// TestConcurrentSyncsRefused: while one engine syncs a repository, a
// second one with the same state_dir is refused (state.ErrLocked), and so
// is one with another state_dir that writes the same mirror
// (target.ErrLocked); each refusal names the holder's pid, and the first
// sync completes undisturbed.
func TestConcurrentSyncsRefused(t *testing.T) {
	for _, tc := range []struct {
		name      string
		sameState bool
		want      error
	}{
		{"same state_dir", true, state.ErrLocked},
		{"same mirror, other state_dir", false, target.ErrLocked},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGatedOrigin(t, testrepo.DemoOrigin(t, "v1"))
			o := &origin{dir: testrepo.DemoOrigin(t, "v1"), srv: g.srv}
			h := newHarness(t, o, demoKey(t))
			first := make(chan *sync.Report, 1)
			go func() { first <- h.engine(false).Sync(context.Background(), h.repo) }()
			select {
			case <-g.started:
			case rep := <-first:
				t.Fatalf("the first sync ended before fetching a package: %v", rep.Err)
			}

			dir := h.store.Dir() // a second process on the same state_dir
			if !tc.sameState {
				dir = filepath.Join(t.TempDir(), "other-state")
			}
			store, err := state.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			second := make(chan *sync.Report, 1)
			go func() {
				second <- h.engineWith(func(opts *sync.Options) { opts.Store = store }).Sync(context.Background(), h.repo)
			}()
			var rep *sync.Report
			select {
			case rep = <-second:
			case <-time.After(30 * time.Second):
				t.Fatal("the second sync waits for the first instead of being refused")
			}
			if !errors.Is(rep.Err, tc.want) {
				t.Errorf("second sync: %v, want an error wrapping %q", rep.Err, tc.want)
			} else if !strings.Contains(rep.Err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
				t.Errorf("second sync: %q does not name the holder's pid %d", rep.Err, os.Getpid())
			}

			close(g.release)
			if rep := <-first; rep.Err != nil {
				t.Fatalf("first sync: %v", rep.Err)
			}
			h.checkMirrors()
			h.checkIndependently("after the first sync")
			// Once the first is done, the second may go: nothing to
			// fetch. From another state_dir, which keeps no record of
			// publishing the mirror, it checks the mirror's files and
			// publishes the same revision once.
			second2 := h.engineWith(func(opts *sync.Options) { opts.Store = store })
			rep = second2.Sync(context.Background(), h.repo)
			if rep.Err != nil || rep.NoChange != tc.sameState || rep.Fetched > 0 {
				t.Errorf("second sync after the first: err %v, no change %v (want %v), fetched %d", rep.Err, rep.NoChange, tc.sameState, rep.Fetched)
			}
			if rep := second2.Sync(context.Background(), h.repo); rep.Err != nil || !rep.NoChange {
				t.Errorf("third sync: err %v, no change %v", rep.Err, rep.NoChange)
			}
		})
	}
}

// usage is what a process holds that a leak would grow.
type usage struct {
	goroutines, fds int
	heap            uint64
}

func (u usage) String() string {
	return fmt.Sprintf("%d goroutines, %d open files, %.1f MiB heap in use", u.goroutines, u.fds, float64(u.heap)/(1<<20))
}

// measure returns the process's usage once it has settled: it retries for
// a while so that goroutines on their way out are not counted.
func measure(limit usage) usage {
	var u usage
	for i := 0; i < 40; i++ {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fds, _ := os.ReadDir("/proc/self/fd")
		u = usage{runtime.NumGoroutine(), len(fds), ms.HeapInuse}
		if u.goroutines <= limit.goroutines && u.fds <= limit.fds && u.heap <= limit.heap {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return u
}

// TestNoLeaks runs thousands of no-op syncs and hundreds of real ones
// with one Fetcher and a new Engine each, as the daemon does: goroutines
// and open files return to where they were, and the heap stays within a
// few MiB.
func TestNoLeaks(t *testing.T) {
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("skipping: no /proc/self/fd to count open files")
	}
	noops, real := 2000, 300
	if testing.Short() {
		noops, real = 200, 30
	}
	v1, v2 := testrepo.DemoOrigin(t, "v1"), testrepo.DemoOrigin(t, "v2")
	o := newOrigin(t, filepath.Join(t.TempDir(), "origin"))
	republish(t, o, v1)
	h := newHarness(t, o, demoKey(t))
	h.repo.AllowRollback = true // the origin alternates between v1 and v2
	fetcher := fetch.New(fetch.Options{Retries: 1, Backoff: time.Millisecond})
	syncOnce := func() *sync.Report {
		rep := sync.New(sync.Options{Store: h.store, Fetcher: fetcher, Now: func() time.Time { return h.now }}).Sync(context.Background(), h.repo)
		if rep.Err != nil {
			t.Fatalf("sync: %v", rep.Err)
		}
		return rep
	}
	// Warm up: the first sync, a few no-ops and one update and back, so
	// that the connection pool and the runtime have their working size.
	syncOnce()
	for _, dir := range []string{v2, v1} {
		republish(t, o, dir)
		syncOnce()
	}
	for range 10 {
		syncOnce()
	}
	base := measure(usage{})
	t.Logf("baseline: %s", base)
	limit := usage{base.goroutines, base.fds, base.heap + 4<<20}

	start := time.Now()
	for i := range noops {
		if rep := syncOnce(); !rep.NoChange {
			t.Fatalf("no-op sync %d did something", i)
		}
	}
	after := measure(limit)
	t.Logf("after %d no-op syncs (%s): %s", noops, time.Since(start).Round(time.Millisecond), after)
	checkUsage(t, "no-op syncs", base, after, limit)

	start = time.Now()
	for i := range real {
		dir := v2
		if i%2 == 1 {
			dir = v1
		}
		republish(t, o, dir)
		if rep := syncOnce(); rep.NoChange || rep.Fetched == 0 {
			t.Fatalf("sync %d fetched nothing", i)
		}
	}
	after = measure(limit)
	t.Logf("after %d real syncs (%s): %s", real, time.Since(start).Round(time.Millisecond), after)
	checkUsage(t, "real syncs", base, after, limit)

	// A file dropped without Close is closed by a finalizer when the GC
	// runs, which hides the leak above. Without the GC, every file left
	// open shows.
	old := debug.SetGCPercent(-1)
	for i := range 40 {
		if i%2 == 0 {
			republish(t, o, []string{v2, v1}[i/2%2])
		}
		syncOnce()
	}
	// A file left open stays open (no collection closes it); one a
	// goroutine is still closing after Sync returned (an idle connection
	// the transport drops, on a loaded machine) is closed within moments.
	var fds []os.DirEntry
	for range 40 {
		if fds, _ = os.ReadDir("/proc/self/fd"); len(fds) <= base.fds {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	debug.SetGCPercent(old)
	if len(fds) > base.fds {
		t.Errorf("40 syncs without garbage collection leave %d files open, %d before: some are not closed", len(fds), base.fds)
	}
	h.checkMirrors()
	h.checkIndependently("after the loop")
}

func checkUsage(t *testing.T, what string, base, after, limit usage) {
	t.Helper()
	if after.goroutines > limit.goroutines {
		t.Errorf("%s leak goroutines: %d before, %d after", what, base.goroutines, after.goroutines)
		buf := make([]byte, 1<<20)
		t.Logf("goroutines:\n%s", buf[:runtime.Stack(buf, true)])
	}
	if after.fds > limit.fds {
		t.Errorf("%s leak open files: %d before, %d after", what, base.fds, after.fds)
		ents, _ := os.ReadDir("/proc/self/fd")
		for _, e := range ents {
			if l, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err == nil {
				t.Logf("fd %s -> %s", e.Name(), l)
			}
		}
	}
	if after.heap > limit.heap {
		t.Errorf("%s grow the heap: %.1f MiB before, %.1f MiB after", what, float64(base.heap)/(1<<20), float64(after.heap)/(1<<20))
	}
}

// manyRepo returns a repository of manyPackages small unsigned
// packages. Building it takes a while, so it is built once and kept in
// the project's .cache directory for later runs (remove
// .cache/rpmirror-test-many-3000 to rebuild it).
const manyPackages = 3000

var (
	manyOnce gosync.Once
	manyDir  string
	manyErr  error
)

func manyRepo(t *testing.T) string {
	t.Helper()
	testrepo.RequireTools(t, "rpmbuild", "createrepo_c")
	manyOnce.Do(func() {
		// The project's own cache (.cache/ at the module's root, ignored
		// by git and by go's ./... patterns), not the host's: nothing the
		// tests run keeps files outside the project.
		cache, err := filepath.Abs(filepath.Join("..", ".cache"))
		if err != nil {
			manyErr = err
			return
		}
		dir := filepath.Join(cache, "rpmirror-test-many-"+strconv.Itoa(manyPackages))
		if _, err := os.Stat(filepath.Join(dir, "repodata", "repomd.xml")); err == nil {
			manyDir = dir
			return
		}
		start := time.Now()
		if manyErr = os.MkdirAll(cache, 0o755); manyErr != nil {
			return
		}
		tmp, err := os.MkdirTemp(cache, "rpmirror-test-many-building-")
		if err != nil {
			manyErr = err
			return
		}
		defer os.RemoveAll(tmp)
		if _, manyErr = testrepo.Build(tmp, testrepo.ManyPackages(manyPackages, nil)...); manyErr != nil {
			return
		}
		if manyErr = testrepo.MakeRepo(tmp, testrepo.RepoOpts{NoDatabase: true, Revision: "1"}); manyErr != nil {
			return
		}
		os.RemoveAll(dir)
		if manyErr = os.Rename(tmp, dir); manyErr == nil {
			manyDir = dir
		}
		t.Logf("built %d packages in %s", manyPackages, time.Since(start).Round(time.Millisecond))
	})
	if manyErr != nil {
		t.Fatal(manyErr)
	}
	return manyDir
}

// heapSampler records the peak heap in use, per phase of a sync, while it
// runs.
type heapSampler struct {
	stop chan struct{}
	done chan struct{}
	peak map[string]uint64
}

func sampleHeap(p *sync.Progress, every time.Duration) *heapSampler {
	s := &heapSampler{stop: make(chan struct{}), done: make(chan struct{}), peak: map[string]uint64{}}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			phase := "start"
			if ph := p.Phase.Load(); ph != nil {
				phase = *ph
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			s.peak[phase] = max(s.peak[phase], ms.HeapInuse)
			s.peak["all"] = max(s.peak["all"], ms.HeapInuse)
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

func (s *heapSampler) Stop() map[string]uint64 {
	close(s.stop)
	<-s.done
	return s.peak
}

// TestPlanMemoryBounded syncs a repository of 3000 packages and samples
// the heap while the engine plans: it must stay far below what holding
// the repository's metadata in memory several times over would need.
func TestPlanMemoryBounded(t *testing.T) {
	src := manyRepo(t)
	o := newOrigin(t, src)
	h := newHarness(t, o)
	h.repo.Mirrors, h.mirrors = h.repo.Mirrors[:1], h.mirrors[:1]
	const limit = 64 << 20
	mib := func(n uint64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
	for _, run := range []string{"first sync", "update"} {
		if run == "update" {
			// A new revision with the same packages: the plan reads the
			// mirror's primary into an index and compares.
			copyDir := filepath.Join(t.TempDir(), "origin")
			if err := os.CopyFS(copyDir, os.DirFS(src)); err != nil {
				t.Fatal(err)
			}
			testrepo.CreateRepo(t, copyDir, testrepo.RepoOpts{NoDatabase: true, Revision: "2"})
			h.repo.Origin = newOrigin(t, copyDir).URL()
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base := ms.HeapInuse
		prog := &sync.Progress{}
		s := sampleHeap(prog, 2*time.Millisecond)
		start := time.Now()
		rep := h.engineWith(func(opts *sync.Options) {
			opts.Progress = prog
			opts.Logger = slog.New(slog.DiscardHandler)
		}).Sync(context.Background(), h.repo)
		peak := s.Stop()
		if rep.Err != nil {
			t.Fatal(rep.Err)
		}
		t.Logf("%s of %d packages (%d fetched) in %s: heap in use before %s; peak while planning %s, fetching %s, publishing %s, overall %s",
			run, manyPackages, rep.Fetched, time.Since(start).Round(time.Millisecond), mib(base), mib(peak["planning"]), mib(peak["fetching"]), mib(peak["publishing"]), mib(peak["all"]))
		if peak["planning"] == 0 {
			t.Errorf("%s: no sample while planning", run)
		}
		if peak["planning"] > limit {
			t.Errorf("%s: heap in use peaked at %s while planning %d packages, want under %s", run, mib(peak["planning"]), manyPackages, mib(limit))
		}
	}
	h.checkIndependently("after syncing")
}

// TestFetchedCountsEveryDownload: the report counts every package the
// origin sent, and its bytes. (It once missed small packages that grab
// had written before the fetcher noted the .part file's starting size.)
func TestFetchedCountsEveryDownload(t *testing.T) {
	src := manyRepo(t)
	o := newOrigin(t, src)
	h := newHarness(t, o)
	h.repo.Mirrors, h.mirrors = h.repo.Mirrors[:1], h.mirrors[:1]
	rep := h.engineWith(func(opts *sync.Options) { opts.Logger = slog.New(slog.DiscardHandler) }).Sync(context.Background(), h.repo)
	if rep.Err != nil {
		t.Fatal(rep.Err)
	}
	sent := o.fetched()
	var size int64
	for _, p := range sent {
		size += fileSize(t, filepath.Join(src, p))
	}
	if rep.Fetched != len(sent) || rep.Bytes < size {
		t.Errorf("the origin sent %d packages (%d bytes); the report says %d fetched, %d bytes with metadata", len(sent), size, rep.Fetched, rep.Bytes)
	}
}

// TestRepublishKeptMetadata: a mirror that goes back to a revision whose
// metadata files it still holds (not pruned yet), while the download
// cache still holds them too (a mirror failed, so the cache was kept),
// gets no stray files and can be synced again. (rename(2) onto the very
// same inode does nothing, which once left .rpmirror-tmp files in the
// served repodata/ and failed the next commit of the file.)
func TestRepublishKeptMetadata(t *testing.T) {
	v1, v2 := testrepo.DemoOrigin(t, "v1"), testrepo.DemoOrigin(t, "v2")
	o := newOrigin(t, filepath.Join(t.TempDir(), "origin"))
	h := newHarness(t, o, demoKey(t))
	h.repo.PruneAfter = time.Hour // v1's metadata stays in repodata/ after v2
	h.repo.AllowRollback = true   // v1 is published again after v2
	// Mirror two's device is full, so every sync fails there and the
	// cache is kept; mirror one is published each time.
	dev := &device{}
	eng := func() *sync.Engine {
		return h.engineWith(func(opts *sync.Options) {
			opts.OpenTarget = func(_ context.Context, m config.Mirror) (target.Target, error) {
				tg, err := local.New(m.Path)
				if err != nil || m.Name == "one" {
					return tg, err
				}
				return &fullTarget{Target: tg, dev: dev}, nil
			}
		})
	}
	stray := func(when string) {
		t.Helper()
		filepath.WalkDir(h.mirrors[0], func(p string, d fs.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(d.Name(), ".rpmirror-tmp") {
				t.Errorf("%s: mirror one holds %s", when, p)
			}
			return nil
		})
	}
	for i, dir := range []string{v1, v2, v1, v2, v1} {
		republish(t, o, dir)
		rep := eng().Sync(context.Background(), h.repo)
		if rep.Mirrors[0].Err != nil {
			t.Fatalf("sync %d: mirror one: %v", i, rep.Mirrors[0].Err)
		}
		if !errors.Is(rep.Err, syscall.ENOSPC) {
			t.Fatalf("sync %d: %v, want mirror two to fail for want of space", i, rep.Err)
		}
		stray(fmt.Sprintf("after sync %d", i))
		if r := checker.Check(h.mirrors[0], checker.Options{KeyFiles: h.keys}); len(r.Problems) > 0 {
			t.Errorf("sync %d: mirror one: %v", i, r.Problems)
		}
	}
}

// mountTmpfs mounts a tmpfs of size bytes at a new directory, or skips the
// test when that needs privileges the test does not have.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	mnt := filepath.Join(t.TempDir(), "tmpfs")
	os.MkdirAll(mnt, 0o755)
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("skipping: mounting a tmpfs needs privileges: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(mnt, syscall.MNT_DETACH) })
	return mnt
}

func freeBlocks(t *testing.T, dir string) uint64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return st.Bfree
}

// TestDiskFullReclaimsStaging: a sync that runs out of space gives its
// staging space back, so that the next sync does not run out again
// because of it. A mirror that had room for a new revision's package but
// not for its metadata no longer keeps that package (the next revision,
// with another package, then fits); a state_dir that had no room for a
// download no longer keeps the partial download in its cache.
func TestDiskFullReclaimsStaging(t *testing.T) {
	testrepo.RequireTools(t, "rpmbuild", "createrepo_c")
	mountTmpfs(t, "256k") // skips at once without the privilege
	base := t.TempDir()
	v1 := testrepo.DemoOrigin(t, "v1")
	// v2: a package that fits, and metadata that then does not.
	blob := filepath.Join(base, "blob.txt")
	b := make([]byte, 110<<10)
	rand.NewChaCha8([32]byte{1}).Read(b)
	os.WriteFile(blob, []byte(base64.StdEncoding.EncodeToString(b)), 0o644)
	v2 := filepath.Join(base, "v2")
	buildRepo(t, v2, v1, testrepo.RepoOpts{Revision: "1795537925", Extras: []testrepo.Extra{{Type: "blob", File: blob}}},
		append(testrepo.DemoPackages(nil), testrepo.Pkg{Name: "big-one", Size: 90 << 10})...)
	// v3: another package as big, with ordinary metadata.
	v3 := filepath.Join(base, "v3")
	buildRepo(t, v3, v1, testrepo.RepoOpts{Revision: "1795537926"}, append(testrepo.DemoPackages(nil), testrepo.Pkg{Name: "big-two", Size: 90 << 10})...)
	// huge: a package that does not fit in a state_dir of 256 KiB.
	huge := filepath.Join(base, "huge")
	buildRepo(t, huge, v1, testrepo.RepoOpts{Revision: "1795537927"}, append(testrepo.DemoPackages(nil), testrepo.Pkg{Name: "huge", Size: 400 << 10})...)

	t.Run("mirror", func(t *testing.T) {
		o := newOrigin(t, filepath.Join(t.TempDir(), "origin"))
		republish(t, o, v1)
		h := newHarness(t, o)
		mnt := mountTmpfs(t, "256k")
		h.mirrors[0] = filepath.Join(mnt, "one")
		h.repo.Mirrors[0].Path = h.mirrors[0]
		h.mustSync()
		free := freeBlocks(t, mnt)
		republish(t, o, v2)
		checkDiskFull(t, h, h.mirrors[:1], true, h.sync)
		if got := freeBlocks(t, mnt); got != free {
			t.Errorf("the tmpfs had %d free blocks before the failing syncs, %d after: the package stored for the unpublished revision still takes space", free, got)
		}
		republish(t, o, v3)
		h.mustSync()
		h.checkMirrors()
	})
	t.Run("state_dir", func(t *testing.T) {
		o := newOrigin(t, filepath.Join(t.TempDir(), "origin"))
		republish(t, o, v1)
		h := newHarness(t, o)
		mnt := mountTmpfs(t, "256k")
		store, err := state.Open(filepath.Join(mnt, "state"))
		if err != nil {
			t.Fatal(err)
		}
		h.store = store
		h.mustSync()
		free := freeBlocks(t, mnt)
		republish(t, o, huge)
		for i := range 2 {
			rep := h.sync()
			if !errors.Is(rep.Err, syscall.ENOSPC) {
				t.Fatalf("sync %d: %v, want ENOSPC", i, rep.Err)
			}
			// The state file grows by a run; a few blocks at most.
			if got := freeBlocks(t, mnt); got+4 < free {
				t.Errorf("sync %d: the state_dir tmpfs had %d free blocks before, %d after: the partial download still takes space (cache: %v)", i, free, got, entries(h.store.CacheDir("test")))
			}
		}
	})
}
