package sync_test

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	gosync "sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/fetch"
	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/state"
	"github.com/rpmirror/rpmirror/sync"
	"github.com/rpmirror/rpmirror/target"
	"github.com/rpmirror/rpmirror/target/local"
	"github.com/rpmirror/rpmirror/verify"
)

// origin serves a directory over loopback HTTP, counting requests and
// misbehaving on demand.
type origin struct {
	dir string
	srv *httptest.Server

	mu       gosync.Mutex
	requests map[string]int
	status   int            // when non-zero, every request gets this status
	statusOf map[string]int // status for single paths
	before   func(string)   // when set, called with the path of every GET before it is served
}

func newOrigin(t *testing.T, dir string) *origin {
	o := &origin{dir: dir, requests: map[string]int{}}
	fsrv := http.FileServer(http.Dir(dir))
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		if r.Method == http.MethodGet {
			o.requests[strings.TrimPrefix(r.URL.Path, "/")]++
		}
		status := o.status
		if st, ok := o.statusOf[strings.TrimPrefix(r.URL.Path, "/")]; ok {
			status = st
		}
		before := o.before
		o.mu.Unlock()
		if before != nil && r.Method == http.MethodGet {
			before(strings.TrimPrefix(r.URL.Path, "/"))
		}
		if status != 0 {
			http.Error(w, http.StatusText(status), status)
			return
		}
		fsrv.ServeHTTP(w, r)
	}))
	t.Cleanup(o.srv.Close)
	return o
}

func (o *origin) URL() string { return o.srv.URL + "/" }

func (o *origin) setStatus(code int) {
	o.mu.Lock()
	o.status = code
	o.mu.Unlock()
}

func (o *origin) setStatusOf(path string, code int) {
	o.mu.Lock()
	if o.statusOf == nil {
		o.statusOf = map[string]int{}
	}
	o.statusOf[path] = code
	o.mu.Unlock()
}

// fetched returns the packages requested since the last call, sorted.
func (o *origin) fetched() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var got []string
	for p, n := range o.requests {
		if strings.HasSuffix(p, ".rpm") {
			for range n {
				got = append(got, p)
			}
		}
	}
	sort.Strings(got)
	o.requests = map[string]int{}
	return got
}

// requested returns every path requested since the last call to fetched
// or requested.
func (o *origin) requested() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var got []string
	for p := range o.requests {
		got = append(got, p)
	}
	sort.Strings(got)
	o.requests = map[string]int{}
	return got
}

type harness struct {
	t       *testing.T
	o       *origin
	repo    *config.Repo
	store   *state.Store
	keys    []string
	now     time.Time
	mirrors []string
	maxMeta int64 // MaxMetadataSize; 0 for the default
	// onVerified is the engine's OnVerified.
	onVerified func(*state.Verified)
	// beforePublish is the engine's BeforePublish.
	beforePublish func(context.Context, state.Revision)
	// suspect is the engine's Suspect.
	suspect func(repo, mirror string) []string
	// concurrency is the engine's Concurrency; 0 for 4.
	concurrency int
	// log, when set, receives the engine's log too.
	log io.Writer
}

// newHarness syncs origin o to two mirrors in a temporary directory,
// checking signatures against keys when any are given.
func newHarness(t *testing.T, o *origin, keys ...string) *harness {
	base := t.TempDir()
	store, err := state.Open(filepath.Join(base, "state"))
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, o: o, store: store, keys: keys, now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	h.repo = &config.Repo{Name: "test", Origin: o.URL(), GPGKeys: keys, PruneAfter: 0, MinChecksum: config.DefaultMinChecksum}
	for _, name := range []string{"one", "two"} {
		p := filepath.Join(base, name)
		h.mirrors = append(h.mirrors, p)
		h.repo.Mirrors = append(h.repo.Mirrors, config.Mirror{Name: name, Path: p})
	}
	return h
}

func (h *harness) engine(dryRun bool) *sync.Engine {
	return h.newEngine(dryRun, func() time.Time { return h.now })
}

// engineWithClock is engine(false) reading the time from now.
func (h *harness) engineWithClock(now func() time.Time) *sync.Engine {
	return h.newEngine(false, now)
}

func (h *harness) newEngine(dryRun bool, now func() time.Time) *sync.Engine {
	return sync.New(sync.Options{
		Store:           h.store,
		Fetcher:         fetch.New(fetch.Options{Retries: 1, Backoff: time.Millisecond, StallTimeout: 10 * time.Second}),
		Logger:          slog.New(slog.NewTextHandler(h.logWriter(), &slog.HandlerOptions{Level: slog.LevelDebug})),
		Concurrency:     cmp.Or(h.concurrency, 4),
		DryRun:          dryRun,
		Now:             now,
		MaxMetadataSize: h.maxMeta,
		OnVerified:      h.onVerified,
		BeforePublish:   h.beforePublish,
		Suspect:         h.suspect,
	})
}

