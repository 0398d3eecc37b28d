package server

import (
	"bufio"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rpmirror/rpmirror/geo"
	"github.com/rpmirror/rpmirror/internal/geotest"
	"github.com/rpmirror/rpmirror/mirrorlist"
	"github.com/rpmirror/rpmirror/selection"
)

func TestCatalogFind(t *testing.T) {
	c := NewCatalog([]Entry{
		{Name: "epel-9-x86_64", MirrorlistName: "epel-9", Arch: "x86_64"},
		{Name: "epel-9-aarch64", MirrorlistName: "epel-9", Arch: "aarch64"},
		{Name: "epel-9-source", MirrorlistName: "epel-9-source"},
		{Name: "tools-noarch", MirrorlistName: "tools"},
		{Name: "extras-x86_64", MirrorlistName: "extras", Arch: "x86_64"},
	})
	for _, tc := range []struct {
		name, arch string
		want       string // entry name, "" for not found
	}{
		{"epel-9", "x86_64", "epel-9-x86_64"},
		{"epel-9", "aarch64", "epel-9-aarch64"},
		{"epel-9", "ppc64le", ""},                    // no such arch, and no arch-less epel-9
		{"epel-9", "", ""},                           // ambiguous
		{"epel-9-source", "x86_64", "epel-9-source"}, // arch-less: serves every arch
		{"tools", "", "tools-noarch"},
		{"extras", "", "extras-x86_64"},               // the only extras
		{"epel-9-x86_64", "", "epel-9-x86_64"},        // the configuration name
		{"epel-9-x86_64", "aarch64", "epel-9-x86_64"}, // the configuration name wins over nothing
		{"nope", "", ""},
	} {
		i, ok := c.Find(tc.name, tc.arch)
		got := ""
		if ok {
			got = c.Entry(i).Name
		}
		if got != tc.want {
			t.Errorf("Find(%q, %q) = %q, want %q", tc.name, tc.arch, got, tc.want)
		}
	}
	want := []string{"repo=epel-9&arch=aarch64", "repo=epel-9&arch=x86_64", "repo=epel-9-source", "repo=extras&arch=x86_64", "repo=tools"}
	if !slices.Equal(c.Pairs(), want) {
		t.Errorf("Pairs = %q, want %q", c.Pairs(), want)
	}
}

// world is a distribution as the worked example in docs/configuration.md
// lays it out: mirrors in Germany (two), France and the USA, and a CI
// farm's private mirror; clients in Germany, France, the USA and Japan.
type world struct {
	url     string // the server's base URL
	reg     *prometheus.Registry
	logPath string
	log     *AccessLog
	files   *fakeFiles
	repo    *Repo // what both the x86_64 and the aarch64 entries serve
}

// Client addresses, as the test GeoIP database places them.
const (
	inGermany = "192.0.2.10"
	inUSA     = "198.51.100.10"
	inJapan   = "203.0.113.10"
	inFrance  = "2001:db8:fe::10"
	inCI      = "10.20.7.1"
	nowhere   = "100.64.0.1" // in no country
)

