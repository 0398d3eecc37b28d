package sync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/fetch"
	"github.com/rpmirror/rpmirror/filter"
	"github.com/rpmirror/rpmirror/internal/safefs"
	"github.com/rpmirror/rpmirror/repodata"
	"github.com/rpmirror/rpmirror/snapshot"
	"github.com/rpmirror/rpmirror/source"
	"github.com/rpmirror/rpmirror/target"
	"github.com/rpmirror/rpmirror/verify"
)

// MirrorRepair is what Repair did to one written mirror.
type MirrorRepair struct {
	Name     string
	Revision string    // the revision it serves
	Replaced []Problem // files fetched again and put in place: what was wrong with each
	// MadeReadable are files whose content was right but that a web
	// server running as another user could not read
	// (*target.NotReadableError), given the permissions of a stored file.
	MadeReadable []Problem
	// Unindexed are the snapshots the mirror's index.json named whose
	// directory was gone (removed by hand, as a broken one is repaired):
	// the index no longer names them.
	Unindexed []string
	// Latest, when not nil, is what was wrong with the mirror's
	// latest.txt (missing, or naming a snapshot that is gone): it was
	// written again as a sync writes it, naming Latest.Latest, or
	// removed when that is "" (no snapshot is left).
	Latest *snapshot.LatestError
	Left   []Problem // what is still wrong after the repair
	Err    error     // the mirror could not be checked or repaired at all
}

// Repair re-checks every written mirror of repo against its own metadata
// (as CheckMirror does) and puts back every missing or damaged file of
// the revision it serves: from another written mirror of the repo on this
// machine that holds it intact (fromMirrors), or else fetched again from
// the origin. Each file is verified against
// the mirror's metadata (checksum and size; packages also header and,
// with gpgkeys, signature) before it is used, and a mirror's repairs
// become visible together, atomically (target.Commit): a reader sees the
// damaged file or the good one, never a partial one. A file the origin no
// longer has (it has moved on to another revision), or has with other
// content, stays in Left: a sync publishes the origin's revision instead.
//
// A filtered mirror's primary, filelists, other and filelists-ext
// metadata exist nowhere else: rpmirror wrote them (package filter).
// Repair writes them again from the origin's current revision (its
// metadata fetched and verified as a sync does), which gives the same
// bytes as long as the origin serves the revision they were written
// from; when it does not, the file stays in Left with an
// *OriginChangedError. With sign_with, a missing or bad repomd.xml.asc
// or repomd.xml.key is written again: the mirror's repomd.xml is signed
// anew, provided it is a revision rpmirror verified (state), never a
// stranger's.
//
// A repomd.xml.asc missing, or not the one rpmirror verified the
// mirror's repomd.xml with (CheckOptions.Signatures, from the state
// directory), is put back from there.
//
// A file whose content is right but that the web server in front of the
// mirror cannot read (target.Readable) is given the permissions of a
// stored file instead, in the mirror and under its snapshots directory
// (the snapshots, their index.json and latest.txt).
//
// A snapshot's packages and metadata files missing or damaged are put
// back too, verified against the snapshot's metadata (snapshotFiles).
//
// Written mirrors on one filesystem share package files through hard
// links, so damage to one is damage to all; Repair replaces the damaged
// file of each mirror with a new one and downloads it once.
func (e *Engine) Repair(ctx context.Context, repo *config.Repo) ([]*MirrorRepair, error) {
	log := e.log.With("repo", repo.Name)
	unlock, err := e.opts.Store.LockWithin(ctx, repo.Name, lockPatience)
	if err != nil {
		return nil, err
	}
	defer unlock()
	src, err := source.Open(ctx, repo, source.Options{Fetcher: e.opts.Fetcher, Logger: log})
	if err != nil {
		return nil, err
	}
	opts, err := CheckOptionsFor(repo)
	if err != nil {
		return nil, err
	}
	opts.Signatures = RecordedSignatures(e.opts.Store, repo)
	opts.Keys = RecordedKeys(e.opts.Store, repo)
	opts.Verified = VerifiedDigests(e.opts.Store, repo)
	rel := filepath.Join("cache", repo.Name+".repair")
	if err := safefs.MkdirAll(e.opts.Store.Dir(), rel, 0o755); err != nil {
		return nil, fmt.Errorf("repair staging directory: %w", err)
	}
	r := &repairer{e: e, repo: repo, log: log, src: src, check: opts,
		dir: filepath.Join(e.opts.Store.Dir(), rel), got: map[string]string{}}
	defer os.RemoveAll(r.dir)
	var out []*MirrorRepair
	for _, mc := range repo.Mirrors {
		if !mc.Written() {
			continue
		}
		mr := &MirrorRepair{Name: mc.Name}
		out = append(out, mr)
		if err := r.mirror(ctx, mc, mr); err != nil {
			mr.Err = err
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
		}
	}
	return out, nil
}

