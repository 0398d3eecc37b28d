package repodata

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// fact is what rpm, stat and sha*sum said about a package when gen.sh
// built the test repositories (testdata/packages.txt).
type fact struct {
	href, name, epoch, version, release, arch string
	size, mtime                               int64
	sums                                      map[string]string // by checksum type
}

func readFacts(t *testing.T) map[string]fact {
	t.Helper()
	f, err := os.Open("testdata/packages.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	facts := map[string]fact{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		if strings.HasPrefix(s.Text(), "#") {
			continue
		}
		c := strings.Split(s.Text(), "\t")
		if len(c) != 11 {
			t.Fatalf("packages.txt: %q", s.Text())
		}
		size, _ := strconv.ParseInt(c[6], 10, 64)
		mtime, _ := strconv.ParseInt(c[7], 10, 64)
		facts[c[0]] = fact{c[0], c[1], c[2], c[3], c[4], c[5], size, mtime,
			map[string]string{"sha1": c[8], "sha256": c[9], "sha512": c[10]}}
	}
	if len(facts) != 6 {
		t.Fatalf("packages.txt has %d packages", len(facts))
	}
	return facts
}

// TestRepos checks every file of every test repository against its
// repomd.xml (size, checksum, and after Decompress open-size and
// open-checksum), and every primary.xml against packages.txt and
// encoding/xml.
func TestRepos(t *testing.T) {
	facts := readFacts(t)
	repos, _ := filepath.Glob("testdata/repos/*")
	if len(repos) != 9 {
		t.Fatalf("%d test repositories", len(repos))
	}
	for _, dir := range repos {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			r := readRepomd(t, filepath.Join(dir, "repodata", "repomd.xml"))
			var files []string
			for _, d := range r.Data {
				files = append(files, d.Href)
				content, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(d.Href)))
				if err != nil {
					t.Fatal(err)
				}
				if int64(len(content)) != d.Size {
					t.Errorf("%s: %d bytes, repomd.xml says %d", d.Href, len(content), d.Size)
				}
				if got := sum(t, d.Checksum.Type, content); got != d.Checksum {
					t.Errorf("%s: %v, repomd.xml says %v", d.Href, got, d.Checksum)
				}
				plain, err := decompressAll(bytes.NewReader(content), d.Href)
				if err != nil {
					t.Fatal(err)
				}
				if d.OpenChecksum != nil {
					if got := sum(t, d.OpenChecksum.Type, plain); got != *d.OpenChecksum {
						t.Errorf("%s: open %v, repomd.xml says %v", d.Href, got, *d.OpenChecksum)
					}
					if int64(len(plain)) != d.OpenSize {
						t.Errorf("%s: %d bytes open, repomd.xml says %d", d.Href, len(plain), d.OpenSize)
					}
				} else if !bytes.Equal(plain, content) {
					t.Errorf("%s: no open-checksum, but Decompress changed it", d.Href)
				}
				switch {
				case strings.HasSuffix(d.Type, "_db"):
					if !bytes.HasPrefix(plain, []byte("SQLite format 3\x00")) {
						t.Errorf("%s: not an sqlite database", d.Href)
					}
				case d.Type == "primary":
					checkPrimary(t, dir, plain, facts)
				}
			}
			// Nothing in repodata/ that repomd.xml does not list.
			have, _ := filepath.Glob(filepath.Join(dir, "repodata", "*"))
			for i := range have {
				have[i] = "repodata/" + filepath.Base(have[i])
			}
			files = append(files, "repodata/repomd.xml")
			sort.Strings(have)
			sort.Strings(files)
			if !reflect.DeepEqual(have, files) {
				t.Errorf("repodata/ has %q, repomd.xml lists %q", have, files)
			}
		})
	}
}

func sum(t *testing.T, typ string, b []byte) Checksum {
	h, err := NewHash(typ)
	if err != nil {
		t.Fatal(err)
	}
	h.Write(b)
	return Checksum{typ, hex.EncodeToString(h.Sum(nil))}
}

func checkPrimary(t *testing.T, dir string, data []byte, facts map[string]fact) {
	t.Helper()
	pr := NewPrimaryReader(bytes.NewReader(data))
	if pr.Declared() != 6 {
		t.Errorf("Declared() = %d", pr.Declared())
	}
	var got []Package
	for {
		p, err := pr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, *p)
	}
	if len(got) != len(facts) {
		t.Fatalf("%d packages", len(got))
	}
	base := ""
	if filepath.Base(dir) == "extras" { // createrepo_c --baseurl
		base = "http://mirror.example.com/tiny/"
	}
	for _, p := range got {
		f, ok := facts[p.Href]
		if !ok {
			t.Errorf("%s: no such package", p.Href)
			continue
		}
		want := Package{
			Name: f.name, Arch: f.arch, Epoch: f.epoch, Version: f.version, Release: f.release,
			Checksum: Checksum{p.Checksum.Type, f.sums[p.Checksum.Type]},
			Size:     f.size, Href: f.href, Base: base, Time: f.mtime,
		}
		if p != want {
			t.Errorf("got  %+v\nwant %+v", p, want)
		}
	}
	ref, declared, err := refParse(data)
	if err != nil || declared != 6 || !reflect.DeepEqual(ref, got) {
		t.Errorf("encoding/xml read %d packages (%d declared), %v:\n%+v", len(ref), declared, err, ref)
	}
}
