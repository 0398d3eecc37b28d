package sync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/rpmirror/rpmirror/repodata"
	"github.com/rpmirror/rpmirror/verify"
)

// TestPartStream: a partStream gives the file as its part file grows, up
// to the declared size, then io.EOF when what it read has the declared
// checksum; a download over and renamed into place before the stream
// opened its part file (a small file, issue 10's incremental sync: the
// plan was made twice) is read from where it went; a download that ends
// short is errStreamLost, other bytes of the right size a
// *verify.ChecksumError.
func TestPartStream(t *testing.T) {
	content := bytes.Repeat([]byte("0123456789abcdef"), 40000) // 640 kB
	sum := sha256.Sum256(content)
	d := repodata.Data{Href: "repodata/x-primary.xml.gz", Size: int64(len(content)),
		Checksum: repodata.Checksum{Type: "sha256", Value: hex.EncodeToString(sum[:])}}
	other := bytes.ToUpper(content)
	for _, tc := range []struct {
		name   string
		writes [][]byte // written to the part file one after another
		// renamed: the part file is renamed into place before the
		// stream first reads.
		renamed bool
		check   func(got []byte, err error) bool
	}{
		{"grows to the whole file", [][]byte{content[:1000], content[1000:300000], content[300000:]}, false,
			func(got []byte, err error) bool { return err == nil && bytes.Equal(got, content) }},
		{"renamed into place before the first read", [][]byte{content}, true,
			func(got []byte, err error) bool { return err == nil && bytes.Equal(got, content) }},
		{"the download ends short", [][]byte{content[:5000]}, false,
			func(_ []byte, err error) bool { return errors.Is(err, errStreamLost) }},
		{"no part file", nil, false,
			func(_ []byte, err error) bool { return errors.Is(err, errStreamLost) }},
		{"other bytes", [][]byte{other}, false,
			func(_ []byte, err error) bool { var ce *verify.ChecksumError; return errors.As(err, &ce) }},
		{"other bytes renamed into place", [][]byte{other}, true,
			func(_ []byte, err error) bool { var ce *verify.ChecksumError; return errors.As(err, &ce) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "x")
			part := dst + ".part"
			done := make(chan struct{})
			ps, err := newPartStream(context.Background(), dst, d, done)
			if err != nil {
				t.Fatal(err)
			}
			defer ps.Close()
			if tc.renamed {
				if err := os.WriteFile(part, bytes.Join(tc.writes, nil), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(part, dst); err != nil {
					t.Fatal(err)
				}
				close(done)
				got, err := io.ReadAll(ps)
				if !tc.check(got, err) {
					t.Errorf("read %d bytes, then %v", len(got), err)
				}
				return
			}
			go func() {
				defer close(done)
				if tc.writes == nil {
					return
				}
				f, err := os.Create(part)
				if err != nil {
					t.Error(err)
					return
				}
				defer f.Close()
				for _, w := range tc.writes {
					f.Write(w)
					ps.arrived()
				}
			}()
			got, err := io.ReadAll(ps)
			if !tc.check(got, err) {
				t.Errorf("read %d bytes, then %v", len(got), err)
			}
		})
	}
}
