package sync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path"
	"path/filepath"
	"runtime/trace"
	"slices"
	"sort"
	"strconv"
	"strings"
	gosync "sync"
	"syscall"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/internal/safefs"
	"github.com/rpmirror/rpmirror/repodata"
	"github.com/rpmirror/rpmirror/target"
	"github.com/rpmirror/rpmirror/verify"
)

// Plan is what one sync of a repository does, decided before anything is
// changed: which files are downloaded, and for each written mirror what
// is stored where and when, what the commit publishes in which order, and
// what is deleted. Planning reads the origin's metadata and the mirrors
// and writes nothing to them; fetching, publishing and pruning carry the
// plan out, and a dry run stops at the plan and prints it. A sync that
// starts afresh from the same origin and mirrors does what its dry run's
// plan says.
type Plan struct {
	Revision     string // the origin's repomd revision
	RepomdSHA256 string // the hex sha256 of its repomd.xml
	// Metadata lists the origin's metadata files the sync downloads and
	// verifies: each one some behind mirror does not serve yet, and the
	// primary metadata in any case (planning reads it).
	Metadata []repodata.Data
	// Packages is how many package locations the revision lists.
	Packages int
	// Fetch lists the packages some mirror lacks, once per location, in
	// the order the primary metadata lists them; FetchBytes is the sum of
	// their declared sizes.
	Fetch      []*repodata.Package
	FetchBytes int64
	// Mirrors has the plan of each written mirror, in configuration
	// order (none for a repository with only probe-only mirrors).
	Mirrors []*MirrorPlan

	referenced map[string]ref // package href -> what the primary says is there
	// held names, for a package to fetch, the mirrors of the sync (behind
	// too) that hold it at its path already, verified: served, or
	// present (a mirror added beside them takes it from there).
	held map[string][]*mirror
}

// Reason says why a file is in a mirror's plan.
type Reason string

// Why a package is, or is not, placed in a mirror; and the other files a
// commit carries.
const (
	// ReasonNew: the revision the mirror serves (if any) does not use the
	// path. The package is stored before the commit, where no reader looks
	// yet.
	ReasonNew Reason = "new"
	// ReasonMissing: the mirror serves a revision whose package list
	// cannot be read (neither rpmirror's index of it nor its primary
	// metadata), and there is no file at the path. Stored before the
	// commit.
	ReasonMissing Reason = "missing"
	// ReasonChanged: the path is in use with other content (by the
	// revision the mirror serves, or, when that is unknown, by a file
	// there). Replaced by the commit.
	ReasonChanged Reason = "changed"
	// ReasonRepair: the revision the mirror serves names the path with
	// this very content, and the file is missing or fails verification
	// (rpmirror did not publish the revision there, and only its own
	// metadata says so), or is missing or of another size (rpmirror
	// published it, and it was deleted or cut short since).
	// Replaced by the commit; safe on a target without an atomic commit
	// too, in the classic order, since the served metadata already names
	// the content written.
	ReasonRepair Reason = "repair"
	// ReasonPresentVerified: a file with the right content is at the path
	// already (an interrupted sync stored it). Kept; not fetched for this
	// mirror.
	ReasonPresentVerified Reason = "present-verified"
	// ReasonMetadata: a metadata file of the revision that the mirror does
	// not serve yet. Published by the commit.
	ReasonMetadata Reason = "metadata"
	// ReasonRepomd: repomd.xml, its signature or its key, last in the
	// commit: what makes the revision visible.
	ReasonRepomd Reason = "repomd"
)

// Placement is one file a mirror's plan writes, and why. Its content is
// the verified download in the cache named by its checksum (cachePath),
// or for repomd.xml, its signature and key (ReasonRepomd) the file staged
// there under its base name: File says which. A plan of 100,000 packages
// holds 100,000 placements a mirror, so a placement holds no more than
// it must (the cache path is made when the file is stored).
type Placement struct {
	Path     string
	Size     int64
	Checksum repodata.Checksum // of the content
	Reason   Reason
}

// File is the file to store: Path, from the cache directory cache.
func (f *Placement) File(cache string) target.File {
	local := filepath.Join(cache, f.Checksum.Type+"-"+f.Checksum.Value)
	if f.Reason == ReasonRepomd {
		local = filepath.Join(cache, path.Base(f.Path))
	}
	return target.File{Path: f.Path, Local: local, Size: f.Size, SHA256: sha256Of(f.Checksum)}
}

