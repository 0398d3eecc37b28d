package verify_test

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/verify"
)

// TestSniffOpenPGP: real signatures and keys (gpg's, armored and binary,
// V4 and gpg1's V3) pass as their kind and fail as the other; an HTML
// page, text, an empty file, damaged armor and a block of another kind
// fail with a *NotOpenPGPError quoting their start.
func TestSniffOpenPGP(t *testing.T) {
	key := testrepo.TestKey(t)
	dir := t.TempDir()
	data := dir + "/repomd.xml"
	if err := os.WriteFile(data, []byte("<repomd/>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := key.DetachSign(data, dir+"/repomd.xml.asc"); err != nil {
		t.Fatal(err)
	}
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	asc, pub := read(dir+"/repomd.xml.asc"), read(key.PublicPath)
	binSig := dearmor(t, asc)
	binKey := dearmor(t, pub)
	shipped := read(testrepo.Testdata(t, "keys", "test.pub"))
	v3key := testrepo.NewV3Key(t, "V3 Signer", "rsa")
	if err := v3key.DetachSign(data, dir+"/v3.asc"); err != nil {
		t.Fatal(err)
	}
	v3 := read(dir + "/v3.asc")
	cases := []struct {
		name string
		b    []byte
		want verify.OpenPGPKind
		ok   bool
	}{
		{"armored signature", asc, verify.KindSignature, true},
		{"binary signature", binSig, verify.KindSignature, true},
		{"armored key", pub, verify.KindPublicKey, true},
		{"binary key", binKey, verify.KindPublicKey, true},
		{"the shipped test key", shipped, verify.KindPublicKey, true},
		{"gpg1's V3 signature", v3, verify.KindSignature, true},
		{"key with text before it", append([]byte("This is the project's key.\n\n"), pub...), verify.KindPublicKey, true},
		{"signature with text before it", append([]byte("Signed by the release key.\n"), asc...), verify.KindSignature, true},
		{"signature armored as a message", bytes.Replace(asc, []byte("PGP SIGNATURE"), []byte("PGP MESSAGE"), 2), verify.KindSignature, true},
		{"signature with no blank line after the armor line", noBlankLine(asc), verify.KindSignature, true},
		{"key after text quoting an armor line mid-line", append([]byte("Import it (the block from -----BEGIN PGP onwards):\n\n"), pub...), verify.KindPublicKey, true},
		{"a key armored as a message", bytes.Replace(pub, []byte("PGP PUBLIC KEY BLOCK"), []byte("PGP MESSAGE"), 2), verify.KindSignature, false},
		{"HTML page quoting an armor line", []byte("<html><body><pre>\n-----BEGIN PGP SIGNATURE-----\n</pre></body></html>\n"), verify.KindSignature, false},
		{"a key as the signature", pub, verify.KindSignature, false},
		{"a signature as the key", asc, verify.KindPublicKey, false},
		{"binary key as the signature", binKey, verify.KindSignature, false},
		{"HTML page", []byte("<!DOCTYPE html>\n<html><body>Not found</body></html>\n"), verify.KindSignature, false},
		{"HTML page as the key", []byte("<html><body>Not found</body></html>\n"), verify.KindPublicKey, false},
		{"empty", nil, verify.KindSignature, false},
		{"white space", []byte("\n\n"), verify.KindPublicKey, false},
		{"damaged armor", []byte("-----BEGIN PGP SIGNATURE-----\n\n!!!!\n-----END PGP SIGNATURE-----\n"), verify.KindSignature, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := verify.SniffOpenPGP(tc.b, tc.want)
			if tc.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ne *verify.NotOpenPGPError
			if !errors.As(err, &ne) {
				t.Fatalf("got %v, want a *NotOpenPGPError", err)
			}
			if ne.Want != tc.want || ne.Begins == "" {
				t.Errorf("%+v", ne)
			}
			t.Log(err)
		})
	}
}

// noBlankLine drops the blank line (and any armor headers before it)
// that follows the armor header line of armored.
func noBlankLine(armored []byte) []byte {
	lines := bytes.SplitAfter(armored, []byte("\n"))
	out := bytes.Clone(lines[0])
	i := 1
	for i < len(lines) && len(bytes.TrimSpace(lines[i])) > 0 && bytes.Contains(lines[i], []byte(": ")) {
		i++
	}
	if i < len(lines) && len(bytes.TrimSpace(lines[i])) == 0 {
		i++
	}
	for _, l := range lines[i:] {
		out = append(out, l...)
	}
	return out
}