// logWriter is where the engine logs: the test's log, and h.log.
func (h *harness) logWriter() io.Writer {
	if h.log == nil {
		return testWriter{h.t}
	}
	return io.MultiWriter(testWriter{h.t}, h.log)
}

func (h *harness) sync() *sync.Report {
	h.t.Helper()
	return h.engine(false).Sync(context.Background(), h.repo)
}

func (h *harness) mustSync() *sync.Report {
	h.t.Helper()
	rep := h.sync()
	if rep.Err != nil {
		h.t.Fatalf("sync failed: %v", rep.Err)
	}
	return rep
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// tree returns every file below dir (rpmirror's own files left out) with
// its sha256.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && d.Name() == ".rpmirror" {
			return fs.SkipDir
		}
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(b)
			rel, _ := filepath.Rel(dir, p)
			files[filepath.ToSlash(rel)] = hex.EncodeToString(sum[:8])
		}
		return nil
	})
	return files
}

// checkMirrors checks that every mirror serves exactly the origin's
// repomd.xml and passes CheckMirror with the harness's keys.
func (h *harness) checkMirrors() {
	h.t.Helper()
	want, err := os.ReadFile(filepath.Join(h.o.dir, "repodata", "repomd.xml"))
	if err != nil {
		h.t.Fatal(err)
	}
	keyring, err := verify.LoadKeyring(h.keys...)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, m := range h.mirrors {
		got, err := os.ReadFile(filepath.Join(m, "repodata", "repomd.xml"))
		if err != nil {
			h.t.Fatalf("mirror %s: %v", m, err)
		}
		if !bytes.Equal(got, want) {
			h.t.Errorf("mirror %s: repomd.xml is not byte-identical to the origin's", m)
		}
		tg, err := local.New(m)
		if err != nil {
			h.t.Fatal(err)
		}
		problems, _, err := sync.CheckMirror(context.Background(), tg, keyring)
		if err != nil {
			h.t.Fatalf("checking %s: %v", m, err)
		}
		for _, p := range problems {
			h.t.Errorf("mirror %s: %s", m, p)
		}
	}
}

// dnfList lists the packages of mirror i with dnf, checking signatures
// against the harness's keys.
func (h *harness) dnfList(i int) []string {
	h.t.Helper()
	testrepo.RequireTools(h.t, "dnf")
	repo := testrepo.Repo{Name: "mirror", URL: h.mirrors[i], GPGKeys: h.keys}
	out, err := testrepo.DNFWithRepoFile(h.t, repo.String(), "repoquery", "-q", "--qf", "%{name}-%{epoch}:%{version}-%{release}.%{arch}")
	if err != nil {
		h.t.Fatalf("dnf repoquery on mirror %d: %v\n%s", i, err, out)
	}
	lines := strings.Fields(out)
	sort.Strings(lines)
	return lines
}

func nevras(pkgs []testrepo.Pkg) []string {
	var s []string
	for _, p := range pkgs {
		s = append(s, p.NEVRA())
	}
	sort.Strings(s)
	return s
}

func relPaths(pkgs ...testrepo.Pkg) []string {
	var s []string
	for _, p := range pkgs {
		s = append(s, p.RelPath())
	}
	sort.Strings(s)
	return s
}

