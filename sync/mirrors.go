package sync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"syscall"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/internal/safefs"
	"github.com/rpmirror/rpmirror/repodata"
	"github.com/rpmirror/rpmirror/state"
	"github.com/rpmirror/rpmirror/target"
	"github.com/rpmirror/rpmirror/verify"
)

// mirror is one written mirror during a sync.
type mirror struct {
	cfg    config.Mirror
	tg     target.Target
	unlock func()
	rep    *MirrorReport
	st     *state.Mirror

	cur, curAsc, curKey []byte            // what it serves now (nil: absent)
	curMd               *repodata.Repomd  // nil when absent or unparsable
	index               map[string]string // href -> checksum string of its current primary; nil when unknown
	// indexServed says index was read from the primary metadata the
	// mirror serves, not from an index rpmirror wrote when it published
	// that revision: its entries are the mirror's claims (a mirror
	// filled by rsync or by hand), each checked before it counts.
	indexServed bool
	// adopted says rpmirror keeps no index of the revision the mirror
	// serves (none in state_dir, none kept with the mirror): it did not
	// publish it, or lost the record, so nothing the mirror holds counts
	// as verified. Such a mirror is planned as behind even when it serves
	// the origin's revision, its files checked; publishing writes the
	// index that ends this.
	adopted bool
	// keptIndex is the index kept with the mirror (on object storage)
	// when indexKept read it: loadIndex takes it from here, not from the
	// mirror again (a dry run keeps no copy in state_dir).
	keptIndex map[string]string
	// metaOK names the metadata files of an adopted mirror's repomd.xml
	// that were read and matched their checksums (checkAdoptedMeta).
	metaOK map[string]bool
	// suspect names the files found wrong since the last publish
	// (Options.Suspect): checked again before they are kept.
	suspect map[string]bool
	// files, set while planning a mirror whose index is unknown, lists
	// every regular file it held when planning began, with its size: one
	// listing instead of a Stat per package of the revision.
	files map[string]int64
	// servedFiles, set while planning a mirror rpmirror published (its
	// index known), lists the files where its packages are, to find any
	// deleted or cut short since (listServed).
	servedFiles *servedFiles
	// listErr is why listServed failed: the mirror is refused.
	listErr error

	plan *MirrorPlan // what the sync does to it, once planned
	// early is what was stored while the packages downloaded (nil:
	// nothing; see earlyStores).
	early *mirrorEarly
	// pendingSet, once the pending files of the revision being published
	// are set in st (setPending), is what they replaced.
	pendingSet *pendingSet

	// verifyOnly marks the stand-in of a repository with no written
	// mirror: its index is that of the current verified revision, and
	// nothing is published to it.
	verifyOnly bool
}

func (m *mirror) upToDate(repomd, asc, key []byte) bool {
	return m.cur != nil && bytes.Equal(m.cur, repomd) && bytes.Equal(m.curAsc, asc) && bytes.Equal(m.curKey, key)
}

// serves reports whether the revision m serves now uses path p: a
// package its primary lists or one of its metadata files. Such a path is
// only ever written by the atomic commit.
func (m *mirror) serves(p string) bool {
	if _, ok := m.index[p]; ok {
		return true
	}
	if reservedOwner(p) != "" {
		return true
	}
	if m.curMd != nil {
		for _, d := range m.curMd.Data {
			if d.Href == p {
				return true
			}
		}
	}
	return false
}

// hasMeta reports whether the mirror serves d already: its repomd.xml
// names the same file with the same checksum, so the file is there and
// was verified when published (by rpmirror; an adopted mirror's file
// counts only once checkAdoptedMeta has checked it).
func (m *mirror) hasMeta(d repodata.Data) bool {
	return m.names(d) && (!m.adopted || m.metaOK[d.Href]) && !m.suspect[d.Href]
}

// names reports whether the repomd.xml m serves names d: the same
// location with the same checksum, and the same claims of it (sizes,
// open-checksum), which the file was verified against. A new revision
// that names the same bytes with another size is not taking them as
// they are: the file is fetched again and checked against the new
// claims, as on a fresh mirror (a tester's: an incremental sync published
// a size a fresh one refused).
func (m *mirror) names(d repodata.Data) bool {
	return m.curMd != nil && slices.ContainsFunc(m.curMd.Data, func(c repodata.Data) bool {
		return c.Href == d.Href && c.Checksum == d.Checksum && c.Size == d.Size && c.OpenSize == d.OpenSize &&
			(c.OpenChecksum == nil) == (d.OpenChecksum == nil) && (c.OpenChecksum == nil || *c.OpenChecksum == *d.OpenChecksum)
	})
}

