package config

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/rpmirror/rpmirror/geo"
	"github.com/rpmirror/rpmirror/internal/s3creds"
	"github.com/rpmirror/rpmirror/verify"
)

// maxKeyFileSize bounds the key files read while checking; an RPM-GPG-KEY
// file is a few kilobytes.
const maxKeyFileSize = 16 << 20

// CheckPaths checks what the configuration says against the filesystem:
//
//   - state_dir and the path of every written mirror is a writable
//     directory, or does not exist yet and its nearest existing ancestor
//     is a writable directory (rpmirror creates the rest);
//   - the directory of a file:// origin exists and is readable;
//   - every gpgkeys file, and every repo_gpgkeys file of a repo with
//     repo_gpgcheck, is a regular file holding OpenPGP public keys that
//     verify.LoadKeyFile accepts;
//   - geoip_db is a MaxMind DB file geo.Open accepts, and access_log a
//     file rpmirror can append to (or create);
//   - an s3 mirror's credentials_file is readable and holds both keys in
//     its profile.
//   - sign_with holds one OpenPGP secret key that can sign without a
//     passphrase (verify.LoadSigningKey).
//
// It creates and changes nothing. Load calls it; LoadWith with
// SkipFilesystem does not. Writability is judged by access(2) for the real
// user, so for root only a read-only filesystem or a non-directory in the
// way counts as not writable. It returns nil when all is well.
func (c *Config) CheckPaths() Errors {
	var errs Errors
	add := func(line int, where, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		if where != "" {
			msg = where + ": " + msg
		}
		errs = append(errs, &Error{File: c.File, Line: line, Msg: msg})
	}
	if c.StateDir != "" {
		if problem := writableDir(c.StateDir); problem != "" {
			add(c.stateDirLine, "", "state_dir %q: %s", c.StateDir, problem)
		} else if problem := ownTree(c.StateDir, "locks"); problem != "" {
			add(c.stateDirLine, "", "state_dir %q: %s", c.StateDir, problem)
		}
	}
	if c.GeoIPDB != "" {
		if problem := notRegular(c.GeoIPDB); problem != "" {
			add(c.geoIPLine, "", "geoip_db %q: %s", c.GeoIPDB, problem)
		} else if err := geo.Check(c.GeoIPDB); err != nil {
			add(c.geoIPLine, "", "geoip_db %q: %s", c.GeoIPDB, geoProblem(err))
		}
	}
	if c.AccessLog != "" && c.AccessLog != "-" {
		if problem := writableFile(c.AccessLog); problem != "" {
			add(c.accessLogLine, "", "access_log %q: %s", c.AccessLog, problem)
		}
	}
	if c.APITokenFile != "" {
		if problem := notRegular(c.APITokenFile); problem != "" {
			add(c.apiTokenLine, "", "api_token_file %q: %s", c.APITokenFile, problem)
		} else if _, err := c.APIToken(); err != nil {
			add(c.apiTokenLine, "", "%v", err)
		}
	}
	for _, r := range c.Repos {
		where := repoDesc(r)
		for i, u := range r.OriginURLs() {
			if p, ok := filePath(u); ok {
				line := r.Line
				if i < len(r.originLines) {
					line = or(r.originLines[i], r.Line)
				}
				if problem := readableDir(p); problem != "" {
					add(line, where, "origin %q: %s", u, problem)
				}
			}
		}
		if r.TLS.CAFile != "" {
			if problem := caFile(r.TLS.CAFile); problem != "" {
				add(or(r.TLS.CALine, r.Line), where+": tls", "ca_file %q: %s", r.TLS.CAFile, problem)
			}
		}
		if r.OriginAuthFile != "" {
			if problem := notRegular(r.OriginAuthFile); problem != "" {
				add(or(r.authLine, r.Line), where, "origin_auth_file %q: %s", r.OriginAuthFile, problem)
			} else if _, _, err := r.OriginAuth(); err != nil {
				add(or(r.authLine, r.Line), where, "%v", err)
			}
		}
		for i, k := range r.GPGKeys {
			line := r.Line
			if i < len(r.GPGKeyLines) {
				line = r.GPGKeyLines[i]
			}
			if problem := keyFile(k); problem != "" {
				add(line, where, "gpgkeys %q: %s", k, problem)
			}
		}
		if r.RepoGPGCheck && !slices.Equal(r.RepoGPGKeys, r.GPGKeys) {
			for i, k := range r.RepoGPGKeys {
				line := r.Line
				if i < len(r.RepoGPGKeyLines) {
					line = r.RepoGPGKeyLines[i]
				}
				if problem := keyFile(k); problem != "" {
					add(line, where, "repo_gpgkeys %q: %s", k, problem)
				}
			}
		}
		if r.SignWith != "" {
			if problem := signingKeyFile(r.SignWith); problem != "" {
				add(or(r.signWithLine, r.Line), where, "sign_with %q: %s", r.SignWith, problem)
			}
		}
		for _, m := range r.Mirrors {
			if !m.Written() {
				continue
			}
			if m.S3 != nil {
				if f := m.S3.CredentialsFile; f != "" {
					if problem := notRegular(f); problem != "" {
						add(or(m.S3.CredentialsLine, m.S3.Line), where+": "+mirrorDesc(m)+": s3", "credentials_file %q: %s", f, problem)
					} else if _, err := s3creds.Load(f, m.S3.Profile); err != nil {
						add(or(m.S3.CredentialsLine, m.S3.Line), where+": "+mirrorDesc(m)+": s3", "credentials_file: %v", err)
					}
				}
				continue
			}
			problem := writableDir(m.Path)
			if problem == "" {
				// repodata/ too, and the files a publish links into
				// the next revision's staging (a hard link to a file
				// another user owns is refused: fs.protected_hardlinks),
				// as a tester's partial chown -R left them.
				problem = ownFiles(m.Path, ".rpmirror", ".rpmirror/lock", "repodata", "repodata/repomd.xml", "repodata/repomd.xml.asc", "repodata/repomd.xml.key")
			}
			if problem != "" {
				add(or(m.pathLine, m.Line), where+": "+mirrorDesc(m), "path %q: %s", m.Path, problem)
			}
		}
	}
	c.resolvedOverlaps(add)
	errs.sort()
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// resolvedOverlaps reports written mirrors whose paths overlap one
// another, state_dir or a file:// origin once symlinks are resolved, or
// on the filesystem (the device and inode of the directories on their
// paths: a bind mount), where the paths as written do not (those the
// file alone shows are reported by the validation): /srv/a and
// /srv/link, a symlink to /srv/a, are one directory, and two repos
// syncing it each published their own revision over the other's, and
// pruned its packages.
func (c *Config) resolvedOverlaps(add func(line int, where, format string, args ...any)) {
	type place struct {
		path, real string
		line       int
		desc       string
		disk       *onDisk
	}
	var origins, written []place
	for _, r := range c.Repos {
		for i, u := range r.OriginURLs() {
			if p, ok := filePath(u); ok {
				line := r.originLine
				if i < len(r.originLines) {
					line = r.originLines[i]
				}
				origins = append(origins, place{p, resolve(p), line, repoDesc(r), statPath(resolve(p))})
			}
		}
	}
	state := place{c.StateDir, resolve(c.StateDir), c.stateDirLine, "state_dir", nil}
	if state.path != "" {
		state.disk = statPath(state.real)
	}
	overlap := func(a, b string) bool { return within(a, b) || within(b, a) }
	for _, r := range c.Repos {
		for _, m := range r.Mirrors {
			if m.Path == "" || m.S3 != nil {
				continue
			}
			where := repoDesc(r) + ": " + mirrorDesc(m)
			here := place{m.Path, resolve(m.Path), or(m.pathLine, m.Line), repoDesc(r) + " " + mirrorDesc(m), nil}
			here.disk = statPath(here.real)
			// check reports o when it and here overlap once symlinks are
			// resolved, or else on the filesystem: a directory of one
			// is a directory of the other (the same device and inode)
			// reached another way, through a bind mount.
			check := func(o place, what string) {
				if overlap(here.path, o.path) {
					return
				}
				if overlap(here.real, o.real) {
					var real []string
					for _, p := range []place{here, o} {
						if p.real != p.path {
							real = append(real, fmt.Sprintf("%q is %q", p.path, p.real))
						}
					}
					add(here.line, where, "path %q overlaps %s once symlinks are resolved (%s): one would overwrite or prune the other's files", here.path, what, strings.Join(real, ", "))
					return
				}
				if a, b, ok := sameDirs(here.disk, o.disk); ok {
					add(here.line, where, "path %q overlaps %s on the filesystem (%q and %q are one directory, through a bind mount): one would overwrite or prune the other's files", here.path, what, a, b)
				}
			}
			for _, o := range written {
				check(o, fmt.Sprintf("the path %q of %s (line %d)", o.path, o.desc, o.line))
			}
			if state.path != "" {
				check(state, fmt.Sprintf("state_dir %q (line %d)", state.path, state.line))
			}
			for _, o := range origins {
				check(o, fmt.Sprintf("the origin %q of %s (line %d)", "file://"+o.path, o.desc, o.line))
			}
			written = append(written, here)
		}
	}
}

// onDisk is a directory's path as the filesystem has it: the
// directories on it that exist, each with its device and inode.
type onDisk struct {
	path string
	dirs []dirOnDisk // the existing directories on path, deepest first
	// rest is the part of path below dirs[0] that does not exist yet.
	rest string
}

type dirOnDisk struct {
	path string
	fi   os.FileInfo
}

// statPath returns p (absolute, clean) as the filesystem has it.
func statPath(p string) *onDisk {
	d := &onDisk{path: p}
	for dir := p; ; dir = filepath.Dir(dir) {
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
			d.dirs = append(d.dirs, dirOnDisk{dir, fi})
		} else if len(d.dirs) == 0 {
			d.rest = filepath.Join(filepath.Base(dir), d.rest)
		}
		if dir == filepath.Dir(dir) {
			return d
		}
	}
}

