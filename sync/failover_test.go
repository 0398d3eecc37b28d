package sync_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/fetch"
	"github.com/rpmirror/rpmirror/internal/badorigin"
	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/mirrorlist"
	"github.com/rpmirror/rpmirror/source"
	"github.com/rpmirror/rpmirror/sync"
)

// The tests in this file give a repo several upstreams, each a real
// server on loopback (internal/badorigin) serving a real createrepo_c
// repository, and break some of them.

const (
	demoNewPkg = "Packages/s/status-agent-0.1-1.noarch.rpm" // in v2, not in v1
	repomdPath = "repodata/repomd.xml"
)

// olderRevision builds, from v1's packages, a revision whose metadata
// timestamps are older than v1's (and that is not signed).
func olderRevision(t *testing.T, v1 string) string {
	t.Helper()
	testrepo.RequireTools(t, "createrepo_c")
	dir := filepath.Join(t.TempDir(), "older")
	if err := os.CopyFS(filepath.Join(dir, "Packages"), os.DirFS(filepath.Join(v1, "Packages"))); err != nil {
		t.Fatal(err)
	}
	if err := testrepo.MakeRepo(dir, testrepo.RepoOpts{NoDatabase: true, Revision: "1700000000", TimestampFromRevision: true}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// upstreamSetup is what one upstream serves, and how it misbehaves, for
// the sync under test.
type upstreamSetup struct {
	dir       string
	misbehave func(s *badorigin.Server)
}

// wantUpstream is what the report must say of one upstream.
type wantUpstream struct {
	state source.State
	// err, when set, must hold for the upstream's error.
	err func(error) bool
	// files, when not negative, is how many files came from it.
	files int
}

func isStatus(code int) func(error) bool {
	return func(err error) bool {
		var se *fetch.StatusError
		return errors.As(err, &se) && se.Code == code
	}
}

func isStalled(err error) bool { return errors.Is(err, fetch.ErrStalled) }

func isOlder(err error) bool {
	var rb *sync.RollbackError
	return errors.As(err, &rb)
}

func isMismatch(err error) bool {
	var me *source.MetalinkMismatchError
	return errors.As(err, &me)
}

// metadataOnly reports whether s answered nothing but repodata/repomd.xml
// and its signature and key: no other metadata file, no package.
func metadataOnly(t *testing.T, name string, s *badorigin.Server) {
	t.Helper()
	for _, r := range s.Requests() {
		if r.Path != repomdPath && r.Path != "repodata/repomd.xml.asc" && r.Path != "repodata/repomd.xml.key" {
			t.Errorf("upstream %s was asked for %s", name, r.Path)
		}
	}
}

func checkUpstreams(t *testing.T, rep *sync.Report, want []wantUpstream) {
	t.Helper()
	if len(rep.Upstreams) != len(want) {
		t.Fatalf("report lists %d upstreams, want %d: %+v", len(rep.Upstreams), len(want), rep.Upstreams)
	}
	for i, w := range want {
		got := rep.Upstreams[i]
		if got.State != w.state {
			t.Errorf("upstream %d (%s): state %q, want %q (err %v)", i, got.URL, got.State, w.state, got.Err)
		}
		if w.err != nil && !w.err(got.Err) {
			t.Errorf("upstream %d (%s): error %v (%T) is not of the kind wanted", i, got.URL, got.Err, got.Err)
		}
		var ue *source.UpstreamError
		if w.state == source.Skipped && (!errors.As(got.Err, &ue) || ue.URL != got.URL) {
			t.Errorf("upstream %d: error %v is not an *UpstreamError naming %s", i, got.Err, got.URL)
		}
		if w.files >= 0 && got.Files != w.files {
			t.Errorf("upstream %d (%s): %d files fetched from it, want %d", i, got.URL, got.Files, w.files)
		}
	}
}

// sameWithDNF checks that dnf sees in mirror dir the packages it sees in
// the origin directory want.
func sameWithDNF(t *testing.T, dir, want string) {
	t.Helper()
	testrepo.RequireTools(t, "dnf")
	q := func(d string) string {
		out, err := testrepo.DNF(t, "r", d, "repoquery", "-q", "--qf", "%{name}-%{evr}.%{arch}")
		if err != nil {
			t.Fatalf("dnf repoquery on %s: %v\n%s", d, err, out)
		}
		return out
	}
	if got, w := q(dir), q(want); got != w || strings.TrimSpace(got) == "" {
		t.Errorf("dnf lists in the mirror:\n%s\nwant:\n%s", got, w)
	}
}

// TestUpstreamFailover: the mirrors serve v1, synced when every upstream
// served it; then some upstreams break and the others serve v2. A sync
// takes its metadata from the first usable upstream only, its packages
// from that one or another serving the same revision, and publishes v2
// complete; or, when no upstream is usable, is skipped with each
// upstream's reason and changes nothing.
func TestUpstreamFailover(t *testing.T) {
	v1, v2 := testrepo.DemoOrigin(t, "v1"), testrepo.DemoOrigin(t, "v2")
	older := olderRevision(t, v1)
	forbidden := func(s *badorigin.Server) { s.On(nil, badorigin.Status(http.StatusForbidden)) }
	stalled := func(s *badorigin.Server) { s.On(badorigin.Paths(repomdPath), badorigin.StallAfter(0)) }
	for _, tc := range []struct {
		name      string
		upstreams []upstreamSetup
		want      []wantUpstream
		skipped   bool
		failed    bool // no upstream usable, one refused: failed, not skipped
		// metadataFrom is the upstream every metadata file must come
		// from; the others must serve repomd.xml alone.
		metadataFrom int
	}{
		{
			name: "403 stalled and older upstreams are skipped for a good one",
			upstreams: []upstreamSetup{
				{v2, forbidden}, {v2, stalled}, {older, nil}, {v2, nil},
			},
			want: []wantUpstream{
				{source.Skipped, isStatus(http.StatusForbidden), 0},
				{source.Skipped, isStalled, 0},
				{source.Skipped, isOlder, 0},
				{source.Used, nil, -1},
			},
			metadataFrom: 3,
		},
		{
			name: "a package the used upstream refuses comes from the next serving the same revision",
			upstreams: []upstreamSetup{
				{v2, func(s *badorigin.Server) { s.On(badorigin.Paths(demoNewPkg), badorigin.Status(http.StatusForbidden)) }},
				{v1, nil},
				{v2, nil},
			},
			want: []wantUpstream{
				{source.Used, nil, -1},
				{source.OtherRevision, nil, 0},
				{source.SameRevision, nil, 1},
			},
			metadataFrom: 0,
		},
		{
			name: "no upstream answers so the sync is skipped",
			upstreams: []upstreamSetup{
				{v2, forbidden}, {v2, stalled}, {v2, func(s *badorigin.Server) { s.On(nil, badorigin.Status(http.StatusServiceUnavailable)) }},
			},
			want: []wantUpstream{
				{source.Skipped, isStatus(http.StatusForbidden), 0},
				{source.Skipped, isStalled, 0},
				{source.Skipped, isStatus(http.StatusServiceUnavailable), 0},
			},
			skipped:      true,
			metadataFrom: -1,
		},
		{
			// An upstream that answers with a refused revision needs a
			// person: the sync fails rather than being skipped.
			name: "the only upstream answering serves an older revision so the sync fails",
			upstreams: []upstreamSetup{
				{v2, forbidden}, {older, nil},
			},
			want: []wantUpstream{
				{source.Skipped, isStatus(http.StatusForbidden), 0},
				{source.Skipped, isOlder, 0},
			},
			failed:       true,
			metadataFrom: -1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var srvs []*badorigin.Server
			var urls []string
			for range tc.upstreams {
				s := badorigin.Start(t, v1)
				srvs = append(srvs, s)
				urls = append(urls, s.URL())
			}
			h := newHarness(t, &origin{dir: v1, srv: srvs[0].HTTP}, testKeyPath(t))
			h.repo.Origin, h.repo.Origins = urls[0], urls
			if rep := syncWithin(t, 20*time.Second, failEngine(h, 0, 4), h); rep.Err != nil {
				t.Fatalf("first sync, every upstream serving v1: %v", rep.Err)
			}
			before := []map[string]string{tree(t, h.mirrors[0]), tree(t, h.mirrors[1])}
			for i, u := range tc.upstreams {
				srvs[i].SetDir(u.dir)
				srvs[i].Forget()
				if u.misbehave != nil {
					u.misbehave(srvs[i])
				}
			}
			rep := syncWithin(t, 20*time.Second, failEngine(h, 0, 4), h)
			t.Logf("sync: %v", rep.Err)
			checkUpstreams(t, rep, tc.want)
			for i, s := range srvs {
				if i != tc.metadataFrom {
					if tc.want[i].state != source.SameRevision {
						metadataOnly(t, urls[i], s)
					}
					continue
				}
				if len(s.RequestsFor(primaryOf(t, v2), http.MethodGet)) == 0 {
					t.Errorf("upstream %d served no primary metadata", i)
				}
			}
			if tc.skipped || tc.failed {
				if rep.Skipped != tc.skipped || !errors.Is(rep.Err, source.ErrNoUsableUpstream) {
					t.Fatalf("sync: skipped %v, err %v; want skipped %v with ErrNoUsableUpstream", rep.Skipped, rep.Err, tc.skipped)
				}
				var nu *source.NoUsableUpstreamError
				if !errors.As(rep.Err, &nu) || len(nu.Errs) != len(tc.upstreams) {
					t.Errorf("error %v: want one reason per upstream", rep.Err)
				}
				if strings.Contains(rep.Err.Error(), "\n") {
					t.Errorf("error is more than one line: %q", rep.Err)
				}
				for i, m := range h.mirrors {
					if got := tree(t, m); !reflect.DeepEqual(got, before[i]) {
						t.Errorf("mirror %s changed", m)
					}
					checkConsistent(t, m)
				}
				st, _ := h.store.Load("test")
				if last := st.LastRun(); last == nil || last.Skipped != tc.skipped || last.Error == "" {
					t.Errorf("the run is not recorded as skipped %v with its error: %+v", tc.skipped, last)
				}
				return
			}
			if rep.Err != nil || rep.Skipped {
				t.Fatalf("sync: %v (skipped %v)", rep.Err, rep.Skipped)
			}
			for _, m := range h.mirrors {
				if got, want := tree(t, m), tree(t, v2); !reflect.DeepEqual(got, want) {
					t.Errorf("mirror %s is not v2:\n got %v\nwant %v", m, got, want)
				}
				checkConsistent(t, m)
			}
			sameWithDNF(t, h.mirrors[0], v2)
		})
	}
}

// TestPackageFailedAtEveryUpstreamNamesEach: a package every upstream
// serving the revision refuses fails the sync with one error naming
// each upstream and what it answered (an operator tester's read "server
// answered 403 Forbidden; server answered 403 Forbidden", the upstreams
// named only in the log), and leaves the mirrors as they were.
func TestPackageFailedAtEveryUpstreamNamesEach(t *testing.T) {
	v1, v2 := testrepo.DemoOrigin(t, "v1"), testrepo.DemoOrigin(t, "v2")
	var srvs []*badorigin.Server
	var urls []string
	for range 2 {
		s := badorigin.Start(t, v1)
		srvs, urls = append(srvs, s), append(urls, s.URL())
	}
	h := newHarness(t, &origin{dir: v1, srv: srvs[0].HTTP}, testKeyPath(t))
	h.repo.Origin, h.repo.Origins = urls[0], urls
	if rep := syncWithin(t, 20*time.Second, failEngine(h, 0, 4), h); rep.Err != nil {
		t.Fatalf("first sync: %v", rep.Err)
	}
	before := tree(t, h.mirrors[0])
	for _, s := range srvs {
		s.SetDir(v2)
		s.Forget()
		s.On(badorigin.Paths(demoNewPkg), badorigin.Status(http.StatusForbidden))
	}
	rep := syncWithin(t, 20*time.Second, failEngine(h, 0, 4), h)
	if rep.Err == nil {
		t.Fatal("sync succeeded though every upstream refuses a package")
	}
	msg := rep.Err.Error()
	if !strings.Contains(msg, "every upstream serving this revision failed (2): ") {
		t.Errorf("error %q does not say both upstreams failed", msg)
	}
	for _, u := range urls {
		if !strings.Contains(msg, u+": ") {
			t.Errorf("error %q does not name upstream %s", msg, u)
		}
	}
	if got := tree(t, h.mirrors[0]); !reflect.DeepEqual(got, before) {
		t.Error("the mirror changed")
	}
}

// primaryOf returns the href of the primary metadata of the repository
// in dir.
func primaryOf(t *testing.T, dir string) string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "repodata", "*primary.xml*"))
	if err != nil || len(m) == 0 {
		t.Fatalf("no primary metadata in %s", dir)
	}
	return "repodata/" + filepath.Base(m[0])
}

