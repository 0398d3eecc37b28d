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
		{"repodata/repomd.xml", "public, no-cache", "application/xml"},
		{"repodata/repomd.xml.asc", "public, no-cache", "application/pgp-signature"},
		{"repodata/repomd.xml.key", "public, no-cache", "application/pgp-keys"},
		{"repodata/primary.xml.gz", "public, no-cache", "application/gzip"},
		{"mirrorlist", "public, no-cache", "text/plain; charset=utf-8"},
		{"metalink.xml", "public, no-cache", "application/xml"},
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

// putProxy is an HTTP proxy in front of a store that sees every PUT of
// an object outside .rpmirror/ before the store does, and counts them.
type putProxy struct {
	*s3test.Server // the proxy's endpoint, the store's directory
	puts           atomic.Int64
	last           atomic.Pointer[http.Header] // the headers of the last PUT
}

// startPutProxy starts a putProxy in front of srv, stopped when the test
// ends. handle, if not nil, is given every such PUT first, and answers
// it itself when it returns true.
func startPutProxy(t *testing.T, srv *s3test.Server, handle func(http.ResponseWriter, *http.Request) bool) *putProxy {
	t.Helper()
	u, err := url.Parse(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	p := &putProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && r.Body != nil && !strings.Contains(r.URL.Path, ".rpmirror") {
			p.puts.Add(1)
			h := r.Header.Clone()
			p.last.Store(&h)
			if handle != nil && handle(w, r) {
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	p.Server = &s3test.Server{Endpoint: proxy.URL, Dir: srv.Dir}
	return p
}

// corruptBody changes one byte of a PUT's body on the way to the store.
func corruptBody(_ http.ResponseWriter, r *http.Request) bool {
	r.Body = &flipReader{r: r.Body, offset: 300}
	return false
}

// TestCorruptedUploadIsRefused puts an HTTP proxy between the target and
// the store that changes one byte of every PUT body on the way: the store
// must refuse the object, with or without a digest from the caller. A
// single PUT with a digest carries the SHA-256 alone (the file is read
// once, to send it), and the store refuses it on that.
func TestCorruptedUploadIsRefused(t *testing.T) {
	srv := s3test.Start(t, "bkt")
	proxy := startPutProxy(t, srv, corruptBody)
	tg := newTarget(t, proxy.Server, "bkt", "", func(c *s3.Config) { c.PartSize = s3.MinPartSize })
	ctx := context.Background()
	small := bytes.Repeat([]byte("rpm bytes "), 100)
	big := bytes.Repeat([]byte("0123456789abcdef"), (s3.MinPartSize+4321)/16)
	for _, tc := range []struct {
		name    string
		content []byte
		sum     bool
		md5     bool // Content-MD5 sent
	}{
		{"single PUT with digest", small, true, false},
		{"single PUT", small, false, true},
		{"multipart with digest", big, true, true},
		{"multipart", big, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := target.File{Path: "Packages/" + strings.ReplaceAll(tc.name, " ", "-") + ".rpm", Local: writeFile(t, tc.content), Size: int64(len(tc.content))}
			if tc.sum {
				f.SHA256 = sha(tc.content)
			}
			before := proxy.puts.Load()
			err := tg.Put(ctx, f)
			if proxy.puts.Load() == before {
				t.Fatal("the proxy saw no PUT")
			}
			if h := *proxy.last.Load(); (h.Get("Content-Md5") != "") != tc.md5 {
				t.Errorf("Content-MD5 %q sent, want it sent: %v", h.Get("Content-Md5"), tc.md5)
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

// TestStoreIgnoringSHA256 stands in for a store that does not know
// x-amz-checksum-sha256: a proxy stores the single PUTs that carry it
// without Content-MD5 itself, unchecked, and answers without the
// checksum, as such a store does. The target must not trust such an
// upload: it sends the object again with Content-MD5, which the store
// checks, and Content-MD5 with every upload after it; a damaged upload is
// refused and leaves no object.
func TestStoreIgnoringSHA256(t *testing.T) {
	srv := s3test.Start(t, "bkt")
	direct, err := minio.New(strings.TrimPrefix(srv.Endpoint, "http://"), &minio.Options{Creds: credentials.NewStaticV4(s3test.Access, s3test.Secret, ""), Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	content := bytes.Repeat([]byte("rpm bytes "), 100)
	for _, tc := range []struct {
		name    string
		corrupt bool
		files   int
		wantErr error
		puts    int64 // PUT requests for all the files
	}{
		{name: "intact", files: 2, puts: 3}, // the first twice, the second with Content-MD5 at once
		{name: "damaged on the way", corrupt: true, files: 1, wantErr: s3.ErrChecksumMismatch, puts: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proxy := startPutProxy(t, srv, func(w http.ResponseWriter, r *http.Request) bool {
				if tc.corrupt {
					corruptBody(w, r)
				}
				if r.Header.Get("X-Amz-Checksum-Sha256") == "" || r.Header.Get("Content-Md5") != "" || r.URL.RawQuery != "" {
					return false
				}
				bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
				info, err := direct.PutObject(r.Context(), bucket, key, r.Body, r.ContentLength, minio.PutObjectOptions{})
				if err != nil {
					http.Error(w, err.Error(), http.StatusInternalServerError)
					return true
				}
				w.Header().Set("ETag", `"`+info.ETag+`"`)
				return true
			})
			tg := newTarget(t, proxy.Server, "bkt", tc.name+"/", nil)
			for i := range tc.files {
				p := fmt.Sprintf("Packages/p%d.rpm", i)
				err := tg.Put(context.Background(), target.File{Path: p, Local: writeFile(t, content), Size: int64(len(content)), SHA256: sha(content)})
				if tc.wantErr != nil {
					if !errors.Is(err, tc.wantErr) {
						t.Fatalf("Put: err = %v, want %v", err, tc.wantErr)
					}
					if _, err := tg.Stat(context.Background(), p); !errors.Is(err, target.ErrNotExist) {
						t.Errorf("after a refused upload, Stat: err = %v, want ErrNotExist", err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("Put: %v", err)
				}
				if h := *proxy.last.Load(); h.Get("Content-Md5") == "" {
					t.Errorf("Put %s: the last PUT had no Content-MD5", p)
				}
				got, err := os.ReadFile(filepath.Join(srv.Dir, "bkt", tc.name, p))
				if err != nil || !bytes.Equal(got, content) {
					t.Errorf("the store holds %q (%v), want what was sent", got, err)
				}
			}
			if n := proxy.puts.Load(); n != tc.puts {
				t.Errorf("%d PUT requests, want %d", n, tc.puts)
			}
		})
	}
}