// buildRepo builds pkgs into dir (reusing the files of from, when given,
// for packages that did not change) and runs createrepo_c with opts.
func buildRepo(t *testing.T, dir, from string, opts testrepo.RepoOpts, pkgs ...testrepo.Pkg) {
	t.Helper()
	testrepo.RequireTools(t, "rpmbuild", "rpmsign", "gpg", "createrepo_c")
	var err error
	if from == "" {
		_, err = testrepo.Build(dir, pkgs...)
	} else {
		_, err = testrepo.BuildDerived(dir, from, pkgs...)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := testrepo.MakeRepo(dir, opts); err != nil {
		t.Fatal(err)
	}
}

// demoRevisions builds n revisions (1 to 3) of the demo repository under
// base, each repomd.xml signed by key: base/v1 (revision "1", the demo's
// packages), base/v2 ("2", the demo's update, sharing v1's unchanged
// package files) and base/v3 ("3", v2's packages and zz-third). It
// returns their directories and packages.
func demoRevisions(t *testing.T, base string, key *testrepo.Key, n int) ([]string, [][]testrepo.Pkg) {
	t.Helper()
	p2 := testrepo.DemoV2Packages(key)
	pkgs := [][]testrepo.Pkg{testrepo.DemoPackages(key), p2,
		append(append([]testrepo.Pkg(nil), p2...), testrepo.Pkg{Name: "zz-third", Version: "1", Release: "1", Sign: key})}[:n]
	dirs := make([]string, n)
	for i := range n {
		dirs[i] = filepath.Join(base, fmt.Sprintf("v%d", i+1))
		from := ""
		if i > 0 {
			from = dirs[i-1]
		}
		buildRepo(t, dirs[i], from, testrepo.RepoOpts{SignRepomd: key, Revision: fmt.Sprint(i + 1)}, pkgs[i]...)
	}
	return dirs, pkgs
}

// republish replaces the origin's content with that of dir, as an origin
// publishing a new revision would.
func republish(t *testing.T, o *origin, dir string) {
	t.Helper()
	if err := os.RemoveAll(o.dir); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(o.dir, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
}

func TestFirstSyncUpdateAndNoOp(t *testing.T) {
	key := testrepo.TestKey(t)
	base := t.TempDir()
	v1, v2 := filepath.Join(base, "v1"), filepath.Join(base, "v2")
	p1, p2 := testrepo.DemoPackages(key), testrepo.DemoV2Packages(key)
	buildRepo(t, v1, "", testrepo.RepoOpts{SignRepomd: key, Revision: "1"}, p1...)
	buildRepo(t, v2, v1, testrepo.RepoOpts{SignRepomd: key, Revision: "2"}, p2...)
	o := newOrigin(t, filepath.Join(base, "origin"))
	republish(t, o, v1)
	h := newHarness(t, o, key.PublicPath)

	// First sync: every package fetched once, however many mirrors.
	rep := h.mustSync()
	if got, want := o.fetched(), relPaths(p1...); !reflect.DeepEqual(got, want) {
		t.Errorf("first sync fetched %v\nwant each package once: %v", got, want)
	}
	if rep.Fetched != len(p1) || rep.Verified != len(p1) || rep.Revision != "1" {
		t.Errorf("report: fetched %d, verified %d, revision %q; want %d, %d, 1", rep.Fetched, rep.Verified, rep.Revision, len(p1), len(p1))
	}
	for _, m := range rep.Mirrors {
		if m.Err != nil || m.UpToDate || m.Published == 0 {
			t.Errorf("mirror %s: %+v", m.Name, m)
		}
	}
	h.checkMirrors()
	for _, f := range []string{"repomd.xml.asc", "repomd.xml.key"} {
		if _, err := os.Stat(filepath.Join(h.mirrors[0], "repodata", f)); err != nil {
			t.Errorf("%s not carried: %v", f, err)
		}
	}
	if got, want := h.dnfList(0), nevras(p1); !reflect.DeepEqual(got, want) {
		t.Errorf("dnf lists %v, want %v", got, want)
	}

	// No-op: the origin did not change; only repomd.xml (and its .asc and
	// .key) are asked for.
	rep = h.mustSync()
	if !rep.NoChange || rep.Fetched != 0 {
		t.Errorf("no-op sync: NoChange %v, fetched %d", rep.NoChange, rep.Fetched)
	}
	// Four requests, as docs/operations.md and design.md say: repomd.xml
	// is read again after its signature (they said three).
	o.mu.Lock()
	counts := maps.Clone(o.requests)
	o.mu.Unlock()
	if want := map[string]int{"repodata/repomd.xml": 2, "repodata/repomd.xml.asc": 1, "repodata/repomd.xml.key": 1}; !maps.Equal(counts, want) {
		t.Errorf("no-op sync made the requests %v, want %v", counts, want)
	}
	if got, want := o.requested(), []string{"repodata/repomd.xml", "repodata/repomd.xml.asc", "repodata/repomd.xml.key"}; !reflect.DeepEqual(got, want) {
		t.Errorf("no-op sync requested %v, want only %v", got, want)
	}

	// Update: one package added, one changed, one removed. Only the
	// added and the changed package are fetched; the removed one is
	// pruned (prune_after 0s).
	republish(t, o, v2)
	rep = h.mustSync()
	added, changed := p2[len(p2)-1], p2[0]
	if got, want := o.fetched(), relPaths(added, changed); !reflect.DeepEqual(got, want) {
		t.Errorf("update fetched %v, want %v", got, want)
	}
	h.checkMirrors()
	for i, m := range h.mirrors {
		got := tree(t, m)
		for _, removed := range []string{"Packages/s/sample-data-2024.01-1.noarch.rpm", "Packages/h/hello-mirror-1.0-1.noarch.rpm"} {
			if _, ok := got[removed]; ok {
				t.Errorf("mirror %d still has %s after prune_after 0s", i, removed)
			}
		}
		if rep.Mirrors[i].Deleted == 0 {
			t.Errorf("mirror %d: report says nothing was deleted", i)
		}
	}
	if got, want := h.dnfList(1), nevras(p2); !reflect.DeepEqual(got, want) {
		t.Errorf("after update dnf lists %v, want %v", got, want)
	}

	// The run history says what happened.
	st, err := h.store.Load("test")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Runs) != 3 || !st.Runs[1].NoChange || st.Runs[2].Fetched != 2 || st.Mirrors["one"].Revision != "2" {
		t.Errorf("state: %d runs (%+v); mirror one at revision %q", len(st.Runs), st.Runs, st.Mirrors["one"].Revision)
	}
}

func TestPruneAfter(t *testing.T) {
	key := testrepo.TestKey(t)
	base := t.TempDir()
	v1, v2 := filepath.Join(base, "v1"), filepath.Join(base, "v2")
	buildRepo(t, v1, "", testrepo.RepoOpts{NoDatabase: true}, testrepo.DemoPackages(key)...)
	buildRepo(t, v2, v1, testrepo.RepoOpts{NoDatabase: true}, testrepo.DemoV2Packages(key)...)
	o := newOrigin(t, filepath.Join(base, "origin"))
	republish(t, o, v1)
	h := newHarness(t, o)
	h.repo.PruneAfter = time.Hour
	h.mustSync()
	old := "Packages/s/sample-data-2024.01-1.noarch.rpm"
	republish(t, o, v2)
	h.mustSync()
	h.checkMirrors()
	if _, ok := tree(t, h.mirrors[0])[old]; !ok {
		t.Fatalf("%s was deleted before prune_after passed", old)
	}
	h.now = h.now.Add(59 * time.Minute)
	if rep := h.mustSync(); !rep.NoChange || rep.Mirrors[0].Deleted != 0 {
		t.Errorf("after 59m: %+v", rep.Mirrors[0])
	}
	h.now = h.now.Add(time.Minute)
	rep := h.mustSync()
	if !rep.NoChange {
		t.Error("the origin did not change, yet the sync was not a no-op")
	}
	for i, m := range h.mirrors {
		files := tree(t, m)
		if _, ok := files[old]; ok {
			t.Errorf("mirror %d: %s still there after prune_after", i, old)
		}
		// The old revision's metadata files go too.
		var meta int
		for p := range files {
			if strings.HasPrefix(p, "repodata/") {
				meta++
			}
		}
		md, _ := os.ReadDir(filepath.Join(v2, "repodata"))
		if meta != len(md) {
			t.Errorf("mirror %d has %d files in repodata/, the origin %d", i, meta, len(md))
		}
	}
	h.checkMirrors()
}

// TestFormats syncs repositories in each metadata flavour dnf meets in the
// wild and checks the mirror with dnf.
func TestFormats(t *testing.T) {
	key := testrepo.TestKey(t)
	pkgs := testrepo.DemoPackages(key)
	for _, tc := range []struct {
		name string
		opts testrepo.RepoOpts
	}{
		{"sha1", testrepo.RepoOpts{ChecksumType: "sha1"}},
		{"sha512", testrepo.RepoOpts{ChecksumType: "sha512"}},
		{"xz", testrepo.RepoOpts{Compress: "xz"}},
		{"zstd", testrepo.RepoOpts{Compress: "zstd"}},
		{"bz2-no-database", testrepo.RepoOpts{Compress: "bz2", NoDatabase: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			src := filepath.Join(base, "src")
			buildRepo(t, src, "", tc.opts, pkgs...)
			o := newOrigin(t, filepath.Join(base, "origin"))
			republish(t, o, src)
			h := newHarness(t, o, key.PublicPath)
			h.mustSync()
			h.checkMirrors()
			if got, want := h.dnfList(0), nevras(pkgs); !reflect.DeepEqual(got, want) {
				t.Errorf("dnf lists %v, want %v", got, want)
			}
		})
	}
}

// TestSimpleNamesAcrossUpdate: with --simple-md-filenames the new
// revision's metadata replaces the old under the same names; the mirror
// must still switch from one complete revision to the other.
func TestSimpleNamesAcrossUpdate(t *testing.T) {
	key := testrepo.TestKey(t)
	base := t.TempDir()
	v1, v2 := filepath.Join(base, "v1"), filepath.Join(base, "v2")
	opts := testrepo.RepoOpts{SimpleNames: true, SignRepomd: key}
	buildRepo(t, v1, "", opts, testrepo.DemoPackages(key)...)
	buildRepo(t, v2, v1, opts, testrepo.DemoV2Packages(key)...)
	o := newOrigin(t, filepath.Join(base, "origin"))
	republish(t, o, v1)
	h := newHarness(t, o, key.PublicPath)
	h.mustSync()
	h.checkMirrors()
	republish(t, o, v2)
	h.mustSync()
	h.checkMirrors()
	if got, want := h.dnfList(0), nevras(testrepo.DemoV2Packages(key)); !reflect.DeepEqual(got, want) {
		t.Errorf("dnf lists %v, want %v", got, want)
	}
}

// TestSameNameNewContent: a package rebuilt (or re-signed) under the same
// file name replaces the old one in the same atomic step as the metadata.
func TestSameNameNewContent(t *testing.T) {
	key := testrepo.TestKey(t)
	base := t.TempDir()
	v1, v2 := filepath.Join(base, "v1"), filepath.Join(base, "v2")
	p1 := testrepo.DemoPackages(key)
	buildRepo(t, v1, "", testrepo.RepoOpts{}, p1...)
	changed := p1[1]
	changed.Seed = 42 // same name, version and file name; other content
	if err := os.CopyFS(v2, os.DirFS(v1)); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(filepath.Join(v2, "repodata"))
	os.Remove(filepath.Join(v2, filepath.FromSlash(changed.RelPath())))
	if _, err := testrepo.Build(v2, changed); err != nil {
		t.Fatal(err)
	}
	if err := testrepo.MakeRepo(v2, testrepo.RepoOpts{}); err != nil {
		t.Fatal(err)
	}
	o := newOrigin(t, filepath.Join(base, "origin"))
	republish(t, o, v1)
	h := newHarness(t, o, key.PublicPath)
	h.mustSync()
	o.fetched()
	republish(t, o, v2)
	h.mustSync()
	if got, want := o.fetched(), []string{changed.RelPath()}; !reflect.DeepEqual(got, want) {
		t.Errorf("fetched %v, want %v", got, want)
	}
	want, _ := os.ReadFile(filepath.Join(v2, filepath.FromSlash(changed.RelPath())))
	got, _ := os.ReadFile(filepath.Join(h.mirrors[0], filepath.FromSlash(changed.RelPath())))
	if !bytes.Equal(got, want) {
		t.Errorf("the mirror still has the old %s", changed.RelPath())
	}
	h.checkMirrors()
}

// TestExtraMetadataCarried: comps, updateinfo and modules metadata, and
// types rpmirror knows nothing about, are copied byte for byte.
func TestExtraMetadataCarried(t *testing.T) {
	key := testrepo.TestKey(t)
	base := t.TempDir()
	src := filepath.Join(base, "src")
	pkgs := testrepo.DemoPackages(key)
	extras := testrepo.WriteExtras(t, filepath.Join(base, "extras"), pkgs...)
	buildRepo(t, src, "", testrepo.RepoOpts{Extras: extras}, pkgs...)
	o := newOrigin(t, filepath.Join(base, "origin"))
	republish(t, o, src)
	h := newHarness(t, o, key.PublicPath)
	h.mustSync()
	h.checkMirrors()
	want := tree(t, filepath.Join(src, "repodata"))
	got := tree(t, filepath.Join(h.mirrors[0], "repodata"))
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mirror repodata/ = %v\nwant the origin's %v", got, want)
	}
	md, _ := os.ReadFile(filepath.Join(h.mirrors[0], "repodata", "repomd.xml"))
	for _, typ := range []string{`type="group"`, `type="updateinfo"`, `type="modules"`} {
		if !bytes.Contains(md, []byte(typ)) {
			t.Errorf("mirror's repomd.xml has no %s", typ)
		}
	}
}

