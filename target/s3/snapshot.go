package s3

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"golang.org/x/sync/errgroup"

	"github.com/rpmirror/rpmirror/target"
)

var _ target.Snapshotter = (*S3)(nil)

// DefaultCopyConcurrency is how many server-side copies Snapshot and
// Restore run at once when Config.CopyConcurrency is 0.
const DefaultCopyConcurrency = 16

// cleanupTimeout bounds the removal of what a failed Snapshot copied.
const cleanupTimeout = time.Minute

// Snapshot implements target.Snapshotter without atomicity: every object
// is copied by the store (CopyObject, one request per file: no byte
// passes through rpmirror, but the store keeps each copy as an object of
// its own), the last of paths last. It is done when dir/LAST is there;
// a dir without it is completed, copying only the files whose size and
// ETag differ from their source's. A source over 5 GiB, which S3 does
// not copy in one request, is copied in parts (UploadPartCopy).
func (s *S3) Snapshot(ctx context.Context, dir string, paths []string) error {
	if len(paths) == 0 {
		return nil
	}
	dk, err := s.key(dir)
	if err != nil {
		return fmt.Errorf("snapshot %s: %w", dir, err)
	}
	last := paths[len(paths)-1]
	seen := map[string]bool{last: true}
	var rest []string
	for _, p := range paths {
		if _, err := s.key(dir + "/" + p); err != nil {
			return fmt.Errorf("snapshot %s: %w", dir, err)
		}
		if !seen[p] {
			seen[p] = true
			rest = append(rest, p)
		}
	}
	if err := s.checkLease(); err != nil {
		return err
	}
	if _, err := s.Stat(ctx, dir+"/"+last); err == nil {
		return fmt.Errorf("snapshot %s: %w", dir, target.ErrExist)
	} else if !errors.Is(err, target.ErrNotExist) {
		return fmt.Errorf("snapshot %s: %w", dir, err)
	}
	have, err := s.list(ctx, dk+"/")
	if err != nil {
		return fmt.Errorf("snapshot %s: %w", dir, err)
	}
	var (
		mu     sync.Mutex
		copied []string
	)
	copyOne := func(ctx context.Context, p string) error {
		dst := dk + "/" + p
		if h, ok := have[dst]; ok {
			// Left by an interrupted Snapshot: kept if it is the
			// source's content.
			src, err := s.c.StatObject(ctx, s.bucket, s.prefix+p, minio.StatObjectOptions{})
			if err == nil && src.Size == h.Size && src.ETag == h.ETag {
				return nil
			}
		}
		if err := s.copy(ctx, s.prefix+p, dst); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		mu.Lock()
		copied = append(copied, dst)
		mu.Unlock()
		return nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.copies)
	for _, p := range rest {
		g.Go(func() error { return copyOne(gctx, p) })
	}
	err = g.Wait()
	if err == nil {
		err = copyOne(ctx, last)
	}
	if err != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if rerr := s.removeKeys(cctx, copied); rerr != nil {
			s.log.Warn("removing the files of a failed snapshot", "dir", dir, "err", rerr)
		}
		return fmt.Errorf("snapshot %s: %w", dir, err)
	}
	return nil
}

// copy has the store copy the object at src to dst, with its metadata
// (Content-Type, Cache-Control, the SHA-256 it was stored with), after
// checking the lease. A missing source is an error wrapping
// target.ErrNotExist.
func (s *S3) copy(ctx context.Context, src, dst string) error {
	if err := s.checkLease(); err != nil {
		return err
	}
	_, err := s.c.CopyObject(ctx,
		minio.CopyDestOptions{Bucket: s.bucket, Object: dst},
		minio.CopySrcOptions{Bucket: s.bucket, Object: src})
	if err != nil && minio.ToErrorResponse(err).Code == "InvalidRequest" {
		// S3 refuses to copy a source over 5 GiB in one request
		// (InvalidRequest); such an object is copied in parts.
		err = s.copyParts(ctx, src, dst, err)
	}
	if err != nil {
		if notFound(err) {
			return fmt.Errorf("copying %s in %s: %w", strings.TrimPrefix(src, s.prefix), s, target.ErrNotExist)
		}
		return fmt.Errorf("copying %s to %s in %s: %w", strings.TrimPrefix(src, s.prefix), strings.TrimPrefix(dst, s.prefix), s, err)
	}
	return nil
}

// CopyPartSize is the size of the parts copyParts copies: S3's largest
// part, which is also its largest whole-object copy (5 GiB). Tests
// lower it.
var CopyPartSize int64 = 5 << 30

// copyParts copies src to dst on the server in parts (UploadPartCopy,
// minio-go's ComposeObject) after a whole-object copy was refused with
// refused: the way to copy an object larger than one CopyObject may. The
// copy keeps the source's Content-Type, Cache-Control and recorded
// SHA-256, as a whole-object copy does. A source no larger than one
// part gets refused back: it was not its size that was refused.
func (s *S3) copyParts(ctx context.Context, src, dst string, refused error) error {
	st, err := s.c.StatObject(ctx, s.bucket, src, minio.StatObjectOptions{})
	if err != nil {
		return err
	}
	if st.Size <= CopyPartSize {
		return refused
	}
	meta := map[string]string{"Content-Type": st.ContentType}
	if cc := st.Metadata.Get("Cache-Control"); cc != "" {
		meta["Cache-Control"] = cc
	}
	if v := st.UserMetadata[sha256Meta]; v != "" {
		meta[sha256Meta] = v
	}
	_, err = s.c.ComposeObject(ctx,
		minio.CopyDestOptions{Bucket: s.bucket, Object: dst, ReplaceMetadata: true, UserMetadata: meta, PartSize: uint64(CopyPartSize)},
		minio.CopySrcOptions{Bucket: s.bucket, Object: src, MatchETag: st.ETag})
	return err
}