// TestOriginMetalink: with origin_metalink, the upstreams are the
// metalink's URLs in order of preference, and an upstream's repomd.xml is
// used only when it matches the metalink's size and hashes. A metalink
// whose hash matches no upstream leaves none usable: the sync is skipped.
func TestOriginMetalink(t *testing.T) {
	v1, v2 := testrepo.DemoOrigin(t, "v1"), testrepo.DemoOrigin(t, "v2")
	v2repomd, err := os.ReadFile(filepath.Join(v2, "repodata", "repomd.xml"))
	if err != nil {
		t.Fatal(err)
	}
	good := mirrorlist.Describe(v2repomd, 0)
	wrongHash := good
	wrongHash.SHA256 = strings.Repeat("0", 64)
	for _, tc := range []struct {
		name    string
		file    mirrorlist.File
		want    []wantUpstream
		skipped bool
	}{
		{
			name: "the stale upstream is skipped for the one matching the metalink",
			file: good,
			want: []wantUpstream{{source.Skipped, isMismatch, 0}, {source.Used, nil, -1}},
		},
		{
			name:    "a wrong hash in the metalink leaves no upstream usable",
			file:    wrongHash,
			want:    []wantUpstream{{source.Skipped, isMismatch, 0}, {source.Skipped, isMismatch, 0}},
			skipped: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			stale, fresh := badorigin.Start(t, v1), badorigin.Start(t, v2)
			metalink := mirrorlist.Metalink(tc.file, nil, []mirrorlist.Mirror{{URL: stale.URL()}, {URL: fresh.URL()}}, "", time.Now())
			ml := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/metalink" || r.URL.Query().Get("repo") != "test" {
					http.NotFound(w, r)
					return
				}
				w.Write(metalink)
			}))
			t.Cleanup(ml.Close)
			h := newHarness(t, &origin{dir: v2, srv: fresh.HTTP}, testKeyPath(t))
			h.repo.Origin, h.repo.Origins, h.repo.OriginMetalink = "", nil, ml.URL+"/metalink?repo=test&arch=noarch"
			rep := syncWithin(t, 20*time.Second, failEngine(h, 0, 4), h)
			t.Logf("sync: %v", rep.Err)
			checkUpstreams(t, rep, tc.want)
			metadataOnly(t, "stale", stale)
			if tc.skipped {
				if !rep.Skipped || !errors.Is(rep.Err, source.ErrNoUsableUpstream) {
					t.Fatalf("sync: skipped %v, err %v; want skipped", rep.Skipped, rep.Err)
				}
				for _, m := range h.mirrors {
					if _, err := os.Stat(filepath.Join(m, "repodata", "repomd.xml")); err == nil {
						t.Errorf("mirror %s was published", m)
					}
				}
				return
			}
			if rep.Err != nil {
				t.Fatalf("sync: %v", rep.Err)
			}
			for _, m := range h.mirrors {
				if got, want := tree(t, m), tree(t, v2); !reflect.DeepEqual(got, want) {
					t.Errorf("mirror %s is not v2", m)
				}
				checkConsistent(t, m)
			}
			sameWithDNF(t, h.mirrors[0], v2)
		})
	}
}

