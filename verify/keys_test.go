package verify_test

import (
	"bytes"
	"crypto"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	rpmutils "github.com/sassoftware/go-rpmutils"

	"github.com/rpmirror/rpmirror/verify"
)

// TestKeyValidity signs a real package with keys made for the purpose:
// valid, revoked, expired before signing, and expired only after
// signing. The keyring holds the public keys as a user would load them
// (serialized and parsed back).
func TestKeyValidity(t *testing.T) {
	pkgs, files := demoPackages(t)
	p := pkgs[0]
	now := time.Now()
	day := uint32(24 * 3600)
	for _, tc := range []struct {
		name    string
		created time.Time // the key's creation time
		life    uint32    // key lifetime in seconds, 0 for none
		revoke  bool
		signed  time.Time
		want    error
	}{
		{name: "valid", created: now.Add(-48 * time.Hour), signed: now},
		{name: "revoked", created: now.Add(-48 * time.Hour), revoke: true, signed: now.Add(-time.Hour), want: verify.ErrKeyRevoked},
		{name: "signed after the key expired", created: now.Add(-10 * 24 * time.Hour), life: day, signed: now, want: verify.ErrKeyExpired},
		{name: "key expired after signing", created: now.Add(-10 * 24 * time.Hour), life: day, signed: now.Add(-10*24*time.Hour + time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &packet.Config{Time: func() time.Time { return tc.created }, KeyLifetimeSecs: tc.life, RSABits: 2048, Algorithm: packet.PubKeyAlgoRSA}
			e, err := openpgp.NewEntity("test", "", "test@rpmirror.invalid", cfg)
			if err != nil {
				t.Fatal(err)
			}
			if tc.revoke {
				if err := e.RevokeKey(packet.KeyCompromised, "test", &packet.Config{Time: func() time.Time { return now.Add(-time.Minute) }}); err != nil {
					t.Fatal(err)
				}
			}
			// Sign a copy of the package with the new key.
			in := filepath.Join(t.TempDir(), "in.rpm")
			os.WriteFile(in, files[p.Href], 0o644)
			f, err := os.Open(in)
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "out.rpm")
			if _, err := rpmutils.SignRpmFile(f, out, e.PrivateKey, &rpmutils.SignatureOptions{Hash: crypto.SHA256, CreationTime: tc.signed}); err != nil {
				t.Fatal(err)
			}
			f.Close()
			signed, _ := os.ReadFile(out)
			var pub bytes.Buffer
			if err := e.Serialize(&pub); err != nil {
				t.Fatal(err)
			}
			keys, err := verify.ParseKeys(pub.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			want := *p
			want.Size, want.Checksum = int64(len(signed)), sha256sum(signed)
			_, err = verify.RPM(bytes.NewReader(signed), &want, keys)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("RPM: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("RPM: %v, want %v", err, tc.want)
			}
		})
	}
}

// TestRPM6Signature: a package whose only signature sits where RPM 6
// puts it (the OPENPGP tag, 278) is reported as a format rpmirror cannot
// check, not as unsigned and not as a crash. The package is a committed
// one with its RSA header signature's tag (268) renumbered to 278.
func TestRPM6Signature(t *testing.T) {
	pkgs, files := demoPackages(t)
	p := pkgs[0]
	b := bytes.Clone(files[p.Href])
	// The signature header starts after the 96-byte lead: 16 bytes of
	// intro (magic, version, reserved, entry count, data size), then the
	// index, 16 bytes an entry, the tag first.
	entries := int(b[96+8])<<24 | int(b[96+9])<<16 | int(b[96+10])<<8 | int(b[96+11])
	found := false
	for i := range entries {
		at := 96 + 16 + 16*i
		if b[at] == 0 && b[at+1] == 0 && b[at+2] == 0x01 && b[at+3] == 0x0c { // 268, RSAHEADER
			b[at+3] = 0x16 // 278, OPENPGP
			found = true
		}
	}
	if !found {
		t.Fatal("the package has no RSA header signature to move")
	}
	want := *p
	want.Size, want.Checksum = int64(len(b)), sha256sum(b)
	_, err := verify.RPM(bytes.NewReader(b), &want, keyring(t, "test"))
	if !errors.Is(err, verify.ErrUnsupported) || !strings.Contains(err.Error(), "RPM 6") {
		t.Fatalf("RPM: %v, want ErrUnsupported naming RPM 6", err)
	}
}
