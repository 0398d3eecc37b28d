package gpghome

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestWatchCreated(t *testing.T) {
	dir := t.TempDir()
	w, err := Watch(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"tmpdir.a", "tmpdir.b"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "a-file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "tmpdir.a")); err != nil { // gone again, as libdnf's homes are
		t.Fatal(err)
	}
	got, err := w.Created()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "tmpdir.a"), filepath.Join(dir, "tmpdir.b")}
	if !slices.Equal(got, want) {
		t.Errorf("Created() = %q, want %q (directories only, removed ones too)", got, want)
	}
}

func TestWatchMissingDir(t *testing.T) {
	if _, err := Watch(filepath.Join(t.TempDir(), "absent")); err == nil {
		t.Error("Watch of a missing directory: no error")
	}
}

func TestHomes(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"cache/a-1/pubring/pubring.kbx", "cache/b-2/pubring/pubring.gpg", "cache/c-3/repodata/repomd.xml"} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got := Homes(dir)
	want := []string{filepath.Join(dir, "cache/a-1/pubring"), filepath.Join(dir, "cache/b-2/pubring")}
	if !slices.Equal(got, want) {
		t.Errorf("Homes = %q, want %q", got, want)
	}
}

// TestRelease starts a real gpg-agent for a home and checks that Release
// stops it and removes the socket directory gpg made for it under
// /run/user/<uid> (when that exists, as on a desktop or a systemd
// host), both while the home exists and after it was deleted (as libdnf
// deletes its throw-away homes).
func TestRelease(t *testing.T) {
	for _, tool := range []string{"gpg", "gpgconf", "gpg-connect-agent"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("skipping: %s is not installed", tool)
		}
	}
	for _, removed := range []bool{false, true} {
		name := map[bool]string{false: "home kept", true: "home deleted"}[removed]
		t.Run(name, func(t *testing.T) {
			// Short: the agent's socket may live in the home, and Unix
			// socket paths are limited to about 100 bytes.
			home, err := os.MkdirTemp("", "gh-")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(home) })
			gpgconf := func(args ...string) string {
				out, err := exec.Command("gpgconf", append([]string{"--homedir", home}, args...)...).Output()
				if err != nil {
					t.Fatalf("gpgconf %v: %v", args, err)
				}
				return strings.TrimSpace(string(out))
			}
			socket, socketDir := gpgconf("--list-dirs", "agent-socket"), gpgconf("--list-dirs", "socketdir")
			if got := SocketDir(home); got != socketDir {
				t.Errorf("SocketDir(%s) = %s, gpgconf says %s", home, got, socketDir)
			}
			cmd := exec.Command("gpg-connect-agent", "/bye")
			cmd.Env = append(os.Environ(), "GNUPGHOME="+home)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("starting gpg-agent: %v\n%s", err, out)
			}
			if _, err := os.Lstat(socket); err != nil {
				t.Fatalf("the agent's socket: %v", err)
			}
			if removed {
				os.RemoveAll(home)
			}
			Release(context.Background(), home)
			if _, err := os.Lstat(socket); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the agent's socket %s is still there (%v): the agent was not stopped", socket, err)
			}
			if socketDir != home {
				if _, err := os.Lstat(socketDir); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("the socket directory %s is still there (%v)", socketDir, err)
				}
			}
		})
	}
}

func TestLibdnfHomes(t *testing.T) {
	kept := filepath.Join(LibdnfTmp, "tmpdir.kept01") // exists: not (yet) deleted by libdnf
	if err := os.Mkdir(kept, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(kept) })
	tests := []struct {
		path string
		want bool
	}{
		{"/tmp/tmpdir.ztA5Qi", true},
		{kept, false},
		{"/tmp/tmpdir.toolong1", false},
		{"/tmp/rpmirror-gpg-123", false},
		{"/tmp/other/tmpdir.ztA5Qi", false},
		{"/var/tmp/tmpdir.ztA5Qi", false},
	}
	for _, tt := range tests {
		got := LibdnfHomes([]string{tt.path})
		if (len(got) == 1) != tt.want {
			t.Errorf("LibdnfHomes(%q) = %q, want it kept: %v", tt.path, got, tt.want)
		}
	}
}
