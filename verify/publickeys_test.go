package verify_test

import (
	"bytes"
	"crypto"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

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
		{name: "a damaged armor checksum (gpg: CRC error)", data: damagedCRC(t, pub)},
		{name: "a byte order mark first", data: slices.Concat([]byte("\xef\xbb\xbf"), pub), want: []string{testFingerprint}},
		{name: "a revocation by its own key after it (gpg revokes the key)", data: slices.Concat(pub, revocation(t, "test"))},
		{name: "a revocation by another key after it (gpg ignores it)", data: slices.Concat(pub, revocation(t, "unknown")), want: []string{testFingerprint}},
		{name: "more keys than are read", data: bytes.Repeat(bin, 257)},
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
	// Configured key files as distributions ship them: RHEL's
	// RPM-GPG-KEY-redhat-release describes its keys in text first.
	for name, data := range map[string][]byte{
		"text before the block":     slices.Concat([]byte("The following public key can be used to verify RPM packages\nbuilt and signed by Red Hat, Inc.\n\n"), pub),
		"a byte order mark first":   slices.Concat([]byte("\xef\xbb\xbf"), pub),
		"text between two blocks":   slices.Concat(pub, []byte("\nand the next:\n"), other),
		"CRLF line ends and a text": slices.Concat([]byte("key:\r\n"), bytes.ReplaceAll(pub, []byte("\n"), []byte("\r\n"))),
	} {
		if keys, err := verify.ParseKeys(data); err != nil || len(keys) == 0 || verify.Fingerprint(keys[0]) != testFingerprint {
			t.Errorf("ParseKeys, %s: %d keys, %v; want the test key first", name, len(keys), err)
		}
	}
}

// damagedCRC returns the armored block b with its checksum line changed.
func damagedCRC(t testing.TB, b []byte) []byte {
	t.Helper()
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		if len(l) == 5 && l[0] == '=' {
			c := byte('A')
			if l[1] == 'A' {
				c = 'B'
			}
			lines[i] = "=" + string(c) + l[2:]
			return []byte(strings.Join(lines, "\n"))
		}
	}
	t.Fatal("the committed key has no checksum line")
	return nil
}

// revocation returns a standalone revocation certificate of the committed
// key name, made by its own secret key (as gpg --gen-revoke makes one),
// armored as gpg exports it: a public key block holding the signature
// alone.
func revocation(t testing.TB, name string) []byte {
	t.Helper()
	el, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(committedKey(t, name+".sec")))
	if err != nil || len(el) == 0 || el[0].PrivateKey == nil {
		t.Fatalf("reading %s.sec: %v", name, err)
	}
	e := el[0]
	if e.PrivateKey.Encrypted {
		t.Fatalf("%s.sec is encrypted", name)
	}
	sig := &packet.Signature{Version: e.PrimaryKey.Version, SigType: packet.SigTypeKeyRevocation, PubKeyAlgo: e.PrimaryKey.PubKeyAlgo, Hash: crypto.SHA256, CreationTime: time.Now(), IssuerKeyId: &e.PrimaryKey.KeyId}
	if err := sig.RevokeKey(e.PrimaryKey, e.PrivateKey, nil); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := sig.Serialize(w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	buf.WriteByte('\n')
	return buf.Bytes()
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
