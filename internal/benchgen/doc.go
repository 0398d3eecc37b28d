// Package benchgen generates the large inputs of rpmirror's benchmarks
// (scripts/bench*.sh): synthetic primary metadata at distribution scale,
// with a valid repomd.xml, in gzip and zstd, and two revisions of it that
// differ in a chosen number of packages; and signed RPM repositories built
// with internal/testrepo, with a second revision in which a few packages
// were updated.
//
// Nothing here is used by rpmirror itself.
package benchgen
