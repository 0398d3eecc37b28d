// Package source is where a repository's content comes from: its origin,
// made of one or more upstreams that serve the same repository.
//
// A repo's origin is a list of base URLs (mirrors.yaml origin: one URL or
// a list), or is taken from a metalink or a mirrorlist (origin_metalink,
// origin_mirrorlist), as Fedora and EPEL publish them. A Source holds
// what every request to the origin needs: the TLS settings (tls: ca_file,
// insecure) and the credentials of origin_auth_file, which go to the
// primary upstream only (the first URL of origin, or the metalink or
// mirrorlist URL itself), never to another host.
//
// The contracts a sync relies on:
//
//   - Choose reads repodata/repomd.xml, with repomd.xml.asc and
//     repomd.xml.key when the upstream has them, from one upstream at a
//     time, in order, and returns the first Snapshot that reads
//     consistently (repomd.xml is read again after its signature: an
//     upstream publishing in between is read again, so a signature never
//     belongs to another revision), matches the metalink (size and every
//     hash of the file or of one of its mm0:alternates, as librepo
//     checks it) and that the caller accepts. An upstream that fails any
//     of that (a 403, a timeout, a wrong hash, or what the caller refuses: an
//     older revision, a bad signature) is
//     skipped for the next. When none is usable, Choose returns a
//     *NoUsableUpstreamError (errors.Is ErrNoUsableUpstream) that says why
//     for each upstream: the caller skips the sync, it does not fail it.
//   - Every metadata file of a sync comes from the upstream Choose picked:
//     revisions are never mixed. File fetches a file the snapshot's
//     metadata names from that upstream and, when that fails, from the
//     next upstream serving the same revision (byte-identical
//     repomd.xml); the caller's check (checksums) protects every byte,
//     wherever it came from.
//   - Every error about an upstream is an *UpstreamError carrying its
//     redacted URL; callers branch with errors.As and errors.Is, never on
//     the text.
package source
