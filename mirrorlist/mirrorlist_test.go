package mirrorlist

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/internal/testrepo"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the current output")

// golden compares got with testdata/name.golden byte for byte, or
// rewrites the file with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./mirrorlist -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (go test ./mirrorlist -update rewrites it)\n--- got:\n%s\n--- want:\n%s", path, got, want)
	}
}

// Fixed inputs of the golden files.
var (
	goldenNow    = time.Date(2024, 3, 5, 14, 30, 0, 0, time.FixedZone("CET", 3600))
	goldenOrigin = "https://origin.example.org/pub/demo/"
	revision3    = Describe([]byte("<repomd>revision 3</repomd>\n"), 1709648400)
	revision2    = Describe([]byte("<repomd>revision 2</repomd>\n"), 1709562000)
	revision1    = Describe([]byte("<repomd>revision 1</repomd>\n"), 1709475600)
)

var goldenCases = []struct {
	name       string
	mirrors    []Mirror
	sort       bool
	alternates []File
}{
	{name: "empty"},
	{name: "one", mirrors: []Mirror{{URL: "https://mirror.example.net/demo/", Location: "DE"}}},
	{
		name: "sorted",
		sort: true,
		mirrors: []Mirror{
			{URL: "http://slow.example.com/demo/", Latency: 90 * time.Millisecond, Location: "US"},
			{URL: "https://unmeasured.example.com/demo/", Location: "US"},
			{URL: "https://backup.example.org/demo/", Priority: 200, Latency: time.Millisecond},
			{URL: "https://fast.example.com/demo/", Latency: 12 * time.Millisecond, Location: "FR"},
			{URL: "https://local.example.com/demo/", Priority: 10, Latency: 40 * time.Millisecond, Location: "DE"},
			{URL: "https://b.example.com/demo/", Priority: 100, Latency: 12 * time.Millisecond},
		},
	},
	{
		name:    "alternates",
		mirrors: []Mirror{{URL: "https://a.example.com/demo/"}, {URL: "https://b.example.com/demo/"}},
		// Oldest first, and current among them: Metalink orders them
		// newest first and leaves current out.
		alternates: []File{revision1, revision3, revision2},
	},
	{
		name: "escaping",
		mirrors: []Mirror{
			{URL: "https://cdn.example.com/demo/?token=a%2Fb&expires=1709648400", Location: "NL"},
			{URL: `https://odd.example.com/r&d/<demo>/"q"/'s'/`, Location: `A&"B"`},
			{URL: "https://noslash.example.com/demo"},
		},
	},
	{
		name: "unusable",
		mirrors: []Mirror{
			{URL: ""},
			{URL: "mirror.example.com/demo/"},
			{URL: "https://space.example.com/my demo/"},
			{URL: "https://newline.example.com/demo/\nhttps://injected.example.com/"},
			{URL: "https://fragment.example.com/demo/#top"},
			{URL: "https://ümlaut.example.com/demo/"},
			{URL: "https://ok.example.com/demo/"},
			{URL: "https://ok.example.com/demo"}, // the same after the trailing "/"
			{URL: "https://ok.example.com/demo/"},
		},
	},
}

func TestGolden(t *testing.T) {
	for _, tt := range goldenCases {
		t.Run(tt.name, func(t *testing.T) {
			ms := slices.Clone(tt.mirrors)
			if tt.sort {
				Sort(ms)
			}
			golden(t, tt.name+".mirrorlist", Text(ms, goldenOrigin))
			golden(t, tt.name+".metalink", Metalink(revision3, tt.alternates, ms, goldenOrigin, goldenNow))
		})
	}
}

