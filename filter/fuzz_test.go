package filter

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/rpmirror/rpmirror/repodata"
)

// FuzzWrite feeds Write arbitrary primary and filelists documents: it
// must never panic, and what it accepts it writes as a valid repository
// whose documents hold exactly the kept packages.
func FuzzWrite(f *testing.F) {
	seeds, _ := filepath.Glob("../repodata/testdata/repos/plain/repodata/*")
	var prim, fl []byte
	for _, name := range seeds {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		rc, err := repodata.Decompress(bytes.NewReader(b), name)
		if err != nil {
			continue
		}
		b, _ = io.ReadAll(rc)
		switch {
		case bytes.Contains(name2(name), []byte("primary.xml")):
			prim = b
		case bytes.Contains(name2(name), []byte("filelists.xml")):
			fl = b
		}
	}
	f.Add(prim, fl, uint8(0))
	f.Add(prim, fl, uint8(1))
	f.Add([]byte(`<metadata packages="0"/>`), []byte(`<filelists packages="0"/>`), uint8(2))
	f.Fuzz(func(t *testing.T, primary, filelists []byte, newest uint8) {
		files := map[string][]byte{"primary": primary, "filelists": filelists}
		md := &repodata.Repomd{Revision: "1", Data: []repodata.Data{
			{Type: "primary", Href: "repodata/p.xml.gz", Checksum: repodata.Checksum{Type: "sha256", Value: sha('p')}, Size: -1, OpenSize: -1, HeaderSize: -1},
			{Type: "filelists", Href: "repodata/f.xml", Checksum: repodata.Checksum{Type: "sha256", Value: sha('f')}, Size: -1, OpenSize: -1, HeaderSize: -1},
		}}
		dir := t.TempDir()
		rules := Rules{Arch: []string{"x86_64", "noarch"}, Exclude: []string{"*-devel"}, Newest: int(newest % 3)}
		res, err := Write(context.Background(), md, Options{Rules: rules, Dir: dir, Open: func(d repodata.Data) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(files[d.Type])), nil
		}})
		if err != nil {
			return
		}
		for _, d := range res.MD.Data {
			b, err := os.ReadFile(res.Written[d.Href])
			if err != nil {
				t.Fatal(err)
			}
			rc, err := repodata.Decompress(bytes.NewReader(b), d.Href)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			if d.Type == "primary" {
				pr := repodata.NewPrimaryReader(rc)
				for {
					p, err := pr.Next()
					if err == io.EOF {
						break
					}
					if err != nil {
						t.Fatalf("the primary written does not read: %v", err)
					}
					if rules.Match(p) != Kept {
						t.Fatalf("%s is kept", p.NEVRA())
					}
					n++
				}
			} else {
				er := repodata.NewEntryReader(rc, d.Href)
				for {
					_, err := er.Next()
					if err == io.EOF {
						break
					}
					if err != nil {
						t.Fatalf("the filelists written does not read: %v", err)
					}
					n++
				}
			}
			if n != res.Counts.Kept {
				t.Fatalf("%s holds %d packages, %d kept", d.Type, n, res.Counts.Kept)
			}
		}
	})
}

func name2(s string) []byte { return []byte(filepath.Base(s)) }

// FuzzMarshalRepomd: whatever repomd.xml ParseRepomd accepts,
// MarshalRepomd writes again as a repomd.xml that parses to the same
// revision, tags and data.
func FuzzMarshalRepomd(f *testing.F) {
	seeds, _ := filepath.Glob("../repodata/testdata/repos/*/repodata/repomd.xml")
	seeds = append(seeds, "../repodata/testdata/fedora38-repomd.xml")
	for _, name := range seeds {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`<repomd><revision>a&amp;b</revision><tags><content>c &lt;d&gt;</content><repo>"r"</repo><distro cpeid="x&quot;y">D &amp; E</distro><distro>F</distro></tags></repomd>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		md, err := repodata.ParseRepomd(b)
		if err != nil {
			return
		}
		out := MarshalRepomd(md)
		again, err := repodata.ParseRepomd(out)
		if err != nil {
			t.Fatalf("the repomd.xml written does not parse: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(again, md) {
			t.Fatalf("parsed %+v\nwritten and parsed again %+v\n%s", md, again, out)
		}
		if !bytes.Equal(MarshalRepomd(again), out) {
			t.Fatal("written twice, two different repomd.xml")
		}
	})
}
