package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/rpmirror/rpmirror/target"
)

// The lease is one object, .rpmirror/lease below the prefix, that every
// writer of the mirror respects:
//
//   - Lock creates it with If-None-Match: * (only one creator wins). If it
//     is there, Lock reads it; a lease not renewed for its TTL, judged by
//     the store's clock (the object's Last-Modified against the Date of
//     the store's answer, so hosts' clocks do not matter), is taken over
//     with If-Match: its ETag (only one taker wins). Otherwise Lock fails
//     with target.ErrLocked, naming the holder.
//   - The holder rewrites it every TTL/3 with If-Match: the ETag of its
//     last write. Every write carries a new body, hence a new ETag, so a
//     taker's If-Match fails once the holder has renewed.
//   - The holder counts the lease as held until TTL after the start of its
//     last successful renewal, by its own monotonic clock: a taker can
//     only see it expired later than that. Before every object it writes,
//     it checks; once the lease is lost (a renewal found it taken over, or
//     no renewal succeeded for a TTL) every write fails with a
//     *LeaseLostError. An upload already under way when the lease lapses
//     still completes: the window is one object.
//   - unlock stops renewing and deletes the lease if it is still this
//     holder's.

// leaseBody is the lease object's content.
type leaseBody struct {
	Holder string `json:"holder"`
	// TTL is the holder's lease_ttl: takers judge expiry by it.
	TTL string `json:"ttl"`
	// Renewed is the holder's clock at the write, for people reading it;
	// expiry is judged by the store's clock.
	Renewed time.Time `json:"renewed"`
	// Seq counts the holder's writes, so every write differs.
	Seq uint64 `json:"seq"`
	// Token is random, made by Lock for each lease it takes: it tells
	// the holder its own write (one whose answer it gave up waiting for)
	// from another process's, whatever their holder names.
	Token string `json:"token,omitempty"`
}

// LeaseLostError is returned by a write to a target whose lease was lost
// while Lock held it. It wraps target.ErrLockLost.
type LeaseLostError struct {
	Target string
	Holder string // this target's identity
	Reason string // "taken over by HOLDER", "not renewed for TTL"
}

func (e *LeaseLostError) Error() string {
	return fmt.Sprintf("%s: the lease of %s was lost (%s): no more writes", e.Target, e.Holder, e.Reason)
}

func (e *LeaseLostError) Unwrap() error { return target.ErrLockLost }

// held is the lease while this target holds it.
type held struct {
	token   string // leaseBody.Token of this lease's writes
	etag    string
	renewed time.Time // monotonic: start of the last successful write
	seq     uint64
	lost    error
	stop    chan struct{} // closed by halt
	halted  sync.Once
	done    chan struct{} // closed when renewLoop returns
}

// halt stops the renewals of h and waits until none is under way.
func (h *held) halt() {
	h.halted.Do(func() { close(h.stop) })
	<-h.done
}

// checkLease returns the error a write must fail with: nil when Lock is
// not held (the caller chose to write without it) or the lease is held.
func (s *S3) checkLease() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.held
	if h == nil {
		return nil
	}
	if h.lost == nil && time.Since(h.renewed) >= s.ttl {
		h.lost = &LeaseLostError{Target: s.name, Holder: s.holder, Reason: fmt.Sprintf("not renewed for %s", s.ttl)}
	}
	return h.lost
}

func (s *S3) body(seq uint64, token string) []byte {
	b, _ := json.Marshal(leaseBody{Holder: s.holder, TTL: s.ttl.String(), Renewed: time.Now().UTC(), Seq: seq, Token: token})
	return b
}

// writeLease puts the lease conditionally: If-None-Match: * when etag is
// "", else If-Match: etag. It returns the new ETag, and whether the
// condition failed.
func (s *S3) writeLease(ctx context.Context, etag string, seq uint64, token string) (string, bool, error) {
	b := s.body(seq, token)
	opts := minio.PutObjectOptions{
		ContentType:    "application/json",
		CacheControl:   "no-store",
		SendContentMd5: true,
	}
	if etag == "" {
		opts.SetMatchETagExcept("*")
	} else {
		opts.SetMatchETag(etag)
	}
	info, err := s.c.PutObject(ctx, s.bucket, s.prefix+leaseKey, bytes.NewReader(b), int64(len(b)), opts)
	if err != nil {
		if conditionFailed(err) {
			return "", true, nil
		}
		return "", false, fmt.Errorf("writing the lease of %s: %w", s, err)
	}
	return info.ETag, false, nil
}