var worldMirrors = []struct {
	name string
	selection.Mirror
}{
	{"fra", selection.Mirror{URL: "https://fra.example.org/9/BaseOS/x86_64/os/", Country: "DE"}},
	{"ber", selection.Mirror{URL: "https://ber.example.org/9/BaseOS/x86_64/os/", Country: "DE"}},
	{"university", selection.Mirror{URL: "https://mirror.university.example.edu/9/BaseOS/x86_64/os/", Country: "US"}},
	{"partner", selection.Mirror{URL: "http://partner.example.fr/9/BaseOS/x86_64/os/", Country: "FR", Priority: 200}},
	{"ci", selection.Mirror{URL: "http://mirror.ci.internal/9/BaseOS/x86_64/os/", Networks: []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16")}, Private: true}},
}

// fakeFiles serves redirects: which candidates serve which paths with
// the current content, and whether the origin may be used.
type fakeFiles struct {
	serves map[string][]int
	origin map[string]bool
}

func (f *fakeFiles) Serves(i int, path string) bool { return slices.Contains(f.serves[path], i) }
func (f *fakeFiles) Base(i int) string              { return worldMirrors[i].URL }
func (f *fakeFiles) Origin(path string) string {
	if f.origin[path] {
		return "https://build.example.org/pub/9/BaseOS/x86_64/os/"
	}
	return ""
}

// newWorld serves the world with the front-end fe (see frontEnds).
func newWorld(t *testing.T, fe string, trusted ...string) *world {
	t.Helper()
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "country.mmdb")
	geotest.Write(t, dbPath, geotest.Networks{
		"192.0.2.0/24":     "DE",
		"198.51.100.0/24":  "US",
		"203.0.113.0/24":   "JP",
		"2001:db8:fe::/48": "FR",
	})
	db, err := geo.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{reg: prometheus.NewRegistry(), logPath: filepath.Join(dir, "access.json")}
	w.log, err = OpenAccessLog(w.logPath)
	if err != nil {
		t.Fatal(err)
	}
	var ms []mirrorlist.Mirror
	var cands []selection.Mirror
	for _, m := range worldMirrors {
		ms = append(ms, mirrorlist.Mirror{URL: m.URL, Location: m.Country})
		cands = append(cands, m.Mirror)
	}
	w.files = &fakeFiles{serves: map[string][]int{}, origin: map[string]bool{}}
	cur := mirrorlist.Describe([]byte("<repomd/>"), 1)
	origin := "https://build.example.org/pub/9/BaseOS/x86_64/os/"
	repo := &Repo{
		Set:   selection.NewSet(cands),
		Lists: mirrorlist.NewTemplate(cur, nil, ms, mirrorlist.Text(nil, origin), mirrorlist.Metalink(cur, nil, nil, origin, time.Unix(0, 0)), time.Unix(0, 0)),
		Files: w.files,
	}
	w.repo = repo
	x86, arm := &Live{}, &Live{}
	x86.Store(repo)
	arm.Store(repo)
	src := fixed{ms: &Mirrors{
		Catalog: NewCatalog([]Entry{
			{Name: "example-9-BaseOS-x86_64", MirrorlistName: "example-9-BaseOS", Arch: "x86_64"},
			{Name: "example-9-BaseOS-aarch64", MirrorlistName: "example-9-BaseOS", Arch: "aarch64"},
		}),
		Live: []*Live{x86, arm},
	}}
	var proxies []netip.Prefix
	for _, p := range trusted {
		proxies = append(proxies, netip.MustParsePrefix(p))
	}
	h := New(src, w.reg, nil, WithSelection(Selection{TrustedProxies: proxies, GeoIP: db, AccessLog: w.log, Metrics: NewMetrics(w.reg)}))
	w.url = serve(t, h, fe)
	return w
}

// get requests path from the world's server (over TCP, from 127.0.0.1)
// with X-Forwarded-For set to xff unless it is empty. Redirects are not
// followed.
func (w *world) get(t *testing.T, path, xff string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, w.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// names turns a mirrorlist's URLs into the world's mirror names.
func names(t *testing.T, body string) []string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(body), "\n") {
		i := slices.IndexFunc(worldMirrors[:], func(m struct {
			name string
			selection.Mirror
		}) bool {
			return m.URL == line
		})
		if i < 0 {
			t.Fatalf("unexpected line %q in\n%s", line, body)
		}
		out = append(out, worldMirrors[i].name)
	}
	return out
}

// groups is an expected order: each group's names in any order.
func matchGroups(got []string, groups [][]string) bool {
	i := 0
	for _, g := range groups {
		if i+len(g) > len(got) {
			return false
		}
		part := slices.Clone(got[i : i+len(g)])
		want := slices.Clone(g)
		slices.Sort(part)
		slices.Sort(want)
		if !slices.Equal(part, want) {
			return false
		}
		i += len(g)
	}
	return i == len(got)
}

