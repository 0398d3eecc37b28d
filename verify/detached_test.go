package verify_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/verify"
)

// TestDetachedSignature checks repomd.xml.asc-style signatures made by
// gpg (V4) and gpg1 (V3, which go-crypto alone refuses and dnf accepts),
// and that DetachedSigner names the key that made a valid one.
func TestDetachedSignature(t *testing.T) {
	testrepo.RequireTools(t, "gpg", "gpg1", "gpgconf")
	dir := t.TempDir()
	data := filepath.Join(dir, "repomd.xml")
	if err := os.WriteFile(data, []byte("<repomd>revision 1</repomd>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	content, _ := os.ReadFile(data)
	other := keyring(t, "unknown")
	for _, k := range []struct {
		name string
		key  *testrepo.Key
	}{
		{"V4", testrepo.TestKey(t)},
		{"V3", testrepo.NewV3Key(t, "rpmirror v3 <v3@rpmirror.invalid>", "rsa")},
	} {
		asc := filepath.Join(dir, k.name+".asc")
		if err := k.key.DetachSign(data, asc); err != nil {
			t.Fatal(err)
		}
		sig, _ := os.ReadFile(asc)
		keys, err := verify.LoadKeyring(k.key.PublicPath)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name string
			data []byte
			sig  []byte
			keys any
			want error
		}{
			{name: "valid", data: content, sig: sig},
			{name: "another key", data: content, sig: sig, keys: other, want: verify.ErrUnknownKey},
			{name: "data changed", data: append([]byte("x"), content...), sig: sig, want: verify.ErrBadSignature},
			{name: "empty", data: content, sig: nil, want: verify.ErrUnsigned},
			{name: "not a signature", data: content, sig: []byte("-----BEGIN PGP SIGNATURE-----\n\nbm90IGEgc2lnbmF0dXJl\n-----END PGP SIGNATURE-----\n"), want: verify.ErrBadSignature},
		} {
			t.Run(k.name+"/"+tc.name, func(t *testing.T) {
				kr := keys
				if tc.keys != nil {
					kr = other
				}
				signer, err := verify.DetachedSignature(tc.data, tc.sig, kr)
				if tc.want == nil {
					if err != nil || signer == "" {
						t.Fatalf("DetachedSignature: %q, %v", signer, err)
					}
					e, err := verify.DetachedSigner(tc.data, tc.sig, kr)
					if err != nil || verify.Fingerprint(e) != k.key.Fingerprint {
						t.Fatalf("DetachedSigner: %v, want the key %s", err, k.key.Fingerprint)
					}
					return
				}
				var se *verify.SignatureError
				if !errors.As(err, &se) || !errors.Is(err, tc.want) {
					t.Fatalf("DetachedSignature: %v, want a *SignatureError wrapping %v", err, tc.want)
				}
			})
		}
	}
}
