package sync

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sort"
)

// pruneExpired deletes the pending files of m whose prune_after has
// passed. It only trusts a pending list computed against the revision the
// mirror serves now.
func (s *run) pruneExpired(ctx context.Context, m *mirror) {
	if len(m.st.Pending) == 0 || m.tg == nil {
		return
	}
	cur := sha256.Sum256(m.cur)
	if m.st.PendingFor != hex.EncodeToString(cur[:]) {
		return
	}
	now := s.now()
	var paths []string
	for p, since := range m.st.Pending {
		if now.Sub(since) >= s.repo.PruneAfter {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	for _, p := range paths {
		if s.e.opts.DryRun {
			m.rep.Delete = append(m.rep.Delete, p)
			continue
		}
		if err := m.tg.Remove(ctx, p); err != nil {
			s.log.Warn("pruning", "mirror", m.cfg.Name, "path", p, "err", err)
			continue
		}
		delete(m.st.Pending, p)
		m.rep.Deleted++
	}
	if m.rep.Deleted > 0 {
		s.log.Info("pruned", "mirror", m.cfg.Name, "files", m.rep.Deleted)
	}
}