func TestMirrorlistPerClient(t *testing.T) { forEachFrontEnd(t, testMirrorlistPerClient) }

func testMirrorlistPerClient(t *testing.T, fe string) {
	w := newWorld(t, fe, "127.0.0.0/8", "::1/128")
	const ml = "/mirrorlist?repo=example-9-BaseOS&arch=x86_64"
	for _, tc := range []struct {
		name string
		path string
		xff  string
		want [][]string
	}{
		{"Germany", ml, inGermany, [][]string{{"fra", "ber"}, {"partner"}, {"university"}}},
		{"France", ml, inFrance, [][]string{{"partner"}, {"fra", "ber"}, {"university"}}},
		{"USA", ml, inUSA, [][]string{{"university"}, {"fra", "ber"}, {"partner"}}},
		{"Japan: no mirror in Asia", ml, inJapan, [][]string{{"fra", "ber", "university"}, {"partner"}}},
		{"CI farm: its private mirror first", ml, inCI, [][]string{{"ci"}, {"fra", "ber", "university"}, {"partner"}}},
		{"unknown country", ml, nowhere, [][]string{{"fra", "ber", "university"}, {"partner"}}},
		{"the client is the rightmost untrusted address", ml, "10.20.7.1, " + inUSA + ", 127.0.0.2", [][]string{{"university"}, {"fra", "ber"}, {"partner"}}},
		{"?country= overrides GeoIP", ml + "&country=us", inGermany, [][]string{{"university"}, {"fra", "ber"}, {"partner"}}},
		{"an unknown ?country= is ignored", ml + "&country=ZZ", inGermany, [][]string{{"fra", "ber"}, {"partner"}, {"university"}}},
		{"https only", ml + "&protocol=https", inFrance, [][]string{{"fra", "ber"}, {"university"}}},
		{"http only", ml + "&protocol=http", inFrance, [][]string{{"partner"}}},
		{"http only, CI farm", ml + "&protocol=http", inCI, [][]string{{"ci"}, {"partner"}}},
		{"aarch64", "/mirrorlist?repo=example-9-BaseOS&arch=aarch64", inGermany, [][]string{{"fra", "ber"}, {"partner"}, {"university"}}},
		{"the configuration name", "/mirrorlist?repo=example-9-BaseOS-x86_64", inGermany, [][]string{{"fra", "ber"}, {"partner"}, {"university"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 20 { // the shuffle never crosses a tier
				code, h, body := w.get(t, tc.path, tc.xff)
				if code != 200 || h.Get("Content-Type") != "text/plain; charset=utf-8" {
					t.Fatalf("status %d, %s", code, h.Get("Content-Type"))
				}
				if got := names(t, body); !matchGroups(got, tc.want) {
					t.Fatalf("order %v, want groups %v", got, tc.want)
				}
			}
		})
	}
}

// TestMetalinkPerClient: the metalink lists the same order, with
// descending preferences.
func TestMetalinkPerClient(t *testing.T) { forEachFrontEnd(t, testMetalinkPerClient) }

func testMetalinkPerClient(t *testing.T, fe string) {
	w := newWorld(t, fe, "127.0.0.0/8")
	code, _, body := w.get(t, "/metalink?repo=example-9-BaseOS&arch=x86_64", inCI)
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	var doc struct {
		URLs []struct {
			Preference int    `xml:"preference,attr"`
			Location   string `xml:"location,attr"`
			URL        string `xml:",chardata"`
		} `xml:"files>file>resources>url"`
	}
	if err := xml.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	if len(doc.URLs) != 5 || doc.URLs[0].URL != worldMirrors[4].URL+"repodata/repomd.xml" || doc.URLs[4].URL != worldMirrors[3].URL+"repodata/repomd.xml" {
		t.Fatalf("urls %+v", doc.URLs)
	}
	for i, u := range doc.URLs {
		if u.Preference != 100-i {
			t.Errorf("url %d: preference %d", i, u.Preference)
		}
	}
	// Nobody else sees the private mirror.
	_, _, body = w.get(t, "/metalink?repo=example-9-BaseOS&arch=x86_64", inUSA)
	if strings.Contains(body, "ci.internal") {
		t.Errorf("the private mirror is listed to a client outside its networks:\n%s", body)
	}
}

// TestXForwardedForUntrusted: without trusted_proxies, or from a
// connection that is not a trusted proxy, the header is ignored.
func TestXForwardedForUntrusted(t *testing.T) { forEachFrontEnd(t, testXForwardedForUntrusted) }

func testXForwardedForUntrusted(t *testing.T, fe string) {
	for _, trusted := range [][]string{nil, {"10.0.0.0/8"}} {
		w := newWorld(t, fe, trusted...)
		_, _, body := w.get(t, "/mirrorlist?repo=example-9-BaseOS&arch=x86_64", inCI)
		if strings.Contains(body, "ci.internal") {
			t.Errorf("trusted %v: a forged X-Forwarded-For got the private mirror:\n%s", trusted, body)
		}
		_, _, body = w.get(t, "/mirrorlist?repo=example-9-BaseOS&arch=x86_64", inUSA)
		if got := names(t, body); !matchGroups(got, [][]string{{"fra", "ber", "university"}, {"partner"}}) {
			t.Errorf("trusted %v: a forged X-Forwarded-For chose the country: %v", trusted, got)
		}
	}
}

// TestLoadSpreading: equal mirrors come first about equally often. (The
// exact proportions under weights are tested with a fixed seed in package
// selection; here the point is that each request draws anew.)
func TestLoadSpreading(t *testing.T) { forEachFrontEnd(t, testLoadSpreading) }

func testLoadSpreading(t *testing.T, fe string) {
	w := newWorld(t, fe, "127.0.0.0/8")
	first := map[string]int{}
	const n = 400
	for range n {
		_, _, body := w.get(t, "/mirrorlist?repo=example-9-BaseOS&arch=x86_64", inGermany)
		first[names(t, body)[0]]++
	}
	if first["fra"] < n/4 || first["ber"] < n/4 || first["fra"]+first["ber"] != n {
		t.Errorf("first mirror over %d requests from Germany: %v; want fra and ber each well over a quarter", n, first)
	}
}

func TestRedirect(t *testing.T) { forEachFrontEnd(t, testRedirect) }

func testRedirect(t *testing.T, fe string) {
	w := newWorld(t, fe, "127.0.0.0/8")
	const pkg = "Packages/h/hello-2.12-1.el9.x86_64.rpm"
	w.files.serves[pkg] = []int{0, 1, 2, 3} // every public mirror
	w.files.serves["Packages/n/new-1.0-1.el9.x86_64.rpm"] = []int{2}
	w.files.serves["Packages/c/c++ lib-1.0.rpm"] = []int{3}
	w.files.origin["Packages/o/only-at-origin-1.0.rpm"] = true
	for _, tc := range []struct {
		name, path, xff string
		code            int
		location        []string // any of these
	}{
		{"to the client's country", "/r/example-9-BaseOS/x86_64/" + pkg, inUSA, 302, []string{worldMirrors[2].URL + pkg}},
		{"to the client's country, Germany", "/r/example-9-BaseOS/x86_64/" + pkg, inGermany, 302, []string{worldMirrors[0].URL + pkg, worldMirrors[1].URL + pkg}},
		{"only the mirror that serves it", "/r/example-9-BaseOS/x86_64/Packages/n/new-1.0-1.el9.x86_64.rpm", inGermany, 302, []string{worldMirrors[2].URL + "Packages/n/new-1.0-1.el9.x86_64.rpm"}},
		{"escaped", "/r/example-9-BaseOS/x86_64/Packages/c/c++%20lib-1.0.rpm", inGermany, 302, []string{worldMirrors[3].URL + "Packages/c/c++%20lib-1.0.rpm"}},
		{"origin as the last resort", "/r/example-9-BaseOS/x86_64/Packages/o/only-at-origin-1.0.rpm", inGermany, 302, []string{"https://build.example.org/pub/9/BaseOS/x86_64/os/Packages/o/only-at-origin-1.0.rpm"}},
		{"nobody serves it", "/r/example-9-BaseOS/x86_64/Packages/x/unknown.rpm", inGermany, 404, nil},
		{"REPO as the configuration name", "/r/example-9-BaseOS-x86_64/" + pkg, inUSA, 302, []string{worldMirrors[2].URL + pkg}},
		{"protocol", "/r/example-9-BaseOS/x86_64/" + pkg + "?protocol=http", inUSA, 302, []string{worldMirrors[3].URL + pkg}},
		{"unknown repo", "/r/nope/x86_64/" + pkg, inUSA, 404, nil},
		{"not a file", "/r/example-9-BaseOS/x86_64/", inUSA, 400, nil},
		{"rpmirror's own files", "/r/example-9-BaseOS/x86_64/.rpmirror-lock", inUSA, 400, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, h, body := w.get(t, tc.path, tc.xff)
			if code != tc.code {
				t.Fatalf("status %d, want %d: %s", code, tc.code, body)
			}
			if tc.location != nil && !slices.Contains(tc.location, h.Get("Location")) {
				t.Fatalf("Location %q, want one of %q", h.Get("Location"), tc.location)
			}
		})
	}
}

