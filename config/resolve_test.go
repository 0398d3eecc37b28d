package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestOverlapThroughSymlinks: two written mirrors are one directory when
// one's path is a symlink to the other's (or to a directory above or
// below it), and so are a mirror and state_dir or a file:// origin. The
// check compared the paths as written: two repos then synced into one
// directory, each publishing its revision over the other's and pruning
// its packages. Paths that overlap as written are reported once, by the
// validation, not again here.
func TestOverlapThroughSymlinks(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"a", "b", "state", "upstream"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for link, to := range map[string]string{"link-a": "a", "link-state": "state", "link-upstream": "upstream", "link-b": "b"} {
		if err := os.Symlink(filepath.Join(dir, to), filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	const repo = "  - name: %s\n    origin: %s\n    mirrors:\n      - name: m\n        path: %s\n"
	for _, tc := range []struct {
		name  string
		repos [][3]string // name, origin, path (paths below $DIR)
		want  string
	}{
		{"distinct", [][3]string{{"one", "http://o.example/", "a"}, {"two", "http://o.example/", "link-b"}}, ""},
		{"same directory", [][3]string{{"one", "http://o.example/", "a"}, {"two", "http://o.example/", "link-a"}},
			`m.yaml:12: repo "two": mirror "m": path "$DIR/link-a" overlaps the path "$DIR/a" of repo "one" mirror "m" (line 7) once symlinks are resolved ("$DIR/link-a" is "$DIR/a"): one would overwrite or prune the other's files`},
		{"inside, not created yet", [][3]string{{"one", "http://o.example/", "a"}, {"two", "http://o.example/", "link-a/x/y"}},
			`m.yaml:12: repo "two": mirror "m": path "$DIR/link-a/x/y" overlaps the path "$DIR/a" of repo "one" mirror "m" (line 7) once symlinks are resolved ("$DIR/link-a/x/y" is "$DIR/a/x/y"): one would overwrite or prune the other's files`},
		{"contains", [][3]string{{"one", "http://o.example/", "a/sub"}, {"two", "http://o.example/", "link-a"}},
			`m.yaml:12: repo "two": mirror "m": path "$DIR/link-a" overlaps the path "$DIR/a/sub" of repo "one" mirror "m" (line 7) once symlinks are resolved ("$DIR/link-a" is "$DIR/a"): one would overwrite or prune the other's files`},
		{"state_dir", [][3]string{{"one", "http://o.example/", "link-state/m"}},
			`m.yaml:7: repo "one": mirror "m": path "$DIR/link-state/m" overlaps state_dir "$DIR/state" (line 1) once symlinks are resolved ("$DIR/link-state/m" is "$DIR/state/m"): one would overwrite or prune the other's files`},
		{"file origin", [][3]string{{"one", "file://$DIR/link-upstream/", "upstream/copy"}},
			`m.yaml:7: repo "one": mirror "m": path "$DIR/upstream/copy" overlaps the origin "file://$DIR/link-upstream" of repo "one" (line 4) once symlinks are resolved ("$DIR/link-upstream" is "$DIR/upstream"): one would overwrite or prune the other's files`},
		{"as written: reported once", [][3]string{{"one", "http://o.example/", "a"}, {"two", "http://o.example/", "a"}},
			`m.yaml:12: repo "two": mirror "m": path "$DIR/a" is also the path of repo "one" mirror "m" (line 7)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := "state_dir: $DIR/state\nrepos:\n"
			for _, r := range tc.repos {
				data += fmt.Sprintf(repo, r[0], r[1], "$DIR/"+r[2])
			}
			data = strings.ReplaceAll(data, "$DIR", dir)
			_, err := Parse([]byte(data), filepath.Join(dir, "m.yaml"))
			got := ""
			if err != nil {
				got = strings.TrimPrefix(strings.ReplaceAll(err.Error(), dir, "$DIR"), "$DIR/")
			}
			if got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

// TestOverlapThroughBindMounts: a directory bind-mounted elsewhere is one
// directory under two paths that no symlink joins: two written mirrors
// (or a mirror and state_dir) reached so are found by device and inode.
// The check compared resolved paths only, and let two repos sync into
// one directory. Mounting needs root: CI runs as root.
func TestOverlapThroughBindMounts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("bind mounts need root (CI runs as root): not run as uid", os.Geteuid())
	}
	dir := t.TempDir()
	for _, d := range []string{"a", "b", "state", "bind-a", "bind-state"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for mnt, from := range map[string]string{"bind-a": "a", "bind-state": "state"} {
		err := unix.Mount(filepath.Join(dir, from), filepath.Join(dir, mnt), "", unix.MS_BIND, "")
		if errors.Is(err, unix.EPERM) {
			t.Skipf("mount --bind %s: %v (root without CAP_SYS_ADMIN, in a container?)", mnt, err)
		}
		if err != nil {
			t.Fatalf("mount --bind %s %s: %v", from, mnt, err)
		}
		t.Cleanup(func() {
			if err := unix.Unmount(filepath.Join(dir, mnt), unix.MNT_DETACH); err != nil {
				t.Errorf("umount %s: %v", mnt, err)
			}
		})
	}
	const repo = "  - name: %s\n    origin: %s\n    mirrors:\n      - name: m\n        path: %s\n"
	for _, tc := range []struct {
		name  string
		repos [][3]string // name, origin, path (paths below $DIR)
		want  string
	}{
		{"distinct", [][3]string{{"one", "http://o.example/", "a"}, {"two", "http://o.example/", "b"}}, ""},
		{"same directory", [][3]string{{"one", "http://o.example/", "a"}, {"two", "http://o.example/", "bind-a"}},
			`m.yaml:12: repo "two": mirror "m": path "$DIR/bind-a" overlaps the path "$DIR/a" of repo "one" mirror "m" (line 7) on the filesystem ("$DIR/bind-a" and "$DIR/a" are one directory, through a bind mount): one would overwrite or prune the other's files`},
		{"inside, not created yet", [][3]string{{"one", "http://o.example/", "a"}, {"two", "http://o.example/", "bind-a/x/y"}},
			`m.yaml:12: repo "two": mirror "m": path "$DIR/bind-a/x/y" overlaps the path "$DIR/a" of repo "one" mirror "m" (line 7) on the filesystem ("$DIR/bind-a" and "$DIR/a" are one directory, through a bind mount): one would overwrite or prune the other's files`},
		{"contains", [][3]string{{"one", "http://o.example/", "a/sub"}, {"two", "http://o.example/", "bind-a"}},
			`m.yaml:12: repo "two": mirror "m": path "$DIR/bind-a" overlaps the path "$DIR/a/sub" of repo "one" mirror "m" (line 7) on the filesystem ("$DIR/bind-a" and "$DIR/a" are one directory, through a bind mount): one would overwrite or prune the other's files`},
		{"both not created yet, apart", [][3]string{{"one", "http://o.example/", "a/x"}, {"two", "http://o.example/", "bind-a/y"}}, ""},
		{"both not created yet, one", [][3]string{{"one", "http://o.example/", "a/x"}, {"two", "http://o.example/", "bind-a/x"}},
			`m.yaml:12: repo "two": mirror "m": path "$DIR/bind-a/x" overlaps the path "$DIR/a/x" of repo "one" mirror "m" (line 7) on the filesystem ("$DIR/bind-a" and "$DIR/a" are one directory, through a bind mount): one would overwrite or prune the other's files`},
		{"state_dir", [][3]string{{"one", "http://o.example/", "bind-state/m"}},
			`m.yaml:7: repo "one": mirror "m": path "$DIR/bind-state/m" overlaps state_dir "$DIR/state" (line 1) on the filesystem ("$DIR/bind-state" and "$DIR/state" are one directory, through a bind mount): one would overwrite or prune the other's files`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := "state_dir: $DIR/state\nrepos:\n"
			for _, r := range tc.repos {
				data += fmt.Sprintf(repo, r[0], r[1], "$DIR/"+r[2])
			}
			data = strings.ReplaceAll(data, "$DIR", dir)
			_, err := Parse([]byte(data), filepath.Join(dir, "m.yaml"))
			got := ""
			if err != nil {
				got = strings.TrimPrefix(strings.ReplaceAll(err.Error(), dir, "$DIR"), "$DIR/")
			}
			if got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}