func TestSort(t *testing.T) {
	ms := func(urls ...string) []Mirror {
		var out []Mirror
		for _, u := range urls {
			var m Mirror
			// "url,priority,latency-ms"
			f := strings.Split(u, ",")
			m.URL = f[0]
			m.Priority, _ = strconv.Atoi(f[1])
			ms, _ := strconv.Atoi(f[2])
			m.Latency = time.Duration(ms) * time.Millisecond
			out = append(out, m)
		}
		return out
	}
	tests := []struct {
		name string
		in   []Mirror
		want []string
	}{
		{"empty", nil, nil},
		{"priority first", ms("a,50,90", "b,10,100", "c,20,1"), []string{"b", "c", "a"}},
		{"0 is the default priority", ms("zero,0,5", "explicit,100,1", "lower,99,50", "higher,101,1"), []string{"lower", "explicit", "zero", "higher"}},
		{"negative priorities first", ms("a,0,1", "b,-5,9"), []string{"b", "a"}},
		{"latency within a priority", ms("a,1,30", "b,1,10", "c,1,20"), []string{"b", "c", "a"}},
		{"unmeasured latency last", ms("a,1,0", "b,1,500", "c,2,1"), []string{"b", "a", "c"}},
		{"URL breaks ties", ms("https://c/,1,5", "https://a/,1,5", "https://b/,1,5"), []string{"https://a/", "https://b/", "https://c/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			Sort(tt.in)
			var got []string
			for _, m := range tt.in {
				got = append(got, m.URL)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Sort: %q, want %q", got, tt.want)
			}
		})
	}

	t.Run("stable", func(t *testing.T) {
		in := []Mirror{{URL: "u", Location: "1"}, {URL: "u", Location: "2"}, {URL: "a", Priority: 200}, {URL: "u", Location: "3"}}
		Sort(in)
		var got []string
		for _, m := range in {
			got = append(got, m.URL+m.Location)
		}
		if want := []string{"u1", "u2", "u3", "a"}; !slices.Equal(got, want) {
			t.Errorf("Sort: %q, want %q", got, want)
		}
	})
}

func TestUsable(t *testing.T) {
	tests := []struct {
		url  string
		want bool
	}{
		{"https://mirror.example.com/demo/", true},
		{"http://127.0.0.1:8080/", true},
		{"ftp://ftp.example.com/pub/", true},
		{"file:///srv/mirror/", true},
		{"https://cdn.example.com/demo/?a=1&b=2", true},
		{"https://x/%20encoded/", true},
		{"", false},
		{"/srv/mirror/", false},
		{"mirror.example.com/demo/", false},
		{"://mirror.example.com/", false},
		{"https://", false},
		{"1http://x/", false},
		{"ht tp://x/", false},
		{"# https://x/", false},
		{"https://x/a b/", false},
		{"https://x/\n", false},
		{"https://x/\r", false},
		{"https://x/\t", false},
		{"https://x/\x7f", false},
		{"https://x/#frag", false},
		{"https://ü.example/", false},
		{"https://x/" + strings.Repeat("a", maxURLLen), false},
	}
	for _, tt := range tests {
		if got := Usable(tt.url); got != tt.want {
			t.Errorf("Usable(%q) = %v, want %v", tt.url, got, tt.want)
		}
	}
}