// MirrorPlan is what a sync does to one written mirror.
type MirrorPlan struct {
	Name string
	// UpToDate: the mirror serves the origin's revision already; nothing
	// is published, only pruned.
	UpToDate bool
	// Served counts the revision's packages the mirror serves already
	// (the same path with the same checksum): nothing is done for them.
	Served int
	// Present lists the revision's packages the mirror does not serve but
	// holds already with the right content (ReasonPresentVerified).
	Present []string
	// Checked counts the packages the mirror holds that were read back
	// and passed the checks a download gets (checksum, RPM digests and,
	// with gpgkeys, signatures), so that they are kept: in a mirror
	// rpmirror did not publish, every package it holds; otherwise those
	// it stored without a recorded digest, and those it serves that the
	// new primary makes other claims of (size, NEVRA) or that were
	// checked with another keyring (recheck). A package that fails is
	// fetched again (ReasonRepair, ReasonChanged) and not counted.
	Checked int
	// Store is put before the commit, one file after another, at paths
	// the revision the mirror serves does not use: no reader sees them
	// until the commit names them.
	Store []Placement
	// Commit is written by the one commit that makes the revision
	// visible, in this order: packages replacing files in use, metadata,
	// then repomd.xml, its signature and its key. A target without an
	// atomic commit writes them in that order.
	Commit []Placement
	// Remove is deleted by the commit: the signature and key of
	// repomd.xml when the origin has none. Whatever is at those paths
	// goes, also what the mirror does not serve as a file (a symlink or
	// FIFO planted there).
	Remove []string
	// Unserved names the paths of Remove at which the mirror served no
	// file when planned (a new mirror, or one whose origin never had
	// them): the plan's description leaves them out, as nothing a client
	// could fetch goes.
	Unserved map[string]bool
	// Pending is what the mirror holds, once it serves the revision, that
	// the revision does not use, with when each file became unused; a
	// zero time means at the commit. Each is deleted once prune_after has
	// passed.
	Pending map[string]time.Time
	// Prune lists, sorted, the files deleted right after the commit (for
	// a mirror already current: at once): the pending ones whose
	// prune_after has passed when the plan was made.
	Prune []string
	// Snapshot: the repo keeps snapshots and the sync takes one of the
	// revision the mirror serves once the plan is carried out (after the
	// commit; for a mirror already current, of what it serves), since
	// the mirror's newest snapshot is of another revision
	// (snapshot.Index.Lacks, the rule snapshot.Maintain follows). A
	// mirror brought back to the revision of its newest snapshot (the
	// first sync after rpmirror resume, the origin unchanged) takes
	// none: that revision's snapshot was taken when it was first
	// published. Planned in a dry run only, which reports it: a sync
	// leaves the decision to Maintain, by the same rule, so that it does
	// not read every mirror's snapshot index twice (on object storage, a
	// LIST and a GET more per mirror, every sync, a reviewer's).
	Snapshot bool
	// Refused, when set, is why the revision cannot be published safely
	// to this mirror (an *UnsafePublishError, or a *ListError: what it
	// holds could not be listed): nothing is written to it.
	Refused error
}

// Publish lists the paths the plan writes to the mirror, in order: what
// is stored before the commit, then what the commit carries.
func (mp *MirrorPlan) Publish() []string {
	paths := make([]string, 0, len(mp.Store)+len(mp.Commit))
	for _, f := range mp.Store {
		paths = append(paths, f.Path)
	}
	for _, f := range mp.Commit {
		paths = append(paths, f.Path)
	}
	return paths
}

// Lines describes the plan for a person, one action a line: what is
// fetched, then for each mirror what is stored, committed, removed,
// kept, pruned, and why.
func (p *Plan) Lines() []string { return slices.Collect(p.All()) }

// Mirror returns the plan of the mirror called name, or nil (also for a
// nil Plan).
func (p *Plan) Mirror(name string) *MirrorPlan {
	if p == nil {
		return nil
	}
	for _, mp := range p.Mirrors {
		if mp.Name == name {
			return mp
		}
	}
	return nil
}

// All yields the lines of Lines one at a time, without holding them: a
// plan of 100,000 packages is printed without a copy of itself as text.
func (p *Plan) All() iter.Seq[string] {
	return func(yield func(string) bool) {
		if !yield(fmt.Sprintf("revision %s: %d packages listed, %d to fetch (%d bytes), %d metadata files to fetch", p.Revision, p.Packages, len(p.Fetch), p.FetchBytes, len(p.Metadata))) {
			return
		}
		for _, d := range p.Metadata {
			if !yield(fmt.Sprintf("  fetch    %s (%s metadata)", d.Href, d.Type)) {
				return
			}
		}
		for _, pkg := range p.Fetch {
			if !yield("  fetch    " + pkg.Href + " (" + strconv.FormatInt(pkg.Size, 10) + " bytes)") {
				return
			}
		}
		for _, mp := range p.Mirrors {
			for l := range mp.All() {
				if !yield(l) {
					return
				}
			}
		}
	}
}

// Lines describes one mirror's plan for a person, one action a line.
func (mp *MirrorPlan) Lines() []string { return slices.Collect(mp.All()) }

// All yields the lines of Lines one at a time.
func (mp *MirrorPlan) All() iter.Seq[string] {
	return func(yield func(string) bool) {
		switch {
		case mp.UpToDate:
			if !yield(fmt.Sprintf("mirror %s: current", mp.Name)) {
				return
			}
		case mp.Refused != nil:
			yield(fmt.Sprintf("mirror %s: refused: %v", mp.Name, mp.Refused))
			return
		default:
			l := fmt.Sprintf("mirror %s: serves %d of the packages already, stores %d, commits %d files", mp.Name, mp.Served, len(mp.Store), len(mp.Commit))
			if mp.Checked > 0 {
				l += fmt.Sprintf("; %d kept packages read back and checked", mp.Checked)
			}
			if !yield(l) {
				return
			}
		}
		for _, f := range mp.Store {
			if !yield("  store    " + f.Path + " (" + string(f.Reason) + ")") {
				return
			}
		}
		for _, f := range mp.Commit {
			if !yield("  commit   " + f.Path + " (" + string(f.Reason) + ")") {
				return
			}
		}
		for _, p := range mp.Remove {
			if mp.Unserved[p] {
				continue
			}
			if !yield(fmt.Sprintf("  remove   %s (the origin has none)", p)) {
				return
			}
		}
		for _, p := range mp.Present {
			if !yield("  keep     " + p + " (" + string(ReasonPresentVerified) + ")") {
				return
			}
		}
		for _, p := range mp.Prune {
			var l string
			if since := mp.Pending[p]; since.IsZero() {
				l = fmt.Sprintf("  prune    %s (unused from the commit)", p)
			} else {
				l = fmt.Sprintf("  prune    %s (unused since %s)", p, since.UTC().Format(time.RFC3339))
			}
			if !yield(l) {
				return
			}
		}
	}
}

