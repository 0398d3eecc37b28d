// Package checker is an independent consistency checker for a mirror
// directory, written for tests: it shares no code with rpmirror's
// repodata, verify or sync packages, so a bug there cannot hide itself.
//
// Check reads repodata/repomd.xml with encoding/xml, checks that every
// metadata file it names is present with the size and checksum it gives,
// decompresses the primary metadata (gzip, xz, zstd, bzip2 or plain,
// recognised by content) and checks every package it names the same way.
// When repodata/repomd.xml.asc is present it must be a valid signature of
// repomd.xml. DNF asks dnf itself what it sees at the mirror.
package checker
