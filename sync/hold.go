package sync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/internal/safefs"
	"github.com/rpmirror/rpmirror/repodata"
	"github.com/rpmirror/rpmirror/snapshot"
	"github.com/rpmirror/rpmirror/state"
	"github.com/rpmirror/rpmirror/target"
)

// ErrHeld is matched (errors.Is) by the error of a sync of a repository
// held by rpmirror rollback; errors.As finds the *HeldError.
var ErrHeld = errors.New("repository is held")

// HeldError is the error of a sync of a repository that rpmirror rollback
// holds at a snapshot: nothing was synced, and nothing will be until
// rpmirror resume. It is not a failure.
type HeldError struct{ Hold *state.Hold }

func (e *HeldError) Error() string { return e.Until("rpmirror resume --repo " + e.Hold.Repo) }

// Until is Error with resume, the command that lifts the hold, as the
// caller knows it (with the configuration file that names the repo).
func (e *HeldError) Until(resume string) string {
	h := e.Hold
	return fmt.Sprintf("held at snapshot %s (revision %s) by %s since %s: not synced until %s",
		h.Snapshot, revOrNone(h.Revision), h.By, h.At.UTC().Format(time.RFC3339), resume)
}

func (e *HeldError) Is(target error) bool { return target == ErrHeld }

func revOrNone(r string) string {
	if r == "" {
		return "(none)"
	}
	return r
}

// SnapshotProblemsError reports a snapshot that failed its check: a file
// its repomd.xml or primary names is missing or damaged. Nothing was
// changed.
type SnapshotProblemsError struct {
	Mirror, Snapshot string
	Problems         []Problem
}

func (e *SnapshotProblemsError) Error() string {
	var b strings.Builder
	problems := "problems"
	if len(e.Problems) == 1 {
		problems = "problem"
	}
	fmt.Fprintf(&b, "mirror %s: snapshot %s is broken (%d %s", e.Mirror, e.Snapshot, len(e.Problems), problems)
	for i, p := range e.Problems {
		if i == 3 {
			b.WriteString(", ...")
			break
		}
		fmt.Fprintf(&b, "; %s", p)
	}
	b.WriteString(")")
	return b.String()
}

// lockPatience is how long a sync, Rollback, Resume and Repair wait for
// the repository's lock (state.Store.LockWithin): rpmirror serve takes it
// for a moment to learn whether a rollback is alive, and whether another
// process is still at work on a repository whose records it changed.
const lockPatience = 2 * time.Second

// SnapshotsCheck is what CheckSnapshots found on one mirror.
type SnapshotsCheck struct {
	Index *snapshot.Index
	// Broken are the problems of each snapshot, by name; their paths are
	// the snapshot's own (repodata/repomd.xml).
	Broken map[string][]Problem
	// Files are problems of the files that list the snapshots
	// (snapshot.IndexPath, snapshot.LatestPath): one the web server
	// cannot read (*target.NotReadableError) on a target with
	// permissions; index.json naming a snapshot whose directory is gone
	// (*snapshot.GoneError); latest.txt missing, or naming a snapshot
	// the mirror does not have (*snapshot.LatestError).
	Files []Problem
}

