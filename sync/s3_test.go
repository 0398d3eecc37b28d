package sync_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	gosync "sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"golang.org/x/sys/unix"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/fetch"
	"github.com/rpmirror/rpmirror/internal/s3test"
	"github.com/rpmirror/rpmirror/state"
	"github.com/rpmirror/rpmirror/sync"
	"github.com/rpmirror/rpmirror/target"
	"github.com/rpmirror/rpmirror/target/targets"
)

// s3Harness is a harness whose one written mirror is in a bucket of a
// real S3 server (versitygw), reached through a proxy that counts
// uploads. h.mirrors[0] is the directory versitygw keeps the mirror's
// objects in, for checkMirrors and tree.
type s3Harness struct {
	*harness
	srv   *s3test.Server
	count *s3test.Counter
}

func newS3Harness(t *testing.T, o *origin, keys ...string) *s3Harness {
	t.Helper()
	srv := s3test.Start(t, "mirrors")
	h := &s3Harness{harness: newHarness(t, o, keys...), srv: srv, count: srv.Count(t)}
	h.repo.Mirrors = []config.Mirror{{Name: "obj", S3: &config.S3{
		Endpoint:        h.count.Endpoint,
		Bucket:          "mirrors",
		Prefix:          "repo/",
		Region:          "us-east-1",
		CredentialsFile: s3test.CredentialsFile(t, t.TempDir()),
		LeaseTTL:        config.DefaultLeaseTTL,
	}}}
	h.mirrors = []string{filepath.Join(srv.Dir, "mirrors", "repo")}
	return h
}

// freshState gives the harness a new, empty state_dir, as another host
// taking over would have.
func (h *s3Harness) freshState() {
	h.t.Helper()
	store, err := state.Open(filepath.Join(h.t.TempDir(), "state"))
	if err != nil {
		h.t.Fatal(err)
	}
	h.store = store
}

// downloads returns the keys of mirror files (records left out) read
// since the last call.
func (h *s3Harness) downloads() []string {
	var got []string
	for _, k := range h.count.Gets() {
		if strings.HasPrefix(k, "mirrors/repo/") && !strings.Contains(k, "/.rpmirror/") {
			got = append(got, strings.TrimPrefix(k, "mirrors/repo/"))
		}
	}
	return got
}

// uploads returns the keys of mirror files (rpmirror's own records left
// out) uploaded since the last call.
func (h *s3Harness) uploads() []string {
	var got []string
	for _, k := range h.count.Puts() {
		if !strings.Contains(k, "/.rpmirror/") {
			got = append(got, strings.TrimPrefix(k, "mirrors/repo/"))
		}
	}
	return got
}

