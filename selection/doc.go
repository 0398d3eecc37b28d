// Package selection chooses, for one client, which mirrors to list and in
// what order, the way MirrorManager's mirrorlist server and mirrorbits do
// it, in plain functions that the server calls per request:
//
//   - ClientAddr finds the client's address behind trusted proxies
//     (X-Forwarded-For is read only when the connection comes from one,
//     and from the right: the first address not of a trusted proxy is the
//     client);
//   - a Set holds a repository's listable mirrors, prepared once whenever
//     probes or syncs change them, and Order ranks them for a client.
//
// Order puts mirrors in tiers, best first:
//
//  1. place: mirrors with a network (CIDR) holding the client's address,
//     the most specific network first; then mirrors in the client's
//     country; then on its continent; then the rest;
//  2. within a place, state: ok mirrors before behind ones (serving an
//     earlier verified revision);
//  3. within that, priority, lower first (the operator's preference).
//
// Within a tier the order is a weighted random shuffle, new for every
// request: each mirror's chance to come first is its weight divided by
// the tier's total weight, and the rest follow as if drawn again from
// those left (MirrorManager's weighted_shuffle gives the same
// distribution). Equal mirrors so share the load in proportion to their
// weights instead of every client trying the first.
//
// A private mirror is listed only to clients inside one of its networks.
// A protocol filter keeps only mirrors whose URL has that scheme.
//
// The package knows nothing of HTTP routes, configuration or health:
// callers turn those into Mirrors and a Client.
package selection