// planner decides what a sync of the origin's revision does to the
// mirrors that do not serve it yet. It reads the mirrors through their
// targets and changes nothing.
type planner struct {
	repo             *config.Repo // location checks, min_checksum, prune_after
	md               *repodata.Repomd
	repomd, asc, key []byte
	// cache is where verified downloads are kept, named by checksum
	// (cachePath); repomd.xml, its signature and key are staged there by
	// their base names.
	cache string
	now   time.Time
	// seen, when set, is called once for each package location the
	// revision lists, in order.
	seen func(p *repodata.Package) error
	// declared is the package count the primary metadata declares (-1:
	// none), to size the plan's maps by.
	declared int
	// verifyHeld checks a package a mirror holds that rpmirror did not
	// store (presentVerified); nil: as a download is checked (verify.RPM
	// with keyring).
	verifyHeld func(r io.Reader, p *repodata.Package) error
	keyring    openpgp.EntityList
	keys       string // keysID(keyring), recorded in the index's claims
}

// metadataToFetch lists the metadata files of md that some mirror in
// behind does not serve yet, and the primary metadata in any case.
func metadataToFetch(md *repodata.Repomd, behind []*mirror) []repodata.Data {
	var need []repodata.Data
	for _, d := range md.Data {
		needed := d.Type == "primary"
		for _, m := range behind {
			if !m.hasMeta(d) {
				needed = true
			}
		}
		if needed {
			need = append(need, d)
		}
	}
	return need
}

// planCurrent is the plan of a mirror that serves the origin's revision
// already: prune what is due.
func planCurrent(m *mirror, now time.Time, pruneAfter time.Duration) *MirrorPlan {
	mp := &MirrorPlan{Name: m.cfg.Name, UpToDate: true}
	if m.tg != nil && m.st.PendingFor == sha256Hex(m.cur) {
		// A pending list is trusted only while the mirror serves the
		// revision it was computed against.
		mp.Pending = m.st.Pending
		mp.Prune = due(m.st.Pending, now, pruneAfter)
	}
	return mp
}

// due lists, sorted, the paths of pending whose prune_after has passed at
// now; a zero time stands for now.
func due(pending map[string]time.Time, now time.Time, pruneAfter time.Duration) []string {
	var paths []string
	for p, since := range pending {
		if since.IsZero() {
			since = now
		}
		if now.Sub(since) >= pruneAfter {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	return paths
}

// plan reads the revision's packages from next (until io.EOF; primary
// names the file they come from, for messages) and decides, for each
// mirror in behind, which packages it lacks and whether each can be
// stored at once (a path the served revision does not use) or must wait
// for the commit (a path it uses with other content); then what the
// commit carries and what is left to prune. Each mirror's plan is also
// set as its m.plan.
func (pl *planner) plan(ctx context.Context, primary string, next func() (*repodata.Package, error), behind []*mirror) (*Plan, error) {
	plan := &Plan{Revision: pl.md.Revision, RepomdSHA256: sha256Hex(pl.repomd), referenced: make(map[string]ref, min(max(pl.declared, 0), maxPresize))}
	for _, m := range behind {
		m.plan = &MirrorPlan{Name: m.cfg.Name}
		if m.cur == nil && !m.verifyOnly {
			// A mirror that serves nothing yet stores every package:
			// room for them at once, not a copy at each doubling.
			m.plan.Store = make([]Placement, 0, min(max(pl.declared, 0), maxPresize))
			plan.Fetch = slices.Grow(plan.Fetch, cap(m.plan.Store))
		}
		m.files = nil
		if (m.index == nil || m.indexServed) && m.tg != nil {
			// Every package of the revision is looked up in the mirror:
			// list it once (a directory walk, or a few LIST requests)
			// rather than Stat it 100,000 times. (A mirror rpmirror
			// published was listed where its packages are while its
			// index was read: servedFiles.)
			m.files = listFiles(ctx, m.tg)
		}
	}
	defer func() {
		for _, m := range behind {
			m.files = nil
		}
	}()
	metaHref := map[string]string{}
	// dirs holds the directory of every location, with one path in it:
	// a location that is one of them cannot be a file (PathClashError).
	dirs := map[string]string{}
	for _, d := range pl.md.Data {
		metaHref[d.Href] = d.Type
		addDir(dirs, d.Href)
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		p, err := next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", primary, err)
		}
		if err := pl.check(p, metaHref); err != nil {
			return nil, fmt.Errorf("%s: package %s: %w", primary, p.NEVRA(), err)
		}
		if prev, dup := plan.referenced[p.Href]; dup {
			// Identical duplicates are common (createrepo_c's tests say
			// so) and dnf reads them: the file is published once.
			if prev.sum == p.Checksum && prev.size == p.Size {
				continue
			}
			return nil, fmt.Errorf("%s: package %s: %w", primary, p.NEVRA(), &ConflictError{File: primary, Href: p.Href, First: describe(prev.sum, prev.size), Then: describe(p.Checksum, p.Size)})
		}
		if pl.seen != nil {
			if err := pl.seen(p); err != nil {
				return nil, err
			}
		}
		addDir(dirs, p.Href)
		need := false
		var holds []*mirror
		for _, m := range behind {
			reason, err := pl.packageReason(ctx, m, p)
			if err != nil {
				return nil, err
			}
			mp := m.plan
			switch reason {
			case "":
				mp.Served++
				holds = append(holds, m)
				continue
			case ReasonPresentVerified:
				mp.Present = append(mp.Present, p.Href)
				holds = append(holds, m)
				continue
			}
			need = true
			f := Placement{Path: p.Href, Size: p.Size, Checksum: p.Checksum, Reason: reason}
			if reason == ReasonChanged || reason == ReasonRepair {
				mp.Commit = append(mp.Commit, f)
			} else {
				mp.Store = append(mp.Store, f)
			}
		}
		r, href := ref{sum: p.Checksum, size: p.Size}, p.Href
		if need {
			plan.Fetch = append(plan.Fetch, p)
			plan.FetchBytes += max(p.Size, 0)
			if len(holds) > 0 {
				if plan.held == nil {
					plan.held = map[string][]*mirror{}
				}
				plan.held[p.Href] = holds
			}
		} else {
			// Of a package no mirror needs, only its location and
			// checksum are kept, in one string: p's strings share one
			// allocation with all its other fields.
			e := p.Href + p.Checksum.Value
			href, r.sum.Value = e[:len(p.Href)], e[len(p.Href):]
		}
		plan.referenced[href] = r
	}
	plan.Packages = len(plan.referenced)
	if err := checkClash(dirs, plan.referenced, metaHref); err != nil {
		return nil, fmt.Errorf("%s: %w", primary, err)
	}
	for _, m := range behind {
		if !m.verifyOnly { // nothing is published to a verify-only stand-in
			pl.planCommit(plan, m)
		}
	}
	return plan, nil
}

// addDir records the directory of location p in dirs, with p as the
// path in it, unless one is recorded: a package's directory is most
// often its neighbours', found at the cost of a lookup.
func addDir(dirs map[string]string, p string) {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return
	}
	if _, ok := dirs[p[:i]]; !ok {
		dirs[p[:i]] = p
	}
}

