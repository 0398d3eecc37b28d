package daemon_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/alert"
	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/server"
)

// newRevision builds, in a temporary directory, the demo's v2 with pkg
// added (the other packages copied as they are), published as revision
// rev of the origin.
// corruptRevision is newRevision with pkg's file damaged after its
// metadata was written (ten bytes from its end): a revision verification
// refuses.
func corruptRevision(t *testing.T, pkg testrepo.Pkg, rev int64) string {
	t.Helper()
	dir := newRevision(t, pkg, rev)
	damage(t, filepath.Join(dir, filepath.FromSlash(pkg.RelPath())))
	return dir
}

// damage flips a byte of the file at p, ten from its end: a package's
// payload, so that its digests and signature fail, its size unchanged.
func damage(t *testing.T, p string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-10] ^= 0xff
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func newRevision(t *testing.T, pkg testrepo.Pkg, rev int64) string {
	t.Helper()
	testrepo.RequireTools(t, "rpmbuild", "rpmsign", "gpg", "createrepo_c")
	dir := filepath.Join(t.TempDir(), "rev")
	pkgs := append(testrepo.DemoV2Packages(testrepo.TestKey(t)), pkg)
	if _, err := testrepo.BuildDerived(dir, testrepo.DemoOrigin(t, "v2"), pkgs...); err != nil {
		t.Fatal(err)
	}
	if err := testrepo.MakeRepo(dir, testrepo.RepoOpts{NoDatabase: true, Revision: strconv.FormatInt(rev, 10)}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// repomdSHA256 returns the hex sha256 of dir's repodata/repomd.xml.
func repomdSHA256(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "repodata", "repomd.xml"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func (e *env) metalink() string {
	e.t.Helper()
	code, body := e.get("/metalink?repo=demo")
	if code != 200 {
		e.t.Fatalf("/metalink: %d %s", code, body)
	}
	return body
}

// mirrorAlerts returns the alerts about the named mirrors.
func (e *env) mirrorAlerts(names ...string) []alert.Event {
	e.hook.mu.Lock()
	defer e.hook.mu.Unlock()
	var out []alert.Event
	for _, a := range e.hook.events {
		for _, n := range names {
			if a.Kind == "mirror" && a.Mirror == n {
				out = append(out, a)
			}
		}
	}
	return out
}

func (e *env) installs(via string) {
	e.t.Helper()
	if out, err := e.dnf(via, "install", "hello-mirror"); err != nil {
		e.t.Errorf("dnf install through %s: %v\n%s", via, err, out)
	}
}

// TestRefusedRevisionKeepsMirrors: the origin publishes a revision
// rpmirror refuses (a corrupt package, a package answering 403, a package
// signed by a key that is not configured). Both mirrors hold the last
// verified revision: they stay ok and listed, no alert says otherwise,
// the metalink keeps describing the verified revision, /status says why
// the origin's revision is not current, and dnf installs from the
// mirrors. With every mirror gone too, the origin is still not listed:
// what it serves failed verification.
func TestRefusedRevisionKeepsMirrors(t *testing.T) {
	e := newEnv(t, envOpts{probeInterval: time.Second, probeTimeout: time.Second})
	e.waitHealthy()
	v2sum := repomdSHA256(t, testrepo.DemoOrigin(t, "v2"))
	key := testrepo.TestKey(t)
	base := time.Now().Unix()
	pkg := testrepo.Pkg{Name: "hz-pkg1", Version: "1", Release: "1", Sign: key}
	corrupt := corruptRevision(t, pkg, base+10)
	forbidden := newRevision(t, pkg, base+20)
	unknown := pkg
	unknown.Sign = testrepo.UnknownKey(t)
	badSig := newRevision(t, unknown, base+30)

	for _, tc := range []struct {
		name  string
		dir   string
		rev   int64
		setup func()
		want  string
	}{
		{"corrupt package", corrupt, base + 10, nil, "checksum mismatch"},
		{"package answers 403", forbidden, base + 20, func() { e.net.setStatusOf("origin", pkg.RelPath(), http.StatusForbidden) }, "403 Forbidden"},
		{"package signed by an unknown key", badSig, base + 30, func() { e.net.setStatusOf("origin", pkg.RelPath(), 0) }, "not configured"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup()
			}
			e.net.serve("origin", tc.dir)
			note := fmt.Sprintf("origin revision %d refused: ", tc.rev)
			waitFor(t, 60*time.Second, "the origin's revision to be refused", func() bool {
				return strings.Contains(e.status().Repos[0].OriginNote, note)
			})
			st := e.status().Repos[0]
			if !strings.Contains(st.OriginNote, "hz-pkg1") || !strings.Contains(st.OriginNote, tc.want) {
				t.Errorf("origin_note %q does not name the package and say %q", st.OriginNote, tc.want)
			}
			if st.CurrentRevision == fmt.Sprint(tc.rev) {
				t.Errorf("current revision is the refused one")
			}
			if l := e.mirrorlist(); len(l) != 2 || l[0] != e.net.URL("m1") || l[1] != e.net.URL("m2") {
				t.Errorf("mirrorlist %v, want m1 and m2", l)
			}
			// The mirrors are http: a client asking for https is told
			// that, not that no mirror is up.
			if _, text := e.get("/mirrorlist?repo=demo&protocol=https"); text != "# no listed mirror offers the protocol asked: listing nothing\n" {
				t.Errorf("mirrorlist for https: %q", text)
			}
			for _, m := range []string{"m1", "m2"} {
				if ms := e.mirrorState(m); ms.State != "ok" || ms.LagSeconds == nil || *ms.LagSeconds != 0 {
					t.Errorf("%s: %s (%s), lag %v; want ok, lag 0", m, ms.State, ms.Reason, ms.LagSeconds)
				}
			}
			ml := e.metalink()
			if !strings.Contains(ml, v2sum) || strings.Contains(ml, repomdSHA256(t, tc.dir)) || strings.Contains(ml, e.net.URL("origin")) {
				t.Errorf("the metalink must describe the verified revision and list the mirrors only:\n%s", ml)
			}
			if _, m := e.get("/metrics"); !strings.Contains(m, `rpmirror_origin_revision_refused{repo="demo"} 1`) {
				t.Errorf("/metrics lacks rpmirror_origin_revision_refused 1:\n%s", grepLines(m, "refused"))
			}
			if _, page := e.get("/status"); !strings.Contains(page, "refused") {
				t.Error("/status does not say the origin's revision is refused")
			}
			e.installs("mirrorlist=" + e.base + "/mirrorlist?repo=demo")
			e.installs("metalink=" + e.base + "/metalink?repo=demo")
		})
	}
	if a := e.mirrorAlerts("m1", "m2"); len(a) > 0 {
		t.Errorf("alerts about mirrors that never stopped serving the verified revision: %+v", a)
	}

	// Every mirror gone: still not the origin, which serves a refused
	// revision.
	e.net.setStatus("m1", http.StatusForbidden)
	e.net.setStatus("m2", http.StatusForbidden)
	waitFor(t, 15*time.Second, "the mirrors to leave the list", func() bool { return len(e.mirrorlist()) == 0 })
	_, text := e.get("/mirrorlist?repo=demo")
	if want := fmt.Sprintf("# no mirror can be listed (none is up and serving a verified revision), and the origin's revision %d failed verification: listing nothing\n", base+30); text != want {
		t.Errorf("mirrorlist %q, want %q", text, want)
	}
	if ml := e.metalink(); strings.Contains(ml, "<url") || !strings.Contains(ml, "failed verification") {
		t.Errorf("metalink lists a URL, or does not say why it lists none:\n%s", ml)
	}
}

// TestFailedSyncTriedAgain: the origin publishes a revision whose sync
// fails, then mends it without a new repomd.xml (the package put back
// whole; a package's 403 lifted). No probe sees a new revision, and the
// schedule is an hour away: the daemon tries the failed sync again after
// probe_interval, doubled at each failure in a row, and the mirrors get
// the revision within seconds. Before, they waited for the schedule (an
// operator tester's: until the daemon was restarted). /status.json's
// next_sync says when the retry is due while it is.
func TestFailedSyncTriedAgain(t *testing.T) {
	e := newEnv(t, envOpts{probeInterval: time.Second, probeTimeout: time.Second})
	e.waitHealthy()
	key := testrepo.TestKey(t)
	base := time.Now().Unix()
	pkg := testrepo.Pkg{Name: "hz-pkg1", Version: "1", Release: "1", Sign: key}
	for i, tc := range []struct {
		name         string
		break_, mend func(dir string)
	}{
		{"a corrupt package put back whole",
			func(dir string) { damage(t, filepath.Join(dir, filepath.FromSlash(pkg.RelPath()))) },
			func(dir string) { damage(t, filepath.Join(dir, filepath.FromSlash(pkg.RelPath()))) }}, // the byte flipped back
		{"a package answering 403, then served",
			func(string) { e.net.setStatusOf("origin", pkg.RelPath(), http.StatusForbidden) },
			func(string) { e.net.setStatusOf("origin", pkg.RelPath(), 0) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rev := base + 10*int64(i+1)
			p := pkg
			p.Release = fmt.Sprint(i + 2)
			dir := newRevision(t, p, rev)
			pkg = p
			tc.break_(dir)
			e.net.serve("origin", dir)
			note := fmt.Sprintf("origin revision %d refused: ", rev)
			waitFor(t, 60*time.Second, "the origin's revision to be refused", func() bool {
				return strings.Contains(e.status().Repos[0].OriginNote, note)
			})
			// Between retries (the one due asked for, the next set once
			// it fails), next_sync says when the next is, not the
			// schedule's hour, and never a time gone by.
			waitFor(t, 20*time.Second, "next_sync to be the retry, seconds away", func() bool {
				all := e.status()
				st := all.Repos[0]
				if !st.NextSync.IsZero() && st.NextSync.Before(all.Generated) {
					t.Errorf("next_sync %v is in the past", st.NextSync)
				}
				return !st.NextSync.IsZero() && st.NextSync.Before(time.Now().Add(10*time.Minute))
			})
			tc.mend(dir)
			want, _ := os.ReadFile(filepath.Join(dir, "repodata", "repomd.xml"))
			waitFor(t, 30*time.Second, "the mended revision to be synced without a new repomd.xml", func() bool {
				if e.status().Repos[0].CurrentRevision != fmt.Sprint(rev) {
					return false
				}
				for _, m := range []string{"m1", "m2"} {
					if got, _ := os.ReadFile(filepath.Join(e.dir, m, "repodata", "repomd.xml")); string(got) != string(want) {
						return false
					}
				}
				return true
			})
			if st := e.status().Repos[0]; st.NextSync.Before(time.Now().Add(30 * time.Minute)) {
				t.Errorf("next_sync %v after the sync that succeeded: want the schedule's, an hour away", st.NextSync)
			}
		})
	}
}

// TestSignatureMendedAfterItsRepomd: with repo_gpgcheck, the origin
// uploads a new repomd.xml before its repomd.xml.asc (the old signature
// is still there for a while), so the sync refuses the revision and is
// skipped; once the right signature is up, the repomd.xml is unchanged,
// and the daemon syncs the revision by trying again, not at the next
// scheduled sync an hour later (an operator tester's, who had to restart
// the daemon).
func TestSignatureMendedAfterItsRepomd(t *testing.T) {
	e := newEnv(t, envOpts{probeInterval: time.Second, probeTimeout: time.Second,
		repoExtra: "    repo_gpgcheck: true\n    repo_gpgkeys: [KEY]"})
	e.waitHealthy()
	key := testrepo.TestKey(t)
	rev := time.Now().Unix() + 10
	dir := filepath.Join(t.TempDir(), "rev")
	pkgs := append(testrepo.DemoV2Packages(key), testrepo.Pkg{Name: "hz-pkg1", Version: "1", Release: "1", Sign: key})
	if _, err := testrepo.BuildDerived(dir, testrepo.DemoOrigin(t, "v2"), pkgs...); err != nil {
		t.Fatal(err)
	}
	if err := testrepo.MakeRepo(dir, testrepo.RepoOpts{NoDatabase: true, Revision: fmt.Sprint(rev), SignRepomd: key}); err != nil {
		t.Fatal(err)
	}
	asc := filepath.Join(dir, "repodata", "repomd.xml.asc")
	good, err := os.ReadFile(asc)
	if err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(filepath.Join(testrepo.DemoOrigin(t, "v2"), "repodata", "repomd.xml.asc"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(asc, old, 0o644); err != nil { // the last revision's, not yet replaced
		t.Fatal(err)
	}
	e.net.serve("origin", dir)
	waitFor(t, 60*time.Second, "the revision to be refused for its signature", func() bool {
		return strings.Contains(e.status().Repos[0].OriginNote, fmt.Sprintf("origin revision %d refused", rev))
	})
	// Said once, with what is wrong and where (it said "refused: no
	// usable upstream: checking ...: origin ... revision X refused: ...").
	note := e.status().Repos[0].OriginNote
	if want := fmt.Sprintf("origin revision %d refused: repomd.xml signature check failed", rev); !strings.HasPrefix(note, want) ||
		strings.Count(note, "refused") != 1 || !strings.Contains(note, "(from "+e.net.URL("origin")) {
		t.Errorf("origin_note %q: want it to start %q, say refused once and name the origin", note, want)
	}
	if err := os.WriteFile(asc, good, 0o644); err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(filepath.Join(dir, "repodata", "repomd.xml"))
	waitFor(t, 30*time.Second, "the revision to be synced once its signature is up", func() bool {
		got, _ := os.ReadFile(filepath.Join(e.dir, "m1", "repodata", "repomd.xml"))
		return e.status().Repos[0].CurrentRevision == fmt.Sprint(rev) && string(got) == string(want)
	})
}

// TestPublishDoesNotFlap: an ordinary publish at the origin never takes a
// mirror out of the lists (they serve the previous verified revision
// until rpmirror brings them forward) and fires no alert.
func TestPublishDoesNotFlap(t *testing.T) {
	e := newEnv(t, envOpts{probeInterval: time.Second, probeTimeout: time.Second})
	e.waitHealthy()
	v3 := newRevision(t, testrepo.Pkg{Name: "hz-pkg1", Version: "1", Release: "1", Sign: testrepo.TestKey(t)}, time.Now().Unix()+10)
	want, _ := os.ReadFile(filepath.Join(v3, "repodata", "repomd.xml"))
	e.net.serve("origin", v3)
	polls := 0
	waitFor(t, 60*time.Second, "both mirrors to serve the new revision, ok", func() bool {
		polls++
		if l := e.mirrorlist(); len(l) != 2 {
			t.Fatalf("poll %d: a mirror left the list during an ordinary publish: %v\n%+v", polls, l, e.status().Repos[0].Mirrors)
		}
		for _, m := range []string{"m1", "m2"} {
			got, _ := os.ReadFile(filepath.Join(e.dir, m, "repodata", "repomd.xml"))
			if string(got) != string(want) || e.mirrorState(m).State != "ok" {
				return false
			}
		}
		return true
	})
	time.Sleep(time.Second) // a few more probe rounds
	if l := e.mirrorlist(); len(l) != 2 {
		t.Errorf("after the publish: mirrorlist %v", l)
	}
	if a := e.mirrorAlerts("m1", "m2"); len(a) > 0 {
		t.Errorf("an ordinary publish fired alerts: %+v", a)
	}
	for _, f := range e.status().Repos[0].Failures {
		if f.What == "mirror m1" || f.What == "mirror m2" {
			t.Errorf("an ordinary publish recorded a mirror failure: %+v", f)
		}
	}
	t.Logf("%d polls of the mirrorlist during the publish", polls)
}

// TestBehindAndStale: a mirror serving an earlier verified revision is
// behind while that revision was superseded less than max_lag ago: listed
// after the ok mirrors whatever its priority, its revision carried as a
// metalink alternate so that dnf accepts it, with no alert. The verified
// revisions survive a restart (with the origin down, so no sync can tell
// them again). With max_lag 0s the same mirror is stale and leaves the
// lists, which alerts.
func TestBehindAndStale(t *testing.T) {
	e := newEnv(t, envOpts{probeInterval: time.Second, probeTimeout: time.Second, origin: testrepo.DemoOrigin(t, "v1")})
	v1 := testrepo.DemoOrigin(t, "v1")
	waitFor(t, 60*time.Second, "the three mirrors serving v1 to be listed", func() bool { return len(e.mirrorlist()) == 3 })
	e.net.serve("origin", testrepo.DemoOrigin(t, "v2"))
	// third (priority 1) still serves v1.
	behind := func() {
		t.Helper()
		waitFor(t, 60*time.Second, "m1 and m2 ok, then third behind", func() bool {
			l := e.mirrorlist()
			return len(l) == 3 && l[0] == e.net.URL("m1") && l[1] == e.net.URL("m2") && l[2] == e.net.URL("third") &&
				e.mirrorState("third").State == "behind"
		})
		st := e.mirrorState("third")
		if st.LagSeconds == nil || !strings.Contains(st.Reason, "superseded") {
			t.Errorf("third: reason %q, lag %v", st.Reason, st.LagSeconds)
		}
		if ml := e.metalink(); !strings.Contains(ml, "<mm0:alternates>") || !strings.Contains(ml, repomdSHA256(t, v1)) {
			t.Errorf("the metalink does not carry the revision third serves as an alternate:\n%s", ml)
		}
		if _, m := e.get("/metrics"); !strings.Contains(m, `rpmirror_mirror_state{mirror="third",repo="demo",state="behind"} 1`) ||
			!strings.Contains(m, `rpmirror_mirror_lag_seconds{mirror="third",repo="demo"}`) {
			t.Errorf("/metrics does not show third behind:\n%s", grepLines(m, "third"))
		}
	}
	behind()

	// dnf, sent to third alone through the metalink, accepts v1.
	e.net.setStatus("m1", http.StatusForbidden)
	e.net.setStatus("m2", http.StatusForbidden)
	waitFor(t, 15*time.Second, "only third to be listed", func() bool { return len(e.mirrorlist()) == 1 })
	out, err := e.dnf("metalink="+e.base+"/metalink?repo=demo", "repoquery", "-q", "--qf", "%{name}")
	if err != nil || !strings.Contains(out, "sample-data") {
		t.Errorf("dnf through the metalink with only third (at v1) listed: %v\n%s", err, out)
	}
	e.net.setStatus("m1", 0)
	e.net.setStatus("m2", 0)

	// Restart with the origin down: the verified revisions come from
	// state_dir.
	e.stop()
	e.net.setStatus("origin", http.StatusForbidden)
	e.start()
	behind()
	if a := e.mirrorAlerts("third"); len(a) > 0 {
		t.Errorf("alerts about a mirror that was only behind: %+v", a)
	}

	// max_lag 0s: third is stale.
	cfg := *e.cfg
	cfg.Repos = append(cfg.Repos[:0:0], cfg.Repos...)
	cfg.Repos[0].MaxLag = 0
	e.d.Reload(&cfg)
	waitFor(t, 15*time.Second, "third to be stale and unlisted", func() bool {
		return e.mirrorState("third").State == "stale" && len(e.mirrorlist()) == 2
	})
	if st := e.mirrorState("third"); !strings.Contains(st.Reason, "more than max_lag 0s") {
		t.Errorf("third stale: %q", st.Reason)
	}
	waitFor(t, 15*time.Second, "the alert that third went stale", func() bool {
		_, ok := e.hook.find(func(a alert.Event) bool { return a.Mirror == "third" && a.From == "behind" && a.To == "stale" })
		return ok
	})
	if ml := e.metalink(); strings.Contains(ml, "<mm0:alternates>") {
		t.Errorf("the metalink still carries an alternate no listed mirror serves:\n%s", ml)
	}
}

// TestBehindMirrorMovingOnListedAtOnce: a listed mirror behind on one
// earlier verified revision that moves on to another (a partner catching
// up one revision at a time) is listed with the revision it now serves as
// the metalink's alternate as soon as its probe finds it there, not once
// the round's slowest probe ends: until then the lists named a revision
// the mirror no longer served, which dnf refuses.
func TestBehindMirrorMovingOnListedAtOnce(t *testing.T) {
	e := newEnv(t, envOpts{probeInterval: 10 * time.Second, probeTimeout: 10 * time.Second, origin: testrepo.DemoOrigin(t, "v1")})
	v1, v2 := testrepo.DemoOrigin(t, "v1"), testrepo.DemoOrigin(t, "v2")
	v1sum, v2sum := repomdSHA256(t, v1), repomdSHA256(t, v2)
	waitFor(t, 60*time.Second, "the three mirrors serving v1 to be listed", func() bool { return len(e.mirrorlist()) == 3 })
	alternates := func() string {
		_, alts, _ := strings.Cut(e.metalink(), "<mm0:alternates>")
		return alts
	}
	e.net.serve("origin", v2)
	e.d.TriggerSync("demo")
	waitFor(t, 60*time.Second, "m1 and m2 at v2, third behind on v1", func() bool {
		st := e.status().Repos[0]
		return mirrorOf(st, "m1").State == "ok" && mirrorOf(st, "third").State == "behind" && strings.Contains(alternates(), v1sum)
	})
	v2rev := e.mirrorState("m1").Revision
	next := newRevision(t, testrepo.Pkg{Name: "zz-next", Version: "1", Release: "1", Sign: testrepo.TestKey(t)}, time.Now().Unix()+100)
	nextSum := repomdSHA256(t, next)
	e.net.serve("origin", next)
	e.d.TriggerSync("demo")
	waitFor(t, 60*time.Second, "m1 and m2 at the next revision, third still behind on v1", func() bool {
		st := e.status().Repos[0]
		cur, alts, _ := strings.Cut(e.metalink(), "<mm0:alternates>")
		return mirrorOf(st, "m1").State == "ok" && mirrorOf(st, "m2").State == "ok" && mirrorOf(st, "third").State == "behind" &&
			strings.Contains(cur, nextSum) && strings.Contains(alts, v1sum)
	})

	// From now on each round waits 10 s for m1's probe; third moves to v2
	// and is probed at the start of one.
	e.net.setHang("m1", true)
	e.net.serve("third", v2)
	waitFor(t, 60*time.Second, "third's probe to find it serving v2", func() bool {
		st := e.mirrorState("third")
		return st.State == "behind" && st.Revision == v2rev
	})
	waitFor(t, 3*time.Second, "the metalink to carry v2, which third serves, as the alternate, and no longer v1", func() bool {
		alts := alternates()
		return strings.Contains(alts, v2sum) && !strings.Contains(alts, v1sum)
	})
	if st := e.mirrorState("m1"); st.State != "ok" {
		t.Errorf("m1 is %s: the round whose probe of third found v2 had ended (the test did not test)", st.State)
	}
	if l := e.mirrorlist(); len(l) != 3 {
		t.Errorf("mirrorlist %v: want m1, m2 and third", l)
	}
}

// TestDamagedPackageReplacedByTheNextSync: a package of a written mirror
// damaged on its disk (cut short) is found by the probes, which keep the
// mirror down; the daemon's next sync, for a new revision that still names
// the package, reads it back before publishing over it, fetches it again
// and replaces it (sync.Options.Suspect), and the mirror is ok and listed
// again with the whole file (a tester's publish went over the truncated
// package, snapshotted it, and the mirror came back up still damaged).
func TestDamagedPackageReplacedByTheNextSync(t *testing.T) {
	e := newEnv(t, envOpts{probeInterval: time.Second, probeTimeout: time.Second})
	e.waitHealthy()
	const pkg = "Packages/l/libexample-0.9.2-2.noarch.rpm"
	path := filepath.Join(e.dir, "m2", filepath.FromSlash(pkg))
	whole, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, int64(len(whole)/2)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "the probes to find m2 down on the damaged package", func() bool {
		st := e.mirrorState("m2")
		return st.State == "down" && strings.Contains(st.Reason, pkg)
	})
	_, _, nextSum := e.serveNext("zz-next")
	e.d.TriggerSync("demo")
	waitFor(t, 60*time.Second, "the next revision published to m2, the package whole again, m2 ok", func() bool {
		b, err := os.ReadFile(path)
		return err == nil && bytes.Equal(b, whole) && repomdSHA256(t, filepath.Join(e.dir, "m2")) == nextSum && e.mirrorState("m2").State == "ok"
	})
}

// TestProbeOnlyRepoIsVerified: a repo whose mirrors are all probe-only
// (as MirrorManager serves third parties) gets verified revisions too:
// rpmirror verifies each new origin revision itself, so its mirrors are
// judged the same way (ok, behind), and a revision it refuses leaves
// them listed.
func TestProbeOnlyRepoIsVerified(t *testing.T) {
	v1, v2 := testrepo.DemoOrigin(t, "v1"), testrepo.DemoOrigin(t, "v2")
	e := newEnv(t, envOpts{probeInterval: time.Second, probeTimeout: time.Second, extra: `
  - name: po
    origin: URL_po-origin
    gpgkeys: [KEY]
    mirrors:
      - name: pa
        url: URL_pa
      - name: pb
        url: URL_pb
`})
	e.net.serve("po-origin", v1)
	e.net.serve("pa", v1)
	e.net.serve("pb", v1)
	list := func() []string {
		_, body := e.get("/mirrorlist?repo=po")
		var urls []string
		for _, l := range strings.Split(body, "\n") {
			if l != "" && !strings.HasPrefix(l, "#") {
				urls = append(urls, l)
			}
		}
		return urls
	}
	po := func() server.RepoStatus { return e.status().Repos[1] }
	waitFor(t, 60*time.Second, "pa and pb listed, serving the verified v1", func() bool { return len(list()) == 2 })
	// The sync that verified v1 was "ok"; one queued behind it (a probe
	// round meanwhile asks for one) may have ended since with "no
	// change": either says the revision is verified, a failure does not.
	if st := po(); st.CurrentRevision == "" || st.LastSync == nil || (st.LastSync.Result != "ok" && st.LastSync.Result != "no change") {
		t.Errorf("po after the verification of v1: %+v", st)
	}
	if ents, _ := os.ReadDir(filepath.Join(e.dir, "state", "cache", "po")); len(ents) > 0 {
		t.Errorf("the verification kept %d files in the cache", len(ents))
	}
	// /r/ knows the verified revision's packages from the index its
	// verification kept: a package goes to a mirror, a path the revision
	// does not have is a 404 (a tester's nonsense paths were redirected).
	pkg := testrepo.DemoPackages(nil)[0].RelPath()
	for _, tc := range []struct {
		path string
		code int
	}{
		{pkg, 302},
		{"repodata/repomd.xml", 302},
		{"foo/bar.txt", 404},
		{"foo/repodata/repomd.xml", 404},
		{"Packages/n/no-such-1.0-1.noarch.rpm", 404},
	} {
		resp, err := noRedirect.Get(e.base + "/r/po/" + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.code {
			t.Errorf("/r/po/%s: %d (Location %q), want %d", tc.path, resp.StatusCode, resp.Header.Get("Location"), tc.code)
		}
	}

	e.net.serve("po-origin", v2)
	e.net.serve("pb", v2)
	waitFor(t, 60*time.Second, "pb ok first, then pa behind", func() bool {
		l := list()
		return len(l) == 2 && l[0] == e.net.URL("pb") && l[1] == e.net.URL("pa") && mirrorOf(po(), "pa").State == "behind"
	})

	// A refused revision: a copy of v2 with a package altered, its
	// metadata made again (so checksums match, and the package's own
	// digests and signature do not).
	bad := filepath.Join(t.TempDir(), "bad")
	if err := os.CopyFS(bad, os.DirFS(v2)); err != nil {
		t.Fatal(err)
	}
	damage(t, filepath.Join(bad, filepath.FromSlash(testrepo.DemoV2Packages(nil)[0].RelPath())))
	rev := time.Now().Unix() + 100
	if err := testrepo.MakeRepo(bad, testrepo.RepoOpts{NoDatabase: true, Revision: strconv.FormatInt(rev, 10)}); err != nil {
		t.Fatal(err)
	}
	e.net.serve("po-origin", bad)
	waitFor(t, 60*time.Second, "the revision to be refused", func() bool {
		return strings.Contains(po().OriginNote, fmt.Sprintf("origin revision %d refused: ", rev))
	})
	if l := list(); len(l) != 2 {
		t.Errorf("after a refused revision: po's mirrorlist %v", l)
	}
	if st := mirrorOf(po(), "pb"); st.State != "ok" {
		t.Errorf("pb: %s (%s)", st.State, st.Reason)
	}
	repo := testrepo.Repo{Name: "po", URL: "mirrorlist=" + e.base + "/mirrorlist?repo=po", GPGKeys: []string{testrepo.Testdata(t, "keys", "test.pub")}}
	if out, err := testrepo.NewDNF(t, repo.String()).Run("install", "hello-mirror"); err != nil {
		t.Errorf("dnf install through po's mirrorlist: %v\n%s", err, out)
	}
	if a := e.mirrorAlerts("pa", "pb"); len(a) > 0 {
		t.Errorf("alerts about mirrors that only fell behind: %+v", a)
	}
}

func mirrorOf(st server.RepoStatus, name string) server.MirrorStatus {
	for _, m := range st.Mirrors {
		if m.Name == name {
			return m
		}
	}
	return server.MirrorStatus{}
}

// noRedirect is an HTTP client that does not follow redirects.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
