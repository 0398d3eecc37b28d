package s3_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/rpmirror/rpmirror/internal/s3creds"
	"github.com/rpmirror/rpmirror/internal/s3test"
	"github.com/rpmirror/rpmirror/target"
	"github.com/rpmirror/rpmirror/target/s3"
	"github.com/rpmirror/rpmirror/target/targettest"
)

var creds = s3creds.Credentials{AccessKey: s3test.Access, SecretKey: s3test.Secret}

func newTarget(t testing.TB, srv *s3test.Server, bucket, prefix string, mod func(*s3.Config)) *s3.S3 {
	t.Helper()
	cfg := s3.Config{Endpoint: srv.Endpoint, Bucket: bucket, Prefix: prefix, Region: "us-east-1", Credentials: creds}
	if mod != nil {
		mod(&cfg)
	}
	tg, err := s3.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func TestConformance(t *testing.T) {
	srv := s3test.Start(t, "mirrors", "whole")
	var n atomic.Int64
	t.Run("prefix", func(t *testing.T) {
		targettest.Run(t, func(t *testing.T) target.Target {
			return newTarget(t, srv, "mirrors", fmt.Sprintf("m%d/el9/", n.Add(1)), nil)
		})
	})
	t.Run("no prefix", func(t *testing.T) {
		targettest.Run(t, func(t *testing.T) target.Target {
			// A fresh bucket per subtest would need a server per
			// subtest: empty the one bucket instead.
			tg := newTarget(t, srv, "whole", "", nil)
			emptyBucket(t, filepath.Join(srv.Dir, "whole"))
			return tg
		})
	})
}

func emptyBucket(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
}

func writeFile(t *testing.T, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "src")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// TestPutChecksum: the store keeps what matches the digest sent with it
// and refuses what does not, for single and multipart uploads.
func TestPutChecksum(t *testing.T) {
	srv := s3test.Start(t, "bkt")
	tg := newTarget(t, srv, "bkt", "repo/", func(c *s3.Config) { c.PartSize = s3.MinPartSize })
	ctx := context.Background()
	small := []byte("a package's bytes")
	big := bytes.Repeat([]byte("0123456789abcdef"), (2*s3.MinPartSize+12345)/16) // three parts
	for _, tc := range []struct {
		name    string
		content []byte
		sum     string
		wantErr error
	}{
		{name: "single PUT, digest given", content: small, sum: sha(small)},
		{name: "single PUT, no digest", content: small},
		{name: "single PUT, digest of other bytes", content: small, sum: sha([]byte("other")), wantErr: s3.ErrChecksumMismatch},
		{name: "multipart, digest given", content: big, sum: sha(big)},
		{name: "multipart, no digest", content: big},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := "Packages/" + strings.ReplaceAll(tc.name, " ", "_") + ".rpm"
			err := tg.Put(ctx, target.File{Path: p, Local: writeFile(t, tc.content), Size: int64(len(tc.content)), SHA256: tc.sum})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Put: err = %v, want %v", err, tc.wantErr)
				}
				if _, err := tg.Stat(ctx, p); !errors.Is(err, target.ErrNotExist) {
					t.Errorf("after a refused upload, Stat: err = %v, want ErrNotExist", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Put: %v", err)
			}
			// What the store holds is what was sent: read the file
			// versitygw wrote.
			got, err := os.ReadFile(filepath.Join(srv.Dir, "bkt", "repo", p))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.content) {
				t.Errorf("stored %d bytes, not the %d sent", len(got), len(tc.content))
			}
		})
	}
}

