package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/rpmirror/rpmirror/repodata"
	"github.com/rpmirror/rpmirror/target"
)

// Paths of the repomd.xml signature and key a snapshot holds when the
// revision it captures had them.
const (
	ascPath = repomdPath + ".asc"
	keyPath = repomdPath + ".key"
)

// ErrReadOnly is returned (wrapped) by every write to a View.
var ErrReadOnly = errors.New("a snapshot is read-only")

// Files returns the repomd.xml of the snapshot called name and every file
// the snapshot holds, relative to it: repomd.xml, its signature and key
// when present, every metadata file repomd.xml names and every package
// its primary metadata names. Files reads only the metadata: a file
// named but missing is listed (and found missing by whoever uses it).
func Files(ctx context.Context, tg target.Target, name string, maxMetadata int64) ([]byte, []string, error) {
	base := Path(name) + "/"
	md, err := readSmall(ctx, tg, base+repomdPath, 16<<20)
	if err != nil {
		return nil, nil, fmt.Errorf("snapshot %s: %w", name, err)
	}
	parsed, err := repodata.ParseRepomd(md)
	if err != nil {
		return nil, nil, fmt.Errorf("snapshot %s: %s: %w", name, repomdPath, err)
	}
	paths := []string{repomdPath}
	for _, p := range []string{ascPath, keyPath} {
		if _, err := tg.Stat(ctx, base+p); err == nil {
			paths = append(paths, p)
		}
	}
	for _, d := range parsed.Data {
		if err := target.CheckPath(d.Href); err != nil {
			return nil, nil, fmt.Errorf("snapshot %s: %s names %w", name, repomdPath, err)
		}
		paths = append(paths, d.Href)
	}
	pkgs, err := Packages(ctx, tg, name, maxMetadata)
	if err != nil {
		return nil, nil, err
	}
	for _, p := range pkgs {
		if err := target.CheckPath(p.Href); err != nil {
			return nil, nil, fmt.Errorf("snapshot %s: primary metadata names %w", name, err)
		}
		paths = append(paths, p.Href)
	}
	slices.Sort(paths)
	return md, slices.Compact(paths), nil
}

// Signature returns the repodata/repomd.xml.asc of the snapshot called
// name, nil when it has none.
func Signature(ctx context.Context, tg target.Target, name string) ([]byte, error) {
	p := Path(name) + "/" + ascPath
	if _, err := tg.Stat(ctx, p); errors.Is(err, target.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", name, err)
	}
	b, err := readSmall(ctx, tg, p, 1<<20)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", name, err)
	}
	return b, nil
}

// Republish makes the snapshot called name what the mirror serves, as
// rpmirror rollback does; the caller holds the mirror's lock and has
// verified the snapshot. Every file of the snapshot is put back at its
// path and the repomd.xml signature and key the mirror served that the
// snapshot lacks are removed (and, with prune, the metadata files it
// served that the snapshot lacks; else they stay, for clients that read
// the repomd.xml rolled back from, and the caller prunes them later), in
// one Snapshotter.Restore: atomic on a target with AtomicCommit, else in the
// order a sync publishes (packages, metadata, repomd.xml, its signature
// and key), so that every step leaves the mirror consistent. Packages of
// later revisions stay until a sync prunes them. The index then records
// that the repository is held at the snapshot, and latest.txt names it.
// It returns the snapshot's index entry and the paths it removed.
func Republish(ctx context.Context, tg target.Target, repo, name string, maxMetadata int64, prune bool) (Snapshot, []string, error) {
	sn, err := snapshotter(tg)
	if err != nil {
		return Snapshot{}, nil, err
	}
	x, err := Read(ctx, tg, repo)
	if err != nil {
		return Snapshot{}, nil, err
	}
	s, ok := x.Find(name)
	if !ok {
		return Snapshot{}, nil, fmt.Errorf("%s: %w", name, ErrNotFound)
	}
	md, paths, err := Files(ctx, tg, name, maxMetadata)
	if err != nil {
		return Snapshot{}, nil, err
	}
	var remove []string
	if cur, err := readSmall(ctx, tg, repomdPath, 16<<20); err == nil && prune {
		if parsed, err := repodata.ParseRepomd(cur); err == nil {
			for _, d := range parsed.Data {
				if !slices.Contains(paths, d.Href) && target.CheckPath(d.Href) == nil && strings.HasPrefix(d.Href, "repodata/") {
					remove = append(remove, d.Href)
				}
			}
		}
	}
	for _, p := range []string{ascPath, keyPath} {
		if !slices.Contains(paths, p) {
			remove = append(remove, p)
		}
	}
	if parsed, err := repodata.ParseRepomd(md); err == nil {
		paths = publishOrder(paths, parsed)
	}
	if err := sn.Restore(ctx, Path(name), paths, remove); err != nil {
		return Snapshot{}, nil, fmt.Errorf("republishing snapshot %s: %w", name, err)
	}
	x.Held = name
	x.setLatest()
	if err := Write(ctx, tg, x); err != nil {
		return Snapshot{}, nil, fmt.Errorf("writing the snapshot index: %w", err)
	}
	return *s, remove, nil
}

