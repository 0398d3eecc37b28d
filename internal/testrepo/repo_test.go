package testrepo

import (
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"encoding/hex"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

type repomdEntry struct {
	Type     string `xml:"type,attr"`
	Checksum struct {
		Type  string `xml:"type,attr"`
		Value string `xml:",chardata"`
	} `xml:"checksum"`
	OpenChecksum struct {
		Type  string `xml:"type,attr"`
		Value string `xml:",chardata"`
	} `xml:"open-checksum"`
	Location struct {
		Href string `xml:"href,attr"`
	} `xml:"location"`
	Timestamp int64 `xml:"timestamp"`
	Size      int64 `xml:"size"`
	OpenSize  int64 `xml:"open-size"`
}

type repomdDoc struct {
	Revision string        `xml:"revision"`
	Data     []repomdEntry `xml:"data"`
}

// checkRepomd parses dir's repomd.xml and checks that every file it lists
// exists with the size and checksum it states, and, for compressed files,
// that the content decompresses to the open-size and open-checksum.
func checkRepomd(t *testing.T, dir, wantSum string) map[string]repomdEntry {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "repodata", "repomd.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc repomdDoc
	if err := xml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("parsing repomd.xml: %v", err)
	}
	entries := make(map[string]repomdEntry)
	for _, e := range doc.Data {
		entries[e.Type] = e
		if e.Checksum.Type != wantSum {
			t.Errorf("%s: checksum type %s, want %s", e.Type, e.Checksum.Type, wantSum)
		}
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(e.Location.Href)))
		if err != nil {
			t.Errorf("%s: %v", e.Type, err)
			continue
		}
		if int64(len(data)) != e.Size {
			t.Errorf("%s: size %d, repomd says %d", e.Location.Href, len(data), e.Size)
		}
		if got := sum(e.Checksum.Type, data); got != e.Checksum.Value {
			t.Errorf("%s: checksum %s, repomd says %s", e.Location.Href, got, e.Checksum.Value)
		}
		if e.OpenChecksum.Value == "" {
			continue
		}
		plain := decompress(t, e.Location.Href, data)
		if int64(len(plain)) != e.OpenSize {
			t.Errorf("%s: open size %d, repomd says %d", e.Location.Href, len(plain), e.OpenSize)
		}
		if got := sum(e.OpenChecksum.Type, plain); got != e.OpenChecksum.Value {
			t.Errorf("%s: open checksum %s, repomd says %s", e.Location.Href, got, e.OpenChecksum.Value)
		}
	}
	return entries
}