func TestMirrorMetricsAndAccessLog(t *testing.T) { forEachFrontEnd(t, testMirrorMetricsAndAccessLog) }

func testMirrorMetricsAndAccessLog(t *testing.T, fe string) {
	w := newWorld(t, fe, "127.0.0.0/8")
	w.files.serves["repodata/repomd.xml"] = []int{0}
	w.get(t, "/mirrorlist?repo=example-9-BaseOS&arch=x86_64&countme=1", inGermany)
	w.get(t, "/mirrorlist?repo=example-9-BaseOS&arch=x86_64", inGermany)
	w.get(t, "/metalink?repo=example-9-BaseOS&arch=aarch64&countme=4", inJapan)
	w.get(t, "/metalink?repo=example-9-BaseOS&arch=aarch64&countme=9", nowhere) // not a bucket
	w.get(t, "/r/example-9-BaseOS/x86_64/repodata/repomd.xml?countme=2", inUSA)
	w.get(t, "/mirrorlist?repo=nope", inUSA) // not counted: no such repo
	for _, tc := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"example-9-BaseOS-x86_64", "mirrorlist", "DE"}, 2},
		{[]string{"example-9-BaseOS-aarch64", "metalink", "JP"}, 1},
		{[]string{"example-9-BaseOS-aarch64", "metalink", "unknown"}, 1},
		{[]string{"example-9-BaseOS-x86_64", "redirect", "US"}, 1},
	} {
		m := mustCounter(t, w.reg, "rpmirror_mirror_requests_total", prometheus.Labels{"repo": tc.labels[0], "kind": tc.labels[1], "country": tc.labels[2]})
		if m != tc.want {
			t.Errorf("requests %v = %v, want %v", tc.labels, m, tc.want)
		}
	}
	for _, tc := range []struct {
		repo, bucket string
		want         float64
	}{
		{"example-9-BaseOS-x86_64", "1", 1},
		{"example-9-BaseOS-aarch64", "4", 1},
		{"example-9-BaseOS-x86_64", "2", 1},
		{"example-9-BaseOS-aarch64", "9", 0},
	} {
		if got := mustCounter(t, w.reg, "rpmirror_countme_total", prometheus.Labels{"repo": tc.repo, "bucket": tc.bucket}); got != tc.want {
			t.Errorf("countme %s %s = %v, want %v", tc.repo, tc.bucket, got, tc.want)
		}
	}
	if n := testutil.CollectAndCount(w.reg, "rpmirror_mirror_requests_total"); n != 4 {
		t.Errorf("%d request series, want 4 (an unknown repo is not counted)", n)
	}

	// The access log: one JSON line per request, the client as
	// trusted_proxies decided.
	lines := w.accessLog(t)
	if len(lines) != 6 {
		t.Fatalf("%d lines, want 6", len(lines))
	}
	first, redirect, unknown := lines[0], lines[4], lines[5]
	if first["client"] != inGermany || first["country"] != "DE" || first["repo"] != "example-9-BaseOS-x86_64" || first["kind"] != "mirrorlist" ||
		first["status"] != float64(200) || first["method"] != "GET" || first["uri"] != "/mirrorlist?repo=example-9-BaseOS&arch=x86_64&countme=1" || first["bytes"].(float64) < 100 {
		t.Errorf("first line: %v", first)
	}
	if redirect["status"] != float64(302) || redirect["location"] != worldMirrors[0].URL+"repodata/repomd.xml" || redirect["kind"] != "redirect" {
		t.Errorf("redirect line: %v", redirect)
	}
	if unknown["status"] != float64(404) || unknown["repo"] != nil {
		t.Errorf("unknown repo line: %v", unknown)
	}
	if _, err := time.Parse(time.RFC3339Nano, first["time"].(string)); err != nil {
		t.Errorf("time: %v", err)
	}
}

