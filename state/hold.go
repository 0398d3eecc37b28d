package state

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/rpmirror/rpmirror/internal/safefs"
)

// Hold is a repository rolled back to one of its snapshots (rpmirror
// rollback): every written mirror serves that snapshot's revision, and no
// sync moves the repository forward until rpmirror resume removes the
// hold. Mirrors are judged against the held revision meanwhile (see
// Verified.WithHold).
type Hold struct {
	Repo string `json:"repo"`
	// Snapshot is the name of the snapshot the repository was rolled
	// back to, Revision its repomd.xml's <revision>.
	Snapshot string `json:"snapshot"`
	Revision string `json:"revision,omitempty"`
	// SHA256 is the hex digest of Repomd, the snapshot's repomd.xml.
	SHA256 string `json:"sha256"`
	Repomd []byte `json:"repomd"`
	// Packages is a sample of the snapshot's package hrefs, for probes,
	// and PackageSizes their sizes (as Revision's; none in holds recorded
	// before sizes were).
	Packages     []string `json:"packages,omitempty"`
	PackageSizes []int64  `json:"package_sizes,omitempty"`
	// Signature is the snapshot's repodata/repomd.xml.asc, nil when it
	// has none (or the hold was recorded before signatures were): probes
	// check that mirrors serve it beside the held repomd.xml, as they do
	// for a verified revision (Revision.Signature).
	Signature []byte `json:"signature,omitempty"`
	// Unsigned is set when the snapshot has no repomd.xml.asc: the
	// mirrors serve none while held, and probes ask for none (a hold
	// recorded before this field, with no Signature, takes the verified
	// revision's).
	Unsigned bool `json:"unsigned,omitempty"`
	// By is who rolled back: user@host (the user sudo was run by, when
	// it was).
	By string    `json:"by"`
	At time.Time `json:"at"`
	// Done is when rpmirror rollback finished bringing the written
	// mirrors to the snapshot (each republished, or failed to be). It
	// saves the hold twice: first without Done, so that nothing syncs
	// past the snapshot meanwhile, then with it. While Done is zero and
	// the rollback holds the repository's lock, a written mirror that
	// does not serve the snapshot yet is pending, not stale, and so is
	// one judged on a probe from before Done. (Holds recorded before
	// Done was have none, and no lock held: judged as they were.)
	Done time.Time `json:"done,omitzero"`
}

func (s *Store) holdRel(repo string) string { return "holds/" + repo + ".json" }

// LoadHold returns the hold of repo, or nil when it is not held.
func (s *Store) LoadHold(repo string) (*Hold, error) {
	h, err := readRecord[Hold](s, s.holdRel(repo), "the hold of "+repo)
	if h != nil {
		h.Repo = repo
	}
	return h, err
}

// SaveHold records h atomically, never through a symlink. Only the
// process holding the repository's lock (Lock) may call it.
func (s *Store) SaveHold(h *Hold) error {
	return s.writeRecord("holds", s.holdRel(h.Repo), h, true, "the hold of "+h.Repo)
}

// RemoveHold removes the hold of repo; a repo not held is not an error.
// Only the process holding the repository's lock may call it.
func (s *Store) RemoveHold(repo string) error {
	if err := safefs.Check(s.dir, s.holdRel(repo)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	if err := os.Remove(filepath.Join(s.dir, filepath.FromSlash(s.holdRel(repo)))); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing the hold of %s: %w", repo, err)
	}
	if err := safefs.SyncDir(filepath.Join(s.dir, "holds")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing the hold of %s: %w", repo, err)
	}
	return nil
}

// WithHold returns the verified revisions as mirrors are judged while h
// holds the repository: the held revision alone, current since h.At, with
// its package sample and signature (those rpmirror verified with it when
// the hold has none). Mirrors serving any other revision, newer ones
// included, are not serving what the repository is held at. With h nil,
// v itself is returned.
func (v *Verified) WithHold(h *Hold) *Verified {
	if h == nil {
		return v
	}
	rev := Revision{Revision: h.Revision, SHA256: h.SHA256, Repomd: h.Repomd, VerifiedAt: h.At, Packages: h.Packages, PackageSizes: h.PackageSizes, Signature: h.Signature}
	if len(rev.PackageSizes) != len(rev.Packages) {
		rev.PackageSizes = nil
	}
	if i := v.Find(h.SHA256); i >= 0 {
		vr := &v.Revisions[i]
		if betterSample(&rev, vr) {
			rev.Packages, rev.PackageSizes = slices.Clone(vr.Packages), slices.Clone(vr.PackageSizes)
		}
		if rev.VerifiedAt.IsZero() {
			rev.VerifiedAt = vr.VerifiedAt
		}
		if rev.Signature == nil && !h.Unsigned {
			rev.Signature = vr.Signature
		}
	}
	repo := h.Repo
	if v != nil {
		repo = v.Repo
	}
	return &Verified{Repo: repo, Revisions: []Revision{rev}}
}
