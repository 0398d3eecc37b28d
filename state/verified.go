package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"time"
)

// Bounds of the verified revisions kept per repository, besides the
// current one: every earlier revision superseded less than max_lag ago,
// but never fewer than MinEarlier (so that a mirror serving one of them
// is reported as "behind by 30h", not as serving unknown content) nor
// more than MaxEarlier (a repository publishing every few minutes must not
// grow the file without bound).
const (
	MinEarlier = 3
	MaxEarlier = 32
)

// Revision is one revision of a repository that rpmirror verified: its
// repomd.xml, every metadata file it names and every package its primary
// metadata names passed their checksums and, with gpgkeys, their
// signatures.
type Revision struct {
	// Revision is the <revision> of the repomd.xml ("" when it has none).
	Revision string `json:"revision,omitempty"`
	// SHA256 is the hex digest of Repomd.
	SHA256 string `json:"sha256"`
	// Repomd is the repomd.xml, byte for byte as verified: mirrors are
	// compared with it and the metalink describes it.
	Repomd []byte `json:"repomd"`
	// VerifiedAt is when rpmirror verified it.
	VerifiedAt time.Time `json:"verified_at"`
	// SupersededAt is when a newer revision was verified; zero for the
	// current revision.
	SupersededAt time.Time `json:"superseded_at,omitzero"`
	// Packages is a sample of the package hrefs of the revision, so that
	// probes can check a mirror serving it also serves its packages.
	Packages []string `json:"packages,omitempty"`
	// PackageSizes are the sizes of Packages, in the same order, as the
	// revision's primary metadata gives them (<size package>; -1 where
	// it gives none), so that probes can check the size a mirror serves
	// each at. State written before sizes were recorded has none: the
	// sample is then checked for presence only until a sync records a
	// sample with sizes (see HasSizes).
	PackageSizes []int64 `json:"package_sizes,omitempty"`
	// Signature is repodata/repomd.xml.asc, the detached signature served
	// beside Repomd (the origin's, or sign_with's), byte for byte; nil
	// when none was. A mirror serving this revision must serve it too:
	// dnf with repo_gpgcheck refuses the mirror otherwise, missing or
	// another (the previous revision's, of the same size), and does not
	// try the next. Probes fetch it and compare.
	Signature []byte `json:"signature,omitempty"`
	// Key is repodata/repomd.xml.key as served beside Repomd when rpmirror
	// verified it (the origin's; sign_with's public key for a filtered
	// repository), byte for byte; nil when none was, or the revision was
	// recorded before keys were. rpmirror verify checks that a mirror
	// serving this revision serves it, and --repair puts it back: dnf
	// with gpgkey=<mirror>/repodata/repomd.xml.key imports it.
	Key []byte `json:"key,omitempty"`
}

// HasSizes reports whether the revision's package sample has a size for
// each package.
func (r *Revision) HasSizes() bool {
	return len(r.Packages) > 0 && len(r.PackageSizes) == len(r.Packages)
}

// betterSample reports whether the package sample of got is better than
// that of have: have has none, or has no sizes where got has.
func betterSample(have, got *Revision) bool {
	return len(got.Packages) > 0 && (len(have.Packages) == 0 || (!have.HasSizes() && got.HasSizes()))
}

// takeSample makes the package sample of r that of from.
func (r *Revision) takeSample(from *Revision) {
	r.Packages, r.PackageSizes = from.Packages, from.PackageSizes
}

// Verified is the list of the revisions of one repository that rpmirror
// verified, newest first: the first is the current revision.
type Verified struct {
	Repo      string     `json:"repo"`
	Revisions []Revision `json:"revisions"`
}

// Current returns the current revision, or nil when none was verified.
func (v *Verified) Current() *Revision {
	if v == nil || len(v.Revisions) == 0 {
		return nil
	}
	return &v.Revisions[0]
}

// Find returns the index of the revision whose repomd.xml has the hex
// sha256 digest sum, or -1.
func (v *Verified) Find(sum string) int {
	if v == nil {
		return -1
	}
	for i := range v.Revisions {
		if v.Revisions[i].SHA256 == sum {
			return i
		}
	}
	return -1
}

// Add makes rev the current revision, verified at now, and reports
// whether the list changed. The revision it replaces is superseded at
// now. A revision already current only gains the package sample it may
// lack (or the sizes its sample lacks, recorded by an older rpmirror);
// one already in the list further down (an origin going back to it)
// moves to the front. Earlier revisions are then bounded (see
// MinEarlier): those superseded more than maxLag ago go first.
func (v *Verified) Add(rev Revision, now time.Time, maxLag time.Duration) bool {
	if cur := v.Current(); cur != nil && cur.SHA256 == rev.SHA256 {
		if betterSample(cur, &rev) {
			cur.takeSample(&rev)
			return true
		}
		return false
	}
	if i := v.Find(rev.SHA256); i > 0 {
		if betterSample(&rev, &v.Revisions[i]) {
			rev.takeSample(&v.Revisions[i])
		}
		v.Revisions = append(v.Revisions[:i], v.Revisions[i+1:]...)
	}
	rev.VerifiedAt, rev.SupersededAt = now, time.Time{}
	if cur := v.Current(); cur != nil {
		cur.SupersededAt = now
	}
	v.Revisions = append([]Revision{rev}, v.Revisions...)
	keep := 1
	for i := 1; i < len(v.Revisions) && i <= MaxEarlier; i++ {
		if i > MinEarlier && now.Sub(v.Revisions[i].SupersededAt) >= maxLag {
			break
		}
		keep = i + 1
	}
	v.Revisions = v.Revisions[:keep]
	return true
}

