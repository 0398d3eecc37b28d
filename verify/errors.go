package verify

import (
	"errors"
	"fmt"
)

// SizeError reports content whose length is not the length metadata declared.
type SizeError struct {
	Want, Got int64
}

func (e *SizeError) Error() string {
	if e.Got > e.Want {
		return fmt.Sprintf("size mismatch: want %d bytes, got more (at least %d)", e.Want, e.Got)
	}
	return fmt.Sprintf("size mismatch: want %d bytes, got %d", e.Want, e.Got)
}

// ChecksumError reports content whose digest is not the one metadata declared.
type ChecksumError struct {
	Type      string
	Want, Got string
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("%s checksum mismatch: want %s, got %s", e.Type, e.Want, e.Got)
}

// HeaderMismatchError reports an RPM whose header names a different package
// than the metadata entry it was fetched for.
type HeaderMismatchError struct {
	Field     string // "name", "epoch", "version", "release" or "arch"
	Want, Got string
}

func (e *HeaderMismatchError) Error() string {
	return fmt.Sprintf("rpm header %s is %q, metadata says %q", e.Field, e.Got, e.Want)
}

// CorruptError reports bytes that are not a readable RPM: a bad lead, a
// header that does not parse, or header and payload digests that do not
// match the content.
type CorruptError struct {
	Err error
}

func (e *CorruptError) Error() string { return "corrupt rpm: " + e.Err.Error() }
func (e *CorruptError) Unwrap() error { return e.Err }

// Reasons a signature check fails, carried by SignatureError.
var (
	// ErrUnsigned: the package (or repomd.xml) carries no OpenPGP
	// signature at all. Its text names no package: repomd.xml.asc's
	// check says it too.
	ErrUnsigned = errors.New("not signed")
	// ErrUnknownKey: the package is signed, but by no configured key.
	ErrUnknownKey = errors.New("signed by a key that is not configured")
	// ErrBadSignature: a signature by a configured key does not verify.
	ErrBadSignature = errors.New("signature does not verify")
	// ErrNoPayloadCoverage: the only valid signatures cover the header, and
	// the header carries no payload digest, so the payload is unprotected.
	ErrNoPayloadCoverage = errors.New("no signature covers the payload")
	// ErrKeyRevoked: the signing key (or its subkey) has been revoked.
	ErrKeyRevoked = errors.New("signed by a revoked key")
	// ErrKeyExpired: the signature was made after the signing key expired.
	ErrKeyExpired = errors.New("signed after the signing key expired")
	// ErrUnsupported: a signature or key format this program cannot check,
	// such as RPM 6 signatures or OpenPGP v6 keys.
	ErrUnsupported = errors.New("signature format not supported")
)

// SignatureError reports a package whose signatures do not satisfy the
// configured keys. Reason is one of the Err* values above; errors.Is works.
type SignatureError struct {
	Reason error
	KeyID  string // the signing key's id in hex, when known
	Detail string // what the OpenPGP library said, when it said something
}

func (e *SignatureError) Error() string {
	s := "signature check failed: " + e.Reason.Error()
	if e.KeyID != "" {
		s += " (key " + e.KeyID + ")"
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func (e *SignatureError) Unwrap() error { return e.Reason }

// Permanent reports whether err says the content itself is wrong, so that
// fetching the same URL again cannot help... except that a truncated or
// corrupted transfer also shows up as a size or checksum mismatch, so those
// are retried a bounded number of times by the caller. Signature, header
// and RPM digest problems are properties of the package and are never
// retried: RPM reports one only for bytes that match the checksum the
// metadata gives (a mismatch explains anything else), so the same bytes
// would come again (a tester's package with a bad payload digest was
// fetched four times).
func Permanent(err error) bool {
	var se *SignatureError
	var he *HeaderMismatchError
	var ce *CorruptError
	return errors.As(err, &se) || errors.As(err, &he) || errors.As(err, &ce)
}
