package sync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/internal/safefs"
	"github.com/rpmirror/rpmirror/repodata"
	"github.com/rpmirror/rpmirror/state"
	"github.com/rpmirror/rpmirror/target"
	"github.com/rpmirror/rpmirror/verify"
)

// ErrMissing is the error of a Problem whose file is not there.
var ErrMissing = errors.New("missing")

// ErrNotSigningKey is the error of a Problem with a filtered mirror's
// repodata/repomd.xml.key that is not the public part of sign_with's key.
var ErrNotSigningKey = errors.New("not the public key of sign_with, which signs this mirror's repomd.xml")

// ErrNotVerifiedSignature is the error of a Problem with a
// repodata/repomd.xml.asc that is not the one rpmirror verified the
// repomd.xml beside it with (CheckOptions.Signatures).
var ErrNotVerifiedSignature = errors.New("not the signature rpmirror verified this repomd.xml with")

// ErrNotVerifiedKey is the error of a Problem with a repodata/repomd.xml.key
// that is not the one rpmirror verified the repomd.xml beside it with
// (CheckOptions.Keys).
var ErrNotVerifiedKey = errors.New("not the key rpmirror verified this repomd.xml with")

// Problem is one thing wrong with a mirror: a file its repomd.xml or
// primary metadata names that is missing or not what the metadata says.
type Problem struct {
	Path string
	Err  error

	// What the metadata says belongs at Path, for Repair; nil when the
	// problem is not a file that can be fetched again.
	meta *repodata.Data
	pkg  *repodata.Package
	// content is what rpmirror verified the mirror's repomd.xml with
	// at Path (its repomd.xml.asc or repomd.xml.key): Repair puts it
	// back.
	content []byte
}

func (p Problem) String() string { return p.Path + ": " + p.Err.Error() }

// CheckStats counts what CheckMirror looked at.
type CheckStats struct {
	Revision string
	// RepomdSHA256 is the hex sha256 of the repomd.xml served.
	RepomdSHA256 string
	Metadata     int // metadata files checked
	Packages     int // packages checked
}

// Unverified returns a *UnverifiedRepomdError when the repomd.xml a check
// found served (st) is not one of the revisions rpmirror verified
// (verified, VerifiedDigests; none recorded: nil). A mirror whose
// repomd.xml was changed by hand checks out against itself, its .asc
// then not matching: verify said "ok" where the probes said stale (an
// operator tester's).
func (st CheckStats) Unverified(verified map[string]bool) error {
	if len(verified) == 0 || st.RepomdSHA256 == "" || verified[st.RepomdSHA256] {
		return nil
	}
	return &UnverifiedRepomdError{Revision: st.Revision}
}

// CheckOptions say what CheckMirrorWith checks signatures with.
type CheckOptions struct {
	// Keyring checks package signatures; empty: not checked.
	Keyring openpgp.EntityList
	// RepoKeyring, when not empty, requires repodata/repomd.xml.asc to be
	// a valid signature over repomd.xml by one of its keys (the repo's
	// repo_gpgkeys, with repo_gpgcheck), and, unless RepoKey is set, a
	// repodata/repomd.xml.key to hold only its keys, the signer's among
	// them.
	RepoKeyring openpgp.EntityList
	// RepoKey, when not nil, is what repodata/repomd.xml.key must hold:
	// the armored public key of sign_with, which signs a filtered
	// mirror's repomd.xml.
	RepoKey []byte
	// Origin, for a filtered repository, is what a revision the origin
	// published is checked with (a snapshot taken before the filter was
	// turned on, which holds the origin's repomd.xml and its signature
	// and key): repo_gpgkeys with repo_gpgcheck. Nil otherwise.
	Origin *CheckOptions
	// Verified are the hex sha256 digests of the repomd.xml files
	// rpmirror verified (VerifiedDigests): a snapshot is checked with
	// Origin only when its repomd.xml is one of them.
	Verified map[string]bool
	// Signatures are the repomd.xml.asc files rpmirror verified
	// revisions with, by the hex sha256 digest of their repomd.xml
	// (RecordedSignatures). A mirror serving one of those revisions must
	// serve its signature too, byte for byte, as the probes check: dnf
	// with repo_gpgcheck refuses the mirror otherwise. Repair puts it
	// back from here.
	Signatures map[string][]byte
	// Keys are the repomd.xml.key files served beside the repomd.xml
	// files rpmirror verified, by the hex sha256 digest of the latter
	// (RecordedKeys). A mirror serving one of those revisions must serve
	// its key, byte for byte: a client with
	// gpgkey=<mirror>/repodata/repomd.xml.key imports it. Repair puts it
	// back from here.
	Keys map[string][]byte
}

