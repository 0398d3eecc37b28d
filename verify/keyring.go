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
	"github.com/ProtonMail/go-crypto/openpgp/packet"
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
		err := eachArmoredKeyBlock(trimmed, func(body io.Reader) error {
			el, err := openpgp.ReadKeyRing(body)
			if err != nil {
				return fmt.Errorf("reading key: %w", err)
			}
			keys = append(keys, el...)
			return nil
		})
		if err != nil {
			return nil, err
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

// eachArmoredKeyBlock calls fn with the decoded body of each armored
// block in data, in order; text before, between and after the blocks is
// ignored. A block that is not a public key block is an error.
func eachArmoredKeyBlock(data []byte, fn func(body io.Reader) error) error {
	rest := data
	for len(bytes.TrimSpace(rest)) > 0 {
		i := bytes.Index(rest, []byte("-----BEGIN PGP"))
		if i < 0 {
			break
		}
		rest = rest[i:]
		end := bytes.Index(rest, []byte("-----END PGP"))
		if end < 0 {
			return errors.New("armored key block has no END line")
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
			return fmt.Errorf("decoding armor: %w", err)
		}
		if blk.Type != openpgp.PublicKeyType {
			return fmt.Errorf("armored block is %q, want %q", blk.Type, openpgp.PublicKeyType)
		}
		if err := fn(blk.Body); err != nil {
			return err
		}
	}
	return nil
}

// ParsePublicKeys reads every OpenPGP public key in data, armored (one or
// more blocks, with any text around them, as rpm and gpg read a key file)
// or binary, for a caller that must know all a key file holds, such as
// the repodata/repomd.xml.key that dnf imports. Where ParseKeys skips a
// key the OpenPGP library cannot read (an unknown algorithm or version, a
// malformed packet), as gpg would, ParsePublicKeys fails: a key it cannot
// see is a key it cannot judge. A secret key is an error too, and so is
// data holding no key (ErrNoKey).
func ParsePublicKeys(data []byte) (keys openpgp.EntityList, err error) {
	defer func() {
		if r := recover(); r != nil {
			keys, err = nil, fmt.Errorf("unparsable OpenPGP key: %v", r)
		}
	}()
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, ErrNoKey
	}
	read := func(body io.Reader) error {
		b, err := io.ReadAll(body)
		if err != nil {
			return fmt.Errorf("decoding armor: %w", err)
		}
		el, err := readEveryKey(b)
		keys = append(keys, el...)
		return err
	}
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("-----BEGIN PGP")) || bytes.Contains(data, []byte("\n-----BEGIN PGP")) {
		err = eachArmoredKeyBlock(data, read)
	} else {
		err = read(bytes.NewReader(data))
	}
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, ErrNoKey
	}
	return keys, nil
}

// readEveryKey reads the keys of one binary key block, failing unless it
// reads one entity for every primary key packet: the packets are counted
// on their own first, since go-crypto skips a key packet it does not
// support without a word.
func readEveryKey(b []byte) (openpgp.EntityList, error) {
	var primaries int
	or := packet.NewOpaqueReader(bytes.NewReader(b))
	for {
		op, err := or.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading key: %w", err)
		}
		switch op.Tag {
		case tagSecretKey:
			return nil, errors.New("it holds a secret key")
		case tagPublicKey:
			primaries++
		}
	}
	var keys openpgp.EntityList
	packets := packet.NewReader(bytes.NewReader(b))
	for {
		e, err := openpgp.ReadEntity(packets)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading key %d: %w", len(keys)+1, err)
		}
		keys = append(keys, e)
	}
	if len(keys) != primaries {
		return nil, fmt.Errorf("it holds %d primary keys, of which %d can be read (a key of an unsupported algorithm or version?)", primaries, len(keys))
	}
	return keys, nil
}

// OpenPGP packet tags (RFC 9580, section 5) of primary keys.
const (
	tagSecretKey = 5
	tagPublicKey = 6
)