// checkClash refuses a revision that locates a file (a package, or a
// metadata file) at a path that is a directory of another of its
// locations: "Packages/x.rpm" and "Packages/x.rpm/y.rpm", or a package at
// "repodata". No mirror can hold both.
func checkClash(dirs map[string]string, packages map[string]ref, meta map[string]string) error {
	for d, inside := range dirs {
		for ; d != ""; d = parentDir(d) {
			_, pkg := packages[d]
			_, md := meta[d]
			if pkg || md {
				return &PathClashError{Href: d, Inside: inside}
			}
		}
	}
	return nil
}

// parentDir is path.Dir without its "." for a top-level name: "" then.
func parentDir(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return ""
}

// check refuses a package location that is unsafe, too weakly
// checksummed, or where rpmirror or the revision's metadata keeps a file.
func (pl *planner) check(p *repodata.Package, metaHref map[string]string) error {
	if err := checkLocation(pl.repo, p.Href, p.Base); err != nil {
		return err
	}
	if err := checkStrength(pl.repo, p.Checksum); err != nil {
		return err
	}
	if owner := reservedOwner(p.Href); owner != "" {
		return &ReservedPathError{Href: p.Href, Owner: owner}
	}
	if typ, ok := metaHref[p.Href]; ok {
		return &ReservedPathError{Href: p.Href, Owner: "this revision's " + typ + " metadata"}
	}
	return nil
}

// packageReason says why mirror m needs package p,
// ReasonPresentVerified when it holds it already though it does not serve
// it, or "" when it serves it.
func (pl *planner) packageReason(ctx context.Context, m *mirror, p *repodata.Package) (Reason, error) {
	if sum, ok := m.index[p.Href]; ok && isChecksum(sum, p.Checksum) {
		if !m.indexServed {
			if !m.servedFiles.holds(p) {
				// Gone, or another size, since rpmirror published it:
				// fetched and put back by the commit.
				return ReasonRepair, nil
			}
			if claimsMatch(sum, p, pl.keys) && !m.suspect[p.Href] {
				return "", nil // served now, so present and verified
			}
			// The same bytes, but verified against other claims
			// (size, NEVRA) or with another keyring, or found wrong
			// since (Options.Suspect): checked again from the mirror
			// as a download would be; if they fail, fetched again and
			// checked against these claims, which the origin's bytes
			// then fail too when the claims are a lie (as on a fresh
			// mirror), or replace the damaged file.
			return servedOrRepair(pl.recheck(ctx, m, p))
		}
		// Only the mirror's own metadata says it serves p (rpmirror did
		// not publish that revision): its file is checked, and what is
		// missing or fails is fetched and replaced in the commit.
		return servedOrRepair(pl.presentVerified(ctx, m, p))
	}
	present, err := pl.presentVerified(ctx, m, p)
	if err != nil {
		return "", err
	}
	switch {
	case present:
		return ReasonPresentVerified, nil
	case m.serves(p.Href):
		return ReasonChanged, nil
	case m.index == nil && m.tg != nil && m.has(ctx, p.Href):
		return ReasonChanged, nil
	case m.index == nil && m.cur != nil:
		return ReasonMissing, nil
	}
	return ReasonNew, nil
}

// servedOrRepair is the reason a mirror needs a package it serves whose
// file was checked (ok: it passed): none, or ReasonRepair.
func servedOrRepair(ok bool, err error) (Reason, error) {
	switch {
	case err != nil:
		return "", err
	case ok:
		return "", nil
	}
	return ReasonRepair, nil
}

