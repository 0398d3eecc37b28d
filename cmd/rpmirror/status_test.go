package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/state"
)

// readOnly makes the directory dir read-only to this process until the
// test ends, and checks that it is: as root (whom permissions do not
// stop) by bind-mounting it read-only over itself, else by taking the
// write permission away from it and every directory in it.
func readOnly(t *testing.T, dir string) {
	t.Helper()
	if os.Geteuid() == 0 {
		if err := unix.Mount(dir, dir, "", unix.MS_BIND, ""); err != nil {
			if errors.Is(err, unix.EPERM) {
				t.Skipf("mount --bind %s: %v (root without CAP_SYS_ADMIN, in a container?)", dir, err)
			}
			t.Fatalf("mount --bind %s: %v", dir, err)
		}
		t.Cleanup(func() {
			if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
				t.Errorf("umount %s: %v", dir, err)
			}
		})
		if err := unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
			t.Fatalf("mount -o remount,bind,ro %s: %v", dir, err)
		}
	} else {
		var dirs []string
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for _, d := range dirs {
			if err := os.Chmod(d, 0o555); err != nil {
				t.Fatal(err)
			}
		}
		t.Cleanup(func() {
			for _, d := range dirs {
				os.Chmod(d, 0o755)
			}
		})
	}
	if err := os.WriteFile(filepath.Join(dir, "probe"), nil, 0o644); err == nil {
		t.Fatalf("%s is still writable", dir)
	}
}

