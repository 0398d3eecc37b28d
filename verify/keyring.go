package verify

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

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
	trimmed := bytes.TrimSpace(bytes.TrimPrefix(data, utf8BOM))
	if len(trimmed) == 0 {
		return nil, ErrNoKey
	}
	if armored(trimmed) {
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
		body, err := io.ReadAll(blk.Body)
		if err != nil {
			return fmt.Errorf("decoding armor: %w", err)
		}
		if err := checkArmorCRC(block, body); err != nil {
			return err
		}
		if err := fn(bytes.NewReader(body)); err != nil {
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
	data = bytes.TrimPrefix(data, utf8BOM)
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, ErrNoKey
	}
	var standalone []uint64
	read := func(body io.Reader) error {
		b, err := io.ReadAll(body)
		if err != nil {
			return fmt.Errorf("decoding armor: %w", err)
		}
		el, sa, err := readEveryKey(b)
		keys, standalone = append(keys, el...), append(standalone, sa...)
		if err == nil && len(keys) > maxKeyFileKeys {
			err = fmt.Errorf("it holds more than the %d primary keys rpmirror reads", maxKeyFileKeys)
		}
		return err
	}
	if armored(data) {
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
	// A standalone certificate by a key of the file (a revocation, as
	// gpg --gen-revoke makes) is imported onto it by gpg, and so by dnf:
	// refused, since what it does to the key is not judged here. One by
	// another key is ignored, as gpg ignores it.
	for _, id := range standalone {
		for _, e := range keys {
			if e.PrimaryKey.KeyId == id || slices.ContainsFunc(e.Subkeys, func(sk openpgp.Subkey) bool { return sk.PublicKey.KeyId == id }) {
				return nil, fmt.Errorf("it holds a standalone certificate (a revocation?) by key %016X, one of its own keys", id)
			}
		}
	}
	return keys, nil
}

// utf8BOM is the byte order mark some editors put first in a text file;
// gpg and rpm read a key file that starts with one.
var utf8BOM = []byte("\xef\xbb\xbf")

// armored reports whether data is an ASCII-armored key file: one that
// starts with an armor line, or has one at the start of a line after
// some text (RHEL's RPM-GPG-KEY-redhat-release files describe their keys
// first, as gpg and rpm allow).
func armored(data []byte) bool {
	return bytes.HasPrefix(bytes.TrimSpace(data), []byte("-----BEGIN PGP")) || bytes.Contains(data, []byte("\n-----BEGIN PGP"))
}

// maxKeyFileKeys bounds the primary keys ParsePublicKeys reads from one
// file (a real repomd.xml.key holds one to a few): a hostile file of
// thousands cost half a minute of CPU a sync.
const maxKeyFileKeys = 256

// readEveryKey reads the keys of one binary key block, failing unless it
// reads one entity for every primary key packet: the packets are counted
// on their own first, since go-crypto skips a key packet it does not
// support without a word.
func readEveryKey(b []byte) (keys openpgp.EntityList, standalone []uint64, err error) {
	var primaries, others int
	or := packet.NewOpaqueReader(bytes.NewReader(b))
	for {
		op, err := or.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("reading key: %w", err)
		}
		switch op.Tag {
		case tagSecretKey:
			return nil, nil, errors.New("it holds a secret key")
		case tagPublicKey:
			primaries++
		case tagSignature:
			if primaries == 0 {
				// A signature with no key before it: a standalone
				// certificate (gpg --gen-revoke's), which gpg imports
				// onto the key it is about, if that key is there.
				if p, err := op.Parse(); err == nil {
					if sig, ok := p.(*packet.Signature); ok && sig.IssuerKeyId != nil {
						standalone = append(standalone, *sig.IssuerKeyId)
						continue
					}
				}
				return nil, nil, errors.New("it holds a signature that is about no key, by no key known")
			}
		default:
			others++
		}
	}
	if primaries > maxKeyFileKeys {
		return nil, nil, fmt.Errorf("it holds %d primary keys, more than the %d rpmirror reads", primaries, maxKeyFileKeys)
	}
	if primaries == 0 {
		if others > 0 {
			return nil, nil, errors.New("it holds no key, but other packets")
		}
		return nil, standalone, nil
	}
	packets := packet.NewReader(bytes.NewReader(b))
	for {
		e, err := openpgp.ReadEntity(packets)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("reading key %d of the block: %w", len(keys)+1, err)
		}
		keys = append(keys, e)
	}
	if len(keys) != primaries {
		return nil, nil, fmt.Errorf("it holds %d primary keys, of which %d can be read (a key of an unsupported algorithm or version?)", primaries, len(keys))
	}
	return keys, standalone, nil
}

// OpenPGP packet tags (RFC 9580, section 5) of primary keys.
const (
	tagSignature = 2
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
		return nil, &SignatureError{Reason: ErrUnknownKey, KeyID: issuerOf(raw)}
	case errors.Is(err, pgperrors.ErrKeyRevoked):
		return nil, &SignatureError{Reason: ErrKeyRevoked}
	case errors.Is(err, pgperrors.ErrKeyExpired):
		return nil, &SignatureError{Reason: ErrKeyExpired}
	}
	return nil, &SignatureError{Reason: ErrBadSignature, Detail: err.Error()}
}

// issuerOf returns the issuer key ID of the signature packet pkt, in
// upper-case hex as gpg prints it, "" when it names none.
func issuerOf(pkt []byte) string {
	p, err := packet.Read(bytes.NewReader(pkt))
	if err != nil {
		return ""
	}
	if sig, ok := p.(*packet.Signature); ok && sig.IssuerKeyId != nil {
		return fmt.Sprintf("%016X", *sig.IssuerKeyId)
	}
	return ""
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

// checkArmorCRC checks the CRC-24 line of an armored block (its "=XXXX"
// line before the END line), when it has one, against body, the decoded
// data: gpg, and so dnf and rpm importing a key, refuse a block whose
// checksum does not match ("CRC error"); go-crypto does not check it.
func checkArmorCRC(block, body []byte) error {
	end := bytes.Index(block, []byte("-----END PGP"))
	if end < 0 {
		return nil
	}
	lines := bytes.Split(bytes.TrimRight(block[:end], "\r\n \t"), []byte("\n"))
	last := bytes.TrimSpace(lines[len(lines)-1])
	if len(last) != 5 || last[0] != '=' {
		return nil // no checksum line: optional (RFC 9580)
	}
	want, err := base64.StdEncoding.DecodeString(string(last[1:]))
	if err != nil || len(want) != 3 {
		return fmt.Errorf("decoding armor: the checksum line %q is not base64 of 3 bytes", last)
	}
	if got := crc24(body); got != uint32(want[0])<<16|uint32(want[1])<<8|uint32(want[2]) {
		return fmt.Errorf("decoding armor: its checksum line says %06X, its data sums to %06X: the block is damaged (gpg refuses it: CRC error)", uint32(want[0])<<16|uint32(want[1])<<8|uint32(want[2]), got)
	}
	return nil
}

// crc24 is the CRC-24 of OpenPGP's ASCII armor (RFC 4880, section 6.1).
func crc24(b []byte) uint32 {
	const init, poly = 0xB704CE, 0x1864CFB
	crc := uint32(init)
	for _, c := range b {
		crc ^= uint32(c) << 16
		for range 8 {
			crc <<= 1
			if crc&0x1000000 != 0 {
				crc ^= poly
			}
		}
	}
	return crc & 0xFFFFFF
}
