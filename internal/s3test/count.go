package s3test

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	gosync "sync"
	"sync/atomic"
	"testing"
)

// Counter is a reverse proxy in front of a Server that counts the
// objects written through it: what a client uploaded, seen on the wire,
// the server-side copies it asked for (a PUT with x-amz-copy-source, not
// counted as an upload), and every request by method.
type Counter struct {
	// Endpoint is the proxy's http URL: give it to clients instead of
	// the server's.
	Endpoint string

	mu     gosync.Mutex
	puts   map[string]int // object key (bucket/key) -> PUT requests
	gets   map[string]int // object key (bucket/key) -> GET requests
	copies []string       // destination keys (bucket/key) of CopyObject requests
	reqs   map[string]int // method -> requests

	hook      atomic.Pointer[func(Request)]
	refuse    atomic.Pointer[func(Request) bool]
	copyLimit atomic.Int64 // 0: none
}

// CopyLimit makes the proxy refuse, as AWS S3 refuses a copy source over
// 5 GiB (400 InvalidRequest), every whole-object copy (CopyObject) whose
// source holds more than n bytes; copies of parts (UploadPartCopy) pass.
// 0 refuses none.
func (c *Counter) CopyLimit(n int64) { c.copyLimit.Store(n) }

// Request is what OnRequest sees of a request.
type Request struct {
	Method string
	Key    string // BUCKET/KEY
	Copy   bool   // a CopyObject: Key is its destination
}

// OnRequest makes f see every request as it arrives, before it is passed
// on to the server (nil: none). A test that kills a client there kills
// it with that request in flight.
func (c *Counter) OnRequest(f func(Request)) {
	if f == nil {
		c.hook.Store(nil)
		return
	}
	c.hook.Store(&f)
}

// Refuse makes the proxy answer 403 AccessDenied, without passing it
// on, every request for which f returns true (nil: none), as a store
// answers a request its policy denies. f sees requests after
// OnRequest's function.
func (c *Counter) Refuse(f func(Request) bool) {
	if f == nil {
		c.refuse.Store(nil)
		return
	}
	c.refuse.Store(&f)
}

// Count starts a counting proxy in front of s, stopped when the test
// ends.
func (s *Server) Count(t testing.TB) *Counter {
	t.Helper()
	u, err := url.Parse(s.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	c := &Counter{puts: map[string]int{}, gets: map[string]int{}, reqs: map[string]int{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := strings.TrimPrefix(r.URL.Path, "/")
		isCopy := r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") != ""
		if f := c.hook.Load(); f != nil {
			(*f)(Request{Method: r.Method, Key: key, Copy: isCopy})
		}
		c.mu.Lock()
		c.reqs[r.Method]++
		switch {
		case isCopy:
			c.copies = append(c.copies, key)
		case r.Method == http.MethodPut:
			c.puts[strings.TrimPrefix(r.URL.Path, "/")]++
		case r.Method == http.MethodGet:
			c.gets[strings.TrimPrefix(r.URL.Path, "/")]++
		}
		c.mu.Unlock()
		if f := c.refuse.Load(); f != nil && (*f)(Request{Method: r.Method, Key: key, Copy: isCopy}) {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`))
			return
		}
		if lim := c.copyLimit.Load(); isCopy && lim > 0 && r.URL.Query().Get("partNumber") == "" && s.objectSize(r.Header.Get("X-Amz-Copy-Source")) > lim {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidRequest</Code><Message>The specified copy source is larger than the maximum allowable size for a copy source</Message></Error>`))
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c.Endpoint = srv.URL
	return c
}

// objectSize returns the size of the object a copy source header names
// ("/BUCKET/KEY" or "BUCKET/KEY", escaped), read from the server's
// directory, or -1.
func (s *Server) objectSize(source string) int64 {
	source, _, _ = strings.Cut(source, "?")
	p, err := url.PathUnescape(strings.TrimPrefix(source, "/"))
	if err != nil {
		return -1
	}
	fi, err := os.Stat(filepath.Join(s.Dir, filepath.FromSlash(p)))
	if err != nil {
		return -1
	}
	return fi.Size()
}

// Puts returns the keys (BUCKET/KEY) PUT since the last call, sorted,
// each once (the parts of a multipart upload count once), and forgets
// them.
func (c *Counter) Puts() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := sortedKeys(c.puts)
	c.puts = map[string]int{}
	return keys
}

// Copies returns the destination keys (BUCKET/KEY) of the server-side
// copies (CopyObject) asked for since the last call, in the order the
// requests arrived, one entry a request, and forgets them.
func (c *Counter) Copies() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := c.copies
	c.copies = nil
	return keys
}

// Requests returns how many requests of each method (GET, HEAD, PUT,
// POST, DELETE) went through since the last call, copies included, and
// forgets them.
func (c *Counter) Requests() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.reqs
	c.reqs = map[string]int{}
	return r
}

// Gets is Puts for the objects read (GET) since the last call.
func (c *Counter) Gets() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := sortedKeys(c.gets)
	c.gets = map[string]int{}
	return keys
}

func sortedKeys(m map[string]int) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// CredentialsFile writes the server's credentials in the AWS
// shared-credentials format into dir and returns its path.
func CredentialsFile(t testing.TB, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "s3-credentials")
	if err := os.WriteFile(p, []byte("[default]\naws_access_key_id = "+Access+"\naws_secret_access_key = "+Secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
