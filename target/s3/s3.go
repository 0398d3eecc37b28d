// Package s3 is a target.Target in a bucket of an S3-compatible object
// store (AWS S3, Ceph RGW, MinIO, SeaweedFS, Garage, R2, versitygw), under
// a key prefix that is the mirror's root. A web front or CDN serves the
// bucket to clients.
//
// Object storage has no atomic multi-file commit, so Properties reports
// AtomicCommit false: Commit stores its files one after another in the
// order given, then removes (see target.Properties). Every Put sends a
// checksum the store verifies before it keeps the object: the SHA-256 the
// caller passes (x-amz-checksum-sha256) for a single PUT, else Content-MD5
// computed from the local file (per part for multipart uploads). A store
// that does not confirm the SHA-256 it was sent gets that object again
// with Content-MD5, and Content-MD5 with every upload after it (see Put).
// Every object gets a Cache-Control header (see CacheControl).
//
// rpmirror's own objects live under ".rpmirror/" below the prefix, which
// Walk leaves out and web fronts should not serve. Lock is a lease there
// (see Lock). The bucket must exist: this package never creates or
// deletes buckets.
//
// Snapshots (target.Snapshotter) are server-side copies (CopyObject): one
// request per file, no byte through rpmirror, but every copy is stored
// (and billed) again unless the store deduplicates. A snapshot's last
// file is copied last and marks it complete (see Snapshot).
package s3

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/rpmirror/rpmirror/internal/redact"
	"github.com/rpmirror/rpmirror/internal/s3creds"
	"github.com/rpmirror/rpmirror/target"
)

const (
	// DefaultLeaseTTL is how long a lease lasts unless renewed.
	DefaultLeaseTTL = 30 * time.Second
	// MinLeaseTTL is the shortest lease accepted: the store's clock, by
	// which expiry is judged, counts in whole seconds.
	MinLeaseTTL = 3 * time.Second
	// DefaultPartSize is the size of the parts of a multipart upload;
	// files no larger are stored with one PUT.
	DefaultPartSize = 16 << 20
	// MinPartSize is the smallest part S3 accepts.
	MinPartSize = 5 << 20
	// PutConcurrency is how many uploads a sync runs at once
	// (target.Properties.PutConcurrency), as many as the server-side
	// copies of a snapshot (DefaultCopyConcurrency): requests in flight
	// hide the round trips to a remote store, and on loopback each
	// costs less CPU, rpmirror's and the store's, than with
	// download.concurrency (4) of them (docs/benchmarks.md).
	PutConcurrency = 16

	workPrefix = ".rpmirror/"
	leaseKey   = workPrefix + "lease"
)

// Config says where a mirror lives in object storage and how to reach it.
type Config struct {
	// Endpoint is the store's http or https URL, without a path.
	Endpoint string
	Bucket   string
	// Prefix is the key prefix of the mirror's root: "" or ending in "/".
	Prefix string
	// Region is the store's region; "" lets the client ask the store.
	Region string
	// VirtualHost addresses the bucket as a host name
	// (bucket.s3.example.org) rather than a path (s3.example.org/bucket).
	VirtualHost bool
	Credentials s3creds.Credentials
	// LeaseTTL is how long the lease Lock takes lasts unless renewed
	// (DefaultLeaseTTL when 0, at least MinLeaseTTL).
	LeaseTTL time.Duration
	// PartSize is the part size of multipart uploads (DefaultPartSize
	// when 0, at least MinPartSize).
	PartSize int64
	// Holder names this process in the lease it takes, for people and
	// for /status; "" means HOST/PID. Two processes that share a name
	// still exclude each other: a lease is owned by its ETag, not its
	// holder's name.
	Holder string
	// CopyConcurrency is how many server-side copies Snapshot and
	// Restore run at once (DefaultCopyConcurrency when 0).
	CopyConcurrency int
	// Logger receives lease events (nil: none).
	Logger *slog.Logger
}

// S3 is a mirror in a bucket.
type S3 struct {
	c        *minio.Client // Content-MD5 on every request
	csum     *minio.Client // the same, allowed to send x-amz-checksum-* headers
	bucket   string
	prefix   string
	name     string
	ttl      time.Duration
	partSize int64
	holder   string
	copies   int
	log      *slog.Logger

	// md5Only is set once the store answered a single PUT without the
	// x-amz-checksum-sha256 it was sent: it may not verify it, so every
	// upload after it carries Content-MD5.
	md5Only atomic.Bool

	mu   sync.Mutex
	held *held // the lease, while Lock holds it
}

