package main

import (
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/internal/testrepo"
)

// withSnapshots turns snapshots on for the fixture's repo.
func (f *fixture) withSnapshots(t *testing.T, setting string) {
	t.Helper()
	b, err := os.ReadFile(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(b), "    mirrors:\n", "    snapshots: "+setting+"\n    mirrors:\n", 1)
	if err := os.WriteFile(f.cfg, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
}

// twoSnapshots syncs a fixture with snapshots twice, the demo's first
// revision and then its second, and returns it with the names of the two
// snapshots (latest.txt of the first mirror after each sync).
func twoSnapshots(t *testing.T) (f *fixture, first, second string) {
	t.Helper()
	f = newFixture(t, testrepo.DemoPackages(nil), 4)
	f.withSnapshots(t, "{keep: 5}")
	latest := func() string {
		return strings.TrimSpace(readFile(t, filepath.Join(f.mirrors[0], "snapshots", "latest.txt")))
	}
	mustRun(t, "sync", "-c", f.cfg)
	first = latest()
	f.newRevision(t, testrepo.DemoV2Packages(nil))
	mustRun(t, "sync", "-c", f.cfg)
	second = latest()
	if first == second {
		t.Fatalf("one snapshot %s for two revisions", first)
	}
	return f, first, second
}

// newRevision replaces what the fixture's origin serves with a new
// revision of pkgs (signed by the fixture's key), newer than the first.
func (f *fixture) newRevision(t *testing.T, pkgs []testrepo.Pkg) {
	t.Helper()
	origin := filepath.Join(f.dir, "origin")
	next := filepath.Join(f.dir, "origin-next")
	for i := range pkgs {
		pkgs[i].Sign = f.key
	}
	if _, err := testrepo.BuildDerived(next, origin, pkgs...); err != nil {
		t.Fatal(err)
	}
	rev := strconv.FormatInt(time.Now().Unix()+1000, 10)
	if err := testrepo.MakeRepo(next, testrepo.RepoOpts{SignRepomd: f.key, Revision: rev}); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(origin); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(next, origin); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// dnfNames lists the packages dnf sees in the repository at dir.
func (f *fixture) dnfNames(t *testing.T, dir string) []string {
	t.Helper()
	out, err := testrepo.DNF(t, "mirror", dir, "repoquery", "-q", "--qf", "%{name}-%{version}")
	if err != nil {
		t.Fatalf("dnf repoquery in %s: %v\n%s", dir, err, out)
	}
	l := strings.Fields(out)
	sort.Strings(l)
	return l
}

func names(pkgs []testrepo.Pkg) []string {
	var l []string
	for _, p := range pkgs {
		l = append(l, p.Name+"-"+p.Version)
	}
	sort.Strings(l)
	return l
}

// TestRollbackAndResume: two revisions synced with snapshots on; rpmirror
// rollback --to the first republishes it on both mirrors (dnf sees the
// first revision's packages, repomd.xml is the snapshot's byte for byte,
// latest.txt names it) and holds the repo: rpmirror sync skips it with a
// clear line and exit 0 while the origin serves the second, status says
// who held it. rpmirror resume lets the next sync publish the origin's
// revision again. A snapshot that fails its check is never republished
// and rpmirror verify names it; bad command lines are usage errors.
func TestRollbackAndResume(t *testing.T) {
	testrepo.RequireTools(t, "dnf")
	f, first, second := twoSnapshots(t)
	v2 := testrepo.DemoV2Packages(nil)
	originRepomd := readFile(t, filepath.Join(f.dir, "origin", "repodata", "repomd.xml"))

	out := mustRun(t, "rollback", "-c", f.cfg, "--repo", "test", "--to", first)
	if strings.Count(out, "serves snapshot "+first) != 2 || !strings.Contains(out, "held at snapshot "+first) {
		t.Errorf("rollback output:\n%s", out)
	}
	for _, m := range f.mirrors {
		snapRepomd := readFile(t, filepath.Join(m, "snapshots", first, "repodata", "repomd.xml"))
		if got := readFile(t, filepath.Join(m, "repodata", "repomd.xml")); got != snapRepomd {
			t.Errorf("%s: repomd.xml after rollback is not snapshot %s's", m, first)
		}
		if got, want := f.dnfNames(t, m), names(testrepo.DemoPackages(nil)); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: dnf sees %v after rollback, want the first revision's %v", m, got, want)
		}
		if got := readFile(t, filepath.Join(m, "snapshots", "latest.txt")); got != first+"\n" {
			t.Errorf("%s: latest.txt = %q while held, want %s", m, got, first)
		}
	}
	if out := mustRun(t, "snapshots", "-c", f.cfg); strings.Count(out, first+" (latest) (held)") != 2 {
		t.Errorf("snapshots of a held repo:\n%s", out)
	}
	if out := mustRun(t, "status", "-c", f.cfg); !strings.Contains(out, "HELD         at snapshot "+first) || !strings.Contains(out, whoAmI()) {
		t.Errorf("status of a held repo:\n%s", out)
	}

	// Held: sync changes nothing, says so, and is no failure.
	out = mustRun(t, "sync", "-c", f.cfg)
	if !strings.Contains(out, "HELD: held at snapshot "+first) || !strings.Contains(out, "rpmirror resume -c "+f.cfg+" --repo ") {
		t.Errorf("sync of a held repo:\n%s", out)
	}
	for _, m := range f.mirrors {
		if got := readFile(t, filepath.Join(m, "repodata", "repomd.xml")); got == originRepomd {
			t.Errorf("%s: a sync moved a held repo forward", m)
		}
	}
	// Both mirrors and every snapshot check out.
	if out := mustRun(t, "verify", "-c", f.cfg); strings.Count(out, "2 snapshots ok") != 2 {
		t.Errorf("verify:\n%s", out)
	}

	out = mustRun(t, "resume", "-c", f.cfg, "--repo", "test")
	if !strings.Contains(out, "resumed (it was held at snapshot "+first) {
		t.Errorf("resume output:\n%s", out)
	}
	if out := mustRun(t, "resume", "-c", f.cfg, "--repo", "test"); !strings.Contains(out, "not held") {
		t.Errorf("second resume:\n%s", out)
	}
	if out := mustRun(t, "status", "-c", f.cfg); strings.Contains(out, "HELD") {
		t.Errorf("status after resume:\n%s", out)
	}
	mustRun(t, "sync", "-c", f.cfg)
	for _, m := range f.mirrors {
		if got := readFile(t, filepath.Join(m, "repodata", "repomd.xml")); got != originRepomd {
			t.Errorf("%s: after resume and sync, repomd.xml is not the origin's", m)
		}
		if got, want := f.dnfNames(t, m), names(v2); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: dnf sees %v after resume, want %v", m, got, want)
		}
		if got := readFile(t, filepath.Join(m, "snapshots", "latest.txt")); got != second+"\n" {
			t.Errorf("%s: latest.txt = %q after resume, want %s", m, got, second)
		}
	}

	// A damaged package in snapshot first on m2: rollback refuses before
	// changing any mirror; verify names the snapshot.
	var victim string
	for _, p := range testrepo.DemoPackages(nil) {
		if p.Name == "sample-data" {
			victim = filepath.Join(f.mirrors[1], "snapshots", first, filepath.FromSlash(p.RelPath()))
		}
	}
	b := []byte(readFile(t, victim))
	b[len(b)-10] ^= 0xff
	if err := os.Remove(victim); err != nil { // it is a hard link: write a new file
		t.Fatal(err)
	}
	if err := os.WriteFile(victim, b, 0o644); err != nil {
		t.Fatal(err)
	}
	before := readFile(t, filepath.Join(f.mirrors[0], "repodata", "repomd.xml"))
	code, out, errOut := rpmirror(t, "rollback", "-c", f.cfg, "--repo", "test", "--to", first)
	if code != exitFailed || !strings.Contains(errOut, "mirror m2: snapshot "+first+" is broken") {
		t.Errorf("rollback to a broken snapshot: exit %d\n%s%s", code, out, errOut)
	}
	if got := readFile(t, filepath.Join(f.mirrors[0], "repodata", "repomd.xml")); got != before {
		t.Error("a refused rollback changed m1")
	}
	if out := mustRun(t, "status", "-c", f.cfg); strings.Contains(out, "HELD") {
		t.Errorf("a refused rollback held the repo:\n%s", out)
	}
	code, out, _ = rpmirror(t, "verify", "-c", f.cfg)
	if code != exitFailed || !strings.Contains(out, "test/m2: snapshot "+first+": "+filepath.ToSlash(strings.TrimPrefix(victim, filepath.Join(f.mirrors[1], "snapshots", first)+"/"))) ||
		!strings.Contains(out, "test/m2: 1 snapshot ok, 1 broken: "+first) {
		t.Errorf("verify with a broken snapshot: exit %d\n%s", code, out)
	}
	// Repaired as the docs say, by removing its directory: verify --repair
	// removes it from the index.json clients read (which named it until
	// the next sync, a tester found), and verify passes.
	if err := os.RemoveAll(filepath.Join(f.mirrors[1], "snapshots", first)); err != nil {
		t.Fatal(err)
	}
	if out := mustRun(t, "verify", "-c", f.cfg, "--repair"); !strings.Contains(out, "test/m2: removed snapshot "+first+" from snapshots/index.json (its directory is gone)") {
		t.Errorf("verify --repair after the broken snapshot's removal:\n%s", out)
	}
	if idx := readFile(t, filepath.Join(f.mirrors[1], "snapshots", "index.json")); strings.Contains(idx, `"`+first+`"`) {
		t.Errorf("index.json still names the removed snapshot %s:\n%s", first, idx)
	}
	if out := mustRun(t, "verify", "-c", f.cfg); !strings.Contains(out, "test/m2: 1 snapshot ok") {
		t.Errorf("verify after the broken snapshot's removal:\n%s", out)
	}

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"rollback", "-c", f.cfg, "--repo", "test"}, exitUsage, "--to SNAPSHOT is required"},
		{[]string{"rollback", "-c", f.cfg, "--to", first}, exitUsage, "--repo NAME is required"},
		{[]string{"rollback", "-c", f.cfg, "--repo", "test", "--to", "yesterday"}, exitUsage, `"yesterday" is not a snapshot name`},
		{[]string{"rollback", "-c", f.cfg, "--repo", "nope", "--to", first}, exitUsage, `no repo "nope"`},
		{[]string{"rollback", "-c", f.cfg, "--repo", "test", "--to", "20000101T000000Z"}, exitFailed, "no mirror of test has a snapshot 20000101T000000Z"},
		{[]string{"resume", "-c", f.cfg}, exitUsage, "--repo NAME is required"},
	} {
		code, _, errOut := rpmirror(t, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("rpmirror %s: exit %d, stderr %q; want exit %d and %q", strings.Join(tc.args, " "), code, errOut, tc.code, tc.want)
		}
	}
}

