package sync

import (
	"slices"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/rpmirror/rpmirror/verify"
)

// repoKeyProblem judges key, a repodata/repomd.xml.key served beside a
// repomd.xml checked with repo_gpgcheck, against keyring (repo_gpgkeys),
// as dnf clients that import it with gpgkey=.../repomd.xml.key would
// depend on it: it must parse as OpenPGP public keys, every one of them
// (verify.ParsePublicKeys: none skipped unread), every primary key in it
// must be one of keyring's, and it must hold signer, the key of keyring
// that made repomd.xml.asc's signature (nil: not known, not required).
// Keys are compared by their primary key's fingerprint: armor, user IDs
// and subkeys may differ from the configured file's. It returns nil when
// key passes; the caller sets Origin and Revision.
func repoKeyProblem(key []byte, keyring openpgp.EntityList, signer *openpgp.Entity) *RepoKeyMismatchError {
	keys, err := verify.ParsePublicKeys(key)
	if err != nil {
		return &RepoKeyMismatchError{Err: err}
	}
	configured := make(map[string]bool, len(keyring))
	for _, e := range keyring {
		configured[verify.Fingerprint(e)] = true
	}
	var p RepoKeyMismatchError
	for _, e := range keys {
		fp := verify.Fingerprint(e)
		if slices.Contains(p.Found, fp) {
			continue // the same key twice
		}
		p.Found = append(p.Found, fp)
		if !configured[fp] {
			p.Unknown = append(p.Unknown, fp)
		}
	}
	if signer != nil && !slices.Contains(p.Found, verify.Fingerprint(signer)) {
		p.Missing = verify.Fingerprint(signer)
	}
	if len(p.Unknown) == 0 && p.Missing == "" {
		return nil
	}
	return &p
}
