// Package safefs creates, opens, replaces and locks files below a trusted
// directory (a mirror's root, state_dir) without ever following a symlink
// below it. Anyone who can write into a mirror (a web upload area, a
// compromised web server) could otherwise plant a symlink and make
// rpmirror, often running as root, truncate, write or delete a file
// anywhere.
//
// Opens use openat2(2) with RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS where the
// kernel has it (Linux 5.6), and otherwise check every element with
// lstat(2) and open the last one with O_NOFOLLOW. A symlink met on the way
// is reported as a *SymlinkError naming it; what it points at is never
// touched. The root itself may be a symlink: callers resolve it once, at
// start.
package safefs
