package mirrorlist

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/internal/testrepo"
)

// These tests run the real dnf (librepo underneath) against mirrorlists
// and metalinks made by Text and Metalink, served with the repositories
// they list by httptest on 127.0.0.1. What they pin is written up in
// doc.go.

// server is an httptest server on 127.0.0.1 that records the requests it
// answers.
type server struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []*http.Request
}

func record(t *testing.T, h http.Handler) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.reqs = append(s.reqs, r.Clone(r.Context()))
		s.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// serveMirror serves the repository in dir, as a mirror does.
func serveMirror(t *testing.T, dir string) *server {
	t.Helper()
	return record(t, http.FileServer(http.Dir(dir)))
}

// serveBytes serves body at every path, as rpmirror's server serves a
// mirrorlist or a metalink.
func serveBytes(t *testing.T, contentType string, body []byte) *server {
	t.Helper()
	return record(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.Write(body)
	}))
}

// base is the server's base URL, ending in "/".
func (s *server) base() string { return s.URL + "/" }

// requested returns how many requests s answered for path.
func (s *server) requested(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.reqs {
		if r.URL.Path == path {
			n++
		}
	}
	return n
}

// requests returns the paths and query strings s was asked for.
func (s *server) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, r := range s.reqs {
		out = append(out, r.URL.RequestURI())
	}
	return out
}

const repomdURLPath = "/" + RepomdPath

// deadURL returns a base URL on 127.0.0.1 where nothing listens.
func deadURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr + "/"
}

// nevras lists pkgs as dnf repoquery prints them, sorted.
func nevras(pkgs []testrepo.Pkg) []string {
	out := make([]string, len(pkgs))
	for i, p := range pkgs {
		out[i] = p.NEVRA()
	}
	sort.Strings(out)
	return out
}

// repoquery runs dnf repoquery with args and returns the packages it
// lists, sorted.
func repoquery(t *testing.T, c *testrepo.DNFClient, args ...string) ([]string, error) {
	t.Helper()
	out, err := c.Run(append([]string{"repoquery", "--quiet"}, args...)...)
	lines := strings.Fields(out)
	sort.Strings(lines)
	return lines, err
}

// mustRepoquery is repoquery failing t on error or on packages other than
// want.
func mustRepoquery(t *testing.T, c *testrepo.DNFClient, want []string, args ...string) {
	t.Helper()
	got, err := repoquery(t, c, args...)
	if err != nil {
		t.Fatalf("dnf repoquery: %v\ndnf.log:\n%s", err, dnfLog(t, c))
	}
	if !slices.Equal(got, want) {
		t.Errorf("dnf repoquery:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// dnfLog returns dnf's debug log in c's installroot, where librepo's
// errors about each mirror are written.
func dnfLog(t *testing.T, c *testrepo.DNFClient) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.Dir, "root", "var", "log", "dnf.log"))
	if err != nil {
		t.Logf("reading dnf.log: %v", err)
	}
	return string(b)
}

func readRepomd(t testing.TB, dir string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "repodata", "repomd.xml"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// requireDNF skips t without dnf (or gpg, for gpgcheck) or in -short mode.
func requireDNF(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping: runs dnf, and -short is set")
	}
	testrepo.RequireTools(t, "dnf", "gpg", "gpgconf")
}

