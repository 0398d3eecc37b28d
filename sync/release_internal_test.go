package sync

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/internal/s3test"
	"github.com/rpmirror/rpmirror/state"
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

	err = e.release(ctx, mc, "r", older)
	if err == nil || !strings.Contains(err.Error(), "a newer hold") || !strings.Contains(err.Error(), newer.Snapshot) {
		t.Errorf("lifting %s with %s recorded since: err = %v, want one naming the newer hold", older.Snapshot, newer.Snapshot, err)
	}
	if rec, err := ReadHoldRecord(ctx, tg); err != nil || rec == nil || rec.Hold == nil || rec.Hold.SHA256 != newer.SHA256 {
		t.Errorf("the record after the refused release: %+v, %v; want the newer hold kept", rec, err)
	}
	// The hold it names is lifted.
	if err := e.release(ctx, mc, "r", newer); err != nil {
		t.Fatalf("lifting the hold recorded: %v", err)
	}
	if rec, err := ReadHoldRecord(ctx, tg); err != nil || rec == nil || rec.Hold != nil || rec.LiftedSHA256 != newer.SHA256 {
		t.Errorf("the record after the release: %+v, %v; want it lifted", rec, err)
	}
}
