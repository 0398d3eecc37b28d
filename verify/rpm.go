package verify

import (
	"bytes"
	"crypto"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"strings"
	gosync "sync"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	rpmutils "github.com/sassoftware/go-rpmutils"

	"github.com/rpmirror/rpmirror/repodata"
)

// Signature describes one validated OpenPGP signature found in an RPM.
type Signature struct {
	KeyID      string // 16 hex digits
	Signer     string // the key's primary user id, when known
	Version    int    // the OpenPGP signature packet's version: 3 or 4
	HeaderOnly bool   // the signature covers the header (and so the payload digest in it), not the payload itself
}

// Result is what RPM learned about a package that passed every check.
type Result struct {
	NEVRA      string
	Signatures []Signature // empty when no keyring was given
}

// RPM reads a whole package from r and checks, in one streaming pass, that:
//   - it is want.Size bytes with digest want.Checksum (*SizeError, *ChecksumError);
//   - it parses as an RPM whose digests match, as rpm -K checks them: the
//     header's SHA-256 and SHA-1, the payload digest, and the MD5 over
//     header and payload (*CorruptError);
//   - its header's name, epoch, version, release and arch are want's
//     (*HeaderMismatchError);
//   - when keyring is non-empty, every signature in the package verifies
//     against a key in keyring, found the way rpm finds it (by the issuer
//     key ID), at least one signature is present, and the payload is
//     covered by a signature either directly or through a payload digest
//     in the signed header (*SignatureError). OpenPGP V3 and V4 signatures
//     with RSA, DSA or EdDSA keys and SHA-1 or SHA-2 digests are checked.
//
// With an empty keyring signatures are neither parsed nor checked, but
// digests still are. RPM never panics on hostile input: a panic inside
// the RPM library is reported as a *CorruptError.
func RPM(r io.Reader, want *repodata.Package, keyring openpgp.EntityList) (*Result, error) {
	vr, err := NewReader(r, want.Size, want.Checksum)
	if err != nil {
		return nil, err
	}
	var sigs []Signature
	hb := headerBuffers.Get().(*[]byte)
	hdr, raw, verr := readHeaders(vr, want.Size, *hb)
	defer func() {
		// Nothing keeps raw: the parsed headers hold copies.
		if raw != nil && cap(raw) <= maxPooledHeaders {
			*hb = raw[:0]
		}
		headerBuffers.Put(hb)
	}()
	if verr == nil {
		sigs, verr = safeCheck(hdr, raw, vr, keyring)
	}
	// Read what is left, so the checksum covers every byte.
	if _, err := io.Copy(io.Discard, vr); err != nil {
		// A checksum or size mismatch explains any parse failure: the
		// bytes are not the package the metadata describes.
		return nil, err
	}
	if verr != nil {
		return nil, verr
	}
	got, err := hdr.GetNEVRA()
	if err != nil {
		return nil, &CorruptError{Err: fmt.Errorf("reading name, version and arch: %w", err)}
	}
	if err := compareNEVRA(want, got, isSource(hdr)); err != nil {
		return nil, err
	}
	return &Result{NEVRA: want.NEVRA(), Signatures: sigs}, nil
}

// readHeaders reads the lead and both headers from r (guarded against
// impossible sizes) and parses them. It returns the parsed headers and
// the bytes read (in buf's storage when they fit), r positioned at the
// payload.
func readHeaders(r io.Reader, size int64, buf []byte) (hdr *rpmutils.RpmHeader, raw []byte, err error) {
	raw, err = guardHeaders(r, size, buf)
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if p := recover(); p != nil {
			hdr, raw, err = nil, nil, &CorruptError{Err: fmt.Errorf("rpm library failed on malformed input: %v", p)}
		}
	}()
	// ReadHeader also checks the header digest the signature header
	// prefers (SHA-256 when present).
	hdr, err = rpmutils.ReadHeader(bytes.NewReader(raw))
	if err != nil {
		return nil, nil, &CorruptError{Err: err}
	}
	if rg := hdr.GetRange(); rg.End != len(raw) {
		return nil, nil, &CorruptError{Err: fmt.Errorf("headers end at byte %d, expected %d", rg.End, len(raw))}
	}
	return hdr, raw, nil
}

// pkgSig is one signature found in the signature header, ready to hash.
type pkgSig struct {
	tag        int
	headerOnly bool
	sig        *sigPacket
	h          hash.Hash
	entity     *openpgp.Entity
	key        *packet.PublicKey
	err        error // why it cannot verify, when known before hashing
}

