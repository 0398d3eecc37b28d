package sync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/rpmirror/rpmirror/fetch"
	"github.com/rpmirror/rpmirror/repodata"
	"github.com/rpmirror/rpmirror/source"
	"github.com/rpmirror/rpmirror/verify"
)

// fetchRepomd takes the origin's repomd.xml and, when the upstream has
// them, its detached signature and key, from the first usable upstream
// (see source.Source.Choose): every metadata file of the sync then comes
// from that upstream, and packages from it or another serving the same
// revision.
func (s *run) fetchRepomd(ctx context.Context) error {
	if err := s.src.Load(ctx); err != nil {
		s.rep.Skipped = skipped(err)
		if s.rep.Skipped && s.fromMirrorHere(ctx, err) {
			return nil
		}
		return err
	}
	var refused *source.Snapshot // the first upstream's revision refused
	snap, err := s.src.Choose(ctx, func(snap *source.Snapshot) error {
		err := s.accept(snap)
		if err != nil && refused == nil {
			refused = snap
		}
		return err
	})
	if err != nil {
		s.rep.Skipped = skipped(err)
		if s.rep.Skipped && s.fromMirrorHere(ctx, err) {
			return nil
		}
		if refused != nil && !s.rep.Skipped {
			// The report names the revision that was refused.
			s.rep.Revision, s.rep.Repomd = refused.MD.Revision, refused.Repomd
		}
		return err
	}
	s.repomd, s.asc, s.key, s.md = snap.Repomd, snap.Asc, snap.Key, snap.MD
	s.rep.Revision, s.rep.Repomd = snap.MD.Revision, snap.Repomd
	if !s.repo.RepoGPGCheck {
		s.asc = s.openPGPOrNone(snap, AscPath, s.asc, verify.KindSignature)
		s.key = s.openPGPOrNone(snap, KeyPath, s.key, verify.KindPublicKey)
	}
	return nil
}

// accept checks a revision an upstream serves before the sync takes it:
// safe locations, no path of rpmirror's own, checksums strong enough, one
// checksum per file, a zchunk primary holding what the primary does, the
// signature of repomd.xml (repo_gpgcheck), and no rollback.
func (s *run) accept(snap *source.Snapshot) error {
	seen := make(map[string]repodata.Data, len(snap.MD.Data))
	for _, d := range snap.MD.Data {
		if err := checkLocation(s.repo, d.Href, d.Base); err != nil {
			return fmt.Errorf("%s: %w", d.Type, err)
		}
		if owner := reservedOwner(d.Href); owner != "" {
			return fmt.Errorf("%s: %w", d.Type, &ReservedPathError{Href: d.Href, Owner: owner})
		}
		if err := checkStrength(s.repo, d.Checksum); err != nil {
			return fmt.Errorf("%s: %w", d.Type, err)
		}
		if prev, ok := seen[d.Href]; ok && (prev.Checksum != d.Checksum || prev.Size != d.Size) {
			return &ConflictError{File: RepomdPath, Href: d.Href, First: describe(prev.Checksum, prev.Size), Then: describe(d.Checksum, d.Size)}
		}
		seen[d.Href] = d
	}
	if err := checkZchunk(snap.MD); err != nil {
		return err
	}
	if err := s.checkRepomdSignature(snap); err != nil {
		return err
	}
	// An upstream older than the current revision is refused unless
	// allow_rollback: the next may serve the current one.
	return s.checkRollback(snap)
}

// openPGPOrNone returns b, the origin's file at path (repomd.xml.asc or
// repomd.xml.key) when nothing checks it (no repo_gpgcheck), or else what
// the mirrors are to serve in its place, with a warning naming the
// upstream and the file, when it is not OpenPGP data of its kind
// (verify.SniffOpenPGP): a server that answers a file it lacks with a
// page of its own and 200 would otherwise have that page mirrored as the
// signature or key clients fetch. In its place: the one recorded with
// this very repomd.xml when it was verified, if that one is OpenPGP data
// (a page served once, where the origin signs); else none, and the
// record of one is dropped too (an older rpmirror recorded such a page),
// so that probes and verify expect none.
func (s *run) openPGPOrNone(snap *source.Snapshot, path string, b []byte, kind verify.OpenPGPKind) []byte {
	if b == nil {
		return nil
	}
	err := verify.SniffOpenPGP(b, kind)
	if err == nil {
		return b
	}
	var rec []byte
	if i := s.verified.Find(snap.SHA256); i >= 0 {
		rec = s.verified.Revisions[i].Signature
		if kind == verify.KindPublicKey {
			rec = s.verified.Revisions[i].Key
		}
	}
	if rec != nil && verify.SniffOpenPGP(rec, kind) == nil {
		s.log.Warn("keeping the "+path+" this revision was verified with: the origin's is not OpenPGP data", "upstream", fetch.Redact(snap.Upstream.URL), "file", path, "err", err)
		return rec
	}
	s.log.Warn("not mirroring the origin's "+path, "upstream", fetch.Redact(snap.Upstream.URL), "file", path, "err", err)
	if rec != nil {
		s.dropRecorded = append(s.dropRecorded, kind)
	}
	return nil
}