type repairer struct {
	e     *Engine
	repo  *config.Repo
	log   *slog.Logger
	src   *source.Source // the origin's upstreams, each tried in turn
	check CheckOptions
	dir   string            // staging: verified downloads, by checksum
	got   map[string]string // checksum -> verified download
	// regen is the filtered metadata written again from the origin, on
	// the first problem that needs it.
	regen *regenerated
	// local are the mirrors files are taken from before the origin
	// (fromMirrors): while a mirror is repaired, the repo's other written
	// mirrors on this machine; while its snapshots are, its own tree
	// first.
	local []localSource
}

// mirror repairs one mirror: its files, then the permissions of its
// snapshots' files.
func (r *repairer) mirror(ctx context.Context, mc config.Mirror, mr *MirrorRepair) error {
	tg, err := r.e.opts.OpenTarget(ctx, mc)
	if err != nil {
		return err
	}
	unlock, err := tg.Lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	others := r.others(ctx, mc)
	r.local = others
	if err := r.mirrorFiles(ctx, tg, mc, mr); err != nil {
		return err
	}
	tidied, err := snapshot.Tidy(ctx, tg, r.repo.Name)
	if err != nil {
		return err
	}
	mr.Unindexed, mr.Latest = tidied.Unindexed, tidied.Latest
	if ex, ok := tg.(target.Exporter); ok {
		// A snapshot's file is most often the tree's, repaired above.
		r.local = append([]localSource{{name: mc.Name, ex: ex}}, others...)
	}
	if err := r.snapshotFiles(ctx, tg, mc, mr); err != nil {
		return err
	}
	return r.snapshotsReadable(ctx, tg, mc, mr)
}

// snapshotFiles repairs the files of each snapshot of the mirror as
// mirrorFiles repairs the mirror's own: a package or metadata file
// missing or damaged is put back, verified against the snapshot's own
// metadata, from the download that repaired the same file of the mirror
// (a snapshot hard-links the mirror's files, so damage to one is damage
// to every snapshot holding it: a tester's repair mended the mirror and
// left every snapshot, pinned ones too, broken, with removing them as
// the only way out) or else from the origin, while it still serves the
// file with the same checksum. The bytes put back are the ones the
// snapshot was made with, so it stays the snapshot it was. What cannot
// be put back (the snapshot's repomd.xml, a file the origin no longer
// has) is left: verify names the snapshot broken, and removing it is
// the repair.
func (r *repairer) snapshotFiles(ctx context.Context, tg target.Target, mc config.Mirror, mr *MirrorRepair) error {
	if _, ok := tg.(target.Snapshotter); !ok {
		return nil
	}
	x, err := snapshot.Read(ctx, tg, r.repo.Name)
	if err != nil {
		return fmt.Errorf("reading the snapshots: %w", err)
	}
	// One commit for every snapshot: on a mirror on this machine each is
	// a swap of the whole tree (a reviewer's: one a snapshot made the
	// repair of a file many hold quadratic).
	var files []target.File
	var fixed []Problem
	for _, s := range x.Snapshots {
		view := snapshot.View(tg, s.Name)
		problems, st, err := CheckMirrorWith(ctx, view, r.check.ForSnapshot(ctx, view))
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			continue // verify names it; nothing here can be listed to repair
		}
		for _, p := range problems {
			var nr *target.NotReadableError
			if (p.pkg == nil && p.meta == nil) || errors.As(p.Err, &nr) || symlinkIn(p.Err) != nil {
				continue // snapshotsReadable, or the operator, or nothing
			}
			local, size, err := r.fetch(ctx, p, st.Revision)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				r.log.Warn("not repaired", "mirror", mc.Name, "snapshot", s.Name, "path", p.Path, "err", err)
				continue
			}
			full := snapshot.Path(s.Name) + "/" + p.Path
			files = append(files, target.File{Path: full, Local: local, Size: size})
			fixed = append(fixed, Problem{Path: full, Err: p.Err})
		}
	}
	if len(files) == 0 {
		return nil
	}
	if err := tg.Commit(ctx, files, nil); err != nil {
		return fmt.Errorf("putting the repaired files of the snapshots in place: %w", err)
	}
	for _, p := range fixed {
		r.log.Info("repaired", "mirror", mc.Name, "path", p.Path, "was", p.Err.Error())
	}
	mr.Replaced = append(mr.Replaced, fixed...)
	return nil
}