func (s *run) openMirrors(ctx context.Context) error {
	for _, mc := range s.repo.Mirrors {
		if !mc.Written() {
			continue
		}
		m := &mirror{cfg: mc, rep: &MirrorReport{Name: mc.Name}}
		s.rep.Mirrors = append(s.rep.Mirrors, m.rep)
		if s.e.opts.Suspect != nil {
			for _, p := range s.e.opts.Suspect(s.repo.Name, mc.Name) {
				if m.suspect == nil {
					m.suspect = map[string]bool{}
				}
				m.suspect[p] = true
			}
		}
		if s.dry {
			m.st = &state.Mirror{}
			if prev := s.st.Mirrors[mc.Name]; prev != nil {
				*m.st = *prev
			}
		} else {
			m.st = s.st.Mirror(mc.Name)
		}
		// Opening a target creates nothing (a dry run leaves no trace); a
		// mirror not there yet reads as empty.
		tg, err := s.e.opts.OpenTarget(ctx, mc)
		if err != nil {
			return fmt.Errorf("mirror %s: %w", mc.Name, err)
		}
		m.tg = tg
		if !s.dry {
			unlock, err := tg.Lock(ctx)
			if err != nil {
				if errors.Is(err, target.ErrLocked) {
					// Another process writes it: learn what it verified.
					s.learnFromRecords(ctx, m)
				}
				return fmt.Errorf("mirror %s: %w", mc.Name, err)
			}
			m.unlock = unlock
			if err := safefs.Check(s.e.opts.Store.Dir(), s.indexRel(m)); err != nil {
				return fmt.Errorf("mirror %s: its index: %w", mc.Name, err)
			}
		}
		s.mirrors = append(s.mirrors, m)
		if err := s.adoptRecords(ctx, m); err != nil {
			return err
		}
		if m.cur, err = readOptional(ctx, tg, RepomdPath); err != nil {
			return fmt.Errorf("mirror %s: %w", mc.Name, err)
		}
		if m.curAsc, err = readOptional(ctx, tg, AscPath); err != nil {
			return fmt.Errorf("mirror %s: %w", mc.Name, err)
		}
		if m.curKey, err = readOptional(ctx, tg, KeyPath); err != nil {
			return fmt.Errorf("mirror %s: %w", mc.Name, err)
		}
		if m.cur != nil {
			md, err := repodata.ParseRepomd(m.cur)
			if err != nil {
				// Not fatal: the sync replaces it. Every existing file is
				// then treated as possibly in use.
				s.log.Warn("mirror's repomd.xml does not parse; it will be replaced", "mirror", mc.Name, "err", err)
			} else {
				m.curMd = md
				s.rebuildState(ctx, m)
			}
			// Whether it parses or not: what a mirror holds counts as
			// verified only where rpmirror published it.
			m.adopted = !s.indexKept(ctx, m)
		}
	}
	return nil
}

// indexKept reports whether rpmirror keeps an index of the revision m
// serves, in state_dir or with the mirror: it wrote one when it
// published that revision there. Without one the mirror is adopted.
func (s *run) indexKept(ctx context.Context, m *mirror) bool {
	digest := sha256Hex(m.cur)
	if indexDescribes(s.e.opts.Store.Dir(), s.indexRel(m), digest) {
		return true
	}
	idx, err := s.readIndexRecord(ctx, m, digest)
	if err != nil {
		return false
	}
	m.keptIndex = idx
	return true
}

