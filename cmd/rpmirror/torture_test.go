package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	gosync "sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/internal/checker"
	"github.com/rpmirror/rpmirror/internal/testrepo"
)

// The phases a kill can land in, in the order a sync goes through them.
// A sync logs "planned" when it knows what to fetch, "fetched" for each
// package downloaded and verified, "published" when a mirror's commit is
// done, "pruned" when its old files are deleted and "snapshot taken" and
// "snapshot removed" as it keeps the mirror's snapshots; which of those a
// killed child logged says where it died. "download" and "verify" are told
// apart by the origin: a package transfer in flight at the kill, or none
// while packages are still unaccepted (the child is checking the last
// bytes it got).
var torturePhases = []string{"plan", "download", "verify", "publish", "prune", "snapshot", "cleanup"}

// tortureRev is one revision of the origin.
type tortureRev struct {
	name     string
	dir      string
	repomd   []byte
	nevras   []string
	revision string   // its <revision>
	filtered []string // the NEVRAs tortureFilter keeps
}

// tortureFilter is the filter of the filtered mirror the torture test
// kills syncs of too, and tortureKept the same as a predicate.
const tortureFilter = `    filter:
      exclude: ["[a-f]pkg-*", "third-*"]
      newest: 1
`

func tortureKept(p testrepo.Pkg) bool {
	for _, g := range []string{"[a-f]pkg-*", "third-*"} {
		if ok, _ := path.Match(g, p.Name); ok {
			return false
		}
	}
	return true
}

// tortureOrigin serves one revision at a time, a few milliseconds per
// package so downloads take time, and says whether a package is in flight.
type tortureOrigin struct {
	srv      *httptest.Server
	cur      atomic.Pointer[tortureRev]
	delay    time.Duration
	inflight atomic.Int64
	// onServed, when set, is called after each package is served.
	onServed atomic.Pointer[func()]
}

func newTortureOrigin(t *testing.T, delay time.Duration) *tortureOrigin {
	o := &tortureOrigin{delay: delay}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rev := o.cur.Load()
		if !strings.HasSuffix(r.URL.Path, ".rpm") {
			http.FileServer(http.Dir(rev.dir)).ServeHTTP(w, r)
			return
		}
		o.inflight.Add(1)
		time.Sleep(o.delay)
		http.FileServer(http.Dir(rev.dir)).ServeHTTP(w, r)
		o.inflight.Add(-1)
		if f := o.onServed.Load(); f != nil {
			(*f)()
		}
	}))
	t.Cleanup(o.srv.Close)
	return o
}