// TestRollbackHalfwayNamesTheHeldSnapshot: a rollback that brings one
// mirror to the snapshot and fails on the other (here its repodata is a
// symlink, which rpmirror never writes through) has already made every
// mirror's latest.txt and index.json name the held snapshot, so CI jobs
// that follow the latest snapshot get it, not the revision rolled back
// from (a tester killed a rollback halfway: both still named the newer
// one). status says what each mirror serves. Running the rollback again
// once the symlink is gone completes it.
func TestRollbackHalfwayNamesTheHeldSnapshot(t *testing.T) {
	f, first, _ := twoSnapshots(t)
	m2 := f.mirrors[1]
	if err := os.Rename(filepath.Join(m2, "repodata"), filepath.Join(m2, "repodata.real")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("repodata.real", filepath.Join(m2, "repodata")); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := rpmirror(t, "rollback", "-c", f.cfg, "--repo", "test", "--to", first)
	if code == 0 || !strings.Contains(out+errOut, "mirror m2") {
		t.Fatalf("rollback with m2's repodata a symlink: exit %d\n%s%s", code, out, errOut)
	}
	for _, m := range f.mirrors {
		if got := readFile(t, filepath.Join(m, "snapshots", "latest.txt")); got != first+"\n" {
			t.Errorf("%s: latest.txt = %q after a rollback to %s failed halfway, want the held snapshot", m, got, first)
		}
		if got := readFile(t, filepath.Join(m, "snapshots", "index.json")); !strings.Contains(got, `"held": "`+first+`"`) {
			t.Errorf("%s: index.json does not say the repo is held at %s:\n%s", m, first, got)
		}
	}
	if readFile(t, filepath.Join(f.mirrors[0], "repodata", "repomd.xml")) != readFile(t, filepath.Join(f.mirrors[0], "snapshots", first, "repodata", "repomd.xml")) {
		t.Error("m1 was not brought to the snapshot")
	}
	if err := os.Remove(filepath.Join(m2, "repodata")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(m2, "repodata.real"), filepath.Join(m2, "repodata")); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "rollback", "-c", f.cfg, "--repo", "test", "--to", first)
	if readFile(t, filepath.Join(m2, "repodata", "repomd.xml")) != readFile(t, filepath.Join(m2, "snapshots", first, "repodata", "repomd.xml")) {
		t.Error("the rollback run again did not bring m2 to the snapshot")
	}
	if code, out, _ := rpmirror(t, "verify", "-c", f.cfg); code != 0 {
		t.Errorf("verify after the rollback completed: exit %d\n%s", code, out)
	}
}