// The signature header's tags holding OpenPGP signatures, as
// go-rpmutils numbers them.
var sigTags = []struct {
	tag        int
	name       string
	headerOnly bool
}{
	{rpmutils.SIG_RSA, "RSA header signature", true},
	{rpmutils.SIG_DSA, "DSA header signature", true},
	{rpmutils.SIG_PGP, "PGP header and payload signature", false},
	{rpmutils.SIG_GPG, "GPG header and payload signature", false},
}

// checkPackage checks the header digests, then streams the payload from
// r through the payload digest, the MD5 and the payload signatures, and
// verifies every signature when keys is not empty. Digest failures are
// reported before signature failures.
func checkPackage(hdr *rpmutils.RpmHeader, raw []byte, r io.Reader, keys openpgp.EntityList) ([]Signature, error) {
	rg := hdr.GetRange()
	mainHdr := raw[rg.Start:rg.End]
	corrupt := func(format string, a ...any) error { return &CorruptError{Err: fmt.Errorf(format, a...)} }

	// Header digests: rpm checks both when both are present.
	for _, d := range []struct {
		tag int
		h   crypto.Hash
	}{{rpmutils.SIG_SHA256, crypto.SHA256}, {rpmutils.SIG_SHA1, crypto.SHA1}} {
		want, ok, err := sigString(hdr, d.tag)
		if err != nil {
			return nil, corrupt("reading the header %s digest: %w", d.h, err)
		}
		if ok {
			h := d.h.New()
			h.Write(mainHdr)
			if hex.EncodeToString(h.Sum(nil)) != strings.ToLower(want) {
				return nil, corrupt("header %s digest mismatch", d.h)
			}
		}
	}

	var writers []io.Writer
	var check []func() error
	// The payload digest, in the main header.
	if vals, err := hdr.GetStrings(rpmutils.PAYLOADDIGEST); err == nil && len(vals) > 0 {
		algo, err := hdr.GetUint32s(rpmutils.PAYLOADDIGESTALGO)
		if err != nil || len(algo) == 0 {
			return nil, corrupt("payload digest without an algorithm")
		}
		h, ok := payloadHashes[algo[0]]
		if !ok {
			return nil, &SignatureError{Reason: ErrUnsupported, Detail: fmt.Sprintf("unknown payload digest algorithm %d", algo[0])}
		}
		ph := h.New()
		writers = append(writers, ph)
		check = append(check, func() error {
			if hex.EncodeToString(ph.Sum(nil)) != strings.ToLower(vals[0]) {
				return corrupt("payload %s digest mismatch", h)
			}
			return nil
		})
	}
	// The MD5 over header and payload, in the signature header.
	md5sum, err := hdr.GetBytes(rpmutils.SIG_MD5)
	if err == nil {
		mh := md5.New()
		mh.Write(mainHdr)
		writers = append(writers, mh)
		check = append(check, func() error {
			if !bytes.Equal(mh.Sum(nil), md5sum) {
				return corrupt("MD5 digest mismatch")
			}
			return nil
		})
	} else if !isNoTag(err) {
		return nil, corrupt("reading the MD5 digest: %w", err)
	}
	if len(check) == 0 {
		return nil, corrupt("no usable payload digest found")
	}

	// Signatures, only when there are keys to check them with.
	var sigs []*pkgSig
	if len(keys) > 0 {
		for _, st := range sigTags {
			blob, err := hdr.GetBytes(st.tag)
			if isNoTag(err) {
				continue
			}
			s := &pkgSig{tag: st.tag, headerOnly: st.headerOnly}
			sigs = append(sigs, s)
			if err != nil {
				s.err = &SignatureError{Reason: ErrBadSignature, Detail: fmt.Sprintf("%s: %v", st.name, err)}
				continue
			}
			if s.sig, err = parseSignaturePacket(blob); err != nil {
				var se *SignatureError
				if !errors.As(err, &se) {
					err = &SignatureError{Reason: ErrBadSignature, Detail: fmt.Sprintf("%s: %v", st.name, err)}
				}
				s.err = err
				continue
			}
			if s.h, err = s.sig.newHash(); err != nil {
				s.err = err
				continue
			}
			s.h.Write(mainHdr)
			if !st.headerOnly {
				writers = append(writers, s.h)
			}
			if s.entity, s.key = s.sig.findKey(keys); s.key == nil {
				s.err = &SignatureError{Reason: ErrUnknownKey, KeyID: s.sig.keyIDString()}
			}
		}
	}

	bp := copyBuffers.Get().(*[]byte)
	_, err = io.CopyBuffer(io.MultiWriter(writers...), r, *bp)
	copyBuffers.Put(bp)
	if err != nil {
		return nil, err
	}
	for _, c := range check {
		if err := c(); err != nil {
			return nil, err
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	if len(sigs) == 0 {
		if hdr.HasTag(rpmOpenPGPTag) {
			return nil, &SignatureError{Reason: ErrUnsupported, Detail: "RPM 6 signatures (OPENPGP tag 278) cannot be checked by this version of rpmirror"}
		}
		return nil, &SignatureError{Reason: ErrUnsigned}
	}
	covered := hdr.HasTag(rpmutils.PAYLOADDIGEST)
	var res []Signature
	for _, s := range sigs {
		if s.err != nil {
			return nil, s.err
		}
		if err := s.sig.check(s.h, s.key); err != nil {
			return nil, err
		}
		if err := keyValid(s.entity, s.key, s.sig); err != nil {
			return nil, err
		}
		if !s.headerOnly {
			covered = true
		}
		sig := Signature{KeyID: s.sig.keyIDString(), Version: s.sig.version, HeaderOnly: s.headerOnly}
		if id := s.entity.PrimaryIdentity(); id != nil {
			sig.Signer = id.Name
		}
		res = append(res, sig)
	}
	if !covered {
		return nil, &SignatureError{Reason: ErrNoPayloadCoverage, KeyID: res[0].KeyID}
	}
	return res, nil
}

// payloadHashes maps rpm's PAYLOADDIGESTALGO values (OpenPGP hash IDs)
// onto hashes.
var payloadHashes = map[uint32]crypto.Hash{
	1:  crypto.MD5,
	2:  crypto.SHA1,
	8:  crypto.SHA256,
	9:  crypto.SHA384,
	10: crypto.SHA512,
	11: crypto.SHA224,
}

func isNoTag(err error) bool {
	var nt rpmutils.NoSuchTagError
	return errors.As(err, &nt)
}

// sigString returns a string tag of the signature header.
func sigString(hdr *rpmutils.RpmHeader, tag int) (string, bool, error) {
	vals, err := hdr.GetStrings(tag)
	if isNoTag(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	if len(vals) != 1 {
		return "", false, fmt.Errorf("tag %d holds %d strings, want 1", tag, len(vals))
	}
	return vals[0], true, nil
}

// rpmOpenPGPTag is RPMSIGTAG_OPENPGP, where RPM 6 keeps its (possibly
// several, possibly OpenPGP v6) signatures.
const rpmOpenPGPTag = 278

// Limits on the two headers at the start of an RPM, as rpm itself has
// them: the RPM library allocates what a header declares before reading
// it, so the declared sizes are checked first.
const (
	maxHeaderEntries = 0xffff
	maxSigHeader     = 64 << 20
	maxHeader        = 256 << 20
	leadSize         = 96
	introSize        = 16
)

// guardHeaders reads the lead and both headers from r and refuses sizes
// that are impossible (larger than the file, size < 0 meaning unknown) or
// beyond rpm's limits before reading what they declare. It returns the
// bytes read, in buf's storage when they fit (buf may be nil); r is left
// at the payload. Memory it uses grows only with bytes actually read.
func guardHeaders(r io.Reader, size int64, buf []byte) ([]byte, error) {
	corrupt := func(format string, a ...any) error {
		return &CorruptError{Err: fmt.Errorf(format, a...)}
	}
	buf, err := readMore(buf[:0], r, leadSize+introSize)
	if err != nil {
		return nil, corrupt("reading the lead: %w", eofIsUnexpected(err))
	}
	if !bytes.Equal(buf[:4], []byte{0xed, 0xab, 0xee, 0xdb}) {
		return nil, corrupt("file is not an RPM (bad lead magic)")
	}
	intro := func(at int, what string, maxLen int64, pad bool) (int64, error) {
		b := buf[at:]
		if !bytes.Equal(b[:3], []byte{0x8e, 0xad, 0xe8}) {
			return 0, corrupt("bad magic for the %s header", what)
		}
		entries := int64(binary.BigEndian.Uint32(b[8:12]))
		data := int64(binary.BigEndian.Uint32(b[12:16]))
		if pad {
			data = (data + 7) / 8 * 8
		}
		n := entries*16 + data
		if entries > maxHeaderEntries || n > maxLen || (size >= 0 && int64(at)+introSize+n > size) {
			return 0, corrupt("%s header declares %d entries and %d bytes of data, more than the package or rpm's limits allow", what, entries, data)
		}
		return n, nil
	}
	sigLen, err := intro(leadSize, "signature", maxSigHeader, true)
	if err != nil {
		return nil, err
	}
	if buf, err = readMore(buf, r, sigLen+introSize); err != nil {
		return nil, corrupt("reading the signature header: %w", eofIsUnexpected(err))
	}
	mainLen, err := intro(leadSize+introSize+int(sigLen), "main", maxHeader, false)
	if err != nil {
		return nil, err
	}
	if buf, err = readMore(buf, r, mainLen); err != nil {
		return nil, corrupt("reading the main header: %w", eofIsUnexpected(err))
	}
	return buf, nil
}

// readMore appends n bytes read from r to buf, making room for at most
// preGrow of them before they arrive: what a header declares is not
// trusted further.
func readMore(buf []byte, r io.Reader, n int64) ([]byte, error) {
	for n > 0 {
		chunk := int(min(n, preGrow))
		buf = slices.Grow(buf, chunk)
		got, err := io.ReadFull(r, buf[len(buf):len(buf)+chunk])
		buf = buf[:len(buf)+got]
		if err != nil {
			return buf, err
		}
		n -= int64(chunk)
	}
	return buf, nil
}

// preGrow is the most guardHeaders makes room for before the bytes
// arrive: what a header declares is not trusted further.
const preGrow = 64 << 10

// headerBuffers hold the headers of packages being checked (RPM): a
// small package's are a few KB, read into a buffer of their own and
// dropped for each package before. One grown beyond maxPooledHeaders is
// not kept.
var headerBuffers = gosync.Pool{New: func() any {
	b := make([]byte, 0, 16<<10)
	return &b
}}

const maxPooledHeaders = 1 << 20

// PayloadBuffer is the size of the reads RPM makes for a package's
// payload (from a download, each is a hand-over from the goroutine
// receiving it): 256 KiB, not 32, for fewer of them on large packages
// (see fetch's largeBuffer); the buffers are pooled, so a small package
// costs no more.
const PayloadBuffer = 256 << 10

// copyBuffers hold the buffers that feed a package's payload to its
// digests: one a package would be PayloadBuffer of garbage each.
var copyBuffers = gosync.Pool{New: func() any {
	b := make([]byte, PayloadBuffer)
	return &b
}}

func eofIsUnexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// keyValid refuses a signature whose key is revoked (now, whatever the
// signature's date: a revocation may mean the key was compromised) or
// had expired when the signature was made. A key that expired after
// signing is fine, so packages signed in time stay valid.
func keyValid(e *openpgp.Entity, key *packet.PublicKey, s *sigPacket) error {
	id := s.keyIDString()
	if e.Revoked(time.Now()) {
		return &SignatureError{Reason: ErrKeyRevoked, KeyID: id}
	}
	expired := &SignatureError{Reason: ErrKeyExpired, KeyID: id, Detail: "signed " + s.created.UTC().Format(time.DateOnly)}
	if self, _ := e.PrimarySelfSignature(); self != nil && e.PrimaryKey.KeyExpired(self, s.created) {
		return expired
	}
	if key == e.PrimaryKey {
		return nil
	}
	for _, sub := range e.Subkeys {
		if sub.PublicKey != key {
			continue
		}
		if sub.Revoked(time.Now()) {
			return &SignatureError{Reason: ErrKeyRevoked, KeyID: id}
		}
		if sub.Sig != nil && sub.PublicKey.KeyExpired(sub.Sig, s.created) {
			return expired
		}
	}
	return nil
}

// safeCheck is checkPackage, turning a panic on malformed input into an
// error.
func safeCheck(hdr *rpmutils.RpmHeader, raw []byte, r io.Reader, keys openpgp.EntityList) (sigs []Signature, err error) {
	defer func() {
		if p := recover(); p != nil {
			sigs, err = nil, &CorruptError{Err: fmt.Errorf("rpm library failed on malformed input: %v", p)}
		}
	}()
	return checkPackage(hdr, raw, r, keys)
}

// isSource reports whether hdr is a source package's: binary packages name
// the source package they were built from, source packages do not.
func isSource(hdr *rpmutils.RpmHeader) bool {
	return !hdr.HasTag(rpmutils.SOURCERPM)
}

func compareNEVRA(want *repodata.Package, got *rpmutils.NEVRA, source bool) error {
	epoch := want.Epoch
	if epoch == "" {
		epoch = "0"
	}
	fields := []struct{ name, want, got string }{
		{"name", want.Name, got.Name},
		{"epoch", epoch, got.Epoch},
		{"version", want.Version, got.Version},
		{"release", want.Release, got.Release},
	}
	wantSource := want.Arch == "src" || want.Arch == "nosrc"
	if wantSource != source {
		kind := map[bool]string{true: "source", false: "binary"}
		return &HeaderMismatchError{Field: "arch", Want: want.Arch + " (" + kind[wantSource] + ")", Got: got.Arch + " (" + kind[source] + ")"}
	}
	if !wantSource {
		fields = append(fields, struct{ name, want, got string }{"arch", want.Arch, got.Arch})
	}
	for _, f := range fields {
		if f.want != f.got {
			return &HeaderMismatchError{Field: f.name, Want: f.want, Got: f.got}
		}
	}
	return nil
}