// TestObjectHeaders: every object carries the Cache-Control and
// Content-Type a web front passes on.
func TestObjectHeaders(t *testing.T) {
	srv := s3test.Start(t, "bkt")
	tg := newTarget(t, srv, "bkt", "", nil)
	ctx := context.Background()
	for _, tc := range []struct{ path, cache, typ string }{
		{"Packages/a/a-1-1.noarch.rpm", "public, max-age=31536000, immutable", "application/x-rpm"},
		{"repodata/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef-primary.xml.zst", "public, max-age=31536000, immutable", "application/zstd"},
		{"repodata/repomd.xml", "public, max-age=60", "application/xml"},
		{"repodata/repomd.xml.asc", "public, max-age=60", "application/pgp-signature"},
		{"repodata/repomd.xml.key", "public, max-age=60", "application/pgp-keys"},
		{"repodata/primary.xml.gz", "public, max-age=60", "application/gzip"},
		{"mirrorlist", "public, max-age=60", "text/plain; charset=utf-8"},
		{"metalink.xml", "public, max-age=60", "application/xml"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			if err := tg.Put(ctx, target.File{Path: tc.path, Local: writeFile(t, []byte("x")), Size: 1}); err != nil {
				t.Fatal(err)
			}
			h := head(t, srv, "bkt", tc.path)
			if got := h.Get("Cache-Control"); got != tc.cache {
				t.Errorf("Cache-Control = %q, want %q", got, tc.cache)
			}
			if got := h.Get("Content-Type"); got != tc.typ {
				t.Errorf("Content-Type = %q, want %q", got, tc.typ)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	srv := s3test.Start(t, "bkt")
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		mod  func(*s3.Config)
		want s3.Problem
	}{
		{name: "all well"},
		{name: "missing bucket", mod: func(c *s3.Config) { c.Bucket = "nope" }, want: s3.NoBucket},
		{name: "bad secret", mod: func(c *s3.Config) { c.Credentials.SecretKey = "wrong-secret-wrong-secret" }, want: s3.BadCredentials},
		{name: "unknown access key", mod: func(c *s3.Config) { c.Credentials.AccessKey = "nobody" }, want: s3.BadCredentials},
		{name: "wrong region", mod: func(c *s3.Config) { c.Region = "eu-north-1" }, want: s3.WrongRegion},
		{name: "nothing listening", mod: func(c *s3.Config) { c.Endpoint = "http://127.0.0.1:1" }, want: s3.Unreachable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg := newTarget(t, srv, "bkt", "p/", tc.mod)
			err := tg.Check(ctx)
			if tc.want == 0 {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			var ce *s3.CheckError
			if !errors.As(err, &ce) || ce.Problem != tc.want {
				t.Fatalf("Check: err = %v (%#v), want problem %d", err, err, tc.want)
			}
			if strings.Contains(err.Error(), s3test.Secret) || strings.Contains(err.Error(), "wrong-secret") {
				t.Errorf("the error shows a secret: %v", err)
			}
		})
	}
}

// head returns the headers the store answers a HEAD of the object with,
// asked by a client of its own.
func head(t *testing.T, srv *s3test.Server, bucket, key string) http.Header {
	t.Helper()
	c, err := minio.New(strings.TrimPrefix(srv.Endpoint, "http://"), &minio.Options{Creds: credentials.NewStaticV4(s3test.Access, s3test.Secret, ""), Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	oi, err := c.StatObject(context.Background(), bucket, key, minio.StatObjectOptions{})
	if err != nil {
		t.Fatalf("HEAD %s: %v", key, err)
	}
	h := oi.Metadata.Clone()
	h.Set("Content-Type", oi.ContentType)
	return h
}

// flipReader changes the byte at offset of what it reads.
type flipReader struct {
	r      io.ReadCloser
	n      int64
	offset int64
}

func (f *flipReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if f.offset >= f.n && f.offset < f.n+int64(n) {
		p[f.offset-f.n] ^= 0x20
	}
	f.n += int64(n)
	return n, err
}

func (f *flipReader) Close() error { return f.r.Close() }

// TestCorruptedUploadIsRefused puts an HTTP proxy between the target and
// the store that changes one byte of every PUT body on the way: the store
// must refuse the object, with or without a digest from the caller.
func TestCorruptedUploadIsRefused(t *testing.T) {
	srv := s3test.Start(t, "bkt")
	u, err := url.Parse(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	var flipped atomic.Int64
	rp := httputil.NewSingleHostReverseProxy(u)
	direct := rp.Director
	rp.Director = func(r *http.Request) {
		direct(r)
		if r.Method == http.MethodPut && r.Body != nil && !strings.Contains(r.URL.Path, ".rpmirror") {
			flipped.Add(1)
			r.Body = &flipReader{r: r.Body, offset: 300}
		}
	}
	proxy := httptest.NewServer(rp)
	defer proxy.Close()
	corrupt := *srv
	corrupt.Endpoint = proxy.URL
	tg := newTarget(t, &corrupt, "bkt", "", func(c *s3.Config) { c.PartSize = s3.MinPartSize })
	ctx := context.Background()
	small := bytes.Repeat([]byte("rpm bytes "), 100)
	big := bytes.Repeat([]byte("0123456789abcdef"), (s3.MinPartSize+4321)/16)
	for _, tc := range []struct {
		name    string
		content []byte
		sum     bool
	}{
		{"single PUT with digest", small, true},
		{"single PUT", small, false},
		{"multipart with digest", big, true},
		{"multipart", big, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := target.File{Path: "Packages/" + strings.ReplaceAll(tc.name, " ", "-") + ".rpm", Local: writeFile(t, tc.content), Size: int64(len(tc.content))}
			if tc.sum {
				f.SHA256 = sha(tc.content)
			}
			before := flipped.Load()
			err := tg.Put(ctx, f)
			if flipped.Load() == before {
				t.Fatal("the proxy saw no PUT")
			}
			if !errors.Is(err, s3.ErrChecksumMismatch) {
				t.Fatalf("Put through a corrupting proxy: err = %v, want ErrChecksumMismatch", err)
			}
			if _, err := tg.Stat(ctx, f.Path); !errors.Is(err, target.ErrNotExist) {
				t.Errorf("after a refused upload, Stat: err = %v, want ErrNotExist", err)
			}
		})
	}
}
