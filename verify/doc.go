// Package verify checks that bytes are what repository metadata says they
// are: sizes and checksums (as readers that verify while bytes stream), the
// name, epoch, version, release and arch in an RPM's header, OpenPGP
// signatures over an RPM's header and payload and detached ones over
// repomd.xml (DetachedSigner), and what an OpenPGP key file holds, read
// strictly for a repomd.xml.key a sync judges (ParsePublicKeys) or
// leniently for configured keys (ParseKeys).
//
// Failures are typed (*ChecksumError, *SizeError, *HeaderMismatchError,
// *SignatureError) so callers can tell a corrupt download, which is worth
// retrying, from a package that is wrong at its origin, which is not.
package verify
