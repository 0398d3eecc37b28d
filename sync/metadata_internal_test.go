package sync

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/repodata"
	"github.com/rpmirror/rpmirror/verify"
)

// TestDecompressChecked: the origin's primary is planned from what
// decompressChecked gives, checked against the checksum repomd.xml gives
// the compressed file (not its open-checksum): the file it names reads
// whole, in every compression createrepo_c writes; any other file fails
// with the checksum's or the size's error, bytes appended after the
// compressed stream (which a decompressor stops before) included, and so
// does content beyond the open-size. A reader that checks the checksum
// itself (hashed, a partStream) is trusted to.
func TestDecompressChecked(t *testing.T) {
	isSize := func(err error) bool { var se *verify.SizeError; return errors.As(err, &se) }
	// A changed file fails with the checksum's error, or the decompressor's
	// where it cannot read it: never io.EOF.
	failed := func(err error) bool { return err != nil }
	for _, repo := range []string{"plain", "sha256-gz", "sha512-xz", "zstd", "bz2"} {
		dir := filepath.Join("..", "repodata", "testdata", "repos", repo)
		d := servedPrimary(t, dir)
		file, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(d.Href)))
		if err != nil {
			t.Fatal(err)
		}
		dr, err := repodata.Decompress(bytes.NewReader(file), d.Href)
		if err != nil {
			t.Fatal(err)
		}
		want, err := io.ReadAll(dr)
		dr.Close()
		if err != nil {
			t.Fatal(err)
		}
		flipped := bytes.Clone(file)
		flipped[len(flipped)/2] ^= 1
		for _, tc := range []struct {
			name   string
			file   []byte
			edit   func(d *repodata.Data)
			hashed bool
			check  func(error) bool // nil: no error, the content whole
		}{
			{"the file repomd.xml names", file, nil, false, nil},
			{"a byte changed", flipped, nil, false, failed},
			{"bytes after the compressed stream", append(bytes.Clone(file), "trailing"...), func(d *repodata.Data) { d.Size = -1 }, false, failed},
			{"a size other than repomd.xml's", file, func(d *repodata.Data) { d.Size-- }, false, isSize},
			{"more than its open-size once decompressed", file, func(d *repodata.Data) { d.OpenSize = int64(len(want)) / 2 }, false, func(err error) bool { return err != nil }},
			{"a wrong open-checksum, the compressed file's right", file, func(d *repodata.Data) {
				d.OpenChecksum = &repodata.Checksum{Type: "sha256", Value: "0000000000000000000000000000000000000000000000000000000000000000"}
			}, false, nil},
			{"a reader that checks itself", file, func(d *repodata.Data) {
				d.Checksum.Value = "0000000000000000000000000000000000000000000000000000000000000000"
			}, true, nil},
		} {
			t.Run(repo+"/"+tc.name, func(t *testing.T) {
				d := d
				if tc.edit != nil {
					tc.edit(&d)
				}
				rc, err := decompressChecked(bytes.NewReader(tc.file), d, config.DefaultMaxMetadataSize, tc.hashed)
				var got []byte
				if err == nil {
					got, err = io.ReadAll(rc)
					rc.Close()
				}
				if tc.check == nil {
					if err != nil || !bytes.Equal(got, want) {
						t.Fatalf("read %d bytes of %d, %v", len(got), len(want), err)
					}
				} else if !tc.check(err) {
					t.Fatalf("read %d bytes with %v", len(got), err)
				}
			})
		}
	}
}
