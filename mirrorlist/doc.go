// Package mirrorlist renders what dnf reads from a repository's
// mirrorlist= and metalink= URLs: a plain list of mirror base URLs (Text)
// and a metalink 3.0 document that also carries repomd.xml's size and
// hashes (Metalink, with Describe to compute them). Both list mirrors in
// the order given; Sort puts healthy mirrors in the order clients should
// try them: priority (lower first, 0 meaning DefaultPriority, 100), then
// measured latency (lower first, unmeasured last), then URL.
//
// What dnf 4 (libdnf, librepo 1.14) does with each part is below. Lines
// marked "verified" are pinned by TestDNFMirrorlist and TestDNFMetalink,
// which run the real dnf against documents made here; the rest comes from
// librepo's and libdnf's sources.
//
// # Mirrorlist
//
// librepo reads the document line by line. Leading blanks are skipped; a
// line whose first other character is '#' is a comment and ignored even
// when it holds a URL (verified); any other line containing "://" (or
// starting with '/') is a mirror base URL, trailing blanks and "\n" (not
// "\r") removed. A document without URLs fails ("No URLs in mirrorlist"),
// so Text, given no usable mirror, writes a comment and the origin's URL:
// dnf then reads the origin (verified).
//
// dnf tries the URLs in order: a dead mirror is skipped, and the first
// that answers serves repomd.xml and everything after it (verified).
// Nothing tells dnf what repomd.xml to expect, so a stale mirror's old
// metadata is accepted (verified): repo_gpgcheck proves who signed it, not
// that it is current. That is what metalinks are for.
//
// # Metalink
//
// librepo parses with expat, without namespace processing: element names
// are compared as written, so the MirrorManager prefix must be exactly
// "mm0". It reads metalink > files > the first file named "repomd.xml",
// and in it mm0:timestamp, size, verification > hash (by its type
// attribute), mm0:alternates > mm0:alternate (each with mm0:timestamp,
// size and verification), and resources > url. The metalink element's
// attributes (version, type, pubdate, generator) are not read.
//
// Hashes. librepo takes the strongest hash of the current file (sha512
// when all four are given) and of each alternate, and accepts a
// repomd.xml matching any of them. A mirror serving another repomd.xml is
// rejected ("Downloading successful, but checksum doesn't match", in
// dnf.log) and the next url is tried (verified); when none matches, dnf
// fails with "All mirrors were tried" (verified). librepo still asks a
// rejected mirror first for the other metadata files (observed: it 404s
// there and the next mirror serves them, each checked against
// repomd.xml), so a stale mirror costs requests: leave stale mirrors out. Without hashes,
// librepo checks nothing.
//
// Alternates. A mirror serving an earlier repomd.xml listed in
// mm0:alternates is accepted, and its clients get that older metadata
// (verified). Listing the revisions published in the last hours keeps
// mirrors that are a sync behind usable. But libdnf, on each metadata
// check, revives its cache without downloading when the cached
// repomd.xml matches the current file's sha512 and sha256 (verified), and
// compares with current only: a client holding an alternate downloads
// repomd.xml again at every check (verified).
//
// Size and mm0:timestamp are parsed and not checked by librepo or libdnf
// (verified with wrong values). yum 3 required both to equal its own
// reading of repomd.xml, whose timestamp is the newest <timestamp> of the
// data entries: Describe uses that by default.
//
// URLs. A url's text is the mirror's base URL followed by
// "repodata/repomd.xml", which librepo strips to get the base URL back.
// It joins every path it fetches to a base URL before any '?' in it, so
// a base URL with a query string (an access token) works: the query is
// sent with every request (verified), & escaped as &amp; in the XML. Only
// librepo reads such a url that way; a client fetching the text literally
// would not. The urls are tried in document order: preference is parsed
// (0 to 100) and not used (verified with preferences reversed).
// Metalink writes 100 for the first url and one less for each next, never
// below 1, as MirrorManager does, for clients that sort by it. protocol,
// type and location are parsed and not used; librepo detects the
// protocol from the URL. With no usable mirror, Metalink lists the origin
// after an XML comment saying so (verified).
//
// libdnf also reads a metalink given as mirrorlist= when that URL
// contains "metalink", a yum compatibility rule (verified).
//
// # URLs written
//
// Both renderers leave out URLs dnf could not use or that would break
// the document (see Usable: no scheme, blanks, control characters, raw
// non-ASCII, a fragment), list each URL once, and add the trailing "/" to
// a base URL without one unless it has a query string.
package mirrorlist
