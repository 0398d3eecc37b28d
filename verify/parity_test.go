package verify_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/repodata"
	"github.com/rpmirror/rpmirror/verify"
)

// signer is a key that signs one test package, and what rpm -Kv calls the
// signature it makes.
type signer struct {
	name    string
	key     *testrepo.Key
	version int    // OpenPGP signature packet version rpmsign makes with it
	rpmSays string // in rpm -Kv's output, such as "Header V3 RSA/SHA256 Signature"
}

// signedSet is one real package per kind of signature rpm accepts, signed
// by rpmsign, and a keyring holding every signing key plus an unrelated one.
type signedSet struct {
	signers []signer
	pkgs    []testrepo.Pkg
	paths   []string
	keys    openpgp.EntityList // rpmirror's keyring
	other   openpgp.EntityList // a key that signed nothing
	rpmdb   string             // an rpm database with the same keys imported
	pubs    []string
}

// buildSignedSet makes the keys (gpg1 for V3 signatures, gpg for V4 ones),
// builds and signs one package per key, and imports every public key into
// a temporary rpm database. It skips without the tools.
func buildSignedSet(t *testing.T) *signedSet {
	t.Helper()
	testrepo.RequireTools(t, "rpmbuild", "rpmsign", "rpmkeys", "gpg", "gpg1", "gpgconf")
	s := &signedSet{signers: []signer{
		{"V3 RSA", testrepo.NewV3Key(t, "v3 rsa <v3rsa@rpmirror.invalid>", "rsa"), 3, "Header V3 RSA/SHA256 Signature"},
		{"V3 DSA", testrepo.NewV3Key(t, "v3 dsa <v3dsa@rpmirror.invalid>", "dsa"), 3, "Header V3 DSA/SHA256 Signature"},
		{"V4 RSA", testrepo.NewKey(t, "v4 rsa <v4rsa@rpmirror.invalid>"), 4, "Header V4 RSA/SHA256 Signature"},
		{"V4 DSA", testrepo.NewKeyAlgo(t, "v4 dsa <v4dsa@rpmirror.invalid>", "dsa2048"), 4, "Header V4 DSA/SHA256 Signature"},
		{"V4 EdDSA", testrepo.NewKeyAlgo(t, "v4 eddsa <v4eddsa@rpmirror.invalid>", "ed25519"), 4, "Header V4 EdDSA/SHA256 Signature"},
	}}
	for i, sg := range s.signers {
		s.pkgs = append(s.pkgs, testrepo.Pkg{Name: fmt.Sprintf("parity%d", i), Sign: sg.key, Seed: int64(i)})
		s.pubs = append(s.pubs, sg.key.PublicPath)
	}
	s.paths = testrepo.BuildRPMs(t, t.TempDir(), s.pkgs...)
	var err error
	if s.keys, err = verify.LoadKeyring(s.pubs...); err != nil {
		t.Fatal(err)
	}
	other := testrepo.UnknownKey(t)
	if s.other, err = verify.LoadKeyring(other.PublicPath); err != nil {
		t.Fatal(err)
	}
	s.rpmdb = t.TempDir()
	for _, p := range s.pubs {
		rpmkeys(t, s.rpmdb, "--import", p)
	}
	return s
}

// rpmkeys runs rpmkeys on the temporary database db, never the host's.
func rpmkeys(t *testing.T, db string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("rpmkeys", append([]string{"--dbpath", db}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+db, "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("running rpmkeys: %v", err)
	}
	if err != nil && len(args) > 0 && args[0] == "--import" {
		t.Fatalf("rpmkeys --import: %v: %s", err, out)
	}
	return string(out), err
}

// rpmAccepts reports whether rpm, with the keys of db, accepts the package
// at path as dnf with gpgcheck=1 would install it: rpmkeys -K succeeds
// and at least one signature was checked (rpmkeys -K alone is content with
// digests on an unsigned package; dnf is not).
func rpmAccepts(t *testing.T, db, path string) (bool, string) {
	t.Helper()
	out, err := rpmkeys(t, db, "-Kv", path)
	signed := false
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "Signature") && strings.HasSuffix(strings.TrimSpace(line), ": OK") {
			signed = true
		}
	}
	return err == nil && signed, strings.TrimSpace(out)
}

