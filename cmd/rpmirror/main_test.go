package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	gosync "sync"
	"syscall"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/sync"
	"github.com/rpmirror/rpmirror/target/local"
	"github.com/rpmirror/rpmirror/verify"
)

// TestMain lets the test binary act as rpmirror itself, so tests can run
// it as a separate process and kill it.
func TestMain(m *testing.M) {
	if os.Getenv("RPMIRROR_TEST_BE_MAIN") == "1" {
		main()
		return
	}
	// Children get a TMPDIR of their own, removed when the tests end:
	// many are killed (SIGKILL) mid-sync, and what one had in the system's
	// temporary directory then (a snapshot index being stored) would stay
	// there.
	dir, err := os.MkdirTemp("", "rpmirror-cmd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	childTmp = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// childTmp is the TMPDIR of the children the tests start (child).
var childTmp string

// rpmirror runs the command in-process and returns its exit code, stdout
// and stderr.
func rpmirror(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// command returns the command that runs rpmirror as a child process.
func child(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "RPMIRROR_TEST_BE_MAIN=1", "TMPDIR="+childTmp)
	return cmd
}

// fixture is a signed origin served on loopback and a configuration that
// syncs it to two mirrors.
type fixture struct {
	dir, cfg string
	key      *testrepo.Key
	mirrors  []string
	srv      *httptest.Server

	mu     gosync.Mutex
	gets   map[string]int // package GETs answered in full
	onGet  func(path string)
	delay  time.Duration
	status int
}

func newFixture(t *testing.T, pkgs []testrepo.Pkg, concurrency int) *fixture {
	testrepo.RequireTools(t, "rpmbuild", "rpmsign", "gpg", "createrepo_c")
	f := &fixture{dir: t.TempDir(), key: testrepo.TestKey(t), gets: map[string]int{}}
	origin := filepath.Join(f.dir, "origin")
	for i := range pkgs {
		pkgs[i].Sign = f.key
	}
	if _, err := testrepo.Build(origin, pkgs...); err != nil {
		t.Fatal(err)
	}
	if err := testrepo.MakeRepo(origin, testrepo.RepoOpts{SignRepomd: f.key}); err != nil {
		t.Fatal(err)
	}
	fsrv := http.FileServer(http.Dir(origin))
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		delay, status, onGet := f.delay, f.status, f.onGet
		f.mu.Unlock()
		if status != 0 {
			http.Error(w, http.StatusText(status), status)
			return
		}
		if !strings.HasSuffix(r.URL.Path, ".rpm") || r.Method != http.MethodGet {
			fsrv.ServeHTTP(w, r)
			return
		}
		time.Sleep(delay)
		fsrv.ServeHTTP(w, r)
		f.mu.Lock()
		f.gets[r.URL.Path]++
		f.mu.Unlock()
		if onGet != nil {
			onGet(r.URL.Path)
		}
	}))
	t.Cleanup(f.srv.Close)
	f.mirrors = []string{filepath.Join(f.dir, "m1"), filepath.Join(f.dir, "m2")}
	f.cfg = filepath.Join(f.dir, "mirrors.yaml")
	cfg := fmt.Sprintf(`state_dir: %s/state
download:
  concurrency: %d
  retries: 0
repos:
  - name: test
    origin: %s/
    gpgkeys: [%s]
    prune_after: 0s
    mirrors:
      - name: m1
        path: %s
      - name: m2
        path: %s
`, f.dir, concurrency, f.srv.URL, f.key.PublicPath, f.mirrors[0], f.mirrors[1])
	if err := os.WriteFile(f.cfg, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) packageGets() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.gets {
		n += c
	}
	return n
}

