package sync

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"sort"
	"time"

	"github.com/rpmirror/rpmirror/internal/safefs"
	"github.com/rpmirror/rpmirror/target"
)

// publish makes mirror m serve the origin's revision: first the packages
// at paths the served revision does not use, then everything else in one
// atomic commit. Pruning follows.
func (s *run) publish(ctx context.Context, m *mirror) error {
	log := s.log.With("mirror", m.cfg.Name)
	if err := s.checkOrdered(m); err != nil {
		return err
	}
	// Until the commit, the packages stored now are referenced by nothing
	// the mirror serves. Record them first, so that if this revision is
	// never published (a crash, a failure) the next publish can prune the
	// ones its revision does not name.
	if len(m.puts) > 0 {
		if m.st.Unpublished == nil {
			m.st.Unpublished = map[string]time.Time{}
		}
		now := s.now()
		for _, p := range m.puts {
			if _, ok := m.st.Unpublished[p.Href]; !ok {
				m.st.Unpublished[p.Href] = now
			}
		}
		if err := s.saveState(ctx); err != nil {
			return err
		}
	}
	for _, p := range m.puts {
		if err := m.tg.Put(ctx, target.File{Path: p.Href, Local: s.fetched[p.Href], Size: p.Size, SHA256: sha256Of(p.Checksum)}); err != nil {
			return err
		}
		m.rep.Published++
	}
	var files []target.File
	for _, p := range m.conflicts {
		files = append(files, target.File{Path: p.Href, Local: s.fetched[p.Href], Size: p.Size, SHA256: sha256Of(p.Checksum)})
	}
	metaSeen := map[string]bool{}
	for _, d := range s.md.Data {
		if m.hasMeta(d) || metaSeen[d.Href] {
			continue
		}
		metaSeen[d.Href] = true
		files = append(files, target.File{Path: d.Href, Local: s.metaLocal[d.Href], Size: d.Size, SHA256: sha256Of(d.Checksum)})
	}
	var remove []string
	for _, f := range []struct {
		path string
		b    []byte
	}{{RepomdPath, s.repomd}, {AscPath, s.asc}, {KeyPath, s.key}} {
		if f.b == nil {
			remove = append(remove, f.path)
			continue
		}
		local := filepath.Join(s.cache, filepath.Base(f.path))
		if err := safefs.WriteFile(s.cache, filepath.Base(f.path), f.b, 0o644); err != nil {
			return fmt.Errorf("staging %s: %w", f.path, err)
		}
		files = append(files, target.File{Path: f.path, Local: local, Size: int64(len(f.b)), SHA256: sha256Hex(f.b)})
	}
	// Record what the new revision leaves unreferenced before committing,
	// so that a process killed right after the commit still prunes it.
	sum := sha256.Sum256(s.repomd)
	digest := hex.EncodeToString(sum[:])
	now := s.now()
	pending := s.pendingAfterCommit(m, now)
	m.st.Pending, m.st.PendingFor = pending, digest
	if err := s.saveState(ctx); err != nil {
		return err
	}
	if err := m.tg.Commit(ctx, files, remove); err != nil {
		return err
	}
	m.st.Unpublished = nil
	if err := saveIndex(s.index, s.e.opts.Store.Dir(), s.indexRel(m), digest); err != nil {
		log.Warn("saving the mirror's index; the next sync reads its primary metadata instead", "err", err)
	}
	m.rep.Published += len(files)
	m.cur, m.curAsc, m.curKey = s.repomd, s.asc, s.key
	m.st.Revision, m.st.RepomdSHA256 = s.md.Revision, digest
	m.st.PublishedAt, m.st.CheckedAt = now, now
	if err := s.writeIndexRecord(ctx, m, s.index, digest); err != nil {
		return err
	}
	if err := s.saveState(ctx); err != nil {
		return err
	}
	log.Info("published", "revision", s.md.Revision, "files", m.rep.Published)
	s.pruneExpired(ctx, m)
	return nil
}

// checkOrdered refuses what cannot be published to a target without an
// atomic commit. Such a target gets the classic order (packages, then
// metadata under their new names, then repomd.xml, then its signature:
// publish builds the commit in that order), which is safe only while no
// file the served revision uses changes under its own name.
func (s *run) checkOrdered(m *mirror) error {
	if m.tg.Properties().AtomicCommit {
		return nil
	}
	if len(m.conflicts) > 0 {
		return &UnsafePublishError{Mirror: m.cfg.Name, Path: m.conflicts[0].Href}
	}
	if m.curMd == nil {
		return nil
	}
	for _, d := range s.md.Data {
		if m.hasMeta(d) {
			continue
		}
		for _, old := range m.curMd.Data {
			if old.Href == d.Href {
				return &UnsafePublishError{Mirror: m.cfg.Name, Path: d.Href, Metadata: true}
			}
		}
	}
	return nil
}

func (s *run) isMeta(p string) bool {
	if p == RepomdPath || p == AscPath || p == KeyPath {
		return true
	}
	for _, d := range s.md.Data {
		if d.Href == p {
			return true
		}
	}
	return false
}

// pendingAfterCommit returns what mirror m will hold, once it serves the
// new revision, that the revision does not use, with when each became
// unused: pruned once prune_after has passed. The dry run asks it too, so
// that it lists the deletions the sync will make.
func (s *run) pendingAfterCommit(m *mirror, now time.Time) map[string]time.Time {
	pending := map[string]time.Time{}
	addPending := func(p string) {
		if _, ref := s.referenced[p]; ref || s.isMeta(p) {
			return
		}
		if since, ok := m.st.Pending[p]; ok {
			pending[p] = since
		} else if _, ok := pending[p]; !ok {
			pending[p] = now
		}
	}
	for p := range m.st.Pending {
		addPending(p)
	}
	for p := range m.index {
		addPending(p)
	}
	if m.curMd != nil {
		for _, d := range m.curMd.Data {
			addPending(d.Href)
		}
	}
	// Packages stored for revisions that were never published: those the
	// new revision does not name are pending now.
	for p, since := range m.st.Unpublished {
		if _, ref := s.referenced[p]; ref || s.isMeta(p) {
			continue
		}
		if _, ok := pending[p]; !ok {
			pending[p] = since
		}
	}
	return pending
}

// dryRun fills the report with what publishing would do.
func (s *run) dryRun(ctx context.Context, behind []*mirror) error {
	for _, m := range behind {
		for _, p := range m.puts {
			m.rep.Publish = append(m.rep.Publish, p.Href)
		}
		for _, p := range m.conflicts {
			m.rep.Publish = append(m.rep.Publish, p.Href+" (replaces a file in use, atomically)")
		}
		for _, d := range s.md.Data {
			if !m.hasMeta(d) {
				m.rep.Publish = append(m.rep.Publish, d.Href)
			}
		}
		// What publish commits: repomd.xml, and its signature and key
		// when the origin has them.
		for _, f := range []struct {
			path string
			b    []byte
		}{{RepomdPath, s.repomd}, {AscPath, s.asc}, {KeyPath, s.key}} {
			if f.b != nil {
				m.rep.Publish = append(m.rep.Publish, f.path)
			}
		}
		// What publish's pruning deletes right after the commit.
		now := s.now()
		for p, since := range s.pendingAfterCommit(m, now) {
			if now.Sub(since) >= s.repo.PruneAfter {
				m.rep.Delete = append(m.rep.Delete, p)
			}
		}
		sort.Strings(m.rep.Delete)
	}
	return nil
}