// TestBadOriginLeavesMirrorsAsTheyWere: each way the origin can be wrong
// fails the sync with a message naming the cause, and the mirrors keep
// serving the previous revision, byte for byte.
func TestBadOriginLeavesMirrorsAsTheyWere(t *testing.T) {
	key := testrepo.TestKey(t)
	unknown := testrepo.UnknownKey(t)
	base := t.TempDir()
	v1 := filepath.Join(base, "v1")
	p1 := testrepo.DemoPackages(key)
	buildRepo(t, v1, "", testrepo.RepoOpts{Revision: "1"}, p1...)
	newPkg := testrepo.Pkg{Name: "zz-new", Version: "1", Release: "1", Sign: key}
	for _, tc := range []struct {
		name    string
		prepare func(t *testing.T, dir string, o *origin)
		want    string
		is      error
	}{
		{
			name: "corrupt package",
			prepare: func(t *testing.T, dir string, o *origin) {
				buildRepo(t, dir, v1, testrepo.RepoOpts{Revision: "2"}, append(p1, newPkg)...)
				p := filepath.Join(dir, filepath.FromSlash(newPkg.RelPath()))
				b, _ := os.ReadFile(p)
				b[len(b)-100] ^= 0xff
				os.WriteFile(p, b, 0o644)
			},
			want: "checksum mismatch",
		},
		{
			name: "signed by an unknown key",
			prepare: func(t *testing.T, dir string, o *origin) {
				p := newPkg
				p.Sign = unknown
				buildRepo(t, dir, v1, testrepo.RepoOpts{Revision: "2"}, append(p1, p)...)
			},
			want: "signed by a key that is not configured",
			is:   verify.ErrUnknownKey,
		},
		{
			name: "unsigned",
			prepare: func(t *testing.T, dir string, o *origin) {
				p := newPkg
				p.Sign = nil
				buildRepo(t, dir, v1, testrepo.RepoOpts{Revision: "2"}, append(p1, p)...)
			},
			want: "signature check failed: not signed",
			is:   verify.ErrUnsigned,
		},
		{
			name: "origin answers 403 to everything",
			prepare: func(t *testing.T, dir string, o *origin) {
				buildRepo(t, dir, v1, testrepo.RepoOpts{Revision: "2"}, append(p1, newPkg)...)
				o.setStatus(http.StatusForbidden)
			},
			want: "fetching repodata/repomd.xml from http://127.0.0.1",
		},
		{
			name: "package answers 403",
			prepare: func(t *testing.T, dir string, o *origin) {
				buildRepo(t, dir, v1, testrepo.RepoOpts{Revision: "2"}, append(p1, newPkg)...)
				o.setStatusOf(newPkg.RelPath(), http.StatusForbidden)
			},
			want: "server answered 403 Forbidden",
		},
		{
			name: "package missing",
			prepare: func(t *testing.T, dir string, o *origin) {
				buildRepo(t, dir, v1, testrepo.RepoOpts{Revision: "2"}, append(p1, newPkg)...)
				os.Remove(filepath.Join(dir, filepath.FromSlash(newPkg.RelPath())))
			},
			want: "server answered 404 Not Found",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "v2")
			o := newOrigin(t, filepath.Join(t.TempDir(), "origin"))
			republish(t, o, v1)
			h := newHarness(t, o, key.PublicPath)
			h.mustSync()
			before := []map[string]string{tree(t, h.mirrors[0]), tree(t, h.mirrors[1])}
			tc.prepare(t, dir, o)
			if o.status == 0 {
				republish(t, o, dir)
			}
			rep := h.sync()
			if rep.Err == nil {
				t.Fatal("sync succeeded")
			}
			if !strings.Contains(rep.Err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", rep.Err, tc.want)
			}
			if tc.is != nil && !errors.Is(rep.Err, tc.is) {
				t.Errorf("error %q is not %v", rep.Err, tc.is)
			}
			if tc.name != "origin answers 403 to everything" && !strings.Contains(rep.Err.Error(), "zz-new") {
				t.Errorf("error %q does not name the package", rep.Err)
			}
			for i, m := range h.mirrors {
				if got := tree(t, m); !reflect.DeepEqual(got, before[i]) {
					t.Errorf("mirror %d changed:\nbefore %v\nafter  %v", i, before[i], got)
				}
			}
			st, _ := h.store.Load("test")
			if last := st.LastRun(); last == nil || last.Error == "" {
				t.Errorf("the failed run is not in the state: %+v", last)
			}
		})
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	key := testrepo.TestKey(t)
	base := t.TempDir()
	src := filepath.Join(base, "src")
	pkgs := testrepo.DemoPackages(key)
	buildRepo(t, src, "", testrepo.RepoOpts{}, pkgs...)
	o := newOrigin(t, filepath.Join(base, "origin"))
	republish(t, o, src)
	h := newHarness(t, o, key.PublicPath)
	rep := h.engine(true).Sync(context.Background(), h.repo)
	if rep.Err != nil {
		t.Fatal(rep.Err)
	}
	sort.Strings(rep.WouldFetch)
	if want := relPaths(pkgs...); !reflect.DeepEqual(rep.WouldFetch, want) {
		t.Errorf("dry run would fetch %v, want %v", rep.WouldFetch, want)
	}
	if got := o.fetched(); len(got) != 0 {
		t.Errorf("dry run downloaded packages: %v", got)
	}
	for _, m := range h.mirrors {
		if _, err := os.Stat(m); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("dry run created %s", m)
		}
	}
	if len(rep.Mirrors[0].Publish) != len(pkgs)+5 {
		t.Logf("would publish: %v", rep.Mirrors[0].Publish)
	}
	if names, _ := h.store.Repos(); len(names) != 0 {
		t.Errorf("dry run wrote state for %v", names)
	}
}