// sameDirs reports whether the directories a and b overlap on the
// filesystem although their paths do not: one is the other, or inside
// it, when a directory on one's path is a directory on the other's
// (os.SameFile: the same device and inode), as a bind mount makes them.
// Parts that do not exist yet are compared as paths below the deepest
// existing directory. It returns the two paths found to be one directory.
func sameDirs(a, b *onDisk) (string, string, bool) {
	if x, y, ok := insideOnDisk(a, b); ok {
		return x, y, true
	}
	if y, x, ok := insideOnDisk(b, a); ok {
		return x, y, true
	}
	return "", "", false
}

// insideOnDisk reports whether a is b or inside it on the filesystem:
// some directory x on a's path is b's deepest existing directory y, and
// the part of b that does not exist yet is the path from x to a, or its
// beginning.
func insideOnDisk(a, b *onDisk) (x, y string, ok bool) {
	if a == nil || b == nil || len(b.dirs) == 0 {
		return "", "", false
	}
	y, fy := b.dirs[0].path, b.dirs[0].fi
	for _, d := range a.dirs {
		if !os.SameFile(d.fi, fy) {
			continue
		}
		if rel, err := filepath.Rel(d.path, a.path); err == nil && within(filepath.Join("/", rel), filepath.Join("/", b.rest)) {
			return d.path, y, true
		}
	}
	return "", "", false
}

