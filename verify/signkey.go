package verify

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
)

// Errors of ParseSigningKey and LoadSigningKey, for errors.Is.
var (
	// ErrNoSecretKey: the input holds no OpenPGP secret key (it may hold
	// only public keys).
	ErrNoSecretKey = errors.New("no OpenPGP secret key found")
	// ErrSeveralSecretKeys: the input holds more than one secret key, so
	// which one signs would be a guess.
	ErrSeveralSecretKeys = errors.New("more than one OpenPGP secret key")
	// ErrKeyProtected: the secret key is encrypted with a passphrase,
	// which an unattended signer cannot type.
	ErrKeyProtected = errors.New("the OpenPGP secret key is protected by a passphrase")
	// ErrCannotSign: the key has no usable signing key: none flagged for
	// signing, expired or revoked, or only a stub of the secret part
	// (gpg --export-secret-subkeys of another subkey).
	ErrCannotSign = errors.New("the OpenPGP key has no usable secret signing key")
)

// LoadSigningKey reads the OpenPGP secret key in the file at path, as
// ParseSigningKey does.
func LoadSigningKey(path string) (*openpgp.Entity, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading signing key %s: %w", path, err)
	}
	e, err := ParseSigningKey(data)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	return e, nil
}

// ParseSigningKey parses one OpenPGP secret key, ASCII-armored (gpg
// --export-secret-keys --armor) or binary, that can sign now without a
// passphrase: Entity.SigningKey(now) finds a secret key that is neither
// encrypted nor a stub. Its errors wrap ErrNoSecretKey,
// ErrSeveralSecretKeys, ErrKeyProtected or ErrCannotSign, or say why the
// input does not parse.
func ParseSigningKey(data []byte) (e *openpgp.Entity, err error) {
	defer func() {
		if r := recover(); r != nil {
			e, err = nil, fmt.Errorf("unparsable OpenPGP key: %v", r)
		}
	}()
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, ErrNoSecretKey
	}
	var keys openpgp.EntityList
	if bytes.HasPrefix(trimmed, []byte("-----BEGIN PGP")) {
		blk, err := armor.Decode(bytes.NewReader(trimmed))
		if err != nil {
			return nil, fmt.Errorf("decoding armor: %w", err)
		}
		if blk.Type != openpgp.PrivateKeyType {
			return nil, fmt.Errorf("%w: the armored block is %q, want %q", ErrNoSecretKey, blk.Type, openpgp.PrivateKeyType)
		}
		if keys, err = openpgp.ReadKeyRing(blk.Body); err != nil {
			return nil, fmt.Errorf("reading key: %w", err)
		}
	} else {
		// Binary input is read untrimmed: its last byte may be a space
		// or a newline.
		if keys, err = openpgp.ReadKeyRing(bytes.NewReader(data)); err != nil {
			return nil, fmt.Errorf("reading key: %w", err)
		}
	}
	for _, k := range keys {
		if k.PrivateKey == nil {
			continue
		}
		if e != nil {
			return nil, ErrSeveralSecretKeys
		}
		e = k
	}
	if e == nil {
		return nil, ErrNoSecretKey
	}
	sk, ok := e.SigningKey(time.Now())
	switch {
	case !ok || sk.PrivateKey == nil || sk.PrivateKey.Dummy():
		return nil, ErrCannotSign
	case sk.PrivateKey.Encrypted:
		return nil, ErrKeyProtected
	}
	return e, nil
}