// TestOriginMirrorlist: with origin_mirrorlist, the upstreams are the
// mirrorlist's URLs in order; one answering 403 is skipped. When the
// mirrorlist itself cannot be had, the sync is skipped.
func TestOriginMirrorlist(t *testing.T) {
	v2 := testrepo.DemoOrigin(t, "v2")
	bad, good := badorigin.Start(t, v2), badorigin.Start(t, v2)
	bad.On(nil, badorigin.Status(http.StatusForbidden))
	list := "# repo = test arch = noarch\n" + bad.URL() + "\n" + good.URL() + "\n"
	ml := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/mirrorlist" {
			http.Error(w, "no", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte(list))
	}))
	t.Cleanup(ml.Close)
	h := newHarness(t, &origin{dir: v2, srv: good.HTTP}, testKeyPath(t))
	h.repo.Origin, h.repo.Origins, h.repo.OriginMirrorlist = "", nil, ml.URL+"/mirrorlist?repo=test"
	rep := syncWithin(t, 20*time.Second, failEngine(h, 0, 4), h)
	if rep.Err != nil {
		t.Fatalf("sync: %v", rep.Err)
	}
	checkUpstreams(t, rep, []wantUpstream{{source.Skipped, isStatus(http.StatusForbidden), 0}, {source.Used, nil, -1}})
	for _, m := range h.mirrors {
		checkConsistent(t, m)
	}

	h.repo.OriginMirrorlist = ml.URL + "/elsewhere"
	rep = syncWithin(t, 20*time.Second, failEngine(h, 0, 4), h)
	var ue *source.UpstreamError
	if !rep.Skipped || !errors.Is(rep.Err, source.ErrNoUsableUpstream) || !errors.As(rep.Err, &ue) || !isStatus(http.StatusServiceUnavailable)(ue) {
		t.Errorf("sync with the mirrorlist answering 503: skipped %v, err %v; want skipped, naming the mirrorlist's 503", rep.Skipped, rep.Err)
	}
}