var _ target.Target = (*S3)(nil)

// New returns the target cfg describes. It makes no request: Check asks
// the store whether the bucket is there and the credentials work.
func New(cfg Config) (*S3, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return nil, fmt.Errorf("endpoint %q: want an http or https URL with a host and no path", redact.URL(cfg.Endpoint))
	}
	if err := s3utils.CheckValidBucketNameStrict(cfg.Bucket); err != nil {
		return nil, fmt.Errorf("bucket %q: %w", cfg.Bucket, err)
	}
	if cfg.Prefix != "" && (!strings.HasSuffix(cfg.Prefix, "/") || target.CheckPath(strings.TrimSuffix(cfg.Prefix, "/")) != nil) {
		return nil, fmt.Errorf("prefix %q: want \"\" or a clean relative path ending in \"/\"", cfg.Prefix)
	}
	if cfg.Credentials.AccessKey == "" || cfg.Credentials.SecretKey == "" {
		return nil, fmt.Errorf("no access key: %w", s3creds.ErrMissing)
	}
	ttl := cfg.LeaseTTL
	if ttl == 0 {
		ttl = DefaultLeaseTTL
	}
	if ttl < MinLeaseTTL {
		return nil, fmt.Errorf("lease TTL %s: must be at least %s", ttl, MinLeaseTTL)
	}
	part := cfg.PartSize
	if part == 0 {
		part = DefaultPartSize
	}
	if part < MinPartSize {
		return nil, fmt.Errorf("part size %d: must be at least %d", part, MinPartSize)
	}
	copies := cfg.CopyConcurrency
	if copies == 0 {
		copies = DefaultCopyConcurrency
	}
	if copies < 0 {
		return nil, fmt.Errorf("copy concurrency %d: must be at least 1", copies)
	}
	lookup := minio.BucketLookupPath
	if cfg.VirtualHost {
		lookup = minio.BucketLookupDNS
	}
	tr, err := minio.DefaultTransport(u.Scheme == "https")
	if err != nil {
		return nil, err
	}
	opts := func(trailing bool) *minio.Options {
		return &minio.Options{
			Creds:           credentials.NewStaticV4(cfg.Credentials.AccessKey, cfg.Credentials.SecretKey, cfg.Credentials.SessionToken),
			Secure:          u.Scheme == "https",
			Region:          cfg.Region,
			BucketLookup:    lookup,
			Transport:       transport{tr},
			TrailingHeaders: trailing,
		}
	}
	c, err := minio.New(u.Host, opts(false))
	if err != nil {
		return nil, fmt.Errorf("endpoint %s: %w", u.Host, err)
	}
	csum, err := minio.New(u.Host, opts(true))
	if err != nil {
		return nil, fmt.Errorf("endpoint %s: %w", u.Host, err)
	}
	holder := cfg.Holder
	if holder == "" {
		holder = DefaultHolder()
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &S3{
		c: c, csum: csum,
		bucket: cfg.Bucket, prefix: cfg.Prefix,
		name:     fmt.Sprintf("s3 bucket %s prefix %q at %s", cfg.Bucket, cfg.Prefix, u.Scheme+"://"+u.Host),
		ttl:      ttl,
		partSize: part,
		holder:   holder,
		copies:   copies,
	}
	s.log = log.With("target", s.name)
	return s, nil
}

// DefaultHolder names this process for the lease when no name is
// configured: HOST/PID.
func DefaultHolder() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	return fmt.Sprintf("%s/%d", host, os.Getpid())
}

// String implements target.Target.
func (s *S3) String() string { return s.name }

// Holder is the identity this target records in the lease it holds.
func (s *S3) Holder() string { return s.holder }

// Properties implements target.Target: objects are stored one at a time,
// over the network, each with the SHA-256 it was stored with, and
// PutConcurrency of them at once; a snapshot is a copy of each of its
// objects.
func (s *S3) Properties() target.Properties {
	return target.Properties{AtomicCommit: false, Local: false, RecordsSHA256: true, PutConcurrency: PutConcurrency}
}

