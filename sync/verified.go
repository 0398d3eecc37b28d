package sync

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"slices"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/state"
)

// verifyOnly verifies the origin's revision of a repository that has no
// written mirror (only probe-only ones), so that it has verified
// revisions to judge those mirrors against: metadata, signatures and
// every package, fetched into the cache and deleted once verified. Only
// packages that the current verified revision does not name with the same
// checksum are fetched (the index of that revision is kept in state_dir).
//
// The origin's repomd.xml has been read and checked (its signature with
// repo_gpgcheck) as for any sync.
func (s *run) verifyOnly(ctx context.Context) (err error) {
	store := s.e.opts.Store
	cur := s.verified.Current()
	digest := sha256Hex(s.repomd)
	if s.rep.RevisionVerified {
		s.rep.NoChange = true
		s.plan = &Plan{Revision: s.md.Revision, RepomdSHA256: digest}
		s.log.Info("revision already verified", "revision", s.md.Revision)
		return nil
	}
	vm := &mirror{cfg: config.Mirror{Name: "(verify only)"}, rep: &MirrorReport{}, verifyOnly: true}
	idxRel, _ := filepath.Rel(store.Dir(), store.VerifiedIndexPath(s.repo.Name))
	if cur != nil {
		if idx, err := readIndex(store.Dir(), idxRel, cur.SHA256); err == nil {
			vm.index = idx
		}
	}
	cleanup, err := s.openCache()
	if err != nil {
		return err
	}
	defer cleanup()
	defer s.removeCache() // each package was deleted once verified
	if err := s.makePlan(ctx, []*mirror{vm}); err != nil {
		return err
	}
	if s.dry {
		s.log.Info("dry run: the origin's revision would be verified (no written mirror)", "revision", s.md.Revision, "packages", len(s.plan.Fetch))
		return nil
	}
	s.e.opts.Progress.set(s.repo.Name, "fetching")
	if err := s.fetchPackages(ctx, s.plan.Fetch, false); err != nil {
		return err
	}
	if err := saveIndex(s.index, store.Dir(), idxRel, digest); err != nil {
		s.log.Warn("saving the index of the verified revision; the next new revision is verified in full", "err", err)
	}
	return s.recordVerified()
}

// seedVerified makes the revision a written mirror serves the current
// verified revision when none is known yet and rpmirror published it (its
// state records that digest): state from before verified revisions were
// kept.
func (s *run) seedVerified() error {
	if s.verified.Current() != nil {
		return nil
	}
	var best *mirror
	for _, m := range s.mirrors {
		if m.cur == nil || m.curMd == nil || m.st.RepomdSHA256 != sha256Hex(m.cur) {
			continue
		}
		if best == nil || m.st.PublishedAt.After(best.st.PublishedAt) {
			best = m
		}
	}
	if best == nil {
		return nil
	}
	s.verified.Add(state.Revision{Revision: best.curMd.Revision, SHA256: best.st.RepomdSHA256, Repomd: best.cur}, s.now(), s.repo.MaxLag)
	s.log.Info("verified revisions: starting from the one published last", "revision", best.curMd.Revision, "mirror", best.cfg.Name)
	return s.saveVerified()
}

// recordVerified makes the origin's revision the current verified one.
func (s *run) recordVerified() error {
	rev := state.Revision{Revision: s.md.Revision, SHA256: sha256Hex(s.repomd), Repomd: s.repomd, Packages: s.sample}
	if s.verified.Add(rev, s.now(), s.repo.MaxLag) {
		if err := s.saveVerified(); err != nil {
			return err
		}
		s.log.Info("revision verified", "revision", s.md.Revision)
	}
	s.rep.RevisionVerified = true
	return nil
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
// kept for probes to check (state.Revision.Packages).
const SamplePackages = 64

// samplePackage keeps href in a uniform sample of SamplePackages of the
// packages planned (reservoir sampling).
func (s *run) samplePackage(href string) {
	s.planned++
	if len(s.sample) < SamplePackages {
		s.sample = append(s.sample, href)
	} else if i := rand.IntN(s.planned); i < SamplePackages {
		s.sample[i] = href
	}
}
