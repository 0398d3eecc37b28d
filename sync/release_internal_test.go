package sync

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/internal/s3test"
	"github.com/rpmirror/rpmirror/state"
	"github.com/rpmirror/rpmirror/target"
)

// TestReleaseRefusesANewerHold: a resume lifts a mirror's hold only
// after reading its hold record again under the mirror's lock. A newer
// hold recorded there since the resume read the records (a rollback on
// another host meanwhile) is not lifted: the resume fails, naming it,
// and the record keeps it (a reviewer's finding: the resume overwrote
// it, and every host then synced past the new rollback).
func TestReleaseRefusesANewerHold(t *testing.T) {
	srv := s3test.Start(t, "mirrors")
	mc := config.Mirror{Name: "obj", S3: &config.S3{Endpoint: srv.Endpoint, Bucket: "mirrors", Prefix: "r/", Region: "us-east-1",
		CredentialsFile: s3test.CredentialsFile(t, t.TempDir()), LeaseTTL: config.DefaultLeaseTTL}}
	e := New(Options{})
	ctx := context.Background()
	tg, err := e.opts.OpenTarget(ctx, mc)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().UTC().Add(-time.Hour)
	older := &state.Hold{Repo: "r", Snapshot: "20261125T120000Z", SHA256: "aa", By: "a@host-a", At: t0}
	newer := &state.Hold{Repo: "r", Snapshot: "20261125T130000Z", SHA256: "bb", By: "b@host-b", At: t0.Add(30 * time.Minute)}
	unlock, err := tg.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeHoldRecord(ctx, tg, newer, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	unlock()

	_, err = e.claimRelease(ctx, mc, older)
	if err == nil || !strings.Contains(err.Error(), "a newer hold") || !strings.Contains(err.Error(), newer.Snapshot) {
		t.Errorf("lifting %s with %s recorded since: err = %v, want one naming the newer hold", older.Snapshot, newer.Snapshot, err)
	}
	if rec, err := ReadHoldRecord(ctx, tg); err != nil || rec == nil || rec.Hold == nil || rec.Hold.SHA256 != newer.SHA256 {
		t.Errorf("the record after the refused release: %+v, %v; want the newer hold kept", rec, err)
	}
	// The hold it names is lifted.
	c, err := e.claimRelease(ctx, mc, newer)
	if err != nil {
		t.Fatalf("claiming the mirror to lift the hold recorded: %v", err)
	}
	err = e.release(ctx, c.tg, "r", newer)
	c.unlock()
	if err != nil {
		t.Fatalf("lifting the hold recorded: %v", err)
	}
	if rec, err := ReadHoldRecord(ctx, tg); err != nil || rec == nil || rec.Hold != nil || rec.LiftedSHA256 != newer.SHA256 {
		t.Errorf("the record after the release: %+v, %v; want it lifted", rec, err)
	}
}

// TestResumeChangesAllOrNothing: a resume that cannot lock one of the
// repository's written mirrors (a sync on another host holds its lease)
// changes none: the other mirror's record still holds the repository and
// the state_dir keeps the hold, so no host syncs past it while one
// mirror still serves the snapshot. Once the lock is free, resume lifts
// the hold on both (before, the first mirror was lifted and the second
// not).
func TestResumeChangesAllOrNothing(t *testing.T) {
	srv := s3test.Start(t, "mirrors")
	creds := s3test.CredentialsFile(t, t.TempDir())
	mirror := func(name, prefix string) config.Mirror {
		return config.Mirror{Name: name, S3: &config.S3{Endpoint: srv.Endpoint, Bucket: "mirrors", Prefix: prefix, Region: "us-east-1",
			CredentialsFile: creds, LeaseTTL: config.DefaultLeaseTTL}}
	}
	repo := &config.Repo{Name: "r", Mirrors: []config.Mirror{mirror("a", "a/"), mirror("b", "b/")}}
	store, err := state.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := New(Options{Store: store})
	ctx := context.Background()
	h := &state.Hold{Repo: "r", Snapshot: "20261125T120000Z", SHA256: "aa", By: "a@host-a", At: time.Now().UTC().Add(-time.Hour).Truncate(time.Second)}
	if err := store.SaveHold(h); err != nil {
		t.Fatal(err)
	}
	tgs := make([]target.Target, 2)
	for i, mc := range repo.Mirrors {
		if tgs[i], err = e.opts.OpenTarget(ctx, mc); err != nil {
			t.Fatal(err)
		}
		unlock, err := tgs[i].Lock(ctx)
		if err != nil {
			t.Fatal(err)
		}
		err = writeHoldRecord(ctx, tgs[i], h, nil, time.Now())
		unlock()
		if err != nil {
			t.Fatal(err)
		}
	}
	held := func(when string) {
		t.Helper()
		for i, tg := range tgs {
			if rec, err := ReadHoldRecord(ctx, tg); err != nil || rec == nil || rec.Hold == nil || rec.Hold.SHA256 != h.SHA256 {
				t.Errorf("%s: mirror %s's record %+v, %v; want it still held", when, repo.Mirrors[i].Name, rec, err)
			}
		}
		if got, err := store.LoadHold("r"); err != nil || got == nil {
			t.Errorf("%s: the state_dir's hold %v, %v; want it kept", when, got, err)
		}
	}

	// Another process holds b's lease.
	mb := repo.Mirrors[1]
	sb := *mb.S3
	sb.Holder, mb.S3 = "rpmirror@host-b", &sb
	other, err := e.opts.OpenTarget(ctx, mb)
	if err != nil {
		t.Fatal(err)
	}
	unlockB, err := other.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Resume(ctx, repo)
	if !errors.Is(err, target.ErrLocked) || !strings.Contains(err.Error(), "no mirror was changed") || !strings.Contains(err.Error(), "mirror b") {
		t.Errorf("resume with mirror b locked elsewhere: err = %v, want one naming b, locked, and that nothing changed", err)
	}
	held("after the refused resume")
	unlockB()

	if _, err := e.Resume(ctx, repo); err != nil {
		t.Fatalf("resume with every mirror free: %v", err)
	}
	for i, tg := range tgs {
		if rec, err := ReadHoldRecord(ctx, tg); err != nil || rec == nil || rec.Hold != nil || rec.LiftedSHA256 != h.SHA256 {
			t.Errorf("mirror %s's record after the resume: %+v, %v; want the hold lifted", repo.Mirrors[i].Name, rec, err)
		}
	}
	if got, err := store.LoadHold("r"); err != nil || got != nil {
		t.Errorf("the state_dir's hold after the resume: %v, %v; want none", got, err)
	}
}