// resolve returns the clean absolute path p with the symlinks of its
// existing part resolved (rpmirror creates the rest, as directories); p
// itself when nothing of it can be resolved.
func resolve(p string) string {
	if p == "" {
		return ""
	}
	rest := ""
	for dir := p; ; dir = filepath.Dir(dir) {
		if real, err := filepath.EvalSymlinks(dir); err == nil {
			return filepath.Join(real, rest)
		}
		if dir == filepath.Dir(dir) {
			return p
		}
		rest = filepath.Join(filepath.Base(dir), rest)
	}
}

func or(line, fallback int) int {
	if line > 0 {
		return line
	}
	return fallback
}

// ownTree says which directory inside the existing, writable directory
// root (at depth one or two), or which file in its subdirectory lockDir,
// rpmirror could not write, or returns "". state_dir is rpmirror's own:
// a command run once as another user (sudo rpmirror sync, before the
// service's user took over) leaves directories and lock files that user
// owns, and every later sync fails on them ("locking REPO: open
// .../locks/REPO.lock: permission denied") while state_dir itself looks
// fine. Deeper files are only ever replaced by rename, which the
// directory's permission decides; symlinks are not followed.
func ownTree(root, lockDir string) string {
	top, err := os.ReadDir(root)
	switch {
	case missing(err):
		return "" // created by rpmirror, as its user
	case err != nil:
		return fmt.Sprintf("cannot be read: %s", errText(err))
	}
	for _, d := range top {
		if !d.IsDir() {
			continue
		}
		dir := filepath.Join(root, d.Name())
		if problem := ownFiles(root, d.Name()); problem != "" {
			return problem
		}
		ents, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Sprintf("%q cannot be read: %s", dir, errText(err))
		}
		for _, e := range ents {
			if e.IsDir() || (d.Name() == lockDir && e.Type().IsRegular()) {
				if problem := ownFiles(root, d.Name()+"/"+e.Name()); problem != "" {
					return problem
				}
			}
		}
	}
	return ""
}