// conditionFailed reports whether a conditional write failed on its
// condition: 412 PreconditionFailed, or AWS's 409
// ConditionalRequestConflict (another conditional write to the key was
// under way). Any other 409 is the store refusing the write
// (ExistingObjectIsDirectory where the bucket is a directory tree, as
// versitygw's), an error: taken for a lost race, it made two daemons
// retry the takeover of a lease no one held, without end.
func conditionFailed(err error) bool {
	r := minio.ToErrorResponse(err)
	return r.StatusCode == http.StatusPreconditionFailed || r.Code == "PreconditionFailed" ||
		(r.StatusCode == http.StatusConflict && r.Code == "ConditionalRequestConflict")
}

// current is the lease as a taker reads it.
type current struct {
	body     leaseBody
	etag     string
	modified time.Time // store's clock
	now      time.Time // store's clock
	ttl      time.Duration
}

// expired reports whether the lease was not renewed for its TTL, with a
// second of slack for the store's whole-second clock.
func (c current) expired() bool { return c.now.Sub(c.modified) > c.ttl+time.Second }

// age is how long ago the lease was last written, for messages: never
// less than zero, which the store's whole-second clock can make it
// ("renewed -1s ago").
func (c current) age() time.Duration { return max(c.now.Sub(c.modified), 0) }

// readLease reads the lease; found is false when there is none.
func (s *S3) readLease(ctx context.Context) (cur current, found bool, err error) {
	var now time.Time
	obj, err := s.c.GetObject(context.WithValue(ctx, dateKey{}, &now), s.bucket, s.prefix+leaseKey, minio.GetObjectOptions{})
	if err != nil {
		return current{}, false, fmt.Errorf("reading the lease of %s: %w", s, err)
	}
	defer obj.Close()
	// Read first: the body and the object's details then come from one
	// GET. (Stat first would HEAD, and the GET after it would carry
	// If-Match, which a renewal in between makes fail.)
	b, err := io.ReadAll(io.LimitReader(obj, 64<<10))
	if err == nil {
		var oi minio.ObjectInfo
		if oi, err = obj.Stat(); err == nil {
			cur = current{etag: oi.ETag, modified: oi.LastModified, now: now, ttl: s.ttl}
		}
	}
	if err != nil {
		if notFound(err) {
			return current{}, false, nil
		}
		return current{}, false, fmt.Errorf("reading the lease of %s: %w", s, err)
	}
	if now.IsZero() {
		cur.now = time.Now() // a store that sends no Date: our clock
	}
	if json.Unmarshal(b, &cur.body) == nil {
		if d, err := time.ParseDuration(cur.body.TTL); err == nil && d > 0 {
			cur.ttl = d
		}
	}
	if cur.body.Holder == "" {
		cur.body.Holder = "an unknown holder"
	}
	return cur, true, nil
}

// Lock implements target.Target with the lease described above. The
// lease is renewed in the background until unlock.
func (s *S3) Lock(ctx context.Context) (func(), error) {
	s.mu.Lock()
	busy := s.held != nil
	s.mu.Unlock()
	if busy {
		return nil, fmt.Errorf("%s: the lease is already held by this process (%s): %w", s, s.holder, target.ErrLocked)
	}
	token := rand.Text()
	etag, err := s.acquire(ctx, token)
	if err != nil {
		return nil, err
	}
	h := &held{token: token, etag: etag.etag, renewed: etag.start, seq: 1, stop: make(chan struct{}), done: make(chan struct{})}
	s.mu.Lock()
	s.held = h
	s.mu.Unlock()
	s.log.Info("lease taken", "holder", s.holder, "ttl", s.ttl)
	go s.renewLoop(h)
	var once sync.Once
	return func() { once.Do(func() { s.release(h) }) }, nil
}

type acquired struct {
	etag  string
	start time.Time
}

