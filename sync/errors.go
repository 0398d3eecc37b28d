package sync

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rpmirror/rpmirror/state"
)

// RepomdSignatureError reports an origin revision refused because its
// repomd.xml is not signed as repo_gpgcheck requires: no
// repodata/repomd.xml.asc, a signature that does not verify, or one by a
// key not in repo_gpgkeys. Err is a *verify.SignatureError (errors.Is
// works with verify's reasons). Nothing was published.
type RepomdSignatureError struct {
	Origin   string // redacted origin URL
	Revision string // the refused revision, as repomd.xml says
	Err      error
}

func (e *RepomdSignatureError) Error() string {
	return fmt.Sprintf("origin %s revision %s refused: repomd.xml %v", e.Origin, e.Revision, e.Err)
}

func (e *RepomdSignatureError) Unwrap() error { return e.Err }

// RollbackError reports an origin whose repomd.xml is older than the
// revision rpmirror last published: one it published before (a replay),
// or one whose revision or newest timestamp is older. It is refused unless
// allow_rollback (or sync --allow-rollback) is set. Nothing was published.
type RollbackError struct {
	Origin string // redacted origin URL
	// Revision and Timestamp describe the origin's repomd.xml; Current
	// ones the revision the mirrors hold.
	Revision, CurrentRevision   string
	Timestamp, CurrentTimestamp time.Time // newest <timestamp>; zero when none
	Replay                      bool      // the origin serves a repomd.xml published earlier
}