// ownFiles says which of the paths below root, where they exist, rpmirror
// could not write (a directory: create and remove entries in; a file:
// open for writing), or returns "".
func ownFiles(root string, rels ...string) string {
	for _, rel := range rels {
		p := filepath.Join(root, filepath.FromSlash(rel))
		fi, err := os.Lstat(p)
		if err != nil || !(fi.IsDir() || fi.Mode().IsRegular()) {
			continue // missing, or refused elsewhere (a symlink)
		}
		mode := uint32(unix.W_OK)
		if fi.IsDir() {
			mode |= unix.X_OK | unix.R_OK
		}
		if err := unix.Access(p, mode); err != nil {
			return fmt.Sprintf("%q is not writable (%v): was rpmirror run as another user (root?) before? chown -R %q to the user rpmirror runs as", p, err, root)
		}
	}
	return ""
}

// writableDir says why rpmirror could not write files under the directory
// p, creating it if need be, or returns "".
func writableDir(p string) string {
	fi, err := os.Stat(p)
	switch {
	case err == nil:
		if !fi.IsDir() {
			return "exists and is not a directory"
		}
		if err := unix.Access(p, unix.W_OK|unix.X_OK); err != nil {
			return fmt.Sprintf("directory is not writable (%v)", err)
		}
		return ""
	case !missing(err):
		return "cannot be checked: " + errText(err)
	}
	for dir := filepath.Dir(p); ; dir = filepath.Dir(dir) {
		fi, err := os.Stat(dir)
		switch {
		case err == nil && !fi.IsDir():
			return fmt.Sprintf("cannot be created: %q is not a directory", dir)
		case err == nil:
			if err := unix.Access(dir, unix.W_OK|unix.X_OK); err != nil {
				return fmt.Sprintf("cannot be created: %q is not writable (%v)", dir, err)
			}
			return ""
		case !missing(err):
			return fmt.Sprintf("cannot be created: %q: %s", dir, errText(err))
		case dir == filepath.Dir(dir):
			return "cannot be created: no ancestor exists"
		}
	}
}

// writableFile says why rpmirror could not append to the file p,
// creating it (and its directory) if need be, or returns "".
func writableFile(p string) string {
	fi, err := os.Stat(p)
	switch {
	case err == nil:
		if !fi.Mode().IsRegular() {
			return "exists and is not a regular file"
		}
		if err := unix.Access(p, unix.W_OK); err != nil {
			return fmt.Sprintf("file is not writable (%v)", err)
		}
		return ""
	case !missing(err):
		return "cannot be checked: " + errText(err)
	}
	if dir := filepath.Dir(p); writableDir(dir) != "" {
		return fmt.Sprintf("directory %q: %s", dir, writableDir(dir))
	}
	return ""
}

