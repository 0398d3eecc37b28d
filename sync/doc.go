// Package sync is rpmirror's engine: it brings the written mirrors of one
// repository up to date with the repository's origin.
//
// A sync runs in four phases, and only the last one touches a mirror:
//
//  1. Plan. Fetch the origin's repodata/repomd.xml. A mirror whose
//     repomd.xml (and .asc and .key) is byte-identical is current and costs
//     nothing more. For the others, fetch the metadata files they lack and
//     stream the origin's primary metadata against an index of what each
//     mirror serves now, to find the packages each one lacks.
//  2. Fetch. Download every package some mirror lacks, once, into the
//     download cache in state_dir, with bounded concurrency, retries and
//     resume.
//  3. Verify. Before a download gets its final name in the cache, check its
//     size, checksum, RPM header (name, epoch, version, release, arch) and,
//     when gpgkeys are configured, its signature. Any failure fails the
//     repository's sync and leaves every mirror as it was.
//  4. Publish. Per mirror: store packages at paths the served repository
//     does not use, then make the new metadata, repomd.xml and any package
//     replaced under the same name visible in one atomic step
//     (target.Target.Commit). Files the previous revision referenced and
//     the new one does not are deleted once prune_after has passed.
//
// A process killed at any point leaves each mirror serving either its old
// revision or the new one, complete; verified downloads stay in the cache,
// so the next sync does not fetch them again.
package sync