// TestDNFMirrorlist has dnf read mirrorlists made by Text.
func TestDNFMirrorlist(t *testing.T) {
	requireDNF(t)
	v2 := testrepo.DemoOrigin(t, "v2")
	want := nevras(testrepo.DemoV2Packages(nil))
	pub := testrepo.Testdata(t, "keys", "test.pub")

	newClient := func(t *testing.T, body []byte, keys ...string) *testrepo.DNFClient {
		t.Helper()
		list := serveBytes(t, "text/plain; charset=utf-8", body)
		repo := testrepo.Repo{Name: "ml", URL: "mirrorlist=" + list.URL + "/mirrorlist?repo=demo", GPGKeys: keys, RepoGPGCheck: len(keys) > 0}
		return testrepo.NewDNF(t, repo.String())
	}

	// A dead mirror first, then two copies of v2: dnf skips the dead one
	// and takes everything from the first that answers. Packages are
	// checked against the committed key.
	t.Run("dead mirror then two live ones", func(t *testing.T) {
		t.Parallel()
		a, b := serveMirror(t, v2), serveMirror(t, v2)
		dead := deadURL(t)
		ms := []Mirror{
			{URL: b.base(), Latency: 20 * time.Millisecond},
			{URL: a.base(), Latency: 10 * time.Millisecond},
			{URL: dead, Priority: 1},
		}
		Sort(ms)
		body := Text(ms, "http://origin.invalid/")
		if got, wantText := string(body), dead+"\n"+a.base()+"\n"+b.base()+"\n"; got != wantText {
			t.Fatalf("mirrorlist:\n%s\nwant:\n%s", got, wantText)
		}
		c := newClient(t, body, pub)
		mustRepoquery(t, c, want)
		if log := dnfLog(t, c); !strings.Contains(log, dead+RepomdPath) {
			t.Errorf("dnf.log does not show the dead mirror tried:\n%s", log)
		}
		if out, err := c.Run("install", "hello-mirror"); err != nil {
			t.Fatalf("dnf install with gpgcheck=1: %v\n%s", err, out)
		}
		if a.requested(repomdURLPath) == 0 || a.requested("/Packages/h/hello-mirror-1.1-1.noarch.rpm") != 1 {
			t.Errorf("first live mirror was asked for:\n%s", strings.Join(a.requests(), "\n"))
		}
		if b.requested(repomdURLPath) != 0 {
			t.Errorf("second live mirror was asked for repomd.xml although the first answered:\n%s", strings.Join(b.requests(), "\n"))
		}
	})

	// Lines starting with '#' (after blanks) are comments even when they
	// hold a URL. librepo would try any other line holding "://" and log
	// the failure, as the control shows.
	t.Run("comment lines", func(t *testing.T) {
		t.Parallel()
		trap, live := serveMirror(t, t.TempDir()), serveMirror(t, v2)
		addr := strings.TrimPrefix(trap.URL, "http://")
		liveText := string(Text([]Mirror{{URL: live.base()}}, ""))

		control := newClient(t, []byte("junk"+trap.base()+"\n"+liveText))
		mustRepoquery(t, control, want)
		if !strings.Contains(dnfLog(t, control), "junk"+trap.base()) {
			t.Fatalf("control: dnf.log does not mention the junk line:\n%s", dnfLog(t, control))
		}

		body := "# " + trap.base() + "\n#" + trap.base() + "\n\t # " + trap.base() + "\n\n" + liveText
		c := newClient(t, []byte(body))
		mustRepoquery(t, c, want)
		if log := dnfLog(t, c); strings.Contains(log, addr) {
			t.Errorf("dnf tried a commented-out URL:\n%s", log)
		}
		if reqs := trap.requests(); len(reqs) != 0 {
			t.Errorf("dnf followed a commented-out URL:\n%s", strings.Join(reqs, "\n"))
		}
	})

	// A mirrorlist carries no checksum: dnf takes whatever the first
	// answering mirror serves, even an old revision (what a metalink
	// prevents).
	t.Run("stale mirror accepted", func(t *testing.T) {
		t.Parallel()
		stale, fresh := serveMirror(t, testrepo.DemoOrigin(t, "v1")), serveMirror(t, v2)
		c := newClient(t, Text([]Mirror{{URL: stale.base()}, {URL: fresh.base()}}, ""), pub)
		mustRepoquery(t, c, nevras(testrepo.DemoPackages(nil)))
		if n := fresh.requested(repomdURLPath); n != 0 {
			t.Errorf("fresh mirror asked for repomd.xml %d times, want 0", n)
		}
	})

	// With no mirror, Text's comment line and then the origin: dnf reads
	// the origin.
	t.Run("origin fallback", func(t *testing.T) {
		t.Parallel()
		origin := serveMirror(t, v2)
		body := Text(nil, origin.base())
		if got, wantText := string(body), FallbackComment+"\n"+origin.base()+"\n"; got != wantText {
			t.Fatalf("mirrorlist:\n%s\nwant:\n%s", got, wantText)
		}
		mustRepoquery(t, newClient(t, body), want)
		if origin.requested(repomdURLPath) == 0 {
			t.Errorf("origin not asked for repomd.xml:\n%s", strings.Join(origin.requests(), "\n"))
		}
	})
}