// others opens the repo's written mirrors other than mc that are on
// this machine (target.Exporter), for fromMirrors. One that cannot be
// opened is left out: the origin is asked instead.
func (r *repairer) others(ctx context.Context, mc config.Mirror) []localSource {
	var out []localSource
	for _, o := range r.repo.Mirrors {
		if !o.Written() || o.Name == mc.Name || o.Kind() == "s3" {
			continue // object storage is nothing to link from: not opened
		}
		tg, err := r.e.opts.OpenTarget(ctx, o)
		if err != nil {
			continue
		}
		if ex, ok := tg.(target.Exporter); ok {
			out = append(out, localSource{name: o.Name, ex: ex})
		}
	}
	return out
}

// snapshotsReadable gives each file under the mirror's snapshots
// directory (snapshot.Dir: the snapshots, index.json, latest.txt) that
// the web server cannot read (*target.NotReadableError) the permissions
// of a stored file, as mirrorFiles does for the mirror's own: snapshots
// are served too. Their content is snapshotFiles'.
func (r *repairer) snapshotsReadable(ctx context.Context, tg target.Target, mc config.Mirror, mr *MirrorRepair) error {
	readable, ok := tg.(target.Readable)
	if _, snaps := tg.(target.Snapshotter); !ok || !snaps {
		return nil
	}
	prefix := snapshot.Dir + "/"
	err := tg.Walk(ctx, prefix, func(p string, _ target.Info) error {
		was := readable.CheckReadable(ctx, p)
		var nr *target.NotReadableError
		if !errors.As(was, &nr) {
			return nil
		}
		prob := Problem{Path: p, Err: was}
		if err := readable.MakeReadable(ctx, p); err != nil {
			prob.Err = fmt.Errorf("%w; making it readable: %w", was, err)
			mr.Left = append(mr.Left, prob)
			return nil
		}
		r.log.Info("made readable", "mirror", mc.Name, "path", p, "was", was.Error())
		mr.MadeReadable = append(mr.MadeReadable, prob)
		return nil
	})
	if err != nil {
		return fmt.Errorf("making the snapshots' files readable: %w", err)
	}
	return nil
}