// CheckSnapshots checks every snapshot of a mirror as CheckMirrorWith
// checks the mirror (every file its repomd.xml and primary name, present
// and verified, and readable by the web server where the target has
// permissions), returning the problems of each by snapshot name, and
// checks that the index and latest.txt can be read and name only
// snapshots the mirror has (snapshot.Stale: Read leaves out what they
// name that is gone, so without it a snapshot removed by hand went
// unnoticed while CI jobs following latest.txt got 404). A mirror without
// snapshots has none; a target that cannot keep them is not an error
// either. Each snapshot is checked with opts.ForSnapshot: opts.Signatures
// is not used (a snapshot keeps the signature its revision was published
// with, and an origin may have signed that repomd.xml again since), and
// a snapshot of a revision the origin published, on a filtered mirror,
// is checked as the origin's.
func CheckSnapshots(ctx context.Context, tg target.Target, repo string, opts CheckOptions) (*SnapshotsCheck, error) {
	if _, ok := tg.(target.Snapshotter); !ok {
		return &SnapshotsCheck{Index: &snapshot.Index{Repo: repo}}, nil
	}
	x, err := snapshot.Read(ctx, tg, repo)
	if err != nil {
		return nil, fmt.Errorf("reading the snapshots: %w", err)
	}
	gone, latest, err := snapshot.Stale(ctx, tg, x)
	if err != nil {
		return nil, err // it says it was reading latest.txt
	}
	if len(gone) > 0 || latest != nil {
		// Read again before saying so: verify takes no lock, and a
		// sync removing an expired snapshot between the reads of
		// index.json, the directories and latest.txt made a false
		// alarm (a reviewer's). What the second read finds is said.
		if x2, err := snapshot.Read(ctx, tg, repo); err == nil {
			if g2, l2, err := snapshot.Stale(ctx, tg, x2); err == nil {
				x, gone, latest = x2, g2, l2
			}
		}
	}
	out := &SnapshotsCheck{Index: x, Broken: map[string][]Problem{}}
	for _, g := range gone {
		out.Files = append(out.Files, Problem{Path: snapshot.IndexPath, Err: g})
	}
	if latest != nil {
		out.Files = append(out.Files, Problem{Path: snapshot.LatestPath, Err: latest})
	}
	if r, ok := tg.(target.Readable); ok && len(x.Snapshots) > 0 {
		for _, p := range []string{snapshot.IndexPath, snapshot.LatestPath} {
			if err := r.CheckReadable(ctx, p); err != nil && !errors.Is(err, target.ErrNotExist) {
				out.Files = append(out.Files, Problem{Path: p, Err: err})
			}
		}
	}
	for _, s := range x.Snapshots {
		view := snapshot.View(tg, s.Name)
		problems, _, err := CheckMirrorWith(ctx, view, opts.ForSnapshot(ctx, view))
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			problems = append(problems, Problem{Path: RepomdPath, Err: err})
		}
		if len(problems) > 0 {
			out.Broken[s.Name] = problems
		}
	}
	if len(out.Broken) > 0 {
		// A snapshot a sync removed (expired) while it was checked is
		// not broken: it is gone, and the index says so (a reviewer's
		// false alarm; verify takes no lock).
		if x2, err := snapshot.Read(ctx, tg, repo); err == nil {
			for name := range out.Broken {
				if _, ok := x2.Find(name); !ok {
					delete(out.Broken, name)
				}
			}
		}
	}
	return out, nil
}

// RollbackReport is what Rollback did to one written mirror.
type RollbackReport struct {
	Mirror   string
	Snapshot string // the mirror's snapshot republished (same repomd.xml on every mirror)
	Err      error
}