// checkAdoptedMeta reads, for each adopted mirror in behind, the
// metadata files its repomd.xml names that the origin's revision names
// too (same location, same checksum), and records in m.metaOK those whose
// content matches: only those are kept; the others are fetched and
// replaced in the commit.
func (s *run) checkAdoptedMeta(ctx context.Context, behind []*mirror) error {
	for _, m := range behind {
		if !m.adopted || m.curMd == nil || m.tg == nil {
			continue
		}
		m.metaOK = map[string]bool{}
		for _, d := range s.md.Data {
			if !m.names(d) {
				continue
			}
			err := checkFile(ctx, m.tg, d.Href, func(r io.Reader) error { return verify.Content(r, d.Size, d.Checksum) })
			if err == nil && zchunkOfPrimary(d) {
				// Kept, it is served: what it holds must be the
				// primary's, as for one fetched (checkZchunkContent).
				err = checkFile(ctx, m.tg, d.Href, func(r io.Reader) error { return zchunkContent(r, d, s.e.opts.MaxMetadataSize) })
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if err != nil {
				s.log.Warn("a metadata file of a mirror rpmirror did not publish does not match its checksum; it is replaced", "mirror", m.cfg.Name, "file", d.Href, "err", err)
				continue
			}
			m.metaOK[d.Href] = true
		}
	}
	return nil
}

// rebuildState fills in what m's state lacks and the mirror itself tells
// (after the state was lost or damaged): the revision it serves, that
// repomd.xml's digest, and when it was published (its modification time).
func (s *run) rebuildState(ctx context.Context, m *mirror) {
	if m.st.RepomdSHA256 != "" {
		return
	}
	sum := sha256.Sum256(m.cur)
	m.st.Revision, m.st.RepomdSHA256 = m.curMd.Revision, hex.EncodeToString(sum[:])
	if info, err := m.tg.Stat(ctx, RepomdPath); err == nil {
		m.st.PublishedAt = info.ModTime.UTC()
	}
}

// reclaim gives back the staging space of a failed sync, so that a sync
// that failed for want of space does not leave less space for the next:
// packages stored in a mirror for the revision that was not published
// (at paths its served revision does not use) are removed, and after
// ENOSPC the download cache too, its partial downloads included. An
// interrupted sync (cancelled) keeps everything: it is not a failure, and
// the next run takes up where it stopped.
func (s *run) reclaim(ctx context.Context, cause error) {
	if s.dry || ctx.Err() != nil || errors.Is(cause, context.Canceled) || errors.Is(cause, ErrHeld) {
		return
	}
	ctx = context.WithoutCancel(ctx)
	for _, m := range s.mirrors {
		if m.tg == nil || len(m.st.Unpublished) == 0 {
			continue
		}
		paths := make([]string, 0, len(m.st.Unpublished))
		for p := range m.st.Unpublished {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		removed := 0
		for _, p := range paths {
			if m.serves(p) {
				delete(m.st.Unpublished, p)
				continue
			}
			if err := m.tg.Remove(ctx, p); err != nil {
				if errors.Is(err, target.ErrLockLost) {
					// Every other removal would fail the same way: said
					// once, not a line a package (some never stored).
					s.log.Warn("the mirror's lock was lost: the packages stored for the revision that was not published stay until the next sync removes them", "mirror", m.cfg.Name, "files", len(m.st.Unpublished), "err", err)
					break
				}
				s.log.Warn("removing a package stored for the revision that was not published", "mirror", m.cfg.Name, "path", p, "err", err)
				continue
			}
			delete(m.st.Unpublished, p)
			removed++
		}
		if removed > 0 {
			s.log.Info("removed the packages stored for the revision that was not published", "mirror", m.cfg.Name, "files", removed)
		}
	}
	// The cache goes when it is what filled up (the failure came before
	// publishing), or when it shares a filesystem with a mirror: there its
	// files are hard links to the packages stored, which free nothing
	// while the cache holds them.
	if errors.Is(cause, syscall.ENOSPC) && s.cache != "" && (!s.publishing || s.cacheSharesDevice()) {
		if err := os.RemoveAll(s.cache); err != nil {
			s.log.Warn("emptying the download cache after running out of space", "dir", s.cache, "err", err)
		} else {
			s.log.Info("emptied the download cache after running out of space; the next sync downloads what it needs again", "dir", s.cache)
		}
	}
}

// cacheSharesDevice reports whether the download cache is on the
// filesystem of a written mirror.
func (s *run) cacheSharesDevice() bool {
	dev := func(p string) (uint64, bool) {
		var st syscall.Stat_t
		if syscall.Stat(p, &st) != nil {
			return 0, false
		}
		return uint64(st.Dev), true
	}
	c, ok := dev(s.cache)
	if !ok {
		return false
	}
	for _, m := range s.mirrors {
		if d, ok := dev(m.cfg.Path); ok && d == c {
			return true
		}
	}
	return false
}

func (s *run) closeMirrors() {
	for _, m := range s.mirrors {
		if m.unlock != nil {
			m.unlock()
		}
	}
}

func readOptional(ctx context.Context, tg target.Target, p string) ([]byte, error) {
	if tg == nil {
		return nil, nil
	}
	rc, err := tg.Open(ctx, p)
	if errors.Is(err, target.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, MaxRepomdSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	if len(b) > MaxRepomdSize {
		return nil, fmt.Errorf("reading %s: larger than %d bytes", p, MaxRepomdSize)
	}
	return b, nil
}

// indexRel is where the index of mirror m is kept, relative to the state
// directory.
func (s *run) indexRel(m *mirror) string {
	rel, _ := filepath.Rel(s.e.opts.Store.Dir(), s.e.opts.Store.IndexPath(s.repo.Name, m.cfg.Name))
	return rel
}

// loadIndex reads the primary metadata a mirror serves now into a map of
// href to checksum. It returns nil when the mirror serves nothing or its
// metadata cannot be read: every existing file then counts as in use.
// served is true when the map comes from the primary metadata the
// mirror serves rather than from an index rpmirror wrote (see
// mirror.indexServed).
func (s *run) loadIndex(ctx context.Context, m *mirror) (idx map[string]string, served bool) {
	if m.curMd == nil {
		return nil, false
	}
	sum := sha256.Sum256(m.cur)
	if idx, err := readIndex(s.e.opts.Store.Dir(), s.indexRel(m), hex.EncodeToString(sum[:])); err == nil {
		return idx, false
	}
	if m.keptIndex != nil {
		return m.keptIndex, false
	}
	if idx, err := s.readIndexRecord(ctx, m, hex.EncodeToString(sum[:])); err == nil {
		return idx, false
	}
	d, ok := m.curMd.Find("primary")
	if !ok {
		return nil, false
	}
	idx, err := readServedPrimary(ctx, m.tg, d, s.e.opts.MaxMetadataSize)
	if err != nil {
		if ctx.Err() == nil { // not a plan that failed and stopped it
			s.log.Warn("reading the primary metadata a mirror serves; treating its files as unknown", "mirror", m.cfg.Name, "err", err)
		}
		return nil, false
	}
	return idx, true
}

// readServedPrimary reads the primary metadata d that a mirror serves
// into a map of href to checksum ("type:value"). What is read is checked
// against d's checksum, that of the compressed file; its open-size and
// limit bound what is decompressed (decompressChecked). Decompressing and
// hashing run on a goroutine of their own; of each package, only its
// location and checksum are kept (PrimaryReader.NextLocation), and what
// follows them in the package is skimmed, its markup not checked
// (PrimaryReader.SkimRest): the content is the mirror's own, checked
// against its repomd.xml, and the index is what that metadata claims
// whether or not its <format> sections are well formed.
func readServedPrimary(ctx context.Context, tg target.Target, d repodata.Data, limit int64) (map[string]string, error) {
	rc, err := tg.Open(ctx, d.Href)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	r, err := decompressChecked(rc, d, limit, false)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	pr := repodata.NewPrimaryReader(r)
	pr.SkimRest()
	idx := make(map[string]string, min(max(pr.Declared(), 0), maxPresize))
	var b []byte
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		href, typ, sum, err := pr.NextLocation()
		if err == io.EOF {
			return idx, nil
		}
		if err != nil {
			return nil, err
		}
		// One string holds both: one allocation an entry.
		b = append(append(append(append(b[:0], href...), typ...), ':'), sum...)
		e := string(b)
		idx[e[:len(href)]] = e[len(href):]
	}
}

// maxPresize bounds the entries a map is made for from a count a
// document declares: what it claims is not trusted beyond that.
const maxPresize = 1 << 20

// drained is a decompressed stream that, at its end, reads what is left
// of the compressed one (a decoder may stop before its source's end), so
// that the compressed file's checksum is checked over all of it.
type drained struct {
	io.ReadCloser
	compressed io.Reader
}

func (d *drained) Read(p []byte) (int, error) {
	n, err := d.ReadCloser.Read(p)
	if err == io.EOF {
		if _, cerr := io.Copy(io.Discard, d.compressed); cerr != nil {
			return n, cerr
		}
	}
	return n, err
}
