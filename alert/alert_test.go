package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestDeliveryWithRetries(t *testing.T) {
	var mu sync.Mutex
	var got []Event
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		var e Event
		if err := json.NewDecoder(r.Body).Decode(&e); err != nil || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("bad delivery: %v", err)
		}
		got = append(got, e)
	}))
	defer srv.Close()
	s := New(Options{URL: srv.URL, Backoff: time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	s.Send(Event{Kind: "mirror", Repo: "r", Mirror: "m", From: "ok", To: "down", Reason: "403 Forbidden"})
	s.Send(Event{Kind: "mirror", Repo: "r", Mirror: "m", From: "down", To: "ok"})
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		// The client counts a delivery once it has read the answer, after
		// the server has recorded it: wait for both.
		sent, _, _ := s.Stats()
		if n == 2 && sent == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[0].To != "down" || got[1].To != "ok" || got[0].Reason != "403 Forbidden" {
		t.Fatalf("delivered %+v, want down then ok, in order", got)
	}
	if sent, failed, dropped := s.Stats(); sent != 2 || failed != 0 || dropped != 0 {
		t.Errorf("stats: sent %d failed %d dropped %d", sent, failed, dropped)
	}
}

func TestSendNeverBlocks(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer srv.Close()
	defer close(block)
	s := New(Options{URL: srv.URL, Queue: 2})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	start := time.Now()
	for range 50 {
		s.Send(Event{Kind: "sync", Repo: "r", From: "ok", To: "failed"})
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Send blocked for %s", d)
	}
	if _, _, dropped := s.Stats(); dropped == 0 {
		t.Error("a full queue dropped nothing")
	}
}

// syncBuffer is a bytes.Buffer safe for the sender's goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestFailedDeliveryHidesSecrets: a webhook that cannot be reached is
// logged at every attempt and when given up on, and net/http's errors name
// its URL; neither the token in its query nor a password shows.
func TestFailedDeliveryHidesSecrets(t *testing.T) {
	// A port nobody listens on: delivery fails with "connection refused".
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	for _, tc := range []struct{ name, url string }{
		{"token in the query", "http://" + addr + "/hooks/rpmirror?secret=s3cret-t0ken"},
		{"password", "http://bot:s3cret-t0ken@" + addr + "/hooks/rpmirror"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log syncBuffer
			s := New(Options{URL: tc.url, Attempts: 2, Backoff: time.Millisecond, Logger: slog.New(slog.NewTextHandler(&log, nil))})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go s.Run(ctx)
			s.Send(Event{Kind: "mirror", Repo: "r", Mirror: "m", URL: tc.url, From: "ok", To: "down"})
			deadline := time.Now().Add(10 * time.Second)
			for {
				if _, failed, _ := s.Stats(); failed == 1 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the delivery was not given up on:\n%s", log.String())
				}
				time.Sleep(5 * time.Millisecond)
			}
			out := log.String()
			if !strings.Contains(out, "giving up on alert") || !strings.Contains(out, "connection refused") {
				t.Fatalf("the log does not say why delivery failed:\n%s", out)
			}
			if strings.Contains(out, "s3cret") {
				t.Errorf("the log shows the webhook's secret:\n%s", out)
			}
		})
	}
}

// TestDrain: Drain returns once every queued event is delivered, or, with
// a webhook that never answers, when its context ends, saying how many
// events were left.
func TestDrain(t *testing.T) {
	for _, tc := range []struct {
		name     string
		hang     bool
		wantLeft int
	}{
		{"webhook answers", false, 0},
		{"webhook hangs", true, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			got := 0
			stop := make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.hang {
					<-stop
					return
				}
				mu.Lock()
				got++
				mu.Unlock()
			}))
			defer srv.Close()
			defer close(stop)
			s := New(Options{URL: srv.URL, Attempts: 1})
			runCtx, cancelRun := context.WithCancel(context.Background())
			defer cancelRun()
			go s.Run(runCtx)
			for range 5 {
				s.Send(Event{Kind: "origin", Repo: "r", From: "unknown", To: "down"})
			}
			ctx, cancel := context.WithCancel(context.Background())
			if tc.hang {
				// Ended at once: Drain must not wait for the webhook.
				cancel()
			}
			defer cancel()
			if left := s.Drain(ctx); left != tc.wantLeft {
				t.Errorf("Drain left %d events, want %d", left, tc.wantLeft)
			}
			mu.Lock()
			defer mu.Unlock()
			if !tc.hang && got != 5 {
				t.Errorf("after Drain the webhook got %d events, want 5", got)
			}
		})
	}
}

// TestSummary: the one-line text names what changed: the repo, the mirror
// of a mirror's event, the upstream (by its URL, credentials hidden) of an
// upstream's, then the states and the reason.
func TestSummary(t *testing.T) {
	for _, tc := range []struct {
		e    Event
		want string
	}{
		{Event{Kind: "mirror", Repo: "r", Mirror: "m1", URL: "https://m1.example/r/", From: "ok", To: "down", Reason: "HEAD x: 404"}, "mirror r/m1: ok -> down: HEAD x: 404"},
		{Event{Kind: "origin", Repo: "r", From: "ok", To: "down"}, "origin r: ok -> down"},
		{Event{Kind: "upstream", Repo: "r", URL: "https://user:secret@primary.example/r/", From: "ok", To: "down", Reason: "403 Forbidden"},
			"upstream r https://user:xxxxx@primary.example/r/: ok -> down: 403 Forbidden"},
		{Event{Kind: "sync", Repo: "r", From: "ok", To: "failed", Reason: "boom"}, "sync r: ok -> failed: boom"},
	} {
		if got := tc.e.Summary(); got != tc.want {
			t.Errorf("Summary() = %q, want %q", got, tc.want)
		}
	}
}