func sum(typ string, data []byte) string {
	h := newHash(typ)
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

func decompress(t *testing.T, name string, data []byte) []byte {
	t.Helper()
	var r io.Reader
	var err error
	switch filepath.Ext(name) {
	case ".gz":
		r, err = gzip.NewReader(bytes.NewReader(data))
	case ".xz":
		r, err = xz.NewReader(bytes.NewReader(data))
	case ".bz2":
		r = bzip2.NewReader(bytes.NewReader(data))
	case ".zst":
		var d *zstd.Decoder
		d, err = zstd.NewReader(bytes.NewReader(data))
		if err == nil {
			defer d.Close()
			r = d
		}
	default:
		t.Fatalf("%s: unknown compression", name)
	}
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return out
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		return copyFile(p, filepath.Join(dst, rel))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// repoquery returns the sorted NEVRAs dnf lists for a repository.
func repoquery(t *testing.T, c *DNFClient) []string {
	t.Helper()
	out, err := c.Run("repoquery", "--quiet")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(out)
	sort.Strings(lines)
	return lines
}

func TestCreateRepo(t *testing.T) {
	RequireTools(t, append(DefaultTools, "modifyrepo_c")...)
	key := TestKey(t)
	pkgs := DemoPackages(key)
	built := t.TempDir()
	BuildRPMs(t, built, pkgs...)

	tests := []struct {
		name   string
		opts   RepoOpts
		sum    string
		suffix string
		extras string // the compressed comps type; "" for no extras
	}{
		{"defaults", RepoOpts{}, "sha256", ".gz", ""},
		{"sha1 simple names", RepoOpts{ChecksumType: "sha1", SimpleNames: true, NoDatabase: true}, "sha1", ".gz", ""},
		{"sha512 xz extras", RepoOpts{ChecksumType: "sha512", Compress: "xz"}, "sha512", ".xz", "group_xz"},
		{"bz2 extras", RepoOpts{Compress: "bz2", NoDatabase: true}, "sha256", ".bz2", "group_bz2"},
		// Extras stay gzip: dnf 4 does not look for group_zst.
		{"zstd extras signed", RepoOpts{Compress: "zstd", SignRepomd: key}, "sha256", ".zst", "group_gz"},
		{"zstd sha512 simple names", RepoOpts{Compress: "zstd", ChecksumType: "sha512", SimpleNames: true, NoDatabase: true, Revision: "1700000000", TimestampFromRevision: true}, "sha512", ".zst", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			copyTree(t, built, dir)
			if tt.extras != "" {
				tt.opts.Extras = WriteExtras(t, t.TempDir(), pkgs...)
			}
			CreateRepo(t, dir, tt.opts)
			entries := checkRepomd(t, dir, tt.sum)

			for _, typ := range []string{"primary", "filelists", "other"} {
				href := entries[typ].Location.Href
				if !strings.HasSuffix(href, typ+".xml"+tt.suffix) {
					t.Errorf("%s at %s, want a %s file", typ, href, tt.suffix)
				}
				if want := "repodata/" + typ + ".xml" + tt.suffix; tt.opts.SimpleNames && href != want {
					t.Errorf("%s at %s, want %s", typ, href, want)
				}
				if want := "repodata/" + entries[typ].Checksum.Value + "-"; !tt.opts.SimpleNames && !strings.HasPrefix(href, want) {
					t.Errorf("%s at %s, want the checksum in the name", typ, href)
				}
			}
			_, hasDB := entries["primary_db"]
			if hasDB == tt.opts.NoDatabase {
				t.Errorf("primary_db present: %v, NoDatabase: %v", hasDB, tt.opts.NoDatabase)
			}
			for _, typ := range []string{"group", tt.extras, "updateinfo", "modules"} {
				if _, ok := entries[typ]; ok != (tt.extras != "") {
					t.Errorf("%s present: %v, want %v", typ, ok, tt.extras != "")
				}
			}
			if tt.opts.TimestampFromRevision {
				for typ, e := range entries {
					if e.Timestamp != 1700000000 {
						t.Errorf("%s: timestamp %d, want the revision", typ, e.Timestamp)
					}
				}
			}
			_, err := os.Stat(filepath.Join(dir, "repodata", "repomd.xml.asc"))
			if signed := err == nil; signed != (tt.opts.SignRepomd != nil) {
				t.Errorf("repomd.xml.asc present: %v", signed)
			}
			leftovers, _ := filepath.Glob(filepath.Join(dir, ".rpmbuild-*"))
			if len(leftovers) > 0 {
				t.Errorf("build directories left behind: %v", leftovers)
			}

			if len(MissingTools("dnf")) > 0 {
				return
			}
			repo := Repo{Name: "t", URL: dir, GPGKeys: []string{key.PublicPath}, RepoGPGCheck: tt.opts.SignRepomd != nil}
			c := NewDNF(t, repo.String())
			if got, want := repoquery(t, c), sortedNEVRAs(pkgs); !slices.Equal(got, want) {
				t.Errorf("dnf repoquery:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if tt.extras != "" {
				checkExtras(t, c)
			}
		})
	}
}

func TestMakeRepoRejects(t *testing.T) {
	RequireTools(t, "createrepo_c")
	for _, opts := range []RepoOpts{{ChecksumType: "md5"}, {Compress: "lz4"}} {
		if err := MakeRepo(t.TempDir(), opts); err == nil {
			t.Errorf("MakeRepo(%+v) succeeded", opts)
		}
	}
}

// checkExtras checks that dnf sees the metadata WriteExtras makes.
func checkExtras(t *testing.T, c *DNFClient) {
	t.Helper()
	for _, q := range []struct {
		args []string
		want string
	}{
		{[]string{"repoquery", "--quiet", "--advisory", "RPMIRROR-2024-0001"}, "hello-mirror-0:1.0-1.noarch"},
		{[]string{"group", "list", "--ids"}, "(rpmirror-demo)"},
		{[]string{"module", "list"}, "rpmirror-demo"},
	} {
		out, err := c.Run(q.args...)
		if err != nil || !strings.Contains(out, q.want) {
			t.Errorf("dnf %s: %v\n%s\nwant %q", strings.Join(q.args, " "), err, out, q.want)
		}
	}
}

// sortedNEVRAs returns the packages' NEVRAs, sorted.
func sortedNEVRAs(pkgs []Pkg) []string {
	out := make([]string, len(pkgs))
	for i, p := range pkgs {
		out[i] = p.NEVRA()
	}
	sort.Strings(out)
	return out
}