// checkConsistent fails t unless every mirror that serves a repomd.xml
// has every file it names, verified, signatures included.
func (f *fixture) checkConsistent(t *testing.T, when string) (published int) {
	t.Helper()
	keyring, err := verify.LoadKeyring(f.key.PublicPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range f.mirrors {
		if _, err := os.Stat(filepath.Join(m, "repodata", "repomd.xml")); err != nil {
			continue // never published: nothing is served, nothing is wrong
		}
		published++
		tg, err := local.New(m)
		if err != nil {
			t.Fatal(err)
		}
		problems, _, err := sync.CheckMirror(context.Background(), tg, keyring)
		if err != nil {
			t.Fatalf("%s: checking %s: %v", when, m, err)
		}
		for _, p := range problems {
			t.Errorf("%s: mirror %s is inconsistent: %s", when, m, p)
		}
	}
	return published
}

func TestSyncStatusVerifyCommands(t *testing.T) {
	pkgs := testrepo.DemoPackages(nil)
	f := newFixture(t, pkgs, 4)

	code, dryOut, errOut := rpmirror(t, "sync", "-c", f.cfg, "--dry-run")
	if code != 0 || !strings.Contains(dryOut, "would fetch 6 packages") {
		t.Errorf("dry run: exit %d\n%s%s", code, dryOut, errOut)
	}
	// The report goes out through a buffer, a write per repository, not a
	// write per line (a dry run of 100,000 packages prints 200,000).
	var writes countingWriter
	if code := run(context.Background(), []string{"sync", "-c", f.cfg, "--dry-run"}, &writes, io.Discard); code != 0 || writes.n != 1 || writes.String() != dryOut {
		t.Errorf("dry run: exit %d, %d writes, want 1 of the same report:\n%s", code, writes.n, writes.String())
	}
	code, out, errOut := rpmirror(t, "sync", "-c", f.cfg)
	if code != 0 || !strings.Contains(out, "fetched 6 packages") || !strings.Contains(out, "m2") {
		t.Fatalf("sync: exit %d\n%s%s", code, out, errOut)
	}
	// The dry run printed the sync's numbers: packages, their bytes, the
	// metadata's bytes, and per mirror the files published and deleted.
	numbers := regexp.MustCompile(`fetch(?:ed)? (\d+ packages \([^)]*\) and [^ ]+ [^ ]+ of metadata)|(?m)^  (m\d) +(?:would )?publish(?:ed)? (\d+ files), delete(?:d)? (\d+)`)
	summary := func(s string) string {
		var parts []string
		for _, m := range numbers.FindAllStringSubmatch(s, -1) {
			parts = append(parts, strings.Join(m[1:], " "))
		}
		return strings.Join(parts, "; ")
	}
	if d, r := summary(dryOut), summary(out); d == "" || d != r {
		t.Errorf("the dry run's numbers differ from the sync's:\ndry run: %s\nsync:    %s\n%s\n%s", d, r, dryOut, out)
	}
	code, out, _ = rpmirror(t, "sync", "-c", f.cfg, "--repo", "test")
	if code != 0 || !strings.Contains(out, "no change") {
		t.Errorf("second sync: exit %d\n%s", code, out)
	}
	code, out, _ = rpmirror(t, "status", "-c", f.cfg)
	if code != 0 || !strings.Contains(out, "m1") || !strings.Contains(out, "no change") || !strings.Contains(out, "fetched 6 packages and metadata, ") ||
		!strings.Contains(out, "  verified     revision ") {
		t.Errorf("status: exit %d\n%s", code, out)
	}
	code, out, _ = rpmirror(t, "verify", "-c", f.cfg)
	if code != 0 || strings.Count(out, "6 packages, signatures checked: ok") != 2 {
		t.Errorf("verify: exit %d\n%s", code, out)
	}

	// Damage one package on one mirror: verify names it and fails.
	victim := filepath.Join(f.mirrors[1], filepath.FromSlash(pkgs[2].RelPath()))
	b, err := os.ReadFile(victim)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	os.Remove(victim) // it is a hard link shared with the other mirror
	os.WriteFile(victim, b, 0o644)
	code, out, _ = rpmirror(t, "verify", "-c", f.cfg)
	if code != 1 || !strings.Contains(out, "test/m2: "+pkgs[2].RelPath()+": sha256 checksum mismatch") || strings.Contains(out, "test/m1: "+pkgs[2].RelPath()) {
		t.Errorf("verify after damage: exit %d\n%s", code, out)
	}

	// The incident: the origin answers 403 to everything. No upstream is
	// usable: the sync is skipped (exit 1) with one line naming the repo
	// and the cause; the mirrors stay.
	f.mu.Lock()
	f.status = http.StatusForbidden
	f.mu.Unlock()
	code, _, errOut = rpmirror(t, "sync", "-c", f.cfg)
	want := "rpmirror: test: no usable upstream: fetching repodata/repomd.xml from " + f.srv.URL + "/: server answered 403 Forbidden"
	if code != 1 || strings.TrimSpace(errOut) != want {
		t.Errorf("sync against a 403 origin: exit %d, stderr:\n%s\nwant: %s", code, errOut, want)
	}
}

func TestCheckCommand(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("state_dir: "+dir+"/state\nrepos:\n  - name: x\n    origin: ftp://example.org/\n    schedul: \"@daily\"\n    mirrors:\n      - name: a\n        path: "+dir+"/a\n"), 0o644)
	code, out, errOut := rpmirror(t, "check", "-c", bad)
	if code != 2 || out != "" {
		t.Errorf("check of a bad file: exit %d, stdout %q", code, out)
	}
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], bad+":4: ") || !strings.HasPrefix(lines[1], bad+":5: ") {
		t.Errorf("check of a bad file printed:\n%s\nwant one FILE:LINE: line for line 4 (origin) and one for line 5 (schedul)", errOut)
	}
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("state_dir: "+dir+"/state\nrepos:\n  - name: x\n    origin: https://example.org/repo/\n    mirrors:\n      - name: a\n        path: "+dir+"/a\n"), 0o644)
	if code, out, errOut := rpmirror(t, "check", "-c", good); code != 0 || !strings.Contains(out, "ok") {
		t.Errorf("check of a good file: exit %d\n%s%s", code, out, errOut)
	}
	// Credentials written into the origin: check points at
	// origin_auth_file, which exists, and hides the password.
	creds := filepath.Join(dir, "creds.yaml")
	os.WriteFile(creds, []byte("state_dir: "+dir+"/state\nrepos:\n  - name: x\n    origin: https://partner:s3cret@example.org/repo/\n    mirrors:\n      - name: a\n        path: "+dir+"/a\n"), 0o644)
	code, _, errOut = rpmirror(t, "check", "-c", creds)
	if code != 2 || !strings.Contains(errOut, creds+":4: ") || !strings.Contains(errOut, "origin_auth_file") || strings.Contains(errOut, "planned") || strings.Contains(errOut, "s3cret") {
		t.Errorf("check of an origin with credentials: exit %d\n%s\nwant FILE:4 naming origin_auth_file, without the password", code, errOut)
	}

	// --expand shows what a repo entry with vars stands for.
	tmpl := filepath.Join(dir, "tmpl.yaml")
	os.WriteFile(tmpl, []byte("state_dir: "+dir+"/state\nrepos:\n  - name: epel-${releasever}-${basearch}\n    mirrorlist_name: epel-${releasever}\n    arch: ${basearch}\n"+
		"    vars: {releasever: [8, 9], basearch: [x86_64, aarch64]}\n    origin: https://dl.example.org/epel/${releasever}/Everything/${basearch}/\n"+
		"    mirrors:\n      - name: local\n        path: "+dir+"/epel/${releasever}/${basearch}\n        url: https://mirror.example.org/epel/${releasever}/${basearch}/\n        country: DE\n"), 0o644)
	code, out, errOut = rpmirror(t, "check", "--expand", "-c", tmpl)
	if code != 0 {
		t.Fatalf("check --expand: exit %d\n%s", code, errOut)
	}
	for _, want := range []string{
		tmpl + ": ok: 4 repos, 4 written mirrors, 0 probe-only mirrors",
		"repo epel-8-x86_64 (line 3, releasever=8, basearch=x86_64)",
		"repo epel-9-aarch64 (line 3, releasever=9, basearch=aarch64)",
		"clients ask:  /mirrorlist?repo=epel-9&arch=aarch64  /metalink?repo=epel-9&arch=aarch64",
		"origin:       https://dl.example.org/epel/8/Everything/aarch64/",
		"path:       " + dir + "/epel/9/x86_64",
		"url:        https://mirror.example.org/epel/8/x86_64/",
		"selection:  country DE, priority 100, weight 100",
		// The sync settings, defaults filled in.
		`sync:         schedule "@every 1h", prune_after 24h0m0s`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check --expand does not show %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "${") {
		t.Errorf("check --expand left a variable:\n%s", out)
	}

	if code, _, _ := rpmirror(t, "sync"); code != 2 {
		t.Errorf("sync without -c: exit %d, want 2", code)
	}
	if code, _, _ := rpmirror(t, "frobnicate"); code != 2 {
		t.Errorf("unknown command: exit %d, want 2", code)
	}
}