// accessLog closes the world's access log and returns its lines.
func (w *world) accessLog(t *testing.T) []map[string]any {
	t.Helper()
	if err := w.log.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(w.logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not JSON: %q: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

func TestAccessLogBytes(t *testing.T) { forEachFrontEnd(t, testAccessLogBytes) }

// testAccessLogBytes: every answer's access log line says how many bytes
// of body it sent, errors too (their message, or the valid repo and
// arch pairs), none for a redirect or a HEAD. Error answers were logged
// with "bytes":0 (a tester's finding); docs/operations.md says "bytes
// sent".
func testAccessLogBytes(t *testing.T, fe string) {
	w := newWorld(t, fe)
	w.files.serves["repodata/repomd.xml"] = []int{0}
	tests := []struct {
		name   string
		method string
		path   string
		status int
	}{
		{"a mirrorlist", http.MethodGet, "/mirrorlist?repo=example-9-BaseOS&arch=x86_64", 200},
		{"a metalink", http.MethodGet, "/metalink?repo=example-9-BaseOS&arch=x86_64", 200},
		{"a mirrorlist, HEAD", http.MethodHead, "/mirrorlist?repo=example-9-BaseOS&arch=x86_64", 200},
		{"a redirect", http.MethodGet, "/r/example-9-BaseOS/x86_64/repodata/repomd.xml", 302},
		{"a mirrorlist without repo", http.MethodGet, "/mirrorlist", 400},
		{"a mirrorlist for an unknown repo", http.MethodGet, "/mirrorlist?repo=nope", 404},
		{"a metalink for an unknown repo", http.MethodGet, "/metalink?repo=nope", 404},
		{"a mirrorlist for an unknown repo, HEAD", http.MethodHead, "/mirrorlist?repo=nope", 404},
		{"a mirrorlist for an unknown protocol", http.MethodGet, "/mirrorlist?repo=example-9-BaseOS&arch=x86_64&protocol=ftp", 400},
		{"a mirrorlist for an unknown snapshot", http.MethodGet, "/mirrorlist?repo=example-9-BaseOS&arch=x86_64&snapshot=nope", 404},
		{"a redirect for an unknown repo", http.MethodGet, "/r/nope/x86_64/repodata/repomd.xml", 404},
		{"a redirect for a file no mirror serves", http.MethodGet, "/r/example-9-BaseOS/x86_64/Packages/nope.rpm", 404},
		{"a redirect for a path that is no file of a repo", http.MethodGet, "/r/example-9-BaseOS/x86_64/a%01b", 400},
	}
	sent := make([]int, len(tests))
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for i, tc := range tests {
		req, err := http.NewRequest(tc.method, w.url+tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != tc.status {
			t.Fatalf("%s: status %d, want %d: %s", tc.name, resp.StatusCode, tc.status, b)
		}
		if tc.method == http.MethodGet && tc.status != 302 && len(b) == 0 {
			t.Fatalf("%s: no body, so the test proves nothing", tc.name)
		}
		sent[i] = len(b)
	}
	lines := w.accessLog(t)
	if len(lines) != len(tests) {
		t.Fatalf("%d access log lines for %d requests", len(lines), len(tests))
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := lines[i]
			if l["status"] != float64(tc.status) || l["method"] != tc.method {
				t.Fatalf("line %d is not this request's: %v", i, l)
			}
			if l["bytes"] != float64(sent[i]) {
				t.Errorf("logged bytes %v, want %d, the body's: %v", l["bytes"], sent[i], l)
			}
		})
	}
}

func TestCountme(t *testing.T) { forEachFrontEnd(t, testCountme) }

// testCountme: dnf's countme=N is counted on a mirrorlist, a metalink,
// and a redirect of repodata/repomd.xml, what libdnf adds it to, once a
// week; not on a redirect of any other file (a tester counted a
// package's countme=4).
func testCountme(t *testing.T, fe string) {
	const repo = "example-9-BaseOS-x86_64"
	for _, tc := range []struct {
		name, path string
		bucket     string // "" when nothing is counted
	}{
		{"a mirrorlist", "/mirrorlist?repo=example-9-BaseOS&arch=x86_64&countme=1", "1"},
		{"a metalink", "/metalink?repo=example-9-BaseOS&arch=x86_64&countme=2", "2"},
		{"a redirect of repomd.xml", "/r/example-9-BaseOS/x86_64/repodata/repomd.xml?countme=3", "3"},
		{"a redirect of repomd.xml, the repo by its name", "/r/example-9-BaseOS-x86_64/repodata/repomd.xml?countme=4", "4"},
		{"a redirect of repomd.xml, not a bucket", "/r/example-9-BaseOS/x86_64/repodata/repomd.xml?countme=5", ""},
		{"a redirect of a package", "/r/example-9-BaseOS/x86_64/Packages/x.rpm?countme=4", ""},
		{"a redirect of a metadata file", "/r/example-9-BaseOS/x86_64/repodata/primary.xml.gz?countme=4", ""},
		{"a redirect of repomd.xml.asc", "/r/example-9-BaseOS/x86_64/repodata/repomd.xml.asc?countme=4", ""},
		{"a redirect of a repomd.xml elsewhere", "/r/example-9-BaseOS/x86_64/x/repodata/repomd.xml?countme=4", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, fe)
			w.files.serves["repodata/repomd.xml"] = []int{0}
			w.get(t, tc.path, "")
			for _, b := range countmeBuckets {
				want := 0.0
				if b == tc.bucket {
					want = 1
				}
				if got := mustCounter(t, w.reg, "rpmirror_countme_total", prometheus.Labels{"repo": repo, "bucket": b}); got != want {
					t.Errorf("countme_total{bucket=%q} = %v, want %v", b, got, want)
				}
			}
		})
	}
}

