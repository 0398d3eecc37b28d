package sync

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime/trace"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/rpmirror/rpmirror/internal/safefs"
	"github.com/rpmirror/rpmirror/target"
)

// publish carries out mirror m's plan: first the packages it stores at
// paths the served revision does not use, then the one commit (atomic
// where the target can, else in the plan's order). Pruning follows.
func (s *run) publish(ctx context.Context, m *mirror) error {
	mp := m.plan
	log := s.log.With("mirror", m.cfg.Name)
	if mp.Refused != nil {
		return mp.Refused
	}
	// Until the commit, the mirror's pending files are those of the
	// revision it serves: a publish that fails before it puts back those
	// that setPending replaced, for the state saved at the end of the
	// sync.
	committed := false
	defer func() {
		if !committed {
			m.pendingSet.restore(m)
		}
	}()
	// The packages stored now were recorded as unpublished before
	// (recordStores, or earlyStores for a mirror that stored them while
	// they downloaded).
	if err := inRegion(ctx, "store", func() error { return s.storeAll(ctx, m, mp.Store) }); err != nil {
		return err
	}
	// repomd.xml, its signature and key were staged in the cache
	// (stageRepomd) before it was made durable.
	files := make([]target.File, len(mp.Commit))
	for i, f := range mp.Commit {
		files[i] = f.File(s.cache)
	}
	// What the new revision leaves unreferenced is recorded before the
	// commit, so that a process killed right after it still prunes it:
	// usually with the packages to store (recordStores), else now.
	if m.pendingSet == nil {
		s.setPending(m)
		if err := s.saveState(ctx); err != nil {
			return err
		}
	}
	if err := inRegion(ctx, "commit", func() error { return m.tg.Commit(ctx, files, mp.Remove) }); err != nil {
		return err
	}
	committed = true
	m.st.Unpublished = nil
	digest := sha256Hex(s.repomd)
	now := s.publishTime()
	// The mirror's index (a file of its own, named by the revision's
	// digest, so that it is never taken for another's) is saved while
	// the state is, and the files the new revision left unused and whose
	// prune_after has passed are deleted meanwhile: each waits mostly for
	// the disk. Pruning needs only that the commit is done (a process
	// killed meanwhile leaves the pending files recorded before it, the
	// state below or the one before the commit, which deleted files do
	// not trouble); what it deleted leaves the pending files afterwards.
	indexSaved := make(chan error, 1)
	go func() { indexSaved <- saveIndex(s.index, s.e.opts.Store.Dir(), s.indexRel(m), digest) }()
	defer func() {
		if err := <-indexSaved; err != nil {
			log.Warn("saving the mirror's index; the next sync reads its primary metadata instead", "err", err)
		}
	}()
	m.rep.Published += len(files)
	m.cur, m.curAsc, m.curKey = s.repomd, s.asc, s.key
	m.st.Revision, m.st.RepomdSHA256 = s.md.Revision, digest
	m.st.PublishedAt, m.st.CheckedAt = now, now
	pruned := make(chan []string, 1)
	go func() {
		var removed []string
		trace.WithRegion(ctx, "prune", func() { removed = s.removePending(ctx, m, mp.Prune) })
		pruned <- removed
	}()
	err := s.writeIndexRecord(ctx, m, s.index, digest)
	if err == nil {
		err = s.saveState(ctx)
	}
	s.forgetPruned(m, <-pruned)
	if err != nil {
		return err
	}
	log.Info("published", "revision", s.md.Revision, "files", m.rep.Published)
	s.logPruned(m)
	return nil
}

// pendingSet is what setPending replaced in a mirror's state.
type pendingSet struct {
	pending map[string]time.Time
	forRev  string
}

// restore puts the pending files of the revision the mirror serves back
// in its state.
func (p *pendingSet) restore(m *mirror) {
	if p == nil {
		return
	}
	m.st.Pending, m.st.PendingFor = p.pending, p.forRev
}

