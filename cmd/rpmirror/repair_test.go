package main

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/rpmirror/rpmirror/internal/testrepo"
)

func inode(t *testing.T, p string) uint64 {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// TestVerifyRepair: following docs/operations.md after damage to a
// mirror. A package damaged in place (both mirrors share it through a
// hard link, so both are damaged), a package deleted from one mirror,
// primary metadata damaged in place and another metadata file deleted:
// a sync says the mirrors are current and repairs nothing, verify names
// every problem, and verify --repair fetches each file again from the
// origin, verified, puts it in place as a new file (never rewriting the
// damaged one where readers have it open), says what it replaced, and
// leaves mirrors that verify passes and dnf reads.
func TestVerifyRepair(t *testing.T) {
	pkgs := testrepo.DemoPackages(nil)
	f := newFixture(t, pkgs, 4)
	if code, out, errOut := rpmirror(t, "sync", "-c", f.cfg); code != 0 {
		t.Fatalf("sync: exit %d\n%s%s", code, out, errOut)
	}
	m1, m2 := f.mirrors[0], f.mirrors[1]
	damagedPkg := filepath.FromSlash(pkgs[1].RelPath())
	deletedPkg := filepath.FromSlash(pkgs[3].RelPath())
	if inode(t, filepath.Join(m1, damagedPkg)) != inode(t, filepath.Join(m2, damagedPkg)) {
		t.Fatal("the two mirrors do not share package files through hard links")
	}
	md, _ := os.ReadFile(filepath.Join(m1, "repodata", "repomd.xml"))
	primary := string(regexp.MustCompile(`(?s)<data type="primary">.*?<location href="([^"]+)"`).FindSubmatch(md)[1])
	other := string(regexp.MustCompile(`(?s)<data type="other">.*?<location href="([^"]+)"`).FindSubmatch(md)[1])

	// Damage in place: the shared inode changes under both mirrors.
	flip := func(p string) {
		fh, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		b := make([]byte, 1)
		fh.ReadAt(b, 100)
		b[0] ^= 0xff
		fh.WriteAt(b, 100)
	}
	flip(filepath.Join(m1, damagedPkg))
	flip(filepath.Join(m2, filepath.FromSlash(primary)))
	os.Remove(filepath.Join(m2, deletedPkg))
	os.Remove(filepath.Join(m1, filepath.FromSlash(other)))
	oldIno := inode(t, filepath.Join(m1, damagedPkg))

	if code, out, _ := rpmirror(t, "sync", "-c", f.cfg); code != 0 || !strings.Contains(out, "no change") {
		t.Errorf("sync after the damage: exit %d\n%s", code, out)
	}
	code, out, _ := rpmirror(t, "verify", "-c", f.cfg)
	if code != 1 {
		t.Fatalf("verify after the damage: exit %d\n%s", code, out)
	}
	// The primary metadata is shared too: verify cannot list the packages
	// of either mirror until it is repaired.
	for _, want := range []string{
		"test/m1: " + primary + ": sha256 checksum mismatch",
		"test/m2: " + primary + ": sha256 checksum mismatch",
		"test/m1: " + other + ": missing",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("verify does not say %q:\n%s", want, out)
		}
	}

	code, out, errOut := rpmirror(t, "verify", "-c", f.cfg, "--repair")
	if code != 0 {
		t.Fatalf("verify --repair: exit %d\n%s%s", code, out, errOut)
	}
	t.Logf("verify --repair:\n%s", out)
	for _, want := range []string{
		"test/m1: replaced " + pkgs[1].RelPath() + " (it was: sha256 checksum mismatch",
		"test/m2: replaced " + pkgs[1].RelPath() + " (it was: sha256 checksum mismatch",
		"test/m1: replaced " + other + " (it was: missing)",
		"test/m1: replaced " + primary + " (it was: sha256 checksum mismatch",
		"test/m2: replaced " + primary + " (it was: sha256 checksum mismatch",
		"test/m2: replaced " + pkgs[3].RelPath() + " (it was: missing)",
		": ok\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("verify --repair does not say %q", want)
		}
	}
	if strings.Count(out, ": ok\n") != 2 {
		t.Errorf("verify --repair does not say ok for both mirrors")
	}
	if inode(t, filepath.Join(m1, damagedPkg)) == oldIno {
		t.Error("the damaged package was rewritten in place, not replaced by a new file")
	}
	if code, out, _ := rpmirror(t, "verify", "-c", f.cfg); code != 0 || strings.Count(out, "6 packages, signatures checked: ok") != 2 {
		t.Errorf("verify after the repair: exit %d\n%s", code, out)
	}
	f.checkConsistent(t, "after the repair")
	if len(testrepo.MissingTools("dnf")) == 0 {
		for _, m := range f.mirrors {
			if out, err := testrepo.DNF(t, "m", m, "repoquery", "-q"); err != nil || !strings.Contains(out, pkgs[1].Name) {
				t.Errorf("dnf on %s after the repair: %v\n%s", m, err, out)
			}
		}
	}
}

