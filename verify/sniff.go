package verify

import (
	"bytes"
	"fmt"
	"io"
	"slices"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
)

// OpenPGPKind is what an OpenPGP file served beside repomd.xml holds.
type OpenPGPKind int

const (
	// KindSignature is repomd.xml.asc's kind: a detached signature.
	KindSignature OpenPGPKind = iota
	// KindPublicKey is repomd.xml.key's kind: public keys.
	KindPublicKey
)

// armorTypes are the armor block types a file of kind k comes in: a
// detached signature is "PGP SIGNATURE", or "PGP MESSAGE" from some tools
// (gpg verifies either; the first packet decides).
func (k OpenPGPKind) armorTypes() []string {
	if k == KindPublicKey {
		return []string{"PGP PUBLIC KEY BLOCK"}
	}
	return []string{"PGP SIGNATURE", "PGP MESSAGE"}
}

// armorLine returns the offset of the first armor header line of b
// ("-----BEGIN PGP" at the start of a line), or -1.
func armorLine(b []byte) int {
	const begin = "-----BEGIN PGP"
	if bytes.HasPrefix(b, []byte(begin)) {
		return 0
	}
	if i := bytes.Index(b, []byte("\n"+begin)); i >= 0 {
		return i + 1
	}
	return -1
}

// dearmor decodes the armored block at the start of b, returning its type
// and up to 1 MiB of its body. A block whose header line is not followed
// by a blank line (or armor headers and one), which gpg reads with a
// warning, is read as if it were.
func dearmor(b []byte) (typ string, body []byte, err error) {
	read := func(b []byte) (string, []byte, error) {
		blk, err := armor.Decode(bytes.NewReader(b))
		if err != nil {
			return "", nil, err
		}
		body, err := io.ReadAll(io.LimitReader(blk.Body, 1<<20))
		return blk.Type, body, err
	}
	typ, body, err = read(b)
	if err == nil {
		return typ, body, nil
	}
	if nl := bytes.IndexByte(b, '\n'); nl >= 0 {
		fixed := append(append(bytes.Clone(b[:nl+1]), '\n'), b[nl+1:]...)
		if t, bd, err2 := read(fixed); err2 == nil {
			return t, bd, nil
		}
	}
	return "", nil, err
}

func (k OpenPGPKind) tag() byte {
	if k == KindPublicKey {
		return 6
	}
	return pgpTagSignature
}

func (k OpenPGPKind) String() string {
	if k == KindPublicKey {
		return "OpenPGP public keys"
	}
	return "an OpenPGP signature"
}

// NotOpenPGPError is data that is not OpenPGP data of the kind wanted.
type NotOpenPGPError struct {
	Want OpenPGPKind
	// Begins is the start of the data, quoted, for the message.
	Begins string
	Why    string
}

func (e *NotOpenPGPError) Error() string {
	if e.Begins == `""` {
		return fmt.Sprintf("not %s (%s)", e.Want, e.Why)
	}
	return fmt.Sprintf("not %s (%s; it begins %s)", e.Want, e.Why, e.Begins)
}

// SniffOpenPGP checks the form of b, a file served as repomd.xml.asc
// (KindSignature) or repomd.xml.key (KindPublicKey) when nothing verifies it (no
// repo_gpgcheck): an ASCII-armored block of that kind whose armor decodes
// (base64 and checksum), or binary data whose first packet is of that
// kind. It does not check that the signature verifies or that the keys
// are usable: it tells OpenPGP data from what a misconfigured server
// answers 200 with for a file it does not have (an HTML page), which
// would otherwise be mirrored as the signature or key clients fetch. The
// error is a *NotOpenPGPError.
func SniffOpenPGP(b []byte, want OpenPGPKind) error {
	fail := func(why string) error {
		n := min(len(b), 24)
		return &NotOpenPGPError{Want: want, Begins: fmt.Sprintf("%q", b[:n]), Why: why}
	}
	trimmed := bytes.TrimLeft(bytes.TrimPrefix(b, utf8BOM), " \t\r\n")
	if len(trimmed) == 0 {
		return fail("it is empty")
	}
	if start := armorLine(trimmed); start >= 0 { // gpg skips text before it, as RHEL's key files have
		typ, body, err := dearmor(trimmed[start:])
		if err != nil {
			return fail("its armor does not decode: " + err.Error())
		}
		if !slices.Contains(want.armorTypes(), typ) {
			return fail(fmt.Sprintf("its armor holds a %q block", typ))
		}
		b = body
		if len(b) == 0 {
			return fail("its armor holds nothing")
		}
	}
	if b[0]&0x80 == 0 {
		return fail("no OpenPGP packet")
	}
	tag := (b[0] >> 2) & 0x0f // old format
	if b[0]&0x40 != 0 {
		tag = b[0] & 0x3f // new format
	}
	if tag != want.tag() {
		return fail(fmt.Sprintf("its first packet is of type %d, not %d", tag, want.tag()))
	}
	return nil
}