func (s *S3) acquire(ctx context.Context, token string) (acquired, error) {
	for attempt := 0; attempt < 3; attempt++ {
		start := time.Now()
		etag, conflict, err := s.writeLease(ctx, "", 0, token)
		if err != nil {
			return acquired{}, err
		}
		if !conflict {
			return acquired{etag, start}, nil
		}
		cur, found, err := s.readLease(ctx)
		if err != nil {
			return acquired{}, err
		}
		if !found {
			continue // released meanwhile: try to create it again
		}
		if !cur.expired() {
			left := cur.ttl + time.Second - cur.age()
			return acquired{}, fmt.Errorf("%s: lease held by %s, renewed %s ago (expires in %s unless renewed): %w",
				s, cur.body.Holder, cur.age().Round(time.Second), left.Round(time.Second), target.ErrLocked)
		}
		start = time.Now()
		etag, conflict, err = s.writeLease(ctx, cur.etag, 0, token)
		if err != nil {
			return acquired{}, err
		}
		if conflict {
			return acquired{}, fmt.Errorf("%s: an expired lease of %s was taken over by another process first: %w", s, cur.body.Holder, target.ErrLocked)
		}
		s.log.Warn("took over an expired lease", "previous_holder", cur.body.Holder, "not_renewed_for", cur.age().Round(time.Second))
		return acquired{etag, start}, nil
	}
	return acquired{}, fmt.Errorf("%s: the lease kept changing while being taken: %w", s, target.ErrLocked)
}

// renewLoop renews h every TTL/3 until unlock or the lease is lost. A
// renewal under way when unlock comes is finished first, so that unlock
// knows the lease's last ETag.
func (s *S3) renewLoop(h *held) {
	defer close(h.done)
	t := time.NewTicker(s.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		if lost := s.renew(context.Background(), h); lost {
			return
		}
	}
}

// renew writes the lease once; it reports whether the lease is lost.
func (s *S3) renew(ctx context.Context, h *held) bool {
	s.mu.Lock()
	etag, seq := h.etag, h.seq+1
	s.mu.Unlock()
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, s.ttl/3)
	newTag, conflict, err := s.writeLease(wctx, etag, seq, h.token)
	cancel()
	if conflict {
		reason := "taken over by another process"
		if cur, found, rerr := s.readLease(ctx); rerr == nil && found {
			if cur.body.Token == h.token {
				// A renewal whose answer this process gave up waiting
				// for (a timeout) was applied: the lease is still
				// ours, under the ETag that write made. The next tick
				// renews from it.
				s.mu.Lock()
				h.etag, h.seq = cur.etag, cur.body.Seq
				s.mu.Unlock()
				s.log.Info("a renewal given up on was applied; the lease is still held", "holder", s.holder)
				return false
			}
			reason = "taken over by " + cur.body.Holder
		}
		s.mu.Lock()
		h.lost = &LeaseLostError{Target: s.name, Holder: s.holder, Reason: reason}
		s.mu.Unlock()
		s.log.Error("lease lost", "holder", s.holder, "reason", reason)
		return true
	}
	if err != nil {
		// Try again at the next tick; checkLease counts the lease lost
		// once no renewal succeeded for a TTL.
		s.log.Warn("renewing the lease", "err", err)
		return false
	}
	s.mu.Lock()
	h.etag, h.seq, h.renewed = newTag, seq, start
	s.mu.Unlock()
	return false
}

// release stops renewing h and deletes the lease if it is still h's.
func (s *S3) release(h *held) {
	h.halt()
	s.mu.Lock()
	lost := h.lost
	etag := h.etag
	if s.held == h {
		s.held = nil
	}
	s.mu.Unlock()
	if lost != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.ttl)
	defer cancel()
	oi, err := s.c.StatObject(ctx, s.bucket, s.prefix+leaseKey, minio.StatObjectOptions{})
	if err != nil || oi.ETag != etag {
		return
	}
	if err := s.c.RemoveObject(ctx, s.bucket, s.prefix+leaseKey, minio.RemoveObjectOptions{}); err != nil {
		s.log.Warn("releasing the lease (it expires by itself)", "err", err)
		return
	}
	s.log.Info("lease released", "holder", s.holder)
}