func TestText(t *testing.T) {
	tests := []struct {
		name   string
		ms     []Mirror
		origin string
		want   string
	}{
		{"order kept", []Mirror{{URL: "https://b/", Priority: 200}, {URL: "https://a/"}}, "https://o/", "https://b/\nhttps://a/\n"},
		{"trailing slash added", []Mirror{{URL: "https://a/x"}}, "", "https://a/x/\n"},
		{"query left alone", []Mirror{{URL: "https://a/x?t=1"}}, "", "https://a/x?t=1\n"},
		{"fallback", nil, "https://o/", FallbackComment + "\nhttps://o/\n"},
		{"fallback when no URL is usable", []Mirror{{URL: "no scheme"}}, "https://o/", FallbackComment + "\nhttps://o/\n"},
		{"unusable origin left out", nil, "https://o/\nhttps://evil/", FallbackComment + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(Text(tt.ms, tt.origin)); got != tt.want {
				t.Errorf("Text:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

// parsedMetalink is a metalink as encoding/xml reads it, namespaces
// resolved.
type parsedMetalink struct {
	XMLName   xml.Name `xml:"http://www.metalinker.org/ metalink"`
	Version   string   `xml:"version,attr"`
	Type      string   `xml:"type,attr"`
	Pubdate   string   `xml:"pubdate,attr"`
	Generator string   `xml:"generator,attr"`
	Files     []struct {
		Name string `xml:"name,attr"`
		parsedRevision
		Alternates *struct {
			Alternate []parsedRevision `xml:"http://fedorahosted.org/mirrormanager alternate"`
		} `xml:"http://fedorahosted.org/mirrormanager alternates"`
		Resources struct {
			MaxConnections string      `xml:"maxconnections,attr"`
			URLs           []parsedURL `xml:"url"`
		} `xml:"resources"`
	} `xml:"files>file"`
}

type parsedRevision struct {
	Timestamp int64 `xml:"http://fedorahosted.org/mirrormanager timestamp"`
	Size      int64 `xml:"size"`
	Hashes    []struct {
		Type  string `xml:"type,attr"`
		Value string `xml:",chardata"`
	} `xml:"verification>hash"`
}

func (r parsedRevision) file() File {
	f := File{Timestamp: r.Timestamp, Size: r.Size}
	for _, h := range r.Hashes {
		switch h.Type {
		case "md5":
			f.MD5 = h.Value
		case "sha1":
			f.SHA1 = h.Value
		case "sha256":
			f.SHA256 = h.Value
		case "sha512":
			f.SHA512 = h.Value
		}
	}
	return f
}

type parsedURL struct {
	Protocol   string `xml:"protocol,attr"`
	Type       string `xml:"type,attr"`
	Location   string `xml:"location,attr"`
	Preference int    `xml:"preference,attr"`
	URL        string `xml:",chardata"`
}

func parseMetalink(t testing.TB, doc []byte) parsedMetalink {
	t.Helper()
	var ml parsedMetalink
	if err := xml.Unmarshal(doc, &ml); err != nil {
		t.Fatalf("parsing metalink: %v\n%s", err, doc)
	}
	return ml
}

// TestMetalinkParse reads Metalink's output back with encoding/xml.
func TestMetalinkParse(t *testing.T) {
	ms := []Mirror{
		{URL: "https://a.example.com/demo/", Location: "DE"},
		{URL: "http://b.example.com/demo?x=1&y=2"},
		{URL: "FTP://c.example.com/demo"},
	}
	doc := Metalink(revision3, []File{revision1, revision2}, ms, goldenOrigin, goldenNow)
	ml := parseMetalink(t, doc)

	if ml.Version != "3.0" || ml.Type != "dynamic" || ml.Generator != "rpmirror" {
		t.Errorf("metalink attributes: version %q, type %q, generator %q", ml.Version, ml.Type, ml.Generator)
	}
	if want := "Tue, 05 Mar 2024 13:30:00 GMT"; ml.Pubdate != want {
		t.Errorf("pubdate %q, want %q", ml.Pubdate, want)
	}
	if _, err := time.Parse(time.RFC1123, ml.Pubdate); err != nil {
		t.Errorf("pubdate is not RFC 1123: %v", err)
	}
	if len(ml.Files) != 1 {
		t.Fatalf("%d files, want 1", len(ml.Files))
	}
	f := ml.Files[0]
	if f.Name != "repomd.xml" {
		t.Errorf("file name %q", f.Name)
	}
	if got := f.file(); got != revision3 {
		t.Errorf("current file %+v, want %+v", got, revision3)
	}
	if f.Alternates == nil || len(f.Alternates.Alternate) != 2 {
		t.Fatalf("alternates: %+v", f.Alternates)
	}
	for i, want := range []File{revision2, revision1} {
		if got := f.Alternates.Alternate[i].file(); got != want {
			t.Errorf("alternate %d: %+v, want %+v", i, got, want)
		}
	}
	if f.Resources.MaxConnections != "1" {
		t.Errorf("maxconnections %q", f.Resources.MaxConnections)
	}
	want := []parsedURL{
		{"https", "https", "DE", 100, "https://a.example.com/demo/repodata/repomd.xml"},
		{"http", "http", "", 99, "http://b.example.com/demo?x=1&y=2repodata/repomd.xml"},
		{"ftp", "ftp", "", 98, "FTP://c.example.com/demo/repodata/repomd.xml"},
	}
	if !slices.Equal(f.Resources.URLs, want) {
		t.Errorf("urls:\n%+v\nwant:\n%+v", f.Resources.URLs, want)
	}
}

// TestMetalinkElementNames checks the names librepo matches: its parser
// runs expat without namespace processing and compares prefixed names
// ("mm0:timestamp") as strings, so the prefix must be exactly mm0.
func TestMetalinkElementNames(t *testing.T) {
	doc := Metalink(revision3, []File{revision1}, []Mirror{{URL: "https://a/"}}, "", goldenNow)
	d := xml.NewDecoder(bytes.NewReader(doc))
	var path []string
	seen := map[string]bool{}
	for {
		tok, err := d.RawToken()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			name := tok.Name.Local
			if tok.Name.Space != "" {
				name = tok.Name.Space + ":" + name
			}
			path = append(path, name)
			seen[strings.Join(path, "/")] = true
		case xml.EndElement:
			path = path[:len(path)-1]
		}
	}
	// The transitions of librepo's metalink parser (librepo/metalink.c).
	want := []string{
		"metalink",
		"metalink/files",
		"metalink/files/file",
		"metalink/files/file/mm0:timestamp",
		"metalink/files/file/size",
		"metalink/files/file/verification",
		"metalink/files/file/verification/hash",
		"metalink/files/file/mm0:alternates",
		"metalink/files/file/mm0:alternates/mm0:alternate",
		"metalink/files/file/mm0:alternates/mm0:alternate/mm0:timestamp",
		"metalink/files/file/mm0:alternates/mm0:alternate/size",
		"metalink/files/file/mm0:alternates/mm0:alternate/verification",
		"metalink/files/file/mm0:alternates/mm0:alternate/verification/hash",
		"metalink/files/file/resources",
		"metalink/files/file/resources/url",
	}
	var got []string
	for p := range seen {
		got = append(got, p)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("element paths:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestMetalinkPreferences(t *testing.T) {
	var ms []Mirror
	for i := range 150 {
		ms = append(ms, Mirror{URL: fmt.Sprintf("https://m%03d.example.com/", i)})
	}
	ml := parseMetalink(t, Metalink(revision3, nil, ms, "", goldenNow))
	urls := ml.Files[0].Resources.URLs
	if len(urls) != len(ms) {
		t.Fatalf("%d urls, want %d", len(urls), len(ms))
	}
	for i, u := range urls {
		if want := max(100-i, 1); u.Preference != want {
			t.Errorf("url %d: preference %d, want %d", i, u.Preference, want)
		}
		if want := ms[i].URL + RepomdPath; u.URL != want {
			t.Errorf("url %d: %s, want %s", i, u.URL, want)
		}
	}
}

func TestMetalinkFallback(t *testing.T) {
	for _, ms := range [][]Mirror{nil, {{URL: "not a URL"}}} {
		doc := Metalink(revision3, nil, ms, "https://origin.example.org/demo", goldenNow)
		if !bytes.Contains(doc, []byte("<!-- no mirror is healthy")) {
			t.Errorf("no fallback comment:\n%s", doc)
		}
		urls := parseMetalink(t, doc).Files[0].Resources.URLs
		if want := []parsedURL{{"https", "https", "", 100, "https://origin.example.org/demo/repodata/repomd.xml"}}; !slices.Equal(urls, want) {
			t.Errorf("urls %+v, want %+v", urls, want)
		}
	}
	// An origin that is no usable URL is left out rather than written.
	doc := Metalink(revision3, nil, nil, "https://o/\nhttps://evil/", goldenNow)
	if urls := parseMetalink(t, doc).Files[0].Resources.URLs; len(urls) != 0 {
		t.Errorf("urls %+v, want none", urls)
	}
}

func TestMetalinkHashesLeftOut(t *testing.T) {
	doc := Metalink(File{Timestamp: 1, Size: 2, SHA256: "ab"}, []File{{Timestamp: 0, Size: 3}}, nil, "https://o/", goldenNow)
	ml := parseMetalink(t, doc)
	f := ml.Files[0]
	if len(f.Hashes) != 1 || f.Hashes[0].Type != "sha256" || f.Hashes[0].Value != "ab" {
		t.Errorf("hashes %+v, want only sha256", f.Hashes)
	}
	if f.Alternates == nil || len(f.Alternates.Alternate) != 1 || len(f.Alternates.Alternate[0].Hashes) != 0 {
		t.Errorf("alternates %+v, want one without hashes", f.Alternates)
	}
	// Without alternates there is no mm0:alternates element.
	if doc := Metalink(revision3, nil, nil, "https://o/", goldenNow); bytes.Contains(doc, []byte("alternates")) {
		t.Errorf("empty alternates written:\n%s", doc)
	}
}

func TestDescribe(t *testing.T) {
	repomd := readRepomd(t, testrepo.DemoOrigin(t, "v2"))
	f := Describe(repomd, 0)
	sum := sha256.Sum256(repomd)
	if f.Size != int64(len(repomd)) || f.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("Describe: size %d, sha256 %s", f.Size, f.SHA256)
	}
	for _, h := range []struct {
		name, sum string
		n         int
	}{{"md5", f.MD5, 32}, {"sha1", f.SHA1, 40}, {"sha256", f.SHA256, 64}, {"sha512", f.SHA512, 128}} {
		if len(h.sum) != h.n || strings.ToLower(h.sum) != h.sum {
			t.Errorf("%s %q: want %d lower-case hex digits", h.name, h.sum, h.n)
		}
	}
	if f.Timestamp != 1795624324 {
		t.Errorf("timestamp %d, want the newest data timestamp 1795624324", f.Timestamp)
	}
	if f := Describe(repomd, 42); f.Timestamp != 42 {
		t.Errorf("timestamp %d, want the one given", f.Timestamp)
	}
	if f := Describe([]byte("not xml"), 0); f.Timestamp != 0 || f.Size != 7 {
		t.Errorf("Describe(garbage): %+v", f)
	}
}

func TestRepomdTimestamp(t *testing.T) {
	const ns = `xmlns="http://linux.duke.edu/metadata/repo"`
	tests := []struct {
		name    string
		repomd  string
		want    int64
		wantErr bool
	}{
		{"newest data timestamp", `<repomd ` + ns + `><revision>5</revision><data type="a"><timestamp>10</timestamp></data><data type="b"><timestamp>30</timestamp></data><data type="c"><timestamp>20</timestamp></data></repomd>`, 30, false},
		{"fractional timestamp", `<repomd><data><timestamp> 1700000000.75 </timestamp></data></repomd>`, 1700000000, false},
		{"revision when no data timestamp", `<repomd ` + ns + `><revision>1709648400</revision><data type="a"/></repomd>`, 1709648400, false},
		{"text revision, no timestamps", `<repomd><revision>fedora-40</revision></repomd>`, 0, true},
		{"not xml", `{}`, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RepomdTimestamp([]byte(tt.repomd))
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("RepomdTimestamp = %d, %v; want %d, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{`a&b<c>d"e'f`, "a&amp;b&lt;c&gt;d&#34;e&#39;f"},
		{"tab\there", "tab\uFFFDhere"},
		{"ok é", "ok é"},
		{"bad \xff utf8", "bad \uFFFD utf8"},
		{"non-character \uFFFE", "non-character \uFFFD"},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		escape(&b, tt.in)
		if b.String() != tt.want {
			t.Errorf("escape(%q) = %q, want %q", tt.in, b.String(), tt.want)
		}
		var s struct {
			A string `xml:"a,attr"`
			V string `xml:",chardata"`
		}
		doc := `<x a="` + b.String() + `">` + b.String() + `</x>`
		if err := xml.Unmarshal([]byte(doc), &s); err != nil || s.A != s.V {
			t.Errorf("escape(%q): %s does not parse back: %v", tt.in, doc, err)
		}
	}
}

// librepoMirrorlist parses a mirrorlist as librepo's
// lr_mirrorlist_parse_file does.
func librepoMirrorlist(text []byte) []string {
	var urls []string
	sc := bufio.NewScanner(bytes.NewReader(text))
	for sc.Scan() {
		line := strings.TrimLeft(sc.Text(), " \t")
		if line == "" || line[0] == '#' {
			continue
		}
		line = strings.TrimRight(line, " \t")
		if line != "" && (strings.Contains(line, "://") || line[0] == '/') {
			urls = append(urls, line)
		}
	}
	return urls
}

func FuzzMetalink(f *testing.F) {
	f.Add("https://a.example.com/demo/", "http://b.example.com/x?a=1&b=2", "", "https://origin/", 0, 10, -3, int64(5), "DE")
	f.Add("", "", "", "https://origin/", 0, 0, 0, int64(0), "")
	f.Add("ftp://x/\n#", "https://x/#f", "https://x/ y", "bad", 1, 1, 1, int64(-1), "<&>")
	f.Add("https://same/", "https://same", "https://same/", "", 100, 100, 100, int64(1), "\xff")
	f.Fuzz(func(t *testing.T, u1, u2, u3, origin string, p1, p2, p3 int, latency int64, loc string) {
		ms := []Mirror{
			{URL: u1, Priority: p1, Latency: time.Duration(latency), Location: loc},
			{URL: u2, Priority: p2, Location: loc},
			{URL: u3, Priority: p3, Latency: time.Duration(latency) * 2},
		}
		Sort(ms)
		var want []string // the base URLs that must be listed, once each
		for _, m := range ms {
			if Usable(m.URL) && !slices.Contains(want, baseURL(m.URL)) {
				want = append(want, baseURL(m.URL))
			}
		}
		fallback := len(want) == 0
		if fallback && Usable(origin) {
			want = []string{baseURL(origin)}
		}

		// Text, read as librepo reads it.
		text := Text(ms, origin)
		if got := librepoMirrorlist(text); !slices.Equal(got, want) {
			t.Errorf("mirrorlist read by librepo: %q, want %q\n%s", got, want, text)
		}
		if fallback != bytes.HasPrefix(text, []byte("#")) {
			t.Errorf("fallback %v, mirrorlist:\n%s", fallback, text)
		}

		// Metalink, read by encoding/xml.
		cur := Describe([]byte(u1+u2), latency)
		alt := File{Timestamp: int64(p1), Size: int64(p2), SHA256: loc, MD5: u3}
		doc := Metalink(cur, []File{alt}, ms, origin, time.Unix(latency%1e10, 0))
		ml := parseMetalink(t, doc)
		if len(ml.Files) != 1 {
			t.Fatalf("%d files", len(ml.Files))
		}
		var got []string
		for i, u := range ml.Files[0].Resources.URLs {
			base, ok := strings.CutSuffix(u.URL, RepomdPath)
			if !ok {
				t.Errorf("url %q does not end in %s", u.URL, RepomdPath)
			}
			got = append(got, base)
			if u.Preference != max(100-i, 1) {
				t.Errorf("url %d: preference %d", i, u.Preference)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("metalink urls %q, want %q\n%s", got, want, doc)
		}
		if fallback != bytes.Contains(doc, []byte("<!--")) {
			t.Errorf("fallback %v, metalink:\n%s", fallback, doc)
		}
		if got := ml.Files[0].file(); got != cur {
			t.Errorf("current %+v, want %+v", got, cur)
		}
	})
}

// benchMirrors returns n mirrors with realistic URLs, priorities and
// latencies.
func benchMirrors(n int) []Mirror {
	ms := make([]Mirror, n)
	for i := range ms {
		ms[i] = Mirror{
			URL:      fmt.Sprintf("https://mirror%03d.example.org/pub/linux/demo/9/x86_64/?token=%x&x=1", i, i*7919),
			Priority: i % 3 * 50,
			Latency:  time.Duration(i*37%100) * time.Millisecond,
			Location: "DE",
		}
	}
	Sort(ms)
	return ms
}

func BenchmarkText(b *testing.B) {
	for _, n := range []int{5, 100} {
		ms := benchMirrors(n)
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Text(ms, goldenOrigin)
			}
		})
	}
}

func BenchmarkMetalink(b *testing.B) {
	for _, n := range []int{5, 100} {
		ms := benchMirrors(n)
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Metalink(revision3, []File{revision2, revision1}, ms, goldenOrigin, goldenNow)
			}
		})
	}
}

// TestFallbackComment: the comment a list carries when no mirror is
// listed says why in one line whatever it is given (it quotes revisions
// the origin chose), and an empty URL lists nothing.
func TestFallbackComment(t *testing.T) {
	tests := []struct {
		name    string
		fb      Fallback
		comment string // as written, without "# "
		urls    int
	}{
		{"origin", Fallback{URL: "https://origin.example.org/demo/", Comment: "no mirror serves a verified revision: serving the origin instead"},
			"no mirror serves a verified revision: serving the origin instead", 1},
		{"nothing", Fallback{Comment: "the origin's revision 7 failed verification: listing nothing"},
			"the origin's revision 7 failed verification: listing nothing", 0},
		{"line injection", Fallback{Comment: "revision 1\nhttps://evil.example/\r\u2028x"},
			"revision 1 https://evil.example/  x", 0},
		{"comment end", Fallback{Comment: "revision --> <url>https://evil/</url> <!-- ---"},
			"revision - -> <url>https://evil/</url> <!- - - - -", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := TextFallback(nil, tt.fb)
			lines := strings.Split(strings.TrimSuffix(string(text), "\n"), "\n")
			if lines[0] != "# "+tt.comment || len(lines) != 1+tt.urls {
				t.Errorf("mirrorlist %q, want the comment %q and %d URL(s)", text, tt.comment, tt.urls)
			}
			doc := MetalinkFallback(revision3, nil, nil, tt.fb, goldenNow)
			if !bytes.Contains(doc, []byte("<!-- "+tt.comment+" -->")) {
				t.Errorf("metalink lacks the comment %q:\n%s", tt.comment, doc)
			}
			if urls := parseMetalink(t, doc).Files[0].Resources.URLs; len(urls) != tt.urls {
				t.Errorf("metalink urls %+v, want %d", urls, tt.urls)
			}
		})
	}
}
