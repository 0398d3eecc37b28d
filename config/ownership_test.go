package config

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// nobody is the user the ownership test checks as: access(2) lets root
// write anywhere, so the check must run as someone else.
const nobody = 65534

// TestLeftByAnotherUser: rpmirror run once as root (sudo rpmirror sync)
// leaves state_dir's subdirectories and lock files, and a mirror's
// .rpmirror/lock, owned by root; the service's user can still write
// state_dir and the mirror's path themselves, so check said ok and every
// sync then failed ("locking REPO: open .../locks/REPO.lock: permission
// denied"). check names what is in the way. The fixtures are made by
// root and checked by the test binary run again as nobody.
func TestLeftByAnotherUser(t *testing.T) {
	tests := []struct {
		name  string
		root  []string // made by root below the fixture; a trailing / for a directory
		state string   // state_dir, below the fixture (owned by nobody)
		path  string   // the mirror's path, below the fixture (owned by nobody)
		want  string
	}{
		{name: "all owned", state: "state", path: "mirror"},
		{name: "state_dir's locks", root: []string{"state/locks/"}, state: "state", path: "mirror",
			want: `m.yaml: state_dir "$DIR/state": "$DIR/state/locks" is not writable (permission denied): was rpmirror run as another user (root?) before? chown -R "$DIR/state" to the user rpmirror runs as`},
		{name: "a lock file", root: []string{"state/locks/r.lock"}, state: "state", path: "mirror",
			want: `m.yaml: state_dir "$DIR/state": "$DIR/state/locks/r.lock" is not writable (permission denied): was rpmirror run as another user (root?) before? chown -R "$DIR/state" to the user rpmirror runs as`},
		{name: "a repository's index", root: []string{"state/index/r/"}, state: "state", path: "mirror",
			want: `m.yaml: state_dir "$DIR/state": "$DIR/state/index/r" is not writable (permission denied): was rpmirror run as another user (root?) before? chown -R "$DIR/state" to the user rpmirror runs as`},
		{name: "a file rpmirror replaces by rename", root: []string{"state/repos/r.json"}, state: "state", path: "mirror"},
		{name: "the mirror's lock", root: []string{"mirror/.rpmirror/lock"}, state: "state", path: "mirror",
			want: `m.yaml: repo "r": mirror "m": path "$DIR/mirror": "$DIR/mirror/.rpmirror/lock" is not writable (permission denied): was rpmirror run as another user (root?) before? chown -R "$DIR/mirror" to the user rpmirror runs as`},
		// A tester's chown -R of state_dir and .rpmirror only: check said
		// ok, and every publish failed linking repodata's files.
		{name: "the mirror's repodata", root: []string{"mirror/repodata/repomd.xml.asc"}, state: "state", path: "mirror",
			want: `m.yaml: repo "r": mirror "m": path "$DIR/mirror": "$DIR/mirror/repodata/repomd.xml.asc" is not writable (permission denied): was rpmirror run as another user (root?) before? chown -R "$DIR/mirror" to the user rpmirror runs as`},
	}
	if dir := os.Getenv("RPMIRROR_TEST_OWNERSHIP_DIR"); dir != "" {
		// The child, run as nobody: check each fixture.
		for _, tc := range tests {
			base := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			c := &Config{File: "m.yaml", StateDir: filepath.Join(base, tc.state)}
			c.Repos = []Repo{{Name: "r", Mirrors: []Mirror{{Name: "m", Path: filepath.Join(base, tc.path)}}}}
			got := strings.ReplaceAll(c.CheckPaths().Error(), base, "$DIR")
			if got != tc.want {
				t.Errorf("%s: got:\n%s\nwant:\n%s", tc.name, got, tc.want)
			}
		}
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("making files owned by another user needs root")
	}
	dir := t.TempDir()
	for _, tc := range tests {
		base := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
		for _, d := range []string{tc.state, tc.path} {
			mustMkdir(t, filepath.Join(base, d))
		}
		for _, r := range tc.root {
			p := filepath.Join(base, r)
			mustMkdir(t, filepath.Dir(p))
			if strings.HasSuffix(r, "/") {
				mustMkdir(t, p)
			} else if err := os.WriteFile(p, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		// Everything nobody's but what root left.
		filepath.Walk(base, func(p string, fi os.FileInfo, err error) error {
			for _, r := range tc.root {
				if p == filepath.Clean(filepath.Join(base, r)) {
					return nil
				}
			}
			return os.Lchown(p, nobody, nobody)
		})
	}
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The test binary, where nobody can run it.
	self, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer self.Close()
	bin := filepath.Join(dir, "config.test")
	out, err := os.OpenFile(bin, os.O_WRONLY|os.O_CREATE, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, self); err != nil {
		t.Fatal(err)
	}
	out.Close()
	cmd := exec.Command(bin, "-test.run", "^TestLeftByAnotherUser$", "-test.count=1")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "RPMIRROR_TEST_OWNERSHIP_DIR="+dir, "HOME="+dir, "TMPDIR="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the check as user %d: %v\n%s", nobody, err, b)
	}
}

func mustMkdir(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
}