// mirrorFiles repairs the files of one mirror, whose lock is held.
// Metadata is repaired first: packages can only be listed once the
// primary metadata is sound.
func (r *repairer) mirrorFiles(ctx context.Context, tg target.Target, mc config.Mirror, mr *MirrorRepair) error {
	for pass := 0; pass < 2; pass++ {
		problems, st, err := CheckMirrorWith(ctx, tg, r.check)
		if err != nil {
			return ExplainNoRepomd(err, r.e.opts.Store, r.repo.Name, mc.Name)
		}
		mr.Revision = st.Revision
		var files []target.File
		var fixed []Problem
		mr.Left = nil
		signed := false // repomd.xml.asc and .key, written once a pass
		readable, _ := tg.(target.Readable)
		for _, p := range problems {
			var nr *target.NotReadableError
			if errors.As(p.Err, &nr) && readable != nil {
				if err := readable.MakeReadable(ctx, p.Path); err != nil {
					p.Err = fmt.Errorf("%w; making it readable: %w", p.Err, err)
					mr.Left = append(mr.Left, p)
					continue
				}
				r.log.Info("made readable", "mirror", mc.Name, "path", p.Path, "was", p.Err.Error())
				mr.MadeReadable = append(mr.MadeReadable, p)
				continue
			}
			if symlinkIn(p.Err) != nil {
				// rpmirror writes nothing through a symlink: left for the
				// operator to remove, and the other files repaired
				// (putting them in place with it failed them all).
				mr.Left = append(mr.Left, p)
				continue
			}
			if r.signs(p) {
				if !signed {
					got, err := r.resign(ctx, tg)
					if err != nil {
						p.Err = fmt.Errorf("%w; signing repomd.xml again: %w", p.Err, err)
						mr.Left = append(mr.Left, p)
						continue
					}
					files, signed = append(files, got...), true
				}
				fixed = append(fixed, p)
				continue
			}
			var local string
			var size int64
			if p.content != nil {
				// The signature or key rpmirror verified the repomd.xml
				// with.
				local, size, err = r.stage(p.content)
			} else {
				local, size, err = r.fetch(ctx, p, st.Revision)
			}
			if err != nil {
				verb := "fetching it again"
				if r.rewrites(p) {
					verb = "writing it again from the origin's metadata"
				}
				p.Err = fmt.Errorf("%w; %s: %w", p.Err, verb, err)
				mr.Left = append(mr.Left, p)
				continue
			}
			files = append(files, target.File{Path: p.Path, Local: local, Size: size})
			fixed = append(fixed, p)
		}
		if len(files) == 0 {
			r.leftUnverified(mr, st)
			return nil
		}
		if err := tg.Commit(ctx, files, nil); err != nil {
			return fmt.Errorf("putting the repaired files in place: %w", err)
		}
		for _, p := range fixed {
			r.log.Info("repaired", "mirror", mc.Name, "path", p.Path, "was", p.Err.Error())
		}
		mr.Replaced = append(mr.Replaced, fixed...)
	}
	// What a second check still finds.
	problems, st, err := CheckMirrorWith(ctx, tg, r.check)
	if err != nil {
		return err
	}
	mr.Left = problems
	r.leftUnverified(mr, st)
	return nil
}

// leftUnverified adds to what a repair leaves a repomd.xml served that
// rpmirror did not verify (CheckStats.Unverified), unless a problem left
// says so already (the signature a filtered mirror's repair does not
// make for it, ErrUnverifiedRepomd).
func (r *repairer) leftUnverified(mr *MirrorRepair, st CheckStats) {
	uerr := st.Unverified(r.check.Verified)
	if uerr == nil || slices.ContainsFunc(mr.Left, func(p Problem) bool { return errors.Is(p.Err, ErrUnverifiedRepomd) }) {
		return
	}
	mr.Left = append(mr.Left, Problem{Path: RepomdPath, Err: uerr})
}

// errCannotRefetch is the reason a problem is not a file to fetch again.
var errCannotRefetch = errors.New("not a file the metadata describes")

// fetch downloads the file problem p is about from the origin into the
// staging directory, verified against what the mirror's metadata says,
// once per checksum; a metadata file of a filtered mirror that rpmirror
// wrote is written again instead (rewrite). revision is the one the
// mirror serves.
func (r *repairer) fetch(ctx context.Context, p Problem, revision string) (string, int64, error) {
	if r.rewrites(p) {
		return r.rewrite(ctx, *p.meta, revision)
	}
	var (
		href, base string
		size       int64
		sum        repodata.Checksum
		check      fetch.Check
	)
	switch {
	case p.meta != nil:
		d := *p.meta
		href, base, size, sum = d.Href, d.Base, d.Size, d.Checksum
		check = func(rd io.Reader) error { return verify.Content(rd, d.Size, d.Checksum) }
	case p.pkg != nil:
		pkg := p.pkg
		href, base, size, sum = pkg.Href, pkg.Base, pkg.Size, pkg.Checksum
		check = func(rd io.Reader) error {
			_, err := verify.RPM(rd, pkg, r.check.Keyring)
			return err
		}
	default:
		return "", 0, errCannotRefetch
	}
	if base != "" && !r.repo.FollowXMLBase {
		return "", 0, fmt.Errorf("location %q has xml:base %q and follow_xml_base is off", href, base)
	}
	if local, ok := r.got[sum.String()]; ok {
		return local, size, nil
	}
	dst := filepath.Join(r.dir, sum.Type+"-"+sum.Value)
	if r.fromMirrors(ctx, p.Path, dst, check) {
		r.got[sum.String()] = dst
		return dst, size, nil
	}
	if _, err := r.src.AnyFile(ctx, href, base, dst, size, check); err != nil {
		return "", 0, err
	}
	if err := fetch.SyncFS(r.dir); err != nil {
		return "", 0, err
	}
	r.got[sum.String()] = dst
	return dst, size, nil
}

