package verify

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
)

// LoadKeyring reads OpenPGP public keys from the files at paths, each either
// ASCII-armored (as RPM-GPG-KEY-* files are) or binary, and returns them as
// one keyring. An unreadable file, a file holding no key, or a key this
// program cannot use (such as an OpenPGP v6 key) is an error naming the file.
func LoadKeyring(paths ...string) (openpgp.EntityList, error) {
	var all openpgp.EntityList
	for _, p := range paths {
		keys, err := LoadKeyFile(p)
		if err != nil {
			return nil, err
		}
		all = append(all, keys...)
	}
	return all, nil
}

// LoadKeyFile reads the OpenPGP public keys in one file.
func LoadKeyFile(path string) (openpgp.EntityList, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading key file %s: %w", path, err)
	}
	keys, err := ParseKeys(data)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return keys, nil
}

// ErrNoKey is returned by ParseKeys for input that holds no OpenPGP key.
var ErrNoKey = errors.New("no OpenPGP public key found")

// ParseKeys parses armored or binary OpenPGP public keys.
func ParseKeys(data []byte) (keys openpgp.EntityList, err error) {
	defer func() {
		if r := recover(); r != nil {
			keys, err = nil, fmt.Errorf("unparsable OpenPGP key: %v", r)
		}
	}()
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, ErrNoKey
	}
	if bytes.HasPrefix(trimmed, []byte("-----BEGIN PGP")) {
		// A file may hold several armored blocks; read each.
		rest := trimmed
		for len(bytes.TrimSpace(rest)) > 0 {
			i := bytes.Index(rest, []byte("-----BEGIN PGP"))
			if i < 0 {
				break
			}
			rest = rest[i:]
			end := bytes.Index(rest, []byte("-----END PGP"))
			if end < 0 {
				return nil, errors.New("armored key block has no END line")
			}
			nl := bytes.IndexByte(rest[end:], '\n')
			var block []byte
			if nl < 0 {
				block, rest = rest, nil
			} else {
				block, rest = rest[:end+nl+1], rest[end+nl+1:]
			}
			blk, err := armor.Decode(bytes.NewReader(block))
			if err != nil {
				return nil, fmt.Errorf("decoding armor: %w", err)
			}
			if blk.Type != openpgp.PublicKeyType {
				return nil, fmt.Errorf("armored block is %q, want %q", blk.Type, openpgp.PublicKeyType)
			}
			el, err := openpgp.ReadKeyRing(blk.Body)
			if err != nil {
				return nil, fmt.Errorf("reading key: %w", err)
			}
			keys = append(keys, el...)
		}
	} else {
		keys, err = openpgp.ReadKeyRing(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("reading key: %w", err)
		}
	}
	if len(keys) == 0 {
		return nil, ErrNoKey
	}
	return keys, nil
}

// DetachedSignature checks that sig, an ASCII-armored or binary detached
// OpenPGP signature such as repodata/repomd.xml.asc, is a valid signature
// over data by a key in keyring, as dnf's repo_gpgcheck requires. V4
// signatures are checked by go-crypto, V3 ones (gpg1) as package
// signatures are. It
// returns the signing key's primary user id, or a *SignatureError:
// ErrUnsigned for an empty sig, ErrUnknownKey for a signature by no key in
// keyring, ErrKeyRevoked and ErrKeyExpired, ErrBadSignature for anything
// else (a signature that does not verify, or bytes that are no signature).
func DetachedSignature(data, sig []byte, keyring openpgp.EntityList) (signer string, err error) {
	defer func() {
		if r := recover(); r != nil {
			signer, err = "", &SignatureError{Reason: ErrBadSignature, Detail: fmt.Sprintf("unparsable signature: %v", r)}
		}
	}()
	if len(bytes.TrimSpace(sig)) == 0 {
		return "", &SignatureError{Reason: ErrUnsigned, Detail: "the detached signature is empty"}
	}
	raw := sig
	if bytes.HasPrefix(bytes.TrimSpace(sig), []byte("-----BEGIN PGP")) {
		blk, err := armor.Decode(bytes.NewReader(sig))
		if err != nil {
			return "", &SignatureError{Reason: ErrBadSignature, Detail: "decoding armor: " + err.Error()}
		}
		if raw, err = io.ReadAll(io.LimitReader(blk.Body, maxSignaturePacket+1)); err != nil {
			return "", &SignatureError{Reason: ErrBadSignature, Detail: "decoding armor: " + err.Error()}
		}
	}
	if body, err := packetBody(raw); err == nil && len(body) > 0 && body[0] == 3 {
		// go-crypto refuses V3 packets, which gpg1 still makes and dnf
		// (through gpgme) accepts: check them as package signatures are.
		return detachedV3(data, raw, keyring)
	}
	e, err := openpgp.CheckDetachedSignature(keyring, bytes.NewReader(data), bytes.NewReader(raw), nil)
	switch {
	case err == nil:
		if id := e.PrimaryIdentity(); id != nil {
			return id.Name, nil
		}
		return "", nil
	case errors.Is(err, pgperrors.ErrUnknownIssuer):
		return "", &SignatureError{Reason: ErrUnknownKey}
	case errors.Is(err, pgperrors.ErrKeyRevoked):
		return "", &SignatureError{Reason: ErrKeyRevoked}
	case errors.Is(err, pgperrors.ErrKeyExpired):
		return "", &SignatureError{Reason: ErrKeyExpired}
	}
	return "", &SignatureError{Reason: ErrBadSignature, Detail: err.Error()}
}

// detachedV3 checks a V3 detached signature packet over data.
func detachedV3(data, packet []byte, keyring openpgp.EntityList) (string, error) {
	s, err := parseSignaturePacket(packet)
	if err != nil {
		var se *SignatureError
		if errors.As(err, &se) {
			return "", err
		}
		return "", &SignatureError{Reason: ErrBadSignature, Detail: err.Error()}
	}
	h, err := s.newHash()
	if err != nil {
		return "", err
	}
	h.Write(data)
	e, key := s.findKey(keyring)
	if key == nil {
		return "", &SignatureError{Reason: ErrUnknownKey, KeyID: s.keyIDString()}
	}
	if err := s.check(h, key); err != nil {
		return "", err
	}
	if err := keyValid(e, key, s); err != nil {
		return "", err
	}
	if id := e.PrimaryIdentity(); id != nil {
		return id.Name, nil
	}
	return "", nil
}