func packageFor(p testrepo.Pkg, data []byte) *repodata.Package {
	return &repodata.Package{Name: p.Name, Epoch: "0", Version: "1.0", Release: "1", Arch: "noarch", Size: int64(len(data)), Checksum: sha256sum(data)}
}

// TestSignaturesLikeRPM builds real packages signed every way rpm
// accepts (V3 and V4 packets; RSA, DSA and EdDSA keys) and checks
// rpmirror against rpm on them and on altered copies.
func TestSignaturesLikeRPM(t *testing.T) {
	s := buildSignedSet(t)
	t.Run("kinds", func(t *testing.T) { testSignatureKinds(t, s) })
	t.Run("parity", func(t *testing.T) { testRPMParity(t, s) })
}

// testSignatureKinds: each package verifies against its key, is refused
// under another key, and passes with no keys at all, where signatures are
// not parsed: a V3 signature used to fail even then.
func testSignatureKinds(t *testing.T, s *signedSet) {
	for i, sg := range s.signers {
		t.Run(sg.name, func(t *testing.T) {
			data, err := os.ReadFile(s.paths[i])
			if err != nil {
				t.Fatal(err)
			}
			out, _ := rpmkeys(t, s.rpmdb, "-Kv", s.paths[i])
			if !strings.Contains(out, sg.rpmSays) {
				t.Fatalf("rpm -Kv does not show %q:\n%s", sg.rpmSays, out)
			}
			if ok, out := rpmAccepts(t, s.rpmdb, s.paths[i]); !ok {
				t.Fatalf("rpm refuses the package it should accept:\n%s", out)
			}
			want := packageFor(s.pkgs[i], data)
			res, err := verify.RPM(bytes.NewReader(data), want, s.keys)
			if err != nil {
				t.Fatalf("RPM with the signing key: %v", err)
			}
			if len(res.Signatures) != 1 || res.Signatures[0].Version != sg.version || !strings.EqualFold(res.Signatures[0].KeyID, sg.key.ID) {
				t.Errorf("signatures %+v, want one V%d by %s", res.Signatures, sg.version, sg.key.ID)
			}
			if _, err := verify.RPM(bytes.NewReader(data), want, nil); err != nil {
				t.Errorf("RPM with no keys: %v", err)
			}
			_, err = verify.RPM(bytes.NewReader(data), want, s.other)
			if !errors.Is(err, verify.ErrUnknownKey) {
				t.Errorf("RPM with another key: %v, want ErrUnknownKey", err)
			}
		})
	}
}

// sigEntry locates the signature packet rpmsign wrote in a package: the
// RSA (268) or DSA (267) header signature in the signature header.
type sigEntry struct {
	index int // offset of the index entry
	data  int // offset of the packet
	count int // its length
}

func findSigEntry(t *testing.T, b []byte) sigEntry {
	t.Helper()
	const lead = 96
	entries := int(binary.BigEndian.Uint32(b[lead+8:]))
	store := lead + 16 + 16*entries
	for i := range entries {
		at := lead + 16 + 16*i
		tag := binary.BigEndian.Uint32(b[at:])
		if tag == 267 || tag == 268 {
			return sigEntry{index: at, data: store + int(binary.BigEndian.Uint32(b[at+8:])), count: int(binary.BigEndian.Uint32(b[at+12:]))}
		}
	}
	t.Fatal("no RSA or DSA header signature in the package")
	return sigEntry{}
}