// VerifiedDigests returns the hex sha256 digests of the repomd.xml files
// of repo that rpmirror recorded in store as verified, and of the one it
// is held at (see CheckOptions.Verified). A state_dir that cannot be read
// gives none.
func VerifiedDigests(store *state.Store, repo *config.Repo) map[string]bool {
	if store == nil {
		return nil
	}
	out := map[string]bool{}
	if v, err := store.LoadVerified(repo.Name); err == nil && v != nil {
		for _, r := range v.Revisions {
			out[r.SHA256] = true
		}
	}
	if h, err := store.LoadHold(repo.Name); err == nil && h != nil {
		out[h.SHA256] = true
	}
	return out
}

// RecordedKeys returns the repomd.xml.key files rpmirror recorded in
// store beside the revisions of repo it verified (see CheckOptions.Keys);
// none for a filtered repository (whose key is sign_with's: RepoKey). A
// state_dir that cannot be read gives none.
func RecordedKeys(store *state.Store, repo *config.Repo) map[string][]byte {
	if store == nil || repo.Filter != nil {
		return nil
	}
	keys := map[string][]byte{}
	if v, err := store.LoadVerified(repo.Name); err == nil && v != nil {
		for _, r := range v.Revisions {
			if r.Key != nil {
				keys[r.SHA256] = r.Key
			}
		}
	}
	return keys
}

// RecordedSignatures returns the signatures rpmirror recorded in store
// for the revisions of repo it verified and the one it is held at (see
// CheckOptions.Signatures); none for a filtered repository, whose
// repomd.xml.asc, when sign_with makes one, is made anew for each mirror
// that lacks one. A state_dir that cannot be read gives none.
func RecordedSignatures(store *state.Store, repo *config.Repo) map[string][]byte {
	if store == nil || repo.Filter != nil {
		return nil
	}
	sigs := map[string][]byte{}
	if v, err := store.LoadVerified(repo.Name); err == nil && v != nil {
		for _, r := range v.Revisions {
			if r.Signature != nil {
				sigs[r.SHA256] = r.Signature
			}
		}
	}
	if h, err := store.LoadHold(repo.Name); err == nil && h != nil {
		switch {
		case h.Signature != nil:
			sigs[h.SHA256] = h.Signature
		case h.Unsigned:
			delete(sigs, h.SHA256) // the snapshot held has none
		}
	}
	return sigs
}

// CheckOptionsFor returns the keys the mirrors (and snapshots) of repo
// are checked with: gpgkeys for packages; for repomd.xml's signature,
// sign_with's key on a filtered repository with sign_with (the mirrors
// serve rpmirror's repomd.xml, signed by it, and its public part as
// repomd.xml.key), nothing on another filtered repository (rpmirror's
// repomd.xml, unsigned), and repo_gpgkeys with repo_gpgcheck.
func CheckOptionsFor(repo *config.Repo) (CheckOptions, error) {
	var opts CheckOptions
	var err error
	if len(repo.GPGKeys) > 0 {
		if opts.Keyring, err = verify.LoadKeyring(repo.GPGKeys...); err != nil {
			return opts, err
		}
	}
	if repo.Filter != nil {
		whole := *repo
		whole.Filter, whole.SignWith = nil, ""
		origin, err := CheckOptionsFor(&whole)
		if err != nil {
			return opts, err
		}
		opts.Origin = &origin
	}
	switch {
	case repo.Filter != nil && repo.SignWith != "":
		e, pub, err := loadSigningKey(repo.SignWith)
		if err != nil {
			return opts, fmt.Errorf("sign_with: %w", err)
		}
		opts.RepoKeyring, opts.RepoKey = openpgp.EntityList{e}, pub
	case repo.Filter != nil:
	case repo.RepoGPGCheck:
		if opts.RepoKeyring, err = verify.LoadKeyring(repo.RepoGPGKeys...); err != nil {
			return opts, fmt.Errorf("repo_gpgkeys: %w", err)
		}
	}
	return opts, nil
}

