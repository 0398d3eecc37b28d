package sync

import (
	"context"
)

// prune carries out the pruning of mirror m's plan: it deletes paths,
// pending files whose prune_after has passed. It only trusts a pending
// list computed against the revision the mirror serves now, and deletes
// only what is still pending.
func (s *run) prune(ctx context.Context, m *mirror, paths []string) {
	if len(paths) == 0 || m.tg == nil || m.st.PendingFor != sha256Hex(m.cur) {
		return
	}
	for _, p := range paths {
		if _, ok := m.st.Pending[p]; !ok {
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
