package verify

import (
	"crypto"
	"crypto/dsa" //nolint:staticcheck // OpenPGP DSA keys are what old EL repositories sign with; rpm verifies them.
	"crypto/rsa"
	_ "crypto/sha1" // hash functions signatures may name
	_ "crypto/sha256"
	_ "crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"math/big"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/eddsa"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// This file reads and verifies the OpenPGP signature packets RPM keeps in
// its signature header, the way rpm itself does (rpmio's internal OpenPGP
// parser, which rpm 4.x uses): OpenPGP V3 and V4 signatures, RSA, DSA and
// EdDSA, the key looked up by the issuer key ID (the V3 field, or the V4
// issuer subpacket in the hashed or the unhashed area). The OpenPGP
// library refuses V3 packets and finds keys by fingerprint, so a package
// rpm accepts could be refused and one rpm calls NOKEY accepted.

// errSigFormat is the error of a signature packet rpm cannot parse either.
var errSigFormat = errors.New("malformed OpenPGP signature packet")

// OpenPGP values used below (RFC 4880).
const (
	pgpTagSignature    = 2
	subIssuerKeyID     = 16
	subCreationTime    = 2
	subKeyExpiry       = 9
	subKeyFlags        = 27
	subCriticalBit     = 0x80
	sigTypeBinary      = 0x00
	sigTypeText        = 0x01
	pubAlgoRSA         = 1
	pubAlgoRSASign     = 3
	pubAlgoDSA         = 17
	pubAlgoEdDSA       = 22
	maxSignaturePacket = 64 << 10
)

// sigPacket is one parsed OpenPGP signature packet.
type sigPacket struct {
	version  int  // 3 or 4
	sigType  byte // 0 binary, 1 text; anything else never verifies (as in rpm)
	pubAlgo  byte
	hashAlgo byte
	keyID    uint64 // the issuer key ID; 0 when a V4 packet names none
	created  time.Time
	// suffix is what follows the signed data into the hash: for V3 the
	// signature type and creation time, for V4 the hashed part of the
	// packet and its trailer.
	suffix  []byte
	hashTag [2]byte // the leading 16 bits of the signed hash
	mpis    [][]byte
}

// hashByID maps OpenPGP hash algorithm IDs to the hashes rpm verifies
// signatures with. MD5 and RIPEMD-160 signatures are not accepted.
var hashByID = map[byte]crypto.Hash{
	2:  crypto.SHA1,
	8:  crypto.SHA256,
	9:  crypto.SHA384,
	10: crypto.SHA512,
	11: crypto.SHA224,
}

// parseSignaturePacket parses b, which must hold exactly one OpenPGP
// signature packet, as rpm does: anything before or after it, a packet of
// another type, a version other than 3 or 4, a V3 packet whose hashed
// length is not 5, truncated fields or subpackets, an unknown critical
// hashed subpacket, or signature values that do not match the public key
// algorithm are errors.
func parseSignaturePacket(b []byte) (*sigPacket, error) {
	body, err := packetBody(b)
	if err != nil {
		return nil, err
	}
	if len(body) < 1 {
		return nil, fmt.Errorf("%w: empty", errSigFormat)
	}
	s := &sigPacket{version: int(body[0])}
	var rest []byte
	switch s.version {
	case 3:
		// version, hashed length (5), type, time[4], key ID[8], pubkey
		// algorithm, hash algorithm, hash tag[2]
		if len(body) < 19 || body[1] != 5 {
			return nil, fmt.Errorf("%w: V3 header truncated or hashed length not 5", errSigFormat)
		}
		s.sigType = body[2]
		s.suffix = body[2:7]
		s.created = time.Unix(int64(binary.BigEndian.Uint32(body[3:7])), 0)
		s.keyID = binary.BigEndian.Uint64(body[7:15])
		s.pubAlgo, s.hashAlgo = body[15], body[16]
		copy(s.hashTag[:], body[17:19])
		rest = body[19:]
	case 4:
		if len(body) < 6 {
			return nil, fmt.Errorf("%w: V4 header truncated", errSigFormat)
		}
		s.sigType, s.pubAlgo, s.hashAlgo = body[1], body[2], body[3]
		n := int(binary.BigEndian.Uint16(body[4:6]))
		if 6+n > len(body) {
			return nil, fmt.Errorf("%w: hashed subpackets truncated", errSigFormat)
		}
		hashed := body[:6+n]
		if err := s.subpackets(body[6:6+n], true); err != nil {
			return nil, err
		}
		rest = body[6+n:]
		if len(rest) < 2 {
			return nil, fmt.Errorf("%w: unhashed subpackets truncated", errSigFormat)
		}
		n = int(binary.BigEndian.Uint16(rest[:2]))
		if 2+n > len(rest) {
			return nil, fmt.Errorf("%w: unhashed subpackets truncated", errSigFormat)
		}
		if err := s.subpackets(rest[2:2+n], false); err != nil {
			return nil, err
		}
		rest = rest[2+n:]
		if len(rest) < 2 {
			return nil, fmt.Errorf("%w: hash tag truncated", errSigFormat)
		}
		copy(s.hashTag[:], rest[:2])
		rest = rest[2:]
		s.suffix = make([]byte, 0, len(hashed)+6)
		s.suffix = append(s.suffix, hashed...)
		s.suffix = append(s.suffix, 4, 0xff)
		s.suffix = binary.BigEndian.AppendUint32(s.suffix, uint32(len(hashed)))
	default:
		return nil, &SignatureError{Reason: ErrUnsupported, Detail: fmt.Sprintf("OpenPGP signature packet version %d", s.version)}
	}
	want := 0
	switch s.pubAlgo {
	case pubAlgoRSA, pubAlgoRSASign:
		want = 1
	case pubAlgoDSA, pubAlgoEdDSA:
		want = 2
	default:
		return nil, &SignatureError{Reason: ErrUnsupported, Detail: fmt.Sprintf("public key algorithm %d", s.pubAlgo)}
	}
	for range want {
		if len(rest) < 2 {
			return nil, fmt.Errorf("%w: signature value truncated", errSigFormat)
		}
		bits := int(binary.BigEndian.Uint16(rest[:2]))
		n := (bits + 7) / 8
		if 2+n > len(rest) {
			return nil, fmt.Errorf("%w: signature value truncated", errSigFormat)
		}
		s.mpis = append(s.mpis, rest[2:2+n])
		rest = rest[2+n:]
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the signature values", errSigFormat, len(rest))
	}
	return s, nil
}

// packetBody returns the body of the single signature packet in b.
func packetBody(b []byte) ([]byte, error) {
	if len(b) < 2 || len(b) > maxSignaturePacket || b[0]&0x80 == 0 {
		return nil, fmt.Errorf("%w: not an OpenPGP packet", errSigFormat)
	}
	var tag byte
	var n, hdr int
	if b[0]&0x40 == 0 { // old format: tag in bits 5-2, length type in bits 1-0
		tag = (b[0] >> 2) & 0x0f
		switch b[0] & 3 {
		case 0:
			n, hdr = int(b[1]), 2
		case 1:
			if len(b) < 3 {
				return nil, fmt.Errorf("%w: length truncated", errSigFormat)
			}
			n, hdr = int(binary.BigEndian.Uint16(b[1:3])), 3
		case 2:
			if len(b) < 5 {
				return nil, fmt.Errorf("%w: length truncated", errSigFormat)
			}
			n, hdr = int(binary.BigEndian.Uint32(b[1:5])), 5
		default:
			return nil, fmt.Errorf("%w: indeterminate length", errSigFormat)
		}
	} else { // new format
		tag = b[0] & 0x3f
		switch c := int(b[1]); {
		case c < 192:
			n, hdr = c, 2
		case c < 224:
			if len(b) < 3 {
				return nil, fmt.Errorf("%w: length truncated", errSigFormat)
			}
			n, hdr = (c-192)<<8+int(b[2])+192, 3
		case c == 255:
			if len(b) < 6 {
				return nil, fmt.Errorf("%w: length truncated", errSigFormat)
			}
			n, hdr = int(binary.BigEndian.Uint32(b[2:6])), 6
		default:
			return nil, fmt.Errorf("%w: partial body length", errSigFormat)
		}
	}
	if tag != pgpTagSignature {
		return nil, fmt.Errorf("%w: packet type %d, not a signature", errSigFormat, tag)
	}
	if n < 0 || hdr+n != len(b) {
		return nil, fmt.Errorf("%w: packet length %d, %d bytes present", errSigFormat, n, len(b)-hdr)
	}
	return b[hdr:], nil
}

// subpackets reads a V4 subpacket area: the first issuer key ID found (the
// hashed area is read first) names the key, a creation time counts only in
// the hashed area, and an unknown subpacket marked critical is an error.
func (s *sigPacket) subpackets(b []byte, hashed bool) error {
	for len(b) > 0 {
		var n, hdr int
		switch c := int(b[0]); {
		case c < 192:
			n, hdr = c, 1
		case c < 255:
			if len(b) < 2 {
				return fmt.Errorf("%w: subpacket length truncated", errSigFormat)
			}
			n, hdr = (c-192)<<8+int(b[1])+192, 2
		default:
			if len(b) < 5 {
				return fmt.Errorf("%w: subpacket length truncated", errSigFormat)
			}
			n, hdr = int(binary.BigEndian.Uint32(b[1:5])), 5
		}
		if n < 1 || hdr+n > len(b) {
			return fmt.Errorf("%w: subpacket truncated", errSigFormat)
		}
		sp := b[hdr : hdr+n]
		known := false
		switch sp[0] &^ subCriticalBit {
		case subIssuerKeyID:
			if len(sp) == 9 {
				known = true
				if s.keyID == 0 {
					s.keyID = binary.BigEndian.Uint64(sp[1:])
				}
			}
		case subCreationTime:
			if hashed && len(sp) == 5 {
				known = true
				s.created = time.Unix(int64(binary.BigEndian.Uint32(sp[1:])), 0)
			}
		case subKeyExpiry, subKeyFlags:
			// Meaningful on keys only, but understood by rpm.
			known = true
		}
		if !known && sp[0]&subCriticalBit != 0 {
			return fmt.Errorf("%w: unknown critical subpacket %d", errSigFormat, sp[0]&^subCriticalBit)
		}
		b = b[hdr+n:]
	}
	return nil
}

// newHash returns the hash the signature is made with, or an error for a
// hash rpm does not verify signatures with.
func (s *sigPacket) newHash() (hash.Hash, error) {
	h, ok := hashByID[s.hashAlgo]
	if !ok || !h.Available() {
		return nil, &SignatureError{Reason: ErrUnsupported, KeyID: s.keyIDString(), Detail: fmt.Sprintf("hash algorithm %d", s.hashAlgo)}
	}
	return h.New(), nil
}

func (s *sigPacket) keyIDString() string { return fmt.Sprintf("%016x", s.keyID) }

// findKey returns the key (primary or subkey) whose key ID is the
// signature's issuer key ID and whose algorithm is the signature's, and
// the entity holding it, as rpm's keyring lookup does. Nil means the
// signature is by no configured key (rpm's NOKEY).
func (s *sigPacket) findKey(keys openpgp.EntityList) (*openpgp.Entity, *packet.PublicKey) {
	match := func(pk *packet.PublicKey) bool {
		// rpm compares the algorithm numbers as they are: an RSA key
		// (1) does not match a signature that says RSA sign-only (3).
		return pk != nil && pk.KeyId == s.keyID && byte(pk.PubKeyAlgo) == s.pubAlgo
	}
	for _, e := range keys {
		if match(e.PrimaryKey) {
			return e, e.PrimaryKey
		}
		for _, sub := range e.Subkeys {
			if match(sub.PublicKey) {
				return e, sub.PublicKey
			}
		}
	}
	return nil, nil
}

// check finishes h, into which the signed data has been written, and
// verifies the signature with pk.
func (s *sigPacket) check(h hash.Hash, pk *packet.PublicKey) error {
	h.Write(s.suffix)
	digest := h.Sum(nil)
	bad := func(detail string) error {
		return &SignatureError{Reason: ErrBadSignature, KeyID: s.keyIDString(), Detail: detail}
	}
	if digest[0] != s.hashTag[0] || digest[1] != s.hashTag[1] {
		return bad("the signed digest does not match the signed data")
	}
	if s.sigType != sigTypeBinary && s.sigType != sigTypeText {
		return bad(fmt.Sprintf("signature type %#02x is not a document signature", s.sigType))
	}
	hashID := hashByID[s.hashAlgo]
	want := map[bool]int{true: 1, false: 2}[s.pubAlgo == pubAlgoRSA || s.pubAlgo == pubAlgoRSASign]
	if len(s.mpis) != want || byte(pk.PubKeyAlgo) != s.pubAlgo {
		return bad("the signature's algorithm is not the key's")
	}
	switch pub := pk.PublicKey.(type) {
	case *rsa.PublicKey:
		sig := s.mpis[0]
		k := (pub.N.BitLen() + 7) / 8
		if len(sig) > k {
			return bad("RSA signature longer than the key")
		}
		padded := make([]byte, k)
		copy(padded[k-len(sig):], sig)
		if err := rsa.VerifyPKCS1v15(pub, hashID, digest, padded); err != nil {
			return bad("RSA verification failure")
		}
	case *dsa.PublicKey:
		if n := (pub.Q.BitLen() + 7) / 8; len(digest) > n {
			digest = digest[:n]
		}
		if !dsa.Verify(pub, digest, new(big.Int).SetBytes(s.mpis[0]), new(big.Int).SetBytes(s.mpis[1])) {
			return bad("DSA verification failure")
		}
	case *eddsa.PublicKey:
		if !eddsaVerify(pub, digest, s.mpis[0], s.mpis[1]) {
			return bad("EdDSA verification failure")
		}
	default:
		return &SignatureError{Reason: ErrUnsupported, KeyID: s.keyIDString(), Detail: fmt.Sprintf("public key algorithm %d", pk.PubKeyAlgo)}
	}
	return nil
}

// eddsaVerify verifies an EdDSA signature, recovering from a panic in the
// curve code on hostile values.
func eddsaVerify(pub *eddsa.PublicKey, digest, r, s []byte) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return eddsa.Verify(pub, digest, r, s)
}