func (e *RollbackError) Error() string {
	why := fmt.Sprintf("its revision %s is older than the current revision %s", e.Revision, e.CurrentRevision)
	switch {
	case e.Replay:
		why = fmt.Sprintf("it serves revision %s again, which revision %s replaced", e.Revision, e.CurrentRevision)
	case !e.Timestamp.IsZero() && !e.CurrentTimestamp.IsZero() && e.Timestamp.Before(e.CurrentTimestamp):
		why = fmt.Sprintf("its metadata (revision %s, newest timestamp %s) is older than the current revision %s (%s)",
			e.Revision, e.Timestamp.UTC().Format(time.RFC3339), e.CurrentRevision, e.CurrentTimestamp.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("origin %s rollback refused: %s; set allow_rollback: true (or run rpmirror sync --allow-rollback) if the origin really went back", e.Origin, why)
}

// UnsafePublishError reports a revision that cannot be published safely
// to a mirror whose target has no atomic multi-file commit (object
// storage): files there change one after another, so replacing a file
// the served revision uses under the same name would let a client see the
// new repomd.xml with the old file, or the reverse. Nothing was changed
// on that mirror.
type UnsafePublishError struct {
	Mirror string
	Path   string // the file that would be replaced in place
	// Metadata: Path is a metadata file (the origin names its metadata
	// without checksums, createrepo_c --simple-md-filenames); otherwise a
	// package rebuilt under the same file name.
	Metadata bool
}

func (e *UnsafePublishError) Error() string {
	why := "a package is replaced under the same file name"
	fix := "publish it to a local mirror, whose commit is atomic"
	if e.Metadata {
		why = "metadata is replaced under the same file name (the origin uses createrepo_c --simple-md-filenames)"
		fix = "ask the origin to publish hashed metadata names (createrepo_c's default), or mirror it to a local path, whose commit is atomic"
	}
	return fmt.Sprintf("mirror %s: cannot publish safely without an atomic commit: %s: %s; %s", e.Mirror, e.Path, why, fix)
}

// OriginChangedError reports a metadata file of a filtered mirror that
// Repair cannot write again: rpmirror wrote it from the origin's
// revision the mirror serves, and the origin has moved on (or the filter
// changed), so the filter writes other files from it. A sync publishes the filtered metadata of
// the origin's new revision.
type OriginChangedError struct {
	Href           string // the file, as the mirror's repomd.xml names it
	Revision       string // the revision the mirror serves
	OriginRevision string // the revision the origin serves now
	// WentBack says the origin's revision is one a sync refuses as a
	// rollback: older than the current verified revision, or an earlier
	// verified one.
	WentBack bool
}

func (e *OriginChangedError) Error() string {
	if e.OriginRevision == e.Revision {
		return fmt.Sprintf("rpmirror wrote %s from the origin's revision %s, and what the filter writes from the origin now is not this file (the origin republished revision %s, or the filter changed since the last sync): run a sync to publish the new filtered revision", e.Href, e.Revision, e.OriginRevision)
	}
	if e.WentBack {
		// A sync refuses it (RollbackError): "run a sync" sent an
		// operator tester to that refusal.
		return fmt.Sprintf("rpmirror wrote %s from the origin's revision %s, and the origin went back since (it now serves revision %s, older than the current verified one, whose filtered metadata does not include this file): a sync refuses it unless allow_rollback is set (or rpmirror sync --allow-rollback publishes it); the file stays missing until the origin publishes a newer revision, or that is done", e.Href, e.Revision, e.OriginRevision)
	}
	return fmt.Sprintf("rpmirror wrote %s from the origin's revision %s, and the origin's revision changed since (it now serves revision %s, whose filtered metadata does not include this file): run a sync to publish the new revision", e.Href, e.Revision, e.OriginRevision)
}

// ErrUnverifiedRepomd is why Repair does not sign a filtered mirror's
// repomd.xml again: it is not a revision rpmirror verified.
var ErrUnverifiedRepomd = errors.New("the mirror's repomd.xml is not a revision rpmirror verified: not signing it; run a sync to publish a verified one")

// ZchunkMismatchError reports a repomd.xml whose zchunk copy of a
// metadata file (primary_zck) does not declare the content of the file it
// is a copy of (primary): their open-checksums, the digests of what each
// holds uncompressed, differ, or cannot be compared. dnf built with
// zchunk (Fedora's, EL 8's and later) reads the _zck file instead, so its
// clients would see packages other than those rpmirror planned from the
// primary and put in the mirror. The upstream's revision is refused;
// nothing was published.
type ZchunkMismatchError struct {
	Type string // the zchunk file's type, "primary_zck"
	Of   string // the type it is a copy of, "primary"
	Why  string
}

func (e *ZchunkMismatchError) Error() string {
	return fmt.Sprintf("repomd.xml: %s is not a copy of %s (%s): dnf built with zchunk would read it instead of the %s rpmirror checked: refused", e.Type, e.Of, e.Why, e.Of)
}

// ZchunkContentError reports a zchunk copy of the primary metadata that
// repomd.xml declares as holding what the primary holds (the same
// open-checksum) but that does not, or a primary that does not hold what
// that open-checksum says, which its zchunk copy is checked against: the
// content, decompressed, was read and hashed (Err says what was wrong).
// dnf built with zchunk would read the copy instead of the primary
// rpmirror planned from. The revision is refused; nothing was published.
type ZchunkContentError struct {
	Type string // the file checked: "primary_zck", or "primary"
	Href string
	Err  error
}

func (e *ZchunkContentError) Error() string {
	if e.Type == "primary" {
		return fmt.Sprintf("%s (primary): its content is not what its open-checksum says, which its zchunk copy (primary_zck) is checked against: %v: refused", e.Href, e.Err)
	}
	return fmt.Sprintf("%s (%s): its content, decompressed, is not the primary's that repomd.xml says it holds: %v: dnf built with zchunk would read it instead: refused", e.Href, e.Type, e.Err)
}

func (e *ZchunkContentError) Unwrap() error { return e.Err }

// RepoKeyMismatchError reports a repodata/repomd.xml.key that rpmirror
// does not vouch for beside a repomd.xml it checks with repo_gpgcheck:
// it does not parse as OpenPGP public keys (Err), it holds a primary key
// that is not one of repo_gpgkeys (Unknown), it lacks the key that
// signed repomd.xml.asc (Missing), or repomd.xml.asc does not verify with
// what it holds of that key (Unusable). Keys are compared by their primary
// key's fingerprint, so armor and user IDs may differ; the subkey that
// signed must be there and usable (Unusable). dnf
// clients with repo_gpgcheck=1 and gpgkey=<mirror>/repodata/repomd.xml.key
// import what the file holds: they would refuse every mirror's
// repomd.xml, or trust a key nobody configured.
//
// From a sync, the origin's revision was refused and nothing was
// published (Origin is set); from CheckMirrorWith, it is the error of a
// Problem at KeyPath (Origin is empty).
type RepoKeyMismatchError struct {
	Origin   string // redacted URL of the upstream that served it; "" for a mirror's file
	Revision string // the revision of the repomd.xml beside it
	// Found are the fingerprints (upper-case hex) of the primary keys
	// the file holds, in its order; none when it does not parse.
	Found []string
	// Unknown are those of Found that are not in repo_gpgkeys.
	Unknown []string
	// Missing is the fingerprint of the key that made repomd.xml.asc's
	// signature when the file lacks it; "" otherwise.
	Missing string
	// Unusable is why repomd.xml.asc does not verify with the keys the
	// file holds though it holds the signer's primary key (a
	// *verify.SignatureError: the signing subkey left out, revoked or
	// expired there), as a client importing the file finds; nil
	// otherwise.
	Unusable error
	// Err is why the file does not parse as OpenPGP public keys; nil
	// when it parses.
	Err error
}

func (e *RepoKeyMismatchError) Error() string {
	var why string
	if e.Err != nil {
		why = fmt.Sprintf("cannot be read as OpenPGP public keys: %v", e.Err)
	} else {
		var parts []string
		switch len(e.Unknown) {
		case 0:
		case 1:
			parts = append(parts, fmt.Sprintf("holds key %s, which is not in repo_gpgkeys", e.Unknown[0]))
		default:
			parts = append(parts, fmt.Sprintf("holds keys %s, which are not in repo_gpgkeys", fingerprints(e.Unknown)))
		}
		if e.Missing != "" {
			parts = append(parts, fmt.Sprintf("lacks key %s, which signed repomd.xml.asc", e.Missing))
		}
		if e.Unusable != nil {
			parts = append(parts, fmt.Sprintf("does not verify repomd.xml.asc as a client importing it checks it (%v)", e.Unusable))
		}
		why = fmt.Sprintf("%s (keys found: %s)", strings.Join(parts, ", and "), fingerprints(e.Found))
	}
	if e.Origin == "" {
		return why
	}
	return fmt.Sprintf("origin %s revision %s refused: %s %s", e.Origin, e.Revision, KeyPath, why)
}

func (e *RepoKeyMismatchError) Unwrap() []error {
	var errs []error
	for _, err := range []error{e.Err, e.Unusable} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// fingerprints lists fps for a message: the first few, then how many
// more (a hostile key file may hold thousands, and the message goes to
// logs, /status and alerts).
func fingerprints(fps []string) string {
	const shown = 4
	if len(fps) <= shown {
		return strings.Join(fps, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(fps[:shown], ", "), len(fps)-shown)
}

// ListError is a mirror rpmirror published that could not be listed
// before a publish (a directory where its packages are that is a
// symlink, a LIST refused): a package deleted there by hand would be
// named again, so nothing is published to it (MirrorPlan.Refused).
type ListError struct {
	Mirror string
	Err    error
}

func (e *ListError) Error() string {
	return fmt.Sprintf("listing mirror %s before publishing to it (a package deleted there by hand would be named again; nothing was written): %v", e.Mirror, e.Err)
}

func (e *ListError) Unwrap() error { return e.Err }

// NoRepomdError is CheckMirrorWith's error for a mirror that serves no
// repomd.xml. Revision and PublishedAt, when set (ExplainNoRepomd), are
// what the state_dir records rpmirror published there last: the mirror
// was emptied by hand, or lost its files, since. Without them, nothing
// says it was ever published.
type NoRepomdError struct {
	Target      string // the mirror, as its target names itself
	Revision    string
	PublishedAt time.Time
}

func (e *NoRepomdError) Error() string {
	if e.Revision == "" {
		return fmt.Sprintf("%s: no %s: the mirror has never been published", e.Target, RepomdPath)
	}
	return fmt.Sprintf("%s: no %s, though rpmirror published revision %s there at %s: its files were removed since (rpmirror sync publishes the current revision again)",
		e.Target, RepomdPath, e.Revision, e.PublishedAt.UTC().Format(time.RFC3339))
}

// ExplainNoRepomd returns err, or, when it is a *NoRepomdError and
// store records that rpmirror published a revision to mirror of repo, a
// *NoRepomdError that says which and when: "never been published" said
// of a mirror emptied by hand sent its operator looking for a
// configuration mistake.
func ExplainNoRepomd(err error, store *state.Store, repo, mirror string) error {
	var nr *NoRepomdError
	if !errors.As(err, &nr) || nr.Revision != "" || store == nil {
		return err
	}
	rec, lerr := store.Load(repo)
	if lerr != nil || rec == nil {
		return err
	}
	m := rec.Mirrors[mirror]
	if m == nil || m.Revision == "" {
		return err
	}
	return &NoRepomdError{Target: nr.Target, Revision: m.Revision, PublishedAt: m.PublishedAt}
}

// UnverifiedRepomdError is a mirror serving a repomd.xml that is none of
// the revisions rpmirror verified (changed by hand, or written by
// another tool): the probes judge it stale, and a sync publishes the
// current verified revision again.
type UnverifiedRepomdError struct {
	Revision string // the <revision> it says
}

func (e *UnverifiedRepomdError) Error() string {
	return fmt.Sprintf("serves a repomd.xml (revision %s) that rpmirror has not verified: the probes judge the mirror stale; rpmirror sync publishes the current verified revision again", e.Revision)
}