// Rollback republishes the snapshot called name as the current content of
// every written mirror of repo, one commit per mirror
// (Snapshotter.Restore: atomic where the target can commit atomically,
// else in the order a sync publishes), and holds the repository there: a sync of it does
// nothing (HeldError) until Resume. by says who asked (user@host).
//
// Before anything changes, every written mirror must have the snapshot
// (by name, or one of the same repomd.xml, since mirrors published in one
// sync may be a second apart) and it must pass CheckMirrorWith with the
// repo's keys: a broken snapshot is never republished
// (*SnapshotProblemsError). The hold is recorded in state_dir before the
// first mirror changes, and again with the time it was done
// (state.Hold.Done) after the last, so a rollback interrupted
// halfway leaves the repository held; running it again completes it.
func (e *Engine) Rollback(ctx context.Context, repo *config.Repo, name, by string) (*state.Hold, []RollbackReport, error) {
	store := e.opts.Store
	unlock, err := store.LockWithin(ctx, repo.Name, lockPatience)
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	opts, err := CheckOptionsFor(repo)
	if err != nil {
		return nil, nil, err
	}
	opts.Verified = VerifiedDigests(store, repo)
	type mirror struct {
		cfg  config.Mirror
		tg   target.Target
		snap string
	}
	var ms []*mirror
	var unlocks []func()
	defer func() {
		for _, u := range unlocks {
			u()
		}
	}()
	var sum string
	var missing []string
	indexes := map[string]*snapshot.Index{}
	for _, mc := range repo.Mirrors {
		if !mc.Written() {
			continue
		}
		tg, err := e.opts.OpenTarget(ctx, mc)
		if err != nil {
			return nil, nil, fmt.Errorf("mirror %s: %w", mc.Name, err)
		}
		u, err := tg.Lock(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("mirror %s: %w", mc.Name, err)
		}
		unlocks = append(unlocks, u)
		x, err := snapshot.Read(ctx, tg, repo.Name)
		if err != nil {
			return nil, nil, fmt.Errorf("mirror %s: %w", mc.Name, err)
		}
		indexes[mc.Name] = x
		m := &mirror{cfg: mc, tg: tg}
		if s, ok := x.Find(name); ok {
			m.snap = name
			if sum == "" {
				sum = s.RepomdSHA256
			}
		}
		ms = append(ms, m)
	}
	if len(ms) == 0 {
		return nil, nil, fmt.Errorf("%s has no written mirror: nothing to roll back", repo.Name)
	}
	if sum == "" {
		return nil, nil, fmt.Errorf("no mirror of %s has a snapshot %s: %w", repo.Name, name, snapshot.ErrNotFound)
	}
	for _, m := range ms {
		if m.snap != "" {
			continue
		}
		for _, s := range indexes[m.cfg.Name].Snapshots {
			if s.RepomdSHA256 == sum {
				m.snap = s.Name
			}
		}
		if m.snap == "" {
			missing = append(missing, m.cfg.Name)
		}
	}
	if len(missing) > 0 {
		return nil, nil, fmt.Errorf("mirror %s has no snapshot %s (nor one of the same revision): nothing was changed: %w", strings.Join(missing, ", "), name, snapshot.ErrNotFound)
	}
	for _, m := range ms {
		view := snapshot.View(m.tg, m.snap)
		problems, _, err := CheckMirrorWith(ctx, view, opts.ForSnapshot(ctx, view))
		if err != nil {
			return nil, nil, fmt.Errorf("mirror %s: checking snapshot %s: %w", m.cfg.Name, m.snap, err)
		}
		if len(problems) > 0 {
			return nil, nil, &SnapshotProblemsError{Mirror: m.cfg.Name, Snapshot: m.snap, Problems: problems}
		}
	}
	md, paths, err := snapshot.Files(ctx, ms[0].tg, ms[0].snap, e.opts.MaxMetadataSize)
	if err != nil {
		return nil, nil, fmt.Errorf("mirror %s: %w", ms[0].cfg.Name, err)
	}
	h := &state.Hold{Repo: repo.Name, Snapshot: name, SHA256: sum, Repomd: md, By: by, At: e.opts.Now().UTC().Truncate(time.Second)}
	if h.Signature, err = snapshot.Signature(ctx, ms[0].tg, ms[0].snap); err != nil {
		return nil, nil, fmt.Errorf("mirror %s: %w", ms[0].cfg.Name, err)
	}
	h.Unsigned = h.Signature == nil
	if parsed, err := repodata.ParseRepomd(md); err == nil {
		h.Revision = parsed.Revision
		h.Packages = samplePaths(paths, parsed)
		// With their sizes, from the snapshot's primary metadata (just
		// checked), for probes to compare with what mirrors serve.
		if pkgs, err := snapshot.Packages(ctx, ms[0].tg, ms[0].snap, e.opts.MaxMetadataSize); err == nil && len(pkgs) > 0 {
			h.Packages, h.PackageSizes = sampleSized(pkgs)
		} else if err != nil {
			e.log.Warn("reading the sizes of the snapshot's packages; probes check that mirrors serve them, not their sizes", "repo", repo.Name, "snapshot", name, "err", err)
		}
	}
	// The hold first, without Done: from now on nothing syncs past the
	// snapshot, and a daemon judges the written mirrors that do not
	// serve it yet as pending, not stale.
	if err := store.SaveHold(h); err != nil {
		return nil, nil, err
	}
	// And with each mirror that keeps records, before it changes: a
	// daemon on another host, with its own state_dir, holds the
	// repository too (EffectiveHold).
	for _, m := range ms {
		if err := writeHoldRecord(ctx, m.tg, h, nil, e.opts.Now()); err != nil {
			return h, nil, fmt.Errorf("mirror %s: %w", m.cfg.Name, err)
		}
	}
	st, err := store.Load(repo.Name)
	var corrupt *state.CorruptError
	if err != nil && !errors.As(err, &corrupt) {
		return h, nil, err
	}
	var reps []RollbackReport
	var errs []error
	// Every mirror's index and latest.txt name the snapshot first: CI
	// jobs that follow the latest snapshot get it from now on, even if
	// the rollback is killed before it reaches their mirror.
	for _, m := range ms {
		if err := snapshot.Hold(ctx, m.tg, repo.Name, m.snap); err != nil {
			errs = append(errs, fmt.Errorf("mirror %s: %w", m.cfg.Name, err))
		}
	}
	if e.opts.BeforePublish != nil {
		// rpmirror serve lists the held revision now, and the written
		// mirrors not moved yet with the withdrawn one as an alternate:
		// the clients of a metalink answered before it did fetch their
		// repomd.xml before the first mirror moves.
		e.opts.BeforePublish(ctx, state.Revision{Revision: h.Revision, SHA256: h.SHA256, Repomd: h.Repomd})
		if err := ctx.Err(); err != nil {
			// Interrupted while it waited: no mirror moved, and the hold
			// stays not done (run the rollback again, or resume).
			return h, nil, fmt.Errorf("interrupted before any mirror was brought to snapshot %s (the repository stays held: run the rollback again, or resume): %w", name, err)
		}
	}
	for _, m := range ms {
		rep := RollbackReport{Mirror: m.cfg.Name, Snapshot: m.snap}
		// What the mirror serves now: once it serves the snapshot, what
		// of it the snapshot does not name is pruned as a sync prunes
		// what a new revision leaves unused, prune_after after the
		// rollback, not at once (a client that read the repomd.xml
		// rolled back from still gets its metadata), nor never (the
		// packages only that revision named).
		served, err := e.servedFiles(ctx, m.tg, repo.Name, m.cfg.Name)
		if err != nil {
			e.log.Warn("reading what the mirror serves before the rollback; what only that revision names is not pruned", "repo", repo.Name, "mirror", m.cfg.Name, "err", err)
		}
		// A mirror in object storage keeps its state with it (records.go):
		// that is what the next sync goes by, on any host.
		rec, err := readStateRecord(ctx, m.tg, m.cfg.Name, e.log)
		if err != nil {
			e.log.Warn("reading the state record kept with the mirror; going by the state_dir", "repo", repo.Name, "mirror", m.cfg.Name, "err", err)
		} else if rec != nil {
			*st.Mirror(m.cfg.Name) = *rec.Mirror
		}
		s, removed, err := snapshot.Republish(ctx, m.tg, repo.Name, m.snap, e.opts.MaxMetadataSize, repo.PruneAfter == 0)
		if err != nil {
			rep.Err = err
			errs = append(errs, fmt.Errorf("mirror %s: %w", m.cfg.Name, err))
		} else {
			now := e.opts.Now().UTC()
			mst := st.Mirror(m.cfg.Name)
			mst.Revision, mst.RepomdSHA256 = s.Revision, s.RepomdSHA256
			mst.PublishedAt, mst.CheckedAt = now, now
			served = slices.DeleteFunc(served, func(p string) bool { return slices.Contains(removed, p) })
			mst.Pending, mst.PendingFor = pendingAfterRollback(mst.Pending, served, paths, now), s.RepomdSHA256
			index, err := e.saveSnapshotIndex(ctx, m.tg, repo.Name, m.cfg.Name, m.snap, s.RepomdSHA256)
			if err != nil {
				e.log.Warn("saving the mirror's index; the next sync reads its primary metadata instead", "mirror", m.cfg.Name, "err", err)
			}
			// Saved at once, so that what status says of each mirror
			// holds if the rollback is killed before the next.
			if err := store.Save(st); err != nil {
				errs = append(errs, err)
			}
			var kept *state.Verified
			if rec != nil {
				kept = rec.Verified
			}
			if err := e.writeRecords(ctx, m.tg, repo.Name, m.cfg.Name, mst, kept, index); err != nil {
				errs = append(errs, fmt.Errorf("mirror %s: %w", m.cfg.Name, err))
			}
			e.log.Info("rolled back", "repo", repo.Name, "mirror", m.cfg.Name, "snapshot", m.snap, "revision", s.Revision)
		}
		reps = append(reps, rep)
	}
	if !slices.ContainsFunc(reps, func(r RollbackReport) bool { return r.Err == nil }) {
		// No mirror moved: the hold stays not done, as a rollback that
		// stopped before it was done (rpmirror serve keeps listing the
		// mirrors for max_lag; status says to run it again or resume).
		return h, reps, errors.Join(errs...)
	}
	// Every written mirror has its snapshot's revision now, or failed to
	// take it (and is stale from here on, as it should be).
	h.Done = e.opts.Now().UTC()
	if err := store.SaveHold(h); err != nil {
		errs = append(errs, err)
	}
	for _, m := range ms {
		if err := writeHoldRecord(ctx, m.tg, h, nil, e.opts.Now()); err != nil {
			errs = append(errs, fmt.Errorf("mirror %s: %w", m.cfg.Name, err))
		}
	}
	return h, reps, errors.Join(errs...)
}

