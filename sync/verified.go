package sync

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"slices"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/state"
)

// verifyOnlyMirror is the stand-in planned for when a repository has no
// written mirror (only probe-only ones): the sync verifies the origin's
// revision so that it has verified revisions to judge those mirrors
// against, fetching metadata, signatures and every package into the cache
// and deleting each once verified. Its index is that of the current
// verified revision (kept in state_dir), so only the packages that
// revision does not name with the same checksum are fetched.
func (s *run) verifyOnlyMirror() *mirror {
	vm := &mirror{cfg: config.Mirror{Name: "(verify only)"}, rep: &MirrorReport{}, verifyOnly: true}
	if cur := s.verified.Current(); cur != nil {
		store := s.e.opts.Store
		if idx, err := readIndex(store.Dir(), s.verifiedIndexRel(), cur.SHA256); err == nil {
			vm.index = idx
		}
	}
	return vm
}

// verifiedIndexRel is where the index of the current verified revision is
// kept, relative to the state directory.
func (s *run) verifiedIndexRel() string {
	store := s.e.opts.Store
	rel, _ := filepath.Rel(store.Dir(), store.VerifiedIndexPath(s.repo.Name))
	return rel
}

// verifyRevision carries out the plan of a repository with no written
// mirror (verifyOnlyMirror): every package is fetched, verified and
// deleted, then the revision is verified.
func (s *run) verifyRevision(ctx context.Context) error {
	s.e.opts.Progress.set(s.repo.Name, "fetching")
	if err := s.fetchPackages(ctx, s.plan.Fetch, false, nil); err != nil {
		return err
	}
	if err := saveIndex(s.index, s.e.opts.Store.Dir(), s.verifiedIndexRel(), sha256Hex(s.repomd)); err != nil {
		s.log.Warn("saving the index of the verified revision; the next new revision is verified in full", "err", err)
	}
	return s.recordVerified()
}

// seedVerified makes the revision a written mirror serves the current
// verified revision when none is known yet and rpmirror published it (its
// state records that digest and the index rpmirror wrote then is kept; an
// adopted mirror proves nothing): state from before verified revisions
// were kept.
func (s *run) seedVerified() error {
	if s.verified.Current() != nil {
		return nil
	}
	var best *mirror
	for _, m := range s.mirrors {
		if m.cur == nil || m.curMd == nil || m.adopted || m.st.RepomdSHA256 != sha256Hex(m.cur) {
			continue
		}
		if best == nil || m.st.PublishedAt.After(best.st.PublishedAt) {
			best = m
		}
	}
	if best == nil {
		return nil
	}
	s.verified.Add(state.Revision{Revision: best.curMd.Revision, SHA256: best.st.RepomdSHA256, Repomd: best.cur, Signature: best.curAsc}, s.now(), s.repo.MaxLag)
	s.log.Info("verified revisions: starting from the one published last", "revision", best.curMd.Revision, "mirror", best.cfg.Name)
	return s.saveVerified()
}

// recordVerified makes the origin's revision the current verified one.
func (s *run) recordVerified() error {
	return s.addVerified()()
}

// addVerified makes the origin's revision the current verified one in
// memory, and returns what saves it (and reports it); until save has
// returned, s.verified may be read but not changed.
func (s *run) addVerified() (save func() error) {
	rev := state.Revision{Revision: s.md.Revision, SHA256: sha256Hex(s.repomd), Repomd: s.repomd, Packages: s.sample, PackageSizes: s.sizes,
		Signature: s.asc, Key: s.key}
	added := s.verified.Add(rev, s.now(), s.repo.MaxLag)
	return func() error {
		if added {
			if err := s.saveVerified(); err != nil {
				return err
			}
			s.log.Info("revision verified", "revision", s.md.Revision)
		}
		s.rep.RevisionVerified = true
		return nil
	}
}

func (s *run) saveVerified() error {
	if err := s.e.opts.Store.SaveVerified(s.verified); err != nil {
		return err
	}
	if s.e.opts.OnVerified != nil {
		v := *s.verified
		v.Revisions = slices.Clone(v.Revisions)
		s.e.opts.OnVerified(&v)
	}
	return nil
}

// SamplePackages is how many package hrefs of a verified revision are
// kept for probes to check (state.Revision.Packages), with their sizes
// (state.Revision.PackageSizes).
const SamplePackages = 64

// samplePackage keeps href, of size bytes by the primary metadata, in a
// uniform sample of SamplePackages of the packages planned (reservoir
// sampling).
func (s *run) samplePackage(href string, size int64) {
	s.planned++
	if len(s.sample) < SamplePackages {
		s.sample = append(s.sample, href)
		s.sizes = append(s.sizes, size)
	} else if i := rand.IntN(s.planned); i < SamplePackages {
		s.sample[i], s.sizes[i] = href, size
	}
}
