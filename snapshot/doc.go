// Package snapshot keeps the revisions rpmirror publishes to a written
// mirror as immutable snapshots inside it, the way oVirt's CI mirrors do:
// MIRROR/snapshots/NAME/ holds one revision's repodata/ and every package
// at the same relative location, byte-identical to what was published,
// NAME being the publish time in UTC (20261126T120000Z): the time the
// revision was first published to the repo's mirrors, since a mirror that
// publishes it later takes the name the others hold it under
// (Revision.Shared), so that one revision has one name on every mirror. A
// client whose baseurl is a snapshot sees a repository that never changes.
//
// MIRROR/snapshots/latest.txt names the newest snapshot and
// MIRROR/snapshots/index.json lists them all; both are replaced
// atomically. The directories are the truth: an index that a killed
// process did not get to rewrite is mended from them the next time.
//
// Snapshots are taken through target.Snapshotter. On a local mirror they
// are hard links, so a package shared by many snapshots and the current
// tree is stored once, and it is freed when the last of them lets go of
// it: the current tree's pruning (prune_after) removes only its own link,
// never what a kept snapshot holds. In object storage they are
// server-side copies, each stored (and billed) again
// (Properties.SnapshotsShareFiles), taken file by file with
// repodata/repomd.xml last and removed with it first: a directory without
// repomd.xml is no snapshot (Read leaves it out) and the next Maintain
// completes or removes it.
package snapshot
