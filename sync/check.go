package sync

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/repodata"
	"github.com/rpmirror/rpmirror/target"
	"github.com/rpmirror/rpmirror/verify"
)

// ErrMissing is the error of a Problem whose file is not there.
var ErrMissing = errors.New("missing")

// Problem is one thing wrong with a mirror: a file its repomd.xml or
// primary metadata names that is missing or not what the metadata says.
type Problem struct {
	Path string
	Err  error

	// What the metadata says belongs at Path, for Repair; nil when the
	// problem is not a file that can be fetched again.
	meta *repodata.Data
	pkg  *repodata.Package
}

func (p Problem) String() string { return p.Path + ": " + p.Err.Error() }

// CheckStats counts what CheckMirror looked at.
type CheckStats struct {
	Revision string
	Metadata int // metadata files checked
	Packages int // packages checked
}

// CheckOptions say what CheckMirrorWith checks signatures with.
type CheckOptions struct {
	// Keyring checks package signatures; empty: not checked.
	Keyring openpgp.EntityList
	// RepoKeyring, when not empty, requires repodata/repomd.xml.asc to be
	// a valid signature over repomd.xml by one of its keys (the repo's
	// repo_gpgkeys, with repo_gpgcheck).
	RepoKeyring openpgp.EntityList
}

// CheckMirror is CheckMirrorWith with package signatures checked against
// keyring and repomd.xml's signature not checked.
func CheckMirror(ctx context.Context, tg target.Target, keyring openpgp.EntityList) ([]Problem, CheckStats, error) {
	return CheckMirrorWith(ctx, tg, CheckOptions{Keyring: keyring})
}

// CheckMirrorWith re-checks a mirror against its own repomd.xml: with
// opts.RepoKeyring, repomd.xml.asc is a valid signature of it by one of
// those keys; every metadata file it lists is present with the right size
// and checksum, and every package the primary metadata lists is present
// with the right size and checksum, the right header and, with a
// non-empty opts.Keyring, a valid signature by one of its keys. It
// reports every problem it finds; the error is for a mirror that cannot
// be checked at all (no repomd.xml).
func CheckMirrorWith(ctx context.Context, tg target.Target, opts CheckOptions) ([]Problem, CheckStats, error) {
	keyring := opts.Keyring
	var st CheckStats
	raw, err := readOptional(ctx, tg, RepomdPath)
	if err != nil {
		return nil, st, err
	}
	if raw == nil {
		return nil, st, fmt.Errorf("%s: no %s: the mirror has never been published", tg, RepomdPath)
	}
	md, err := repodata.ParseRepomd(raw)
	if err != nil {
		return nil, st, fmt.Errorf("%s: %w", RepomdPath, err)
	}
	st.Revision = md.Revision
	var problems []Problem
	add := func(p string, err error) { problems = append(problems, Problem{Path: p, Err: err}) }
	addFile := func(p string, err error, meta *repodata.Data, pkg *repodata.Package) {
		problems = append(problems, Problem{Path: p, Err: err, meta: meta, pkg: pkg})
	}
	if len(opts.RepoKeyring) > 0 {
		asc, err := readOptional(ctx, tg, AscPath)
		switch {
		case err != nil:
			add(AscPath, err)
		case asc == nil:
			add(AscPath, &verify.SignatureError{Reason: verify.ErrUnsigned, Detail: "missing: repo_gpgcheck requires a signature of " + RepomdPath})
		default:
			if _, err := verify.DetachedSignature(raw, asc, opts.RepoKeyring); err != nil {
				add(AscPath, err)
			}
		}
	}
	for _, d := range md.Data {
		if err := ctx.Err(); err != nil {
			return problems, st, err
		}
		st.Metadata++
		if err := checkHref(d.Href, ""); err != nil {
			add(d.Href, err)
			continue
		}
		if err := checkFile(ctx, tg, d.Href, func(r io.Reader) error { return verify.Content(r, d.Size, d.Checksum) }); err != nil {
			addFile(d.Href, err, &d, nil)
		}
	}
	d, ok := md.Find("primary")
	if !ok {
		add(RepomdPath, errors.New("lists no primary metadata"))
		return problems, st, nil
	}
	rc, err := tg.Open(ctx, d.Href)
	if err != nil {
		return problems, st, nil // reported above
	}
	defer rc.Close()
	dr, err := repodata.Decompress(rc, d.Href)
	if err != nil {
		add(d.Href, err)
		return problems, st, nil
	}
	r, err := capMetadata(dr, d, config.DefaultMaxMetadataSize)
	if err != nil {
		dr.Close()
		add(d.Href, err)
		return problems, st, nil
	}
	defer r.Close()
	pr := repodata.NewPrimaryReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return problems, st, err
		}
		p, err := pr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			add(d.Href, err)
			break
		}
		st.Packages++
		// The package is stored at its href even when it has an xml:base
		// (follow_xml_base).
		if err := checkHref(p.Href, ""); err != nil {
			add(p.Href, err)
			continue
		}
		if err := checkFile(ctx, tg, p.Href, func(r io.Reader) error {
			_, err := verify.RPM(r, p, keyring)
			return err
		}); err != nil {
			addFile(p.Href, err, nil, p)
		}
	}
	return problems, st, nil
}

func checkFile(ctx context.Context, tg target.Target, p string, check func(io.Reader) error) error {
	rc, err := tg.Open(ctx, p)
	if errors.Is(err, target.ErrNotExist) {
		return ErrMissing
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	return check(rc)
}