// fromMirrors puts at dst, where nothing is, the file at path of one of
// r.local (the other written mirrors of the repo on this machine, and for
// a snapshot the mirror's own tree) that passes check, as a download
// must, and reports whether one did: a repair while the origin is down
// (the incident rpmirror exists for, a tester's) mends what another
// mirror holds intact, and a snapshot's file is linked to the tree's
// again. What fails check is removed from dst (a link, never the
// mirror's file) and the next is tried.
func (r *repairer) fromMirrors(ctx context.Context, path, dst string, check fetch.Check) bool {
	for _, src := range r.local {
		if err := src.ex.Export(ctx, path, dst); err != nil {
			continue
		}
		f, err := os.Open(dst)
		if err == nil {
			err = check(f)
			f.Close()
		}
		if err != nil {
			os.Remove(dst)
			r.log.Debug("not taken from a mirror", "mirror", src.name, "path", path, "err", err)
			continue
		}
		if err := fetch.SyncFS(dst); err != nil { // a copy, from another filesystem
			os.Remove(dst)
			continue
		}
		r.log.Info("taken from a mirror", "mirror", src.name, "path", path)
		return true
	}
	return false
}

// localSource is a mirror a repair may take a file from.
type localSource struct {
	name string
	ex   target.Exporter
}

// stage writes b, a file to put in place, into a new file of the
// staging directory (never through a symlink planted there), durably.
func (r *repairer) stage(b []byte) (string, int64, error) {
	f, err := os.CreateTemp(r.dir, "staged-*")
	if err != nil {
		return "", 0, err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = fetch.SyncFS(r.dir)
	}
	if err != nil {
		os.Remove(f.Name())
		return "", 0, err
	}
	return f.Name(), int64(len(b)), nil
}

// rewrites reports whether p is about a metadata file that rpmirror
// wrote for a filtered mirror, so that the origin has no copy of it.
func (r *repairer) rewrites(p Problem) bool {
	return r.repo.Filter != nil && p.meta != nil && filter.Writes(p.meta.Type)
}

// signs reports whether p is about the signature or the key that
// rpmirror publishes with a filtered mirror's repomd.xml (sign_with).
func (r *repairer) signs(p Problem) bool {
	return r.repo.Filter != nil && r.repo.SignWith != "" && (p.Path == AscPath || p.Path == KeyPath)
}

// resign signs the repomd.xml mirror tg serves again with sign_with's
// key and returns the signature and the public key to put in place. A
// repomd.xml that is not a revision rpmirror verified is not signed: a
// signature would vouch for whatever was put there.
func (r *repairer) resign(ctx context.Context, tg target.Target) ([]target.File, error) {
	repomd, err := readOptional(ctx, tg, RepomdPath)
	if err != nil {
		return nil, err
	}
	if repomd == nil {
		return nil, fmt.Errorf("no %s", RepomdPath)
	}
	v, err := r.e.opts.Store.LoadVerified(r.repo.Name)
	if err != nil {
		return nil, err
	}
	if v.Find(sha256Hex(repomd)) < 0 {
		return nil, ErrUnverifiedRepomd
	}
	asc, key, err := signRepomd(r.repo.SignWith, repomd)
	if err != nil {
		return nil, err
	}
	var files []target.File
	for _, f := range []struct {
		path string
		b    []byte
	}{{AscPath, asc}, {KeyPath, key}} {
		tmp, err := os.CreateTemp(r.dir, path.Base(f.path)+"-*")
		if err != nil {
			return nil, err
		}
		_, err = tmp.Write(f.b)
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("writing %s: %w", tmp.Name(), err)
		}
		files = append(files, target.File{Path: f.path, Local: tmp.Name(), Size: int64(len(f.b))})
	}
	if err := fetch.SyncFS(r.dir); err != nil {
		return nil, err
	}
	return files, nil
}

// regenerated is the filtered metadata written again from the origin's
// current revision: each file written, by checksum.
type regenerated struct {
	revision string // the origin's
	files    map[repodata.Checksum]regenFile
	err      error
}

type regenFile struct {
	local string
	size  int64
}

