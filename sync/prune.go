package sync

import (
	"context"

	"golang.org/x/sync/errgroup"
)

// pruneConcurrency is how many files removePending deletes at once. Each
// deletion waits on its own: a filesystem mounted with discard discards
// the file's blocks before unlink returns (about 1.4 ms for a 40 KB
// package on the benchmark's disk), object storage answers a request. One
// after another, the 13 files of docs/benchmarks.md's 1% update took
// 18.7 ms, the longest step of its publish.
const pruneConcurrency = 8

// prune carries out the pruning of mirror m's plan: it deletes paths,
// pending files whose prune_after has passed. It only trusts a pending
// list computed against the revision the mirror serves now, and deletes
// only what is still pending.
func (s *run) prune(ctx context.Context, m *mirror, paths []string) {
	s.forgetPruned(m, s.removePending(ctx, m, paths))
	s.logPruned(m)
}

// removePending deletes those of paths that are pending files of m's
// state, when that list was computed against the revision m serves now,
// and returns the paths deleted. It only reads m's state, so the state
// may be saved meanwhile; forgetPruned then takes the deleted files out.
func (s *run) removePending(ctx context.Context, m *mirror, paths []string) []string {
	if len(paths) == 0 || m.tg == nil || m.st.PendingFor != sha256Hex(m.cur) {
		return nil
	}
	var todo []string
	for _, p := range paths {
		if _, ok := m.st.Pending[p]; ok {
			todo = append(todo, p)
		}
	}
	gone := make([]bool, len(todo))
	var g errgroup.Group // no error cancels the rest: each file is logged
	g.SetLimit(pruneConcurrency)
	for i, p := range todo {
		if ctx.Err() != nil {
			break // interrupted: what is left stays pending
		}
		g.Go(func() error {
			if err := m.tg.Remove(ctx, p); err != nil {
				s.log.Warn("pruning", "mirror", m.cfg.Name, "path", p, "err", err)
				return nil
			}
			gone[i] = true
			return nil
		})
	}
	g.Wait()
	var removed []string
	for i, p := range todo {
		if gone[i] {
			removed = append(removed, p)
		}
	}
	return removed
}

// forgetPruned takes the files removePending deleted out of m's pending
// files.
func (s *run) forgetPruned(m *mirror, removed []string) {
	for _, p := range removed {
		delete(m.st.Pending, p)
	}
	m.rep.Deleted += len(removed)
}

// logPruned reports what pruning m deleted, if anything.
func (s *run) logPruned(m *mirror) {
	if m.rep.Deleted > 0 {
		s.log.Info("pruned", "mirror", m.cfg.Name, "files", m.rep.Deleted)
	}
}