// buildTortureRevisions builds four revisions of a repository of about
// 40 signed packages: v2 changes, adds and removes a few; v3 switches to
// --simple-md-filenames and rebuilds one package under the same file name
// (so publishing it swaps the whole tree); v4 keeps simple names, so its
// primary.xml.gz replaces v3's under the same name. Going from v4 back to
// v1 replaces the rebuilt package again.
func buildTortureRevisions(t *testing.T, base string, key *testrepo.Key) []*tortureRev {
	const n = 40
	p1 := testrepo.ManyPackages(n, key)
	for i := range p1 {
		p1[i].Size = 4 << 10
	}
	extra := func(prefix string, k int) []testrepo.Pkg {
		var ps []testrepo.Pkg
		for i := range k {
			ps = append(ps, testrepo.Pkg{Name: fmt.Sprintf("%s-%d", prefix, i), Size: 4 << 10, Sign: key})
		}
		return ps
	}
	var p2 []testrepo.Pkg
	for i, p := range p1 {
		switch {
		case i < 4:
			p.Version = "1.1" // changed: a new file name
		case i < 7:
			continue // removed
		}
		p2 = append(p2, p)
	}
	p2 = append(p2, extra("added", 3)...)
	rebuilt := p2[8] // same file name, new content
	rebuilt.Seed = 7
	var p3 []testrepo.Pkg
	for i, p := range p2 {
		if i == 8 || i == 9 || i == 10 {
			continue // 8 is rebuilt below; 9 and 10 are removed
		}
		p3 = append(p3, p)
	}
	p3 = append(p3, extra("third", 2)...)
	var p4 []testrepo.Pkg
	for i, p := range p3 {
		if i == 11 || i == 12 {
			continue
		}
		p4 = append(p4, p)
	}
	p4 = append(p4, extra("fourth", 2)...)

	specs := []struct {
		name, from string
		pkgs       []testrepo.Pkg
		fresh      []testrepo.Pkg // built anew even though from has the file name
		opts       testrepo.RepoOpts
	}{
		{"v1", "", p1, nil, testrepo.RepoOpts{}},
		{"v2", "v1", p2, nil, testrepo.RepoOpts{}},
		{"v3", "v2", p3, []testrepo.Pkg{rebuilt}, testrepo.RepoOpts{SimpleNames: true, NoDatabase: true}},
		{"v4", "v3", p4, []testrepo.Pkg{rebuilt}, testrepo.RepoOpts{SimpleNames: true, NoDatabase: true}},
	}
	var revs []*tortureRev
	for i, s := range specs {
		dir := filepath.Join(base, s.name)
		var err error
		if s.from == "" {
			_, err = testrepo.Build(dir, s.pkgs...)
		} else {
			_, err = testrepo.BuildDerived(dir, filepath.Join(base, s.from), s.pkgs...)
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range s.fresh {
			if s.from == "v2" {
				if _, err := testrepo.Build(dir, p); err != nil {
					t.Fatal(err)
				}
			} else if err := copyTree(filepath.Join(base, s.from, p.RelPath()), filepath.Join(dir, p.RelPath())); err != nil {
				t.Fatal(err)
			}
		}
		s.opts.SignRepomd = key
		s.opts.Revision = strconv.Itoa(i + 1)
		if err := testrepo.MakeRepo(dir, s.opts); err != nil {
			t.Fatal(err)
		}
		md, err := os.ReadFile(filepath.Join(dir, "repodata", "repomd.xml"))
		if err != nil {
			t.Fatal(err)
		}
		rev := &tortureRev{name: s.name, dir: dir, repomd: md, revision: s.opts.Revision}
		for _, p := range append(append([]testrepo.Pkg(nil), s.pkgs...), s.fresh...) {
			rev.nevras = append(rev.nevras, p.NEVRA())
			if tortureKept(p) {
				rev.filtered = append(rev.filtered, p.NEVRA())
			}
		}
		sort.Strings(rev.nevras)
		sort.Strings(rev.filtered)
		revs = append(revs, rev)
	}
	return revs
}

func copyTree(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}

// tortureRun is one run of rpmirror sync as a child process.
type tortureRun struct {
	killed   bool
	err      error
	output   string
	events   []string // the msg of every log record, in order
	toFetch  int      // from "planned"
	fetched  int
	inflight int64 // packages in flight at the origin when it was killed
	duration time.Duration
}

// phase says where a killed run died, from what it logged.
func (r *tortureRun) phase() string {
	published := 0
	last := ""
	for _, e := range r.events {
		switch e {
		case "planned", "fetched", "published", "pruned", "mirrors are current", "snapshot taken", "snapshot removed":
			last = e
		}
		if e == "published" {
			published++
		}
	}
	switch last {
	case "":
		return "plan"
	case "planned", "fetched":
		if r.fetched < r.toFetch {
			if r.inflight > 0 {
				return "download"
			}
			return "verify"
		}
		return "publish"
	case "published":
		return "prune"
	case "pruned":
		if published == 1 {
			return "publish" // the second mirror's
		}
	case "snapshot taken", "snapshot removed":
		return "snapshot"
	}
	return "cleanup"
}

// trigger decides, from the child's log records, when to kill it.
type trigger struct {
	// onEvent is called with each record's msg and the run so far; it
	// returns whether to kill now.
	onEvent func(msg string, r *tortureRun) bool
	// onServed is called after the origin served a package; it returns
	// whether to kill now.
	onServed func(r *tortureRun) bool
	// kill, when closed, kills the child (a hook elsewhere decided).
	kill <-chan struct{}
}

// runChild runs one sync and kills it after delay (when > 0) or when
// trig says so (when not nil). jitter is slept between deciding and
// killing.
func runChild(t *testing.T, o *tortureOrigin, cfg string, delay time.Duration, trig *trigger, jitter time.Duration) *tortureRun {
	t.Helper()
	cmd := child("sync", "-c", cfg, "-v", "--log-format", "json")
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	r := &tortureRun{}
	var mu gosync.Mutex // guards r while the child runs
	var once gosync.Once
	kill := func() {
		once.Do(func() {
			time.Sleep(jitter)
			mu.Lock()
			r.inflight = o.inflight.Load()
			mu.Unlock()
			cmd.Process.Signal(syscall.SIGKILL)
		})
	}
	if trig != nil && trig.onServed != nil {
		f := func() {
			mu.Lock()
			now := trig.onServed(r)
			mu.Unlock()
			if now {
				go kill()
			}
		}
		o.onServed.Store(&f)
		defer o.onServed.Store(nil)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if delay > 0 {
		tm := time.AfterFunc(delay, kill)
		defer tm.Stop()
	}
	if trig != nil && trig.kill != nil {
		exited := make(chan struct{})
		defer close(exited)
		go func() {
			select {
			case <-trig.kill:
				kill()
			case <-exited:
			}
		}()
	}
	var out strings.Builder
	sc := bufio.NewScanner(stderr)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		out.WriteString(line + "\n")
		var rec struct {
			Msg     string `json:"msg"`
			ToFetch int    `json:"to_fetch"`
		}
		if json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		mu.Lock()
		r.events = append(r.events, rec.Msg)
		switch rec.Msg {
		case "planned":
			r.toFetch = rec.ToFetch
		case "fetched":
			r.fetched++
		}
		now := trig != nil && trig.onEvent != nil && trig.onEvent(rec.Msg, r)
		mu.Unlock()
		if now {
			go kill()
		}
	}
	io.Copy(io.Discard, stderr)
	err = cmd.Wait()
	r.duration = time.Since(start)
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	r.killed = ws.Signaled() && ws.Signal() == syscall.SIGKILL
	r.err = err
	r.output = out.String() + stdout.String()
	return r
}

// TestTorture kills rpmirror sync with SIGKILL at many random points of
// syncs between four revisions of an origin (RPMIRROR_TORTURE kills,
// default 50), snapshots on (each publish takes one, and keep 2 removes
// the older), and after each kill checks both mirrors with the
// independent checker (and every tenth time with dnf): each must serve
// nothing or one complete revision of the origin, and every snapshot
// directory, and every one index.json and latest.txt name, must be a
// complete revision of the origin: no half snapshot is ever visible under
// its final name. A final sync must then bring both mirrors to the
// origin's revision.
func TestTorture(t *testing.T) {
	testrepo.RequireTools(t, "rpmbuild", "rpmsign", "gpg", "createrepo_c")
	kills := 50
	if s := os.Getenv("RPMIRROR_TORTURE"); s != "" {
		var err error
		if kills, err = strconv.Atoi(s); err != nil || kills < 1 {
			t.Fatalf("RPMIRROR_TORTURE=%q: want a positive number of kills", s)
		}
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("RPMIRROR_TORTURE_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (set RPMIRROR_TORTURE_SEED to repeat)", seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	withDNF := len(testrepo.MissingTools("dnf")) == 0
	if !withDNF {
		t.Log("dnf not found in $PATH: mirrors are checked with the checker only")
	}

	key := testrepo.TestKey(t)
	base := t.TempDir()
	buildStart := time.Now()
	revs := buildTortureRevisions(t, filepath.Join(base, "revs"), key)
	t.Logf("built %d revisions in %s", len(revs), time.Since(buildStart).Round(time.Millisecond))
	o := newTortureOrigin(t, 4*time.Millisecond)
	mirrors := []string{filepath.Join(base, "m1"), filepath.Join(base, "m2")}
	cfg := filepath.Join(base, "mirrors.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`state_dir: %s/state
download:
  concurrency: 2
  retries: 0
repos:
  - name: torture
    origin: %s/
    gpgkeys: [%s]
    prune_after: 0s
    # The origin cycles through its revisions, back to the first too.
    allow_rollback: true
    snapshots: {keep: 2, keep_for: 0s}
    mirrors:
      - name: m1
        path: %s
      - name: m2
        path: %s
`, base, o.srv.URL, key.PublicPath, mirrors[0], mirrors[1])), 0o644)

	// check checks every mirror; it fails t at the first inconsistency.
	checks, dnfChecks := 0, 0
	check := func(when string, dnf bool) []*checker.Report {
		t.Helper()
		var reps []*checker.Report
		for _, m := range mirrors {
			checks++
			r := checker.Check(m, checker.Options{KeyFiles: []string{key.PublicPath}})
			reps = append(reps, r)
			if len(r.Problems) > 0 {
				t.Fatalf("%s: mirror %s is INCONSISTENT:\n%s", when, m, strings.Join(r.Problems, "\n"))
			}
			if !r.Served {
				continue
			}
			i := slices.IndexFunc(revs, func(rv *tortureRev) bool { return bytes.Equal(rv.repomd, r.Repomd) })
			if i < 0 {
				t.Fatalf("%s: mirror %s serves a repomd.xml that is no revision of the origin:\n%s", when, m, r.Repomd)
			}
			if got := r.NEVRAs(); !slices.Equal(got, revs[i].nevras) {
				t.Fatalf("%s: mirror %s serves %s with packages %v, want %v", when, m, revs[i].name, got, revs[i].nevras)
			}
			if dnf && withDNF {
				dnfChecks++
				if err := checker.DNF(t, m, r, key.PublicPath); err != nil {
					t.Fatalf("%s: mirror %s: %v", when, m, err)
				}
			}
		}
		for _, m := range mirrors {
			checkSnapshots(t, when, m, revs, key.PublicPath)
		}
		return reps
	}
	serves := func(reps []*checker.Report, rev *tortureRev) bool {
		for _, r := range reps {
			if !bytes.Equal(r.Repomd, rev.repomd) {
				return false
			}
		}
		return true
	}
	complete := func(when string) *tortureRun {
		t.Helper()
		r := runChild(t, o, cfg, 0, nil, 0)
		if r.err != nil {
			t.Fatalf("%s: sync failed: %v\n%s\nrpmirror's files:\n%s", when, r.err, r.output, strings.Join(bookkeeping(base), "\n"))
		}
		if reps := check(when, false); !serves(reps, o.cur.Load()) {
			t.Fatalf("%s: a complete sync did not bring every mirror to %s", when, o.cur.Load().name)
		}
		return r
	}

	// Measure an unkilled sync to each revision.
	durations := map[string]time.Duration{}
	for _, i := range []int{0, 1, 2, 3, 0} {
		o.cur.Store(revs[i])
		r := complete("measuring " + revs[i].name)
		durations[revs[i].name] = r.duration
	}
	t.Logf("unkilled syncs take %v", durations)

	hits := map[string]int{}
	var table []string
	cur := 0
	killed, iterations, completions := 0, 0, 0
	reps := check("before the kills", false)
	// Every phase must see kills: the run goes on past kills runs,
	// aiming at each phase in turn, until each has need of them (a
	// loaded machine moves where a timed kill lands).
	need := min(3, kills/10)
	aimed := []string{"verify", "prune", "publish", "download", "snapshot"}
	short := func() bool {
		for _, ph := range aimed {
			if hits[ph] < need {
				return true
			}
		}
		return false
	}
	for (killed < kills || short()) && iterations < 8*kills {
		iterations++
		// Give the run work: a new revision when the mirrors have the
		// current one, and sometimes anyway.
		// Now and then the origin rolls back to the revision before,
		// as origins do after a bad push.
		if serves(reps, revs[cur]) || rng.IntN(2) == 0 {
			if rng.IntN(5) == 0 {
				cur = (cur + len(revs) - 1) % len(revs)
			} else {
				cur = (cur + 1) % len(revs)
			}
			o.cur.Store(revs[cur])
		}
		rev := revs[cur]
		var r *tortureRun
		mode := "time"
		if iterations%4 == 0 || killed >= kills {
			// Aim at the phase hit least so far among those a random
			// time rarely reaches.
			target := "verify"
			for _, ph := range aimed {
				if hits[ph] < hits[target] {
					target = ph
				}
			}
			mode = "aim:" + target
			jitter := time.Duration(rng.IntN(1000)) * time.Microsecond
			trig := &trigger{}
			switch target {
			case "verify":
				// The origin has sent a package and has none in flight:
				// the child is reading and checking what it got.
				trig.onServed = func(r *tortureRun) bool { return o.inflight.Load() == 0 && r.fetched < r.toFetch }
				jitter = 0
			case "download":
				k := 1 + rng.IntN(8)
				trig.onEvent = func(msg string, r *tortureRun) bool { return msg == "fetched" && r.fetched == min(k, r.toFetch-1) }
			case "publish":
				trig.onEvent = func(msg string, r *tortureRun) bool {
					return (msg == "fetched" || msg == "planned") && r.fetched == r.toFetch
				}
			case "prune":
				trig.onEvent = func(msg string, r *tortureRun) bool { return msg == "published" }
				jitter = 0
			case "snapshot":
				// Taking one (its links, its rename), writing the index,
				// removing the older ones.
				trig.onEvent = func(msg string, r *tortureRun) bool { return msg == "published" || msg == "snapshot taken" }
				jitter = time.Duration(rng.IntN(3000)) * time.Microsecond
			}
			r = runChild(t, o, cfg, 0, trig, jitter)
		} else {
			d := durations[rev.name]
			delay := time.Duration(rng.Int64N(int64(d)*12/10)) + 1
			mode = "time:" + delay.Round(time.Millisecond).String()
			r = runChild(t, o, cfg, delay, nil, 0)
		}
		phase := "completed"
		if r.killed {
			killed++
			phase = r.phase()
			hits[phase]++
		} else {
			if r.err != nil {
				t.Fatalf("iteration %d: sync failed without being killed: %v\n%s", iterations, r.err, r.output)
			}
			completions++
			if strings.HasPrefix(mode, "time:") && r.fetched > 0 {
				// Killed too late: aim within what a sync to this
				// revision takes now.
				durations[rev.name] = r.duration
			}
		}
		table = append(table, fmt.Sprintf("%3d  %-3s  %-16s %-9s fetched %d/%d", iterations, rev.name, mode, phase, r.fetched, r.toFetch))
		when := fmt.Sprintf("iteration %d (origin %s, %s, killed in %s)", iterations, rev.name, mode, phase)
		reps = check(when, r.killed && killed%10 == 0)
		// Sometimes a complete sync follows; else the next run is
		// killed too, resuming what this one left.
		if rng.IntN(3) == 0 {
			complete("complete sync after " + when)
			completions++
			reps = check("after a complete sync", false)
		}
	}
	t.Logf("runs:\n%s", strings.Join(table, "\n"))

	// The end: a normal sync completes and both mirrors serve the origin.
	cur = (cur + 1) % len(revs)
	o.cur.Store(revs[cur])
	complete("final sync")
	reps = check("after the final sync", true)
	for _, m := range mirrors {
		for _, left := range []string{
			filepath.Join(m, ".rpmirror", "tmp"),
			filepath.Join(m, ".rpmirror", "next-repodata"),
			filepath.Join(filepath.Dir(m), "."+filepath.Base(m)+".rpmirror-next"),
		} {
			if ents, err := os.ReadDir(left); err == nil && len(ents) > 0 {
				t.Errorf("after the final sync %s holds %d entries", left, len(ents))
			}
		}
		// Files no revision it served named, left by killed runs, are
		// never pruned: rpmirror cannot tell them from an operator's.
		want := map[string]bool{}
		for _, p := range reps[0].Packages {
			want[p.Href] = true
		}
		var orphans []string
		filepath.WalkDir(filepath.Join(m, "Packages"), func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				rel, _ := filepath.Rel(m, p)
				if !want[filepath.ToSlash(rel)] {
					orphans = append(orphans, filepath.ToSlash(rel))
				}
			}
			return nil
		})
		if len(orphans) > 0 {
			t.Logf("%s: %d package files the served revision does not name (left by killed runs): %v", m, len(orphans), orphans)
		}
	}

	filteredKills := tortureFiltered(t, o, revs, base, key, max(kills/5, 5), rng, withDNF)

	var b strings.Builder
	fmt.Fprintf(&b, "%d runs, %d killed, %d completed; %d checker runs, %d dnf runs; filtered mirror: %d runs killed\n", iterations, killed, completions, checks, dnfChecks, filteredKills)
	fmt.Fprintf(&b, "%-10s %s\n", "phase", "kills")
	for _, ph := range torturePhases {
		fmt.Fprintf(&b, "%-10s %d\n", ph, hits[ph])
	}
	t.Logf("kills by phase:\n%s", b.String())
	if killed < kills {
		t.Errorf("only %d of %d runs were killed in %d iterations", killed, kills, iterations)
	}
	for _, ph := range aimed {
		if hits[ph] < need {
			t.Errorf("phase %s got %d kills, want at least %d", ph, hits[ph], need)
		}
	}
}

// tortureFiltered kills syncs of a filtered mirror of origin o (with
// sign_with) at random times, kills times over, while the origin moves
// between revisions. After each run the mirror must serve nothing or one
// complete filtered revision: the kept packages of one origin revision,
// consistent for the independent checker, signed by sign_with's key, and
// byte for byte the repomd.xml served for that revision before (the
// filtered metadata is deterministic). It returns the number of runs
// killed.
func tortureFiltered(t *testing.T, o *tortureOrigin, revs []*tortureRev, base string, key *testrepo.Key, kills int, rng *rand.Rand, withDNF bool) int {
	t.Helper()
	signer := testrepo.NewKey(t, "rpmirror torture filtered signer")
	signWith := filepath.Join(base, "filtered-sign.asc")
	if err := signer.ExportSecret(signWith); err != nil {
		t.Fatal(err)
	}
	m := filepath.Join(base, "filtered")
	cfg := filepath.Join(base, "filtered.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`state_dir: %s/state
download:
  concurrency: 2
  retries: 0
repos:
  - name: torture-filtered
    origin: %s/
    gpgkeys: [%s]
    prune_after: 0s
    allow_rollback: true
%s    sign_with: %s
    mirrors:
      - name: f1
        path: %s
`, base, o.srv.URL, key.PublicPath, tortureFilter, signWith, m)), 0o644)
	served := map[string][]byte{} // revision -> the filtered repomd.xml served for it
	check := func(when string, dnf bool) string {
		t.Helper()
		r := checker.Check(m, checker.Options{KeyFiles: []string{key.PublicPath, signer.PublicPath}})
		if len(r.Problems) > 0 {
			t.Fatalf("filtered mirror, %s: INCONSISTENT:\n%s", when, strings.Join(r.Problems, "\n"))
		}
		if !r.Served {
			return ""
		}
		i := slices.IndexFunc(revs, func(rv *tortureRev) bool { return rv.revision == r.Revision })
		if i < 0 {
			t.Fatalf("filtered mirror, %s: serves revision %q, which the origin never had", when, r.Revision)
		}
		if got := r.NEVRAs(); !slices.Equal(got, revs[i].filtered) {
			t.Fatalf("filtered mirror, %s: serves %s with packages %v, want the kept %v", when, revs[i].name, got, revs[i].filtered)
		}
		if prev, ok := served[r.Revision]; ok && !bytes.Equal(prev, r.Repomd) {
			t.Fatalf("filtered mirror, %s: a second repomd.xml for revision %s:\n%s\nthen\n%s", when, r.Revision, prev, r.Repomd)
		}
		served[r.Revision] = r.Repomd
		if dnf && withDNF {
			if err := checker.DNF(t, m, r, key.PublicPath, signer.PublicPath); err != nil {
				t.Fatalf("filtered mirror, %s: %v", when, err)
			}
		}
		return r.Revision
	}
	complete := func(when string) time.Duration {
		t.Helper()
		r := runChild(t, o, cfg, 0, nil, 0)
		if r.err != nil {
			t.Fatalf("filtered mirror, %s: sync failed: %v\n%s", when, r.err, r.output)
		}
		if rev := check(when, false); rev != o.cur.Load().revision {
			t.Fatalf("filtered mirror, %s: serves revision %q after a complete sync, want %s", when, rev, o.cur.Load().revision)
		}
		return r.duration
	}
	cur := slices.Index(revs, o.cur.Load())
	d := complete("first sync")
	killed := 0
	for i := 0; killed < kills && i < 8*kills; i++ {
		if rng.IntN(2) == 0 {
			cur = (cur + 1) % len(revs)
			o.cur.Store(revs[cur])
		}
		delay := time.Duration(rng.Int64N(int64(d)*12/10)) + 1
		r := runChild(t, o, cfg, delay, nil, 0)
		if !r.killed && r.err != nil {
			t.Fatalf("filtered mirror, run %d: sync failed without being killed: %v\n%s", i, r.err, r.output)
		}
		if r.killed {
			killed++
		} else if r.fetched > 0 {
			// The kill came too late: aim within the time a sync
			// that does work takes now (a loaded machine changes it).
			d = r.duration
		}
		check(fmt.Sprintf("run %d (origin %s, killed %v after %s)", i, revs[cur].name, r.killed, delay.Round(time.Millisecond)), r.killed && killed%5 == 0)
	}
	if killed < kills {
		t.Errorf("filtered mirror: only %d of %d runs were killed", killed, kills)
	}
	cur = (cur + 1) % len(revs)
	o.cur.Store(revs[cur])
	complete("final sync")
	check("after the final sync", true)
	return killed
}

// bookkeeping lists the files below dir whose names say rpmirror made
// them for its own use, for a failure message.
func bookkeeping(dir string) []string {
	var found []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), "rpmirror") {
			found = append(found, p)
		}
		return nil
	})
	return found
}

// checkSnapshots fails t unless every directory under the mirror's
// snapshots/ is a complete revision of the origin (checked like a mirror,
// its repomd.xml byte for byte one of revs with exactly its packages),
// and every snapshot index.json and latest.txt name is such a directory.
// A directory whose name is no snapshot's (rpmirror's own temporary ones
// are under .rpmirror/) would be a half snapshot left visible.
func checkSnapshots(t *testing.T, when, mirror string, revs []*tortureRev, key string) {
	t.Helper()
	checkSnapshotsIn(t, when, mirror, revs, key, false, false)
}

// checkSnapshotsIn is checkSnapshots, for a mirror in object storage when
// objectStore is set (mirror is the directory the store keeps it in). A
// snapshot there is copied file by file, its repodata/repomd.xml last, so
// a directory without repomd.xml is no snapshot (dnf finds no repository
// there) and is allowed after a kill, unnamed by index.json and
// latest.txt; once settled (a sync ran to the end) none may be left.
// Directories without files are nothing in object storage.
func checkSnapshotsIn(t *testing.T, when, mirror string, revs []*tortureRev, key string, objectStore, settled bool) {
	t.Helper()
	dir := filepath.Join(mirror, "snapshots")
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, e := range ents {
		if !e.IsDir() {
			if n := e.Name(); n != "index.json" && n != "latest.txt" {
				t.Fatalf("%s: %s: unexpected file %s", when, dir, n)
			}
			continue
		}
		name := e.Name()
		if !config.ValidSnapshotName(name) {
			t.Fatalf("%s: %s holds %s, which is no snapshot's name", when, dir, name)
		}
		if objectStore {
			if _, err := os.Stat(filepath.Join(dir, name, "repodata", "repomd.xml")); err != nil {
				files := 0
				filepath.WalkDir(filepath.Join(dir, name), func(_ string, d fs.DirEntry, err error) error {
					if err == nil && d.Type().IsRegular() {
						files++
					}
					return nil
				})
				if settled && files > 0 {
					t.Fatalf("%s: %s/%s holds %d files and no repomd.xml after a complete sync: an incomplete snapshot was left", when, dir, name, files)
				}
				continue
			}
		}
		r := checker.Check(filepath.Join(dir, name), checker.Options{KeyFiles: []string{key}})
		if !r.Served || len(r.Problems) > 0 {
			t.Fatalf("%s: snapshot %s of %s is INCOMPLETE (served %t):\n%s", when, name, mirror, r.Served, strings.Join(r.Problems, "\n"))
		}
		i := slices.IndexFunc(revs, func(rv *tortureRev) bool { return bytes.Equal(rv.repomd, r.Repomd) })
		if i < 0 {
			t.Fatalf("%s: snapshot %s of %s holds a repomd.xml that is no revision of the origin", when, name, mirror)
		}
		if got := r.NEVRAs(); !slices.Equal(got, revs[i].nevras) {
			t.Fatalf("%s: snapshot %s of %s holds %s with packages %v, want %v", when, name, mirror, revs[i].name, got, revs[i].nevras)
		}
		have[name] = true
	}
	if b, err := os.ReadFile(filepath.Join(dir, "latest.txt")); err == nil {
		if n := strings.TrimSpace(string(b)); !have[n] {
			t.Fatalf("%s: %s/latest.txt names %q, which is not there", when, dir, n)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "index.json")); err == nil {
		var x struct {
			Snapshots []struct {
				Name string `json:"name"`
			} `json:"snapshots"`
		}
		if err := json.Unmarshal(b, &x); err != nil {
			t.Fatalf("%s: %s/index.json: %v", when, dir, err)
		}
		for _, s := range x.Snapshots {
			if !have[s.Name] {
				t.Fatalf("%s: %s/index.json names %s, which is not there", when, dir, s.Name)
			}
		}
	}
}