// geoProblem is the reason of a geo.Check error without the path, which
// the message already shows.
func geoProblem(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	if errors.Is(err, geo.ErrNotGeoIP) {
		return geo.ErrNotGeoIP.Error()
	}
	return err.Error()
}

// readableDir says why files under the directory p could not be read, or
// returns "".
func readableDir(p string) string {
	fi, err := os.Stat(p)
	switch {
	case err != nil:
		return errText(err)
	case !fi.IsDir():
		return fmt.Sprintf("%q is not a directory", p)
	}
	if err := unix.Access(p, unix.R_OK|unix.X_OK); err != nil {
		return fmt.Sprintf("%q is not readable (%v)", p, err)
	}
	return ""
}

// keyFile says why p is not a usable key file, or returns "".
func keyFile(p string) string {
	fi, err := os.Stat(p)
	switch {
	case err != nil:
		return errText(err)
	case !fi.Mode().IsRegular():
		return "not a regular file"
	case fi.Size() > maxKeyFileSize:
		return fmt.Sprintf("larger than %d MiB: not a key file", maxKeyFileSize>>20)
	}
	if _, err := verify.LoadKeyFile(p); err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return errText(err)
		}
		return "not a usable OpenPGP public key file: " + trimPrefixes(err.Error(), "key file "+p+": ", "reading key file "+p+": ")
	}
	return ""
}

// signingKeyFile says why p is not a usable sign_with file, or returns
// "".
func signingKeyFile(p string) string {
	fi, err := os.Stat(p)
	switch {
	case err != nil:
		return errText(err)
	case !fi.Mode().IsRegular():
		return "not a regular file"
	case fi.Size() > maxKeyFileSize:
		return fmt.Sprintf("larger than %d MiB: not a key file", maxKeyFileSize>>20)
	}
	_, err = verify.LoadSigningKey(p)
	var pe *fs.PathError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &pe):
		return errText(err)
	case errors.Is(err, verify.ErrNoSecretKey):
		return "holds no OpenPGP secret key (export one with gpg --export-secret-keys --armor KEYID)"
	case errors.Is(err, verify.ErrSeveralSecretKeys):
		return "holds more than one OpenPGP secret key: keep only the one that signs"
	case errors.Is(err, verify.ErrKeyProtected):
		return "the secret key is protected by a passphrase, which rpmirror cannot type: use a key without one, readable only by rpmirror"
	case errors.Is(err, verify.ErrCannotSign):
		return "the key cannot sign: it has no secret key flagged for signing, or it expired or was revoked"
	}
	return "not a usable OpenPGP secret key file: " + trimPrefixes(err.Error(), "signing key "+p+": ")
}

func trimPrefixes(s string, prefixes ...string) string {
	for _, p := range prefixes {
		if t, ok := strings.CutPrefix(s, p); ok {
			return t
		}
	}
	return s
}

// missing reports whether err says a path does not exist, including a
// path under a regular file.
func missing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// errText is the reason of a *fs.PathError without the operation and path,
// which the message already shows.
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// notRegular says why p, a file rpmirror reads whole, is not a regular
// file, or returns "": reading a FIFO (or a device) there would wait for
// ever, and rpmirror check with it (gpgkeys and sign_with said "not a
// regular file"; geoip_db, api_token_file, origin_auth_file, ca_file and
// an s3 mirror's credentials_file hung).
func notRegular(p string) string {
	fi, err := os.Stat(p)
	if err != nil {
		return errText(err)
	}
	if !fi.Mode().IsRegular() {
		return "not a regular file"
	}
	return ""
}

// caFile says what is wrong with a file of PEM certificates, or "".
func caFile(p string) string {
	if problem := notRegular(p); problem != "" {
		return problem
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return errText(err)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(b) {
		return "holds no PEM certificate"
	}
	return ""
}
