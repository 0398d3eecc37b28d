package source_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/mirrorlist"
	"github.com/rpmirror/rpmirror/source"
)

func readDemo(t *testing.T, rev string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "internal", "demo", "origin", rev, "repodata", "repomd.xml"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMetalinkCheck: a repomd.xml is accepted when it is the metalink's
// file or one of its alternates, by size and every hash; anything else,
// or a metalink entry without a hash of a known type, is refused.
func TestMetalinkCheck(t *testing.T) {
	v1, v2 := readDemo(t, "v1"), readDemo(t, "v2")
	now := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	ms := []mirrorlist.Mirror{{URL: "https://b.example/repo/", Priority: 2}, {URL: "https://a.example/repo/", Priority: 1}}
	mirrorlist.Sort(ms)
	wrongSHA := mirrorlist.Describe(v2, 0)
	wrongSHA.SHA256 = strings.Repeat("0", 64)
	wrongSize := mirrorlist.Describe(v2, 0)
	wrongSize.Size++
	onlyUnknown := []byte(`<metalink version="3.0" xmlns="http://www.metalinker.org/"><files><file name="repomd.xml"><size>` +
		itoa(len(v2)) + `</size><verification><hash type="crc32">00000000</hash></verification><resources><url protocol="https">https://a.example/repo/repodata/repomd.xml</url></resources></file></files></metalink>`)
	for _, tc := range []struct {
		name     string
		metalink []byte
		repomd   []byte
		ok       bool
	}{
		{"current", mirrorlist.Metalink(mirrorlist.Describe(v2, 0), nil, ms, "", now), v2, true},
		{"an alternate", mirrorlist.Metalink(mirrorlist.Describe(v2, 0), []mirrorlist.File{mirrorlist.Describe(v1, 0)}, ms, "", now), v1, true},
		{"neither", mirrorlist.Metalink(mirrorlist.Describe(v2, 0), nil, ms, "", now), v1, false},
		{"one wrong hash", mirrorlist.Metalink(wrongSHA, nil, ms, "", now), v2, false},
		{"wrong size", mirrorlist.Metalink(wrongSize, nil, ms, "", now), v2, false},
		{"no known hash", onlyUnknown, v2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ml, err := source.ParseMetalink(tc.metalink)
			if err != nil {
				t.Fatal(err)
			}
			err = ml.Check(tc.repomd)
			var mm *source.MetalinkMismatchError
			switch {
			case tc.ok && err != nil:
				t.Errorf("refused: %v", err)
			case !tc.ok && !errors.As(err, &mm):
				t.Errorf("got %v, want a *MetalinkMismatchError", err)
			case !tc.ok && mm.Size != int64(len(tc.repomd)):
				t.Errorf("error says size %d, want %d", mm.Size, len(tc.repomd))
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestParseMetalinkUpstreams: upstreams are the http and https URLs, most
// preferred first, without repodata/repomd.xml, each once.
func TestParseMetalinkUpstreams(t *testing.T) {
	doc := `<?xml version="1.0" encoding="utf-8"?>
<metalink version="3.0" xmlns="http://www.metalinker.org/" type="dynamic" xmlns:mm0="http://fedorahosted.org/mirrormanager">
 <files>
  <file name="other.xml"><resources><url protocol="https" preference="100">https://x.example/repodata/repomd.xml</url></resources></file>
  <file name="repomd.xml">
   <mm0:timestamp>1795624324</mm0:timestamp>
   <size>3057</size>
   <verification><hash type="sha256">ab</hash></verification>
   <mm0:alternates><mm0:alternate><size>100</size><verification><hash type="sha512">cd</hash></verification></mm0:alternate></mm0:alternates>
   <resources maxconnections="1">
    <url protocol="rsync" type="rsync" preference="100">rsync://r.example/repo/repodata/repomd.xml</url>
    <url protocol="http" type="http" location="DE" preference="90">http://low.example/repo/repodata/repomd.xml</url>
    <url protocol="https" type="https" location="US" preference="99">https://high.example/repo/repodata/repomd.xml</url>
    <url protocol="https" type="https" preference="90">https://low2.example/repo/repodata/repomd.xml</url>
    <url protocol="https" type="https" preference="80">https://high.example/repo/repodata/repomd.xml</url>
    <url protocol="https" type="https" preference="85">https://elsewhere.example/repo/</url>
   </resources>
  </file>
 </files>
</metalink>`
	ml, err := source.ParseMetalink([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"https://high.example/repo/", "http://low.example/repo/", "https://low2.example/repo/"}
	if !reflect.DeepEqual(ml.Upstreams, want) {
		t.Errorf("upstreams %q, want %q", ml.Upstreams, want)
	}
	if ml.File.Size != 3057 || ml.File.Hashes["sha256"] != "ab" || len(ml.Alternates) != 1 || ml.Alternates[0].Hashes["sha512"] != "cd" {
		t.Errorf("file %+v, alternates %+v", ml.File, ml.Alternates)
	}
	for _, bad := range []string{"", "<html></html>", `<metalink><files><file name="x"/></files></metalink>`, `<metalink><files><file name="repomd.xml"><size>big</size></file></files></metalink>`} {
		if _, err := source.ParseMetalink([]byte(bad)); err == nil {
			t.Errorf("%q: parsed", bad)
		}
	}
}

func TestParseMirrorlist(t *testing.T) {
	got := source.ParseMirrorlist([]byte("# repo = epel-9 arch = x86_64 country = DE\n\nhttps://a.example/epel/9/x86_64\n  http://b.example/epel/9/x86_64/  \nftp://c.example/epel/\nhttps://user:pw@d.example/x/\nhttps://a.example/epel/9/x86_64/\nnot a url\n"))
	want := []string{"https://a.example/epel/9/x86_64/", "http://b.example/epel/9/x86_64/"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