// servedFiles lists what the mirror tg (mirror of repo) serves now: the
// metadata files its repomd.xml names and the packages of its primary
// metadata, from the index rpmirror keeps of it when that describes this
// repomd.xml, else read from the mirror (checked against repomd.xml). It
// returns nil when the mirror serves nothing.
func (e *Engine) servedFiles(ctx context.Context, tg target.Target, repo, mirror string) ([]string, error) {
	cur, err := readOptional(ctx, tg, RepomdPath)
	if err != nil || cur == nil {
		return nil, err
	}
	md, err := repodata.ParseRepomd(cur)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", RepomdPath, err)
	}
	var files []string
	for _, d := range md.Data {
		if target.CheckPath(d.Href) == nil {
			files = append(files, d.Href)
		}
	}
	store := e.opts.Store
	rel, err := filepath.Rel(store.Dir(), store.IndexPath(repo, mirror))
	if err != nil {
		return files, err
	}
	idx, err := readIndex(store.Dir(), rel, sha256Hex(cur))
	if err != nil {
		d, ok := md.Find("primary")
		if !ok {
			return files, fmt.Errorf("%s names no primary metadata", RepomdPath)
		}
		if idx, err = readServedPrimary(ctx, tg, d, e.opts.MaxMetadataSize); err != nil {
			return files, fmt.Errorf("%s: %w", d.Href, err)
		}
	}
	for p := range idx {
		if target.CheckPath(p) == nil {
			files = append(files, p)
		}
	}
	return files, nil
}

