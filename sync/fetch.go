package sync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"slices"
	gosync "sync"

	"golang.org/x/sync/errgroup"

	"github.com/rpmirror/rpmirror/repodata"
	"github.com/rpmirror/rpmirror/source"
	"github.com/rpmirror/rpmirror/target"
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
// cancels the rest. Entries sharing a checksum (one file, in the cache
// at one path) are fetched once: the others are checked once it is
// there (their type's own check), not fetched into the same path at the
// same time.
func (s *run) fetchMetadata(ctx context.Context, meta []repodata.Data) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.e.opts.Concurrency)
	seen := make(map[repodata.Checksum]bool, len(meta))
	var again []repodata.Data
	for _, d := range meta {
		if seen[d.Checksum] {
			again = append(again, d)
			continue
		}
		seen[d.Checksum] = true
		g.Go(func() error { return s.fetchMeta(gctx, d) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for _, d := range again {
		if err := s.fetchMeta(ctx, d); err != nil {
			return err
		}
	}
	return nil
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
			from, exportErr := s.export(gctx, p, dst)
			exported := from != ""
			if s.local != nil && !exported && exportErr != nil {
				// Nothing to check: say what the mirror holds instead
				// of the cache's want of a file.
				return fmt.Errorf("package %s (%s): %w", p.NEVRA(), p.Href, &source.LocalFileError{Mirror: s.local.cfg.Name, Href: p.Href, Err: exportErr})
			}
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
			switch {
			case n > 0 && exported:
				// The copy the mirror holds failed the checks (fetch.File
				// downloaded it): damaged there, and served so.
				s.rep.Fetched++
				s.log.Warn("a mirror holds a copy of a package that fails its checks: rpmirror verify --repair mends it", "mirror", from, "package", p.Href)
			case n > 0:
				s.rep.Fetched++
			case exported:
				// Checked from the cache (File takes a file at dst only
				// once check passes on it): no transfer.
				s.rep.FromMirrors++
				if prog != nil {
					prog.BytesDone.Add(max(p.Size, 0))
				}
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

// export puts at dst (the cache path of p, where nothing is yet) the file
// a mirror of this sync on this machine holds at p's path, verified
// (exportSources; a hard link), and returns that mirror's name ("" for
// none, with the last export's error): a mirror added beside others then
// costs no download of what they hold. Nothing trusts it for that:
// fetch.File checks a file found at dst as it checks a download, removes
// it when it fails (the link, never the mirror's file) and downloads p.
func (s *run) export(ctx context.Context, p *repodata.Package, dst string) (mirror string, err error) {
	if !s.exportable(p) {
		return "", nil // an initial sync: no system call a package for nothing
	}
	if s.local != nil {
		// Nothing is downloaded, so nothing resumes from a part file an
		// earlier run left: it would only keep the export out.
		os.Remove(dst + ".part")
	}
	for _, f := range []string{dst, dst + ".part"} {
		if _, err := os.Lstat(f); !errors.Is(err, fs.ErrNotExist) {
			return "", nil // left by an earlier run: File checks or resumes it
		}
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", err
	}
	for m, ex := range s.exportSources(p) {
		if err = ex.Export(ctx, p.Href, dst); err != nil {
			s.log.Debug("not exported from a mirror; fetching it", "package", p.Href, "mirror", m.cfg.Name, "err", err)
			err = fmt.Errorf("mirror %s: %w", m.cfg.Name, err)
			continue
		}
		s.log.Debug("exported from a mirror", "package", p.Href, "mirror", m.cfg.Name)
		return m.cfg.Name, nil
	}
	return "", err
}

// exportSources yields the mirrors of this sync on this machine
// (target.Exporter) that hold p at its path, verified as the plan found
// it: those the plan found serving it or holding it already (held), then
// those current (every package of the revision), unless found wrong
// since the last publish (Options.Suspect). Nothing is asked of the
// mirrors: Export fails where the file is gone since.
func (s *run) exportSources(p *repodata.Package) iter.Seq2[*mirror, target.Exporter] {
	return func(yield func(*mirror, target.Exporter) bool) {
		if s.local != nil {
			// The revision is taken from that mirror (fromMirrorHere):
			// every file from it, and a failure names it (a reviewer's:
			// a damaged copy in a mirror behind was taken, and the error
			// named the other).
			if ex, ok := s.local.tg.(target.Exporter); ok && !s.local.suspect[p.Href] {
				yield(s.local, ex)
			}
			return
		}
		var held []*mirror
		if s.plan != nil {
			held = s.plan.held[p.Href]
		}
		for _, m := range held {
			if ex, ok := m.tg.(target.Exporter); ok && !m.suspect[p.Href] && !yield(m, ex) {
				return
			}
		}
		for _, m := range s.mirrors {
			if m.plan == nil || !m.plan.UpToDate || slices.Contains(held, m) {
				continue
			}
			if ex, ok := m.tg.(target.Exporter); ok && !m.suspect[p.Href] && !yield(m, ex) {
				return
			}
		}
	}
}

// exportable reports whether a mirror of this sync would be asked for p
// before the origin (a dry run's count).
func (s *run) exportable(p *repodata.Package) bool {
	for range s.exportSources(p) {
		return true
	}
	return false
}