// wentBack reports whether the origin's revision is one a sync refuses
// as a rollback, as checkRollback judges by revision: older than the
// current verified revision (the mirror's, mirrorRev, when none is
// recorded), or an earlier verified one. (A sync also compares
// timestamps; this is for advice only.)
func (r *repairer) wentBack(origin, mirrorRev string) bool {
	cur := mirrorRev
	v, err := r.e.opts.Store.LoadVerified(r.repo.Name)
	if err == nil && v != nil {
		if c := v.Current(); c != nil {
			cur = c.Revision
			for _, rev := range v.Revisions[1:] {
				if rev.Revision == origin && origin != cur {
					return true
				}
			}
		}
	}
	return olderRevision(origin, cur)
}

// rewrite returns the filtered metadata file d of a mirror serving
// revision, written again from the origin's current revision (once per
// Repair) and checked against d.
func (r *repairer) rewrite(ctx context.Context, d repodata.Data, revision string) (string, int64, error) {
	if r.regen == nil {
		r.regen = r.regenerate(ctx)
	}
	g := r.regen
	if g.err != nil {
		return "", 0, g.err
	}
	f, ok := g.files[d.Checksum]
	if !ok || f.size != d.Size {
		return "", 0, &OriginChangedError{Href: d.Href, Revision: revision, OriginRevision: g.revision, WentBack: r.wentBack(g.revision, revision)}
	}
	fh, err := os.Open(f.local)
	if err != nil {
		return "", 0, err
	}
	defer fh.Close()
	if err := verify.Content(fh, d.Size, d.Checksum); err != nil {
		return "", 0, fmt.Errorf("%s as written again: %w", d.Href, err)
	}
	return f.local, f.size, nil
}

// regenerate writes the filtered metadata of the origin's current
// revision into the staging directory, as a sync does (filterRevision):
// the origin's repomd.xml (its signature checked with repo_gpgcheck) and
// the metadata the filter reads, each verified.
func (r *repairer) regenerate(ctx context.Context) *regenerated {
	g := &regenerated{}
	fail := func(err error) *regenerated {
		g.err = fmt.Errorf("the origin's revision %s: %w", g.revision, err)
		if g.revision == "" {
			g.err = fmt.Errorf("reading the origin: %w", err)
		}
		return g
	}
	var ring openpgp.EntityList
	if r.repo.RepoGPGCheck {
		var err error
		if ring, err = verify.LoadKeyring(r.repo.RepoGPGKeys...); err != nil {
			return fail(fmt.Errorf("repo_gpgkeys: %w", err))
		}
	}
	snap, err := r.src.Choose(ctx, func(snap *source.Snapshot) error {
		if !r.repo.RepoGPGCheck {
			return nil
		}
		_, err := originSignature(snap, ring)
		return err
	})
	if err != nil {
		return fail(err)
	}
	origin := snap.MD
	g.revision = origin.Revision
	originDir, outDir := filepath.Join(r.dir, "origin"), filepath.Join(r.dir, "filtered")
	for _, dir := range []string{originDir, outDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fail(err)
		}
	}
	local := func(d repodata.Data) string { return filepath.Join(originDir, d.Checksum.Type+"-"+d.Checksum.Value) }
	for _, d := range origin.Data {
		if !filter.Writes(d.Type) {
			continue
		}
		if err := checkLocation(r.repo, d.Href, d.Base); err != nil {
			return fail(fmt.Errorf("%s: %w", d.Type, err))
		}
		if err := checkStrength(r.repo, d.Checksum); err != nil {
			return fail(fmt.Errorf("%s: %w", d.Type, err))
		}
		if _, err := r.src.File(ctx, d.Href, d.Base, local(d), d.Size, func(rd io.Reader) error {
			return verify.Content(rd, d.Size, d.Checksum)
		}); err != nil {
			return fail(fmt.Errorf("fetching %s: %w", d.Href, err))
		}
	}
	res, err := filter.Write(ctx, origin, filter.Options{Rules: rules(r.repo.Filter), Dir: outDir,
		Open: func(d repodata.Data) (io.ReadCloser, error) {
			return openMetaFile(local(d), d, r.e.opts.MaxMetadataSize)
		}})
	if err != nil {
		return fail(err)
	}
	g.files = map[repodata.Checksum]regenFile{}
	for _, d := range res.MD.Data {
		if p, ok := res.Written[d.Href]; ok {
			g.files[d.Checksum] = regenFile{local: p, size: d.Size}
		}
	}
	r.log.Info("filtered metadata written again from the origin for repair", "origin_revision", origin.Revision)
	return g
}
