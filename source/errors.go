package source

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNoUsableUpstream is matched (errors.Is) by the error of a Choose or
// Open that found no upstream to sync from: every one failed, each for
// the reason its *UpstreamError says. A sync that meets it changed
// nothing; it is skipped, not failed, unless an upstream's revision was
// refused (see NoUsableUpstreamError.Refused).
var ErrNoUsableUpstream = errors.New("no usable upstream")

// UpstreamError is a failure of one upstream (or of the metalink or
// mirrorlist upstreams are taken from): what was being done (Op), where
// (URL, redacted: it never holds credentials) and why (Err, a
// *fetch.StatusError, fetch.ErrStalled, a *MetalinkMismatchError, a
// parse error, or what the caller's accept returned).
type UpstreamError struct {
	URL   string
	Op    string // "fetching repodata/repomd.xml", "reading repodata/repomd.xml", "checking repodata/repomd.xml", "fetching the metalink"
	Stage Stage  // what failed, for callers that branch on it
	Err   error
}

// Stage says at which step an upstream failed.
type Stage int

const (
	// StageFetch: a request failed (an HTTP error status, a timeout, a
	// stall, a refused connection, a bad certificate): the upstream is
	// unreachable or refuses us, as a probe sees it too.
	StageFetch Stage = iota
	// StageParse: what it served does not parse (repomd.xml, the
	// metalink), or changed while it was read.
	StageParse
	// StageMetalink: its repomd.xml does not match the metalink.
	StageMetalink
	// StageAccept: the caller refused its revision (a rollback, a bad
	// signature, unsafe metadata).
	StageAccept
)

func (e *UpstreamError) Error() string { return e.Op + " from " + e.URL + ": " + e.Err.Error() }

func (e *UpstreamError) Unwrap() error { return e.Err }

// NoUsableUpstreamError is returned when no upstream is usable; Errs
// holds one error per upstream tried, in order. It matches
// ErrNoUsableUpstream, and errors.As reaches each upstream's error.
type NoUsableUpstreamError struct {
	Errs []*UpstreamError
}

func (e *NoUsableUpstreamError) Error() string {
	var b strings.Builder
	b.WriteString(ErrNoUsableUpstream.Error())
	switch len(e.Errs) {
	case 0:
		b.WriteString(": the origin lists no upstream")
	case 1:
		b.WriteString(": ")
		b.WriteString(e.Errs[0].Error())
	default:
		fmt.Fprintf(&b, " (%d tried): ", len(e.Errs))
		for i, err := range e.Errs {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(err.Error())
		}
	}
	return b.String()
}

func (e *NoUsableUpstreamError) Is(target error) bool { return target == ErrNoUsableUpstream }

// Refused reports whether some upstream answered and its revision was
// refused by the caller (StageAccept: a rollback, a bad signature, unsafe
// metadata), rather than every upstream being unreachable, unreadable or
// not matching the metalink. Such a sync needs a person: it fails rather
// than being skipped.
func (e *NoUsableUpstreamError) Refused() bool {
	for _, err := range e.Errs {
		if err.Stage == StageAccept {
			return true
		}
	}
	return false
}

func (e *NoUsableUpstreamError) Unwrap() []error {
	errs := make([]error, len(e.Errs))
	for i, err := range e.Errs {
		errs[i] = err
	}
	return errs
}

// MetalinkMismatchError is an upstream's repomd.xml that is neither the
// file the metalink describes nor one of its alternates: a stale or
// tampered mirror.
type MetalinkMismatchError struct {
	Size int64  // size of the repomd.xml the upstream served
	Hash string // its digest, type:hex, of the strongest type the metalink uses
}

func (e *MetalinkMismatchError) Error() string {
	return fmt.Sprintf("repomd.xml (%d bytes, %s) matches neither the metalink's size and hashes nor any of its alternates", e.Size, e.Hash)
}

// LocalFileError is a file of a revision taken from a written mirror on
// this machine (Source.UseLocal) that was not at its destination, or
// failed its check there: the mirror does not hold it intact.
type LocalFileError struct {
	Mirror string // the mirror's name
	Href   string
	Err    error
}

func (e *LocalFileError) Error() string {
	return fmt.Sprintf("no usable upstream, and mirror %q on this machine holds no intact copy (rpmirror verify says what is wrong there): %v", e.Mirror, e.Err)
}

func (e *LocalFileError) Unwrap() error { return e.Err }