// setPending makes m's pending files those its plan leaves unused once
// it serves the new revision (m.st.PendingFor names it, so that nothing
// deletes them while it serves another), the ones unused from the
// commit on since publishTime. The caller saves the state.
func (s *run) setPending(m *mirror) {
	m.pendingSet = &pendingSet{pending: m.st.Pending, forRev: m.st.PendingFor}
	now := s.publishTime()
	pending := make(map[string]time.Time, len(m.plan.Pending))
	for p, since := range m.plan.Pending {
		if since.IsZero() {
			since = now // unused from this commit on
		}
		pending[p] = since
	}
	m.st.Pending, m.st.PendingFor = pending, sha256Hex(s.repomd)
}

// recordStores records, for each of the behind mirrors that will store
// packages in publish (not those that stored them while they
// downloaded: earlyStores recorded theirs), the packages of its plan's
// Store as unpublished, and saves the state once, before the first is
// stored: until its commit, a mirror's stored packages are referenced by
// nothing it serves, and if that revision is never published (a crash,
// a failure) the next publish can prune the ones its revision does not
// name.
//
// The same save records what each of those mirrors leaves unused once it
// commits (setPending), which publish would otherwise save on its own
// right before the commit.
func (s *run) recordStores(ctx context.Context, behind []*mirror) error {
	changed := false
	for _, m := range behind {
		if m.plan == nil || m.plan.Refused != nil {
			continue
		}
		if len(m.plan.Store) > 0 && m.early == nil {
			s.recordUnpublished(m)
		}
		s.setPending(m)
		changed = true
	}
	if !changed {
		return nil
	}
	if err := s.saveState(ctx); err != nil {
		for _, m := range behind {
			m.pendingSet.restore(m)
			m.pendingSet = nil
		}
		return err
	}
	return nil
}

// recordUnpublished records the packages of m's plan's Store in its
// state as stored for a revision not published yet (since now, unless
// recorded before). The caller saves the state.
func (s *run) recordUnpublished(m *mirror) {
	if m.st.Unpublished == nil {
		m.st.Unpublished = map[string]time.Time{}
	}
	now := s.now()
	for _, f := range m.plan.Store {
		if _, ok := m.st.Unpublished[f.Path]; !ok {
			m.st.Unpublished[f.Path] = now
		}
	}
}

// stageRepomd writes repomd.xml, its signature and its key into the
// cache, where the commits take them from. They are not flushed one by
// one: the caller makes the cache durable (SyncFS) before any commit.
func (s *run) stageRepomd() error {
	for _, f := range []struct {
		path string
		b    []byte
	}{{RepomdPath, s.repomd}, {AscPath, s.asc}, {KeyPath, s.key}} {
		if f.b == nil {
			continue
		}
		if err := safefs.Stage(s.cache, filepath.Base(f.path), f.b, 0o644); err != nil {
			return fmt.Errorf("staging %s: %w", f.path, err)
		}
	}
	return nil
}

// storeAll stores files, which nothing the mirror serves references yet,
// in any order. A target that stores a batch faster than file by file
// (target.BatchPutter: on this machine, hard links made durable by one
// flush instead of an fsync each) gets them all at once; any other
// (object storage) gets as many Puts at once as downloads
// (Options.Concurrency), since each upload waits mostly on the network,
// except those stored while the packages downloaded (earlyStores), whose
// first failure is the error. The first failure stops the rest.
func (s *run) storeAll(ctx context.Context, m *mirror, files []Placement) error {
	if m.early != nil {
		m.early.mu.Lock()
		err, stored := m.early.err, m.early.stored
		m.early.mu.Unlock()
		m.rep.Published += len(stored)
		if err != nil {
			return err
		}
		rest := make([]Placement, 0, len(files)-len(stored))
		for _, f := range files {
			if !stored[f.Path] {
				rest = append(rest, f)
			}
		}
		files = rest
	}
	if len(files) == 0 {
		return nil
	}
	if b, ok := m.tg.(target.BatchPutter); ok {
		batch := make([]target.File, len(files))
		for i, f := range files {
			batch[i] = f.File(s.cache)
		}
		if err := b.PutAll(ctx, batch); err != nil {
			return err
		}
		m.rep.Published += len(files)
		return nil
	}
	var stored atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.e.opts.Concurrency)
	for _, f := range files {
		g.Go(func() error {
			if err := m.tg.Put(gctx, f.File(s.cache)); err != nil {
				return err
			}
			stored.Add(1)
			return nil
		})
	}
	err := g.Wait()
	m.rep.Published += int(stored.Load())
	return err
}
