// Package gpghome cleans up after the GnuPG homes that rpmirror's demo,
// its tests and its benchmarks make gpg and dnf create, so that nothing
// they run changes the host outside their own directories.
//
// The homes themselves live in directories the caller removes. What
// outlives them is gpg's: a gpg-agent started for a home keeps running,
// and when /run/user/<uid> exists, gpg puts the agent's sockets in a
// directory of their own there (/run/user/<uid>/gnupg/d.<hash of the
// home's path>) that neither gpg-agent nor `gpgconf --kill` removes.
// dnf adds homes nobody names: with repo_gpgcheck=1, libdnf imports a
// repository's keys through a throw-away home (/tmp/tmpdir.XXXXXX, /tmp
// written into libdnf, not TMPDIR) that it deletes, and dnf's Python
// code reads a package signing key through another (TMPDIR/tmpXXXXXXXX),
// leaving a socket directory behind every time.
//
// Release stops a home's agent and removes its socket directory, given
// the home's path, whether or not the home still exists. Homes finds the
// homes under a directory (dnf keeps one per repository in its cache);
// Watch learns the names of the homes dnf makes and deletes in a
// directory it is given as TMPDIR.
package gpghome

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// SocketDir returns the directory where gpg keeps the sockets of the
// agent and other daemons of the home at path (absolute, as gpg is
// given it): /run/user/<uid>/gnupg/d.<24 z-base-32 characters of the
// SHA-1 of path> when /run/user/<uid> (or /var/run/user/<uid>) exists,
// else the home itself. It is computed, not asked of gpgconf, because
// `gpgconf --list-dirs` creates the directory it names.
func SocketDir(path string) string {
	for _, base := range []string{"/run", "/var/run"} {
		user := fmt.Sprintf("%s/user/%d", base, os.Getuid())
		if fi, err := os.Stat(user); err == nil && fi.IsDir() {
			sum := sha1.Sum([]byte(path))
			return filepath.Join(user, "gnupg", "d."+zbase32(sum[:15]))
		}
	}
	return path
}

// zbase32 encodes b, whose length is a multiple of 5, in z-base-32
// (RFC 6189's alphabet), as GnuPG names its socket directories.
func zbase32(b []byte) string {
	const alphabet = "ybndrfg8ejkmcpqxot1uwisza345h769"
	var out []byte
	for i := 0; i+5 <= len(b); i += 5 {
		var n uint64
		for _, c := range b[i : i+5] {
			n = n<<8 | uint64(c)
		}
		for shift := 35; shift >= 0; shift -= 5 {
			out = append(out, alphabet[n>>uint(shift)&31])
		}
	}
	return string(out)
}

// Release stops the gpg daemons of the GnuPG home at path and removes
// the socket directory gpg made for it under /run/user/<uid>, if any. It
// waits, up to a few seconds, for the agent's socket to go first:
// `gpgconf --kill` only asks the agent to exit. The home itself is left
// alone and need not exist any more. Where there is no such directory
// and no socket in the home, there is nothing to do and gpgconf does
// not run.
func Release(ctx context.Context, home string) {
	dir := SocketDir(home)
	socket := filepath.Join(dir, "S.gpg-agent")
	if _, err := os.Lstat(dir); err != nil || dir == home && !exists(socket) {
		return
	}
	if _, err := exec.LookPath("gpgconf"); err != nil {
		return
	}
	gpgconf := func(args ...string) {
		// gpgconf exits non-zero when no daemon is running: nothing to
		// stop, and nothing else to learn from its status.
		_ = exec.CommandContext(ctx, "gpgconf", append([]string{"--homedir", home}, args...)...).Run()
	}
	gpgconf("--kill", "all")
	for deadline := time.Now().Add(5 * time.Second); exists(socket) && time.Now().Before(deadline) && ctx.Err() == nil; {
		time.Sleep(10 * time.Millisecond)
	}
	if dir != home {
		gpgconf("--remove-socketdir")
	}
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return !errors.Is(err, fs.ErrNotExist)
}

