package verify

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	rpmutils "github.com/sassoftware/go-rpmutils"

	"github.com/rpmirror/rpmirror/repodata"
)

// Signature describes one validated OpenPGP signature found in an RPM.
type Signature struct {
	KeyID      string // 16 hex digits
	Signer     string // the key's primary user id, when known
	HeaderOnly bool   // the signature covers the header (and so the payload digest in it), not the payload itself
}

// Result is what RPM learned about a package that passed every check.
type Result struct {
	NEVRA      string
	Signatures []Signature // empty when no keyring was given
}

// RPM reads a whole package from r and checks, in one streaming pass, that:
//   - it is want.Size bytes with digest want.Checksum (*SizeError, *ChecksumError);
//   - it parses as an RPM whose header and payload digests match (*CorruptError);
//   - its header's name, epoch, version, release and arch are want's
//     (*HeaderMismatchError);
//   - when keyring is non-empty, at least one signature by a key in keyring
//     verifies, no signature fails, and the payload is covered by a
//     signature either directly or through a payload digest in the signed
//     header (*SignatureError).
//
// With an empty keyring signatures are not checked, but digests still are.
// RPM never panics on hostile input: a panic inside the RPM library is
// reported as a *CorruptError.
func RPM(r io.Reader, want *repodata.Package, keyring openpgp.EntityList) (*Result, error) {
	vr, err := NewReader(r, want.Size, want.Checksum)
	if err != nil {
		return nil, err
	}
	var keys openpgp.EntityList
	if len(keyring) > 0 {
		keys = keyring
	}
	var hdr *rpmutils.RpmHeader
	var sigs []*rpmutils.Signature
	guarded, verr := guardHeaders(vr, want.Size)
	if verr == nil {
		hdr, sigs, verr = safeVerify(guarded, keys)
	}
	// Read what the RPM library left, so the checksum covers every byte.
	if _, err := io.Copy(io.Discard, vr); err != nil {
		// A checksum or size mismatch explains any parse failure: the
		// bytes are not the package the metadata describes.
		return nil, err
	}
	if verr != nil {
		return nil, classify(verr)
	}
	got, err := hdr.GetNEVRA()
	if err != nil {
		return nil, &CorruptError{Err: fmt.Errorf("reading name, version and arch: %w", err)}
	}
	if err := compareNEVRA(want, got, isSource(hdr)); err != nil {
		return nil, err
	}
	res := &Result{NEVRA: want.NEVRA()}
	if keys == nil {
		return res, nil
	}
	if len(sigs) == 0 {
		if hdr.HasTag(rpmOpenPGPTag) {
			return nil, &SignatureError{Reason: ErrUnsupported, Detail: "RPM 6 signatures (OPENPGP tag 278) cannot be checked by this version of rpmirror"}
		}
		return nil, &SignatureError{Reason: ErrUnsigned}
	}
	covered := hdr.HasTag(rpmutils.PAYLOADDIGEST)
	for _, s := range sigs {
		if s.Signer == nil {
			// Verify validated every signature against keys or failed, so
			// a signature without a signer cannot get here; be safe anyway.
			return nil, &SignatureError{Reason: ErrUnknownKey, KeyID: fmt.Sprintf("%016x", s.KeyId)}
		}
		if err := keyValid(s); err != nil {
			return nil, err
		}
		if !s.HeaderOnly {
			covered = true
		}
		res.Signatures = append(res.Signatures, Signature{
			KeyID:      fmt.Sprintf("%016x", s.KeyId),
			Signer:     s.PrimaryName,
			HeaderOnly: s.HeaderOnly,
		})
	}
	if !covered {
		return nil, &SignatureError{Reason: ErrNoPayloadCoverage, KeyID: res.Signatures[0].KeyID}
	}
	return res, nil
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

// guardHeaders reads the lead and the intros of the signature and main
// headers from r and refuses sizes that are impossible (larger than the
// file, size < 0 meaning unknown) or beyond rpm's limits. It returns a
// reader that replays what it read, then the rest of r. Memory it uses
// grows only with bytes actually read.
func guardHeaders(r io.Reader, size int64) (io.Reader, error) {
	var buf bytes.Buffer
	corrupt := func(format string, a ...any) error {
		return &CorruptError{Err: fmt.Errorf(format, a...)}
	}
	if _, err := io.CopyN(&buf, r, leadSize+introSize); err != nil {
		return nil, corrupt("reading the lead: %w", eofIsUnexpected(err))
	}
	b := buf.Bytes()
	if !bytes.Equal(b[:4], []byte{0xed, 0xab, 0xee, 0xdb}) {
		return nil, corrupt("file is not an RPM (bad lead magic)")
	}
	intro := func(at int, what string, maxLen int64, pad bool) (int64, error) {
		b := buf.Bytes()[at:]
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
	if _, err := io.CopyN(&buf, r, sigLen+introSize); err != nil {
		return nil, corrupt("reading the signature header: %w", eofIsUnexpected(err))
	}
	if _, err := intro(leadSize+introSize+int(sigLen), "main", maxHeader, false); err != nil {
		return nil, err
	}
	return io.MultiReader(&buf, r), nil
}

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
func keyValid(s *rpmutils.Signature) error {
	e := s.Signer
	id := fmt.Sprintf("%016x", s.KeyId)
	if e.Revoked(time.Now()) {
		return &SignatureError{Reason: ErrKeyRevoked, KeyID: id}
	}
	if self, _ := e.PrimarySelfSignature(); self != nil && e.PrimaryKey.KeyExpired(self, s.CreationTime) {
		return &SignatureError{Reason: ErrKeyExpired, KeyID: id, Detail: "signed " + s.CreationTime.UTC().Format(time.DateOnly)}
	}
	if s.KeyId == e.PrimaryKey.KeyId {
		return nil
	}
	for _, sub := range e.Subkeys {
		if sub.PublicKey.KeyId != s.KeyId {
			continue
		}
		if sub.Revoked(time.Now()) {
			return &SignatureError{Reason: ErrKeyRevoked, KeyID: id}
		}
		if sub.Sig != nil && sub.PublicKey.KeyExpired(sub.Sig, s.CreationTime) {
			return &SignatureError{Reason: ErrKeyExpired, KeyID: id, Detail: "signed " + s.CreationTime.UTC().Format(time.DateOnly)}
		}
	}
	return nil
}

// safeVerify calls rpmutils.Verify, turning a panic on malformed input into
// an error.
func safeVerify(r io.Reader, keys openpgp.EntityList) (hdr *rpmutils.RpmHeader, sigs []*rpmutils.Signature, err error) {
	defer func() {
		if p := recover(); p != nil {
			hdr, sigs, err = nil, nil, &CorruptError{Err: fmt.Errorf("rpm library failed on malformed input: %v", p)}
		}
	}()
	return rpmutils.Verify(r, keys)
}

// classify maps what the RPM and OpenPGP libraries return onto this
// package's typed errors.
func classify(err error) error {
	var ce *CorruptError
	if errors.As(err, &ce) {
		return err
	}
	var knf rpmutils.KeyNotFoundError
	if errors.As(err, &knf) {
		id := fmt.Sprintf("%016x", knf.KeyID)
		if knf.KeyID == 0 && len(knf.Fingerprint) > 0 {
			id = fmt.Sprintf("%x", knf.Fingerprint)
		}
		return &SignatureError{Reason: ErrUnknownKey, KeyID: id}
	}
	if errors.Is(err, rpmutils.ErrNoPGPSignature) || errors.Is(err, rpmutils.ErrTrailingGarbage) {
		return &SignatureError{Reason: ErrUnsupported, Detail: err.Error()}
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "openpgp: invalid signature"),
		strings.Contains(msg, "signature made by unexpected"),
		strings.Contains(msg, "openpgp: hash tag doesn't match"):
		return &SignatureError{Reason: ErrBadSignature, Detail: msg}
	case strings.Contains(msg, "unsupported"), strings.Contains(msg, "unknown"):
		// go-crypto says "unsupported" for v6 packets and unknown
		// algorithms; go-rpmutils says "unknown payload digest".
		return &SignatureError{Reason: ErrUnsupported, Detail: msg}
	}
	return &CorruptError{Err: err}
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