// TestResumeFailingHalfwayLeavesNoMirrorAhead: a resume that lifts the
// hold and then fails on one mirror (its latest.txt cannot be replaced:
// a directory is in the way) leaves the repo not held: never a mirror
// naming the newest snapshot while the repo is still held (a tester's
// resume, killed between the two mirrors, left that, and CI jobs
// following latest.txt got the revision rolled back from). The next sync
// writes every mirror's latest.txt.
func TestResumeFailingHalfwayLeavesNoMirrorAhead(t *testing.T) {
	f, first, second := twoSnapshots(t)
	mustRun(t, "rollback", "-c", f.cfg, "--repo", "test", "--to", first)

	// m1, released first, fails; m2 is released after it.
	inTheWay := filepath.Join(f.mirrors[0], "snapshots", "latest.txt")
	if err := os.Remove(inTheWay); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(inTheWay, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := rpmirror(t, "resume", "-c", f.cfg, "--repo", "test")
	if code == 0 || !strings.Contains(out+errOut, "mirror m1") {
		t.Fatalf("resume with m1's latest.txt a directory: exit %d\n%s%s", code, out, errOut)
	}
	if strings.Contains(mustRun(t, "status", "-c", f.cfg), "HELD") {
		if latest := strings.TrimSpace(readFile(t, filepath.Join(f.mirrors[1], "snapshots", "latest.txt"))); latest != first {
			t.Errorf("m2's latest.txt names %s while the repo is still held at %s", latest, first)
		}
	}
	if err := os.RemoveAll(inTheWay); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "resume", "-c", f.cfg, "--repo", "test") // not held: says so
	mustRun(t, "sync", "-c", f.cfg)
	for _, m := range f.mirrors {
		if latest := strings.TrimSpace(readFile(t, filepath.Join(m, "snapshots", "latest.txt"))); latest != second {
			t.Errorf("%s: latest.txt names %s after the sync, want the newest, %s", m, latest, second)
		}
	}
}

