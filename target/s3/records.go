package s3

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/minio/minio-go/v7"

	"github.com/rpmirror/rpmirror/target"
)

var (
	_ target.Records     = (*S3)(nil)
	_ target.LeaseReader = (*S3)(nil)
)

// MaxRecordSize bounds what ReadRecord reads: an index of a million
// packages is about 120 MB.
const MaxRecordSize = 512 << 20

// recordKey is the key of record name: .rpmirror/records/NAME below the
// prefix, beside the lease, out of Walk's sight.
func (s *S3) recordKey(name string) (string, error) {
	if err := target.CheckRecordName(name); err != nil {
		return "", err
	}
	return s.prefix + workPrefix + "records/" + name, nil
}

// ReadRecord implements target.Records.
func (s *S3) ReadRecord(ctx context.Context, name string) ([]byte, error) {
	k, err := s.recordKey(name)
	if err != nil {
		return nil, err
	}
	obj, err := s.c.GetObject(ctx, s.bucket, k, minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("reading record %s of %s: %w", name, s, err)
	}
	defer obj.Close()
	b, err := io.ReadAll(io.LimitReader(obj, MaxRecordSize+1))
	if err != nil {
		if notFound(err) {
			return nil, fmt.Errorf("record %s of %s: %w", name, s, target.ErrNotExist)
		}
		return nil, fmt.Errorf("reading record %s of %s: %w", name, s, err)
	}
	if len(b) > MaxRecordSize {
		return nil, fmt.Errorf("reading record %s of %s: larger than %d bytes", name, s, MaxRecordSize)
	}
	return b, nil
}

// WriteRecord implements target.Records: one PUT (an object appears
// whole), with Content-MD5, after the lease is checked.
func (s *S3) WriteRecord(ctx context.Context, name string, b []byte) error {
	k, err := s.recordKey(name)
	if err != nil {
		return err
	}
	if err := s.checkLease(); err != nil {
		return err
	}
	opts := minio.PutObjectOptions{
		ContentType:          "application/octet-stream",
		CacheControl:         "no-store",
		SendContentMd5:       true,
		DisableContentSha256: true,
		DisableMultipart:     true,
	}
	if _, err := s.c.PutObject(ctx, s.bucket, k, bytes.NewReader(b), int64(len(b)), opts); err != nil {
		return fmt.Errorf("writing record %s of %s: %w", name, s, err)
	}
	return nil
}

// Lease implements target.LeaseReader.
func (s *S3) Lease(ctx context.Context) (target.Lease, error) {
	cur, found, err := s.readLease(ctx)
	if err != nil || !found {
		return target.Lease{}, err
	}
	l := target.Lease{
		Held:    !cur.expired(),
		Holder:  cur.body.Holder,
		Renewed: cur.modified,
		TTL:     cur.ttl,
	}
	s.mu.Lock()
	if h := s.held; h != nil && h.lost == nil && h.etag == cur.etag {
		l.Mine = true
	}
	s.mu.Unlock()
	return l, nil
}