// TestKillDuringSync kills rpmirror (SIGKILL) at several points of a
// sync: each time, every mirror must be consistent; then a sync must
// complete without fetching again what was fetched and verified.
func TestKillDuringSync(t *testing.T) {
	const n = 24
	pkgs := testrepo.ManyPackages(n, nil)
	for i := range pkgs {
		pkgs[i].Size = 32 << 10
	}
	for _, killAfter := range []int{1, 7, 15, n} {
		t.Run(fmt.Sprintf("after-%d-packages", killAfter), func(t *testing.T) {
			f := newFixture(t, append([]testrepo.Pkg(nil), pkgs...), 2)
			cmd := child("sync", "-c", f.cfg)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			served := 0
			f.mu.Lock()
			f.delay = 20 * time.Millisecond
			f.onGet = func(string) {
				f.mu.Lock()
				served++
				now := served == killAfter
				f.mu.Unlock()
				if now {
					if killAfter == n {
						// All packages are out: kill during verify or publish.
						time.Sleep(time.Duration(killAfter) * time.Millisecond)
					}
					cmd.Process.Signal(syscall.SIGKILL)
				}
			}
			f.mu.Unlock()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			err := cmd.Wait()
			f.mu.Lock()
			f.onGet, f.delay = nil, 0
			f.mu.Unlock()
			ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
			if err == nil || !ws.Signaled() {
				t.Logf("the sync finished before it was killed (%v):\n%s", err, out.String())
			}
			f.checkConsistent(t, "after kill -9")
			before := f.packageGets()

			code, stdout, stderr := rpmirror(t, "sync", "-c", f.cfg)
			if code != 0 {
				t.Fatalf("sync after the kill: exit %d\n%s%s", code, stdout, stderr)
			}
			if got := f.checkConsistent(t, "after resuming"); got != 2 {
				t.Fatalf("%d mirrors published after resuming, want 2", got)
			}
			// Packages fetched and verified before the kill are not
			// fetched again; at most the ones in flight (concurrency 2)
			// and the one being verified are.
			again := f.packageGets() - before
			if total := f.packageGets(); total > n+3 {
				t.Errorf("%d package downloads for %d packages (%d before the kill, %d after): verified downloads were fetched again", total, n, before, again)
			}
		})
	}
}