// body returns the offset of the signature packet's body (after its
// old-format packet header, which is what gpg writes).
func (e sigEntry) body(b []byte) int {
	switch b[e.data] & 3 {
	case 0:
		return e.data + 2
	case 1:
		return e.data + 3
	default:
		return e.data + 5
	}
}

// v4Subpacket returns the offset of the first subpacket of type typ in a
// V4 packet's hashed (hashed true) or unhashed area, or -1.
func v4Subpacket(b []byte, body int, hashed bool, typ byte) int {
	at := body + 4
	n := int(binary.BigEndian.Uint16(b[at:]))
	area, end := at+2, at+2+n
	if !hashed {
		n2 := int(binary.BigEndian.Uint16(b[end:]))
		area, end = end+2, end+2+n2
	}
	for p := area; p < end; {
		l := int(b[p]) // gpg writes one-byte lengths for these
		if b[p+1]&0x7f == typ {
			return p + 1
		}
		p += 1 + l
	}
	return -1
}

// testRPMParity is a differential test against rpm: the packages have
// their signature packets altered (issuer key ID, algorithms, version,
// type, time, length, signature bytes), and rpmirror must accept exactly
// the variants rpmkeys -K, with the same keys in a temporary rpm
// database, accepts.
func testRPMParity(t *testing.T, s *signedSet) {
	otherID := s.other[0].PrimaryKey.KeyId
	type mutation struct {
		name string
		v    int // only for this packet version; 0 for both
		// change alters the package b; e locates its signature, body
		// the packet body. It returns false when it does not apply.
		change func(b []byte, e sigEntry, body int) bool
	}
	set := func(off int, v byte) func(b []byte, e sigEntry, body int) bool {
		return func(b []byte, e sigEntry, body int) bool { b[body+off] = v; return true }
	}
	xor := func(off int) func(b []byte, e sigEntry, body int) bool {
		return func(b []byte, e sigEntry, body int) bool { b[body+off] ^= 1; return true }
	}
	// Offsets in a V3 body: 0 version, 1 hashed length (5), 2 type, 3-6
	// time, 7-14 key ID, 15 public key algorithm, 16 hash algorithm,
	// 17-18 hash tag. In a V4 body: 0 version, 1 type, 2 public key
	// algorithm, 3 hash algorithm, 4-5 hashed area length.
	unhashedIssuer := func(f func(b []byte, at int)) func(b []byte, e sigEntry, body int) bool {
		return func(b []byte, e sigEntry, body int) bool {
			at := v4Subpacket(b, body, false, 16)
			if at < 0 {
				return false
			}
			f(b, at)
			return true
		}
	}
	mutations := []mutation{
		{name: "unchanged", change: func([]byte, sigEntry, int) bool { return true }},
		{name: "V3 issuer key ID altered", v: 3, change: xor(14)},
		{name: "V3 issuer key ID of another key", v: 3, change: func(b []byte, e sigEntry, body int) bool {
			binary.BigEndian.PutUint64(b[body+7:], otherID)
			return true
		}},
		{name: "V3 hashed length 6", v: 3, change: set(1, 6)},
		{name: "V3 type text", v: 3, change: set(2, 1)},
		{name: "V3 type standalone", v: 3, change: set(2, 2)},
		{name: "V3 creation time", v: 3, change: xor(6)},
		{name: "V3 public key algorithm RSA sign-only", v: 3, change: func(b []byte, e sigEntry, body int) bool {
			if b[body+15] != 1 {
				return false
			}
			b[body+15] = 3
			return true
		}},
		{name: "V3 public key algorithm swapped", v: 3, change: func(b []byte, e sigEntry, body int) bool {
			b[body+15] = map[byte]byte{1: 17, 17: 1}[b[body+15]]
			return true
		}},
		{name: "V3 hash algorithm SHA-1", v: 3, change: set(16, 2)},
		{name: "V3 hash algorithm SHA-512", v: 3, change: set(16, 10)},
		{name: "V3 hash algorithm MD5", v: 3, change: set(16, 1)},
		{name: "V3 hash algorithm unknown", v: 3, change: set(16, 99)},
		{name: "V3 hash tag", v: 3, change: xor(17)},
		{name: "V3 packet says V4", v: 3, change: set(0, 4)},
		{name: "V3 packet says V2", v: 3, change: set(0, 2)},
		{name: "V4 packet says V3", v: 4, change: set(0, 3)},
		{name: "V4 packet says V5", v: 4, change: set(0, 5)},
		{name: "V4 type text", v: 4, change: set(1, 1)},
		{name: "V4 public key algorithm swapped", v: 4, change: func(b []byte, e sigEntry, body int) bool {
			b[body+2] = map[byte]byte{1: 17, 17: 22, 22: 1}[b[body+2]]
			return true
		}},
		{name: "V4 public key algorithm RSA sign-only", v: 4, change: func(b []byte, e sigEntry, body int) bool {
			if b[body+2] != 1 {
				return false
			}
			b[body+2] = 3
			return true
		}},
		{name: "V4 hash algorithm SHA-1", v: 4, change: set(3, 2)},
		{name: "V4 hash algorithm SHA-384", v: 4, change: set(3, 9)},
		{name: "V4 hash algorithm unknown", v: 4, change: set(3, 99)},
		{name: "V4 unhashed issuer key ID altered", v: 4, change: unhashedIssuer(func(b []byte, at int) { b[at+8] ^= 1 })},
		{name: "V4 unhashed issuer key ID of another key", v: 4, change: unhashedIssuer(func(b []byte, at int) { binary.BigEndian.PutUint64(b[at+1:], otherID) })},
		{name: "V4 unhashed issuer key ID removed (fingerprint only)", v: 4, change: unhashedIssuer(func(b []byte, at int) { b[at] = 101 })},
		{name: "V4 unhashed issuer key ID critical", v: 4, change: unhashedIssuer(func(b []byte, at int) { b[at] |= 0x80 })},
		{name: "V4 unhashed unknown critical subpacket", v: 4, change: unhashedIssuer(func(b []byte, at int) { b[at] = 0x80 | 101 })},
		{name: "V4 unhashed critical notation", v: 4, change: unhashedIssuer(func(b []byte, at int) { b[at] = 0x80 | 20 })},
		{name: "V4 hashed issuer fingerprint altered", v: 4, change: func(b []byte, e sigEntry, body int) bool {
			at := v4Subpacket(b, body, true, 33)
			if at < 0 {
				return false
			}
			b[at+10] ^= 1
			return true
		}},
		{name: "V4 hashed creation time altered", v: 4, change: func(b []byte, e sigEntry, body int) bool {
			at := v4Subpacket(b, body, true, 2)
			if at < 0 {
				return false
			}
			b[at+4] ^= 1
			return true
		}},
		{name: "signature value flipped", change: func(b []byte, e sigEntry, body int) bool { b[e.data+e.count-1] ^= 0x40; return true }},
		{name: "signature value first byte flipped", change: func(b []byte, e sigEntry, body int) bool { b[e.data+e.count-20] ^= 0x01; return true }},
		{name: "packet length one more", change: func(b []byte, e sigEntry, body int) bool { b[body-1]++; return true }},
		{name: "packet length one less", change: func(b []byte, e sigEntry, body int) bool { b[body-1]--; return true }},
		{name: "packet type not a signature", change: func(b []byte, e sigEntry, body int) bool { b[e.data] = b[e.data]&^0x3c | 6<<2; return true }},
		{name: "truncated by one byte", change: func(b []byte, e sigEntry, body int) bool {
			binary.BigEndian.PutUint32(b[e.index+12:], uint32(e.count-1))
			return true
		}},
		{name: "truncated to the header", change: func(b []byte, e sigEntry, body int) bool {
			binary.BigEndian.PutUint32(b[e.index+12:], uint32(body-e.data+8))
			return true
		}},
		{name: "RSA and DSA tags swapped", change: func(b []byte, e sigEntry, body int) bool {
			b[e.index+3] = map[byte]byte{0x0b: 0x0c, 0x0c: 0x0b}[b[e.index+3]]
			return true
		}},
	}

	// Write every variant, ask rpm about all of them at once (one rpmkeys
	// run, not two hundred), then compare.
	type variant struct {
		name, path string
		data       []byte
		pkg        testrepo.Pkg
	}
	var variants []variant
	dir := t.TempDir()
	for i, sg := range s.signers {
		orig, err := os.ReadFile(s.paths[i])
		if err != nil {
			t.Fatal(err)
		}
		e := findSigEntry(t, orig)
		body := e.body(orig)
		for _, m := range mutations {
			if m.v != 0 && m.v != sg.version {
				continue
			}
			b := bytes.Clone(orig)
			if !m.change(b, e, body) {
				continue
			}
			name := sg.name + "/" + m.name
			p := filepath.Join(dir, fmt.Sprintf("v%03d.rpm", len(variants)))
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			variants = append(variants, variant{name, p, b, s.pkgs[i]})
		}
	}
	paths := make([]string, len(variants))
	for i, v := range variants {
		paths[i] = v.path
	}
	verdicts := rpmVerdicts(t, s.rpmdb, paths)
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			rpmOK, rpmOut := verdicts[v.path].ok, verdicts[v.path].out
			if rpmOK {
				// Confirm with rpmkeys' exit status, one file alone.
				rpmOK, rpmOut = rpmAccepts(t, s.rpmdb, v.path)
			}
			if strings.HasSuffix(v.name, "/unchanged") && !rpmOK {
				t.Fatalf("rpm refuses the unchanged package:\n%s", rpmOut)
			}
			_, err := verify.RPM(bytes.NewReader(v.data), packageFor(v.pkg, v.data), s.keys)
			if rpmOK != (err == nil) {
				t.Errorf("rpm accepts: %v; rpmirror: %v\nrpm -Kv says:\n%s", rpmOK, err, rpmOut)
			}
			var ce *verify.CorruptError
			if err != nil && !verify.Permanent(err) && !errors.As(err, &ce) {
				t.Errorf("refused with an untyped error %T: %v", err, err)
			}
		})
	}
}

