package sync

import (
	"context"
	"fmt"
	"io"

	"github.com/rpmirror/rpmirror/repodata"
	"github.com/rpmirror/rpmirror/target"
	"github.com/rpmirror/rpmirror/verify"
)

// ref is what primary metadata says a package location holds.
type ref struct {
	sum  repodata.Checksum
	size int64
}

// plan streams the origin's primary metadata and decides, for each behind
// mirror, which packages it lacks and whether each can be stored at once
// (a path the served revision does not use) or must wait for the atomic
// commit (a path it uses with other content).
func (s *run) plan(ctx context.Context, behind []*mirror) error {
	// Mirrors serving the same revision share one index.
	indexes := map[string]map[string]string{}
	for _, m := range behind {
		if m.verifyOnly {
			continue // its index is set already
		}
		key := string(m.cur)
		if idx, ok := indexes[key]; ok {
			m.index = idx
			continue
		}
		m.index = s.loadIndex(ctx, m)
		indexes[key] = m.index
	}
	rc, d, err := s.openPrimary()
	if err != nil {
		return err
	}
	defer rc.Close()
	pr := repodata.NewPrimaryReader(rc)
	s.referenced = map[string]ref{}
	metaHref := map[string]string{}
	for _, d := range s.md.Data {
		metaHref[d.Href] = d.Type
	}
	iw, err := newIndexWriter(s.cache, "index.tmp")
	if err != nil {
		return err
	}
	defer iw.abort()
	queued := map[string]bool{}
	prog := s.e.opts.Progress
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		p, err := pr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", d.Href, err)
		}
		if err := s.checkLocation(p.Href, p.Base); err != nil {
			return fmt.Errorf("%s: package %s: %w", d.Href, p.NEVRA(), err)
		}
		if err := s.checkStrength(p.Checksum); err != nil {
			return fmt.Errorf("%s: package %s: %w", d.Href, p.NEVRA(), err)
		}
		if owner := reservedOwner(p.Href); owner != "" {
			return fmt.Errorf("%s: package %s: %w", d.Href, p.NEVRA(), &ReservedPathError{Href: p.Href, Owner: owner})
		}
		if typ, ok := metaHref[p.Href]; ok {
			return fmt.Errorf("%s: package %s: %w", d.Href, p.NEVRA(), &ReservedPathError{Href: p.Href, Owner: "this revision's " + typ + " metadata"})
		}
		if prev, dup := s.referenced[p.Href]; dup {
			// Identical duplicates are common (createrepo_c's tests say
			// so) and dnf reads them: the file is published once.
			if prev.sum == p.Checksum && prev.size == p.Size {
				continue
			}
			return fmt.Errorf("%s: package %s: %w", d.Href, p.NEVRA(), &ConflictError{File: d.Href, Href: p.Href, First: describe(prev.sum, prev.size), Then: describe(p.Checksum, p.Size)})
		}
		s.referenced[p.Href] = ref{sum: p.Checksum, size: p.Size}
		s.samplePackage(p.Href)
		sum := p.Checksum.String()
		if err := iw.add(p.Href, sum); err != nil {
			return err
		}
		need := false
		for _, m := range behind {
			if m.index != nil && m.index[p.Href] == sum {
				continue // served now, so present and verified
			}
			present, err := s.presentVerified(ctx, m, p)
			if err != nil {
				return err
			}
			if present {
				continue
			}
			need = true
			if m.serves(p.Href) || (m.index == nil && m.tg != nil && exists(ctx, m.tg, p.Href)) {
				m.conflicts = append(m.conflicts, p)
			} else {
				m.puts = append(m.puts, p)
			}
		}
		if need && !queued[p.Href] {
			queued[p.Href] = true
			s.rep.WouldFetch = append(s.rep.WouldFetch, p.Href)
			s.rep.WouldFetchBytes += max(p.Size, 0)
			if prog != nil {
				prog.PackagesTotal.Add(1)
				prog.BytesTotal.Add(max(p.Size, 0))
			}
		}
	}
	if s.index, err = iw.finish(); err != nil {
		return err
	}
	s.log.Info("planned", "revision", s.md.Revision, "packages", len(s.referenced), "to_fetch", len(s.rep.WouldFetch), "bytes", s.rep.WouldFetchBytes)
	return nil
}

func exists(ctx context.Context, tg target.Target, p string) bool {
	_, err := tg.Stat(ctx, p)
	return err == nil
}

// presentVerified reports whether mirror m already has package p at its
// path with the right content, as after an interrupted sync that stored
// it but did not publish the metadata naming it.
func (s *run) presentVerified(ctx context.Context, m *mirror, p *repodata.Package) (bool, error) {
	if m.tg == nil {
		return false, nil
	}
	info, err := m.tg.Stat(ctx, p.Href)
	if err != nil || (p.Size >= 0 && info.Size != p.Size) {
		return false, nil // a package without a declared size is hashed
	}
	if info.SHA256 != "" && p.Checksum.Type == "sha256" {
		// Stored by rpmirror with the digest it verified: no need to
		// read it back.
		return info.SHA256 == p.Checksum.Value, nil
	}
	rc, err := m.tg.Open(ctx, p.Href)
	if err != nil {
		return false, nil
	}
	defer rc.Close()
	return verify.Content(rc, p.Size, p.Checksum) == nil, nil
}

// packages lists every package some behind mirror lacks, once each.
func (s *run) packages(behind []*mirror) []*repodata.Package {
	seen := map[string]bool{}
	var all []*repodata.Package
	for _, m := range behind {
		for _, list := range [][]*repodata.Package{m.puts, m.conflicts} {
			for _, p := range list {
				if !seen[p.Href] {
					seen[p.Href] = true
					all = append(all, p)
				}
			}
		}
	}
	return all
}