// freeAddr returns a loopback address nothing listens on right now.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestServeRestartMidSync stops rpmirror serve in the middle of its first
// sync, once with SIGKILL and once with SIGTERM: the mirrors must be
// consistent after each, SIGTERM must end the process cleanly, and a new
// daemon must complete the job.
func TestServeRestartMidSync(t *testing.T) {
	const n = 24
	pkgs := testrepo.ManyPackages(n, nil)
	for i := range pkgs {
		pkgs[i].Size = 32 << 10
	}
	f := newFixture(t, pkgs, 2)
	addr := freeAddr(t)
	cfg, _ := os.ReadFile(f.cfg)
	cfg = append([]byte(fmt.Sprintf("listen: %s\nprobe_interval: 1s\nprobe_timeout: 1s\n", addr)), cfg...)
	os.WriteFile(f.cfg, cfg, 0o644)

	for _, tc := range []struct {
		name     string
		signal   syscall.Signal
		after    int
		shutdown string
	}{
		{"SIGKILL", syscall.SIGKILL, 5, "2s"},
		// The sync cannot finish in 100ms: it is cancelled.
		{"SIGTERM, sync cancelled", syscall.SIGTERM, 3, "100ms"},
		// It can finish in 5s: it does. The two runs before may have
		// fetched and kept up to about 14 of the 24 packages, so the
		// signal comes on the second package this run fetches: a later
		// one might never be asked for, and the signal never sent.
		{"SIGTERM, sync finishes", syscall.SIGTERM, 2, "5s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := child("serve", "-c", f.cfg, "-shutdown-timeout", tc.shutdown)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			served := 0
			f.mu.Lock()
			f.delay = 60 * time.Millisecond
			f.onGet = func(string) {
				f.mu.Lock()
				served++
				now := served == tc.after
				f.mu.Unlock()
				if now {
					cmd.Process.Signal(tc.signal)
				}
			}
			f.mu.Unlock()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			var err error
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("rpmirror serve did not stop:\n%s", out.String())
			}
			f.mu.Lock()
			f.onGet, f.delay = nil, 0
			f.mu.Unlock()
			if tc.signal == syscall.SIGTERM && err != nil {
				t.Errorf("after SIGTERM rpmirror serve exited with %v, want a clean exit:\n%s", err, out.String())
			}
			if tc.signal == syscall.SIGTERM && !strings.Contains(out.String(), "shutting down") {
				t.Errorf("no sign of a graceful shutdown in the log:\n%s", out.String())
			}
			if log := out.String(); tc.shutdown == "5s" {
				stop, done := strings.Index(log, "shutting down"), strings.Index(log, `msg="sync done" repo=test result=ok`)
				if stop < 0 || done < stop {
					t.Errorf("the sync did not finish after the shutdown began:\n%s", log)
				}
			}
			if tc.shutdown == "100ms" && !strings.Contains(out.String(), "cancelling in-flight syncs") {
				t.Errorf("the sync was not cancelled:\n%s", out.String())
			}
			f.checkConsistent(t, "after "+tc.name)
		})
	}

	// A new daemon completes the job.
	cmd := child("serve", "-c", f.cfg)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("rpmirror serve exited with %v after SIGTERM", err)
		}
	}()
	// Wait for the new daemon's first sync to end.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if time.Now().After(deadline) {
			t.Fatalf("the new daemon did not finish a sync:\n%s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
		resp, err := http.Get("http://" + addr + "/status.json")
		if err != nil {
			continue
		}
		var st struct {
			Repos []struct {
				LastSync *struct{ Result string } `json:"last_sync"`
			}
		}
		json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if len(st.Repos) == 1 && st.Repos[0].LastSync != nil {
			if r := st.Repos[0].LastSync.Result; r != "ok" && r != "no change" {
				t.Fatalf("the new daemon's sync: %s\n%s", r, out.String())
			}
			break
		}
	}
	if got := f.checkConsistent(t, "after the new daemon's sync"); got != 2 {
		t.Fatalf("%d mirrors published, want 2", got)
	}
	if total := f.packageGets(); total > n+6 {
		t.Errorf("%d package downloads for %d packages over three daemons: verified downloads were fetched again", total, n)
	}
}

