// Package alert delivers state changes (a mirror going down, stale or
// recovering; a sync failing or recovering) to a webhook as JSON POSTs.
//
// Send never blocks: events go to a bounded queue that one goroutine
// drains, retrying each delivery with exponential backoff and jitter. A
// webhook that is down or slow therefore never holds up syncs or probes;
// when the queue is full, the newest event is dropped and counted. At
// shutdown, Drain delivers what is still queued, for a bounded time.
package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rpmirror/rpmirror/internal/redact"
)

// Event is one state change, as posted to the webhook.
type Event struct {
	Time   time.Time `json:"time"`
	Kind   string    `json:"kind"` // "mirror", "origin", "upstream" (one of several, named by URL) or "sync"
	Repo   string    `json:"repo"`
	Mirror string    `json:"mirror,omitempty"` // for kind "mirror"
	URL    string    `json:"url,omitempty"`
	From   string    `json:"from"` // previous state: "ok", "stale", "down", "unknown", "failed"
	To     string    `json:"to"`
	Reason string    `json:"reason,omitempty"`
}

// Summary is a one-line description of the event, for logs and chat
// integrations that show a text field.
func (e Event) Summary() string {
	what := e.Repo
	switch {
	case e.Mirror != "":
		what += "/" + e.Mirror
	case e.Kind == "upstream" && e.URL != "":
		// One of several upstreams: which one, as a mirror's alert names
		// the mirror (a relay of the text alone could not tell the
		// primary from the one syncs fail over to).
		what += " " + redact.URL(e.URL)
	}
	s := fmt.Sprintf("%s %s: %s -> %s", e.Kind, what, e.From, e.To)
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// Options configure a Sender.
type Options struct {
	URL      string // the webhook; "" makes a Sender that only logs
	Client   *http.Client
	Logger   *slog.Logger
	Queue    int           // events waiting at most (default 256)
	Attempts int           // deliveries tried per event (default 6)
	Backoff  time.Duration // first retry delay, doubled each time (default 1s, capped at 1m)
}

// Sender posts events to a webhook in the background.
type Sender struct {
	opts    Options
	url     atomic.Pointer[string]
	queue   chan Event
	dropped atomic.Int64
	failed  atomic.Int64
	sent    atomic.Int64
	once    sync.Once
	done    chan struct{}

	// mu guards pending, the events queued or being delivered, and
	// idle, closed when pending falls to 0 (made by Drain).
	mu      sync.Mutex
	pending int
	idle    chan struct{}
}

// New returns a Sender; call Run to start delivering.
func New(opts Options) *Sender {
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Queue <= 0 {
		opts.Queue = 256
	}
	if opts.Attempts <= 0 {
		opts.Attempts = 6
	}
	if opts.Backoff <= 0 {
		opts.Backoff = time.Second
	}
	s := &Sender{opts: opts, queue: make(chan Event, opts.Queue), done: make(chan struct{})}
	s.SetURL(opts.URL)
	return s
}

// SetURL changes the webhook for events sent from now on; "" stops
// delivering (events are still logged).
func (s *Sender) SetURL(url string) { s.url.Store(&url) }

// Send queues e for delivery and returns at once. Every event is logged.
func (s *Sender) Send(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	e.URL = redact.URL(e.URL)
	attrs := []any{"kind", e.Kind, "repo", e.Repo, "mirror", e.Mirror, "from", e.From, "to", e.To, "reason", e.Reason}
	if e.URL != "" {
		// Which upstream (an operator tester's log said mirror="" and
		// no more, with several upstreams).
		attrs = append(attrs, "url", e.URL)
	}
	s.opts.Logger.Warn("state change", attrs...)
	if *s.url.Load() == "" {
		return
	}
	s.mu.Lock()
	s.pending++
	s.mu.Unlock()
	select {
	case s.queue <- e:
	default:
		s.done1()
		s.dropped.Add(1)
		s.opts.Logger.Error("alert queue full: event dropped", "event", e.Summary())
	}
}

// done1 records that one pending event is done with.
func (s *Sender) done1() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending--
	if s.pending == 0 && s.idle != nil {
		close(s.idle)
		s.idle = nil
	}
}

// Drain waits until every event queued so far has been delivered (or
// given up on) by Run, or until ctx ends, and returns how many were
// still waiting then: a process that exits calls it first, with a
// bounded context, so that the alerts of its last moments are not lost
// with it and a webhook that is down does not hold it up. Run must be
// running, its context not ended yet.
func (s *Sender) Drain(ctx context.Context) (left int) {
	s.mu.Lock()
	if s.pending == 0 {
		s.mu.Unlock()
		return 0
	}
	if s.idle == nil {
		s.idle = make(chan struct{})
	}
	idle := s.idle
	s.mu.Unlock()
	select {
	case <-idle:
		return 0
	case <-ctx.Done():
	}
	s.mu.Lock()
	left = s.pending
	s.mu.Unlock()
	if left > 0 {
		s.opts.Logger.Error("alerts not delivered before exiting", "events", left)
	}
	return left
}

// Stats returns how many events were delivered, given up on, and dropped.
func (s *Sender) Stats() (sent, failed, dropped int64) {
	return s.sent.Load(), s.failed.Load(), s.dropped.Load()
}

// Run delivers queued events until ctx ends.
func (s *Sender) Run(ctx context.Context) {
	defer s.once.Do(func() { close(s.done) })
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-s.queue:
			s.deliver(ctx, e)
			s.done1()
		}
	}
}

func (s *Sender) deliver(ctx context.Context, e Event) {
	body, err := json.Marshal(struct {
		Event
		Text string `json:"text"`
	}{e, e.Summary()})
	if err != nil {
		s.failed.Add(1)
		return
	}
	for attempt := 0; attempt < s.opts.Attempts; attempt++ {
		if attempt > 0 {
			d := s.opts.Backoff << (attempt - 1)
			if d > time.Minute || d <= 0 {
				d = time.Minute
			}
			d = d/2 + rand.N(d)
			select {
			case <-ctx.Done():
				s.failed.Add(1)
				return
			case <-time.After(d):
			}
		}
		// The client's errors name the webhook, whose query often
		// holds its token.
		if err = redact.Error(s.post(ctx, body)); err == nil {
			s.sent.Add(1)
			return
		}
		s.opts.Logger.Warn("delivering alert", "attempt", attempt+1, "err", err)
	}
	s.failed.Add(1)
	s.opts.Logger.Error("giving up on alert", "event", e.Summary(), "err", err)
}

func (s *Sender) post(ctx context.Context, body []byte) error {
	url := *s.url.Load()
	if url == "" {
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "rpmirror")
	resp, err := s.opts.Client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}