// TestDNFMetalink has dnf read metalinks made by Metalink. Mirror "stale"
// serves the demo origin's v1, "fresh" its v2; the metalink's current
// file is v2's repomd.xml.
func TestDNFMetalink(t *testing.T) {
	requireDNF(t)
	v1, v2 := testrepo.DemoOrigin(t, "v1"), testrepo.DemoOrigin(t, "v2")
	wantV1, wantV2 := nevras(testrepo.DemoPackages(nil)), nevras(testrepo.DemoV2Packages(nil))
	fileV1, fileV2 := Describe(readRepomd(t, v1), 0), Describe(readRepomd(t, v2), 0)
	pub := testrepo.Testdata(t, "keys", "test.pub")
	now := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

	// serve serves doc and returns its server and a dnf client whose
	// repository is key=URL of doc, key being "metalink" or "mirrorlist".
	serve := func(t *testing.T, key string, doc []byte, keys ...string) (*server, *testrepo.DNFClient) {
		t.Helper()
		ml := serveBytes(t, "application/metalink+xml", doc)
		repo := testrepo.Repo{Name: "ml", URL: key + "=" + ml.URL + "/metalink?repo=demo&arch=noarch", GPGKeys: keys, RepoGPGCheck: len(keys) > 0}
		return ml, testrepo.NewDNF(t, repo.String())
	}
	newClient := func(t *testing.T, key string, doc []byte, keys ...string) *testrepo.DNFClient {
		t.Helper()
		_, c := serve(t, key, doc, keys...)
		return c
	}
	const mismatch = "checksum doesn't match"

	// The stale mirror, listed first, serves a repomd.xml whose sha512 is
	// not the metalink's: librepo rejects it and takes the fresh mirror's.
	t.Run("stale mirror first is rejected", func(t *testing.T) {
		t.Parallel()
		stale, fresh := serveMirror(t, v1), serveMirror(t, v2)
		c := newClient(t, "metalink", Metalink(fileV2, nil, []Mirror{{URL: stale.base()}, {URL: fresh.base()}}, "", now), pub)
		mustRepoquery(t, c, wantV2)
		if stale.requested(repomdURLPath) == 0 || fresh.requested(repomdURLPath) == 0 {
			t.Errorf("repomd.xml requests: stale %d, fresh %d; want both asked", stale.requested(repomdURLPath), fresh.requested(repomdURLPath))
		}
		if log := dnfLog(t, c); !strings.Contains(log, mismatch) || !strings.Contains(log, stale.base()+RepomdPath) {
			t.Errorf("dnf.log does not report the stale mirror's checksum mismatch:\n%s", log)
		}
	})

	// Only the stale mirror: dnf fails, so the rejection above is real.
	t.Run("only the stale mirror", func(t *testing.T) {
		t.Parallel()
		stale := serveMirror(t, v1)
		c := newClient(t, "metalink", Metalink(fileV2, nil, []Mirror{{URL: stale.base()}}, "", now))
		got, err := repoquery(t, c)
		var re *testrepo.RunError
		if !errors.As(err, &re) {
			t.Fatalf("dnf repoquery succeeded (%v) with only a stale mirror:\n%s", err, strings.Join(got, "\n"))
		}
		if !strings.Contains(re.Stderr, "All mirrors were tried") {
			t.Errorf("dnf error %q, want it to say all mirrors were tried", re.Stderr)
		}
		// librepo checks the strongest hash listed.
		if log := dnfLog(t, c); !strings.Contains(log, mismatch) || !strings.Contains(log, fileV2.SHA512+"(sha512)") {
			t.Errorf("dnf.log does not report a sha512 mismatch:\n%s", log)
		}
		if n := stale.requested("/repodata/" + filepath.Base(firstData(t, v1))); n != 0 {
			t.Errorf("dnf fetched metadata named by the rejected repomd.xml (%d requests)", n)
		}
	})

	// The stale mirror alone again, but v1's repomd.xml is listed as an
	// alternate: librepo accepts it, and dnf serves v1's packages. The
	// cache is not revived from the metalink (libdnf compares current's
	// hashes only), so every metadata check (forced here with --refresh,
	// as an expired metadata_expire would) fetches repomd.xml again.
	t.Run("alternate revision accepted", func(t *testing.T) {
		t.Parallel()
		stale := serveMirror(t, v1)
		c := newClient(t, "metalink", Metalink(fileV2, []File{fileV1}, []Mirror{{URL: stale.base()}}, "", now))
		mustRepoquery(t, c, wantV1)
		if log := dnfLog(t, c); strings.Contains(log, mismatch) {
			t.Errorf("dnf.log reports a checksum mismatch:\n%s", log)
		}
		mustRepoquery(t, c, wantV1, "--refresh")
		if n := stale.requested(repomdURLPath); n != 2 {
			t.Errorf("two metadata checks fetched repomd.xml %d times, want 2", n)
		}
	})

	// A client whose cached repomd.xml is current's does not fetch it
	// again when its metadata expire: libdnf compares the metalink's
	// hashes with its cache and revives it.
	t.Run("cache revived from the metalink", func(t *testing.T) {
		t.Parallel()
		fresh := serveMirror(t, v2)
		ml, c := serve(t, "metalink", Metalink(fileV2, []File{fileV1}, []Mirror{{URL: fresh.base()}}, "", now))
		mustRepoquery(t, c, wantV2)
		mustRepoquery(t, c, wantV2, "--refresh")
		if n := ml.requested("/metalink"); n < 2 {
			t.Fatalf("two metadata checks fetched the metalink %d times, want 2 or more", n)
		}
		if n := fresh.requested(repomdURLPath); n != 1 {
			t.Errorf("two metadata checks fetched repomd.xml %d times, want 1", n)
		}
	})

	// librepo tries urls in document order; preference is parsed and not
	// used. Metalink makes both agree.
	t.Run("document order not preference", func(t *testing.T) {
		t.Parallel()
		first, second := serveMirror(t, v2), serveMirror(t, v2)
		doc := string(Metalink(fileV2, nil, []Mirror{{URL: first.base()}, {URL: second.base()}}, "", now))
		doc = strings.Replace(doc, `preference="100"`, `preference="1"`, 1)
		doc = strings.Replace(doc, `preference="99"`, `preference="100"`, 1)
		if !strings.Contains(doc, `preference="1">`+first.base()) {
			t.Fatalf("editing preferences failed:\n%s", doc)
		}
		mustRepoquery(t, newClient(t, "metalink", []byte(doc)), wantV2)
		if first.requested(repomdURLPath) != 1 || second.requested(repomdURLPath) != 0 {
			t.Errorf("repomd.xml requests: first listed (preference 1) %d, second (preference 100) %d; want 1 and 0",
				first.requested(repomdURLPath), second.requested(repomdURLPath))
		}
	})

	// A base URL with a query string: & is escaped in the XML, librepo
	// strips repodata/repomd.xml from the url and puts every path it
	// fetches before the query.
	t.Run("query string in a mirror URL", func(t *testing.T) {
		t.Parallel()
		m := serveMirror(t, v2)
		doc := Metalink(fileV2, nil, []Mirror{{URL: m.base() + "?token=a%2Fb&u=2"}}, "", now)
		if !strings.Contains(string(doc), "?token=a%2Fb&amp;u=2"+RepomdPath+"</url>") {
			t.Fatalf("metalink:\n%s", doc)
		}
		mustRepoquery(t, newClient(t, "metalink", doc), wantV2)
		reqs := m.requests()
		for _, r := range reqs {
			if !strings.HasSuffix(r, "?token=a%2Fb&u=2") || strings.Contains(r, "u=2repodata") {
				t.Errorf("request %s, want the path before the mirror's query", r)
			}
		}
		if !slices.Contains(reqs, repomdURLPath+"?token=a%2Fb&u=2") {
			t.Errorf("requests:\n%s", strings.Join(reqs, "\n"))
		}
	})

	// Size and mm0:timestamp are parsed and not checked.
	t.Run("size and timestamp not checked", func(t *testing.T) {
		t.Parallel()
		fresh := serveMirror(t, v2)
		wrong := fileV2
		wrong.Size, wrong.Timestamp = 1, 1
		mustRepoquery(t, newClient(t, "metalink", Metalink(wrong, nil, []Mirror{{URL: fresh.base()}}, "", now)), wantV2)
	})

	// No mirror: the origin is listed, after a comment.
	t.Run("origin fallback", func(t *testing.T) {
		t.Parallel()
		origin := serveMirror(t, v2)
		doc := Metalink(fileV2, []File{fileV1}, nil, origin.base(), now)
		if !strings.Contains(string(doc), "<!-- ") {
			t.Fatalf("metalink without the fallback comment:\n%s", doc)
		}
		mustRepoquery(t, newClient(t, "metalink", doc, pub), wantV2)
		if origin.requested(repomdURLPath) == 0 {
			t.Errorf("origin not asked for repomd.xml:\n%s", strings.Join(origin.requests(), "\n"))
		}
	})

	// dnf reads a metalink given as mirrorlist= when the URL contains
	// "metalink" (compatibility with yum, in libdnf).
	t.Run("metalink as mirrorlist", func(t *testing.T) {
		t.Parallel()
		stale, fresh := serveMirror(t, v1), serveMirror(t, v2)
		mustRepoquery(t, newClient(t, "mirrorlist", Metalink(fileV2, nil, []Mirror{{URL: stale.base()}, {URL: fresh.base()}}, "", now)), wantV2)
	})
}

// firstData returns the location href of the first data entry of dir's
// repomd.xml.
func firstData(t *testing.T, dir string) string {
	t.Helper()
	s := string(readRepomd(t, dir))
	const attr = `<location href="`
	i := strings.Index(s, attr)
	if i < 0 {
		t.Fatalf("no location in %s's repomd.xml", dir)
	}
	s = s[i+len(attr):]
	return s[:strings.IndexByte(s, '"')]
}