// ForSnapshot returns the options a snapshot of a mirror is checked with:
// opts for a revision rpmirror wrote (a filtered one: with sign_with, its
// repomd.xml.key is sign_with's public key, as rpmirror writes it), the
// origin's (opts.Origin) for one the origin published, taken before the
// filter was turned on (a tester's verify called every such snapshot
// broken, its repomd.xml.key not sign_with's, and rollback refused
// them). The origin's are taken only where they check repomd.xml's
// signature (repo_gpgcheck), or for a snapshot whose repomd.xml is one
// rpmirror verified (opts.Verified): one edited, its key removed, is
// checked as strictly as before (a reviewer's finding). Signatures and
// keys recorded are never used for snapshots (CheckSnapshots).
func (opts CheckOptions) ForSnapshot(ctx context.Context, view target.Target) CheckOptions {
	opts.Signatures, opts.Keys = nil, nil
	if opts.Origin == nil || opts.RepoKey == nil {
		// Not filtered; or filtered without sign_with, where nothing of
		// repomd.xml's signature is checked (nor told apart).
		return opts
	}
	if key, err := readForCheck(ctx, view, KeyPath); err == nil && bytes.Equal(key, opts.RepoKey) {
		return opts
	}
	if len(opts.Origin.RepoKeyring) == 0 {
		// Nothing would check its repomd.xml's signature as the
		// origin's: only a repomd.xml rpmirror verified is taken so.
		raw, err := readForCheck(ctx, view, RepomdPath)
		if err != nil || raw == nil {
			return opts
		}
		if sum := sha256.Sum256(raw); !opts.Verified[hex.EncodeToString(sum[:])] {
			return opts
		}
	}
	origin := *opts.Origin
	origin.Keyring = opts.Keyring
	return origin
}

// CheckMirror is CheckMirrorWith with package signatures checked against
// keyring and repomd.xml's signature not checked.
func CheckMirror(ctx context.Context, tg target.Target, keyring openpgp.EntityList) ([]Problem, CheckStats, error) {
	return CheckMirrorWith(ctx, tg, CheckOptions{Keyring: keyring})
}