// TestS3UploadsOnlyWhatIsMissing: a sync to object storage from a fresh
// state_dir (another host, a lost disk) uploads nothing the bucket holds
// already: not when the mirror is current, not for an update, and not
// for the packages an interrupted sync stored before it died. What it
// needs comes from rpmirror's records in the bucket.
func TestS3UploadsOnlyWhatIsMissing(t *testing.T) {
	v1 := filepath.Join("..", "internal", "demo", "origin", "v1")
	v2 := filepath.Join("..", "internal", "demo", "origin", "v2")
	o := newOrigin(t, filepath.Join(t.TempDir(), "origin"))
	republish(t, o, v1)
	h := newS3Harness(t, o, demoKey(t))
	h.mustSync()
	h.checkMirrors()
	first := h.uploads()
	if len(first) == 0 {
		t.Fatal("the first sync uploaded nothing")
	}

	t.Run("current", func(t *testing.T) {
		h.freshState()
		h.downloads()
		rep := h.mustSync()
		if !rep.NoChange {
			t.Errorf("sync from a fresh state_dir: NoChange = false")
		}
		if got := h.uploads(); len(got) != 0 {
			t.Errorf("sync of a current mirror from a fresh state_dir uploaded %v", got)
		}
		for _, k := range h.downloads() {
			if !strings.HasPrefix(k, "repodata/repomd.xml") {
				t.Errorf("the sync of a current mirror read %s from the bucket", k)
			}
		}
	})

	t.Run("interrupted update", func(t *testing.T) {
		// A sync stores v2's new packages, then dies before the commit.
		republish(t, o, v2)
		fail := true
		eng := sync.New(sync.Options{Store: h.store, Fetcher: fetch.New(fetch.Options{}), Now: func() time.Time { return h.now },
			OpenTarget: func(ctx context.Context, m config.Mirror) (target.Target, error) {
				tg, err := targets.Open(ctx, m)
				return failingCommit{tg, &fail}, err
			}})
		if rep := eng.Sync(context.Background(), h.repo); rep.Err == nil {
			t.Fatal("the failing commit did not fail the sync")
		}
		stored := h.uploads()
		var pkgs []string
		for _, k := range stored {
			if strings.HasSuffix(k, ".rpm") {
				pkgs = append(pkgs, k)
			}
		}
		if len(pkgs) == 0 {
			t.Fatalf("the interrupted sync stored no package: %v", stored)
		}
		// Another host, with no state of its own, completes it.
		h.freshState()
		h.o.fetched()
		h.downloads()
		h.mustSync()
		h.checkMirrors()
		for _, k := range h.uploads() {
			if strings.HasSuffix(k, ".rpm") {
				t.Errorf("completing the interrupted sync uploaded %s again", k)
			}
		}
		// What it stored is known by the digest stored with it, and
		// what the mirror served by the index kept with it: nothing is
		// read back but repomd.xml.
		for _, k := range h.downloads() {
			if k != "repodata/repomd.xml" && !strings.HasPrefix(k, "repodata/repomd.xml.") {
				t.Errorf("completing the interrupted sync read %s back from the bucket", k)
			}
		}
		if got := h.o.fetched(); len(got) != 0 {
			t.Errorf("completing the interrupted sync downloaded %v again", got)
		}
	})

	t.Run("records", func(t *testing.T) {
		// The records in the bucket say what another daemon needs:
		// the revision published, and the verified revisions.
		h.freshState()
		if rep := h.mustSync(); !rep.NoChange {
			t.Error("not current")
		}
		v, err := h.store.LoadVerified("test")
		if err != nil {
			t.Fatal(err)
		}
		md, _ := os.ReadFile(filepath.Join(v2, "repodata", "repomd.xml"))
		if cur := v.Current(); cur == nil || cur.SHA256 != sha256Hex(md) || len(v.Revisions) != 2 {
			t.Errorf("verified revisions from the bucket: %+v, want v2 current and v1 before it", v.Revisions)
		}
	})
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// TestS3PendingDeletionsFromTheBucket: the files an update leaves
// unreferenced wait prune_after, counted from when they became
// unreferenced; another host with an empty state_dir prunes them on time,
// from the records in the bucket, and not before.
func TestS3PendingDeletionsFromTheBucket(t *testing.T) {
	v1 := filepath.Join("..", "internal", "demo", "origin", "v1")
	v2 := filepath.Join("..", "internal", "demo", "origin", "v2")
	o := newOrigin(t, filepath.Join(t.TempDir(), "origin"))
	republish(t, o, v1)
	h := newS3Harness(t, o, demoKey(t))
	h.repo.PruneAfter = time.Hour
	h.mustSync()
	before := tree(t, h.mirrors[0])
	republish(t, o, v2)
	h.mustSync()
	h.checkMirrors()
	var gone []string // v1's files that v2 does not use
	after := tree(t, h.mirrors[0])
	for p := range before {
		if _, err := os.Stat(filepath.Join(v2, filepath.FromSlash(p))); err != nil && !strings.HasPrefix(p, "repodata/repomd.xml") {
			gone = append(gone, p)
		}
	}
	if len(gone) == 0 {
		t.Fatal("v2 leaves nothing of v1 unreferenced: no test")
	}
	for _, p := range gone {
		if _, ok := after[p]; !ok {
			t.Fatalf("%s was deleted before prune_after", p)
		}
	}
	for _, tc := range []struct {
		name   string
		later  time.Duration
		pruned bool
	}{
		{"before prune_after", 30 * time.Minute, false},
		{"after prune_after", 61 * time.Minute, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.freshState()
			h.now = h.now.Add(tc.later)
			rep := h.mustSync()
			h.now = h.now.Add(-tc.later)
			now := tree(t, h.mirrors[0])
			for _, p := range gone {
				if _, there := now[p]; there == tc.pruned {
					t.Errorf("%s: %s there = %v", tc.name, p, there)
				}
			}
			if tc.pruned && rep.Mirrors[0].Deleted != len(gone) {
				t.Errorf("Deleted = %d, want %d", rep.Mirrors[0].Deleted, len(gone))
			}
			h.checkMirrors()
		})
	}
}

