package sync

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	gosync "sync"

	"golang.org/x/sync/errgroup"

	"github.com/rpmirror/rpmirror/repodata"
	"github.com/rpmirror/rpmirror/verify"
)

// cachePath names a verified download in the cache by its checksum.
func (s *run) cachePath(c repodata.Checksum) string {
	return filepath.Join(s.cache, c.Type+"-"+c.Value)
}

// fetchMetadata downloads and verifies the metadata files meta (the
// plan's Metadata) into the cache, as many at once as packages
// (Options.Concurrency): an update needs a handful of small files, which
// one after another would cost a round trip each. The first failure
// cancels the rest.
func (s *run) fetchMetadata(ctx context.Context, meta []repodata.Data) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.e.opts.Concurrency)
	for _, d := range meta {
		g.Go(func() error { return s.fetchMeta(gctx, d) })
	}
	return g.Wait()
}

// fetchPackages downloads and verifies pkgs (the plan's Fetch) into the
// cache. A file listed at several locations (same checksum) is downloaded
// once. The first failure cancels the rest and fails the sync. Unless
// keep (a verify-only run), each file is deleted once verified; if keep,
// verified (unless nil) is told the cache path of each once verified.
func (s *run) fetchPackages(ctx context.Context, pkgs []*repodata.Package, keep bool, verified func(string)) error {
	// Downloads go to the cache by checksum: group the locations that
	// share one, so that no two transfers write one file.
	var order []string
	groups := map[string][]*repodata.Package{}
	for _, p := range pkgs {
		dst := s.cachePath(p.Checksum)
		if len(groups[dst]) == 0 {
			order = append(order, dst)
		} else if first := groups[dst][0]; first.Size != p.Size {
			return fmt.Errorf("packages %s and %s have the same checksum %s and different sizes (%d and %d bytes)", first.Href, p.Href, p.Checksum, first.Size, p.Size)
		}
		groups[dst] = append(groups[dst], p)
	}
	var mu gosync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.e.opts.Concurrency)
	prog := s.e.opts.Progress
	src := s.src
	if prog != nil {
		src = src.CountingTo(&prog.BytesDone)
	}
	for _, dst := range order {
		group := groups[dst]
		p := group[0]
		g.Go(func() error {
			n, err := src.File(gctx, p.Href, p.Base, dst, p.Size, func(r io.Reader) error {
				_, err := verify.RPM(r, p, s.keyring)
				return err
			})
			mu.Lock()
			defer mu.Unlock()
			s.rep.Bytes += n
			s.rep.PackageBytes += n
			if err != nil {
				return fmt.Errorf("package %s (%s): %w", p.NEVRA(), p.Href, err)
			}
			if n > 0 {
				s.rep.Fetched++
			}
			s.rep.Verified += len(group)
			if prog != nil {
				prog.PackagesDone.Add(int64(len(group)))
			}
			if !keep {
				os.Remove(dst)
			} else if verified != nil {
				verified(dst)
			}
			s.log.Debug("fetched", "package", p.Href, "bytes", n, "locations", len(group))
			return nil
		})
	}
	return g.Wait()
}