// pendingAfterRollback returns the pending files of a mirror brought back
// to a snapshot whose files are kept (sorted): those pending before (with
// the time they became unused) and those of served, what the mirror
// served before (unused from now), less every path the snapshot names.
func pendingAfterRollback(pending map[string]time.Time, served, kept []string, now time.Time) map[string]time.Time {
	out := make(map[string]time.Time, len(pending)+len(served))
	for p, since := range pending {
		out[p] = since
	}
	for _, p := range served {
		if _, ok := out[p]; !ok {
			out[p] = now
		}
	}
	for p := range out {
		if _, ok := slices.BinarySearch(kept, p); ok {
			delete(out, p)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// samplePaths returns up to SamplePackages package paths of paths, spread
// evenly: those that are not metadata or repomd.xml's signature and key.
func samplePaths(paths []string, md *repodata.Repomd) []string {
	var pkgs []string
	for _, p := range paths {
		if strings.HasPrefix(p, "repodata/") || slices.ContainsFunc(md.Data, func(d repodata.Data) bool { return d.Href == p }) {
			continue
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) <= SamplePackages {
		return pkgs
	}
	out := make([]string, 0, SamplePackages)
	for i := range SamplePackages {
		out = append(out, pkgs[i*len(pkgs)/SamplePackages])
	}
	return out
}

// sampleSized returns up to SamplePackages of pkgs, spread evenly, as
// hrefs and sizes.
func sampleSized(pkgs []snapshot.Package) ([]string, []int64) {
	n := min(len(pkgs), SamplePackages)
	hrefs, sizes := make([]string, 0, n), make([]int64, 0, n)
	for i := range n {
		p := pkgs[i*len(pkgs)/n]
		hrefs, sizes = append(hrefs, p.Href), append(sizes, p.Size)
	}
	return hrefs, sizes
}

// Resume removes the hold of repo (rpmirror resume): the next sync brings
// its mirrors to the origin's revision again. Every written mirror is
// locked first (none changes if one cannot be); then the hold goes, then
// each mirror's snapshot index stops naming the held snapshot
// (latest.txt names the newest again) and its hold record, if it keeps
// one, says the hold was lifted. It returns the hold removed, nil when
// the repository was not held.
func (e *Engine) Resume(ctx context.Context, repo *config.Repo) (*state.Hold, error) {
	store := e.opts.Store
	unlock, err := store.LockWithin(ctx, repo.Name, lockPatience)
	if err != nil {
		return nil, err
	}
	defer unlock()
	local, err := store.LoadHold(repo.Name)
	if err != nil {
		return nil, err
	}
	// The hold may have been made on another host: the mirrors' hold
	// records say so.
	rec, err := e.heldByRecords(ctx, repo)
	if err != nil {
		return nil, err
	}
	h := ForRepo(EffectiveHold(local, rec), repo.Name)
	if h == nil {
		if local != nil {
			// Resumed on another host: only this state_dir did not know.
			return nil, store.RemoveHold(repo.Name)
		}
		return nil, nil
	}
	// Every written mirror is locked, and its record read again, before
	// any is changed: one that cannot be locked (a sync elsewhere holds
	// it) or that recorded a newer hold meanwhile leaves every mirror
	// held as it was, not some lifted (their latest.txt naming the newest
	// snapshot, other hosts syncing past the hold) and some not.
	var claimed []claimedMirror
	defer func() {
		for _, c := range claimed {
			c.unlock()
		}
	}()
	var errs []error
	for _, mc := range repo.Mirrors {
		if !mc.Written() {
			continue
		}
		c, err := e.claimRelease(ctx, mc, h)
		if err != nil {
			errs = append(errs, fmt.Errorf("mirror %s: %w", mc.Name, err))
			continue
		}
		claimed = append(claimed, c)
	}
	if err := errors.Join(errs...); err != nil {
		return h, fmt.Errorf("%s is still held, no mirror was changed: %w", repo.Name, err)
	}
	// The hold goes first, then each mirror's mark: a resume killed in
	// between leaves mirrors whose latest.txt still names the snapshot
	// held at (until the next sync, which the daemon runs as soon as it
	// sees the hold gone, writes them again), never one naming the
	// newest snapshot while the repository is still held (a tester's
	// kill left that; CI jobs following it got the revision rolled back
	// from). A mirror in object storage whose record still holds it
	// makes the next sync adopt the hold again: run resume again.
	if err := store.RemoveHold(repo.Name); err != nil {
		return h, err
	}
	for _, c := range claimed {
		if err := e.release(ctx, c.tg, repo.Name, h); err != nil {
			errs = append(errs, fmt.Errorf("mirror %s: %w", c.name, err))
		}
	}
	return h, errors.Join(errs...)
}

// claimedMirror is a written mirror a resume holds the lock of.
type claimedMirror struct {
	name   string
	tg     target.Target
	unlock func()
}

// claimRelease opens and locks the mirror mc for a resume lifting h, and
// checks under the lock that no newer hold was recorded with it since
// the records were read.
func (e *Engine) claimRelease(ctx context.Context, mc config.Mirror, h *state.Hold) (claimedMirror, error) {
	tg, err := e.opts.OpenTarget(ctx, mc)
	if err != nil {
		return claimedMirror{}, err
	}
	unlock, err := tg.Lock(ctx)
	if err != nil {
		return claimedMirror{}, err
	}
	// Under the lock now: a rollback on another host may have held the
	// repository again since the records were read.
	rec, err := ReadHoldRecord(ctx, tg)
	if err != nil {
		unlock()
		return claimedMirror{}, err
	}
	if rec != nil && rec.Hold != nil && h != nil && rec.Hold.At.After(h.At) {
		unlock()
		return claimedMirror{}, fmt.Errorf("a newer hold (snapshot %s, by %s at %s) was recorded meanwhile: run rpmirror resume again to lift it",
			rec.Hold.Snapshot, rec.Hold.By, rec.Hold.At.UTC().Format(time.RFC3339))
	}
	return claimedMirror{name: mc.Name, tg: tg, unlock: unlock}, nil
}

// release lifts h on tg, whose lock the caller holds (claimRelease):
// the snapshot index no longer says the repository is held, and the hold
// record says h was lifted, for every host.
func (e *Engine) release(ctx context.Context, tg target.Target, repo string, h *state.Hold) error {
	if _, ok := tg.(target.Snapshotter); ok {
		if err := snapshot.Release(ctx, tg, repo); err != nil {
			return err
		}
	}
	return writeHoldRecord(ctx, tg, nil, h, e.opts.Now())
}

// writeRecords writes the records kept with a mirror in object storage
// after a rollback moved it: its state mst (the revision it serves now,
// what the rollback left pending) with the repository's verified
// revisions (the state_dir's, else kept, those the records had), and
// index, the index of what it serves (none when nil). Without them the
// next sync, which goes by the records, would take the mirror for one
// still serving the revision rolled back from.
func (e *Engine) writeRecords(ctx context.Context, tg target.Target, repo, mirror string, mst *state.Mirror, kept *state.Verified, index []byte) error {
	if _, ok := tg.(target.Records); !ok {
		return nil
	}
	v, err := e.opts.Store.LoadVerified(repo)
	if err != nil || v.Current() == nil {
		v = kept // the records carry the mirror's state all the same
	}
	if err := writeStateRecordTo(ctx, tg, mirror, mst, v); err != nil {
		return fmt.Errorf("saving the state record kept with it: %w", err)
	}
	if index != nil {
		if err := writeIndexRecordTo(ctx, tg, mirror, index); err != nil {
			return fmt.Errorf("saving the index kept with it: %w", err)
		}
	}
	return nil
}

// saveSnapshotIndex records the packages of the snapshot a mirror serves
// after a rollback as the mirror's index (see index.go), as a publish
// does: the daemon's redirects and the next sync read it. It returns the
// index (nil when it could not be made).
func (e *Engine) saveSnapshotIndex(ctx context.Context, tg target.Target, repo, mirror, name, digest string) ([]byte, error) {
	pkgs, err := snapshot.Packages(ctx, tg, name, e.opts.MaxMetadataSize)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(indexMagic + digest + "\n")
	for _, p := range pkgs {
		b.WriteString(p.Href + "\t" + p.Checksum + "\n")
	}
	store := e.opts.Store
	rel, err := filepath.Rel(store.Dir(), store.IndexPath(repo, mirror))
	if err != nil {
		return nil, err
	}
	if err := safefs.MkdirAll(store.Dir(), filepath.Dir(rel), 0o755); err != nil {
		return nil, err
	}
	err = safefs.WriteAtomic(store.Dir(), rel, 0o644, func(out io.Writer) error {
		_, err := out.Write(b.Bytes())
		return err
	})
	return b.Bytes(), err
}