// TestSkippedSyncCreatesNoMirror: the incident's origin, answering 403 to
// every request, on the first sync of a repository whose mirrors do not
// exist yet: the sync is skipped and leaves them as they were, not there
// (no directory holding just a lock file). Once the origin answers, the
// next sync creates them.
func TestSkippedSyncCreatesNoMirror(t *testing.T) {
	t.Parallel()
	o := newOrigin(t, demoV1)
	h := newHarness(t, o, testKeyPath(t))
	o.mu.Lock()
	o.status = http.StatusForbidden
	o.mu.Unlock()
	rep := syncWithin(t, 20*time.Second, failEngine(h, 0, 4), h)
	if !rep.Skipped || !errors.Is(rep.Err, source.ErrNoUsableUpstream) {
		t.Fatalf("sync from an origin answering 403: skipped %v, err %v; want skipped", rep.Skipped, rep.Err)
	}
	for _, m := range h.mirrors {
		if _, err := os.Lstat(m); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("mirror %s exists after a skipped first sync (%v)", m, err)
		}
	}
	o.mu.Lock()
	o.status = 0
	o.mu.Unlock()
	if rep := syncWithin(t, 20*time.Second, failEngine(h, 0, 4), h); rep.Err != nil {
		t.Fatalf("sync once the origin answers: %v", rep.Err)
	}
	for _, m := range h.mirrors {
		checkConsistent(t, m)
	}
}