// sha256Meta is the user metadata (x-amz-meta-rpmirror-sha256) that
// holds the hex SHA-256 a file was stored with (target.File.SHA256).
const sha256Meta = "Rpmirror-Sha256"

// key returns the object key of p after checking p.
func (s *S3) key(p string) (string, error) {
	if err := target.CheckPath(p); err != nil {
		return "", err
	}
	return s.prefix + p, nil
}

// notFound reports whether err says the object is not there.
func notFound(err error) bool {
	r := minio.ToErrorResponse(err)
	return r.Code == minio.NoSuchKey || (r.StatusCode == http.StatusNotFound && r.Code != minio.NoSuchBucket)
}

// Stat implements target.Target.
func (s *S3) Stat(ctx context.Context, p string) (target.Info, error) {
	k, err := s.key(p)
	if err != nil {
		return target.Info{}, err
	}
	oi, err := s.c.StatObject(ctx, s.bucket, k, minio.StatObjectOptions{})
	if err != nil {
		if notFound(err) {
			return target.Info{}, fmt.Errorf("%s in %s: %w", p, s, target.ErrNotExist)
		}
		return target.Info{}, fmt.Errorf("looking up %s in %s: %w", p, s, err)
	}
	info := target.Info{Size: oi.Size, ModTime: oi.LastModified}
	if v := oi.UserMetadata[sha256Meta]; len(v) == 64 {
		if _, err := hex.DecodeString(v); err == nil {
			info.SHA256 = strings.ToLower(v)
		}
	}
	return info, nil
}

// Open implements target.Target.
func (s *S3) Open(ctx context.Context, p string) (io.ReadCloser, error) {
	k, err := s.key(p)
	if err != nil {
		return nil, err
	}
	obj, err := s.c.GetObject(ctx, s.bucket, k, minio.GetObjectOptions{})
	if err == nil {
		_, err = obj.Stat()
	}
	if err != nil {
		if obj != nil {
			obj.Close()
		}
		if notFound(err) {
			return nil, fmt.Errorf("%s in %s: %w", p, s, target.ErrNotExist)
		}
		return nil, fmt.Errorf("opening %s in %s: %w", p, s, err)
	}
	return obj, nil
}

// ErrChecksumMismatch is returned (wrapped) by Put and Commit when the
// store refused an upload because its bytes did not match the checksum
// sent with them: the local file is not what the caller said, or the bytes
// were damaged on the way.
var ErrChecksumMismatch = errors.New("the store refused the upload: its content does not match its checksum")

// checksumCodes are the error codes S3 stores answer a checksum mismatch
// with.
var checksumCodes = map[string]bool{
	"BadDigest":                   true,
	"InvalidDigest":               true,
	"XAmzContentChecksumMismatch": true,
	"XAmzContentSHA256Mismatch":   true,
	"InvalidChecksum":             true,
}

// Put implements target.Target. An object appears whole when its upload
// completes (single PUT or multipart), so readers never see part of it.
func (s *S3) Put(ctx context.Context, f target.File) error {
	k, err := s.key(f.Path)
	if err != nil {
		return err
	}
	return s.put(ctx, k, f)
}

