package state

import (
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Stamp says when and how a repository's records in the state_dir were
// last written, by whichever process: its verified revisions
// (SaveVerified), its hold (SaveHold, RemoveHold) and its state (Save,
// which a sync, a rollback and a resume do last). Two stamps that differ
// tell that the records were written in between: rpmirror serve looks
// every few seconds, so that a sync, rollback or resume run beside it is
// followed at once rather than at its next probe round.
type Stamp struct {
	Verified, Hold, State FileStamp
}

// FileStamp identifies one write of a file: every write replaces it with
// a new file (renamed into place), so its inode changes even where the
// modification time does not (a filesystem with whole seconds, or two
// writes in one tick of its clock). The zero FileStamp is a file that is
// absent.
type FileStamp struct {
	ModTime time.Time
	Inode   uint64
	Size    int64
}

// Equal reports whether s and o stamp the same writes.
func (s Stamp) Equal(o Stamp) bool {
	return s.Verified.Equal(o.Verified) && s.Hold.Equal(o.Hold) && s.State.Equal(o.State)
}

// Equal reports whether f and o stamp the same write.
func (f FileStamp) Equal(o FileStamp) bool {
	return f.ModTime.Equal(o.ModTime) && f.Inode == o.Inode && f.Size == o.Size
}

// Stamp returns repo's stamp (a hold removed changes it too).
func (s *Store) Stamp(repo string) Stamp {
	return Stamp{
		Verified: s.fileStamp(s.verifiedRel(repo)),
		Hold:     s.fileStamp(s.holdRel(repo)),
		State:    s.fileStamp(s.rel(repo)),
	}
}

func (s *Store) fileStamp(rel string) FileStamp {
	fi, err := os.Lstat(filepath.Join(s.dir, filepath.FromSlash(rel)))
	if err != nil {
		return FileStamp{}
	}
	f := FileStamp{ModTime: fi.ModTime(), Size: fi.Size()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		f.Inode = st.Ino
	}
	return f
}

func (s *Store) modTime(rel string) time.Time { return s.fileStamp(rel).ModTime }
