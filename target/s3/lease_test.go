package s3_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/internal/s3test"
	"github.com/rpmirror/rpmirror/target"
	"github.com/rpmirror/rpmirror/target/s3"
)

// leaseTTL is short so the tests are quick; renewals come every second,
// so a loaded machine has two seconds of slack.
const leaseTTL = 3 * time.Second

func lockers(t *testing.T) (a, b *s3.S3) {
	t.Parallel()
	srv := s3test.Start(t, "bkt")
	ttl := func(c *s3.Config) { c.LeaseTTL = leaseTTL }
	return newTarget(t, srv, "bkt", "repo/", ttl), newTarget(t, srv, "bkt", "repo/", ttl)
}

// lockWithin tries Lock until it succeeds or d passes.
func lockWithin(t *testing.T, tg *s3.S3, d time.Duration) (func(), error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		unlock, err := tg.Lock(context.Background())
		if err == nil || !errors.Is(err, target.ErrLocked) || time.Now().After(deadline) {
			return unlock, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestLeaseIsExclusive: while A renews, B cannot take the lease, however
// long it tries; B's error names A.
func TestLeaseIsExclusive(t *testing.T) {
	a, b := lockers(t)
	unlock, err := a.Lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	deadline := time.Now().Add(2 * leaseTTL)
	for time.Now().Before(deadline) {
		_, err := b.Lock(context.Background())
		if !errors.Is(err, target.ErrLocked) {
			t.Fatalf("B's Lock while A renews: err = %v, want ErrLocked", err)
		}
		if !strings.Contains(err.Error(), a.Holder()) {
			t.Errorf("B's error does not name the holder %s: %v", a.Holder(), err)
		}
		time.Sleep(300 * time.Millisecond)
	}
	// A still writes.
	ctx := context.Background()
	if err := a.Put(ctx, target.File{Path: "x.rpm", Local: writeFile(t, []byte("x")), Size: 1}); err != nil {
		t.Errorf("A's Put while holding the lease: %v", err)
	}
	// Released, the lease is B's at once.
	unlock()
	unlockB, err := b.Lock(ctx)
	if err != nil {
		t.Fatalf("B's Lock after A released: %v", err)
	}
	unlockB()
}

// TestLeaseTakeover: A stops renewing (a hung or killed daemon); B takes
// the lease over once it expires, and A's next Put and Remove fail with
// a LeaseLostError before writing; A's renewal finds it taken over.
func TestLeaseTakeover(t *testing.T) {
	a, b := lockers(t)
	ctx := context.Background()
	unlockA, err := a.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer unlockA()
	a.StopRenewing()
	// Expiry is judged by the store's whole-second clock: the lease
	// lapses between TTL and TTL+2s after A's last write. Give it
	// ample time on a loaded machine.
	unlockB, err := lockWithin(t, b, 5*leaseTTL)
	if err != nil {
		t.Fatalf("B could not take over A's expired lease: %v", err)
	}
	defer unlockB()

	for name, write := range map[string]func() error{
		"Put":    func() error { return a.Put(ctx, target.File{Path: "a.rpm", Local: writeFile(t, []byte("a")), Size: 1}) },
		"Remove": func() error { return a.Remove(ctx, "b.rpm") },
		"Commit": func() error {
			return a.Commit(ctx, []target.File{{Path: "a.rpm", Local: writeFile(t, []byte("a")), Size: 1}}, nil)
		},
	} {
		err := write()
		var lost *s3.LeaseLostError
		if !errors.As(err, &lost) || !errors.Is(err, target.ErrLockLost) {
			t.Errorf("A's %s after losing the lease: err = %v, want a LeaseLostError", name, err)
		}
	}
	if _, err := a.Stat(ctx, "a.rpm"); !errors.Is(err, target.ErrNotExist) {
		t.Errorf("A wrote after losing its lease: Stat err = %v", err)
	}
	lost, err := a.RenewNow(ctx)
	if err != nil || !lost {
		t.Errorf("A's renewal after B took over: lost = %v, err = %v; want lost", lost, err)
	}
	// B holds it and writes.
	if err := b.Put(ctx, target.File{Path: "b.rpm", Local: writeFile(t, []byte("b")), Size: 1}); err != nil {
		t.Errorf("B's Put: %v", err)
	}
	// A's unlock must not release B's lease.
	unlockA()
	if _, err := a.Lock(ctx); !errors.Is(err, target.ErrLocked) {
		t.Errorf("after A's unlock, B's lease is gone: A's Lock err = %v", err)
	}
}

// TestLeaseLostOnRenewal: a takeover is noticed by the holder's renewal,
// not only by time: after it, writes fail even within the TTL.
func TestLeaseLostOnRenewal(t *testing.T) {
	a, b := lockers(t)
	ctx := context.Background()
	unlockA, err := a.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer unlockA()
	a.StopRenewing()
	unlockB, err := lockWithin(t, b, 5*leaseTTL)
	if err != nil {
		t.Fatal(err)
	}
	defer unlockB()
	if lost, err := a.RenewNow(ctx); err != nil || !lost {
		t.Fatalf("RenewNow: lost = %v, err = %v", lost, err)
	}
	err = a.Put(ctx, target.File{Path: "a.rpm", Local: writeFile(t, []byte("a")), Size: 1})
	var ll *s3.LeaseLostError
	if !errors.As(err, &ll) || !strings.Contains(ll.Reason, b.Holder()) {
		t.Errorf("Put after the renewal found B's lease: err = %v, want a LeaseLostError naming %s", err, b.Holder())
	}
}

// TestLeaseRenewalAnsweredLate: a renewal the store applied but answered
// after the holder gave up waiting (a loaded machine, a slow network)
// leaves the lease with an ETag the holder never saw. The holder's next
// renewal fails its If-Match, finds its own write there, and keeps the
// lease: it is not lost to a takeover by no one.
func TestLeaseRenewalAnsweredLate(t *testing.T) {
	srv := s3test.Start(t, "bkt")
	u, err := url.Parse(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	var late atomic.Bool
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(r *http.Response) error {
		if late.Load() && r.Request.Method == http.MethodPut && strings.HasSuffix(r.Request.URL.Path, "/.rpmirror/lease") {
			time.Sleep(leaseTTL/3 + time.Second) // past the renewal's timeout
		}
		return nil
	}
	proxy := httptest.NewServer(rp)
	defer proxy.Close()
	tg := newTarget(t, &s3test.Server{Endpoint: proxy.URL, Dir: srv.Dir}, "bkt", "repo/", func(c *s3.Config) { c.LeaseTTL = leaseTTL })
	ctx := context.Background()
	unlock, err := tg.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	tg.StopRenewing() // renewals below, one at a time
	late.Store(true)
	if lost, err := tg.RenewNow(ctx); err != nil || lost {
		t.Fatalf("renewal answered late: lost %v, err %v; want neither", lost, err)
	}
	late.Store(false)
	for i := range 2 {
		if lost, err := tg.RenewNow(ctx); err != nil || lost {
			t.Fatalf("renewal %d after the late one: lost %v, err %v; want neither", i+1, lost, err)
		}
	}
	f := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := tg.Put(ctx, target.File{Path: "a", Local: f, Size: 1}); err != nil {
		t.Errorf("Put after the renewals: %v", err)
	}
}

// TestLeaseRefusedByStore: a store that refuses the lease's write with a
// 409 other than a conditional conflict (versitygw's
// ExistingObjectIsDirectory, where the bucket is a directory tree and
// the lease's key is a directory) fails Lock with that error, not
// ErrLocked: taken for a lost race, it had two daemons retry the
// takeover of a lease no one held, hundreds of times a minute, with
// nothing in /status.
func TestLeaseRefusedByStore(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t, "bkt")
	tg := newTarget(t, srv, "bkt", "repo/", func(c *s3.Config) { c.LeaseTTL = leaseTTL })
	if err := os.MkdirAll(filepath.Join(srv.Dir, "bkt", "repo", ".rpmirror", "lease", "in-the-way"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := tg.Lock(context.Background())
	if err == nil || errors.Is(err, target.ErrLocked) {
		t.Fatalf("Lock where the store refuses the lease's write: err = %v, want an error other than ErrLocked", err)
	}
	if !strings.Contains(err.Error(), "writing the lease") {
		t.Errorf("the error does not say what was being done: %v", err)
	}
}
