package sync

import (
	"slices"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/rpmirror/rpmirror/verify"
)

// repoKeyProblem judges key, a repodata/repomd.xml.key served beside
// repomd (a repomd.xml checked with repo_gpgcheck) and asc (its
// signature), against keyring (repo_gpgkeys), as dnf clients that import
// it with gpgkey=.../repomd.xml.key depend on it: it must parse as
// OpenPGP public keys, every one of them (verify.ParsePublicKeys: none
// skipped unread, armor checksums checked), every primary key in it must
// be one of keyring's, and, where signer (the key of keyring that made
// asc's signature) is known, it must hold that key and asc must verify
// with the file's own keys, as dnf checks it: the signing subkey there,
// not revoked, not expired (a file with the right primary key but not the
// subkey that signs, or revoking it, made every client refuse every
// mirror). Primary keys are compared by fingerprint: armor and user IDs
// may differ from the configured file's. It returns nil when key passes;
// the caller sets Origin and Revision.
func repoKeyProblem(key []byte, keyring openpgp.EntityList, signer *openpgp.Entity, repomd, asc []byte) *RepoKeyMismatchError {
	keys, err := verify.ParsePublicKeys(key)
	if err != nil {
		return &RepoKeyMismatchError{Err: err}
	}
	configured := make(map[string]bool, len(keyring))
	for _, e := range keyring {
		configured[verify.Fingerprint(e)] = true
	}
	var p RepoKeyMismatchError
	seen := make(map[string]bool, len(keys))
	for _, e := range keys {
		fp := verify.Fingerprint(e)
		if seen[fp] {
			continue // the same key twice
		}
		seen[fp] = true
		p.Found = append(p.Found, fp)
		if !configured[fp] {
			p.Unknown = append(p.Unknown, fp)
		}
	}
	if signer != nil {
		if !slices.Contains(p.Found, verify.Fingerprint(signer)) {
			p.Missing = verify.Fingerprint(signer)
		} else if _, err := verify.DetachedSigner(repomd, asc, keys); err != nil {
			p.Unusable = err
		}
	}
	if len(p.Unknown) == 0 && p.Missing == "" && p.Unusable == nil {
		return nil
	}
	return &p
}
