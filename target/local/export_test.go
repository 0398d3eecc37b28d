package local

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rpmirror/rpmirror/internal/safefs"
	"github.com/rpmirror/rpmirror/target"
)

// TestExport: a regular file is exported as a hard link on the same
// filesystem and as a copy across filesystems, with its content; a
// symlink (to a file outside the mirror), a FIFO (which must not block),
// a directory and nothing at all are no file to export; dst must not
// exist.
func TestExport(t *testing.T) {
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "mirror")
	l, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "Packages"), 0o755))
	must(os.WriteFile(filepath.Join(root, "Packages", "a.rpm"), []byte("package a"), 0o644))
	secret := filepath.Join(t.TempDir(), "secret")
	must(os.WriteFile(secret, []byte("not the mirror's"), 0o600))
	must(os.Symlink(secret, filepath.Join(root, "Packages", "link.rpm")))
	must(unix.Mkfifo(filepath.Join(root, "Packages", "fifo.rpm"), 0o644))
	must(os.Mkdir(filepath.Join(root, "Packages", "dir.rpm"), 0o755))
	cache := t.TempDir()
	ino := func(p string) uint64 {
		fi, err := os.Stat(p)
		must(err)
		return fi.Sys().(*syscall.Stat_t).Ino
	}

	dst := filepath.Join(cache, "a")
	must(l.Export(ctx, "Packages/a.rpm", dst))
	if b, _ := os.ReadFile(dst); string(b) != "package a" || ino(dst) != ino(filepath.Join(root, "Packages", "a.rpm")) {
		t.Errorf("exported on one filesystem: %q, want a hard link to the file", b)
	}
	if err := l.Export(ctx, "Packages/a.rpm", dst); err == nil {
		t.Error("exported over a file at dst")
	}
	if shm := "/dev/shm"; sameFS(t, shm, cache) {
		t.Log("/dev/shm is on the mirror's filesystem: the copy is not tested")
	} else {
		other, err := os.MkdirTemp(shm, "export-")
		must(err)
		defer os.RemoveAll(other)
		dst := filepath.Join(other, "a")
		must(l.Export(ctx, "Packages/a.rpm", dst))
		if b, _ := os.ReadFile(dst); string(b) != "package a" {
			t.Errorf("copied across filesystems: %q", b)
		}
	}
	// Another user's file, or one others may write, is copied: linked,
	// it would stay theirs to change in every mirror holding it.
	must(os.WriteFile(filepath.Join(root, "Packages", "open.rpm"), []byte("package open"), 0o644))
	must(os.Chmod(filepath.Join(root, "Packages", "open.rpm"), 0o666))
	cases := []string{"open.rpm"}
	if os.Geteuid() == 0 {
		must(os.WriteFile(filepath.Join(root, "Packages", "theirs.rpm"), []byte("package theirs"), 0o644))
		must(os.Chown(filepath.Join(root, "Packages", "theirs.rpm"), 4242, 4242))
		cases = append(cases, "theirs.rpm")
	}
	for _, name := range cases {
		src, dst := filepath.Join(root, "Packages", name), filepath.Join(cache, name)
		must(l.Export(ctx, "Packages/"+name, dst))
		want, _ := os.ReadFile(src)
		got, _ := os.ReadFile(dst)
		fi, err := os.Stat(dst)
		must(err)
		if string(got) != string(want) || ino(dst) == ino(src) || int(fi.Sys().(*syscall.Stat_t).Uid) != os.Geteuid() || fi.Mode().Perm()&0o022 != 0 {
			t.Errorf("%s: exported as %q, mode %v, a link %v; want a copy of our own, 0644", name, got, fi.Mode(), ino(dst) == ino(src))
		}
	}
	for _, p := range []string{"Packages/link.rpm", "Packages/fifo.rpm", "Packages/dir.rpm", "Packages/none.rpm"} {
		done := make(chan error, 1)
		go func() { done <- l.Export(ctx, p, filepath.Join(cache, filepath.Base(p))) }()
		select {
		case err := <-done:
			if !errors.Is(err, target.ErrNotExist) {
				t.Errorf("%s: %v, want an error wrapping ErrNotExist", p, err)
			}
			var se *safefs.SymlinkError
			if p == "Packages/link.rpm" && !errors.As(err, &se) {
				t.Errorf("%s: %v does not say it is a symlink", p, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: Export blocked", p)
		}
		if _, err := os.Lstat(filepath.Join(cache, filepath.Base(p))); err == nil {
			t.Errorf("%s: something left at dst", p)
		}
	}
}

// sameFS reports whether a and b are on one filesystem.
func sameFS(t *testing.T, a, b string) bool {
	var sa, sb unix.Stat_t
	if unix.Stat(a, &sa) != nil || unix.Stat(b, &sb) != nil {
		return true
	}
	return sa.Dev == sb.Dev
}