// Hold records in the mirror's index that the repository is held at the
// snapshot called name, and latest.txt names it, before the mirror is
// brought to it (Republish): a rollback killed halfway leaves every
// mirror's latest.txt naming the snapshot it holds the repository at,
// not the revision it rolls back from. The caller holds the mirror's
// lock.
func Hold(ctx context.Context, tg target.Target, repo, name string) error {
	x, err := Read(ctx, tg, repo)
	if err != nil {
		return err
	}
	if _, ok := x.Find(name); !ok {
		return fmt.Errorf("%s: %w", name, ErrNotFound)
	}
	if x.Held == name && x.Latest == name {
		return nil
	}
	x.Held = name
	x.setLatest()
	if err := Write(ctx, tg, x); err != nil {
		return fmt.Errorf("writing the snapshot index: %w", err)
	}
	return nil
}

// Release records in the mirror's index that the repository is no longer
// held (rpmirror resume): latest.txt names the newest snapshot again. The
// caller holds the mirror's lock.
func Release(ctx context.Context, tg target.Target, repo string) error {
	x, err := Read(ctx, tg, repo)
	if err != nil {
		return err
	}
	if x.Held == "" {
		return nil
	}
	x.Held = ""
	x.setLatest()
	return Write(ctx, tg, x)
}

// View returns a read-only target of the snapshot called name: its paths
// are those of the snapshot's repository (repodata/repomd.xml, the
// packages), for checking it as a mirror is checked. Where tg has
// permissions (target.Readable), so has the view: a snapshot's files are
// served as the mirror's are, and one the web server cannot read is
// reported, and made readable, as a mirror's is (its content is never
// written through the view).
func View(tg target.Target, name string) target.Target {
	v := &view{tg: tg, dir: Path(name) + "/"}
	if r, ok := tg.(target.Readable); ok {
		return &readableView{view: v, r: r}
	}
	return v
}

// readableView is the view of a snapshot on a target with permissions.
type readableView struct {
	*view
	r target.Readable
}

var _ target.Readable = (*readableView)(nil)

func (v *readableView) CheckReadable(ctx context.Context, p string) error {
	if err := target.CheckPath(p); err != nil {
		return err
	}
	return v.r.CheckReadable(ctx, v.dir+p)
}

func (v *readableView) MakeReadable(ctx context.Context, p string) error {
	if err := target.CheckPath(p); err != nil {
		return err
	}
	return v.r.MakeReadable(ctx, v.dir+p)
}

type view struct {
	tg  target.Target
	dir string
}

var _ target.Target = (*view)(nil)

func (v *view) Stat(ctx context.Context, p string) (target.Info, error) {
	if err := target.CheckPath(p); err != nil {
		return target.Info{}, err
	}
	return v.tg.Stat(ctx, v.dir+p)
}

func (v *view) Open(ctx context.Context, p string) (io.ReadCloser, error) {
	if err := target.CheckPath(p); err != nil {
		return nil, err
	}
	return v.tg.Open(ctx, v.dir+p)
}

func (v *view) Put(context.Context, target.File) error { return fmt.Errorf("%s: %w", v, ErrReadOnly) }

func (v *view) Commit(context.Context, []target.File, []string) error {
	return fmt.Errorf("%s: %w", v, ErrReadOnly)
}

func (v *view) Remove(context.Context, string) error { return fmt.Errorf("%s: %w", v, ErrReadOnly) }

func (v *view) Walk(ctx context.Context, prefix string, fn func(string, target.Info) error) error {
	return v.tg.Walk(ctx, v.dir+prefix, func(p string, info target.Info) error {
		return fn(strings.TrimPrefix(p, v.dir), info)
	})
}

func (v *view) Lock(context.Context) (func(), error) { return func() {}, nil }

func (v *view) String() string { return v.tg.String() + "/" + strings.TrimSuffix(v.dir, "/") }

func (v *view) Properties() target.Properties { return v.tg.Properties() }

// publishOrder orders a snapshot's paths as a sync publishes them to a
// target without atomic commits: packages, then the metadata repomd.xml
// names, then repomd.xml, its signature and its key.
func publishOrder(paths []string, md *repodata.Repomd) []string {
	rank := func(p string) int {
		switch {
		case p == repomdPath:
			return 2
		case p == ascPath:
			return 3
		case p == keyPath:
			return 4
		case slices.ContainsFunc(md.Data, func(d repodata.Data) bool { return d.Href == p }):
			return 1
		}
		return 0
	}
	out := slices.Clone(paths)
	slices.SortStableFunc(out, func(a, b string) int { return rank(a) - rank(b) })
	return out
}
