// Package health probes mirrors of a yum/dnf repository the way a client
// would, and keeps track of what the probes found.
//
// The motivating failure is a download server whose disk died and which
// then answered 403 to every request for hours while nothing noticed. A
// port check or a "GET /" would not have caught it; fetching what dnf
// fetches does. A probe (Prober.Probe) therefore:
//
//  1. GETs <base>repodata/repomd.xml, reads it with a size limit and
//     parses it with repodata.ParseRepomd;
//  2. compares it byte for byte with the repomd.xml expected (Probe), or
//     hands it and its sha256 to the caller, which says whether it is a
//     revision it accepts and which packages that revision has (Check:
//     rpmirror serve accepts the revisions it verified);
//  3. checks one package of that revision, chosen at random, with a
//     HEAD request (or, when HEAD is refused with 405 or 501, a GET of its
//     first byte), so that a server that still serves metadata but no
//     longer serves packages is caught; and, when the caller gives the
//     package's size (Package.Size, from the revision's primary
//     metadata), compares it with the size served: the HEAD answer's
//     Content-Length, or when it has none, the total of the
//     Content-Range of a GET of the first byte. A package cut short (a
//     disk that filled up during an rsync) or replaced makes the mirror
//     Down with a *SizeError; one whose size the mirror does not tell
//     at all (no Content-Length, Range ignored and no length either)
//     makes it Down too (ErrSizeUnknown): rpmirror sends clients only
//     to copies it checked;
//  4. checks one of the metadata files the repomd.xml lists (relative
//     hrefs without xml:base), chosen at random, the same way against
//     the <size> the repomd.xml gives it (a *SizeError with Metadata
//     set), but not its first byte. CheckAgain checks again the file the
//     mirror's last probe found wrong, so the mirror does not flap back
//     up while it is.
//
// A mirror found Down on a file past repomd.xml whose repomd.xml changed
// meanwhile (it published a revision while it was probed) is probed once
// more, within the same deadline, rather than reported Down.
//
// The outcome is one of three states:
//
//   - OK: the mirror serves the repomd.xml expected (or one accepted),
//     byte-identical, and the sampled package;
//   - Stale: it serves a valid repomd.xml that is not expected (an older
//     revision, usually). The package is not checked: it belongs to a
//     revision the mirror does not claim to have;
//   - Down: anything a client would fail on: an HTTP error status, a
//     timeout, a connection or TLS error, a redirect loop, a body that is
//     not a repomd.xml, a package or metadata file that cannot be
//     fetched or is served at a size other than the metadata's.
//
// Behind is the state of a mirror serving an earlier revision that is
// still accepted; Probe and Check never return it: the caller, which
// knows the revisions and how late a mirror may be, decides it from
// Result.SHA256.
//
// The origin is probed the same way, with no repomd.xml to compare with:
// it is OK or Down, never Stale.
//
// A probe never hangs (Prober.Timeout bounds all of it, stalled bodies
// included), never reads more than a bounded amount of any body, and
// closes every response, so a daemon can probe many mirrors every minute
// for months. Reasons name what was requested relative to the mirror's
// base URL ("HEAD Packages/a/a-1.rpm: 404 Not Found"), never a full URL,
// so they carry no credentials.
//
// SamplePackages picks the packages to sample from a primary.xml with
// bounded memory, and Tracker keeps the latest Result per mirror and
// reports state changes, for alerts, metrics and the mirror lists.
package health