func mustCounter(t *testing.T, reg *prometheus.Registry, name string, labels prometheus.Labels) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

func TestAppendJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `q"uote\\`, "ctl\x00\x1f\x7f", "é ✓", "bad\xffutf8", "</script>"} {
		b := appendJSON(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Errorf("%q: %s is not JSON: %v", s, b, err)
			continue
		}
		if want := string([]rune(s)); got != want {
			t.Errorf("%q: round trip %q", s, got)
		}
	}
}

// TestAccessLogReopen: after the file is moved away (log rotation),
// Reopen starts a new one.
func TestAccessLogReopen(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.json")
	l, err := OpenAccessLog(p)
	if err != nil {
		t.Fatal(err)
	}
	l.Log(Access{Kind: "one"})
	if err := os.Rename(p, p+".1"); err != nil {
		t.Fatal(err)
	}
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	l.Log(Access{Kind: "two"})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(p + ".1")
	cur, _ := os.ReadFile(p)
	if !strings.Contains(string(old), `"one"`) || strings.Contains(string(old), `"two"`) || !strings.Contains(string(cur), `"two"`) {
		t.Errorf("rotated: %q, new: %q", old, cur)
	}
}

// BenchmarkSelection is BenchmarkMirrorlist with selection on: the
// request comes through a trusted proxy with X-Forwarded-For, the client
// is looked up in a GeoIP database, and five mirrors with countries,
// networks and weights are ordered for it.
func BenchmarkSelection(b *testing.B) {
	dir := b.TempDir()
	geotest.Write(b, filepath.Join(dir, "c.mmdb"), geotest.Networks{"192.0.2.0/24": "DE", "198.51.100.0/24": "US", "203.0.113.0/24": "JP"})
	db, err := geo.Open(filepath.Join(dir, "c.mmdb"))
	if err != nil {
		b.Fatal(err)
	}
	var ms []mirrorlist.Mirror
	var cands []selection.Mirror
	for _, m := range worldMirrors {
		ms = append(ms, mirrorlist.Mirror{URL: m.URL, Location: m.Country})
		cands = append(cands, m.Mirror)
	}
	cur := mirrorlist.Describe([]byte("<repomd/>"), 1)
	live := &Live{}
	live.Store(&Repo{Set: selection.NewSet(cands), Lists: mirrorlist.NewTemplate(cur, nil, ms, nil, nil, time.Unix(0, 0))})
	src := fixed{ms: &Mirrors{Catalog: NewCatalog([]Entry{{Name: "example-9-BaseOS-x86_64", MirrorlistName: "example-9-BaseOS", Arch: "x86_64"}}), Live: []*Live{live}}}
	reg := prometheus.NewRegistry()
	h := New(src, reg, nil, WithSelection(Selection{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, GeoIP: db, Metrics: NewMetrics(reg)}))
	for _, route := range []string{"mirrorlist", "metalink"} {
		b.Run(route, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req := httptest.NewRequest(http.MethodGet, "/"+route+"?repo=example-9-BaseOS&arch=x86_64", nil)
				req.RemoteAddr = "127.0.0.1:4444"
				req.Header.Set("X-Forwarded-For", "192.0.2.77")
				for pb.Next() {
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != 200 {
						b.Fatal(rec.Code)
					}
				}
			})
		})
	}
}