// TestS3StoresWhileDownloading: packages go to object storage as soon as
// each is fetched and verified, while the others still download, not
// after the last download. The origin holds every package download but
// the first until the store sees a package uploaded (or, failing that,
// for 20 seconds, less than the fetcher waits for response headers):
// without uploads during the downloads, the sync would wait them out.
func TestS3StoresWhileDownloading(t *testing.T) {
	o := newOrigin(t, filepath.Join(t.TempDir(), "origin"))
	republish(t, o, filepath.Join("..", "internal", "demo", "origin", "v1"))
	h := newS3Harness(t, o, demoKey(t))
	stored := make(chan struct{})
	var once gosync.Once
	h.count.OnRequest(func(r s3test.Request) {
		if r.Method == http.MethodPut && strings.HasSuffix(r.Key, ".rpm") {
			once.Do(func() { close(stored) })
		}
	})
	var first atomic.Bool
	var waited atomic.Bool // a download was held until the time was up
	o.mu.Lock()
	o.before = func(p string) {
		if !strings.HasSuffix(p, ".rpm") || first.CompareAndSwap(false, true) {
			return
		}
		select {
		case <-stored:
		case <-time.After(20 * time.Second):
			waited.Store(true)
		}
	}
	o.mu.Unlock()
	h.mustSync()
	if waited.Load() {
		t.Error("no package was uploaded before the last download ended")
	}
	h.checkMirrors()
}

// TestS3FailedSyncRemovesEarlyUploads: a download that fails after other
// packages were uploaded (stored while the rest downloaded) fails the
// sync, and the sync removes what it uploaded: nothing names those
// packages, and the bucket holds no package afterwards.
func TestS3FailedSyncRemovesEarlyUploads(t *testing.T) {
	o := newOrigin(t, filepath.Join(t.TempDir(), "origin"))
	republish(t, o, filepath.Join("..", "internal", "demo", "origin", "v1"))
	h := newS3Harness(t, o, demoKey(t))
	stored := make(chan struct{})
	var once gosync.Once
	h.count.OnRequest(func(r s3test.Request) {
		if r.Method == http.MethodPut && strings.HasSuffix(r.Key, ".rpm") {
			once.Do(func() { close(stored) })
		}
	})
	const bad = "Packages/w/webapp-config-3.1-4.noarch.rpm"
	o.setStatusOf(bad, http.StatusNotFound)
	var held atomic.Bool // the failing download waited for an upload
	o.mu.Lock()
	o.before = func(p string) {
		if p != bad {
			return
		}
		select {
		case <-stored:
			held.Store(true)
		case <-time.After(20 * time.Second):
		}
	}
	o.mu.Unlock()
	if rep := h.sync(); rep.Err == nil {
		t.Fatal("sync with a package missing at the origin: no error")
	}
	if !held.Load() {
		t.Fatal("no package was uploaded before the failing download ended")
	}
	if got := h.uploads(); len(got) == 0 {
		t.Fatal("the failed sync uploaded nothing")
	}
	var left []string
	filepath.WalkDir(h.mirrors[0], func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".rpm") {
			left = append(left, p)
		}
		return nil
	})
	if len(left) > 0 {
		t.Errorf("after the failed sync the bucket holds %v", left)
	}
}