// TestDryRunAfterResumeSaysNoSnapshot: after rpmirror rollback to the
// older of two snapshots and rpmirror resume, the dry run says each
// mirror would publish the origin's revision and, like the sync that
// follows, takes no snapshot: that revision's snapshot, taken when it was
// first published, is the newest already (an operator tester's dry run
// said "and snapshot the revision", and the sync made none). The
// snapshots directories hold the same two snapshots afterwards.
func TestDryRunAfterResumeSaysNoSnapshot(t *testing.T) {
	f, first, second := twoSnapshots(t)
	mustRun(t, "rollback", "-c", f.cfg, "--repo", "test", "--to", first)
	mustRun(t, "resume", "-c", f.cfg, "--repo", "test")
	snapshots := func(m string) []string {
		t.Helper()
		entries, err := os.ReadDir(filepath.Join(m, "snapshots"))
		if err != nil {
			t.Fatal(err)
		}
		var l []string
		for _, e := range entries {
			if e.IsDir() {
				l = append(l, e.Name())
			}
		}
		return l
	}
	out := mustRun(t, "sync", "-c", f.cfg, "--dry-run")
	if strings.Count(out, "would publish") != 2 || strings.Contains(out, "snapshot the revision") {
		t.Errorf("sync --dry-run after rollback and resume: want two mirrors publishing and no snapshot\n%s", out)
	}
	mustRun(t, "sync", "-c", f.cfg)
	for _, m := range f.mirrors {
		if got, want := snapshots(m), []string{first, second}; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: snapshots after the sync: %v, want %v (what the dry run said)", m, got, want)
		}
		if got := strings.TrimSpace(readFile(t, filepath.Join(m, "snapshots", "latest.txt"))); got != second {
			t.Errorf("%s: latest.txt names %s after the sync, want %s", m, got, second)
		}
	}
}
