package sync

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/filter"
	"github.com/rpmirror/rpmirror/internal/zchunk"
	"github.com/rpmirror/rpmirror/repodata"
	"github.com/rpmirror/rpmirror/state"
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
	// Reused is set when the mirrors serve the revision written from
	// this origin revision with this filter already (state.Filtered):
	// the origin's metadata was not read, and the counts are zero.
	Reused bool
}

// filterKey spells a repo's filter and signing key for state.Filtered:
// what the filtered revision depends on besides the origin.
func filterKey(r *config.Repo) string {
	b, _ := json.Marshal(struct {
		Rules    filter.Rules
		SignWith string
	}{rules(r.Filter), r.SignWith})
	return string(b)
}

// reuseFiltered takes the filtered revision recorded in state when it was
// written from this origin repomd.xml with this filter and every written
// mirror serves it (with sign_with, with a good signature by its key): a
// no-op sync then needs none of the origin's metadata files. It reports
// whether it did; when it did not, nothing changed.
func (s *run) reuseFiltered() bool {
	f := s.st.Filtered
	if f == nil || len(s.mirrors) == 0 || f.OriginSHA256 != sha256Hex(s.repomd) || f.Filter != filterKey(s.repo) {
		return false
	}
	md, err := repodata.ParseRepomd(f.Repomd)
	if err != nil {
		return false
	}
	var pub []byte
	if s.repo.SignWith != "" {
		if _, pub, err = s.signingKey(); err != nil {
			return false
		}
	}
	for _, m := range s.mirrors {
		if s.repo.SignWith != "" && !signedBy(m, f.Repomd, pub) ||
			s.repo.SignWith == "" && !m.upToDate(f.Repomd, nil, nil) {
			return false
		}
	}
	s.rep.Filter = &FilterReport{OriginRevision: s.md.Revision, OriginRepomd: s.repomd, Signed: pub != nil, Reused: true}
	s.repomd, s.md, s.asc, s.key = f.Repomd, md, nil, pub
	if pub != nil {
		s.asc = s.mirrors[0].curAsc
	}
	s.rep.Repomd = s.repomd
	s.log.Info("filtered revision unchanged: the origin's repomd.xml and the filter are those it was written from", "origin_revision", s.rep.Filter.OriginRevision)
	return true
}

// rules returns the filter.Rules of a repo's filter.
func rules(f *config.Filter) filter.Rules {
	return filter.Rules{Arch: f.Arch, Include: f.Include, Exclude: f.Exclude, Newest: f.Newest}
}

// fetchMeta downloads metadata file d into the cache (cachePath) and
// verifies it, unless it is there already from this sync: fetched, or
// written by the filter.
// It is safe to call from several goroutines at once.
func (s *run) fetchMeta(ctx context.Context, d repodata.Data) error {
	s.metaMu.Lock()
	cached := s.cached[d.Checksum]
	s.metaMu.Unlock()
	dst := s.cachePath(d.Checksum)
	if cached {
		// Fetched for another entry with the same checksum: the check
		// of this entry's type still applies (a tester's origin could
		// otherwise list the zchunk file's bytes under another type
		// first, and the zchunk copy went unchecked).
		if zchunkOfPrimary(d) {
			return checkZchunkContent(dst, d, s.e.opts.MaxMetadataSize)
		}
		return nil
	}
	size := d.Size
	stream := s.stream
	if s.local != nil {
		if err := s.exportMeta(ctx, d, dst); err != nil {
			return fmt.Errorf("fetching %s: %w", d.Href, err)
		}
	}
	n, err := s.src.File(ctx, d.Href, d.Base, dst, size, func(r io.Reader) error {
		if stream != nil && stream.want == d.Checksum {
			r = &arriving{r, stream}
		}
		return verify.Content(r, size, d.Checksum)
	})
	s.metaMu.Lock()
	s.rep.Bytes += n
	s.metaMu.Unlock()
	if err != nil {
		return fmt.Errorf("fetching %s: %w", d.Href, err)
	}
	if zchunkOfPrimary(d) {
		if err := checkZchunkContent(dst, d, s.e.opts.MaxMetadataSize); err != nil {
			os.Remove(dst)
			return err
		}
	}
	s.markCached(d.Checksum)
	return nil
}

// zchunkOfPrimary reports whether d is the zchunk copy of the primary
// metadata, which dnf built with zchunk reads in place of the primary.
func zchunkOfPrimary(d repodata.Data) bool { return d.Type == "primary_zck" && d.OpenChecksum != nil }

// checkZchunkContent decompresses the zchunk file d at path and checks
// what it holds against d's open-checksum and open-size, which
// checkZchunk found equal to the primary's: so the copy holds what the
// primary holds, the primary being checked against the same digest while
// it is planned. At most max bytes are decompressed.
func checkZchunkContent(path string, d repodata.Data, max int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return zchunkContent(f, d, max)
}

