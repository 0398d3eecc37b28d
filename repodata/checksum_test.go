package repodata

import (
	"encoding/hex"
	"testing"
)

func TestNormalizeChecksumType(t *testing.T) {
	for _, tt := range []struct {
		in, want, err string
	}{
		{"sha256", "sha256", ""},
		{"SHA256", "sha256", ""},
		{"sha", "sha1", ""},
		{"SHA", "sha1", ""},
		{"sha1", "sha1", ""},
		{"md5", "md5", ""},
		{"sha224", "sha224", ""},
		{"sha384", "sha384", ""},
		{"Sha512", "sha512", ""},
		{"sha-256", "", `unknown checksum type "sha-256"`},
		{"sha3-256", "", `unknown checksum type "sha3-256"`},
		{" sha256", "", `unknown checksum type " sha256"`},
		{"", "", "empty checksum type"},
	} {
		got, err := NormalizeChecksumType(tt.in)
		if got != tt.want || errString(err) != tt.err {
			t.Errorf("NormalizeChecksumType(%q) = %q, %v; want %q, %q", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestNewHash(t *testing.T) {
	// The digests of "abc" (FIPS 180-2 and RFC 1321 test vectors).
	for _, tt := range []struct {
		typ, want string
	}{
		{"md5", "900150983cd24fb0d6963f7d28e17f72"},
		{"sha", "a9993e364706816aba3e25717850c26c9cd0d89d"},
		{"sha1", "a9993e364706816aba3e25717850c26c9cd0d89d"},
		{"sha224", "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7"},
		{"SHA256", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"sha384", "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"},
		{"sha512", "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"},
	} {
		h, err := NewHash(tt.typ)
		if err != nil {
			t.Fatalf("NewHash(%q): %v", tt.typ, err)
		}
		h.Write([]byte("abc"))
		got := hex.EncodeToString(h.Sum(nil))
		if got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.typ, got, tt.want)
		}
		n, _ := NormalizeChecksumType(tt.typ)
		if err := (Checksum{n, got}).Validate(); err != nil {
			t.Errorf("%s: Validate: %v", tt.typ, err)
		}
	}
	if _, err := NewHash("crc32"); errString(err) != `unknown checksum type "crc32"` {
		t.Errorf("NewHash(crc32): %v", err)
	}
}

func TestChecksumValidate(t *testing.T) {
	const sha256Hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	for _, tt := range []struct {
		c   Checksum
		err string
	}{
		{Checksum{"sha256", sha256Hex}, ""},
		{Checksum{"md5", "900150983cd24fb0d6963f7d28e17f72"}, ""},
		{Checksum{}, "empty checksum type"},
		{Checksum{"sha", "a9993e364706816aba3e25717850c26c9cd0d89d"}, `checksum type "sha" is not normalized (want "sha1")`},
		{Checksum{"SHA256", sha256Hex}, `checksum type "SHA256" is not normalized (want "sha256")`},
		{Checksum{"crc", "00"}, `unknown checksum type "crc"`},
		{Checksum{"sha256", sha256Hex[:63]}, `sha256 checksum "` + sha256Hex[:63] + `": want 64 hex digits, have 63`},
		{Checksum{"sha1", sha256Hex}, `sha1 checksum "` + sha256Hex + `": want 40 hex digits, have 64`},
		{Checksum{"sha256", "BA" + sha256Hex[2:]}, `sha256 checksum "BA` + sha256Hex[2:] + `": not lower-case hex`},
		{Checksum{"sha256", "g" + sha256Hex[1:]}, `sha256 checksum "g` + sha256Hex[1:] + `": not lower-case hex`},
	} {
		if err := tt.c.Validate(); errString(err) != tt.err {
			t.Errorf("%v.Validate() = %v, want %q", tt.c, err, tt.err)
		}
	}
}

func TestChecksumString(t *testing.T) {
	const v = "a9993e364706816aba3e25717850c26c9cd0d89d"
	c, err := NewChecksum("sha", "A9993E364706816ABA3E25717850C26C9CD0D89D")
	if err != nil || c != (Checksum{"sha1", v}) {
		t.Fatalf("NewChecksum: %v, %v", c, err)
	}
	if c.String() != "sha1:"+v {
		t.Errorf("String() = %q", c.String())
	}
	p, err := ParseChecksum(c.String())
	if err != nil || p != c {
		t.Errorf("ParseChecksum(%q) = %v, %v", c.String(), p, err)
	}
	for _, tt := range []struct{ in, err string }{
		{"sha1" + v, `checksum "sha1` + v + `": want type:hex`},
		{"sha1:" + v[1:], `sha1 checksum "` + v[1:] + `": want 40 hex digits, have 39`},
		{"sha7:" + v, `unknown checksum type "sha7"`},
	} {
		if _, err := ParseChecksum(tt.in); errString(err) != tt.err {
			t.Errorf("ParseChecksum(%q): %v, want %q", tt.in, err, tt.err)
		}
	}
}
