package verify_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/armor"

	"github.com/rpmirror/rpmirror/verify"
)

// Fingerprints of the committed test keys (testdata/keys/README.md).
const (
	testFingerprint    = "F02FA5685B7247579FBAA4EDD3B669296A88F7E0"
	unknownFingerprint = "E31566107EE7C6451C355BAA0A70F3E680E69761"
)

// committedKey returns the committed file testdata/keys/name, as it is.
func committedKey(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "keys", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// dearmor returns the binary body of an armored block.
func dearmor(t testing.TB, b []byte) []byte {
	t.Helper()
	blk, err := armor.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(blk.Body)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// unsupportedKey is a V4 public key packet of public key algorithm 99,
// which no OpenPGP implementation knows: go-crypto's key ring reader
// skips it without a word.
var unsupportedKey = []byte{0xc6, 10, 4, 0x65, 0x92, 0, 0, 99, 0, 8, 0xab, 0xcd}

// TestParsePublicKeys: every key of a key file is read, armored (one
// block or several, text around them) or binary, and a key the library
// cannot read, a secret key or no key at all is an error, where ParseKeys
// skips the unreadable key.
func TestParsePublicKeys(t *testing.T) {
	pub, other := committedKey(t, "test.pub"), committedKey(t, "unknown.pub")
	bin := dearmor(t, pub)
	for _, tc := range []struct {
		name string
		data []byte
		want []string // fingerprints; nil: an error
		is   error    // the error wraps it, when set
	}{
		{name: "armored", data: pub, want: []string{testFingerprint}},
		{name: "binary", data: bin, want: []string{testFingerprint}},
		{name: "two armored blocks", data: slices.Concat(pub, other), want: []string{testFingerprint, unknownFingerprint}},
		{name: "two keys in one binary block", data: slices.Concat(bin, dearmor(t, other)), want: []string{testFingerprint, unknownFingerprint}},
		{name: "text before the block", data: slices.Concat([]byte("The key repomd.xml is signed with:\n\n"), pub), want: []string{testFingerprint}},
		{name: "a key of an unknown algorithm after it", data: slices.Concat(bin, unsupportedKey)},
		{name: "a key of an unknown algorithm before it", data: slices.Concat(unsupportedKey, bin)},
		{name: "a secret key", data: committedKey(t, "test.sec")},
		{name: "a secret key, binary", data: dearmor(t, committedKey(t, "test.sec"))},
		{name: "garbage", data: []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnot base64 at all!\n-----END PGP PUBLIC KEY BLOCK-----\n")},
		{name: "not a key", data: []byte("<html>404 Not Found</html>\n")},
		{name: "cut short", data: bin[:len(bin)/2]},
		{name: "empty", data: []byte("\n"), is: verify.ErrNoKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := verify.ParsePublicKeys(tc.data)
			if tc.want == nil {
				if err == nil {
					t.Fatalf("ParsePublicKeys read %d keys, want an error", len(keys))
				}
				t.Logf("error: %v", err)
				if tc.is != nil && !errors.Is(err, tc.is) {
					t.Errorf("error %v, want one wrapping %v", err, tc.is)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePublicKeys: %v", err)
			}
			var got []string
			for _, e := range keys {
				got = append(got, verify.Fingerprint(e))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("fingerprints %v, want %v", got, tc.want)
			}
		})
	}
	// What ParseKeys (configured key files) does with the same input:
	// the key it cannot read is skipped.
	if keys, err := verify.ParseKeys(slices.Concat(bin, unsupportedKey)); err != nil || len(keys) != 1 {
		t.Errorf("ParseKeys of a readable and an unreadable key: %d keys, %v; want the readable one", len(keys), err)
	}
}

// FuzzParsePublicKeys feeds arbitrary bytes to ParsePublicKeys, as an
// origin's repomd.xml.key: it returns keys, each with a fingerprint, or
// an error, and never panics.
func FuzzParsePublicKeys(f *testing.F) {
	pub, other := committedKey(f, "test.pub"), committedKey(f, "unknown.pub")
	f.Add(pub)
	f.Add(slices.Concat(pub, other))
	f.Add(dearmor(f, pub))
	f.Add(slices.Concat(dearmor(f, pub), unsupportedKey))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := verify.ParsePublicKeys(data)
		if err != nil {
			return
		}
		if len(keys) == 0 {
			t.Fatal("no keys and no error")
		}
		for _, e := range keys {
			if fp := verify.Fingerprint(e); len(fp) < 32 || strings.Trim(fp, "0123456789ABCDEF") != "" {
				t.Fatalf("fingerprint %q", fp)
			}
		}
	})
}
