package sync

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/rpmirror/rpmirror/repodata"
	"github.com/rpmirror/rpmirror/source"
	"github.com/rpmirror/rpmirror/target"
)

// fromMirrorHere is what a sync that found no usable upstream (cause)
// does when a written mirror is behind: it takes the current verified
// revision from a written mirror on this machine that serves it, and
// reports whether it did. A mirror added while the origin is down (in
// the incident: three hours of 403) is then filled from what the others
// hold, instead of staying empty until the origin is back.
//
// The revision is the state_dir's record of it (repomd.xml, its
// signature and key, byte for byte as verified), accepted again as an
// upstream's is (accept); the mirror it is taken from serves exactly
// that, was published by rpmirror (not adopted) and has no file found
// wrong since (Options.Suspect). Every file comes from that mirror
// (target.Exporter: linked, or copied) and is checked as a download is,
// against the record's metadata; a file it does not hold intact fails
// the sync (*source.LocalFileError). Nothing is fetched from anywhere.
// A filtered repository (its revision is written from the origin's) and
// one signed with sign_with are skipped as before; so is a sync where
// every mirror is current, or none of them on this machine serves the
// revision.
func (s *run) fromMirrorHere(ctx context.Context, cause error) bool {
	cur := s.verified.Current()
	if cur == nil {
		return false
	}
	var from *mirror
	behind := 0
	for _, m := range s.mirrors {
		if m.adopted || !m.upToDate(cur.Repomd, cur.Signature, cur.Key) {
			behind++
			continue
		}
		if _, ok := m.tg.(target.Exporter); ok && from == nil && len(m.suspect) == 0 {
			from = m
		}
	}
	switch {
	case behind == 0:
		return false
	case s.repo.Filter != nil || s.repo.SignWith != "":
		// Said, so that a skipped sync leaving a mirror behind is not
		// a riddle (an operator tester's).
		// (Debug: with sign_with every mirror serves its own signature,
		// so none counts as serving the record's.)
		s.log.Debug("no usable upstream: not filling a mirror from another here, since this repository's revision is written from the origin's (filter or sign_with)", "behind", behind)
		return false
	case from == nil:
		s.log.Info("no usable upstream, and a mirror is behind: no written mirror on this machine serves the current verified revision, byte for byte with its signature and key, to fill it from", "behind", behind, "revision", cur.Revision)
		return false
	}
	md, err := repodata.ParseRepomd(cur.Repomd)
	if err != nil {
		s.log.Warn("the current verified revision's repomd.xml does not parse: not taking it from the mirrors", "err", err)
		return false
	}
	snap := &source.Snapshot{
		Upstream: &source.Upstream{Local: from.cfg.Name},
		Repomd:   cur.Repomd, Asc: cur.Signature, Key: cur.Key,
		MD: md, SHA256: cur.SHA256,
	}
	if err := s.accept(snap); err != nil {
		s.log.Warn("the current verified revision is refused now: not taking it from the mirrors", "mirror", from.cfg.Name, "err", err)
		return false
	}
	s.src.UseLocal(snap)
	s.local = from
	s.repomd, s.asc, s.key, s.md = snap.Repomd, snap.Asc, snap.Key, snap.MD
	s.rep.Revision, s.rep.Repomd = md.Revision, snap.Repomd
	s.rep.Skipped = false
	s.rep.FromMirror = from.cfg.Name
	s.log.Warn("no usable upstream: bringing the mirrors behind to the current verified revision, taken from a mirror on this machine", "mirror", from.cfg.Name, "revision", md.Revision, "behind", behind, "err", cause)
	return true
}

// exportMeta puts at dst, when nothing is there, the metadata file d as
// the mirror the revision is taken from holds it (fromMirrorHere); the
// source then checks it there. What keeps it from there (the mirror has
// no such file, or a symlink in its place) is a *source.LocalFileError
// naming the mirror.
func (s *run) exportMeta(ctx context.Context, d repodata.Data, dst string) error {
	ex, ok := s.local.tg.(target.Exporter)
	if !ok {
		return nil
	}
	os.Remove(dst + ".part") // nothing resumes from it: see export
	if _, err := os.Lstat(dst); !errors.Is(err, fs.ErrNotExist) {
		return nil // there already (and checked), or unreadable: the check says
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if err := ex.Export(ctx, d.Href, dst); err != nil {
		return &source.LocalFileError{Mirror: s.local.cfg.Name, Href: d.Href, Err: err}
	}
	return nil
}
