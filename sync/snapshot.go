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
	log := s.log.With("mirror", m.cfg.Name)
	if _, err := snapshot.Maintain(ctx, m.tg, s.repo.Name, snapshot.PolicyOf(s.repo.Snapshots), rev, s.now(), log); err != nil {
		return fmt.Errorf("snapshots: %w", err)
	}
	return nil
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
