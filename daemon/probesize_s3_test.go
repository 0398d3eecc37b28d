package daemon

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/health"
	"github.com/rpmirror/rpmirror/internal/s3test"
)

// TestProbeSizeOnObjectStorage: a mirror in object storage is probed
// through its public base URL, here the bucket itself read anonymously
// from the store (a real S3 server, versitygw, with a public-read
// policy): a package object cut short by a byte, or overwritten with
// another of another size, makes the mirror down with a *health.SizeError
// naming the package and both sizes, and takes it out of the lists; put
// right, it is listed again.
func TestProbeSizeOnObjectStorage(t *testing.T) {
	srv := s3test.Start(t, "mirrors")
	srv.AllowPublicRead(t, "mirrors")
	creds := s3test.CredentialsFile(t, t.TempDir())
	public := srv.Endpoint + "/mirrors/r/"
	d := runSyncedWith(t, "probe_interval: 1s\nprobe_timeout: 1s\n", "repos:\n  - name: r\n    origin: ORIGIN/v1/\n    mirrors:\n      - name: obj\n        url: "+public+"\n        s3:\n"+
		"          endpoint: "+srv.Endpoint+"\n          bucket: mirrors\n          prefix: r/\n          credentials_file: "+creds+"\n", 1)
	r, _ := d.repo("r")
	bucket := filepath.Join(srv.Dir, "mirrors", "r")
	listed := func() bool { return strings.Contains(string(r.views.Load().mirrorlist), public) }
	poll(t, time.Minute, "the bucket to be probed ok and listed", listed)

	r.mu.Lock()
	hrefs := slices.Clone(r.verified.Current().Packages)
	r.mu.Unlock()
	if len(hrefs) < 2 {
		t.Fatalf("package sample %v", hrefs)
	}
	object := func(href string) string { return filepath.Join(bucket, filepath.FromSlash(href)) }
	read := func(href string) []byte {
		b, err := os.ReadFile(object(href))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name string
		href string
		bad  func(good []byte) []byte
	}{
		{"truncated by one byte", hrefs[0], func(good []byte) []byte { return good[:len(good)-1] }},
		{"overwritten with another package", hrefs[1], func(good []byte) []byte {
			for _, h := range hrefs {
				if b := read(h); len(b) != len(good) {
					return b
				}
			}
			t.Fatal("every sampled package has the same size")
			return nil
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			good := read(tc.href)
			bad := tc.bad(good)
			// In place: the store keeps its own metadata with the file.
			if err := os.WriteFile(object(tc.href), bad, 0o644); err != nil {
				t.Fatal(err)
			}
			defer os.WriteFile(object(tc.href), good, 0o644)
			var res health.Result
			poll(t, 2*time.Minute, "the bucket to be probed down", func() bool {
				res, _ = r.tracker.Get("obj")
				return res.State == health.Down
			})
			var se *health.SizeError
			if !errors.As(res.Err, &se) || se.Package != tc.href || se.Want != int64(len(good)) || se.Got != int64(len(bad)) || se.Mirror != public {
				t.Errorf("down with %q (%#v), want a SizeError for %s: %d bytes served, %d verified, at %s", res.Reason, res.Err, tc.href, len(bad), len(good), public)
			}
			// The lists are rendered after the state is recorded: the
			// round that found the mirror down renders them next.
			poll(t, 30*time.Second, "the bucket to leave the mirrorlist and the metalink", func() bool {
				return !listed() && !strings.Contains(string(r.views.Load().metalink), public)
			})
			if err := os.WriteFile(object(tc.href), good, 0o644); err != nil {
				t.Fatal(err)
			}
			poll(t, time.Minute, "the bucket to be listed again", listed)
		})
	}
}

// poll polls cond until it holds, or fails the test after timeout.
func poll(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: still waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
