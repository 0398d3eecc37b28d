package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/state"
	"github.com/rpmirror/rpmirror/target"
)

// holdRecord is the record "hold.json", kept with every written mirror
// whose target keeps records (object storage): the repository's hold as
// the last rollback or resume left it. Two daemons on two hosts share
// such a mirror, each with its own state_dir; without the record, a
// rollback made on one host was undone by the other's next sync, which
// knew of no hold (an operator's HA test).
const holdRecord = "hold.json"

// HoldRecord is the content of the hold record.
type HoldRecord struct {
	// Hold is the hold, nil when the repository was resumed.
	Hold *state.Hold `json:"hold"`
	// Lifted names the hold a resume lifted (its At and SHA256), so
	// that a host that still records that hold drops it whatever the
	// hosts' clocks say.
	LiftedAt     time.Time `json:"lifted_at,omitzero"`
	LiftedSHA256 string    `json:"lifted_sha256,omitempty"`
	// Written is when the record was written, by the writer's clock.
	Written time.Time `json:"written"`
	Writer  string    `json:"writer,omitempty"`
}

// writeHoldRecord records h with tg, when tg keeps records; with h nil,
// that the hold lifted was lifted (resumed). The caller holds tg's lock.
func writeHoldRecord(ctx context.Context, tg target.Target, h, lifted *state.Hold, now time.Time) error {
	rs, ok := tg.(target.Records)
	if !ok {
		return nil
	}
	rec := HoldRecord{Hold: h, Written: now.UTC(), Writer: holderName(tg)}
	if h == nil && lifted != nil {
		rec.LiftedAt, rec.LiftedSHA256 = lifted.At, lifted.SHA256
	}
	b, err := json.MarshalIndent(rec, "", " ")
	if err != nil {
		return err
	}
	if err := rs.WriteRecord(ctx, holdRecord, b); err != nil {
		return fmt.Errorf("recording the hold with the mirror: %w", err)
	}
	return nil
}

// ReadHoldRecord returns the hold record kept with tg, or nil when tg
// keeps none (a directory mirror, or a mirror never rolled back).
func ReadHoldRecord(ctx context.Context, tg target.Target) (*HoldRecord, error) {
	rs, ok := tg.(target.Records)
	if !ok {
		return nil, nil
	}
	b, err := rs.ReadRecord(ctx, holdRecord)
	if errors.Is(err, target.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	rec := &HoldRecord{}
	if err := json.Unmarshal(b, rec); err != nil {
		return nil, fmt.Errorf("reading the hold record kept with the mirror: %w", err)
	}
	if rec.Hold != nil && rec.Hold.SHA256 == "" {
		return nil, errors.New("reading the hold record kept with the mirror: a hold without its revision")
	}
	return rec, nil
}

// Newest returns the newest of records (nil ones left out), or nil.
func Newest(records ...*HoldRecord) *HoldRecord {
	var n *HoldRecord
	for _, r := range records {
		if r != nil && (n == nil || r.Written.After(n.Written)) {
			n = r
		}
	}
	return n
}

// EffectiveHold is the hold a process goes by, given the one its
// state_dir records (local, nil when none) and the newest record kept
// with the mirrors (rec, nil when none): whichever was made last. A hold
// recorded with the mirrors after the local one (or when there is none)
// holds the repository; a resume recorded there lifts the local hold
// when that was made no later than the hold the resume lifted (it is
// that hold, or one it replaced); otherwise the local one stands.
func EffectiveHold(local *state.Hold, rec *HoldRecord) *state.Hold {
	switch {
	case rec == nil:
		return local
	case rec.Hold == nil:
		if local == nil {
			return nil
		}
		if rec.LiftedSHA256 != "" {
			if !local.At.After(rec.LiftedAt) {
				// This very hold was lifted elsewhere, or one this host
				// made before the hold that was lifted replaced it.
				return nil
			}
			return local // made after the hold that was lifted
		}
		if rec.Written.After(local.At) {
			return nil // resumed elsewhere after this hold was made
		}
		return local
	case local == nil || rec.Hold.At.After(local.At):
		return rec.Hold
	case rec.Hold.At.Equal(local.At) && rec.Hold.SHA256 == local.SHA256 && local.Done.IsZero() && !rec.Hold.Done.IsZero():
		return rec.Hold // the same hold, done since
	}
	return local
}

// ForRepo returns h as a hold of repo: a hold read from a record names
// the repository as the host that wrote it calls it, which may not be
// this configuration's name (nor a name a record should choose). h
// itself is returned when it names repo already, nil for nil.
func ForRepo(h *state.Hold, repo string) *state.Hold {
	if h == nil || h.Repo == repo {
		return h
	}
	c := *h
	c.Repo = repo
	return &c
}

// heldByRecords returns the newest hold record kept with the written
// mirrors of repo (read without their locks), nil when none keeps one.
func (e *Engine) heldByRecords(ctx context.Context, repo *config.Repo) (*HoldRecord, error) {
	var recs []*HoldRecord
	for _, mc := range repo.Mirrors {
		if !mc.Written() {
			continue
		}
		tg, err := e.opts.OpenTarget(ctx, mc)
		if err != nil {
			return nil, fmt.Errorf("mirror %s: %w", mc.Name, err)
		}
		rec, err := ReadHoldRecord(ctx, tg)
		if err != nil {
			return nil, fmt.Errorf("mirror %s: %w", mc.Name, err)
		}
		recs = append(recs, rec)
	}
	return Newest(recs...), nil
}

// keepsRecords reports whether a written mirror of repo keeps records
// (object storage), hence maybe a hold record.
func keepsRecords(repo *config.Repo) bool {
	return slices.ContainsFunc(repo.Mirrors, func(m config.Mirror) bool { return m.Written() && m.Kind() == "s3" })
}

// adoptHold brings the state_dir's hold in line with the newest hold
// record kept with the sync's mirrors, and refuses the sync when the
// repository is held. With records to read, it runs once the mirrors
// are open (and, but in a dry run, locked); without, before anything.
func (s *run) adoptHold(ctx context.Context) error {
	store := s.e.opts.Store
	local, err := store.LoadHold(s.repo.Name)
	if err != nil {
		return err
	}
	var recs []*HoldRecord
	for _, m := range s.mirrors {
		rec, err := ReadHoldRecord(ctx, m.tg)
		if err != nil {
			return fmt.Errorf("mirror %s: %w", m.cfg.Name, err)
		}
		recs = append(recs, rec)
	}
	h := ForRepo(EffectiveHold(local, Newest(recs...)), s.repo.Name)
	if h != local && !s.dry {
		if h == nil {
			s.log.Info("the repository was resumed on another host (the hold record kept with its mirrors says so)", "was_at", local.Snapshot)
			err = store.RemoveHold(s.repo.Name)
		} else {
			s.log.Info("the repository was rolled back on another host (the hold record kept with its mirrors says so)", "snapshot", h.Snapshot, "by", h.By)
			err = store.SaveHold(h)
		}
		if err != nil {
			return err
		}
	}
	if h != nil {
		s.log.Info("sync skipped: the repository is held", "snapshot", h.Snapshot, "by", h.By, "since", h.At)
		return &HeldError{Hold: h}
	}
	return nil
}