// checkZchunk refuses a repomd.xml that lists a zchunk copy of the
// primary (primary_zck, which dnf built with zchunk reads in place of
// primary) whose open-checksum is not the primary's: rpmirror reads the
// primary, not its zchunk copy, and a copy holding other packages would
// send clients for files no mirror has. createrepo_c and modifyrepo_c write
// both from one document, so their open-checksums are equal. What the
// zchunk file holds is checked against that digest once it is fetched
// (checkZchunkContent), and the primary against it while it is planned
// (planPrimary).
func checkZchunk(md *repodata.Repomd) error {
	for _, z := range md.Data {
		of, ok := strings.CutSuffix(z.Type, "_zck")
		if !ok || of != "primary" {
			// Only the primary locates packages. Others need not match:
			// Fedora's group_zck is made from group_xz, and group, its
			// uncompressed comps file, has no open-checksum at all.
			continue
		}
		d, ok := md.Find(of)
		if !ok {
			continue // a zchunk file of a type with no other form: nothing to differ from
		}
		switch {
		case z.OpenChecksum == nil || d.OpenChecksum == nil:
			return &ZchunkMismatchError{Type: z.Type, Of: of, Why: "an open-checksum is missing, so what they hold cannot be compared"}
		case z.OpenChecksum.Type != d.OpenChecksum.Type:
			return &ZchunkMismatchError{Type: z.Type, Of: of, Why: fmt.Sprintf("their open-checksums are of different types, %s and %s, so what they hold cannot be compared", z.OpenChecksum.Type, d.OpenChecksum.Type)}
		case *z.OpenChecksum != *d.OpenChecksum:
			return &ZchunkMismatchError{Type: z.Type, Of: of, Why: fmt.Sprintf("its open-checksum is %s, %s's %s", z.OpenChecksum, of, d.OpenChecksum)}
		}
	}
	return nil
}

// skipped reports whether a sync that met err is skipped rather than
// failed: no upstream was usable because none answered, or none served
// readable metadata matching the metalink. An upstream whose revision was
// refused (a rollback, a bad signature, unsafe metadata) fails the sync.
func skipped(err error) bool {
	var nu *source.NoUsableUpstreamError
	return errors.As(err, &nu) && !nu.Refused()
}

// checkRepomdSignature refuses the origin's revision, with repo_gpgcheck,
// unless repomd.xml.asc is a valid signature over repomd.xml by one of
// repo_gpgkeys, and, when the origin serves a repomd.xml.key and the
// mirrors will serve it too (a repo without filter), unless that file
// holds only keys of repo_gpgkeys, the signer's among them
// (*RepoKeyMismatchError). A filtered repo never publishes the origin's
// key (rpmirror's own with sign_with, or none), nor reads it: it is not
// judged. It runs on each upstream's snapshot before it is chosen: an
// upstream whose signature or key fails is skipped for the next.
func (s *run) checkRepomdSignature(snap *source.Snapshot) error {
	if !s.repo.RepoGPGCheck {
		return nil
	}
	signer, err := originSignature(snap, s.repoKeyring)
	if err != nil {
		return err
	}
	s.log.Debug("repomd.xml signature verified", "signer", signerName(signer), "fingerprint", verify.Fingerprint(signer))
	if snap.Key == nil || s.repo.Filter != nil {
		return nil
	}
	if p := repoKeyProblem(snap.Key, s.repoKeyring, signer, snap.Repomd, snap.Asc); p != nil {
		p.Origin, p.Revision = fetch.Redact(snap.Upstream.URL), snap.MD.Revision
		return p
	}
	return nil
}