// Homes returns the GnuPG homes under dir: the directories holding a
// keyring (pubring.kbx or pubring.gpg). A socket may be elsewhere, so
// the keyring is what is looked for.
func Homes(dir string) []string {
	var homes []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (d.Name() == "pubring.kbx" || d.Name() == "pubring.gpg") {
			homes = append(homes, filepath.Dir(p))
		}
		return nil
	})
	return homes
}

// Watcher records the directories created directly in one directory
// while it watches, with inotify: the names of homes that a program
// given that directory as TMPDIR makes and deletes before it exits.
type Watcher struct {
	dir string
	fd  int
}

// Watch starts recording the directories created in dir.
func Watch(dir string) (*Watcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("watching %s for gpg homes: %w", dir, err)
	}
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_CREATE|unix.IN_MOVED_TO|unix.IN_ONLYDIR); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("watching %s for gpg homes: %w", dir, err)
	}
	return &Watcher{dir: dir, fd: fd}, nil
}

// Created stops watching and returns the paths of the directories
// created in the watched directory since Watch, whether they still exist
// or not. The kernel queues the events until they are read, so nothing
// needs to read them while the program runs. An overflowed queue is an
// error (the names are not all known).
func (w *Watcher) Created() ([]string, error) {
	defer unix.Close(w.fd)
	var paths []string
	buf := make([]byte, 64<<10)
	for {
		n, err := unix.Read(w.fd, buf)
		if errors.Is(err, unix.EAGAIN) {
			return paths, nil
		}
		if err != nil {
			return paths, fmt.Errorf("reading the events of %s: %w", w.dir, err)
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			name := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
			off += unix.SizeofInotifyEvent + int(ev.Len)
			if ev.Mask&unix.IN_Q_OVERFLOW != 0 {
				return paths, fmt.Errorf("watching %s: too many events, some names lost", w.dir)
			}
			if ev.Mask&unix.IN_ISDIR == 0 {
				continue
			}
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			paths = append(paths, filepath.Join(w.dir, string(name)))
		}
	}
}

// LibdnfTmp is where libdnf makes its throw-away gpg homes, whatever
// TMPDIR says.
const LibdnfTmp = "/tmp"

// LibdnfHomes returns the paths among created that are libdnf's
// throw-away gpg homes: named tmpdir.XXXXXX and already deleted (libdnf
// removes them before it returns). Whatever else appeared in /tmp
// meanwhile, another program's, is left out.
func LibdnfHomes(created []string) []string {
	var homes []string
	for _, p := range created {
		name := filepath.Base(p)
		rest, ok := strings.CutPrefix(name, "tmpdir.")
		if !ok || len(rest) != 6 || filepath.Dir(p) != LibdnfTmp {
			continue
		}
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			homes = append(homes, p)
		}
	}
	return homes
}

// DNFRun learns the throw-away gpg homes of one dnf run, started with
// TMPDIR set to tmp (a directory of the caller's own).
type DNFRun struct {
	tmp, libdnf *Watcher
}

// WatchDNF starts watching tmp and LibdnfTmp; call it just before dnf
// starts with TMPDIR=tmp, and Homes once it has exited.
func WatchDNF(tmp string) (*DNFRun, error) {
	t, err := Watch(tmp)
	if err != nil {
		return nil, err
	}
	l, err := Watch(LibdnfTmp)
	if err != nil {
		t.Created()
		return nil, err
	}
	return &DNFRun{tmp: t, libdnf: l}, nil
}

// Homes stops watching and returns the gpg homes dnf made: every
// directory made in tmp, and libdnf's in LibdnfTmp. Release each.
func (r *DNFRun) Homes() ([]string, error) {
	homes, err := r.tmp.Created()
	inTmp, err2 := r.libdnf.Created()
	return append(homes, LibdnfHomes(inTmp)...), errors.Join(err, err2)
}