// tree lists every file and directory under dir with its size, mode and
// modification time.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		out = append(out, fmt.Sprintf("%s %d %v %d", p, fi.Size(), fi.Mode(), fi.ModTime().UnixNano()))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestStatusWithReadOnlyStateDir: rpmirror status only reads, so it works
// on a state_dir it cannot write (a read-only mount, a user with read
// access only) and leaves it as it was; it used to refuse the
// configuration because state_dir was not writable.
func TestStatusWithReadOnlyStateDir(t *testing.T) {
	f := newFixture(t, testrepo.DemoPackages(nil), 4)
	if code, out, errOut := rpmirror(t, "sync", "-c", f.cfg); code != 0 {
		t.Fatalf("sync: exit %d\n%s%s", code, out, errOut)
	}
	stateDir := filepath.Join(f.dir, "state")
	before := tree(t, stateDir)
	readOnly(t, stateDir)
	code, out, errOut := rpmirror(t, "status", "-c", f.cfg)
	if code != 0 || errOut != "" {
		t.Fatalf("status on a read-only state_dir: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"test  origin ", "  verified     revision ", "  m1           revision ", "  m2           revision ", "  run "} {
		if !strings.Contains(out, want) {
			t.Errorf("status: no %q in\n%s", want, out)
		}
	}
	if after := tree(t, stateDir); !slices.Equal(before, after) {
		t.Errorf("status changed state_dir:\nbefore %q\nafter  %q", before, after)
	}
}

// TestStatusSaysSkipped: a sync skipped because no upstream was usable
// (the origin refuses connections) is shown by status as sync showed it,
// SKIPPED with the reason, not FAILED; and the mirror, which did not
// exist, still does not.
func TestStatusSaysSkipped(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String() + "/repo/"
	ln.Close() // nothing listens there now: connections are refused
	cfg := filepath.Join(dir, "mirrors.yaml")
	mirror := filepath.Join(dir, "mirrors", "m")
	os.WriteFile(cfg, []byte("state_dir: "+filepath.Join(dir, "state")+"\ndownload:\n  retries: 0\nrepos:\n  - name: r\n    origin: "+refused+"\n    mirrors:\n      - name: m\n        path: "+mirror+"\n"), 0o644)
	// The dry run says the mirror would stay as it is, not that it
	// would publish nothing (an operator tester's).
	if _, out, _ := rpmirror(t, "sync", "--dry-run", "-c", cfg); !regexp.MustCompile(`(?m)^  m +unchanged$`).MatchString(out) || strings.Contains(out, "would publish") {
		t.Errorf("the skipped dry run says of the mirror:\n%s\nwant unchanged", out)
	}
	code, out, errOut := rpmirror(t, "sync", "-c", cfg)
	if code != exitFailed || !strings.Contains(out, "SKIPPED: no usable upstream") {
		t.Fatalf("sync: exit %d, stdout %q, stderr %q; want 1 and SKIPPED", code, out, errOut)
	}
	if _, err := os.Lstat(filepath.Join(dir, "mirrors")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the skipped sync left %s (%v)", filepath.Join(dir, "mirrors"), err)
	}
	code, out, errOut = rpmirror(t, "status", "-c", cfg)
	if code != exitOK {
		t.Fatalf("status: exit %d, %s", code, errOut)
	}
	if !strings.Contains(out, "SKIPPED: no usable upstream") || strings.Contains(out, "FAILED") {
		t.Errorf("status shows the skipped run as:\n%s\nwant SKIPPED with its reason, not FAILED", out)
	}
}

// TestStatusOfARepomdWithoutRevision: a repomd.xml may have no
// <revision> (createrepo_c always writes one; other tools need not).
// status then says "revision (none)" of the mirrors it published, not
// "never synced", and verify "revision (none)", not "revision :".
func TestStatusOfARepomdWithoutRevision(t *testing.T) {
	f := newFixture(t, testrepo.DemoPackages(nil), 4)
	repomd := filepath.Join(f.dir, "origin", "repodata", "repomd.xml")
	b, err := os.ReadFile(repomd)
	if err != nil {
		t.Fatal(err)
	}
	stripped := regexp.MustCompile(`\s*<revision>[^<]*</revision>`).ReplaceAll(b, nil)
	if len(stripped) == len(b) {
		t.Fatal("the origin's repomd.xml has no <revision> to take out")
	}
	if err := os.WriteFile(repomd, stripped, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(repomd + ".asc") // it signed the repomd.xml with a revision
	mustRun(t, "sync", "-c", f.cfg)
	out := mustRun(t, "status", "-c", f.cfg)
	for _, m := range []string{"m1", "m2"} {
		if !regexp.MustCompile(`(?m)^  ` + m + ` +revision \(none\)  published `).MatchString(out) {
			t.Errorf("status does not say %s serves a revision without a number:\n%s", m, out)
		}
	}
	if strings.Contains(out, "never synced") || !strings.Contains(out, "verified     revision (none), verified") {
		t.Errorf("status of a revision without a number:\n%s", out)
	}
	if out := mustRun(t, "verify", "-c", f.cfg); !strings.Contains(out, "test/m1: revision (none): ") {
		t.Errorf("verify of a revision without a number:\n%s", out)
	}
}

// TestStatusNamesFewEarlierRevisions: of the up to 32 earlier verified
// revisions kept, status names the last three on the repo's line and
// counts the rest (a tester's line named 33).
func TestStatusNamesFewEarlierRevisions(t *testing.T) {
	f := newFixture(t, testrepo.DemoPackages(nil), 4)
	mustRun(t, "sync", "-c", f.cfg)
	store, err := state.Open(filepath.Join(f.dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := store.LoadVerified("test")
	if err != nil {
		t.Fatal(err)
	}
	cur := v.Revisions[0]
	for i := 1; i <= 6; i++ {
		e := cur
		e.Revision, e.SHA256 = fmt.Sprintf("old%d", i), fmt.Sprintf("%064d", i)
		e.SupersededAt = cur.VerifiedAt
		v.Revisions = append(v.Revisions, e)
	}
	if err := store.SaveVerified(v); err != nil {
		t.Fatal(err)
	}
	out := mustRun(t, "status", "-c", f.cfg)
	if !strings.Contains(out, "earlier old3, superseded") || strings.Contains(out, "old4") || !strings.Contains(out, "; and 3 more before\n") {
		t.Errorf("status with 6 earlier revisions:\n%s", out)
	}
}

// TestStatusSaysARollbackIsNotDone: a hold whose rollback has not said it
// is done (under way, or killed before it was) is said so, with the
// command that finishes it; a done one is not.
func TestStatusSaysARollbackIsNotDone(t *testing.T) {
	f := newFixture(t, testrepo.DemoPackages(nil), 2)
	mustRun(t, "sync", "-c", f.cfg)
	store, err := state.Open(filepath.Join(f.dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	h := &state.Hold{Repo: "test", Snapshot: "20261127T000000Z", Revision: "1", SHA256: "aa", By: "me@here", At: time.Now().UTC()}
	if err := store.SaveHold(h); err != nil {
		t.Fatal(err)
	}
	want := "rollback     not done: under way now, or it stopped before it was done (then run rpmirror rollback -c " + f.cfg + " --repo test --to 20261127T000000Z again, or resume)"
	if out := mustRun(t, "status", "-c", f.cfg); !strings.Contains(out, want) {
		t.Errorf("status with a rollback not done:\n%s\nwant %q", out, want)
	}
	h.Done = time.Now().UTC()
	if err := store.SaveHold(h); err != nil {
		t.Fatal(err)
	}
	if out := mustRun(t, "status", "-c", f.cfg); strings.Contains(out, "not done") || !strings.Contains(out, "HELD") {
		t.Errorf("status with a rollback done:\n%s", out)
	}
}

// TestSyncFillsFromAMirrorWhileTheOriginIsDown: with the origin answering
// 403, a written mirror found empty (here: removed by hand) is brought to
// the current verified revision from the mirror beside it; sync says so,
// names each upstream skipped, and exits 0. The dry run says the same
// first; with every mirror current, the next sync is skipped again.
func TestSyncFillsFromAMirrorWhileTheOriginIsDown(t *testing.T) {
	f := newFixture(t, testrepo.DemoPackages(nil), 4)
	mustRun(t, "sync", "-c", f.cfg)
	if err := os.RemoveAll(f.mirrors[1]); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.status = http.StatusForbidden
	f.mu.Unlock()
	const line = "  origin   no usable upstream: the current verified revision %s taken from mirror m1 on this machine"
	out := mustRun(t, "sync", "--dry-run", "-c", f.cfg)
	if !strings.Contains(out, fmt.Sprintf(line, "would be")) || !strings.Contains(out, "would take 6 packages from the other mirrors") {
		t.Errorf("the dry run does not say the revision would come from m1:\n%s", out)
	}
	out = mustRun(t, "sync", "-c", f.cfg)
	if !strings.Contains(out, fmt.Sprintf(line, "was")) || !strings.Contains(out, "  upstream "+f.srv.URL+"/  skipped: ") {
		t.Errorf("sync does not say the revision came from m1 with the origin skipped:\n%s", out)
	}
	a, err1 := os.ReadFile(filepath.Join(f.mirrors[0], "repodata", "repomd.xml"))
	b, err2 := os.ReadFile(filepath.Join(f.mirrors[1], "repodata", "repomd.xml"))
	if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
		t.Errorf("m2 does not serve m1's repomd.xml after the sync (%v, %v)", err1, err2)
	}
	mustRun(t, "verify", "-c", f.cfg)
	code, out, _ := rpmirror(t, "sync", "-c", f.cfg)
	if code != exitFailed || !strings.Contains(out, "SKIPPED: no usable upstream") {
		t.Errorf("every mirror current, the origin down: exit %d\n%s\nwant SKIPPED", code, out)
	}
}

// TestStatusNamesEveryUpstream: with origin as a list, rpmirror status
// names every upstream, in the order they are tried; it named the first
// alone (an operator tester's).
func TestStatusNamesEveryUpstream(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "mirrors.yaml")
	yaml := "state_dir: " + filepath.Join(dir, "state") + `
repos:
  - name: multi
    origin: [http://a.example/el9/, http://b.example/el9/, http://c.example/el9/]
    mirrors:
      - name: m
        path: ` + filepath.Join(dir, "m") + "\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := rpmirror(t, "status", "-c", cfg)
	if code != 0 {
		t.Fatalf("status: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "multi  origin http://a.example/el9/ (then http://b.example/el9/, http://c.example/el9/)\n") {
		t.Errorf("status does not name every upstream in order:\n%s", out)
	}
}
