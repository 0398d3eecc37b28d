package sync

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/rpmirror/rpmirror/internal/safefs"
	"github.com/rpmirror/rpmirror/state"
	"github.com/rpmirror/rpmirror/target"
)

// Records kept with a mirror whose target keeps them (target.Records,
// object storage), so that whichever process writes the mirror next, on
// any host and with an empty state_dir, knows what the one before knew:
//
//   - "state.json": the mirror's state (the revision published, when,
//     the files waiting to be pruned and since when, the packages stored
//     for a revision not yet published) and the repository's verified
//     revisions, as a recordState;
//   - "index": the index of the revision published (sync/index.go's
//     format, tagged with the repomd.xml it describes).
//
// They are written at the moments the state_dir is (before the packages
// are stored, before the commit, after it, at the end of the sync), each
// time after the state_dir, and only by the holder of the mirror's lock.
// When they are there, they are what the sync goes by; the state_dir's
// copy of the mirror's state is a cache of them.
const (
	stateRecord = "state.json"
	indexRecord = "index"
)

// recordState is the content of the state record.
type recordState struct {
	// Writer names the process that wrote it (its lease holder name).
	Writer   string          `json:"writer,omitempty"`
	Written  time.Time       `json:"written"`
	Mirror   *state.Mirror   `json:"mirror"`
	Verified *state.Verified `json:"verified,omitempty"`
}

// records returns m's target as target.Records, or nil.
func (m *mirror) records() target.Records {
	r, _ := m.tg.(target.Records)
	return r
}

// readRecords reads m's state record; nil when there is none (a mirror
// written before records were kept, or never) or it does not parse.
func (s *run) readRecords(ctx context.Context, m *mirror) (*recordState, error) {
	return readStateRecord(ctx, m.tg, m.cfg.Name, s.log)
}

// readStateRecord reads the state record kept with tg (mirror name); nil
// when tg keeps no records, has none, or it does not parse (logged).
func readStateRecord(ctx context.Context, tg target.Target, name string, log *slog.Logger) (*recordState, error) {
	rs, ok := tg.(target.Records)
	if !ok {
		return nil, nil
	}
	b, err := rs.ReadRecord(ctx, stateRecord)
	if errors.Is(err, target.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("mirror %s: %w", name, err)
	}
	rec := &recordState{}
	if err := json.Unmarshal(b, rec); err != nil || rec.Mirror == nil {
		log.Warn("the state record kept with the mirror does not parse; going by the state_dir and the mirror itself", "mirror", name, "err", err)
		return nil, nil
	}
	return rec, nil
}