// VerifiedIndexPath is where the index of the current verified revision
// of a repository with no written mirror is kept (every package href with
// its checksum), so that verifying its next revision fetches only the
// packages that changed.
func (s *Store) VerifiedIndexPath(repo string) string {
	return filepath.Join(s.dir, "verified", repo+".idx")
}

func (s *Store) verifiedRel(repo string) string { return "verified/" + repo + ".json" }

// VerifiedModTime returns when the verified revisions of repo were last
// saved (SaveVerified), by whichever process; zero when never.
func (s *Store) VerifiedModTime(repo string) time.Time { return s.modTime(s.verifiedRel(repo)) }

// LoadVerified returns the verified revisions of repo; a repository
// never verified has none.
func (s *Store) LoadVerified(repo string) (*Verified, error) {
	v := &Verified{Repo: repo}
	b, err := s.read(s.verifiedRel(repo))
	if errors.Is(err, fs.ErrNotExist) {
		return v, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the verified revisions of %s: %w", repo, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("reading the verified revisions of %s from %s: %w", repo, filepath.Join(s.dir, s.verifiedRel(repo)), err)
	}
	v.Repo = repo
	return v, nil
}

// SaveVerified writes v atomically, never through a symlink. Only the
// process holding the repository's lock (Lock) may call it.
func (s *Store) SaveVerified(v *Verified) error {
	return s.writeRecord("verified", s.verifiedRel(v.Repo), v, true, "the verified revisions of "+v.Repo)
}

// SetSignature records sig as the signature of the revision whose
// repomd.xml has the hex sha256 digest sum (Revision.Signature), and
// reports whether that changed anything: an origin that signs an
// unchanged repomd.xml again serves a new signature, which the mirrors
// then get.
func (v *Verified) SetSignature(sum string, sig []byte) bool {
	i := v.Find(sum)
	if i < 0 || bytes.Equal(v.Revisions[i].Signature, sig) {
		return false
	}
	v.Revisions[i].Signature = bytes.Clone(sig)
	return true
}

// Forget drops the signature (or, with key, the repomd.xml.key) recorded
// with the revision whose repomd.xml has the hex sha256 digest sum, and
// reports whether there was one.
func (v *Verified) Forget(sum string, key bool) bool {
	i := v.Find(sum)
	if i < 0 {
		return false
	}
	r := &v.Revisions[i]
	if key {
		had := r.Key != nil
		r.Key = nil
		return had
	}
	had := r.Signature != nil
	r.Signature = nil
	return had
}

// Merge adds to v the revisions of o it lacks (another process's
// verified revisions, read from a mirror's records) and reports whether v
// changed. The revisions are then ordered newest verified first, so the
// current revision is the one verified last by either; a revision that
// a newer one follows counts as superseded when that one was verified.
// The list is bounded as by Add.
func (v *Verified) Merge(o *Verified, now time.Time, maxLag time.Duration) bool {
	if o == nil {
		return false
	}
	changed := false
	for _, r := range o.Revisions {
		if i := v.Find(r.SHA256); i >= 0 {
			if betterSample(&v.Revisions[i], &r) {
				v.Revisions[i].takeSample(&r)
				changed = true
			}
			if r.VerifiedAt.After(v.Revisions[i].VerifiedAt) {
				// Verified again since (an origin gone back to it, synced
				// with allow_rollback): as recent as that, current again
				// if nothing newer was verified (a daemon kept the
				// revision it had verified later as current).
				v.Revisions[i].VerifiedAt, v.Revisions[i].SupersededAt = r.VerifiedAt, r.SupersededAt
				changed = true
			}
			continue
		}
		v.Revisions = append(v.Revisions, r)
		changed = true
	}
	if !changed {
		return false
	}
	sort.SliceStable(v.Revisions, func(i, j int) bool { return v.Revisions[i].VerifiedAt.After(v.Revisions[j].VerifiedAt) })
	v.Revisions[0].SupersededAt = time.Time{}
	for i := 1; i < len(v.Revisions); i++ {
		if v.Revisions[i].SupersededAt.IsZero() {
			v.Revisions[i].SupersededAt = v.Revisions[i-1].VerifiedAt
		}
	}
	keep := 1
	for i := 1; i < len(v.Revisions) && i <= MaxEarlier; i++ {
		if i > MinEarlier && now.Sub(v.Revisions[i].SupersededAt) >= maxLag {
			break
		}
		keep = i + 1
	}
	v.Revisions = v.Revisions[:keep]
	return true
}
