package sync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/fetch"
	"github.com/rpmirror/rpmirror/internal/safefs"
	"github.com/rpmirror/rpmirror/repodata"
	"github.com/rpmirror/rpmirror/source"
	"github.com/rpmirror/rpmirror/target"
	"github.com/rpmirror/rpmirror/verify"
)

// MirrorRepair is what Repair did to one written mirror.
type MirrorRepair struct {
	Name     string
	Revision string    // the revision it serves
	Replaced []Problem // files fetched again and put in place: what was wrong with each
	Left     []Problem // what is still wrong after the repair
	Err      error     // the mirror could not be checked or repaired at all
}

// Repair re-checks every written mirror of repo against its own metadata
// (as CheckMirror does) and fetches every missing or damaged file of the
// revision it serves again from the origin. Each file is verified against
// the mirror's metadata (checksum and size; packages also header and,
// with gpgkeys, signature) before it is used, and a mirror's repairs
// become visible together, atomically (target.Commit): a reader sees the
// damaged file or the good one, never a partial one. A file the origin no
// longer has (it has moved on to another revision), or has with other
// content, stays in Left: a sync publishes the origin's revision instead.
//
// Written mirrors on one filesystem share package files through hard
// links, so damage to one is damage to all; Repair replaces the damaged
// file of each mirror with a new one and downloads it once.
func (e *Engine) Repair(ctx context.Context, repo *config.Repo) ([]*MirrorRepair, error) {
	log := e.log.With("repo", repo.Name)
	unlock, err := e.opts.Store.Lock(repo.Name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	src, err := source.Open(ctx, repo, source.Options{Fetcher: e.opts.Fetcher, Logger: log})
	if err != nil {
		return nil, err
	}
	var opts CheckOptions
	if len(repo.GPGKeys) > 0 {
		if opts.Keyring, err = verify.LoadKeyring(repo.GPGKeys...); err != nil {
			return nil, err
		}
	}
	if repo.RepoGPGCheck {
		if opts.RepoKeyring, err = verify.LoadKeyring(repo.RepoGPGKeys...); err != nil {
			return nil, fmt.Errorf("repo_gpgkeys: %w", err)
		}
	}
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
}

// mirror repairs one mirror. Metadata is repaired first: packages can
// only be listed once the primary metadata is sound.
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
	for pass := 0; pass < 2; pass++ {
		problems, st, err := CheckMirrorWith(ctx, tg, r.check)
		if err != nil {
			return err
		}
		mr.Revision = st.Revision
		var files []target.File
		var fixed []Problem
		mr.Left = nil
		for _, p := range problems {
			local, size, err := r.fetch(ctx, p)
			if err != nil {
				p.Err = fmt.Errorf("%w; fetching it again: %v", p.Err, err)
				mr.Left = append(mr.Left, p)
				continue
			}
			files = append(files, target.File{Path: p.Path, Local: local, Size: size})
			fixed = append(fixed, p)
		}
		if len(files) == 0 {
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
	problems, _, err := CheckMirrorWith(ctx, tg, r.check)
	if err != nil {
		return err
	}
	mr.Left = problems
	return nil
}

// errCannotRefetch is the reason a problem is not a file to fetch again.
var errCannotRefetch = errors.New("not a file the metadata describes")

// fetch downloads the file problem p is about from the origin into the
// staging directory, verified against what the mirror's metadata says,
// once per checksum.
func (r *repairer) fetch(ctx context.Context, p Problem) (string, int64, error) {
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
	if _, err := r.src.AnyFile(ctx, href, base, dst, size, check); err != nil {
		return "", 0, err
	}
	if err := fetch.SyncFS(r.dir); err != nil {
		return "", 0, err
	}
	r.got[sum.String()] = dst
	return dst, size, nil
}