// CheckMirrorWith re-checks a mirror against its own repomd.xml: with
// opts.RepoKeyring, repomd.xml.asc is a valid signature of it by one of
// those keys; with a signature recorded for it in opts.Signatures,
// repomd.xml.asc is that one (ErrNotVerifiedSignature) or, with
// opts.RepoKeyring, another valid one; with opts.RepoKey, repomd.xml.key
// is that key, and otherwise, with opts.RepoKeyring, a repomd.xml.key
// that is there holds only keys of opts.RepoKeyring, the signer's among
// them (a *RepoKeyMismatchError, as a sync refuses it); every metadata
// file it lists is present with the right size and checksum, and every
// package the primary metadata lists is present with the right size and
// checksum, the right header and, with a non-empty opts.Keyring, a valid
// signature by one of its keys. On a
// target with permissions (target.Readable), each of those files whose
// content is right must also be readable by a web server running as
// another user (a *target.NotReadableError otherwise). It
// reports every problem it finds; the error is for a mirror that cannot
// be checked at all (no repomd.xml).
func CheckMirrorWith(ctx context.Context, tg target.Target, opts CheckOptions) ([]Problem, CheckStats, error) {
	keyring := opts.Keyring
	var st CheckStats
	raw, err := readForCheck(ctx, tg, RepomdPath)
	if err != nil {
		return nil, st, err
	}
	if raw == nil {
		return nil, st, &NoRepomdError{Target: tg.String()}
	}
	md, err := repodata.ParseRepomd(raw)
	if err != nil {
		return nil, st, fmt.Errorf("%s: %w", RepomdPath, err)
	}
	st.Revision = md.Revision
	sum := sha256.Sum256(raw)
	st.RepomdSHA256 = hex.EncodeToString(sum[:])
	var problems []Problem
	add := func(p string, err error) { problems = append(problems, Problem{Path: p, Err: err}) }
	addFile := func(p string, err error, meta *repodata.Data, pkg *repodata.Package) {
		problems = append(problems, Problem{Path: p, Err: err, meta: meta, pkg: pkg})
	}
	// A file whose content is right, on a target with permissions, must
	// be readable by the web server in front of it too.
	readable, _ := tg.(target.Readable)
	checkReadable := func(p string) {
		if readable == nil {
			return
		}
		if err := readable.CheckReadable(ctx, p); err != nil {
			add(p, err)
		}
	}
	checkReadable(RepomdPath)
	if err := checkZchunk(md); err != nil {
		add(RepomdPath, err)
	}
	recorded := opts.Signatures[st.RepomdSHA256]
	// repomd.xml's signature and key are served whenever they are there
	// (dnf with repo_gpgcheck asks for them), checked or not.
	for _, p := range []struct {
		path    string
		checked bool
	}{{AscPath, len(opts.RepoKeyring) > 0 || recorded != nil}, {KeyPath, opts.RepoKey != nil || len(opts.RepoKeyring) > 0}} {
		if readable == nil || p.checked {
			continue // readable once their content is right, below
		}
		if err := readable.CheckReadable(ctx, p.path); err != nil && !errors.Is(err, target.ErrNotExist) {
			add(p.path, err)
		}
	}
	addSig := func(err error) { problems = append(problems, Problem{Path: AscPath, Err: err, content: recorded}) }
	var signer *openpgp.Entity // the key of opts.RepoKeyring that signed repomd.xml.asc
	var asc []byte
	if len(opts.RepoKeyring) > 0 || recorded != nil {
		var err error
		asc, err = readForCheck(ctx, tg, AscPath)
		switch {
		case err != nil:
			addSig(err)
		case asc == nil && len(opts.RepoKeyring) > 0:
			addSig(&verify.SignatureError{Reason: verify.ErrUnsigned, Detail: "missing: repo_gpgcheck requires a signature of " + RepomdPath})
		case asc == nil:
			addSig(fmt.Errorf("%w: rpmirror verified %s with one (dnf with repo_gpgcheck refuses the mirror without it)", ErrMissing, RepomdPath))
		case len(opts.RepoKeyring) > 0:
			if signer, err = verify.DetachedSigner(raw, asc, opts.RepoKeyring); err != nil {
				addSig(err)
			} else {
				checkReadable(AscPath)
			}
		case !bytes.Equal(asc, recorded):
			addSig(ErrNotVerifiedSignature)
		default:
			checkReadable(AscPath)
		}
	}
	recordedKey := opts.Keys[hex.EncodeToString(sum[:])]
	switch {
	case opts.RepoKey == nil && recordedKey != nil:
		// The key served beside this repomd.xml when rpmirror verified
		// it, with or without repo_gpgcheck (a tester's mirror lost it,
		// and verify said ok while dnf could not fetch it).
		key, err := readForCheck(ctx, tg, KeyPath)
		switch {
		case err != nil:
			add(KeyPath, err)
		case key == nil:
			problems = append(problems, Problem{Path: KeyPath, Err: fmt.Errorf("%w: rpmirror verified %s with one (dnf with gpgkey=<mirror>/%s cannot import it)", ErrMissing, RepomdPath, KeyPath), content: recordedKey})
		case !bytes.Equal(key, recordedKey):
			problems = append(problems, Problem{Path: KeyPath, Err: ErrNotVerifiedKey, content: recordedKey})
		default:
			checkReadable(KeyPath)
		}
	case opts.RepoKey != nil:
		key, err := readForCheck(ctx, tg, KeyPath)
		switch {
		case err != nil:
			add(KeyPath, err)
		case key == nil:
			add(KeyPath, ErrMissing)
		case !bytes.Equal(key, opts.RepoKey):
			add(KeyPath, ErrNotSigningKey)
		default:
			checkReadable(KeyPath)
		}
	case len(opts.RepoKeyring) > 0:
		// The origin's key, served beside its repomd.xml: judged as a
		// sync judges it (none is fine: nothing for clients to import).
		key, err := readForCheck(ctx, tg, KeyPath)
		switch {
		case err != nil:
			add(KeyPath, err)
		case key == nil:
		default:
			if p := repoKeyProblem(key, opts.RepoKeyring, signer, raw, asc); p != nil {
				p.Revision = md.Revision
				add(KeyPath, p)
			} else {
				checkReadable(KeyPath)
			}
		}
	}
	for _, d := range md.Data {
		if err := ctx.Err(); err != nil {
			return problems, st, err
		}
		st.Metadata++
		if err := checkHref(d.Href, ""); err != nil {
			add(d.Href, err)
			continue
		}
		if err := checkFile(ctx, tg, d.Href, func(r io.Reader) error { return verify.Content(r, d.Size, d.Checksum) }); err != nil {
			addFile(d.Href, err, &d, nil)
		} else {
			checkReadable(d.Href)
			if zchunkOfPrimary(d) {
				// What dnf built with zchunk reads instead of the
				// primary: it must hold what the primary holds.
				if err := checkFile(ctx, tg, d.Href, func(r io.Reader) error { return zchunkContent(r, d, config.DefaultMaxMetadataSize) }); err != nil {
					add(d.Href, err)
				}
			}
		}
	}
	d, ok := md.Find("primary")
	if !ok {
		add(RepomdPath, errors.New("lists no primary metadata"))
		return problems, st, nil
	}
	rc, err := tg.Open(ctx, d.Href)
	if err != nil {
		return problems, st, nil // reported above
	}
	defer rc.Close()
	dr, err := repodata.Decompress(rc, d.Href)
	if err != nil {
		add(d.Href, err)
		return problems, st, nil
	}
	r, err := capMetadata(dr, d, config.DefaultMaxMetadataSize)
	if err != nil {
		dr.Close()
		add(d.Href, err)
		return problems, st, nil
	}
	defer r.Close()
	pr := repodata.NewPrimaryReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return problems, st, err
		}
		p, err := pr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			add(d.Href, err)
			break
		}
		st.Packages++
		// The package is stored at its href even when it has an xml:base
		// (follow_xml_base).
		if err := checkHref(p.Href, ""); err != nil {
			add(p.Href, err)
			continue
		}
		if err := checkFile(ctx, tg, p.Href, func(r io.Reader) error {
			_, err := verify.RPM(r, p, keyring)
			return err
		}); err != nil {
			addFile(p.Href, err, nil, p)
		} else {
			checkReadable(p.Href)
		}
	}
	return problems, st, nil
}