type verdict struct {
	ok  bool
	out string
}

// rpmVerdicts runs rpmkeys -Kv once on every path and reads its report:
// a package passes when every line rpm prints for it ends in ": OK" and
// one of them is a signature's (rpmAccepts' rule; rpmkeys' exit status
// covers all the files at once).
func rpmVerdicts(t *testing.T, db string, paths []string) map[string]verdict {
	t.Helper()
	cmd := exec.Command("rpmkeys", append([]string{"--dbpath", db, "-Kv"}, paths...)...)
	cmd.Env = append(os.Environ(), "HOME="+db, "LC_ALL=C")
	out, _ := cmd.Output() // non-zero when any file fails
	res := make(map[string]verdict)
	var cur string
	var lines []string
	flush := func() {
		if cur == "" {
			return
		}
		ok, signed := len(lines) > 0, false
		for _, l := range lines {
			if !strings.HasSuffix(l, ": OK") {
				ok = false
			}
			if strings.Contains(l, "Signature") {
				signed = true
			}
		}
		res[cur] = verdict{ok: ok && signed, out: cur + ":\n" + strings.Join(lines, "\n")}
	}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasSuffix(l, ".rpm:") && !strings.HasPrefix(l, " ") {
			flush()
			cur, lines = strings.TrimSuffix(l, ":"), nil
			continue
		}
		if strings.TrimSpace(l) != "" {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	flush()
	for _, p := range paths {
		if _, ok := res[p]; !ok {
			res[p] = verdict{out: "rpmkeys printed nothing for " + p}
		}
	}
	return res
}