// planCommit completes mirror m's plan once every package is planned:
// the metadata and repomd.xml the commit carries after the packages, what
// it removes, what is left pending and what is pruned, and whether a
// target without an atomic commit can take it.
func (pl *planner) planCommit(plan *Plan, m *mirror) {
	mp := m.plan
	metaSeen := map[string]bool{}
	for _, d := range pl.md.Data {
		if m.hasMeta(d) || metaSeen[d.Href] {
			continue
		}
		metaSeen[d.Href] = true
		mp.Commit = append(mp.Commit, Placement{Path: d.Href, Size: d.Size, Checksum: d.Checksum, Reason: ReasonMetadata})
	}
	for _, f := range []struct {
		path   string
		b      []byte
		served []byte
	}{{RepomdPath, pl.repomd, m.cur}, {AscPath, pl.asc, m.curAsc}, {KeyPath, pl.key, m.curKey}} {
		if f.b == nil {
			mp.Remove = append(mp.Remove, f.path)
			if f.served == nil {
				if mp.Unserved == nil {
					mp.Unserved = map[string]bool{}
				}
				mp.Unserved[f.path] = true
			}
			continue
		}
		mp.Commit = append(mp.Commit, Placement{Path: f.path, Size: int64(len(f.b)), Checksum: repodata.Checksum{Type: "sha256", Value: sha256Hex(f.b)}, Reason: ReasonRepomd})
	}
	mp.Pending = pl.pendingAfterCommit(plan, m)
	mp.Prune = due(mp.Pending, pl.now, pl.repo.PruneAfter)
	mp.Refused = pl.checkOrdered(m)
	if m.listErr != nil {
		mp.Refused = m.listErr
	}
}

// checkOrdered refuses what cannot be published to a target without an
// atomic commit. Such a target gets the classic order (packages, then
// metadata under their new names, then repomd.xml, then its signature:
// the commit is planned in that order), which is safe only while no file
// the served revision uses changes under its own name.
func (pl *planner) checkOrdered(m *mirror) error {
	if m.tg == nil || m.tg.Properties().AtomicCommit {
		return nil
	}
	for _, f := range m.plan.Commit {
		if f.Reason == ReasonChanged { // not ReasonRepair: see there
			return &UnsafePublishError{Mirror: m.cfg.Name, Path: f.Path}
		}
	}
	if m.curMd == nil {
		return nil
	}
	for _, d := range pl.md.Data {
		if m.hasMeta(d) {
			continue
		}
		for _, old := range m.curMd.Data {
			// The same name with the same checksum is a repair (an
			// adopted mirror's file failed its check): what the served
			// repomd.xml names is what is written.
			if old.Href == d.Href && old.Checksum != d.Checksum {
				return &UnsafePublishError{Mirror: m.cfg.Name, Path: d.Href, Metadata: true}
			}
		}
	}
	return nil
}

// isMeta reports whether p is one of the revision's metadata files or
// repomd.xml, its signature or key.
func (pl *planner) isMeta(p string) bool {
	if p == RepomdPath || p == AscPath || p == KeyPath {
		return true
	}
	for _, d := range pl.md.Data {
		if d.Href == p {
			return true
		}
	}
	return false
}

// pendingAfterCommit returns what mirror m will hold, once it serves the
// new revision, that the revision does not use, with when each became
// unused (zero: at the commit): pruned once prune_after has passed.
func (pl *planner) pendingAfterCommit(plan *Plan, m *mirror) map[string]time.Time {
	pending := map[string]time.Time{}
	unused := func(p string) bool {
		_, ref := plan.referenced[p]
		return !ref && !pl.isMeta(p)
	}
	addPending := func(p string) {
		if !unused(p) {
			return
		}
		if since, ok := m.st.Pending[p]; ok {
			pending[p] = since
		} else if _, ok := pending[p]; !ok {
			pending[p] = time.Time{}
		}
	}
	for p := range m.st.Pending {
		addPending(p)
	}
	for p := range m.index {
		addPending(p)
	}
	if m.curMd != nil {
		for _, d := range m.curMd.Data {
			addPending(d.Href)
		}
	}
	// Packages stored for revisions that were never published: those the
	// new revision does not name are pending now.
	for p, since := range m.st.Unpublished {
		if !unused(p) {
			continue
		}
		if _, ok := pending[p]; !ok {
			pending[p] = since
		}
	}
	return pending
}

// isChecksum reports whether sum, a checksum as an index has it
// ("type:value"), is c, without making c's string (a plan compares one a
// package).
func isChecksum(sum string, c repodata.Checksum) bool {
	sum = indexSum(sum) // an index entry's value may carry claims
	return len(sum) == len(c.Type)+1+len(c.Value) && sum[len(c.Type)] == ':' &&
		sum[:len(c.Type)] == c.Type && sum[len(c.Type)+1:] == c.Value
}

// ref is what primary metadata says a package location holds.
type ref struct {
	sum  repodata.Checksum
	size int64
}

// listFiles returns every regular file of tg with its size, or nil when
// it cannot be listed (the mirror is then looked up a file at a time).
func listFiles(ctx context.Context, tg target.Target) map[string]int64 {
	files := map[string]int64{}
	err := tg.Walk(ctx, "", func(p string, info target.Info) error {
		files[p] = info.Size
		return nil
	})
	if err != nil {
		return nil
	}
	return files
}