// TestCacheFlushedForLocalMirrorsOnly: the downloads in the cache are
// made durable before a mirror on this machine names them (hard links to
// them: TestCacheDurableBeforePublish), and not for a mirror in object
// storage, which gets a copy of the bytes that its store makes durable:
// flushing them would write to disk the files the sync deletes once
// published (on an ext4 mounted with discard and without a journal,
// each such deletion then waits for its blocks to be discarded).
func TestCacheFlushedForLocalMirrorsOnly(t *testing.T) {
	for _, tc := range []struct {
		name  string
		local bool // a mirror on a local path besides the bucket
	}{
		{"object storage only", false},
		{"object storage and a local path", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newOrigin(t, filepath.Join(t.TempDir(), "origin"))
			republish(t, o, filepath.Join("..", "internal", "demo", "origin", "v1"))
			h := newS3Harness(t, o, demoKey(t))
			if tc.local {
				p := filepath.Join(t.TempDir(), "local")
				h.repo.Mirrors = append(h.repo.Mirrors, config.Mirror{Name: "local", Path: p})
				h.mirrors = append(h.mirrors, p)
			}
			var mu gosync.Mutex
			flushes := 0
			flushed := map[uint64]bool{} // inodes
			var old func(string, []string) error
			old = sync.SetFlush(func(root string, paths []string) error {
				mu.Lock()
				defer mu.Unlock()
				flushes++
				for _, p := range paths {
					var st unix.Stat_t
					if err := unix.Stat(p, &st); err != nil {
						t.Errorf("flushing %s: %v", p, err)
						continue
					}
					flushed[st.Ino] = true
				}
				return old(root, paths)
			})
			t.Cleanup(func() { sync.SetFlush(old) })
			h.mustSync()
			h.checkMirrors()
			if !tc.local {
				if flushes != 0 {
					t.Errorf("a sync to object storage alone flushed the cache %d times, want none", flushes)
				}
				return
			}
			if flushes != 1 {
				t.Errorf("the cache was flushed %d times, want once", flushes)
			}
			checkAllFlushed(t, h.mirrors[1], flushed)
		})
	}
}

// TestS3StateSavedWhileDownloading: an initial sync to object storage
// saves the state that records the packages it will upload as
// unpublished (an fsync of the state_dir and a record written to the
// bucket) while the first packages download, not before them; and no
// package is uploaded before that state is saved, in the state_dir and
// in the bucket, so that whichever process syncs next prunes a package
// stored for a revision never published. The store holds the state's
// record until the origin is asked for a package (or, failing that,
// for 20 seconds, less than the fetcher waits for response headers).
func TestS3StateSavedWhileDownloading(t *testing.T) {
	o := newOrigin(t, filepath.Join(t.TempDir(), "origin"))
	republish(t, o, filepath.Join("..", "internal", "demo", "origin", "v1"))
	h := newS3Harness(t, o, demoKey(t))
	asked := make(chan struct{})
	var askedOnce gosync.Once
	o.mu.Lock()
	o.before = func(p string) {
		if strings.HasSuffix(p, ".rpm") {
			askedOnce.Do(func() { close(asked) })
		}
	}
	o.mu.Unlock()
	var held, waited, checked atomic.Bool
	var mu gosync.Mutex
	var problems []string
	problem := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		problems = append(problems, fmt.Sprintf(format, args...))
	}
	h.count.OnRequest(func(r s3test.Request) {
		switch {
		case r.Method != http.MethodPut:
		case strings.HasSuffix(r.Key, "/.rpmirror/records/state.json") && held.CompareAndSwap(false, true):
			select {
			case <-asked:
			case <-time.After(20 * time.Second):
				waited.Store(true)
			}
		case strings.HasSuffix(r.Key, ".rpm") && checked.CompareAndSwap(false, true):
			// The first upload: the package must be recorded as
			// unpublished in both places already.
			pkg := strings.TrimPrefix(r.Key, "mirrors/repo/")
			st, err := h.store.Load(h.repo.Name)
			if err != nil {
				problem("loading the state: %v", err)
			} else if m := st.Mirrors["obj"]; m == nil || m.Unpublished[pkg].IsZero() {
				problem("%s was uploaded before the state_dir recorded it as unpublished", pkg)
			}
			b, err := os.ReadFile(filepath.Join(h.mirrors[0], ".rpmirror", "records", "state.json"))
			var rec struct {
				Mirror *state.Mirror `json:"mirror"`
			}
			if err == nil {
				err = json.Unmarshal(b, &rec)
			}
			if err != nil {
				problem("reading the state record in the bucket: %v", err)
			} else if rec.Mirror == nil || rec.Mirror.Unpublished[pkg].IsZero() {
				problem("%s was uploaded before the bucket's record listed it as unpublished", pkg)
			}
		}
	})
	h.mustSync()
	if !held.Load() || !checked.Load() {
		t.Fatalf("the sync wrote no state record (%v) or uploaded no package (%v)", held.Load(), checked.Load())
	}
	if waited.Load() {
		t.Error("no package was downloaded while the state was being saved")
	}
	for _, p := range problems {
		t.Error(p)
	}
	h.checkMirrors()
}

