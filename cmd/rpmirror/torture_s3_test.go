package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	gosync "sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/internal/checker"
	"github.com/rpmirror/rpmirror/internal/s3test"
	"github.com/rpmirror/rpmirror/internal/testrepo"
)

// TestTortureS3 kills rpmirror sync with SIGKILL at random points of
// syncs to a mirror in object storage (versitygw) that keeps snapshots,
// between two revisions of an origin (RPMIRROR_TORTURE_S3 kills, default
// 4; in turn at a random time, aimed at the uploads, at the snapshot's
// copies and at the removal of the oldest snapshot). After each kill the
// bucket must serve nothing or one complete revision, and every snapshot
// it shows (a repomd.xml under snapshots/, or a name in index.json or
// latest.txt) must be a complete revision; then a sync must complete it
// without uploading any package the bucket already holds with the right
// content, leaving no incomplete snapshot.
func TestTortureS3(t *testing.T) {
	t.Parallel() // mostly waits: for leases to expire, for the other daemon
	testrepo.RequireTools(t, "rpmbuild", "rpmsign", "gpg", "createrepo_c")
	kills := 4
	if s := os.Getenv("RPMIRROR_TORTURE_S3"); s != "" {
		var err error
		if kills, err = strconv.Atoi(s); err != nil || kills < 1 {
			t.Fatalf("RPMIRROR_TORTURE_S3=%q: want a positive number of kills", s)
		}
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("RPMIRROR_TORTURE_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (set RPMIRROR_TORTURE_SEED to repeat)", seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))

	srv := s3test.Start(t, "mirrors")
	count := srv.Count(t)
	key := testrepo.TestKey(t)
	base := t.TempDir()
	// v1 and v2 of the torture origin: hashed metadata names, which
	// object storage can take (v3 and v4 use simple names).
	revs := buildTortureRevisions(t, filepath.Join(base, "revs"), key)[:2]
	o := newTortureOrigin(t, 4*time.Millisecond)
	mirror := filepath.Join(srv.Dir, "mirrors", "torture")
	cfg := filepath.Join(base, "mirrors.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`state_dir: %s/state
lease_ttl: 3s
download:
  concurrency: 2
  retries: 0
repos:
  - name: torture
    origin: %s/
    gpgkeys: [%s]
    prune_after: 0s
    allow_rollback: true
    snapshots: {keep: 2, keep_for: 0s}
    mirrors:
      - name: obj
        s3:
          endpoint: %s
          bucket: mirrors
          prefix: torture/
          region: us-east-1
          credentials_file: %s
`, base, o.srv.URL, key.PublicPath, count.Endpoint, s3test.CredentialsFile(t, base))), 0o644)

	// check fails t unless the bucket serves nothing or one complete
	// revision. Between the upload of a repomd.xml and that of its .asc
	// the .asc is the previous revision's: a window object storage
	// cannot close (docs/operations.md), which a kill can make last
	// until the next sync; it is counted, not failed.
	ascWindows := 0
	check := func(when string) *tortureRev {
		t.Helper()
		r := checker.Check(mirror, checker.Options{KeyFiles: []string{key.PublicPath}})
		var problems []string
		for _, p := range r.Problems {
			if strings.HasPrefix(p, "repodata/repomd.xml.asc does not verify repodata/repomd.xml") {
				ascWindows++
				continue
			}
			problems = append(problems, p)
		}
		if len(problems) > 0 {
			t.Fatalf("%s: the bucket is INCONSISTENT:\n%s", when, strings.Join(problems, "\n"))
		}
		if !r.Served {
			return nil
		}
		i := slices.IndexFunc(revs, func(rv *tortureRev) bool { return bytes.Equal(rv.repomd, r.Repomd) })
		if i < 0 {
			t.Fatalf("%s: the bucket serves a repomd.xml that is no revision of the origin", when)
		}
		if got := r.NEVRAs(); !slices.Equal(got, revs[i].nevras) {
			t.Fatalf("%s: the bucket serves %s with packages %v, want %v", when, revs[i].name, got, revs[i].nevras)
		}
		return revs[i]
	}
	// present lists the packages the bucket holds with the content rev
	// has at the same path.
	present := func(rev *tortureRev) map[string]bool {
		got := map[string]bool{}
		filepath.WalkDir(mirror, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() || !strings.HasSuffix(p, ".rpm") {
				return nil
			}
			rel, _ := filepath.Rel(mirror, p)
			have, _ := os.ReadFile(p)
			want, err := os.ReadFile(filepath.Join(rev.dir, rel))
			if err == nil && sha256.Sum256(have) == sha256.Sum256(want) {
				got[filepath.ToSlash(rel)] = true
			}
			return nil
		})
		return got
	}
	// complete runs a sync to the end, once the lease a killed run left
	// has expired, and checks it uploaded no package already there.
	complete := func(when string) *tortureRun {
		t.Helper()
		rev := o.cur.Load()
		there := present(rev)
		count.Puts()
		deadline := time.Now().Add(30 * time.Second)
		for {
			r := runChild(t, o, cfg, 0, nil, 0)
			if r.err == nil {
				break
			}
			if !strings.Contains(r.output, "mirror is locked by another process") || time.Now().After(deadline) {
				t.Fatalf("%s: sync failed: %v\n%s", when, r.err, r.output)
			}
			time.Sleep(300 * time.Millisecond) // the killed run's lease has not expired yet
		}
		if got := check(when); got != rev {
			t.Fatalf("%s: a complete sync did not bring the bucket to %s", when, rev.name)
		}
		checkSnapshotsIn(t, when, mirror, revs, key.PublicPath, true, true)
		for _, k := range count.Puts() {
			if rel := strings.TrimPrefix(k, "mirrors/torture/"); there[rel] {
				t.Errorf("%s: uploaded %s again, which the bucket held", when, rel)
			}
		}
		return nil
	}

	// Measure an unkilled sync to each revision.
	durations := map[string]time.Duration{}
	for _, i := range []int{0, 1, 0} {
		o.cur.Store(revs[i])
		start := time.Now()
		complete("measuring " + revs[i].name)
		durations[revs[i].name] = time.Since(start)
	}
	t.Logf("unkilled syncs take %v", durations)

	var table []string
	killed := 0
	cur := 0
	for it := 1; killed < kills && it <= 3*kills; it++ {
		cur = 1 - cur
		o.cur.Store(revs[cur])
		var r *tortureRun
		delay := time.Duration(0)
		aim := ""
		switch it % 4 {
		case 3, 0:
			// Aim at the snapshot: with its k-th copy in flight
			// (a revision has 15 or more files, repomd.xml copied
			// last), or with the first request of the removal of the
			// oldest snapshot (keep 2) in flight.
			k := int32(1 + rng.IntN(12))
			aim = fmt.Sprintf("with snapshot copy %d in flight", k)
			if it%4 == 0 {
				aim = "with the snapshot removal's first delete in flight"
			}
			fire := make(chan struct{})
			var n atomic.Int32
			var once gosync.Once
			count.OnRequest(func(rq s3test.Request) {
				if !strings.Contains(rq.Key, "/snapshots/") {
					return
				}
				if it%4 == 3 && rq.Copy && n.Add(1) == k || it%4 == 0 && (rq.Method == "DELETE" || rq.Method == "POST") {
					once.Do(func() { close(fire) })
				}
			})
			r = runChild(t, o, cfg, 0, &trigger{kill: fire}, 0)
			count.OnRequest(nil)
		case 2:
			// Aim at the uploads: every package is fetched, the
			// bucket is being written.
			jitter := time.Duration(rng.IntN(150_000)) * time.Microsecond
			delay = -jitter
			r = runChild(t, o, cfg, 0, &trigger{onEvent: func(msg string, r *tortureRun) bool {
				return (msg == "fetched" || msg == "planned") && r.fetched == r.toFetch && r.toFetch > 0
			}}, jitter)
		default:
			d := durations[revs[cur].name]
			delay = time.Duration(rng.Int64N(int64(d))) + 1
			r = runChild(t, o, cfg, delay, nil, 0)
		}
		phase := "completed"
		if r.killed {
			killed++
			phase = r.phase()
		}
		mode := "after " + delay.Round(time.Millisecond).String()
		switch {
		case aim != "":
			mode = aim
		case delay <= 0:
			mode = fmt.Sprintf("%s after the last fetch", (-delay).Round(time.Millisecond))
		}
		table = append(table, fmt.Sprintf("%3d  %-3s  kill %-52s %-9s fetched %d/%d", it, revs[cur].name, mode, phase, r.fetched, r.toFetch))
		when := fmt.Sprintf("iteration %d (origin %s, killed %s in %s)", it, revs[cur].name, mode, phase)
		check(when)
		checkSnapshotsIn(t, when, mirror, revs, key.PublicPath, true, false)
		complete("complete sync after " + when)
	}
	t.Logf("runs:\n%s", strings.Join(table, "\n"))
	t.Logf("%d kills; %d checks found a repomd.xml with the previous revision's .asc", killed, ascWindows)
	if killed == 0 {
		t.Error("no run was killed")
	}
}