// symlinkIn returns the *safefs.SymlinkError in err, or nil: a symlink
// planted where a mirror's file or directory should be, which the target
// neither reads nor writes through.
func symlinkIn(err error) *safefs.SymlinkError {
	var se *safefs.SymlinkError
	if errors.As(err, &se) {
		return se
	}
	return nil
}

// readForCheck is readOptional for a check: a file that is not there
// because a symlink is in its place is reported as that symlink, not
// taken as missing (a verify said "the mirror has never been published"
// of a mirror whose repomd.xml was a symlink).
func readForCheck(ctx context.Context, tg target.Target, p string) ([]byte, error) {
	b, err := readOptional(ctx, tg, p)
	if b != nil || err != nil {
		return b, err
	}
	rc, err := tg.Open(ctx, p)
	if err == nil {
		rc.Close()
	}
	if se := symlinkIn(err); se != nil {
		return nil, se
	}
	return nil, nil
}

func checkFile(ctx context.Context, tg target.Target, p string, check func(io.Reader) error) error {
	rc, err := tg.Open(ctx, p)
	if se := symlinkIn(err); se != nil {
		return se // named as a symlink, not as missing, and without p twice
	}
	if errors.Is(err, target.ErrNotExist) {
		return ErrMissing
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	return check(rc)
}