// zchunkContent is checkZchunkContent of the zchunk file r gives.
func zchunkContent(r io.Reader, d repodata.Data, max int64) error {
	zr, err := zchunk.NewReader(r, max)
	if err != nil {
		return &ZchunkContentError{Type: d.Type, Href: d.Href, Err: err}
	}
	defer zr.Close()
	vr, err := verify.NewReader(io.LimitReader(zr, max+1), d.OpenSize, *d.OpenChecksum)
	if err != nil {
		return &ZchunkContentError{Type: d.Type, Href: d.Href, Err: err}
	}
	n, err := io.Copy(io.Discard, vr)
	if err == nil && n > max {
		err = fmt.Errorf("more than max_metadata_size (%d bytes) once decompressed", max)
	}
	if err != nil {
		return &ZchunkContentError{Type: d.Type, Href: d.Href, Err: err}
	}
	return nil
}

func (s *run) markCached(c repodata.Checksum) {
	s.metaMu.Lock()
	defer s.metaMu.Unlock()
	if s.cached == nil {
		s.cached = map[repodata.Checksum]bool{}
	}
	s.cached[c] = true
}

// openMeta returns the uncompressed content of metadata file d, fetched
// into the cache: decompressed on another core, bounded by its open-size
// and max_metadata_size, checked against its open-checksum.
func (s *run) openMeta(d repodata.Data) (io.ReadCloser, error) {
	return openMetaFile(s.cachePath(d.Checksum), d, s.e.opts.MaxMetadataSize)
}

// openMetaFile returns the uncompressed content of metadata file d,
// stored at file: decompressed on another core, bounded by its open-size
// and max, checked against its open-checksum (readChecked).
func openMetaFile(file string, d repodata.Data, max int64) (io.ReadCloser, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	dr, err := repodata.Decompress(f, d.Href)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", d.Href, err)
	}
	r, err := readChecked(dr, d, max)
	if err != nil {
		dr.Close()
		f.Close()
		return nil, err
	}
	return &closeBoth{r, f}, nil
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
	var meta []repodata.Data
	for _, d := range origin.Data {
		switch d.Type {
		case "primary", "filelists", "other", "filelists_ext":
			meta = append(meta, d)
		}
	}
	if err := s.fetchMetadata(ctx, meta); err != nil {
		return err
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
	if !s.dry {
		s.st.Filtered = &state.Filtered{OriginSHA256: sha256Hex(fr.OriginRepomd), Filter: filterKey(s.repo), Repomd: s.repomd}
	}
	s.log.Info("filtered", "origin_revision", origin.Revision, "packages", res.Counts.Packages, "kept", res.Counts.Kept,
		"dropped_arch", res.Counts.Arch, "dropped_include", res.Counts.Include, "dropped_exclude", res.Counts.Exclude,
		"dropped_newest", res.Counts.Newest, "metadata_dropped", fr.Dropped, "metadata_unknown", fr.Unknown)
	return nil
}

// signingKey returns sign_with's key and its armored public part.
func (s *run) signingKey() (*openpgp.Entity, []byte, error) {
	return loadSigningKey(s.repo.SignWith)
}

// sign returns an armored detached signature of repomd by the sign_with
// key, and the key's armored public part.
func (s *run) sign(repomd []byte) (asc, key []byte, err error) {
	return signRepomd(s.repo.SignWith, repomd)
}

// loadSigningKey returns the secret key in file (sign_with) and its
// armored public part, as published in repomd.xml.key.
func loadSigningKey(file string) (*openpgp.Entity, []byte, error) {
	e, err := verify.LoadSigningKey(file)
	if err != nil {
		return nil, nil, err
	}
	var pub bytes.Buffer
	w, err := armor.Encode(&pub, openpgp.PublicKeyType, nil)
	if err != nil {
		return nil, nil, err
	}
	if err := e.Serialize(w); err != nil {
		return nil, nil, fmt.Errorf("exporting the public key of %s: %w", file, err)
	}
	if err := w.Close(); err != nil {
		return nil, nil, err
	}
	pub.WriteByte('\n')
	return e, pub.Bytes(), nil
}

// signRepomd returns an armored detached signature of repomd by the key
// in file (sign_with), and the key's armored public part.
func signRepomd(file string, repomd []byte) (asc, key []byte, err error) {
	e, pub, err := loadSigningKey(file)
	if err != nil {
		return nil, nil, err
	}
	var sig bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&sig, e, bytes.NewReader(repomd), nil); err != nil {
		return nil, nil, fmt.Errorf("signing repomd.xml with %s: %w", file, err)
	}
	sig.WriteByte('\n')
	return sig.Bytes(), pub, nil
}

// signedUpToDate reports whether mirror m serves the filtered revision
// with a signature that rpmirror's key still validates: a signature is
// made anew (with a new time) on every sync that writes the revision, and
// a mirror whose repomd.xml is the same and whose signature is good needs
// nothing published.
func (s *run) signedUpToDate(m *mirror) bool {
	return signedBy(m, s.repomd, s.key)
}

// signedBy reports whether m serves repomd with pub as repomd.xml.key and
// a repomd.xml.asc that is a good signature of it by pub.
func signedBy(m *mirror, repomd, pub []byte) bool {
	if m.cur == nil || !bytes.Equal(m.cur, repomd) || !bytes.Equal(m.curKey, pub) || m.curAsc == nil {
		return false
	}
	ring, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(pub))
	if err != nil {
		return false
	}
	_, err = verify.DetachedSignature(m.cur, m.curAsc, ring)
	return err == nil
}