// TestS3StateSaveFails: when the state recording the packages as
// unpublished cannot be saved (here the store refuses the record), the
// sync fails with that error, and no package is uploaded.
func TestS3StateSaveFails(t *testing.T) {
	o := newOrigin(t, filepath.Join(t.TempDir(), "origin"))
	republish(t, o, filepath.Join("..", "internal", "demo", "origin", "v1"))
	h := newS3Harness(t, o, demoKey(t))
	h.count.Refuse(func(r s3test.Request) bool {
		return r.Method == http.MethodPut && strings.HasSuffix(r.Key, "/.rpmirror/records/state.json")
	})
	rep := h.sync()
	var er minio.ErrorResponse
	if !errors.As(rep.Err, &er) || er.Code != "AccessDenied" {
		t.Fatalf("sync whose state record the store refuses: error %v, want the store's AccessDenied", rep.Err)
	}
	for _, k := range h.uploads() {
		if strings.HasSuffix(k, ".rpm") {
			t.Errorf("%s was uploaded though the state recording it could not be saved", k)
		}
	}
}

// TestS3AdoptedBucketReadBack: a bucket whose index record is gone (a
// copy made with another tool, or the record deleted) is adopted: the
// digest stored with each object is its writer's claim, not something
// this rpmirror verified, so each kept package is read back. A package
// whose content rotted under its recorded digest is fetched and
// replaced, and so is a rotted metadata file; the others are not fetched.
// Both are repairs (the bucket's repomd.xml names the content written),
// which a target without an atomic commit can take.
func TestS3AdoptedBucketReadBack(t *testing.T) {
	v1 := filepath.Join("..", "internal", "demo", "origin", "v1")
	o := newOrigin(t, filepath.Join(t.TempDir(), "origin"))
	republish(t, o, v1)
	h := newS3Harness(t, o, demoKey(t))
	h.mustSync()
	h.checkMirrors()
	index := filepath.Join(h.mirrors[0], ".rpmirror", "records", "index")
	if err := os.Remove(index); err != nil {
		t.Fatalf("removing the bucket's index record: %v", err)
	}
	h.freshState()
	victim := filepath.Join(h.mirrors[0], "Packages", "h", "hello-mirror-1.0-1.noarch.rpm")
	flipByte(t, victim) // in place: the object keeps its recorded digest
	filelists, err := filepath.Glob(filepath.Join(h.mirrors[0], "repodata", "*-filelists.xml.gz"))
	if err != nil || len(filelists) != 1 {
		t.Fatalf("the bucket's filelists: %q (%v)", filelists, err)
	}
	flipByte(t, filelists[0])
	h.o.fetched()
	h.downloads()
	rep := h.mustSync()
	if rep.NoChange {
		t.Error("the adopted bucket was taken as current")
	}
	got := h.o.fetched()
	if !slices.Contains(got, "Packages/h/hello-mirror-1.0-1.noarch.rpm") {
		t.Errorf("the rotted package was not fetched again: fetched %q", got)
	}
	if n := len(slices.DeleteFunc(got, func(p string) bool { return !strings.HasSuffix(p, ".rpm") })); n != 1 {
		t.Errorf("fetched %d packages from the origin, want the rotted one only", n)
	}
	h.checkMirrors()
}

