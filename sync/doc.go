// Package sync is rpmirror's engine: it brings the written mirrors of one
// repository up to date with the repository's origin.
//
// A sync is source -> plan -> fetch -> publish -> prune, and only the
// last two touch a mirror:
//
//  1. Source. Fetch the origin's repodata/repomd.xml (package source picks
//     the upstream). A mirror whose repomd.xml (and .asc and .key) is
//     byte-identical is current and costs nothing more.
//  2. Plan. For the others, fetch the metadata files they lack and stream
//     the origin's primary metadata against an index of what each mirror
//     serves now. The result is a Plan, a value: what is fetched, and for
//     each mirror what is stored where before the commit, what the commit
//     carries in order, what it removes and what is pruned, each with its
//     reason. A dry run stops here and reports the plan.
//  3. Fetch. Download every package of the plan once, into the download
//     cache in state_dir, with bounded concurrency, retries and resume.
//     Before a download gets its final name in the cache, check its size,
//     checksum, RPM header (name, epoch, version, release, arch) and, when
//     gpgkeys are configured, its signature. Any failure fails the
//     repository's sync and leaves every mirror as it was.
//  4. Publish. Per mirror, carry out its plan: store packages at paths the
//     served repository does not use, then make the new metadata,
//     repomd.xml and any package replaced under the same name visible in
//     one commit (target.Target.Commit), atomic where the target's
//     Properties say it can be, else in the plan's classic order.
//  5. Prune. Files the previous revision referenced and the new one does
//     not are deleted once prune_after has passed.
//
// A process killed at any point leaves each mirror serving either its old
// revision or the new one, complete; verified downloads stay in the cache,
// so the next sync does not fetch them again.
package sync