// originSignature checks that snap's repomd.xml.asc is a valid signature
// of its repomd.xml by one of keyring's keys (repo_gpgkeys) and returns
// the key that made it; the error is a *RepomdSignatureError.
func originSignature(snap *source.Snapshot, keyring openpgp.EntityList) (*openpgp.Entity, error) {
	refused := func(err error) error {
		return &RepomdSignatureError{Origin: fetch.Redact(snap.Upstream.URL), Revision: snap.MD.Revision, Err: err}
	}
	if snap.Asc == nil {
		return nil, refused(&verify.SignatureError{Reason: verify.ErrUnsigned, Detail: "the origin has no " + AscPath})
	}
	signer, err := verify.DetachedSigner(snap.Repomd, snap.Asc, keyring)
	if err != nil {
		return nil, refused(err)
	}
	return signer, nil
}

// signerName is the primary user id of e, "" when it has none.
func signerName(e *openpgp.Entity) string {
	if id := e.PrimaryIdentity(); id != nil {
		return id.Name
	}
	return ""
}

// checkRollback refuses an origin whose repomd.xml is older than the
// current revision, unless the repo allows rollback: one rpmirror verified
// before the current one (a replay), or one whose numeric <revision> or
// newest <timestamp> is older than the current revision's. The current
// revision is the newest verified one; before any is recorded (a dry run
// on old state), the one the mirrors were last published with.
func (s *run) checkRollback(snap *source.Snapshot) error {
	if s.repo.AllowRollback {
		return nil
	}
	digest := snap.SHA256
	var cur []byte
	if c := s.verified.Current(); c != nil {
		if c.SHA256 == digest {
			return nil
		}
		if f := s.st.Filtered; f != nil && f.OriginSHA256 == digest && sha256Hex(f.Repomd) == c.SHA256 {
			// The origin's revision the current (filtered) one was
			// written from: the one verified before, when the repo was
			// mirrored whole, is no replay (a tester's syncs were all
			// refused as rollbacks once a filter was turned on).
			return nil
		}
		cur = c.Repomd
	} else {
		var newest *mirror
		for _, m := range s.mirrors {
			if m.cur != nil && m.st.RepomdSHA256 == sha256Hex(m.cur) && (newest == nil || m.st.PublishedAt.After(newest.st.PublishedAt)) {
				newest = m
			}
		}
		if newest == nil || bytes.Equal(newest.cur, snap.Repomd) {
			return nil
		}
		cur = newest.cur
	}
	curMd, err := repodata.ParseRepomd(cur)
	if err != nil {
		// Not expected: it parsed when it was verified. Nothing to
		// compare with.
		s.log.Warn("the current revision's repomd.xml does not parse; rollback not checked", "err", err)
		return nil
	}
	rb := &RollbackError{
		Origin:           fetch.Redact(snap.Upstream.URL),
		Revision:         snap.MD.Revision,
		CurrentRevision:  curMd.Revision,
		Timestamp:        newestTimestamp(snap.MD),
		CurrentTimestamp: newestTimestamp(curMd),
	}
	switch {
	case s.verified.Find(digest) > 0:
		rb.Replay = true
	case olderRevision(snap.MD.Revision, curMd.Revision):
	case !rb.Timestamp.IsZero() && rb.Timestamp.Before(rb.CurrentTimestamp):
	default:
		return nil
	}
	return rb
}

// newestTimestamp is the newest <timestamp> of md's data, zero when none
// has one.
func newestTimestamp(md *repodata.Repomd) time.Time {
	var n int64
	for _, d := range md.Data {
		n = max(n, d.Timestamp)
	}
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(n, 0)
}

// olderRevision reports whether revision a is older than b. Revisions are
// compared only when both are whole numbers (createrepo_c writes the Unix
// time by default); anything else is not ordered.
func olderRevision(a, b string) bool {
	x, errA := strconv.ParseUint(a, 10, 64)
	y, errB := strconv.ParseUint(b, 10, 64)
	return errA == nil && errB == nil && x < y
}

// sha256Of returns c's value when it is a SHA-256 digest, else "".
func sha256Of(c repodata.Checksum) string {
	if c.Type == "sha256" {
		return c.Value
	}
	return ""
}

// sha256Hex returns the hex sha256 digest of b.
func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