// VerifiedFromRecords returns the verified revisions kept in tg's state
// record (the repository's, as the last writer of the mirror knew them),
// or nil when tg keeps no records or has none yet.
func VerifiedFromRecords(ctx context.Context, tg target.Target) (*state.Verified, error) {
	rs, ok := tg.(target.Records)
	if !ok {
		return nil, nil
	}
	b, err := rs.ReadRecord(ctx, stateRecord)
	if errors.Is(err, target.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	rec := &recordState{}
	if err := json.Unmarshal(b, rec); err != nil {
		return nil, fmt.Errorf("reading the state record kept with the mirror: %w", err)
	}
	return rec.Verified, nil
}

// adoptVerified merges the verified revisions of a mirror's records into
// the repository's and saves them when that taught something: a daemon
// that does not write the mirror (another holds its lease) still judges
// mirrors against what the writer verified.
func (s *run) adoptVerified(rec *recordState) error {
	if rec == nil || rec.Verified == nil || !s.verified.Merge(rec.Verified, s.now(), s.repo.MaxLag) {
		return nil
	}
	s.log.Info("verified revisions: learnt from the records kept with a mirror", "writer", rec.Writer, "current", s.verified.Current().Revision)
	if s.e.opts.DryRun {
		return nil
	}
	return s.saveVerified()
}

// adoptRecords makes m's state the one kept with it, when there is one,
// and learns its verified revisions. In a dry run m.st is a copy.
func (s *run) adoptRecords(ctx context.Context, m *mirror) error {
	rec, err := s.readRecords(ctx, m)
	if err != nil || rec == nil {
		return err
	}
	*m.st = *rec.Mirror
	return s.adoptVerified(rec)
}

// learnFromRecords is adoptRecords for a mirror this process may not
// write (its lock is held elsewhere): only the verified revisions are
// taken. Errors are logged: the sync fails for the lock anyway.
func (s *run) learnFromRecords(ctx context.Context, m *mirror) {
	rec, err := s.readRecords(ctx, m)
	if err == nil {
		err = s.adoptVerified(rec)
	}
	if err != nil {
		s.log.Warn("reading the records kept with a mirror held by another process", "mirror", m.cfg.Name, "err", err)
	}
}

// holderName names this process in records: the lease holder's name.
func holderName(tg target.Target) string {
	if lr, ok := tg.(target.LeaseReader); ok {
		return lr.Holder()
	}
	return ""
}

// saveRepoState saves a repository's state in the state_dir (tests
// record its calls).
var saveRepoState = (*state.Store).Save

// saveState saves the repository's state in the state_dir, then the
// state record of every mirror this sync holds the lock of.
func (s *run) saveState(ctx context.Context) error {
	if err := saveRepoState(s.e.opts.Store, s.st); err != nil {
		return err
	}
	for _, m := range s.mirrors {
		if err := s.writeStateRecord(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// writeStateRecord writes m's state record, when its target keeps
// records and this sync holds its lock.
func (s *run) writeStateRecord(ctx context.Context, m *mirror) error {
	if m.unlock == nil || s.e.opts.DryRun {
		return nil
	}
	return writeStateRecordTo(ctx, m.tg, m.cfg.Name, m.st, s.verified)
}

// writeStateRecordTo writes the state record of mirror name, st and the
// repository's verified revisions, with tg when it keeps records. The
// caller holds the mirror's lock.
func writeStateRecordTo(ctx context.Context, tg target.Target, name string, st *state.Mirror, verified *state.Verified) error {
	rs, ok := tg.(target.Records)
	if !ok {
		return nil
	}
	b, err := json.MarshalIndent(recordState{Writer: holderName(tg), Written: time.Now().UTC(), Mirror: st, Verified: verified}, "", " ")
	if err != nil {
		return err
	}
	if err := rs.WriteRecord(ctx, stateRecord, b); err != nil {
		return fmt.Errorf("mirror %s: %w", name, err)
	}
	return nil
}

// saveRecordsAtEnd writes the state record of every locked mirror once
// more (what pruning and the check of a current mirror changed), before
// the locks are released; a cancelled sync still does, briefly.
func (s *run) saveRecordsAtEnd(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	for _, m := range s.mirrors {
		if err := s.writeStateRecord(ctx, m); err != nil {
			s.log.Warn("saving the records kept with the mirror; the next sync rebuilds what they lack", "mirror", m.cfg.Name, "err", err)
		}
	}
}

// writeIndexRecord stores the index at src, of the revision whose
// repomd.xml has the sha256 digest, with m.
func (s *run) writeIndexRecord(ctx context.Context, m *mirror, src, digest string) error {
	if m.records() == nil || m.unlock == nil || src == "" {
		return nil
	}
	body, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	b := make([]byte, 0, len(indexMagic)+len(digest)+1+len(body))
	b = append(append(append(b, indexMagic...), digest...), '\n')
	b = append(b, body...)
	return writeIndexRecordTo(ctx, m.tg, m.cfg.Name, b)
}

// writeIndexRecordTo stores b, an index in sync/index.go's format (its
// first line naming the repomd.xml it describes), with tg when it keeps
// records. The caller holds the mirror's lock.
func writeIndexRecordTo(ctx context.Context, tg target.Target, name string, b []byte) error {
	rs, ok := tg.(target.Records)
	if !ok {
		return nil
	}
	if err := rs.WriteRecord(ctx, indexRecord, b); err != nil {
		return fmt.Errorf("mirror %s: %w", name, err)
	}
	return nil
}

// readIndexRecord returns the index kept with m if it describes the
// repomd.xml whose sha256 is digest, and keeps a copy in the state_dir.
func (s *run) readIndexRecord(ctx context.Context, m *mirror, digest string) (map[string]string, error) {
	rs := m.records()
	if rs == nil {
		return nil, errors.New("no records")
	}
	b, err := rs.ReadRecord(ctx, indexRecord)
	if err != nil {
		return nil, err
	}
	first, _, ok := bytes.Cut(b, []byte("\n"))
	if !ok || string(first) != indexMagic+digest {
		return nil, fmt.Errorf("the index kept with mirror %s describes another revision", m.cfg.Name)
	}
	idx, err := parseIndex(b, "the index kept with mirror "+m.cfg.Name, digest)
	if err != nil || s.e.opts.DryRun {
		return idx, err
	}
	// A copy in the state_dir spares the next sync the download.
	if err := safefs.WriteFile(s.e.opts.Store.Dir(), s.indexRel(m), b, 0o644); err != nil {
		s.log.Warn("keeping a copy of the index kept with the mirror", "mirror", m.cfg.Name, "err", err)
	}
	return idx, nil
}