func TestSecondProcessIsRefused(t *testing.T) {
	o := newOrigin(t, t.TempDir())
	h := newHarness(t, o)
	unlock, err := h.store.Lock("test")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	rep := h.sync()
	if !errors.Is(rep.Err, state.ErrLocked) {
		t.Errorf("sync while locked: err = %v, want ErrLocked", rep.Err)
	}
}

// TestOriginAuth: an origin behind HTTP basic authentication is synced
// with the credentials from origin_auth_file, which never show in errors
// or logs.
func TestOriginAuth(t *testing.T) {
	const user, pass = "mirror", "s3cret-passw0rd"
	v1 := filepath.Join("..", "internal", "demo", "origin", "v1")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="repo"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		http.FileServer(http.Dir(v1)).ServeHTTP(w, r)
	}))
	defer srv.Close()
	o := &origin{dir: v1, srv: srv}
	h := newHarness(t, o)
	logger, logs := captureLog(slog.LevelDebug)
	sync1 := func() *sync.Report {
		return sync.New(sync.Options{Store: h.store, Fetcher: fetch.New(fetch.Options{Logger: logger}), Logger: logger}).Sync(context.Background(), h.repo)
	}
	if rep := sync1(); rep.Err == nil || !strings.Contains(rep.Err.Error(), "401") {
		t.Fatalf("without credentials: %v", rep.Err)
	}
	authFile := filepath.Join(t.TempDir(), "auth")
	os.WriteFile(authFile, []byte(user+":"+pass+"\n"), 0o600)
	h.repo.OriginAuthFile = authFile
	if rep := sync1(); rep.Err != nil {
		t.Fatalf("with credentials: %v", rep.Err)
	}
	os.WriteFile(authFile, []byte(user+":wrong-"+pass+"\n"), 0o600)
	os.WriteFile(filepath.Join(h.mirrors[0], "repodata", "repomd.xml"), []byte("stale"), 0o644)
	rep := sync1()
	if rep.Err == nil {
		t.Fatal("with wrong credentials the sync succeeded")
	}
	for _, s := range []string{rep.Err.Error(), logs()} {
		if strings.Contains(s, pass) {
			t.Errorf("the password leaked: %s", s)
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// captureLog returns a logger and a function that returns what it has
// logged so far; safe for concurrent use.
func captureLog(level slog.Level) (*slog.Logger, func() string) {
	var logs strings.Builder
	var mu gosync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(p)
	}), &slog.HandlerOptions{Level: level}))
	return logger, func() string {
		mu.Lock()
		defer mu.Unlock()
		return logs.String()
	}
}