// TestServeReloadKeepsConfigOnError sends SIGHUP with a broken
// configuration: the daemon says so and keeps serving.
func TestServeReloadKeepsConfigOnError(t *testing.T) {
	f := newFixture(t, testrepo.DemoPackages(nil), 2)
	addr := freeAddr(t)
	good, _ := os.ReadFile(f.cfg)
	good = append([]byte(fmt.Sprintf("listen: %s\n", addr)), good...)
	os.WriteFile(f.cfg, good, 0o644)
	cmd := child("serve", "-c", f.cfg)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	get := func() int {
		resp, err := http.Get("http://" + addr + "/mirrorlist?repo=test")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	deadline := time.Now().Add(20 * time.Second)
	for get() != 200 {
		if time.Now().After(deadline) {
			t.Fatalf("serve never answered:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Two problems: docs/operations.md promises one log line each.
	bad := strings.Replace(string(good), "listen:", "probe_interval: 4x\nlisten:", 1) + "bogus_key: 1\n"
	os.WriteFile(f.cfg, []byte(bad), 0o644)
	cmd.Process.Signal(syscall.SIGHUP)
	var complaints []string
	for len(complaints) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no complaint about each problem of the bad configuration:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
		complaints = complaints[:0]
		for line := range strings.Lines(out.String()) {
			if strings.Contains(line, "keeping the running one") {
				complaints = append(complaints, line)
			}
		}
	}
	for i, want := range []string{f.cfg + ":1: probe_interval", f.cfg + ":" + fmt.Sprint(strings.Count(bad, "\n")) + ": unknown key"} {
		if !strings.Contains(complaints[i], want) {
			t.Errorf("complaint %d does not name %q:\n%s", i+1, want, complaints[i])
		}
	}
	if code := get(); code != 200 {
		t.Errorf("after a bad reload /mirrorlist answers %d", code)
	}
	// The failed reload shows where an operator looks, not only in the
	// log (a tester's: nothing to alert on), until a reload succeeds.
	body := func(path string) string {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if m := body("/metrics"); !strings.Contains(m, "rpmirror_config_last_reload_successful 0") {
		t.Errorf("/metrics after a bad reload has no rpmirror_config_last_reload_successful 0")
	}
	if st := body("/status.json"); !strings.Contains(st, `"reload_error"`) || !strings.Contains(st, "unknown key") {
		t.Errorf("/status.json after a bad reload says nothing of it:\n%s", st)
	}
	if page := body("/status"); !strings.Contains(page, `id="reload-error"`) || !strings.Contains(page, "probe_interval") {
		t.Errorf("/status after a bad reload says nothing of it")
	}
	os.WriteFile(f.cfg, good, 0o644)
	cmd.Process.Signal(syscall.SIGHUP)
	for !strings.Contains(body("/metrics"), "rpmirror_config_last_reload_successful 1") {
		if time.Now().After(deadline) {
			t.Fatalf("a good reload after the bad one left the metric at 0:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Polled: seen once, under load, still telling of it right after the
	// metric (set after the error is cleared) said 1.
	for st := body("/status.json"); strings.Contains(st, `"reload_error"`); st = body("/status.json") {
		if time.Now().After(deadline) {
			t.Fatalf("/status.json still tells of the bad reload after a good one:\n%s", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for a child's output and a reader.
type syncBuffer struct {
	mu gosync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestSyncManyRepos syncs several repositories in one run, a few at once:
// each gets its report, in configuration order.
func TestSyncManyRepos(t *testing.T) {
	f := newFixture(t, testrepo.DemoPackages(nil), 2)
	cfg, _ := os.ReadFile(f.cfg)
	text := string(cfg)
	head, repo, _ := strings.Cut(text, "repos:\n")
	var b strings.Builder
	b.WriteString(head + "repos:\n")
	for i := range 6 {
		r := strings.ReplaceAll(repo, "name: test", fmt.Sprintf("name: test%d", i))
		r = strings.ReplaceAll(r, f.mirrors[0], fmt.Sprintf("%s-%d", f.mirrors[0], i))
		r = strings.ReplaceAll(r, f.mirrors[1], fmt.Sprintf("%s-%d", f.mirrors[1], i))
		b.WriteString(r)
	}
	os.WriteFile(f.cfg, []byte(b.String()), 0o644)
	code, out, errOut := rpmirror(t, "sync", "-c", f.cfg, "-parallel", "3")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	last := -1
	for i := range 6 {
		at := strings.Index(out, fmt.Sprintf("test%d  revision", i))
		if at < 0 || at < last {
			t.Fatalf("report of test%d missing or out of order:\n%s", i, out)
		}
		last = at
	}
	if n := strings.Count(out, "fetched 6 packages"); n != 6 {
		t.Errorf("%d repos fetched their 6 packages, want 6:\n%s", n, out)
	}
}

// countingWriter is a buffer that counts the writes to it.
type countingWriter struct {
	bytes.Buffer
	n int
}

func (w *countingWriter) Write(b []byte) (int, error) {
	w.n++
	return w.Buffer.Write(b)
}

// mustRun runs rpmirror with args and returns its output, failing the
// test at once when it exits other than 0.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := rpmirror(t, args...)
	if code != 0 {
		t.Fatalf("rpmirror %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}
