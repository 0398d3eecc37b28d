package sync

import (
	"context"
	gosync "sync"
	"sync/atomic"

	"github.com/rpmirror/rpmirror/target"
)

// earlyStores stores packages in the mirrors whose target takes them one
// Put at a time (object storage: not a target.BatchPutter) as soon as
// each is fetched and verified, while the rest still download, instead
// of after the last download: uploads then overlap downloads. It changes
// nothing a mirror serves: the packages go to paths its served revision
// does not use (the plan's Store), recorded as unpublished before the
// first is stored, as publish records them; the commit still comes after
// every package is verified. A target that stores a batch at once (a
// local directory: hard links made durable by one flush) is left to
// publish, after the downloads are durable.
//
// The state that records the packages as unpublished is saved while the
// first downloads run (a round of fsyncs and a record written to each
// bucket: tens of milliseconds, more when the disk is busy), and no
// upload starts before it is saved.
//
// The uploads run on goroutines of their own, fed from a queue: as many
// as the target that asks for the most wants at once
// (target.Properties.PutConcurrency), and at least Options.Concurrency.
// The first failure of a mirror stops its uploads, and publish reports
// it.
type earlyStores struct {
	puts  map[string][]earlyPut // cache path -> what is stored from it
	queue chan earlyPut
	stop  atomic.Bool // the downloads failed: start no more uploads
	wg    gosync.WaitGroup

	saved   chan struct{} // closed once the state is saved (or failed to be)
	saveErr error         // read after saved is closed
}

type earlyPut struct {
	m *mirror
	f target.File
}

// mirrorEarly is what earlyStores did for one mirror.
type mirrorEarly struct {
	mu     gosync.Mutex
	stored map[string]bool // paths stored
	err    error           // the first failure
}

func (e *mirrorEarly) failed() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err != nil
}

// startEarlyStores starts storing early in those of the behind mirrors
// that can: it records their plans' Store as unpublished, starts saving
// the state, and starts the uploaders, which wait for the state to be
// saved; if saving fails, it calls abort (which stops the downloads)
// and nothing is uploaded. It returns nil when no mirror stores early.
// Nothing may change the state (s.st, s.verified) until finish returns.
func (s *run) startEarlyStores(ctx context.Context, behind []*mirror, abort func()) *earlyStores {
	var ms []*mirror
	for _, m := range behind {
		if m.plan == nil || m.plan.Refused != nil || len(m.plan.Store) == 0 {
			continue
		}
		if _, batch := m.tg.(target.BatchPutter); batch {
			continue
		}
		ms = append(ms, m)
	}
	if len(ms) == 0 {
		return nil
	}
	for _, m := range ms {
		s.recordUnpublished(m)
	}
	e := &earlyStores{puts: map[string][]earlyPut{}, saved: make(chan struct{})}
	e.wg.Go(func() {
		defer close(e.saved)
		if e.saveErr = s.saveState(ctx); e.saveErr != nil {
			abort()
		}
	})
	n := 0
	for _, m := range ms {
		m.early = &mirrorEarly{stored: make(map[string]bool, len(m.plan.Store))}
		for _, p := range m.plan.Store {
			f := p.File(s.cache)
			e.puts[f.Local] = append(e.puts[f.Local], earlyPut{m: m, f: f})
			n++
		}
	}
	e.queue = make(chan earlyPut, n) // never full: verified never blocks a download
	uploaders := s.e.opts.Concurrency
	for _, m := range ms {
		uploaders = max(uploaders, m.tg.Properties().PutConcurrency)
	}
	for range uploaders {
		e.wg.Go(func() {
			<-e.saved
			for p := range e.queue {
				if !e.stop.Load() && e.saveErr == nil {
					s.storeEarly(ctx, p)
				}
			}
		})
	}
	return e
}

// verified queues what is stored from the cache file local, fetched and
// verified now. It is safe to call at once from several goroutines, and
// on a nil *earlyStores.
func (e *earlyStores) verified(local string) {
	if e == nil {
		return
	}
	for _, p := range e.puts[local] {
		e.queue <- p
	}
}

// finish waits for the state to be saved and for the uploads queued;
// abort (the downloads failed) skips those not started. Those under way
// are let finish, not cancelled: a store may keep an object whose
// request its client gave up on, after the failed sync removed what it
// stored. It returns the error of saving the state: then nothing was
// uploaded, and the sync fails with it.
func (e *earlyStores) finish(abort bool) error {
	if e == nil {
		return nil
	}
	e.stop.Store(abort)
	close(e.queue)
	e.wg.Wait()
	return e.saveErr
}

func (s *run) storeEarly(ctx context.Context, p earlyPut) {
	st := p.m.early
	if st.failed() {
		return
	}
	err := p.m.tg.Put(ctx, p.f)
	st.mu.Lock()
	defer st.mu.Unlock()
	if err != nil {
		if st.err == nil {
			st.err = err
		}
		return
	}
	st.stored[p.f.Path] = true
}
