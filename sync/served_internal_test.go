package sync

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/repodata"
	"github.com/rpmirror/rpmirror/target/local"
	"github.com/rpmirror/rpmirror/verify"
)

// fullIndex is what a mirror serves read the long way: every package
// parsed with PrimaryReader.Next after the whole file was decompressed.
func fullIndex(t *testing.T, dir string, d repodata.Data) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, filepath.FromSlash(d.Href)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dr, err := repodata.Decompress(f, d.Href)
	if err != nil {
		t.Fatal(err)
	}
	defer dr.Close()
	idx := map[string]string{}
	pr := repodata.NewPrimaryReader(dr)
	for {
		p, err := pr.Next()
		if err == io.EOF {
			return idx
		}
		if err != nil {
			t.Fatal(err)
		}
		idx[p.Href] = p.Checksum.String()
	}
}

// servedPrimary returns the repomd.xml data of the primary metadata that
// the repository in dir serves.
func servedPrimary(t *testing.T, dir string) repodata.Data {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "repodata", "repomd.xml"))
	if err != nil {
		t.Fatal(err)
	}
	md, err := repodata.ParseRepomd(b)
	if err != nil {
		t.Fatal(err)
	}
	d, ok := md.Find("primary")
	if !ok {
		t.Fatalf("%s: no primary", dir)
	}
	return d
}

// TestReadServedPrimary: the index of what a mirror serves, read from its
// primary metadata by locations only (readServedPrimary), is the index the
// full parse gives, for createrepo_c's output in every compression; and a
// primary file that is not the one its repomd.xml names, or decompresses
// to more than its open-size, is refused.
func TestReadServedPrimary(t *testing.T) {
	var dirs []string
	for _, d := range []string{"v1", "v2"} {
		dirs = append(dirs, filepath.Join("..", "internal", "demo", "origin", d))
	}
	repos, _ := filepath.Glob(filepath.Join("..", "repodata", "testdata", "repos", "*"))
	dirs = append(dirs, repos...)
	for _, dir := range dirs {
		t.Run("createrepo_c "+filepath.Base(filepath.Dir(dir))+"/"+filepath.Base(dir), func(t *testing.T) {
			d := servedPrimary(t, dir)
			tg, err := local.New(dir)
			if err != nil {
				t.Fatal(err)
			}
			got, err := readServedPrimary(context.Background(), tg, d, config.DefaultMaxMetadataSize)
			if err != nil {
				t.Fatal(err)
			}
			want := fullIndex(t, dir, d)
			if len(got) != len(want) || len(want) == 0 {
				t.Fatalf("read %d packages, the full parse %d", len(got), len(want))
			}
			for href, sum := range want {
				if got[href] != sum {
					t.Errorf("%s: read %q, the full parse %q", href, got[href], sum)
				}
			}
		})
	}

	v1 := filepath.Join("..", "internal", "demo", "origin", "v1")
	v2 := filepath.Join("..", "internal", "demo", "origin", "v2")
	for _, tc := range []struct {
		name  string
		edit  func(d *repodata.Data) // the repomd.xml data the mirror has
		check func(error) bool
	}{
		{"another revision's primary under this one's name", func(d *repodata.Data) {
			other := servedPrimary(t, v2)
			d.Href = "../v2/" + other.Href // v2's file, v1's checksum
			d.Size, d.OpenSize = other.Size, other.OpenSize
		}, func(err error) bool { var ce *verify.ChecksumError; return errors.As(err, &ce) }},
		{"a size other than repomd.xml's", func(d *repodata.Data) { d.Size++ },
			func(err error) bool { var se *verify.SizeError; return errors.As(err, &se) }},
		{"more than its open-size once decompressed", func(d *repodata.Data) { d.OpenSize /= 2 },
			func(err error) bool { return err != nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := servedPrimary(t, v1)
			tc.edit(&d)
			tg, err := local.New(filepath.Join(v1, ".."))
			if err != nil {
				t.Fatal(err)
			}
			d.Href = filepath.ToSlash(filepath.Join("v1", d.Href))
			if _, err := readServedPrimary(context.Background(), tg, d, config.DefaultMaxMetadataSize); !tc.check(err) {
				t.Errorf("read with %v", err)
			}
		})
	}
}
