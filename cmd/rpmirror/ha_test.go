package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	gosync "sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/internal/checker"
	"github.com/rpmirror/rpmirror/internal/s3test"
	"github.com/rpmirror/rpmirror/internal/testrepo"
)

// haDaemon is one rpmirror serve of TestTwoDaemonsOneObjectStore, which
// reaches the store through a proxy of its own, so the test sees what
// each uploads.
type haDaemon struct {
	name, addr, cfg string
	cmd             *exec.Cmd
	out             *syncBuffer
	exited          chan struct{}

	mu     gosync.Mutex
	stored []string // package keys it uploaded (answered 200)
}

func (d *haDaemon) get(t *testing.T, path string) (int, string) {
	resp, err := http.Get("http://" + d.addr + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// lease returns the lease on the mirror as d's /status.json shows it.
func (d *haDaemon) lease(t *testing.T) (held bool, holder string) {
	code, body := d.get(t, "/status.json")
	if code != http.StatusOK {
		return false, ""
	}
	var st struct {
		Repos []struct {
			Mirrors []struct {
				Lease *struct {
					Held   bool   `json:"held"`
					Holder string `json:"holder"`
				} `json:"lease"`
			} `json:"mirrors"`
		} `json:"repos"`
	}
	if json.Unmarshal([]byte(body), &st) != nil || len(st.Repos) != 1 || len(st.Repos[0].Mirrors) != 1 || st.Repos[0].Mirrors[0].Lease == nil {
		return false, ""
	}
	l := st.Repos[0].Mirrors[0].Lease
	return l.Held, l.Holder
}

// TestTwoDaemonsOneObjectStore: two rpmirror serve processes, each with
// its own state_dir, share one mirror in object storage (versitygw). Both
// serve /mirrorlist and /metalink; each shows which of them holds the
// lease. The one that writes is killed with SIGKILL in the middle of
// uploading a new revision; the other takes the lease over once it
// expires and brings the mirror to the origin's revision without
// uploading again what the first stored. A checker samples the mirror
// (the directory versitygw keeps it in) all along: at every sample it
// serves one complete revision, or nothing yet. Then a writer that stalls
// (SIGSTOP) loses the lease to the other and, resumed, writes nothing
// more.
func TestTwoDaemonsOneObjectStore(t *testing.T) {
	t.Parallel() // mostly waits: for leases to expire, for the other daemon
	testrepo.RequireTools(t, "rpmbuild", "rpmsign", "gpg", "createrepo_c")
	srv := s3test.Start(t, "mirrors")
	key := testrepo.TestKey(t)
	base := t.TempDir()

	// Two revisions: v2 adds 16 packages to v1's 6.
	p1 := testrepo.ManyPackages(6, key)
	var p2 []testrepo.Pkg
	p2 = append(p2, p1...)
	for i := range 16 {
		p2 = append(p2, testrepo.Pkg{Name: fmt.Sprintf("added-%02d", i), Version: "1", Release: "1", Size: 8 << 10, Sign: key})
	}
	p3 := append([]testrepo.Pkg(nil), p2...)
	for i := range 8 {
		p3 = append(p3, testrepo.Pkg{Name: fmt.Sprintf("third-%02d", i), Version: "1", Release: "1", Size: 8 << 10, Sign: key})
	}
	revs := map[string][]byte{}
	for i, rev := range []struct {
		name, from string
		pkgs       []testrepo.Pkg
	}{{"v1", "", p1}, {"v2", "v1", p2}, {"v3", "v2", p3}} {
		dir := filepath.Join(base, rev.name)
		var err error
		if rev.from == "" {
			_, err = testrepo.Build(dir, rev.pkgs...)
		} else {
			_, err = testrepo.BuildDerived(dir, filepath.Join(base, rev.from), rev.pkgs...)
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := testrepo.MakeRepo(dir, testrepo.RepoOpts{Revision: strconv.Itoa(i + 1), SignRepomd: key}); err != nil {
			t.Fatal(err)
		}
		revs[rev.name], _ = os.ReadFile(filepath.Join(dir, "repodata", "repomd.xml"))
	}
	var cur atomic.Pointer[string]
	v1 := filepath.Join(base, "v1")
	cur.Store(&v1)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ".rpm") {
			time.Sleep(50 * time.Millisecond) // a sync takes a while
		}
		http.FileServer(http.Dir(*cur.Load())).ServeHTTP(w, r)
	}))
	defer origin.Close()
	// The web front clients and probes use: the bucket's directory.
	front := httptest.NewServer(http.FileServer(http.Dir(filepath.Join(srv.Dir, "mirrors"))))
	defer front.Close()
	mirrorDir := filepath.Join(srv.Dir, "mirrors", "ha")
	creds := s3test.CredentialsFile(t, base)
	storeURL, _ := url.Parse(srv.Endpoint)

	// onPut is called for each package upload, before it is forwarded;
	// onAnyPut for every upload.
	var onPut atomic.Pointer[func(d *haDaemon)]
	var onAnyPut atomic.Pointer[func(d *haDaemon, path string)]
	daemons := map[string]*haDaemon{}
	for _, name := range []string{"daemon-a", "daemon-b"} {
		d := &haDaemon{name: name, addr: freeAddr(t), out: &syncBuffer{}, exited: make(chan struct{})}
		rp := httputil.NewSingleHostReverseProxy(storeURL)
		proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			pkg := r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, ".rpm")
			if f := onAnyPut.Load(); f != nil && r.Method == http.MethodPut {
				(*f)(d, r.URL.Path)
			}
			if pkg {
				if f := onPut.Load(); f != nil {
					(*f)(d)
				}
			}
			rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
			rp.ServeHTTP(rec, r)
			if pkg && rec.code == http.StatusOK && r.URL.Query().Get("uploadId") == "" {
				d.mu.Lock()
				d.stored = append(d.stored, r.URL.Path)
				d.mu.Unlock()
			}
		}))
		defer proxy.Close()
		d.cfg = filepath.Join(base, name+".yaml")
		os.WriteFile(d.cfg, []byte(fmt.Sprintf(`state_dir: %s/state-%s
listen: %s
probe_interval: 1s
probe_timeout: 1s
lease_ttl: 3s
lease_holder: %s
download:
  concurrency: 2
repos:
  - name: ha
    origin: %s/
    gpgkeys: [%s]
    prune_after: 0s
    mirrors:
      - name: obj
        s3:
          endpoint: %s
          bucket: mirrors
          prefix: ha/
          region: us-east-1
          credentials_file: %s
        url: %s/ha/
`, base, name, d.addr, name, origin.URL, key.PublicPath, proxy.URL, creds, front.URL)), 0o644)
		daemons[name] = d
	}
	start := func(d *haDaemon) {
		d.exited = make(chan struct{})
		d.cmd = child("serve", "-c", d.cfg, "-v")
		d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
		if err := d.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { d.cmd.Wait(); close(d.exited) }()
	}
	defer func() {
		for _, d := range daemons {
			if d.cmd != nil && d.cmd.ProcessState == nil {
				d.cmd.Process.Signal(syscall.SIGCONT)
				d.cmd.Process.Signal(syscall.SIGTERM)
				select {
				case <-d.exited:
				case <-time.After(20 * time.Second):
					d.cmd.Process.Kill()
				}
			}
			if t.Failed() {
				t.Logf("%s's log:\n%s", d.name, d.out.String())
			}
		}
	}()
	// serves reports which revision the mirror serves now ("" for none)
	// and what is wrong with it.
	//
	// Object storage has no atomic commit of two objects: between the
	// upload of a new repomd.xml and that of its .asc, the .asc is the
	// previous revision's (docs/operations.md says so). That window is
	// counted, not an inconsistency; everything else is.
	var ascWindow atomic.Int64
	serves := func() (string, []string) {
		r := checker.Check(mirrorDir, checker.Options{KeyFiles: []string{key.PublicPath}})
		var problems []string
		for _, p := range r.Problems {
			if strings.HasPrefix(p, "repodata/repomd.xml.asc does not verify repodata/repomd.xml") {
				ascWindow.Add(1)
				continue
			}
			problems = append(problems, p)
		}
		if len(problems) > 0 || !r.Served {
			return "", problems
		}
		for name, md := range revs {
			if bytes.Equal(md, r.Repomd) {
				return name, nil
			}
		}
		return "", []string{"serves a repomd.xml that is no revision of the origin"}
	}
	waitFor := func(what string, d time.Duration, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(d)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("waited %s for %s", d, what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	a, b := daemons["daemon-a"], daemons["daemon-b"]
	start(a)
	waitFor("daemon-a to publish v1", time.Minute, func() bool { rev, _ := serves(); return rev == "v1" })
	start(b)

	// Both serve the lists, naming the mirror once its probes say ok.
	for _, d := range []*haDaemon{a, b} {
		for _, path := range []string{"/mirrorlist?repo=ha", "/metalink?repo=ha"} {
			waitFor(d.name+" to list the mirror at "+path, time.Minute, func() bool {
				code, body := d.get(t, path)
				return code == http.StatusOK && strings.Contains(body, front.URL+"/ha/")
			})
		}
	}

	// The consistency checker, from now to the end.
	var (
		samples  atomic.Int64
		badMu    gosync.Mutex
		bad      []string
		stopScan = make(chan struct{})
		scanDone = make(chan struct{})
	)
	go func() {
		defer close(scanDone)
		for {
			select {
			case <-stopScan:
				return
			default:
			}
			if rev, problems := serves(); rev == "" {
				badMu.Lock()
				bad = append(bad, strings.Join(problems, "; "))
				badMu.Unlock()
			}
			samples.Add(1)
			time.Sleep(10 * time.Millisecond)
		}
	}()

	// The writer of v2 is killed at its fourth package upload, once the
	// other daemon shows it as the lease's holder.
	var (
		killOnce             gosync.Once
		writer, survivor     *haDaemon
		sawHolder, sawMetric bool
		killed               = make(chan time.Time, 1)
	)
	uploads := map[*haDaemon]int{}
	var upMu gosync.Mutex
	hook := func(d *haDaemon) {
		upMu.Lock()
		uploads[d]++
		n := uploads[d]
		upMu.Unlock()
		if n != 4 {
			return
		}
		killOnce.Do(func() {
			writer, survivor = d, a
			if d == a {
				survivor = b
			}
			deadline := time.Now().Add(15 * time.Second)
			for time.Now().Before(deadline) && !(sawHolder && sawMetric) {
				if held, holder := survivor.lease(t); held && holder == writer.name {
					sawHolder = true
				}
				if _, m := survivor.get(t, "/metrics"); strings.Contains(m, `rpmirror_lease_held{holder="`+writer.name+`",mirror="obj",repo="ha"} 1`) {
					sawMetric = true
				}
				time.Sleep(50 * time.Millisecond)
			}
			writer.cmd.Process.Signal(syscall.SIGKILL)
			<-writer.exited
			killed <- time.Now()
		})
	}
	onPut.Store(&hook)
	v2 := filepath.Join(base, "v2")
	cur.Store(&v2)

	var killedAt time.Time
	select {
	case killedAt = <-killed:
	case <-time.After(2 * time.Minute):
		t.Fatal("no daemon uploaded v2's packages")
	}
	onPut.Store(nil)
	writer.mu.Lock()
	stored := append([]string(nil), writer.stored...)
	writer.mu.Unlock()
	survivor.mu.Lock()
	before := len(survivor.stored)
	survivor.mu.Unlock()
	t.Logf("%s was killed with %d packages stored in all; %s takes over", writer.name, len(stored), survivor.name)
	if !sawHolder {
		t.Errorf("%s's /status.json never showed %s as the lease's holder while it wrote", survivor.name, writer.name)
	}
	if !sawMetric {
		t.Errorf("%s's /metrics never showed rpmirror_lease_held for %s while it wrote", survivor.name, writer.name)
	}

	// The survivor finishes: lease_ttl (3s) and one probe interval (1s)
	// after the kill it starts; the deadline leaves room for the sync.
	waitFor(survivor.name+" to bring the mirror to v2", 2*time.Minute, func() bool { rev, _ := serves(); return rev == "v2" })
	t.Logf("the mirror served v2 %s after the kill (lease_ttl 3s, probe_interval 1s)", time.Since(killedAt).Round(100*time.Millisecond))
	if !strings.Contains(survivor.out.String(), "the lease on mirror obj is free; taking over") {
		t.Errorf("%s did not say it took over", survivor.name)
	}

	// Nothing the writer stored was uploaded again.
	survivor.mu.Lock()
	again := survivor.stored[before:]
	survivor.mu.Unlock()
	for _, k := range again {
		for _, s := range stored {
			if k == s {
				t.Errorf("%s uploaded %s again, which %s had stored", survivor.name, k, writer.name)
			}
		}
	}
	// The survivor still serves the lists, and its status names it as
	// the lease's last holder.
	for _, path := range []string{"/mirrorlist?repo=ha", "/metalink?repo=ha"} {
		waitFor(survivor.name+" to list the mirror at "+path, time.Minute, func() bool {
			code, body := survivor.get(t, path)
			return code == http.StatusOK && strings.Contains(body, front.URL+"/ha/")
		})
	}
	waitFor(survivor.name+"'s status to name it as the lease's holder", 30*time.Second, func() bool {
		_, holder := survivor.lease(t)
		return holder == survivor.name
	})

	// A writer that stalls (SIGSTOP: it neither renews its lease nor
	// writes) loses the lease to the other, which publishes v3; resumed,
	// it stores nothing more: its next object fails for the lost lease.
	start(writer) // a new process, on the killed one's state_dir
	waitFor(writer.name+" to list the mirror", time.Minute, func() bool {
		code, body := writer.get(t, "/mirrorlist?repo=ha")
		return code == http.StatusOK && strings.Contains(body, front.URL+"/ha/")
	})
	var (
		stalling  atomic.Bool
		stalled   *haDaemon
		resumed   atomic.Bool
		lateMu    gosync.Mutex
		late      []string // mirror files the stalled one stored after it resumed
		stallDone = make(chan struct{})
		phase2    = map[*haDaemon]int{}
	)
	anyPut := func(d *haDaemon, path string) {
		rel := strings.TrimPrefix(path, "/mirrors/ha/")
		if resumed.Load() && d == stalled && (strings.HasPrefix(rel, "Packages/") || strings.HasPrefix(rel, "repodata/")) {
			lateMu.Lock()
			late = append(late, rel)
			lateMu.Unlock()
		}
	}
	stall := func(d *haDaemon) {
		upMu.Lock()
		phase2[d]++
		n := phase2[d]
		upMu.Unlock()
		if n != 2 || !stalling.CompareAndSwap(false, true) {
			return
		}
		stalled = d
		d.cmd.Process.Signal(syscall.SIGSTOP)
		go func() {
			defer close(stallDone)
			deadline := time.Now().Add(2 * time.Minute)
			for time.Now().Before(deadline) {
				if rev, _ := serves(); rev == "v3" {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			resumed.Store(true)
			d.cmd.Process.Signal(syscall.SIGCONT)
		}()
	}
	onAnyPut.Store(&anyPut)
	onPut.Store(&stall)
	v3 := filepath.Join(base, "v3")
	cur.Store(&v3)
	select {
	case <-stallDone:
	case <-time.After(3 * time.Minute):
		t.Fatal("no daemon was stalled while uploading v3, or the other did not publish v3")
	}
	onPut.Store(nil)
	if rev, _ := serves(); rev != "v3" {
		t.Fatalf("while %s was stalled, the other did not bring the mirror to v3", stalled.name)
	}
	t.Logf("%s was stalled (SIGSTOP) at its second package of v3; the other published v3; %s resumed", stalled.name, stalled.name)
	waitFor(stalled.name+" to find its lease lost", time.Minute, func() bool {
		return strings.Contains(stalled.out.String(), "was lost")
	})
	onAnyPut.Store(nil)
	lateMu.Lock()
	if len(late) > 0 {
		t.Errorf("%s stored %v after it resumed without its lease", stalled.name, late)
	}
	lateMu.Unlock()
	if rev, problems := serves(); rev != "v3" {
		t.Errorf("after %s resumed the mirror serves %q: %v", stalled.name, rev, problems)
	}

	close(stopScan)
	<-scanDone
	if len(bad) > 0 {
		t.Errorf("the mirror was inconsistent at %d of %d samples; first: %s", len(bad), samples.Load(), bad[0])
	}
	t.Logf("%d consistency samples, %d of them between a repomd.xml and its .asc", samples.Load(), ascWindow.Load())
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