// Fingerprint returns the fingerprint of e's primary key in upper-case
// hex, as gpg prints it.
func Fingerprint(e *openpgp.Entity) string {
	return fmt.Sprintf("%X", e.PrimaryKey.Fingerprint)
}

// DetachedSignature checks that sig, an ASCII-armored or binary detached
// OpenPGP signature such as repodata/repomd.xml.asc, is a valid signature
// over data by a key in keyring, as dnf's repo_gpgcheck requires, and
// returns the signing key's primary user id. It is DetachedSigner with
// the signer's name.
func DetachedSignature(data, sig []byte, keyring openpgp.EntityList) (signer string, err error) {
	e, err := DetachedSigner(data, sig, keyring)
	if err != nil {
		return "", err
	}
	if id := e.PrimaryIdentity(); id != nil {
		return id.Name, nil
	}
	return "", nil
}

// DetachedSigner checks that sig, an ASCII-armored or binary detached
// OpenPGP signature such as repodata/repomd.xml.asc, is a valid signature
// over data by a key in keyring, as dnf's repo_gpgcheck requires. V4
// signatures are checked by go-crypto, V3 ones (gpg1) as package
// signatures are. It returns the key of keyring that made it (the whole
// entity, also when a subkey signed), or a *SignatureError: ErrUnsigned
// for an empty sig, ErrUnknownKey for a signature by no key in keyring,
// ErrKeyRevoked and ErrKeyExpired, ErrBadSignature for anything else (a
// signature that does not verify, or bytes that are no signature).
func DetachedSigner(data, sig []byte, keyring openpgp.EntityList) (signer *openpgp.Entity, err error) {
	defer func() {
		if r := recover(); r != nil {
			signer, err = nil, &SignatureError{Reason: ErrBadSignature, Detail: fmt.Sprintf("unparsable signature: %v", r)}
		}
	}()
	if len(bytes.TrimSpace(sig)) == 0 {
		return nil, &SignatureError{Reason: ErrUnsigned, Detail: "the detached signature is empty"}
	}
	raw := sig
	if bytes.HasPrefix(bytes.TrimSpace(sig), []byte("-----BEGIN PGP")) {
		blk, err := armor.Decode(bytes.NewReader(sig))
		if err != nil {
			return nil, &SignatureError{Reason: ErrBadSignature, Detail: "decoding armor: " + err.Error()}
		}
		if raw, err = io.ReadAll(io.LimitReader(blk.Body, maxSignaturePacket+1)); err != nil {
			return nil, &SignatureError{Reason: ErrBadSignature, Detail: "decoding armor: " + err.Error()}
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
		return e, nil
	case errors.Is(err, pgperrors.ErrUnknownIssuer):
		return nil, &SignatureError{Reason: ErrUnknownKey}
	case errors.Is(err, pgperrors.ErrKeyRevoked):
		return nil, &SignatureError{Reason: ErrKeyRevoked}
	case errors.Is(err, pgperrors.ErrKeyExpired):
		return nil, &SignatureError{Reason: ErrKeyExpired}
	}
	return nil, &SignatureError{Reason: ErrBadSignature, Detail: err.Error()}
}

// detachedV3 checks a V3 detached signature packet over data.
func detachedV3(data, pkt []byte, keyring openpgp.EntityList) (*openpgp.Entity, error) {
	s, err := parseSignaturePacket(pkt)
	if err != nil {
		var se *SignatureError
		if errors.As(err, &se) {
			return nil, err
		}
		return nil, &SignatureError{Reason: ErrBadSignature, Detail: err.Error()}
	}
	h, err := s.newHash()
	if err != nil {
		return nil, err
	}
	h.Write(data)
	e, key := s.findKey(keyring)
	if key == nil {
		return nil, &SignatureError{Reason: ErrUnknownKey, KeyID: s.keyIDString()}
	}
	if err := s.check(h, key); err != nil {
		return nil, err
	}
	if err := keyValid(e, key, s); err != nil {
		return nil, err
	}
	return e, nil
}
