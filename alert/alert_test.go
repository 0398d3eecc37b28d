package alert

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
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
		if n == 2 || time.Now().After(deadline) {
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
