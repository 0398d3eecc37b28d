package sync_test

import (
	"context"
	"path/filepath"
	gosync "sync"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/fetch"
	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/sync"
	"github.com/rpmirror/rpmirror/target"
	"github.com/rpmirror/rpmirror/target/local"
)

// overlapRemoves is a target whose Remove holds each call until another
// is under way too (or until a bound passes), and counts the most calls
// under way at once.
type overlapRemoves struct {
	target.Target
	mu      gosync.Mutex
	now     int
	most    int
	calls   int
	another chan struct{} // closed once two calls overlapped
}

func (o *overlapRemoves) Remove(ctx context.Context, p string) error {
	o.mu.Lock()
	o.now++
	o.calls++
	o.most = max(o.most, o.now)
	if o.now >= 2 {
		select {
		case <-o.another:
		default:
			close(o.another)
		}
	}
	o.mu.Unlock()
	select {
	case <-o.another:
	case <-time.After(3 * time.Second): // one at a time: do not hang
	}
	err := o.Target.Remove(ctx, p)
	o.mu.Lock()
	o.now--
	o.mu.Unlock()
	return err
}

// TestPruneRemovesAtOnce: the files an update leaves unused (prune_after
// 0) are deleted several at a time, not one after another, and every one
// of them is gone afterwards with the mirrors consistent.
func TestPruneRemovesAtOnce(t *testing.T) {
	key := testrepo.TestKey(t)
	base := t.TempDir()
	v1, v2 := filepath.Join(base, "v1"), filepath.Join(base, "v2")
	buildRepo(t, v1, "", testrepo.RepoOpts{}, testrepo.DemoPackages(key)...)
	buildRepo(t, v2, v1, testrepo.RepoOpts{}, testrepo.DemoV2Packages(key)...)
	o := newOrigin(t, filepath.Join(base, "origin"))
	republish(t, o, v1)
	h := newHarness(t, o, key.PublicPath)
	var (
		mu      gosync.Mutex
		targets []*overlapRemoves
	)
	eng := sync.New(sync.Options{Store: h.store, Fetcher: fetch.New(fetch.Options{}), Now: func() time.Time { return h.now },
		OpenTarget: func(_ context.Context, m config.Mirror) (target.Target, error) {
			tg, err := local.New(m.Path)
			if err != nil {
				return nil, err
			}
			o := &overlapRemoves{Target: tg, another: make(chan struct{})}
			mu.Lock()
			targets = append(targets, o)
			mu.Unlock()
			return o, nil
		}})
	if rep := eng.Sync(context.Background(), h.repo); rep.Err != nil {
		t.Fatalf("first sync: %v", rep.Err)
	}
	republish(t, o, v2)
	targets = nil
	rep := eng.Sync(context.Background(), h.repo)
	if rep.Err != nil {
		t.Fatalf("update: %v", rep.Err)
	}
	h.checkMirrors()
	if len(targets) != len(h.mirrors) {
		t.Fatalf("%d targets opened for %d mirrors", len(targets), len(h.mirrors))
	}
	for i, tg := range targets {
		if tg.calls < 2 {
			t.Fatalf("mirror %d: %d files pruned; the update should leave several unused", i, tg.calls)
		}
		if tg.most < 2 {
			t.Errorf("mirror %d: %d files pruned one at a time, want several at once", i, tg.calls)
		}
		if got := rep.Mirrors[i].Deleted; got != tg.calls {
			t.Errorf("mirror %d: report says %d deleted, the target saw %d removals", i, got, tg.calls)
		}
	}
}
