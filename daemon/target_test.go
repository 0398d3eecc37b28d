package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	gosync "sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/health"
	"github.com/rpmirror/rpmirror/internal/s3test"
	"github.com/rpmirror/rpmirror/server"
	"github.com/rpmirror/rpmirror/state"
	"github.com/rpmirror/rpmirror/sync"
	"github.com/rpmirror/rpmirror/target"
)

// runSynced starts a daemon on the configuration yaml (with the demo
// repository served at ORIGIN, replaced by its URL) and the real sync
// engine, and waits until every repo's start-up sync succeeded.
func runSynced(t *testing.T, yaml string) *Daemon {
	t.Helper()
	return runSyncedWith(t, "probe_interval: 1h\nprobe_timeout: 2s\n", yaml, len(yamlRepos(yaml)))
}

// yamlRepos returns the names of the repos in yaml.
func yamlRepos(yaml string) []string {
	var names []string
	for _, l := range strings.Split(yaml, "\n") {
		if n, ok := strings.CutPrefix(l, "  - name: "); ok {
			names = append(names, n)
		}
	}
	return names
}

// runSyncedWith is runSynced with top-level settings top, waiting for
// want repos' start-up syncs.
func runSyncedWith(t *testing.T, top, yaml string, want int) *Daemon {
	t.Helper()
	origin := httptest.NewServer(http.FileServer(http.Dir(filepath.Join("..", "internal", "demo", "origin"))))
	t.Cleanup(origin.Close)
	dir := t.TempDir()
	p := filepath.Join(dir, "mirrors.yaml")
	yaml = "state_dir: " + dir + "/state\n" + top + string(bytes.ReplaceAll([]byte(yaml), []byte("ORIGIN"), []byte(origin.URL)))
	if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(cfg, Options{Logger: slog.New(slog.DiscardHandler), ShutdownTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	deadline := time.Now().Add(2 * time.Minute)
	for {
		synced := 0
		for _, rs := range d.Status().Repos {
			if ls := rs.LastSync; ls != nil {
				if ls.Result != "ok" {
					t.Fatalf("repo %s: start-up sync: %+v", rs.Name, ls)
				}
				synced++
			}
		}
		if synced >= want {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("the start-up syncs did not finish: %+v", d.Status().Repos)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDaemonOnObjectStorage: the daemon reads a written mirror only
// through its target, so everything it does with a directory mirror it
// does with one in object storage (a real S3 server, versitygw): it finds
// the revision published there, samples its packages for probes, and
// writes the mirrorlist and metalink into it.
func TestDaemonOnObjectStorage(t *testing.T) {
	srv := s3test.Start(t, "mirrors")
	creds := filepath.Join(t.TempDir(), "credentials")
	os.WriteFile(creds, []byte("[default]\naws_access_key_id = "+s3test.Access+"\naws_secret_access_key = "+s3test.Secret+"\n"), 0o600)
	d := runSynced(t, "repos:\n  - name: r\n    origin: ORIGIN/v1/\n    mirrors:\n      - name: obj\n        s3:\n"+
		"          endpoint: "+srv.Endpoint+"\n          bucket: mirrors\n          prefix: r/\n          credentials_file: "+creds+"\n")
	r, _ := d.repo("r")
	bucket := filepath.Join(srv.Dir, "mirrors", "r")
	repomd, err := os.ReadFile(filepath.Join(bucket, "repodata", "repomd.xml"))
	if err != nil {
		t.Fatalf("the sync published nothing to the bucket: %v", err)
	}

	t.Run("published revision", func(t *testing.T) {
		if got := r.publishedRepomd(); !bytes.Equal(got, repomd) {
			t.Errorf("publishedRepomd read %d bytes, the bucket's repomd.xml has %d", len(got), len(repomd))
		}
	})
	t.Run("package sample", func(t *testing.T) {
		r.mu.Lock()
		r.packages = nil
		r.mu.Unlock()
		r.refreshPackages()
		r.mu.Lock()
		pkgs, of := slices.Clone(r.packages), r.packagesOf
		r.mu.Unlock()
		if len(pkgs) == 0 {
			t.Fatal("no packages sampled from the bucket's primary metadata")
		}
		if of != sha256Hex(repomd) {
			t.Errorf("sample said to be of the revision %s, the bucket's is %s", of, sha256Hex(repomd))
		}
		for _, p := range pkgs {
			if fi, err := os.Stat(filepath.Join(bucket, filepath.FromSlash(p.Href))); err != nil || fi.Size() != p.Size {
				t.Errorf("sampled %s of size %d, which the bucket does not hold so: %v", p.Href, p.Size, err)
			}
		}
	})
	t.Run("lists", func(t *testing.T) {
		waitForLists(t, map[string]*repo{bucket: r})
	})
}

// waitForLists waits until every directory holds the lists of its
// repo's views, as they are when read: a probe that ends meanwhile may
// render them again.
func waitForLists(t *testing.T, want map[string]*repo) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok := true
		for dir, r := range want {
			v := r.views.Load()
			ml, err1 := os.ReadFile(filepath.Join(dir, MirrorlistFile))
			mt, err2 := os.ReadFile(filepath.Join(dir, MetalinkFile))
			if err1 != nil || err2 != nil || !bytes.Equal(ml, v.mirrorlist) || !bytes.Equal(mt, v.metalink) {
				ok = false
				if time.Now().After(deadline) {
					t.Fatalf("%s: mirrorlist (%v) and metalink.xml (%v) are not the lists rendered:\n%s\nwant:\n%s", dir, err1, err2, ml, v.mirrorlist)
				}
			}
		}
		if ok {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestListsStagedUnderTheirOwnNames: repos "a-b" (mirror "c") and "a"
// (mirror "b-c") write their lists at the same time; each mirror ends up
// with its own repo's lists, never the other's (a staging name made of
// repo and mirror names was the same for both).
func TestListsStagedUnderTheirOwnNames(t *testing.T) {
	dir := t.TempDir()
	d := runSynced(t, "repos:\n"+
		"  - name: a-b\n    origin: ORIGIN/v1/\n    mirrors:\n      - name: c\n        path: "+dir+"/one\n"+
		"  - name: a\n    origin: ORIGIN/v2/\n    mirrors:\n      - name: b-c\n        path: "+dir+"/two\n")
	one, _ := d.repo("a-b")
	two, _ := d.repo("a")
	want := map[string]*repo{filepath.Join(dir, "one"): one, filepath.Join(dir, "two"): two}
	if bytes.Equal(one.views.Load().mirrorlist, two.views.Load().mirrorlist) {
		t.Fatal("the two repos render the same mirrorlist: the test cannot tell them apart")
	}
	waitForLists(t, want)
	for range 30 {
		var wg gosync.WaitGroup
		for _, r := range []*repo{one, two} {
			r.mu.Lock()
			clear(r.written)
			r.mu.Unlock()
			wg.Add(1)
			go func() { defer wg.Done(); r.writeLists() }()
		}
		wg.Wait()
		waitForLists(t, want)
	}
}

// TestSyncSlotFreedBeforeProbes: with max_parallel_syncs 1, a repo whose
// mirror answers its post-sync probe slowly does not keep the next
// repo's sync waiting: the slot bounds syncs, not the probes after them.
func TestSyncSlotFreedBeforeProbes(t *testing.T) {
	stall := make(chan struct{})
	var once gosync.Once
	unstall := func() { once.Do(func() { close(stall) }) }
	t.Cleanup(unstall)
	var inflight [2]atomic.Int32 // requests for repo a's and b's mirror being answered
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := 0
		if strings.HasPrefix(r.URL.Path, "/b/") {
			i = 1
		}
		inflight[i].Add(1)
		defer inflight[i].Add(-1)
		select {
		case <-stall:
		case <-r.Context().Done():
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(unstall) // runs before slow.Close
	dir := t.TempDir()
	var yaml strings.Builder
	yaml.WriteString("repos:\n")
	for _, n := range []string{"a", "b"} {
		fmt.Fprintf(&yaml, "  - name: %s\n    origin: ORIGIN/v1/\n    mirrors:\n      - name: m\n        path: %s/%s\n        url: %s/%s/\n", n, dir, n, slow.URL, n)
	}
	// Both start-up syncs end while the first one's post-sync probe
	// still waits for its mirror: the second sync did not wait for that
	// probe. (Had it waited, the probe would have given up first, and
	// nothing of the first repo would be in flight.)
	d := runSyncedWith(t, "probe_interval: 1h\nprobe_timeout: 10m\nmax_parallel_syncs: 1\n", yaml.String(), 2)
	busy := [2]int32{inflight[0].Load(), inflight[1].Load()}
	st := d.Status().Repos
	for _, rs := range st {
		if rs.LastSync == nil || rs.LastSync.Result != "ok" {
			t.Fatalf("repo %s: %+v", rs.Name, rs.LastSync)
		}
	}
	first := 0 // Status lists a, then b
	if st[1].LastSync.Start.Before(st[0].LastSync.Start) {
		first = 1
	}
	if busy[first] == 0 {
		t.Errorf("both syncs ended after the post-sync probe of %s's mirror ended: the second sync waited for the first one's probes", st[first].Name)
	}
}

// TestDaemonSnapshotsOnObjectStorage: the snapshots of a mirror in object
// storage are listed like those of a directory: /snapshots.json names the
// latest with its URL under the mirror's url (the web front serving the
// bucket), and ?snapshot=NAME lists that URL.
func TestDaemonSnapshotsOnObjectStorage(t *testing.T) {
	srv := s3test.Start(t, "mirrors")
	front := httptest.NewServer(http.FileServer(http.Dir(filepath.Join(srv.Dir, "mirrors"))))
	t.Cleanup(front.Close)
	creds := filepath.Join(t.TempDir(), "credentials")
	os.WriteFile(creds, []byte("[default]\naws_access_key_id = "+s3test.Access+"\naws_secret_access_key = "+s3test.Secret+"\n"), 0o600)
	d := runSyncedWith(t, "probe_interval: 1s\nprobe_timeout: 1s\n", "repos:\n  - name: r\n    origin: ORIGIN/v1/\n    snapshots: {keep: 3}\n    mirrors:\n      - name: obj\n        url: "+front.URL+"/r/\n        s3:\n"+
		"          endpoint: "+srv.Endpoint+"\n          bucket: mirrors\n          prefix: r/\n          credentials_file: "+creds+"\n", 1)
	latest, err := os.ReadFile(filepath.Join(srv.Dir, "mirrors", "r", "snapshots", "latest.txt"))
	if err != nil {
		t.Fatalf("no snapshot in the bucket: %v", err)
	}
	name := strings.TrimSpace(string(latest))
	url := front.URL + "/r/snapshots/" + name + "/"
	get := func(path string) (int, string) {
		w := httptest.NewRecorder()
		d.Handler().ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		return w.Code, w.Body.String()
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, doc := get("/snapshots.json")
		code, list := get("/mirrorlist?repo=r&snapshot=" + name)
		if strings.Contains(doc, `"latest": "`+name+`"`) && strings.Contains(doc, url) && code == 200 && list == url+"\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/snapshots.json does not list snapshot %s at %s:\n%s\n/mirrorlist?snapshot=: %d %q", name, url, doc, code, list)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestProbeRoundDoesNotWaitForLists: a probe round that re-renders a
// repo's lists ends without waiting for them to be written into its
// mirrors (here the writing is held up, as fsyncs behind a busy disk
// hold it up); the list writers write them once they can.
func TestProbeRoundDoesNotWaitForLists(t *testing.T) {
	dir := t.TempDir()
	d := runSynced(t, "repos:\n  - name: a\n    origin: ORIGIN/v1/\n    mirrors:\n      - name: m\n        path: "+dir+"/m\n")
	r, _ := d.repo("a")
	r.views.Store(&views{key: "an older rendering"}) // the round renders anew
	r.writing.Lock()                                 // and its lists cannot be written yet
	round := make(chan struct{})
	go func() { d.probeAll(t.Context()); close(round) }()
	select {
	case <-round:
	case <-time.After(30 * time.Second): // a deadlock guard, not a measure
		t.Error("the probe round waited for the lists to be written")
	}
	r.writing.Unlock()
	<-round
	if v := r.views.Load(); v.key == "an older rendering" {
		t.Fatal("the round did not render the lists")
	}
	waitForLists(t, map[string]*repo{filepath.Join(dir, "m"): r})
}

// TestStartUpSyncNotStandbyBehindOwnLists restarts a daemon on a bucket it
// published to: at start it writes the lists into the bucket (holding the
// mirror's lease for them) while its start-up sync begins. The sync waits
// for that write instead of finding the lease held and going on standby
// behind its own daemon ("lease held by HOST/PID"), which it did in two
// starts out of three, syncing only a probe round later.
func TestStartUpSyncNotStandbyBehindOwnLists(t *testing.T) {
	srv := s3test.Start(t, "mirrors")
	dir := t.TempDir()
	creds := filepath.Join(dir, "credentials")
	os.WriteFile(creds, []byte("[default]\naws_access_key_id = "+s3test.Access+"\naws_secret_access_key = "+s3test.Secret+"\n"), 0o600)
	origin := httptest.NewServer(http.FileServer(http.Dir(filepath.Join("..", "internal", "demo", "origin"))))
	t.Cleanup(origin.Close)
	p := filepath.Join(dir, "mirrors.yaml")
	os.WriteFile(p, []byte("state_dir: "+dir+"/state\nprobe_interval: 1h\nprobe_timeout: 2s\nrepos:\n  - name: r\n    origin: "+origin.URL+"/v1/\n    mirrors:\n"+
		"      - name: obj\n        s3:\n          endpoint: "+srv.Endpoint+"\n          bucket: mirrors\n          prefix: r/\n          credentials_file: "+creds+"\n"), 0o644)
	for round := range 6 {
		cfg, err := config.Load(p)
		if err != nil {
			t.Fatal(err)
		}
		d, stop := runBare(t, cfg, Options{Logger: slog.New(slog.DiscardHandler), ShutdownTimeout: 5 * time.Second})
		deadline := time.Now().Add(time.Minute)
		var ls *server.SyncStatus
		for ls = d.Status().Repos[0].LastSync; ls == nil; ls = d.Status().Repos[0].LastSync {
			if time.Now().After(deadline) {
				stop()
				t.Fatalf("round %d: no start-up sync", round)
			}
			time.Sleep(10 * time.Millisecond)
		}
		stop()
		if want := map[bool]string{true: "ok", false: "no change"}[round == 0]; ls.Result != want {
			t.Errorf("round %d: start-up sync %q (%s), want %q", round, ls.Result, ls.Error, want)
		}
	}
}

// TestStoreFailureWarnedOnce: a store that refuses the daemon's
// credentials fails the lease read and the snapshot index read of every
// probe round; each is one warning (and /status shows it meanwhile), not
// two warnings every probe round.
func TestStoreFailureWarnedOnce(t *testing.T) {
	srv := s3test.Start(t, "mirrors")
	dir := t.TempDir()
	creds := filepath.Join(dir, "credentials")
	os.WriteFile(creds, []byte("[default]\naws_access_key_id = "+s3test.Access+"\naws_secret_access_key = not-the-secret\n"), 0o600)
	p := filepath.Join(dir, "mirrors.yaml")
	os.WriteFile(p, []byte("state_dir: "+dir+"/state\nprobe_interval: 1h\nprobe_timeout: 2s\nrepos:\n  - name: r\n    origin: http://127.0.0.1:1/\n    snapshots: {}\n    mirrors:\n"+
		"      - name: obj\n        s3:\n          endpoint: "+srv.Endpoint+"\n          bucket: mirrors\n          prefix: r/\n          credentials_file: "+creds+"\n"), 0o644)
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	var log recordLog
	d, stop := runBare(t, cfg, Options{Logger: slog.New(slog.NewJSONHandler(&log, nil)), ShutdownTimeout: 5 * time.Second})
	defer stop()
	r, _ := d.repo("r")
	for range 3 {
		r.probeLeases(context.Background(), true)
		r.snapshotIndexes(r.config())
	}
	for _, msg := range []string{"reading the lease", "reading the snapshots of a mirror"} {
		if n := len(log.records(t, msg)); n != 1 {
			t.Errorf("%q logged %d times over several probe rounds, want once", msg, n)
		}
	}
	if st := d.Status().Repos[0].Mirrors[0]; st.Lease == nil || st.Lease.Error == "" {
		t.Errorf("/status does not show the lease's failure: %+v", st.Lease)
	}
}

// TestReloadReadsCredentialsAgain: the keys in a mirror's credentials_file
// are fixed (or rotated) under the same path and the daemon reloaded
// (SIGHUP): the daemon's own requests to the store (the lists, the lease,
// the snapshot index) use the new keys. It kept the mirror's target, and
// the keys it was opened with, until restarted.
func TestReloadReadsCredentialsAgain(t *testing.T) {
	srv := s3test.Start(t, "mirrors")
	dir := t.TempDir()
	creds := filepath.Join(dir, "credentials")
	write := func(secret string) {
		if err := os.WriteFile(creds, []byte("[default]\naws_access_key_id = "+s3test.Access+"\naws_secret_access_key = "+secret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("not-the-secret")
	p := filepath.Join(dir, "mirrors.yaml")
	os.WriteFile(p, []byte("state_dir: "+dir+"/state\nprobe_interval: 1h\nprobe_timeout: 2s\nrepos:\n  - name: r\n    origin: http://127.0.0.1:1/\n    mirrors:\n"+
		"      - name: obj\n        s3:\n          endpoint: "+srv.Endpoint+"\n          bucket: mirrors\n          prefix: r/\n          credentials_file: "+creds+"\n"), 0o644)
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	d, stop := runBare(t, cfg, Options{Logger: slog.New(slog.DiscardHandler), ShutdownTimeout: 5 * time.Second})
	defer stop()
	r, _ := d.repo("r")
	m := cfg.Repos[0].Mirrors[0]
	walk := func() error {
		tg, err := r.target(context.Background(), m)
		if err != nil {
			return err
		}
		return tg.Walk(context.Background(), "", func(string, target.Info) error { return nil })
	}
	if err := walk(); err == nil {
		t.Fatal("the store took the wrong secret")
	}
	write(s3test.Secret)
	next, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	d.Reload(next)
	if err := walk(); err != nil {
		t.Errorf("after the keys were fixed and the daemon reloaded: %v", err)
	}
}

// TestStandbyTakesOverOnProbeRounds: on standby with the lease free, a
// probe round asks for a sync to take the lease over, but the lease
// reading after a sync does not (an operator's HA test: a lease no sync
// could take made the two daemons start a sync after each other's end
// without pause, 400 in 20 s, and nothing in /status). Takeovers come a
// probe round apart.
func TestStandbyTakesOverOnProbeRounds(t *testing.T) {
	r, _ := bucketRepo(t, "")
	for len(r.trigger) > 0 {
		<-r.trigger
	}
	r.mu.Lock()
	r.standby = true // the last sync found the lease held; it is free now (no lease object)
	r.mu.Unlock()
	r.probeLeases(context.Background(), false)
	if len(r.trigger) != 0 {
		t.Errorf("the lease reading after a sync asked for a takeover: %q", <-r.trigger)
	}
	r.probeLeases(context.Background(), true)
	select {
	case why := <-r.trigger:
		if !strings.Contains(why, "taking over") {
			t.Errorf("a probe round on standby asked for a sync: %q, want a takeover", why)
		}
	default:
		t.Error("a probe round on standby with the lease free asked for no sync")
	}
}

// TestHoldLearntFromTheBucket: a rollback made on another host, which
// recorded its hold with the mirror in object storage, holds the repo in
// this daemon at its next probe round (an operator's HA test: the other
// daemon kept judging the bucket against the newer revision and listing
// it, and its sync republished that revision); the resume recorded there
// lifts it.
func TestHoldLearntFromTheBucket(t *testing.T) {
	r, m := bucketRepo(t, "")
	ctx := context.Background()
	tg, err := r.target(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	record := func(rec sync.HoldRecord) {
		t.Helper()
		b, _ := json.Marshal(rec)
		writeRecord(t, tg, "hold.json", b)
	}
	at := time.Now().UTC().Add(-time.Minute)
	h := &state.Hold{Repo: "r", Snapshot: "20261125T120000Z", Revision: "1", SHA256: "aa", Repomd: []byte("<repomd/>"), By: "a@host-a", At: at, Done: at}
	r.readHoldRecords(ctx)
	if r.refreshHold(); r.hold != nil {
		t.Fatalf("held before any hold was recorded: %+v", r.hold)
	}
	record(sync.HoldRecord{Hold: h, Written: at})
	r.readHoldRecords(ctx)
	r.refreshHold()
	if r.hold == nil || r.hold.Snapshot != h.Snapshot || r.hold.By != h.By {
		t.Fatalf("a hold recorded with the bucket on another host: the daemon holds %+v", r.hold)
	}
	record(sync.HoldRecord{LiftedAt: h.At, LiftedSHA256: h.SHA256, Written: at.Add(30 * time.Second)})
	r.readHoldRecords(ctx)
	r.refreshHold()
	if r.hold != nil {
		t.Errorf("a resume recorded with the bucket on another host: the daemon still holds %+v", r.hold)
	}
}

// TestVerifiedLearntFromTheBucket: a written mirror in object storage
// that serves a revision this daemon has not verified (another daemon
// sharing the bucket verified and published it) is judged against the
// verified revisions kept in the bucket's records at the next probe
// round, not left unknown and out of the lists until this daemon's own
// next sync (an operator's HA test).
func TestVerifiedLearntFromTheBucket(t *testing.T) {
	r, m := bucketRepo(t, "        url: http://127.0.0.1:1/r/\n")
	ctx := context.Background()
	tg, err := r.target(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	repomd := []byte("<repomd>revision 7</repomd>")
	sum := sha256Hex(repomd)
	rec, _ := json.Marshal(map[string]any{
		"written": time.Now().UTC(), "mirror": map[string]any{},
		"verified": state.Verified{Repo: "r", Revisions: []state.Revision{{Revision: "7", SHA256: sum, Repomd: repomd, VerifiedAt: time.Now().UTC()}}},
	})
	writeRecord(t, tg, "state.json", rec)
	// The mirror's last probe found it serving that revision.
	r.tracker.Update(m.Name, health.Result{URL: m.URL, State: health.Unknown, SHA256: sum, Revision: "7", Checked: time.Now()})
	r.learnVerified(ctx)
	r.mu.Lock()
	cur := r.verified.Current()
	r.mu.Unlock()
	if cur == nil || cur.SHA256 != sum {
		t.Fatalf("after learning from the bucket's records, the current verified revision is %+v, want revision 7", cur)
	}
}

// bucketRepo is a daemon, not run, whose one repo "r" has one written
// mirror, "obj", in a bucket of a real S3 server (versitygw), with the
// lines mirrorExtra (each indented 8 spaces) added to the mirror; it
// returns the repo and the mirror's configuration.
func bucketRepo(t *testing.T, mirrorExtra string) (*repo, config.Mirror) {
	t.Helper()
	srv := s3test.Start(t, "mirrors")
	dir := t.TempDir()
	creds := filepath.Join(dir, "credentials")
	os.WriteFile(creds, []byte("[default]\naws_access_key_id = "+s3test.Access+"\naws_secret_access_key = "+s3test.Secret+"\n"), 0o600)
	p := filepath.Join(dir, "mirrors.yaml")
	os.WriteFile(p, []byte("state_dir: "+dir+"/state\nprobe_interval: 1h\nprobe_timeout: 2s\nrepos:\n  - name: r\n    origin: http://127.0.0.1:1/\n    schedule: \"@every 1h\"\n    mirrors:\n"+
		"      - name: obj\n        s3:\n          endpoint: "+srv.Endpoint+"\n          bucket: mirrors\n          prefix: r/\n          credentials_file: "+creds+"\n"+mirrorExtra), 0o644)
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(cfg, Options{Logger: slog.New(slog.DiscardHandler)}) // not run: nothing consumes its triggers
	if err != nil {
		t.Fatal(err)
	}
	r, _ := d.repo("r")
	return r, cfg.Repos[0].Mirrors[0]
}

// writeRecord writes the record name, b, with tg under its lock, as
// another host's rpmirror would.
func writeRecord(t *testing.T, tg target.Target, name string, b []byte) {
	t.Helper()
	ctx := context.Background()
	unlock, err := tg.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if err := tg.(target.Records).WriteRecord(ctx, name, b); err != nil {
		t.Fatal(err)
	}
}