// TestVerifyEmptiedMirror: a mirror rpmirror published and someone then
// emptied by hand. verify and verify --repair said "the mirror has never
// been published", which sent the operator looking for a configuration
// mistake; they now say which revision rpmirror published there, when,
// and what puts it back, and only a mirror with no such record is said
// never to have been published. rpmirror sync then publishes it again.
func TestVerifyEmptiedMirror(t *testing.T) {
	pkgs := testrepo.DemoPackages(nil)
	f := newFixture(t, pkgs, 4)
	m2 := f.mirrors[1]
	code, out, _ := rpmirror(t, "verify", "-c", f.cfg)
	if code != 1 || strings.Count(out, "the mirror has never been published") != 2 {
		t.Errorf("verify before the first sync: exit %d\n%s", code, out)
	}
	if code, out, errOut := rpmirror(t, "sync", "-c", f.cfg); code != 0 {
		t.Fatalf("sync: exit %d\n%s%s", code, out, errOut)
	}
	md, err := os.ReadFile(filepath.Join(m2, "repodata", "repomd.xml"))
	if err != nil {
		t.Fatal(err)
	}
	revision := string(regexp.MustCompile(`<revision>([^<]+)</revision>`).FindSubmatch(md)[1])
	for _, d := range []string{"repodata", "Packages"} {
		if err := os.RemoveAll(filepath.Join(m2, d)); err != nil {
			t.Fatal(err)
		}
	}
	want := "test/m2: " + m2 + ": no repodata/repomd.xml, though rpmirror published revision " + revision + " there at "
	for _, args := range [][]string{{"verify"}, {"verify", "--repair"}} {
		code, out, errOut := rpmirror(t, append(args, "-c", f.cfg)...)
		if code != 1 || !strings.Contains(out, want) || !strings.Contains(out, "(rpmirror sync publishes the current revision again)") {
			t.Errorf("%s on the emptied mirror: exit %d; want a line starting %q\n%s%s", strings.Join(args, " "), code, want, out, errOut)
		}
		if strings.Contains(out, "never been published") {
			t.Errorf("%s says a mirror rpmirror published was never published:\n%s", strings.Join(args, " "), out)
		}
		if !strings.Contains(out, "test/m1: revision "+revision) {
			t.Errorf("%s does not check the other mirror:\n%s", strings.Join(args, " "), out)
		}
	}
	if code, out, errOut := rpmirror(t, "sync", "-c", f.cfg); code != 0 {
		t.Fatalf("sync after the mirror was emptied: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, _ := rpmirror(t, "verify", "-c", f.cfg); code != 0 || strings.Count(out, "6 packages, signatures checked: ok") != 2 {
		t.Errorf("verify after the sync: exit %d\n%s", code, out)
	}
	f.checkConsistent(t, "after the sync")
}

// TestVerifyUnverifiedRepomd: a mirror whose repomd.xml was changed by
// hand checks out against itself (its metadata and packages are whole),
// but rpmirror never verified it, and dnf with repo_gpgcheck refuses it
// (its .asc no longer matches): verify and verify --repair said "ok"
// while the probes called it stale (an operator tester's). They name it;
// rpmirror sync publishes the verified revision again.
func TestVerifyUnverifiedRepomd(t *testing.T) {
	pkgs := testrepo.DemoPackages(nil)
	f := newFixture(t, pkgs, 4)
	if code, out, errOut := rpmirror(t, "sync", "-c", f.cfg); code != 0 {
		t.Fatalf("sync: exit %d\n%s%s", code, out, errOut)
	}
	m2 := f.mirrors[1]
	p := filepath.Join(m2, "repodata", "repomd.xml")
	md, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	changed := regexp.MustCompile(`<revision>`).ReplaceAll(md, []byte("<revision>9"))
	// A new file in its place: the mirrors share repomd.xml's inode.
	if err := os.WriteFile(p+".new", changed, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(p+".new", p); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"verify"}, {"verify", "--repair"}} {
		code, out, _ := rpmirror(t, append(args, "-c", f.cfg)...)
		if code != 1 || !strings.Contains(out, "test/m2: repodata/repomd.xml: serves a repomd.xml (revision 9") || !strings.Contains(out, "that rpmirror has not verified") {
			t.Errorf("%s on a mirror serving a repomd.xml changed by hand: exit %d\n%s", strings.Join(args, " "), code, out)
		}
		if strings.Contains(out, "test/m1: repodata/repomd.xml") {
			t.Errorf("%s names the other mirror's repomd.xml:\n%s", strings.Join(args, " "), out)
		}
	}
	if code, out, errOut := rpmirror(t, "sync", "-c", f.cfg); code != 0 {
		t.Fatalf("sync after the change: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, _ := rpmirror(t, "verify", "-c", f.cfg); code != 0 {
		t.Errorf("verify after the sync: exit %d\n%s", code, out)
	}
	f.checkConsistent(t, "after the sync")
}

// TestVerifyRepairFiltered: verify --repair on a filtered mirror with
// sign_with writes a deleted primary and a deleted signature again (the
// origin has neither: rpmirror wrote them), and verify then passes.
func TestVerifyRepairFiltered(t *testing.T) {
	pkgs := testrepo.DemoPackages(nil)
	f := newFixture(t, pkgs, 4)
	_, signWith := testrepo.NewSigningKey(t, f.dir)
	cfg, err := os.ReadFile(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	filtered := strings.Replace(string(cfg), "    prune_after: 0s\n",
		"    prune_after: 0s\n    filter:\n      exclude: [sample-data]\n    sign_with: "+signWith+"\n", 1)
	if err := os.WriteFile(f.cfg, []byte(filtered), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := rpmirror(t, "sync", "-c", f.cfg); code != 0 {
		t.Fatalf("sync: exit %d\n%s%s", code, out, errOut)
	}
	m1 := f.mirrors[0]
	md, _ := os.ReadFile(filepath.Join(m1, "repodata", "repomd.xml"))
	primary := string(regexp.MustCompile(`(?s)<data type="primary">.*?<location href="([^"]+)"`).FindSubmatch(md)[1])
	before, err := os.ReadFile(filepath.Join(m1, filepath.FromSlash(primary)))
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(m1, filepath.FromSlash(primary)))
	os.Remove(filepath.Join(m1, "repodata", "repomd.xml.asc"))
	if code, out, _ := rpmirror(t, "verify", "-c", f.cfg); code != 1 || !strings.Contains(out, "test/m1: "+primary+": missing") {
		t.Fatalf("verify after the damage: exit %d\n%s", code, out)
	}
	code, out, errOut := rpmirror(t, "verify", "-c", f.cfg, "--repair")
	if code != 0 {
		t.Fatalf("verify --repair: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"test/m1: replaced " + primary + " (it was: missing)",
		"test/m1: replaced repodata/repomd.xml.asc (it was: ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("verify --repair does not say %q:\n%s", want, out)
		}
	}
	if after, err := os.ReadFile(filepath.Join(m1, filepath.FromSlash(primary))); err != nil || !bytes.Equal(after, before) {
		t.Errorf("the repaired primary is not the one published (%v)", err)
	}
	if code, out, _ := rpmirror(t, "verify", "-c", f.cfg); code != 0 || strings.Count(out, "5 packages, signatures checked, repomd.xml signature checked: ok") != 2 {
		t.Errorf("verify after the repair: exit %d\n%s", code, out)
	}
}

// TestVerifyRepairUnreadable: files whose content is right but that a web
// server running as another user cannot read (0600, as versions before
// the local target made every stored file 0644 left some) are named by
// verify, and verify --repair makes them 0644 through the file itself,
// replacing nothing (the inode stays), after which verify passes. A
// group-readable file (0640) is left alone.
func TestVerifyRepairUnreadable(t *testing.T) {
	pkgs := testrepo.DemoPackages(nil)
	f := newFixture(t, pkgs, 4)
	if code, out, errOut := rpmirror(t, "sync", "-c", f.cfg); code != 0 {
		t.Fatalf("sync: exit %d\n%s%s", code, out, errOut)
	}
	m1 := f.mirrors[0]
	pkg := filepath.Join(m1, filepath.FromSlash(pkgs[2].RelPath()))
	repomd := filepath.Join(m1, "repodata", "repomd.xml")
	// The signature is served though this repo does not check it
	// (no repo_gpgcheck): dnf with repo_gpgcheck asks for it.
	asc := filepath.Join(m1, "repodata", "repomd.xml.asc")
	group := filepath.Join(m1, filepath.FromSlash(pkgs[4].RelPath()))
	for p, mode := range map[string]os.FileMode{pkg: 0o600, repomd: 0o600, asc: 0o600, group: 0o640} {
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	ino := inode(t, pkg)
	code, out, _ := rpmirror(t, "verify", "-c", f.cfg)
	if code != 1 {
		t.Fatalf("verify of unreadable files: exit %d\n%s", code, out)
	}
	for _, want := range []string{
		"test/m1: " + pkgs[2].RelPath() + ": mode 0600: neither its group nor others may read it",
		"test/m1: repodata/repomd.xml: mode 0600: neither its group nor others may read it",
		"test/m1: repodata/repomd.xml.asc: mode 0600: neither its group nor others may read it",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("verify does not say %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, pkgs[4].RelPath()) {
		t.Errorf("verify names the group-readable %s:\n%s", pkgs[4].RelPath(), out)
	}
	code, out, errOut := rpmirror(t, "verify", "-c", f.cfg, "--repair")
	if code != 0 {
		t.Fatalf("verify --repair: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"test/m1: made " + pkgs[2].RelPath() + " readable (it was: mode 0600)\n",
		"test/m1: made repodata/repomd.xml readable (it was: mode 0600)\n",
		"test/m1: made repodata/repomd.xml.asc readable (it was: mode 0600)\n",
		"test/m1: revision ", ": 0 files replaced, 3 made readable: ok\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("verify --repair does not say %q:\n%s", want, out)
		}
	}
	for p, want := range map[string]os.FileMode{pkg: 0o644, repomd: 0o644, asc: 0o644, group: 0o640} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s after the repair: %v, %v; want mode %04o", p, fi.Mode(), err, want)
		}
	}
	if inode(t, pkg) != ino {
		t.Error("the unreadable package was replaced, not made readable")
	}
	if code, out, _ := rpmirror(t, "verify", "-c", f.cfg); code != 0 {
		t.Errorf("verify after the repair: exit %d\n%s", code, out)
	}
}

// TestVerifyRepairUnreadableSnapshot: a snapshot is served as the mirror
// is, so rpmirror verify names a file of a snapshot, or the index.json
// and latest.txt that list them, that the web server cannot read, a
// rollback refuses such a snapshot, and verify --repair makes them
// readable without touching their content.
func TestVerifyRepairUnreadableSnapshot(t *testing.T) {
	f := newFixture(t, testrepo.DemoPackages(nil), 4)
	f.withSnapshots(t, "{keep: 5}")
	if code, out, errOut := rpmirror(t, "sync", "-c", f.cfg); code != 0 {
		t.Fatalf("sync: exit %d\n%s%s", code, out, errOut)
	}
	m1 := f.mirrors[0]
	first := strings.TrimSpace(readFile(t, filepath.Join(m1, "snapshots", "latest.txt")))
	f.newRevision(t, testrepo.DemoV2Packages(nil))
	if code, out, errOut := rpmirror(t, "sync", "-c", f.cfg); code != 0 {
		t.Fatalf("second sync: exit %d\n%s%s", code, out, errOut)
	}
	// The first snapshot's repomd.xml is its own: the mirror serves the
	// second revision's.
	snapRepomd := filepath.Join(m1, "snapshots", first, "repodata", "repomd.xml")
	index := filepath.Join(m1, "snapshots", "index.json")
	latest := filepath.Join(m1, "snapshots", "latest.txt")
	for _, p := range []string{snapRepomd, index, latest} {
		if err := os.Chmod(p, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ino := inode(t, snapRepomd)
	code, out, _ := rpmirror(t, "verify", "-c", f.cfg)
	if strings.Contains(out, "test/m2: snapshots/") {
		t.Errorf("verify names m2's index.json or latest.txt, which are readable:\n%s", out)
	}
	if code != exitFailed {
		t.Fatalf("verify of a snapshot's unreadable files: exit %d\n%s", code, out)
	}
	for _, want := range []string{
		"test/m1: snapshot " + first + ": repodata/repomd.xml: mode 0600: neither its group nor others may read it",
		"test/m1: snapshots/index.json: mode 0600",
		"test/m1: snapshots/latest.txt: mode 0600",
		// Only unreadable, not broken: removing it would lose it.
		"test/m1: 1 snapshot ok, 1 with files the web server cannot read (rpmirror verify --repair makes them readable): " + first,
		// Mirrors on one filesystem share their snapshots' files
		// through hard links; index.json and latest.txt are each
		// mirror's own.
		"test/m2: snapshot " + first + ": repodata/repomd.xml: mode 0600",
		"test/m2: 1 snapshot ok, 1 with files the web server cannot read (rpmirror verify --repair makes them readable): " + first,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("verify does not say %q:\n%s", want, out)
		}
	}
	code, out, errOut := rpmirror(t, "rollback", "-c", f.cfg, "--repo", "test", "--to", first)
	if code != exitFailed || !strings.Contains(errOut, "mirror m1: snapshot "+first+" is broken") || !strings.Contains(errOut, "mode 0600") {
		t.Errorf("rollback to a snapshot the web server cannot read: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = rpmirror(t, "verify", "-c", f.cfg, "--repair")
	if code != 0 {
		t.Fatalf("verify --repair: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"test/m1: made snapshots/" + first + "/repodata/repomd.xml readable (it was: mode 0600)\n",
		"test/m1: made snapshots/index.json readable (it was: mode 0600)\n",
		"test/m1: made snapshots/latest.txt readable (it was: mode 0600)\n",
		"test/m1: revision ", ": 0 files replaced, 3 made readable: ok\n",
		"test/m2: revision ", ": 0 files replaced: ok\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("verify --repair does not say %q:\n%s", want, out)
		}
	}
	for _, p := range []string{snapRepomd, index, latest} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o644 {
			t.Errorf("%s after the repair: %v, %v; want mode 0644", p, fi.Mode(), err)
		}
	}
	if inode(t, snapRepomd) != ino {
		t.Error("the snapshot's repomd.xml was replaced, not made readable")
	}
	if code, out, _ := rpmirror(t, "verify", "-c", f.cfg); code != 0 {
		t.Errorf("verify after the repair: exit %d\n%s", code, out)
	}

	// A broken snapshot (a file of it gone) is no repair's to mend: the
	// repair names it and how to repair it, and does not say ok.
	if err := os.Remove(snapRepomd); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = rpmirror(t, "verify", "-c", f.cfg, "--repair")
	wantLine := "test/m1: snapshot " + first + " is still broken (repodata/repomd.xml: "
	if code != exitFailed || !strings.Contains(out, wantLine) || !strings.Contains(out, "remove snapshots/"+first+" to repair it") {
		t.Errorf("verify --repair with a broken snapshot: exit %d, want %d naming it\n%s%s", code, exitFailed, out, errOut)
	}
}

// TestVerifyRepairSignature: a mirror serving a revision rpmirror
// verified with a repomd.xml.asc must serve that signature, as the
// probes check (dnf with repo_gpgcheck refuses the mirror without it),
// though the repo does not set repo_gpgcheck; and the repomd.xml.key
// served beside it, which dnf with gpgkey=<mirror>/repodata/repomd.xml.key
// imports (a tester's mirror lost it, and verify said ok). verify names
// one missing and one that is another, and verify --repair puts back,
// from the state_dir, the one rpmirror verified, with no download;
// verify then passes.
func TestVerifyRepairSignature(t *testing.T) {
	for _, tc := range []struct {
		file, other string
	}{
		{"repomd.xml.asc", "not the signature rpmirror verified this repomd.xml with"},
		{"repomd.xml.key", "not the key rpmirror verified this repomd.xml with"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			pkgs := testrepo.DemoPackages(nil)
			f := newFixture(t, pkgs, 4)
			if code, out, errOut := rpmirror(t, "sync", "-c", f.cfg); code != 0 {
				t.Fatalf("sync: exit %d\n%s%s", code, out, errOut)
			}
			want, err := os.ReadFile(filepath.Join(f.dir, "origin", "repodata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			p1 := filepath.Join(f.mirrors[0], "repodata", tc.file)
			p2 := filepath.Join(f.mirrors[1], "repodata", tc.file)
			if err := os.Remove(p1); err != nil {
				t.Fatal(err)
			}
			// Other valid-looking content: the same armored block with a
			// line more.
			other := bytes.Replace(want, []byte("\n"), []byte("\n\n"), 1)
			if err := os.Remove(p2); err != nil { // shared with m1 through a hard link, maybe
				t.Fatal(err)
			}
			if err := os.WriteFile(p2, other, 0o644); err != nil {
				t.Fatal(err)
			}
			code, out, _ := rpmirror(t, "verify", "-c", f.cfg)
			if code != 1 {
				t.Fatalf("verify with the file missing and replaced: exit %d\n%s", code, out)
			}
			for _, w := range []string{
				"test/m1: repodata/" + tc.file + ": missing: rpmirror verified repodata/repomd.xml with one",
				"test/m2: repodata/" + tc.file + ": " + tc.other,
			} {
				if !strings.Contains(out, w) {
					t.Errorf("verify does not say %q:\n%s", w, out)
				}
			}
			gets := f.packageGets()
			code, out, errOut := rpmirror(t, "verify", "-c", f.cfg, "--repair")
			if code != 0 {
				t.Fatalf("verify --repair: exit %d\n%s%s", code, out, errOut)
			}
			for _, w := range []string{"test/m1: replaced repodata/" + tc.file, "test/m2: replaced repodata/" + tc.file} {
				if !strings.Contains(out, w) {
					t.Errorf("verify --repair does not say %q:\n%s", w, out)
				}
			}
			for _, p := range []string{p1, p2} {
				if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, want) {
					t.Errorf("%s after the repair: %v; want the origin's", p, err)
				}
			}
			if n := f.packageGets(); n != gets {
				t.Errorf("the repair downloaded %d packages; the file comes from the state_dir", n-gets)
			}
			if code, out, _ := rpmirror(t, "verify", "-c", f.cfg); code != 0 {
				t.Errorf("verify after the repair: exit %d\n%s", code, out)
			}
		})
	}
}

// TestVerifyRepairSnapshotFiles: snapshots hard-link the mirror's
// packages, so a package damaged on disk is damaged in the mirror and in
// every snapshot holding it, pinned ones too. verify names each; verify
// --repair puts the verified file back in the mirror and in each
// snapshot (a tester's repair mended the mirror alone and called every
// snapshot broken, removing them the only way out), downloads it once,
// and links one new file into all of them; verify then passes and the
// pin stays.
func TestVerifyRepairSnapshotFiles(t *testing.T) {
	f, first, second := twoSnapshots(t)
	m1 := f.mirrors[0]
	mustRun(t, "snapshot", "pin", "-c", f.cfg, "--repo", "test", first)
	// A package of both revisions: in the mirror and both snapshots.
	rel := sharedPackage(t, m1, first, second)
	paths := []string{filepath.Join(m1, rel), filepath.Join(m1, "snapshots", first, rel), filepath.Join(m1, "snapshots", second, rel)}
	if inode(t, paths[0]) != inode(t, paths[1]) || inode(t, paths[0]) != inode(t, paths[2]) {
		t.Fatal("the snapshots do not share the mirror's package: the test does not test")
	}
	good := readFile(t, paths[0])
	// Damaged in place, as a failing disk does: every link sees it.
	fh, err := os.OpenFile(paths[0], os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fh.WriteAt([]byte("damaged"), 200); err != nil {
		t.Fatal(err)
	}
	fh.Close()

	code, out, _ := rpmirror(t, "verify", "-c", f.cfg)
	if code != exitFailed {
		t.Fatalf("verify of a damaged package: exit %d\n%s", code, out)
	}
	for _, s := range []string{first, second} {
		if want := "test/m1: snapshot " + s + ": " + filepath.ToSlash(rel) + ": "; !strings.Contains(out, want) {
			t.Errorf("verify does not name the package in snapshot %s (%q):\n%s", s, want, out)
		}
	}
	gets := f.packageGets()
	code, out, errOut := rpmirror(t, "verify", "-c", f.cfg, "--repair")
	if code != 0 {
		t.Fatalf("verify --repair: exit %d\n%s%s", code, out, errOut)
	}
	for _, s := range []string{first, second} {
		if want := "snapshots/" + s + "/" + filepath.ToSlash(rel); !strings.Contains(out, want) {
			t.Errorf("verify --repair does not say it repaired %s:\n%s", want, out)
		}
	}
	if n := f.packageGets() - gets; n != 1 {
		t.Errorf("the repair downloaded the package %d times, want once", n)
	}
	for _, p := range paths {
		if readFile(t, p) != good {
			t.Errorf("%s after the repair is not the package verified", p)
		}
	}
	if inode(t, paths[1]) != inode(t, paths[0]) || inode(t, paths[2]) != inode(t, paths[0]) {
		t.Error("the snapshots each got a copy of the repaired package, not a link to one file")
	}
	if code, out, _ := rpmirror(t, "verify", "-c", f.cfg); code != 0 {
		t.Errorf("verify after the repair: exit %d\n%s", code, out)
	}
	if _, out, _ := rpmirror(t, "snapshots", "-c", f.cfg); !strings.Contains(out, "yes (command)") {
		t.Errorf("the pin is gone after the repair:\n%s", out)
	}
	// What no repair puts back (the snapshot's own repomd.xml): removing
	// the snapshot is the way out, and for a pinned one the hint says
	// what that loses.
	if err := os.Remove(filepath.Join(m1, "snapshots", first, "repodata", "repomd.xml")); err != nil {
		t.Fatal(err)
	}
	_, out, _ = rpmirror(t, "verify", "-c", f.cfg, "--repair")
	if !strings.Contains(out, "snapshot "+first+" is still broken") || !strings.Contains(out, "it is pinned") {
		t.Errorf("verify --repair of a pinned snapshot it cannot mend does not say it is pinned:\n%s", out)
	}
}

// TestVerifyRepairFromAnotherMirror: with the origin answering 403 (the
// incident), verify --repair mends a package damaged in one mirror from
// the copy another mirror on this machine holds, checked as a download
// is, and a snapshot's damaged copy from the mirror's own tree: one file
// again, linked, with no request to the origin (a tester's repair failed
// on the 403 while intact copies were on disk).
func TestVerifyRepairFromAnotherMirror(t *testing.T) {
	f, first, _ := twoSnapshots(t)
	m1, m2 := f.mirrors[0], f.mirrors[1]
	rel := sharedPackage(t, m1, first)
	// Damaged copies in place of the files (new inodes): m2's and the
	// tree's stay intact.
	damage := func(p string) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		copy(b[200:], "damaged")
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tree, snap := filepath.Join(m1, rel), filepath.Join(m1, "snapshots", first, rel)
	damage(snap)
	damage(tree)
	f.mu.Lock()
	f.status = http.StatusForbidden
	f.mu.Unlock()
	gets := f.packageGets()
	code, out, errOut := rpmirror(t, "verify", "-c", f.cfg, "--repair")
	if code != 0 {
		t.Fatalf("verify --repair with the origin down: exit %d\n%s%s", code, out, errOut)
	}
	if n := f.packageGets() - gets; n != 0 {
		t.Errorf("the repair downloaded %d packages", n)
	}
	if inode(t, tree) != inode(t, filepath.Join(m2, rel)) {
		t.Error("m1's package is not m2's file after the repair")
	}
	if inode(t, snap) != inode(t, tree) {
		t.Error("the snapshot's package is not the tree's file after the repair")
	}
	if code, out, _ := rpmirror(t, "verify", "-c", f.cfg); code != 0 {
		t.Errorf("verify after the repair: exit %d\n%s", code, out)
	}
}

// sharedPackage returns the path of a package that mirror m serves and
// each of snaps holds, relative to the mirror.
func sharedPackage(t *testing.T, m string, snaps ...string) string {
	t.Helper()
	var rel string
	filepath.WalkDir(filepath.Join(m, "snapshots", snaps[0]), func(p string, d os.DirEntry, err error) error {
		if err != nil || rel != "" || !strings.HasSuffix(p, ".rpm") {
			return nil
		}
		r, _ := filepath.Rel(filepath.Join(m, "snapshots", snaps[0]), p)
		if _, err := os.Stat(filepath.Join(m, r)); err != nil {
			return nil
		}
		for _, s := range snaps[1:] {
			if _, err := os.Stat(filepath.Join(m, "snapshots", s, r)); err != nil {
				return nil
			}
		}
		rel = r
		return nil
	})
	if rel == "" {
		t.Fatalf("no package in %s and its snapshots %q", m, snaps)
	}
	return rel
}
