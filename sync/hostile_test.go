package sync_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/rpmirror/rpmirror/internal/testrepo"
)

// rewriteMeta edits one metadata file of the repository in dir (found by
// its repomd type) and fixes repomd.xml to match: new checksum, sizes
// and file name, so that only the edited content can trip the sync.
// editRepomd, when set, edits repomd.xml's text afterwards.
func rewriteMeta(t *testing.T, dir, typ string, edit func(string) string, editRepomd func(string) string) {
	t.Helper()
	mdPath := filepath.Join(dir, "repodata", "repomd.xml")
	raw, err := os.ReadFile(mdPath)
	if err != nil {
		t.Fatal(err)
	}
	md := string(raw)
	block := regexp.MustCompile(`(?s)<data type="` + typ + `">.*?</data>`).FindString(md)
	if block == "" {
		t.Fatalf("no %s in repomd.xml", typ)
	}
	href := regexp.MustCompile(`<location href="([^"]+)"`).FindStringSubmatch(block)[1]
	if edit != nil {
		f, err := os.Open(filepath.Join(dir, href))
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		plain, err := io.ReadAll(zr)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		edited := []byte(edit(string(plain)))
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(edited)
		zw.Close()
		sum := sha256.Sum256(buf.Bytes())
		osum := sha256.Sum256(edited)
		newHref := "repodata/" + hex.EncodeToString(sum[:]) + "-" + typ + ".xml.gz"
		os.Remove(filepath.Join(dir, href))
		if err := os.WriteFile(filepath.Join(dir, newHref), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		nb := regexp.MustCompile(`<checksum type="sha256">[0-9a-f]+</checksum>`).ReplaceAllString(block, `<checksum type="sha256">`+hex.EncodeToString(sum[:])+`</checksum>`)
		nb = regexp.MustCompile(`<open-checksum type="sha256">[0-9a-f]+</open-checksum>`).ReplaceAllString(nb, `<open-checksum type="sha256">`+hex.EncodeToString(osum[:])+`</open-checksum>`)
		nb = regexp.MustCompile(`<size>\d+</size>`).ReplaceAllString(nb, fmt.Sprintf("<size>%d</size>", buf.Len()))
		nb = regexp.MustCompile(`<open-size>\d+</open-size>`).ReplaceAllString(nb, fmt.Sprintf("<open-size>%d</open-size>", len(edited)))
		nb = strings.Replace(nb, href, newHref, 1)
		md = strings.Replace(md, block, nb, 1)
	}
	if editRepomd != nil {
		md = editRepomd(md)
	}
	os.Remove(mdPath + ".asc") // a changed repomd.xml is no longer signed
	if err := os.WriteFile(mdPath, []byte(md), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestHostileMetadata: each way an origin's metadata can be malicious or
// broken is refused with an error naming the problem; no byte is written
// outside the mirror, and the mirror keeps its last good state. It needs
// no tools: the origin is a copy of the committed demo repository with
// its metadata edited and its checksums fixed up to match.
func TestHostileMetadata(t *testing.T) {
	v1 := filepath.Join("..", "internal", "demo", "origin", "v1")
	first := regexp.MustCompile(`<location href="Packages/h/hello-mirror-1.0-1.noarch.rpm"/>`)
	for _, tc := range []struct {
		name       string
		typ        string
		edit       func(string) string
		editRepomd func(string) string
		setup      func(t *testing.T, h *harness, outside string)
		maxMeta    int64
		want       string
		// otherMirrorPublishes: the problem is in one mirror only; the
		// other one publishes the new revision.
		otherMirrorPublishes bool
	}{
		{name: "href with ..", typ: "primary", edit: func(s string) string {
			return first.ReplaceAllString(s, `<location href="../../../OUTSIDE/evil.rpm"/>`)
		}, want: `unsafe location href: path "../../../OUTSIDE/evil.rpm" has a ".." element`},
		{name: "absolute href", typ: "primary", edit: func(s string) string {
			return first.ReplaceAllString(s, `<location href="/OUTSIDE/evil.rpm"/>`)
		}, want: `unsafe location href: path "/OUTSIDE/evil.rpm" is absolute`},
		{name: "backslash", typ: "primary", edit: func(s string) string {
			return first.ReplaceAllString(s, `<location href="..\..\OUTSIDE\evil.rpm"/>`)
		}, want: `contains a backslash`},
		{name: "NUL as a character reference", typ: "primary", edit: func(s string) string {
			return first.ReplaceAllString(s, `<location href="Packages/evil&#0;.rpm"/>`)
		}, want: `primary.xml`},
		{name: "xml:base elsewhere", typ: "primary", edit: func(s string) string {
			return first.ReplaceAllString(s, `<location xml:base="http://evil.example/" href="Packages/h/hello-mirror-1.0-1.noarch.rpm"/>`)
		}, want: `has xml:base "http://evil.example/": files hosted elsewhere are refused`},
		{name: "DTD with entities", typ: "primary", edit: func(s string) string {
			return strings.Replace(s, "<metadata", `<!DOCTYPE metadata [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]><metadata`, 1)
		}, want: `primary.xml`},
		{name: "truncated primary", typ: "primary", edit: func(s string) string { return s[:len(s)*2/3] }, want: `unexpected end of file`},
		{name: "conflicting duplicate package entry", typ: "primary", edit: func(s string) string {
			i := strings.Index(s, "<package ")
			j := strings.Index(s, "</package>") + len("</package>")
			dup := regexp.MustCompile(`pkgid="YES">[0-9a-f]+<`).ReplaceAllString(s[i:j], `pkgid="YES">`+strings.Repeat("ab", 32)+`<`)
			s = s[:j] + dup + s[j:]
			return regexp.MustCompile(`packages="(\d+)"`).ReplaceAllStringFunc(s, func(m string) string {
				var n int
				fmt.Sscanf(m, `packages="%d"`, &n)
				return fmt.Sprintf(`packages="%d"`, n+1)
			})
		}, want: `twice with different content`},
		{name: "package where another's directory is", typ: "primary", edit: func(s string) string {
			i := strings.Index(s, "<package ")
			j := strings.Index(s, "</package>") + len("</package>")
			inner := regexp.MustCompile(`<location href="([^"]+)"/>`).ReplaceAllString(s[i:j], `<location href="$1/inner.rpm"/>`)
			s = s[:j] + inner + s[j:]
			return regexp.MustCompile(`packages="(\d+)"`).ReplaceAllStringFunc(s, func(m string) string {
				var n int
				fmt.Sscanf(m, `packages="%d"`, &n)
				return fmt.Sprintf(`packages="%d"`, n+1)
			})
		}, want: `is a file, but`},
		{name: "package at the metadata's directory", typ: "primary", edit: func(s string) string {
			return first.ReplaceAllString(s, `<location href="repodata"/>`)
		}, want: `location "repodata" is a file, but "repodata/`},
		{name: "package count disagrees", typ: "primary", edit: func(s string) string {
			return regexp.MustCompile(`packages="\d+"`).ReplaceAllString(s, `packages="99"`)
		}, want: `99`},
		{name: "larger than its open-size", typ: "primary", edit: func(s string) string { return s },
			editRepomd: func(md string) string {
				return regexp.MustCompile(`(?s)(<data type="primary">.*?)<open-checksum[^<]*</open-checksum>\s*(.*?)<open-size>\d+</open-size>`).ReplaceAllString(md, "${1}${2}<open-size>100</open-size>")
			}, want: `more than its declared open-size of 100 bytes`},
		{name: "decompression bomb", typ: "primary", maxMeta: 1 << 20, edit: func(s string) string {
			return strings.Replace(s, "<metadata", "<!--"+strings.Repeat("A", 3<<20)+"--><metadata", 1)
		}, want: `more than max_metadata_size (1048576 bytes)`},
		{name: "md5 checksums", typ: "primary", edit: func(s string) string { return s },
			editRepomd: func(md string) string {
				return regexp.MustCompile(`(<data type="other">\s*)<checksum type="sha256">[0-9a-f]+</checksum>`).ReplaceAllString(md, `${1}<checksum type="md5">`+strings.Repeat("0", 32)+`</checksum>`)
			}, want: `checksum type md5 is weaker than min_checksum sha1`},
		{name: "unknown checksum type", typ: "primary", edit: func(s string) string { return s },
			editRepomd: func(md string) string {
				return strings.Replace(md, `<data type="other">
    <checksum type="sha256">`, `<data type="other">
    <checksum type="crc64">`, 1)
			}, want: `crc64`},
		{name: "symlink inside the mirror", typ: "primary", edit: func(s string) string {
			return strings.ReplaceAll(s, `href="Packages/h/`, `href="Packages/hh/`)
		}, setup: func(t *testing.T, h *harness, outside string) {
			if err := os.Symlink(outside, filepath.Join(h.mirrors[0], "Packages", "hh")); err != nil {
				t.Fatal(err)
			}
			os.MkdirAll(filepath.Join(h.o.dir, "Packages", "hh"), 0o755)
			if err := os.Rename(filepath.Join(h.o.dir, "Packages", "h", "hello-mirror-1.0-1.noarch.rpm"), filepath.Join(h.o.dir, "Packages", "hh", "hello-mirror-1.0-1.noarch.rpm")); err != nil {
				t.Fatal(err)
			}
		}, want: `Packages/hh is a symlink`, otherMirrorPublishes: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			outside := filepath.Join(base, "OUTSIDE")
			os.Mkdir(outside, 0o755)
			o := newOrigin(t, filepath.Join(base, "www", "a", "b", "origin"))
			republish(t, o, v1)
			h := newHarness(t, o)
			h.mustSync()
			if tc.setup != nil {
				tc.setup(t, h, outside)
			}
			before := []map[string]string{tree(t, h.mirrors[0]), tree(t, h.mirrors[1])}
			// The new revision: v1 with one package renamed (so there is
			// something to fetch) and the edit applied.
			if tc.edit != nil {
				rewriteMeta(t, o.dir, tc.typ, tc.edit, tc.editRepomd)
			}
			h.maxMeta = tc.maxMeta
			rep := h.engine(false).Sync(context.Background(), h.repo)
			if rep.Err == nil {
				t.Fatal("sync succeeded")
			}
			if !strings.Contains(rep.Err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", rep.Err, tc.want)
			}
			if strings.Count(rep.Err.Error(), "\n") > 0 {
				t.Errorf("error is more than one line: %q", rep.Err)
			}
			for i, m := range h.mirrors {
				if i == 1 && tc.otherMirrorPublishes {
					continue
				}
				if got := tree(t, m); !reflect.DeepEqual(got, before[i]) {
					t.Errorf("mirror %d changed", i)
				}
			}
			if ents, _ := os.ReadDir(outside); len(ents) != 0 {
				t.Errorf("written outside the mirror: %v", ents)
			}
		})
	}
}

// TestFollowXMLBase: with follow_xml_base, a package whose location has an
// xml:base is fetched from there, verified, and stored at its href.
func TestFollowXMLBase(t *testing.T) {
	v1 := filepath.Join("..", "internal", "demo", "origin", "v1")
	base := t.TempDir()
	elsewhere := httptest.NewServer(http.FileServer(http.Dir(v1)))
	defer elsewhere.Close()
	o := newOrigin(t, filepath.Join(base, "origin"))
	republish(t, o, v1)
	href := "Packages/h/hello-mirror-1.0-1.noarch.rpm"
	os.Remove(filepath.Join(o.dir, href)) // only elsewhere has it
	rewriteMeta(t, o.dir, "primary", func(s string) string {
		return strings.Replace(s, `<location href="`+href+`"/>`, `<location xml:base="`+elsewhere.URL+`/" href="`+href+`"/>`, 1)
	}, nil)
	h := newHarness(t, o, filepath.Join("..", "testdata", "keys", "test.pub"))
	if rep := h.sync(); rep.Err == nil || !strings.Contains(rep.Err.Error(), "follow_xml_base") {
		t.Fatalf("without follow_xml_base: %v", rep.Err)
	}
	h.repo.FollowXMLBase = true
	h.mustSync()
	want, _ := os.ReadFile(filepath.Join(v1, href))
	got, err := os.ReadFile(filepath.Join(h.mirrors[0], href))
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("the package from xml:base is not in the mirror at its href: %v", err)
	}
	testrepo.RequireTools(t, "dnf")
	if out, err := testrepo.DNF(t, "m", h.mirrors[0], "repoquery", "-q"); err != nil || !strings.Contains(out, "hello-mirror") {
		t.Errorf("dnf on the mirror: %v\n%s", err, out)
	}
}