// servedFiles is what listServed found of the packages a mirror rpmirror
// published serves, in each top-level directory its index locates
// packages in, and at the top ("" in dirs): every one there (all), or
// else the regular files with their sizes.
type servedFiles struct {
	all   bool
	files map[string]int64
	dirs  map[string]bool
}

// topDir is the top-level directory of location href, "" for a file at
// the top.
func topDir(href string) string {
	if i := strings.IndexByte(href, '/'); i > 0 {
		return href[:i]
	}
	return ""
}

// listServed lists the files of tg in each top-level directory index (a
// published revision's: location -> checksum) locates a package in
// ("Packages/" and the like, not snapshots/), and at the top when it
// locates one there. A target.NameLister (a local directory) is asked
// for names alone, and when every package of the index is there, that is
// all (sizes are not looked at: a stat of 100,000 files cost this plan a
// third of its time); else, and on other targets (a LIST gives sizes at
// no cost), the files are listed with their sizes. A listing that fails
// is an error (a directory there that is a symlink, a refused LIST): the
// mirror is then refused, not published to on the index's word.
func listServed(ctx context.Context, tg target.Target, index map[string]string) (*servedFiles, error) {
	sf := &servedFiles{dirs: map[string]bool{}}
	for href := range index {
		sf.dirs[topDir(href)] = true
	}
	if nl, ok := tg.(target.NameLister); ok {
		found := 0
		count := func(p []byte) error {
			if _, ok := index[string(p)]; ok {
				found++
			}
			return nil
		}
		var err error
		for dir := range sf.dirs {
			var derr error
			if dir == "" {
				derr = nl.ListNames(ctx, "", false, count)
			} else {
				derr = nl.ListNames(ctx, dir+"/", true, count)
			}
			if cerr := ctx.Err(); cerr != nil {
				return nil, cerr
			}
			var sym *safefs.SymlinkError
			if errors.As(derr, &sym) {
				return nil, derr // every directory is asked: one a symlink is refused whatever failed before it
			}
			if err == nil {
				err = derr
			}
		}
		if err == nil && found == len(index) {
			sf.all = true
			return sf, nil
		}
		// Some are gone (or the names could not be had): which, by a
		// listing with sizes.
	}
	sf.files = map[string]int64{}
	for dir := range sf.dirs {
		prefix := dir + "/"
		if dir == "" {
			prefix = "" // the whole target, of which the top's files
		}
		err := tg.Walk(ctx, prefix, func(p string, info target.Info) error {
			if dir != "" || !strings.Contains(p, "/") {
				sf.files[p] = info.Size
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return sf, nil
}

// holds reports whether the mirror sf lists holds package p at its
// location (with p's size, where the listing gave sizes). A nil sf (no
// listing) holds everything.
func (sf *servedFiles) holds(p *repodata.Package) bool {
	if sf == nil || sf.all {
		return true
	}
	size, ok := sf.files[p.Href]
	return ok && (p.Size < 0 || size == p.Size)
}

// has reports whether m holds a regular file at p.
func (m *mirror) has(ctx context.Context, p string) bool {
	if m.files != nil {
		_, ok := m.files[p]
		return ok
	}
	_, err := m.tg.Stat(ctx, p)
	return err == nil
}

// recheck reads back package p, which mirror m serves with the checksum p
// has, and checks it as a download is (checksum, size, RPM digests, NEVRA
// and, with gpgkeys, signatures), whatever digest its store recorded:
// what was verified before was verified against other claims or keys.
func (pl *planner) recheck(ctx context.Context, m *mirror, p *repodata.Package) (bool, error) {
	if m.tg == nil {
		return false, nil
	}
	rc, err := m.tg.Open(ctx, p.Href)
	if err != nil {
		return false, nil
	}
	defer rc.Close()
	if _, err := verify.RPM(rc, p, pl.keyring); err != nil {
		return false, nil
	}
	if m.plan != nil {
		m.plan.Checked++
	}
	return true, nil
}

// presentVerified reports whether mirror m already has package p at its
// path with the right content, as after an interrupted sync that stored
// it but did not publish the metadata naming it, or in a mirror rpmirror
// did not publish: a file rpmirror stored is known by the digest it
// recorded, any other is read and verified as a download is.
// A file found wrong since (Options.Suspect) is read whatever digest was
// recorded: the record survives a file cut short.
func (pl *planner) presentVerified(ctx context.Context, m *mirror, p *repodata.Package) (bool, error) {
	if m.tg == nil {
		return false, nil
	}
	if m.files != nil {
		size, ok := m.files[p.Href]
		if !ok || (p.Size >= 0 && size != p.Size) {
			return false, nil
		}
	}
	info, err := m.tg.Stat(ctx, p.Href)
	if err != nil || (p.Size >= 0 && info.Size != p.Size) {
		return false, nil // a package without a declared size is hashed
	}
	if info.SHA256 != "" && p.Checksum.Type == "sha256" && !m.adopted && !m.suspect[p.Href] {
		// Stored by rpmirror with the digest it verified: no need to
		// read it back. In an adopted mirror that digest is its
		// writer's claim (a copy keeps it whatever became of the
		// content), and the file is read.
		return info.SHA256 == p.Checksum.Value, nil
	}
	rc, err := m.tg.Open(ctx, p.Href)
	if err != nil {
		return false, nil
	}
	defer rc.Close()
	// Checked as a download is: checksum, the RPM's own digests and,
	// with gpgkeys, its signatures.
	if pl.verifyHeld != nil {
		err = pl.verifyHeld(rc, p)
	} else {
		_, err = verify.RPM(rc, p, pl.keyring)
	}
	if err != nil {
		return false, nil
	}
	if m.plan != nil {
		m.plan.Checked++
	}
	return true, nil
}

// makePlan decides what the sync does to the behind mirrors: it fetches
// the metadata they lack (the primary in any case), reads what each
// serves, and plans from the origin's primary metadata (planner.plan),
// writing the new revision's index to the cache on the way. It sets
// s.plan and each behind mirror's plan, and the report's WouldFetch.
func (s *run) makePlan(ctx context.Context, behind []*mirror) error {
	// What each mirror serves is read (its index, or the primary it
	// serves when rpmirror has no index of it: a parse as long as the
	// origin's) while the origin's metadata is fetched and its primary
	// read: on two cores they run side by side. Mirrors serving the same
	// revision share one index.
	ictx, stop := context.WithCancel(ctx)
	indexed := make(chan struct{})
	defer func() {
		stop() // a plan that failed does not wait for the whole read
		<-indexed
		for _, m := range behind {
			m.servedFiles, m.listErr = nil, nil
		}
	}()
	go func() {
		ctx := ictx
		defer close(indexed)
		defer trace.StartRegion(ctx, "read mirrors' indexes").End()
		type index struct {
			m      map[string]string
			served bool
		}
		indexes := map[string]index{}
		for _, m := range behind {
			if m.verifyOnly {
				continue // its index is set already
			}
			key := string(m.cur)
			if idx, ok := indexes[key]; ok {
				m.index, m.indexServed = idx.m, idx.served
				continue
			}
			m.index, m.indexServed = s.loadIndex(ctx, m)
			indexes[key] = index{m.index, m.indexServed}
		}
		// A mirror rpmirror published: what its index says it serves
		// may have been deleted or cut short by hand since, and a
		// publish must not name it again (a mirror is whole after a
		// sync, as after rsync). Listed where its packages are, not its
		// snapshots, while the origin's primary downloads.
		for _, m := range behind {
			if m.index != nil && !m.indexServed && m.tg != nil && !m.verifyOnly {
				var err error
				if m.servedFiles, err = listServed(ctx, m.tg, m.index); err != nil {
					m.listErr = &ListError{Mirror: m.cfg.Name, Err: err}
				}
			}
		}
	}()
	if err := inRegion(ctx, "check adopted mirrors' metadata", func() error { return s.checkAdoptedMeta(ctx, behind) }); err != nil {
		return err
	}
	meta := metadataToFetch(s.md, behind)
	d, ok := s.md.Find("primary")
	if !ok {
		return fmt.Errorf("origin's %s lists no primary metadata", RepomdPath)
	}
	// The plan starts with the primary's first bytes, read from its part
	// file while it downloads (partStream), when it is downloaded afresh.
	fetchDone := make(chan struct{})
	var stream *partStream
	if s.streamable(d, meta) {
		var err error
		if stream, err = newPartStream(ctx, s.cachePath(d.Checksum), d, fetchDone); err != nil {
			return err
		}
		defer stream.Close()
		s.stream = stream
	}
	fetched := make(chan error, 1)
	go func() {
		defer close(fetchDone)
		fetched <- inRegion(ctx, "fetch metadata", func() error { return s.fetchMetadata(ctx, meta) })
	}()
	var plan *Plan
	if stream != nil {
		var err error
		plan, err = s.planPrimary(ctx, behind, indexed, stream, d)
		ferr := <-fetched
		s.stream = nil
		if ferr != nil {
			return ferr // what made the stream fail, if it did
		}
		if err != nil {
			// Whatever the stream gave, the downloaded file is verified:
			// plan from it (a plan that failed on its own fails again).
			s.log.Debug("planning from the primary metadata as it downloaded failed; planning from the file", "err", err)
			plan = nil
		}
	} else if err := <-fetched; err != nil {
		return err
	}
	if plan == nil {
		f, err := os.Open(s.cachePath(d.Checksum))
		if err != nil {
			return err
		}
		defer f.Close()
		if plan, err = s.planPrimary(ctx, behind, indexed, f, d); err != nil {
			return err
		}
	}
	plan.Metadata = meta
	plan.Mirrors = s.mirrorPlans()
	s.plan, s.referenced = plan, plan.referenced
	if len(plan.Fetch) > 0 {
		s.rep.WouldFetch = make([]string, 0, len(plan.Fetch))
	}
	for _, p := range plan.Fetch {
		if s.e.opts.DryRun && s.exportable(p) {
			// A mirror beside holds it: taken from there (if it
			// passes the checks), not downloaded.
			s.rep.WouldTakeFromMirrors++
			continue
		}
		s.rep.WouldFetch = append(s.rep.WouldFetch, p.Href)
		s.rep.WouldFetchBytes += max(p.Size, 0)
	}
	if prog := s.e.opts.Progress; prog != nil {
		prog.PackagesTotal.Add(int64(len(plan.Fetch)))
		prog.BytesTotal.Add(plan.FetchBytes)
	}
	if s.e.opts.DryRun {
		s.log.Info("planned", "revision", s.md.Revision, "packages", plan.Packages, "to_fetch", len(s.rep.WouldFetch), "bytes", s.rep.WouldFetchBytes, "from_mirrors", s.rep.WouldTakeFromMirrors)
	} else if s.local != nil {
		// Nothing is fetched: every package comes from the mirror here.
		s.log.Info("planned", "revision", s.md.Revision, "packages", plan.Packages, "to_fetch", 0, "to_take", len(plan.Fetch), "from_mirror", s.local.cfg.Name)
	} else {
		s.log.Info("planned", "revision", s.md.Revision, "packages", plan.Packages, "to_fetch", len(plan.Fetch), "bytes", plan.FetchBytes)
	}
	return nil
}

// streamable reports whether the origin's primary d is downloaded afresh
// into the cache by this sync (meta lists it, nothing of it is there
// yet), with a declared size: it can then be planned as it arrives.
func (s *run) streamable(d repodata.Data, meta []repodata.Data) bool {
	if s.local != nil || d.Size <= 0 || !slices.ContainsFunc(meta, func(m repodata.Data) bool { return m.Checksum == d.Checksum }) {
		return false
	}
	s.metaMu.Lock()
	cached := s.cached[d.Checksum]
	s.metaMu.Unlock()
	if cached {
		return false
	}
	dst := s.cachePath(d.Checksum)
	for _, p := range []string{dst, dst + ".part"} {
		// Opened, not looked up, to tell: the cache is rpmirror's own
		// directory, and a symlink there counts as a file.
		f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
		if err == nil {
			f.Close()
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return false
		}
	}
	return true
}

// planPrimary plans from the origin's primary metadata d, whose
// compressed content r gives, once indexed is closed (the mirrors'
// indexes are read); it writes the revision's index and sets s.index.
// What r gives is checked against d's checksum, not its open-checksum
// (decompressChecked): a plan is made only of the file repomd.xml names.
// It may be called again after it failed.
func (s *run) planPrimary(ctx context.Context, behind []*mirror, indexed <-chan struct{}, r io.Reader, d repodata.Data) (*Plan, error) {
	defer trace.StartRegion(ctx, "plan packages").End()
	s.e.opts.Progress.set(s.repo.Name, "planning")
	s.sample, s.sizes, s.planned = nil, nil, 0
	_, hashed := r.(*partStream) // it checks d's checksum itself
	rc, err := decompressChecked(r, d, s.e.opts.MaxMetadataSize, hashed)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	// With a zchunk copy beside it (checkZchunk), what the primary holds
	// must be what its open-checksum says, which the copy is checked
	// against: hashed as it is read, checked once all of it is
	// (openChecked). Without one, the checksum of the compressed file
	// names the content enough.
	var content io.Reader = rc
	var open *openChecked
	if z, ok := s.md.Find("primary_zck"); ok && zchunkOfPrimary(z) && d.OpenChecksum != nil {
		if open, err = newOpenChecked(rc, d); err != nil {
			return nil, err
		}
		content = open
	}
	pr := repodata.NewPrimaryReader(content)
	declared := pr.Declared()
	next, stopReading := readAhead(pr.Next, indexed)
	defer stopReading() // before rc is closed
	iw, err := newIndexWriter(s.cache, "index.tmp")
	if err != nil {
		return nil, err
	}
	defer iw.abort()
	keys := keysID(s.keyring)
	pl := &planner{
		repo: s.repo, md: s.md, repomd: s.repomd, asc: s.asc, key: s.key,
		cache: s.cache, now: s.now(), declared: declared, keyring: s.keyring, keys: keys,
		seen: func(p *repodata.Package) error {
			s.samplePackage(p.Href, p.Size)
			return iw.add(p, keys)
		},
	}
	plan, err := pl.plan(ctx, d.Href, next, behind)
	if err != nil {
		return nil, err
	}
	if open != nil {
		stopReading() // before reading on from where the reader stopped
		if _, err := io.Copy(io.Discard, open); err != nil {
			return nil, err
		}
	}
	if s.index, err = iw.finish(); err != nil {
		return nil, err
	}
	return plan, nil
}

// readAheadMax bounds the packages readAhead holds: about 9 MB of them
// (a package and its strings take about 350 bytes).
const readAheadMax = 25000

// readAheadBatch is how many packages readAhead hands over at a time.
const readAheadBatch = 256

// pkgBatch is packages read in order, and the reader's error after them.
type pkgBatch struct {
	pkgs []*repodata.Package
	err  error
}

// readAhead reads packages from next on a goroutine of its own, so that
// the primary metadata is parsed while the packages read before are
// planned, at most about readAheadMax ahead of the planner. It waits for
// ready (planning needs the mirrors' indexes before the first package;
// reading ahead meanwhile keeps both parses busy), then returns a next
// that gives the packages in order, then the reader's error (io.EOF at
// the end), and stop, which ends the reading goroutine and waits for it:
// call it before closing what next reads.
func readAhead(next func() (*repodata.Package, error), ready <-chan struct{}) (func() (*repodata.Package, error), func()) {
	batches := make(chan pkgBatch, readAheadMax/readAheadBatch)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			b := pkgBatch{pkgs: make([]*repodata.Package, 0, readAheadBatch)}
			for len(b.pkgs) < readAheadBatch {
				p, err := next()
				if err != nil {
					b.err = err
					break
				}
				b.pkgs = append(b.pkgs, p)
			}
			select {
			case batches <- b:
			case <-done:
				return
			}
			if b.err != nil {
				return
			}
		}
	}()
	var once gosync.Once
	stop := func() {
		once.Do(func() { close(done) })
		<-finished
	}
	<-ready
	var cur pkgBatch
	i := 0
	return func() (*repodata.Package, error) {
		for i == len(cur.pkgs) {
			if cur.err != nil {
				return nil, cur.err
			}
			cur, i = <-batches, 0
		}
		p := cur.pkgs[i]
		cur.pkgs[i] = nil // planned: no longer held here
		i++
		return p, nil
	}, stop
}