func (s *S3) put(ctx context.Context, k string, f target.File) error {
	if err := s.checkLease(); err != nil {
		return err
	}
	var sum []byte
	if f.SHA256 != "" {
		b, err := hex.DecodeString(f.SHA256)
		if err != nil || len(b) != 32 {
			return fmt.Errorf("storing %s in %s: SHA256 %q is not 64 hex digits", f.Path, s, f.SHA256)
		}
		sum = b
	}
	src, err := os.Open(f.Local)
	if err != nil {
		return fmt.Errorf("storing %s in %s: %w", f.Path, s, err)
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return fmt.Errorf("storing %s in %s: %w", f.Path, s, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("storing %s in %s: %s is not a regular file", f.Path, s, f.Local)
	}
	if fi.Size() != f.Size {
		return fmt.Errorf("storing %s in %s: %s has %d bytes, want %d", f.Path, s, f.Local, fi.Size(), f.Size)
	}
	opts := minio.PutObjectOptions{
		ContentType:  ContentType(f.Path),
		CacheControl: CacheControl(f.Path),
		PartSize:     uint64(s.partSize),
		// The store checks the bytes against the checksum sent with
		// them (below), over http and https alike; signing the
		// payload's SHA-256 too would read every file once more.
		DisableContentSha256: true,
	}
	if sum != nil {
		// Kept with the object, so that Stat tells a file stored
		// before (an interrupted sync) without reading it back.
		opts.UserMetadata = map[string]string{sha256Meta: hex.EncodeToString(sum)}
	}
	if sum == nil || f.Size > s.partSize {
		// No digest, or a multipart upload, which the store checks
		// part by part: Content-MD5 of every request, computed here
		// by reading the file once more.
		return s.send(ctx, s.c, k, f, src, s.fileBody(src, f), opts, true)
	}
	// One PUT that the store checks against the SHA-256 the caller
	// verified while fetching: the file is read once, to send it.
	want := base64.StdEncoding.EncodeToString(sum)
	opts.UserMetadata["x-amz-checksum-sha256"] = want
	body := s.fileBody(src, f)
	if s.md5Only.Load() {
		return s.send(ctx, s.csum, k, f, src, body, opts, true)
	}
	info, err := s.upload(ctx, s.csum, k, f, src, body, opts, false)
	if err != nil {
		return err
	}
	if info.ChecksumSHA256 == want {
		return nil // the store verified it
	}
	// A store that verifies x-amz-checksum-sha256 answers with it (AWS
	// S3, MinIO, Ceph RGW from Squid on, versitygw); one that does not
	// answer may have kept the object unchecked. Send it again with
	// Content-MD5, which every S3 store verifies, as every upload after
	// it.
	if s.md5Only.CompareAndSwap(false, true) {
		s.log.Warn("the store did not confirm the SHA-256 of an upload: sending Content-MD5 with every upload from now on", "path", f.Path)
	}
	if err := s.send(ctx, s.csum, k, f, src, body, opts, true); err != nil {
		// What the first upload stored was not verified: leave no
		// object that may be damaged.
		if rerr := s.c.RemoveObject(ctx, s.bucket, k, minio.RemoveObjectOptions{}); rerr != nil && !notFound(rerr) {
			return fmt.Errorf("%w; removing the unverified object: %v", err, rerr)
		}
		return err
	}
	return nil
}

// fileBody returns the body of the single PUT of src, the local file of f,
// that transport sends from the file itself, or nil when f is stored in
// parts.
func (s *S3) fileBody(src *os.File, f target.File) *fileBody {
	if f.Size > s.partSize {
		return nil
	}
	return &fileBody{f: src, size: f.Size}
}

// send uploads src, the local file of f, under key k with c (see upload).
func (s *S3) send(ctx context.Context, c *minio.Client, k string, f target.File, src *os.File, body *fileBody, opts minio.PutObjectOptions, md5 bool) error {
	_, err := s.upload(ctx, c, k, f, src, body, opts, md5)
	return err
}

// upload uploads src, the local file of f, under key k with c, with
// Content-MD5 when md5 is set, and says which checksum failed. body, if
// not nil and not used yet, is the body of its single PUT (see fileKey).
func (s *S3) upload(ctx context.Context, c *minio.Client, k string, f target.File, src *os.File, body *fileBody, opts minio.PutObjectOptions, md5 bool) (minio.UploadInfo, error) {
	opts.SendContentMd5 = md5
	if body != nil {
		ctx = context.WithValue(ctx, fileKey{}, body)
	}
	// minio-go reads the file at offsets (ReadAt), never through its
	// position, which belongs to body: a section of it, whose Seek is
	// its own.
	info, err := c.PutObject(ctx, s.bucket, k, io.NewSectionReader(src, 0, f.Size), f.Size, opts)
	if err != nil {
		if checksumCodes[minio.ToErrorResponse(err).Code] {
			return info, fmt.Errorf("storing %s in %s: %w (%v)", f.Path, s, ErrChecksumMismatch, err)
		}
		return info, fmt.Errorf("storing %s in %s: %w", f.Path, s, err)
	}
	return info, nil
}

// Commit implements target.Target without atomicity: every path is
// checked first, then the files are stored one after another in the
// order given, then the paths in remove are removed in the order given.
// It stops at the first error; the lease is checked before every object.
func (s *S3) Commit(ctx context.Context, files []target.File, remove []string) error {
	keys := make([]string, len(files))
	for i, f := range files {
		k, err := s.key(f.Path)
		if err != nil {
			return fmt.Errorf("committing to %s: %w", s, err)
		}
		keys[i] = k
	}
	for _, p := range remove {
		if _, err := s.key(p); err != nil {
			return fmt.Errorf("committing to %s: %w", s, err)
		}
	}
	for i, f := range files {
		if err := s.put(ctx, keys[i], f); err != nil {
			return err
		}
	}
	for _, p := range remove {
		if err := s.Remove(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// Remove implements target.Target.
func (s *S3) Remove(ctx context.Context, p string) error {
	k, err := s.key(p)
	if err != nil {
		return err
	}
	if err := s.checkLease(); err != nil {
		return err
	}
	if err := s.c.RemoveObject(ctx, s.bucket, k, minio.RemoveObjectOptions{}); err != nil && !notFound(err) {
		return fmt.Errorf("removing %s from %s: %w", p, s, err)
	}
	return nil
}

// Walk implements target.Target with a listing of the keys that begin
// with the target's prefix and then prefix. Keys that are not acceptable
// paths (folder markers ending in "/", "a//b") are skipped, as is
// .rpmirror/. S3 lists keys in byte order, which is the lexical order of
// Go strings.
func (s *S3) Walk(ctx context.Context, prefix string, fn func(string, target.Info) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the listing if fn returns early
	for oi := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + prefix, Recursive: true}) {
		if oi.Err != nil {
			return fmt.Errorf("listing %s: %w", s, oi.Err)
		}
		p := strings.TrimPrefix(oi.Key, s.prefix)
		if strings.HasPrefix(p, workPrefix) || target.CheckPath(p) != nil {
			continue
		}
		if err := fn(p, target.Info{Size: oi.Size, ModTime: oi.LastModified}); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// CacheControl returns the Cache-Control header of the object at p.
// Packages (*.rpm, *.drpm) and metadata under hashed names
// (repodata/<hex digest>-primary.xml.zst) never change under their name:
// caches may keep them for a year. Everything else may change in place,
// above all repodata/repomd.xml, its .asc and .key, and the mirrorlist
// and metalink.xml files: "no-cache", so that a cache asks the store
// before each use. They are small. With a lifetime instead (max-age=60,
// as before), a cache kept the repomd.xml a probe had fetched while a
// client's first request for the .asc got the new one: for up to that
// minute after every publish dnf with repo_gpgcheck found a bad
// signature (an operator's test of the documented nginx front).
func CacheControl(p string) string {
	if Immutable(p) {
		return "public, max-age=31536000, immutable"
	}
	return "public, no-cache"
}

// Immutable reports whether the object at p never changes under its
// name: a package, or metadata whose name begins with its digest.
func Immutable(p string) bool {
	base := path.Base(p)
	if strings.HasSuffix(base, ".rpm") || strings.HasSuffix(base, ".drpm") {
		return true
	}
	if path.Dir(p) != "repodata" && !strings.HasSuffix(path.Dir(p), "/repodata") {
		return false
	}
	digest, _, ok := strings.Cut(base, "-")
	if !ok || len(digest) < 32 {
		return false
	}
	_, err := hex.DecodeString(digest)
	return err == nil
}

// contentTypes maps file name suffixes to the Content-Type stored with
// the object, for web fronts that pass it on.
var contentTypes = []struct{ suffix, typ string }{
	{".rpm", "application/x-rpm"},
	{".drpm", "application/x-rpm"},
	{".xml", "application/xml"},
	{".asc", "application/pgp-signature"},
	{".key", "application/pgp-keys"},
	{".gz", "application/gzip"},
	{".zst", "application/zstd"},
	{".xz", "application/x-xz"},
	{".bz2", "application/x-bzip2"},
	{"/mirrorlist", "text/plain; charset=utf-8"},
}

// ContentType returns the Content-Type of the object at p.
func ContentType(p string) string {
	for _, c := range contentTypes {
		if strings.HasSuffix("/"+p, c.suffix) {
			return c.typ
		}
	}
	return "application/octet-stream"
}
