package sync

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/rpmirror/rpmirror/repodata"
	"github.com/rpmirror/rpmirror/snapshot"
)

// snapshot keeps mirror m's snapshots (package snapshot) once m serves a
// complete revision, when the repo has a snapshots setting: it takes one
// of the revision m serves unless the newest snapshot is of it, and
// removes those the setting no longer keeps. md is the parsed repomd.xml
// m serves; pkgs, called only when a snapshot is taken, returns the
// package locations of that revision.
func (s *run) snapshot(ctx context.Context, m *mirror, md *repodata.Repomd, pkgs func() ([]string, error)) error {
	if s.repo.Snapshots == nil || m.tg == nil || m.cur == nil || md == nil {
		return nil
	}
	asc, key := m.curAsc != nil, m.curKey != nil
	rev := snapshot.Revision{Repomd: m.cur, Published: m.st.PublishedAt, Paths: func() ([]string, error) {
		paths, err := pkgs()
		if err != nil {
			return nil, err
		}
		for _, d := range md.Data {
			paths = append(paths, d.Href)
		}
		if asc {
			paths = append(paths, AscPath)
		}
		if key {
			paths = append(paths, KeyPath)
		}
		return paths, nil
	}}
	sum := sha256Hex(m.cur)
	rev.Shared = func() string { return s.sharedSnapshotName(ctx, m, sum) }
	log := s.log.With("mirror", m.cfg.Name)
	res, err := snapshot.Maintain(ctx, m.tg, s.repo.Name, snapshot.PolicyOf(s.repo.Snapshots), rev, s.now(), log)
	if res.Taken != "" && s.snapshotNames[sum] == "" {
		if s.snapshotNames == nil {
			s.snapshotNames = map[string]string{}
		}
		s.snapshotNames[sum] = res.Taken
	}
	if err != nil {
		return fmt.Errorf("snapshots: %w", err)
	}
	return nil
}

// plansSnapshot reports whether keeping m's snapshots (run.snapshot),
// once m serves the revision whose repomd.xml is repomd, takes one: the
// repo keeps snapshots and m's newest snapshot is of another revision
// (snapshot.Index.Lacks, as snapshot.Maintain decides). It reads m's
// snapshot index and changes nothing; nothing but Maintain changes that
// index while the sync holds m's lock. An index that cannot be read says
// yes: the sync tries to take one, and says why it failed.
func (s *run) plansSnapshot(ctx context.Context, m *mirror, repomd []byte) bool {
	if s.repo.Snapshots == nil || m.tg == nil || repomd == nil {
		return false
	}
	x, err := snapshot.Read(ctx, m.tg, s.repo.Name)
	if err != nil {
		s.log.Debug("reading the mirror's snapshots to plan", "mirror", m.cfg.Name, "err", err)
		return true
	}
	return x.Lacks(repomd)
}

// sharedSnapshotName returns the name under which the repo's other
// written mirrors hold a snapshot of the revision whose repomd.xml has
// digest sum, or "": the name this run gave it on another mirror, else
// the newest such name in the other mirrors' snapshot indexes (read once
// a run, under the locks this run holds). A mirror added later thus
// names its snapshot of the current revision as the others did, not for
// its own publish time, and a CI job pinned to that name keeps every
// mirror to fail over to. A mirror whose index cannot be read is passed
// over.
func (s *run) sharedSnapshotName(ctx context.Context, m *mirror, sum string) string {
	if name, ok := s.snapshotNames[sum]; ok {
		return name
	}
	name := ""
	for _, o := range s.mirrors {
		if o == m || o.tg == nil {
			continue
		}
		x, err := snapshot.Read(ctx, o.tg, s.repo.Name)
		if err != nil {
			s.log.Debug("reading another mirror's snapshots to name a snapshot alike", "mirror", o.cfg.Name, "err", err)
			continue
		}
		for _, sn := range x.Snapshots {
			if sn.RepomdSHA256 == sum && (name == "" || snapshot.Compare(sn.Name, name) > 0) {
				name = sn.Name
			}
		}
	}
	if s.snapshotNames == nil {
		s.snapshotNames = map[string]string{}
	}
	s.snapshotNames[sum] = name
	return name
}

// snapshotOwner says what rpmirror keeps at p under snapshots/, or "":
// no origin file may be published there.
func snapshotOwner(p string) string {
	if p == snapshot.Dir || strings.HasPrefix(p, snapshot.Dir+"/") {
		return "its snapshots"
	}
	return ""
}

// publishedPackages returns the package locations of the revision this
// sync published.
func (s *run) publishedPackages() ([]string, error) {
	return slices.Collect(maps.Keys(s.referenced)), nil
}

// servedPackages returns a function listing the package locations of the
// revision m serves, read from its primary metadata.
func (s *run) servedPackages(ctx context.Context, m *mirror) func() ([]string, error) {
	return func() ([]string, error) {
		idx, _ := s.loadIndex(ctx, m)
		if idx == nil {
			return nil, errors.New("the primary metadata the mirror serves cannot be read")
		}
		return slices.Collect(maps.Keys(idx)), nil
	}
}
