package sync

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/filter"
	"github.com/rpmirror/rpmirror/repodata"
	"github.com/rpmirror/rpmirror/verify"
)

// FilterReport is what the filter of a filtered repository kept and
// dropped, and what it did with the origin's other metadata.
type FilterReport struct {
	filter.Counts
	// OriginRevision and OriginRepomd are the origin's revision and
	// repomd.xml the filtered metadata was written from.
	OriginRevision string
	OriginRepomd   []byte
	// Dropped are the types of the origin's metadata left out (sqlite
	// databases, zchunk), Unknown those carried that rpmirror does not
	// know.
	Dropped, Unknown []string
	Signed           bool // repomd.xml.asc is rpmirror's signature (sign_with)
}

// rules returns the filter.Rules of a repo's filter.
func rules(f *config.Filter) filter.Rules {
	return filter.Rules{Arch: f.Arch, Include: f.Include, Exclude: f.Exclude, Newest: f.Newest}
}

// fetchMeta downloads metadata file d into the cache (cachePath) and
// verifies it, unless it is there already from this sync: fetched, or
// written by the filter.
func (s *run) fetchMeta(ctx context.Context, d repodata.Data) error {
	if s.cached[d.Checksum] {
		return nil
	}
	dst := s.cachePath(d.Checksum)
	size := d.Size
	n, err := s.src.File(ctx, d.Href, d.Base, dst, size, func(r io.Reader) error {
		return verify.Content(r, size, d.Checksum)
	})
	s.rep.Bytes += n
	if err != nil {
		return fmt.Errorf("fetching %s: %w", d.Href, err)
	}
	s.markCached(d.Checksum)
	return nil
}

func (s *run) markCached(c repodata.Checksum) {
	if s.cached == nil {
		s.cached = map[repodata.Checksum]bool{}
	}
	s.cached[c] = true
}

// openMeta returns the uncompressed content of metadata file d, fetched
// into the cache: decompressed on another core, bounded by its open-size
// and max_metadata_size, checked against its open-checksum.
func (s *run) openMeta(d repodata.Data) (io.ReadCloser, error) {
	f, err := os.Open(s.cachePath(d.Checksum))
	if err != nil {
		return nil, err
	}
	dr, err := repodata.Decompress(f, d.Href)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", d.Href, err)
	}
	r := readAhead(dr)
	capped, err := capMetadata(r, d, s.e.opts.MaxMetadataSize)
	if err != nil {
		r.Close()
		f.Close()
		return nil, err
	}
	return &closeBoth{capped, f}, nil
}

// filterRevision replaces the origin's revision, just read and checked,
// with the filtered one rpmirror writes from it (see package filter):
// from here on the sync mirrors that revision as it would an origin's.
// Its repomd.xml is what is verified, recorded and published; the
// origin's signature and key are not published, and with sign_with
// rpmirror signs the new repomd.xml and publishes the signing key's
// public part as repomd.xml.key.
func (s *run) filterRevision(ctx context.Context) error {
	f := s.repo.Filter
	origin := s.md
	for _, d := range origin.Data {
		switch d.Type {
		case "primary", "filelists", "other", "filelists_ext":
			if err := s.fetchMeta(ctx, d); err != nil {
				return err
			}
		}
	}
	res, err := filter.Write(ctx, origin, filter.Options{Rules: rules(f), Dir: s.cache, Open: s.openMeta})
	if err != nil {
		return fmt.Errorf("filtering revision %s: %w", origin.Revision, err)
	}
	// The files written go where the plan looks for verified metadata.
	for _, d := range res.MD.Data {
		local, ok := res.Written[d.Href]
		if !ok {
			continue
		}
		if err := os.Rename(local, s.cachePath(d.Checksum)); err != nil {
			return fmt.Errorf("filtering revision %s: %w", origin.Revision, err)
		}
		s.markCached(d.Checksum)
	}
	fr := &FilterReport{Counts: res.Counts, OriginRevision: origin.Revision, OriginRepomd: s.repomd, Unknown: res.Unknown}
	for _, d := range res.Dropped {
		fr.Dropped = append(fr.Dropped, d.Type)
	}
	s.rep.Filter = fr
	s.repomd, s.md = res.Repomd, res.MD
	s.asc, s.key = nil, nil
	if s.repo.SignWith != "" {
		if s.asc, s.key, err = s.sign(res.Repomd); err != nil {
			return err
		}
		fr.Signed = true
	}
	s.rep.Repomd = s.repomd
	s.log.Info("filtered", "origin_revision", origin.Revision, "packages", res.Counts.Packages, "kept", res.Counts.Kept,
		"dropped_arch", res.Counts.Arch, "dropped_include", res.Counts.Include, "dropped_exclude", res.Counts.Exclude,
		"dropped_newest", res.Counts.Newest, "metadata_dropped", fr.Dropped, "metadata_unknown", fr.Unknown)
	return nil
}

// sign returns an armored detached signature of repomd by the sign_with
// key, and the key's armored public part.
func (s *run) sign(repomd []byte) (asc, key []byte, err error) {
	e, err := verify.LoadSigningKey(s.repo.SignWith)
	if err != nil {
		return nil, nil, err
	}
	var sig bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&sig, e, bytes.NewReader(repomd), nil); err != nil {
		return nil, nil, fmt.Errorf("signing repomd.xml with %s: %w", s.repo.SignWith, err)
	}
	var pub bytes.Buffer
	w, err := armor.Encode(&pub, openpgp.PublicKeyType, nil)
	if err != nil {
		return nil, nil, err
	}
	if err := e.Serialize(w); err != nil {
		return nil, nil, fmt.Errorf("exporting the public key of %s: %w", s.repo.SignWith, err)
	}
	if err := w.Close(); err != nil {
		return nil, nil, err
	}
	pub.WriteByte('\n')
	sig.WriteByte('\n')
	return sig.Bytes(), pub.Bytes(), nil
}

// signedUpToDate reports whether mirror m serves the filtered revision
// with a signature that rpmirror's key still validates: a signature is
// made anew (with a new time) on every sync, and a mirror whose repomd.xml
// is the same and whose signature is good needs nothing published.
func (s *run) signedUpToDate(m *mirror) bool {
	if m.cur == nil || !bytes.Equal(m.cur, s.repomd) || !bytes.Equal(m.curKey, s.key) || m.curAsc == nil {
		return false
	}
	ring, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(s.key))
	if err != nil {
		return false
	}
	_, err = verify.DetachedSignature(m.cur, m.curAsc, ring)
	return err == nil
}
