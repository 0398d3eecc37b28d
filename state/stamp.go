package state

import (
	"os"
	"path/filepath"
	"time"
)

// Stamp says when a repository's records in the state_dir were last
// written, by whichever process: its verified revisions (SaveVerified),
// its hold (SaveHold, RemoveHold) and its state (Save, which a sync, a
// rollback and a resume do last). Two stamps that differ tell that
// another rpmirror changed the repository in between: rpmirror serve
// looks every few seconds, so that a sync, rollback or resume run beside
// it is followed at once rather than at its next probe round.
type Stamp struct {
	Verified, Hold, State time.Time
}

// Equal reports whether s and o stamp the same writes.
func (s Stamp) Equal(o Stamp) bool {
	return s.Verified.Equal(o.Verified) && s.Hold.Equal(o.Hold) && s.State.Equal(o.State)
}

// Stamp returns repo's stamp: the modification times of its files, zero
// for a file that is absent (a hold removed changes the stamp too).
func (s *Store) Stamp(repo string) Stamp {
	return Stamp{
		Verified: s.modTime(s.verifiedRel(repo)),
		Hold:     s.modTime(s.holdRel(repo)),
		State:    s.modTime(s.rel(repo)),
	}
}

func (s *Store) modTime(rel string) time.Time {
	fi, err := os.Lstat(filepath.Join(s.dir, filepath.FromSlash(rel)))
	if err != nil {
		return time.Time{}
	}
	return fi.ModTime()
}
