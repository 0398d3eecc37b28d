package s3_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/rpmirror/rpmirror/internal/s3test"
	"github.com/rpmirror/rpmirror/target"
	"github.com/rpmirror/rpmirror/target/s3"
)

// TestRecords: a record written is read back whole by another target on
// the same prefix, is no file of the mirror (Walk, Stat), and a missing
// one is ErrNotExist; names that could reach elsewhere are refused.
func TestRecords(t *testing.T) {
	srv := s3test.Start(t, "bkt")
	a := newTarget(t, srv, "bkt", "repo/", nil)
	b := newTarget(t, srv, "bkt", "repo/", nil)
	other := newTarget(t, srv, "bkt", "other/", nil)
	ctx := context.Background()
	if _, err := a.ReadRecord(ctx, "state.json"); !errors.Is(err, target.ErrNotExist) {
		t.Fatalf("ReadRecord of a missing record: err = %v, want ErrNotExist", err)
	}
	content := bytes.Repeat([]byte("record "), 1000)
	if err := a.WriteRecord(ctx, "state.json", content); err != nil {
		t.Fatal(err)
	}
	got, err := b.ReadRecord(ctx, "state.json")
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("ReadRecord by another target: %d bytes, err = %v; want %d bytes", len(got), err, len(content))
	}
	if _, err := other.ReadRecord(ctx, "state.json"); !errors.Is(err, target.ErrNotExist) {
		t.Errorf("a record of another prefix is visible: err = %v", err)
	}
	if err := b.Walk(ctx, "", func(p string, _ target.Info) error {
		t.Errorf("Walk shows %s", p)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"", "../lease", "a/b", ".hidden", "UPPER", "x\x00"} {
		if err := a.WriteRecord(ctx, name, []byte("x")); err == nil {
			t.Errorf("WriteRecord(%q) was accepted", name)
		}
	}
}

// TestStatSHA256: Stat returns the SHA-256 a file was stored with, for a
// single PUT and a multipart upload, and none for a file stored without.
func TestStatSHA256(t *testing.T) {
	srv := s3test.Start(t, "bkt")
	tg := newTarget(t, srv, "bkt", "", func(c *s3.Config) { c.PartSize = s3.MinPartSize })
	if !tg.Properties().RecordsSHA256 {
		t.Fatal("Properties().RecordsSHA256 is false")
	}
	ctx := context.Background()
	small := []byte("small package")
	big := bytes.Repeat([]byte("0123456789abcdef"), (s3.MinPartSize+100)/16)
	for _, tc := range []struct {
		name    string
		content []byte
		sum     string
	}{
		{"single", small, sha(small)},
		{"multipart", big, sha(big)},
		{"none given", small, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := "Packages/" + tc.name + ".rpm"
			if err := tg.Put(ctx, target.File{Path: p, Local: writeFile(t, tc.content), Size: int64(len(tc.content)), SHA256: tc.sum}); err != nil {
				t.Fatal(err)
			}
			info, err := tg.Stat(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			if info.SHA256 != tc.sum {
				t.Errorf("Stat SHA256 = %q, want %q", info.SHA256, tc.sum)
			}
		})
	}
}

// TestLeaseReader: Lease says who holds the lease, whether it is this
// target, and that there is none after unlock.
func TestLeaseReader(t *testing.T) {
	srv := s3test.Start(t, "bkt")
	a := newTarget(t, srv, "bkt", "repo/", func(c *s3.Config) { c.Holder = "daemon-a" })
	b := newTarget(t, srv, "bkt", "repo/", func(c *s3.Config) { c.Holder = "daemon-b" })
	ctx := context.Background()
	if l, err := b.Lease(ctx); err != nil || l.Held || l.Holder != "" {
		t.Fatalf("Lease with none taken: %+v, %v", l, err)
	}
	unlock, err := a.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		tg   *s3.S3
		mine bool
	}{{"holder", a, true}, {"other", b, false}} {
		l, err := tc.tg.Lease(ctx)
		if err != nil || !l.Held || l.Holder != "daemon-a" || l.Mine != tc.mine || l.TTL != s3.DefaultLeaseTTL {
			t.Errorf("%s: Lease = %+v, %v; want held by daemon-a, mine %v", tc.name, l, err, tc.mine)
		}
	}
	unlock()
	if l, err := b.Lease(ctx); err != nil || l.Held {
		t.Errorf("Lease after unlock: %+v, %v", l, err)
	}
}