// list returns the objects under key prefix p, by key.
func (s *S3) list(ctx context.Context, p string) (map[string]minio.ObjectInfo, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := map[string]minio.ObjectInfo{}
	for oi := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: p, Recursive: true}) {
		if oi.Err != nil {
			return nil, fmt.Errorf("listing %s in %s: %w", strings.TrimPrefix(p, s.prefix), s, oi.Err)
		}
		out[oi.Key] = oi
	}
	return out, nil
}

// removeKeys deletes the objects at keys, up to a thousand a request,
// after checking the lease.
func (s *S3) removeKeys(ctx context.Context, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	if err := s.checkLease(); err != nil {
		return err
	}
	ch := make(chan minio.ObjectInfo)
	go func() {
		defer close(ch)
		for _, k := range keys {
			select {
			case ch <- minio.ObjectInfo{Key: k}:
			case <-ctx.Done():
				return
			}
		}
	}()
	var errs []error
	for e := range s.c.RemoveObjects(ctx, s.bucket, ch, minio.RemoveObjectsOptions{}) {
		if e.Err != nil && !notFound(e.Err) {
			errs = append(errs, fmt.Errorf("removing %s from %s: %w", strings.TrimPrefix(e.ObjectName, s.prefix), s, e.Err))
		}
	}
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// RemoveDir implements target.Snapshotter without atomicity: the objects
// under dir are deleted with multi-object deletes, a thousand a request.
func (s *S3) RemoveDir(ctx context.Context, dir string) error {
	dk, err := s.key(dir)
	if err != nil {
		return err
	}
	have, err := s.list(ctx, dk+"/")
	if err != nil {
		return fmt.Errorf("removing %s: %w", dir, err)
	}
	keys := make([]string, 0, len(have))
	for k := range have {
		keys = append(keys, k)
	}
	if err := s.removeKeys(ctx, keys); err != nil {
		return fmt.Errorf("removing %s: %w", dir, err)
	}
	return nil
}

// Restore implements target.Snapshotter without atomicity: every file of
// dir is looked up first (one listing), then the paths whose object does
// not already have dir/P's size and ETag are copied by the store: those
// whose content never changes under their name (packages, metadata under
// hashed names: Immutable) at once, then the others one after another in
// the order given (repomd.xml, its .asc and .key), then the removals.
func (s *S3) Restore(ctx context.Context, dir string, paths, remove []string) error {
	dk, err := s.key(dir)
	if err != nil {
		return fmt.Errorf("restoring from %s: %w", dir, err)
	}
	for _, p := range append(append([]string(nil), paths...), remove...) {
		if _, err := s.key(p); err != nil {
			return fmt.Errorf("restoring from %s: %w", dir, err)
		}
	}
	have, err := s.list(ctx, dk+"/")
	if err != nil {
		return fmt.Errorf("restoring from %s: %w", dir, err)
	}
	for _, p := range paths {
		if _, ok := have[dk+"/"+p]; !ok {
			return fmt.Errorf("restoring %s from %s: %w", p, dir, target.ErrNotExist)
		}
	}
	// Which paths hold dir/P's content already.
	same := make([]bool, len(paths))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.copies)
	for i, p := range paths {
		g.Go(func() error {
			cur, err := s.c.StatObject(gctx, s.bucket, s.prefix+p, minio.StatObjectOptions{})
			switch {
			case err == nil:
				src := have[dk+"/"+p]
				same[i] = cur.Size == src.Size && cur.ETag == src.ETag
			case !notFound(err):
				return fmt.Errorf("restoring %s from %s: looking it up: %w", p, dir, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(s.copies)
	for i, p := range paths {
		if !same[i] && Immutable(p) {
			g.Go(func() error { return s.copy(gctx, dk+"/"+p, s.prefix+p) })
		}
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("restoring from %s: %w", dir, err)
	}
	for i, p := range paths {
		if !same[i] && !Immutable(p) {
			if err := s.copy(ctx, dk+"/"+p, s.prefix+p); err != nil {
				return fmt.Errorf("restoring from %s: %w", dir, err)
			}
		}
	}
	for _, p := range remove {
		if err := s.Remove(ctx, p); err != nil {
			return fmt.Errorf("restoring from %s: %w", dir, err)
		}
	}
	return nil
}

// Dirs implements target.Snapshotter: the common prefixes under dir/.
func (s *S3) Dirs(ctx context.Context, dir string) ([]string, error) {
	dk, err := s.key(dir)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var names []string
	for oi := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: dk + "/"}) {
		if oi.Err != nil {
			return nil, fmt.Errorf("listing %s in %s: %w", dir, s, oi.Err)
		}
		name, ok := strings.CutSuffix(strings.TrimPrefix(oi.Key, dk+"/"), "/")
		if !ok || strings.HasPrefix(name, ".rpmirror") || target.CheckPath(name) != nil || strings.Contains(name, "/") {
			continue
		}
		names = append(names, name)
	}
	return names, nil
}