// TestOriginTLS: an https origin whose certificate is signed by an
// unknown authority is refused, unless its CA is configured (tls ca_file)
// or verification is explicitly turned off (tls insecure), which is
// logged loudly.
func TestOriginTLS(t *testing.T) {
	v1 := filepath.Join("..", "internal", "demo", "origin", "v1")
	srv := httptest.NewTLSServer(http.FileServer(http.Dir(v1)))
	defer srv.Close()
	o := &origin{dir: v1, srv: srv}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644)
	for _, tc := range []struct {
		name    string
		tls     config.TLS
		wantErr string
		wantLog string
	}{
		{"unknown authority", config.TLS{}, "certificate signed by unknown authority", ""},
		{"ca_file", config.TLS{CAFile: caFile}, "", ""},
		{"insecure", config.TLS{Insecure: true}, "", "TLS certificate verification is OFF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, o)
			h.repo.TLS = tc.tls
			logger, logs := captureLog(slog.LevelInfo)
			rep := sync.New(sync.Options{Store: h.store, Fetcher: fetch.New(fetch.Options{}), Logger: logger}).Sync(context.Background(), h.repo)
			if tc.wantErr == "" && rep.Err != nil {
				t.Fatalf("sync: %v", rep.Err)
			}
			if tc.wantErr != "" && (rep.Err == nil || !strings.Contains(rep.Err.Error(), tc.wantErr)) {
				t.Fatalf("sync: %v, want %q", rep.Err, tc.wantErr)
			}
			if tc.wantLog != "" && !strings.Contains(logs(), tc.wantLog) {
				t.Errorf("no %q in the log:\n%s", tc.wantLog, logs())
			}
		})
	}
}