// FuzzAppendJSON: whatever a client puts in its request line, the access
// log line stays valid JSON holding the same text (invalid UTF-8 aside).
func FuzzAppendJSON(f *testing.F) {
	for _, s := range []string{"", "/mirrorlist?repo=a&arch=b", "\"\\\x00\x1f\x7f", "é\xff✓", "</script>\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := appendJSON(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%q: %s is not JSON: %v", s, b, err)
		}
		if want := string([]rune(s)); got != want { // each invalid byte becomes U+FFFD
			t.Fatalf("%q: round trip %q, want %q", s, got, want)
		}
	})
}

func TestParseQuery(t *testing.T) {
	for _, raw := range []string{
		"repo=epel-9&arch=x86_64",
		"arch=x86_64&repo=epel-9&countme=2&protocol=https&country=de",
		"repo=a%2Db&arch=x+y",
		"repo=first&repo=second",
		"repo=%zz&arch=ok",
		"=x&&repo&arch=",
		"",
		"other=1;repo=x",
	} {
		want, _ := url.ParseQuery(raw)
		got := parseQuery(raw)
		for _, k := range []string{"repo", "arch", "country", "protocol", "countme"} {
			w := want.Get(k)
			if strings.Contains(raw, "%zz") && k == "repo" {
				w = "" // url.ParseQuery fails the whole query; one bad value only drops itself
			}
			if strings.Contains(raw, "%zz") && k == "arch" {
				w = "ok"
			}
			if g := got.Get(k); g != w {
				t.Errorf("%q: %s = %q, want %q", raw, k, g, w)
			}
		}
	}
}