// TestS3UploadsManyAtOnce: packages go to object storage
// target.Properties.PutConcurrency (16) at a time, not
// download.concurrency (4) at a time. The store holds every package
// upload until more than 4 are in flight (or, failing that, for 20
// seconds); the demo origin has 6 packages.
func TestS3UploadsManyAtOnce(t *testing.T) {
	o := newOrigin(t, filepath.Join(t.TempDir(), "origin"))
	republish(t, o, filepath.Join("..", "internal", "demo", "origin", "v1"))
	h := newS3Harness(t, o, demoKey(t))
	var (
		mu       gosync.Mutex
		inFlight int
		most     int
	)
	enough := make(chan struct{})
	var once gosync.Once
	var waited atomic.Bool
	h.count.OnRequest(func(r s3test.Request) {
		if r.Method != http.MethodPut || !strings.HasSuffix(r.Key, ".rpm") {
			return
		}
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		if inFlight > 4 {
			once.Do(func() { close(enough) })
		}
		mu.Unlock()
		select {
		case <-enough:
		case <-time.After(20 * time.Second):
			waited.Store(true)
			once.Do(func() { close(enough) })
		}
		mu.Lock()
		inFlight--
		mu.Unlock()
	})
	h.mustSync()
	if waited.Load() {
		mu.Lock()
		t.Errorf("at most %d package uploads were in flight at once, want more than 4", most)
		mu.Unlock()
	}
	h.checkMirrors()
}

// TestS3DryRunReadsIndexRecordOnce: a dry run from a fresh state_dir
// (another host) of a bucket one revision behind takes the mirror's
// index from the record kept in the bucket, and reads that record once:
// deciding that rpmirror published the mirror and planning from its
// index use the same read (a dry run keeps no copy in state_dir).
func TestS3DryRunReadsIndexRecordOnce(t *testing.T) {
	v1 := filepath.Join("..", "internal", "demo", "origin", "v1")
	v2 := filepath.Join("..", "internal", "demo", "origin", "v2")
	o := newOrigin(t, filepath.Join(t.TempDir(), "origin"))
	republish(t, o, v1)
	h := newS3Harness(t, o, demoKey(t))
	h.mustSync()
	republish(t, o, v2)
	h.freshState()
	var mu gosync.Mutex
	reads := 0
	h.count.OnRequest(func(r s3test.Request) {
		if r.Method == http.MethodGet && strings.HasSuffix(r.Key, "/.rpmirror/records/index") {
			mu.Lock()
			reads++
			mu.Unlock()
		}
	})
	defer h.count.OnRequest(nil)
	h.downloads()
	rep := h.engine(true).Sync(context.Background(), h.repo)
	if rep.Err != nil {
		t.Fatal(rep.Err)
	}
	if rep.NoChange || len(rep.WouldFetch) == 0 {
		t.Fatalf("the dry run of an update plans nothing: no change %v, would fetch %q", rep.NoChange, rep.WouldFetch)
	}
	if got := rep.Mirrors[0].Checked; got != 0 {
		t.Errorf("%d packages read back: the mirror was not planned from the index kept in the bucket", got)
	}
	for _, k := range h.downloads() {
		if strings.HasSuffix(k, ".rpm") || strings.Contains(k, "primary") {
			t.Errorf("the dry run read %s from the bucket; want its index record only", k)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if reads != 1 {
		t.Errorf("the dry run read the bucket's index record %d times, want once", reads)
	}
}
