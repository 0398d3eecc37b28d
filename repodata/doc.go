// Package repodata reads the metadata of yum/dnf repositories: the
// repodata/repomd.xml index, the (compressed) files it lists, and the
// packages of primary.xml.
//
// A mirror reads a repository in three steps:
//
//	repomd, err := repodata.ParseRepomd(repomdXML)   // what the metadata files are
//	primary, _ := repomd.Find("primary")             // one of them, with its checksums
//	rc, err := repodata.Decompress(body, primary.Href) // gzip, xz, zstd, bzip2 or none
//	pr := repodata.NewPrimaryReader(rc)              // the packages, one at a time
//
// Everything here reads untrusted input: a mirror's origin can be broken or
// hostile. The readers are strict and bounded. They refuse DOCTYPE and
// entity declarations, malformed and truncated documents, and missing
// required fields, with errors that say what is wrong and where
// ("primary.xml:57: package 17 (foo): missing <location href>"); a
// truncated document is an error that matches io.ErrUnexpectedEOF, never a
// shorter list. PrimaryReader streams: its memory does not grow with the
// size of the document, and it parses several hundred MB/s. Decompress
// refuses xz and zstd streams that ask for huge decoder windows.
//
// A program that rewrites metadata (see the filter package) gets each
// package element byte for byte as written: PrimaryReader.KeepRaw and
// Raw for primary.xml, EntryReader for filelists.xml, other.xml and
// filelists-ext.xml, and Root for the root start tag.
//
// The package does not verify checksums or sizes as it reads; wrap readers
// for that (see the verify package). Hrefs are returned as written: a
// caller that turns one into a path must reject "..", absolute paths and
// the like.
package repodata