// failingCommit is a target whose Commit fails while fail is set, as if
// the process died between storing packages and publishing metadata.
type failingCommit struct {
	target.Target
	fail *bool
}

func (f failingCommit) Commit(ctx context.Context, files []target.File, remove []string) error {
	if *f.fail {
		// As a kill would: an interrupted sync keeps what it stored.
		return fmt.Errorf("simulated crash before the commit: %w", context.Canceled)
	}
	return f.Target.Commit(ctx, files, remove)
}

// TestUnpublishedPackagesArePruned: packages stored for a revision that
// was never published (the commit failed) are pruned once a later
// revision that does not name them is published.
func TestUnpublishedPackagesArePruned(t *testing.T) {
	key := testrepo.TestKey(t)
	base := t.TempDir()
	v1, v2, v3 := filepath.Join(base, "v1"), filepath.Join(base, "v2"), filepath.Join(base, "v3")
	p1 := testrepo.DemoPackages(key)
	buildRepo(t, v1, "", testrepo.RepoOpts{NoDatabase: true}, p1...)
	orphan := testrepo.Pkg{Name: "orphan", Version: "1", Release: "1", Sign: key}
	buildRepo(t, v2, v1, testrepo.RepoOpts{NoDatabase: true}, append(p1, orphan)...)
	// A revision newer than v1 and v2, whose revisions are the time they
	// were built.
	buildRepo(t, v3, v1, testrepo.RepoOpts{NoDatabase: true, Revision: "9999999999"}, p1[1:]...)
	o := newOrigin(t, filepath.Join(base, "origin"))
	republish(t, o, v1)
	h := newHarness(t, o, key.PublicPath)
	h.mustSync()

	fail := true
	eng := sync.New(sync.Options{Store: h.store, Fetcher: fetch.New(fetch.Options{}), Now: func() time.Time { return h.now },
		OpenTarget: func(_ context.Context, m config.Mirror) (target.Target, error) {
			tg, err := local.New(m.Path)
			return failingCommit{tg, &fail}, err
		}})
	republish(t, o, v2)
	if rep := eng.Sync(context.Background(), h.repo); rep.Err == nil {
		t.Fatal("the failing commit did not fail the sync")
	}
	stored := filepath.Join(h.mirrors[0], filepath.FromSlash(orphan.RelPath()))
	if _, err := os.Stat(stored); err != nil {
		t.Fatalf("the package of the unpublished revision was not stored before the commit: %v", err)
	}
	fail = false
	republish(t, o, v3)
	h.mustSync()
	h.checkMirrors()
	if _, err := os.Stat(stored); err == nil {
		t.Errorf("%s, stored for a revision never published, is still there", orphan.RelPath())
	}
}

