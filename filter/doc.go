// Package filter writes the metadata of a filtered mirror: a repository
// holding only the packages an operator wants (some arches, some names,
// the newest versions of each), described by metadata rpmirror writes
// itself from the origin's.
//
// Write reads the origin's repomd.xml and metadata files and writes new
// primary, filelists, other and filelists-ext files (those the origin
// has) holding exactly the kept packages' <package> elements, each copied
// byte for byte from the origin's, with the packages="N" counts of the
// new documents. Each is compressed as the origin's was (zstd, xz, gzip,
// bzip2 or none) and named for its SHA-256, as createrepo_c names them.
// The new repomd.xml lists them with their checksums, sizes, open
// checksums and open sizes, and the origin's timestamps, revision and
// tags (<content>, <repo> and <distro>, which dnf shows as Repo-tags and
// Repo-distro-tags); other elements of the origin's repomd.xml outside
// <data> are not carried.
//
// The contract, on which mirrors rely:
//
//   - Deterministic: the same origin metadata and the same Rules always
//     give byte-identical files and repomd.xml (no clock, no random
//     names, compressors that write no time or name and whose output
//     depends on the bytes alone, not on how they are cut into writes
//     or on which goroutine runs first), so two daemons, a re-run, a
//     restart or a repair write the same revision with the same hashes.
//   - Streaming: memory does not grow with the size of the metadata but
//     with the number of packages kept (a few dozen bytes each) and, for
//     Newest, the number of distinct name.arch. Primary is read once;
//     the packages the arch and name rules keep are spooled to a file in
//     the output directory until Newest has seen every package. Reading
//     primary takes one goroutine (the caller decompresses on another);
//     spooling, and hashing what is written while it is compressed,
//     take one more each.
//   - Exact: a filelists, other or filelists-ext file must describe each
//     kept package as many times as primary lists it, else Write fails
//     with a *MismatchError; nothing half-written is returned.
//   - Other metadata: group (comps), updateinfo, modules and the like
//     are carried as they are (listed in the new repomd.xml with the
//     origin's checksums and locations); sqlite databases (*_db) and
//     zchunk files (*_zck, .zck) are dropped, since dnf reads the XML;
//     types filter does not know are carried and listed in
//     Result.Unknown. Newest on a repository with modules metadata is
//     refused with a *ModulesError: modular streams need the older
//     versions newest would drop.
//
// Write does not verify what it reads: the caller opens the origin's
// files after checking their checksums (and open checksums).
package filter