// TestIndexKept: after a publish, the state directory holds the index of
// what each mirror serves, tagged with its repomd.xml, and the next sync
// of an update fetches only what changed using it.
func TestIndexKept(t *testing.T) {
	v1 := filepath.Join("..", "internal", "demo", "origin", "v1")
	v2 := filepath.Join("..", "internal", "demo", "origin", "v2")
	o := newOrigin(t, filepath.Join(t.TempDir(), "origin"))
	republish(t, o, v1)
	h := newHarness(t, o)
	h.mustSync()
	for i, m := range h.repo.Mirrors {
		b, err := os.ReadFile(h.store.IndexPath("test", m.Name))
		if err != nil {
			t.Fatal(err)
		}
		md, _ := os.ReadFile(filepath.Join(h.mirrors[i], "repodata", "repomd.xml"))
		sum := sha256.Sum256(md)
		if first, _, _ := strings.Cut(string(b), "\n"); first != "rpmirror-index 1 "+hex.EncodeToString(sum[:]) {
			t.Errorf("index of %s starts %q", m.Name, first)
		}
		if n := strings.Count(string(b), "\n"); n != 7 {
			t.Errorf("index of %s has %d lines, want a header and 6 packages", m.Name, n)
		}
	}
	// Make the mirrors' own primary unreadable: the index must be enough
	// to know what they serve. Without it, the engine says it treats
	// their files as unknown.
	for _, m := range h.mirrors {
		ents, _ := filepath.Glob(filepath.Join(m, "repodata", "*-primary.xml.gz"))
		for _, e := range ents {
			os.Rename(e, e+".hidden")
		}
	}
	syncLogging := func() string {
		logger, logs := captureLog(slog.LevelInfo)
		rep := sync.New(sync.Options{Store: h.store, Fetcher: fetch.New(fetch.Options{}), Logger: logger, DryRun: true}).Sync(context.Background(), h.repo)
		if rep.Err != nil {
			t.Fatal(rep.Err)
		}
		return logs()
	}
	republish(t, o, v2)
	if l := syncLogging(); strings.Contains(l, "treating its files as unknown") {
		t.Errorf("with its index, the engine still read the mirror's primary:\n%s", l)
	}
	os.Remove(h.store.IndexPath("test", "one"))
	if l := syncLogging(); !strings.Contains(l, "treating its files as unknown") {
		t.Errorf("without the index nor the primary, the engine did not notice:\n%s", l)
	}
}

// lockLost is a target whose lock is lost before the commit (a lease in
// object storage that lapsed): Commit and Remove fail with
// target.ErrLockLost, and removes counts the Remove calls.
type lockLost struct {
	target.Target
	removes *atomic.Int32
}

func (l lockLost) Commit(context.Context, []target.File, []string) error {
	return fmt.Errorf("committing: %w", target.ErrLockLost)
}

func (l lockLost) Remove(context.Context, string) error {
	l.removes.Add(1)
	return fmt.Errorf("removing: %w", target.ErrLockLost)
}

// TestLockLostReclaimSaysOnce: a sync whose lock was lost before the
// commit leaves the packages it stored for the next sync, and says so
// once: it tried to remove each, warning a line per package, some never
// stored (an operator's HA test saw nine).
func TestLockLostReclaimSaysOnce(t *testing.T) {
	key := testrepo.TestKey(t)
	base := t.TempDir()
	v1, v2 := filepath.Join(base, "v1"), filepath.Join(base, "v2")
	p1 := testrepo.DemoPackages(key)
	buildRepo(t, v1, "", testrepo.RepoOpts{NoDatabase: true}, p1...)
	extra := []testrepo.Pkg{{Name: "orphan-a", Version: "1", Release: "1", Sign: key}, {Name: "orphan-b", Version: "1", Release: "1", Sign: key}}
	buildRepo(t, v2, v1, testrepo.RepoOpts{NoDatabase: true}, append(p1, extra...)...)
	o := newOrigin(t, filepath.Join(base, "origin"))
	republish(t, o, v1)
	h := newHarness(t, o, key.PublicPath)
	h.mustSync()

	var removes atomic.Int32
	logger, logs := captureLog(slog.LevelWarn)
	eng := sync.New(sync.Options{Store: h.store, Fetcher: fetch.New(fetch.Options{}), Logger: logger, Now: func() time.Time { return h.now },
		OpenTarget: func(_ context.Context, m config.Mirror) (target.Target, error) {
			tg, err := local.New(m.Path)
			return lockLost{tg, &removes}, err
		}})
	republish(t, o, v2)
	if rep := eng.Sync(context.Background(), h.repo); !errors.Is(rep.Err, target.ErrLockLost) {
		t.Fatalf("sync with the lock lost: %v", rep.Err)
	}
	l := logs()
	if n := strings.Count(l, "lock was lost"); n != len(h.mirrors) || strings.Contains(l, "removing a package stored") {
		t.Errorf("the lost lock said %d times for %d mirrors, or a line a package:\n%s", n, len(h.mirrors), l)
	}
	if n := int(removes.Load()); n != len(h.mirrors) {
		t.Errorf("%d removals tried with the lock lost, want one a mirror", n)
	}
}
