package repodata

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
	"strings"
)

// Checksum is a digest as repository metadata writes it: a normalized
// algorithm name and the digest in lower-case hex.
//
// The zero Checksum means "no checksum"; Validate rejects it.
type Checksum struct {
	Type  string // normalized: "md5", "sha1", "sha224", "sha256", "sha384", "sha512"
	Value string // lower-case hex
}

// hexLen is the length in hex digits of each supported digest.
var hexLen = map[string]int{
	"md5":    32,
	"sha1":   40,
	"sha224": 56,
	"sha256": 64,
	"sha384": 96,
	"sha512": 128,
}

// NormalizeChecksumType returns the normalized name of a checksum type as
// found in metadata: it is case-insensitive and maps "sha" (what old yum and
// "createrepo_c -s sha" write for SHA-1) to "sha1". An unknown type is an
// error naming it.
func NormalizeChecksumType(s string) (string, error) {
	t := strings.ToLower(s)
	if t == "sha" {
		return "sha1", nil
	}
	if _, ok := hexLen[t]; ok {
		return t, nil
	}
	if s == "" {
		return "", errors.New("empty checksum type")
	}
	return "", fmt.Errorf("unknown checksum type %q", s)
}

// NewHash returns a new hash.Hash for a checksum type, normalized or as
// written in metadata ("sha", "SHA256", ...).
func NewHash(typ string) (hash.Hash, error) {
	t, err := NormalizeChecksumType(typ)
	if err != nil {
		return nil, err
	}
	switch t {
	case "md5":
		return md5.New(), nil
	case "sha1":
		return sha1.New(), nil
	case "sha224":
		return sha256.New224(), nil
	case "sha256":
		return sha256.New(), nil
	case "sha384":
		return sha512.New384(), nil
	default: // "sha512"; NormalizeChecksumType knows no others
		return sha512.New(), nil
	}
}

// NewChecksum returns the Checksum for a type and a hex digest as written in
// metadata: the type is normalized, the digest lower-cased, and the result
// validated.
func NewChecksum(typ, hexValue string) (Checksum, error) {
	t, err := NormalizeChecksumType(typ)
	if err != nil {
		return Checksum{}, err
	}
	c := Checksum{Type: t, Value: strings.ToLower(hexValue)}
	if err := c.Validate(); err != nil {
		return Checksum{}, err
	}
	return c, nil
}

// ParseChecksum parses the "type:hex" form that String returns. The type
// is normalized and the digest lower-cased.
func ParseChecksum(s string) (Checksum, error) {
	typ, value, ok := strings.Cut(s, ":")
	if !ok {
		return Checksum{}, fmt.Errorf("checksum %q: want type:hex", s)
	}
	return NewChecksum(typ, value)
}

// String returns "type:hex", for example "sha256:e3b0c442...".
func (c Checksum) String() string {
	return c.Type + ":" + c.Value
}

// Validate reports whether c is a checksum in the form this package
// produces: a known, normalized type and a lower-case hex value of the
// length that type's digest has.
func (c Checksum) Validate() error { return validateChecksum(c.Type, c.Value) }

// validateChecksum is Checksum.Validate of a checksum of type typ whose
// value is v, a string or bytes (a value being parsed).
func validateChecksum[T string | []byte](typ string, v T) error {
	n := 0
	switch typ { // faster than the map, for the primary.xml hot path
	case "sha256":
		n = 64
	case "sha1":
		n = 40
	case "sha512":
		n = 128
	default:
		n = hexLen[typ]
	}
	if n == 0 {
		t, err := NormalizeChecksumType(typ)
		if err != nil {
			return err
		}
		return fmt.Errorf("checksum type %q is not normalized (want %q)", typ, t)
	}
	if len(v) != n {
		return fmt.Errorf("%s checksum %q: want %d hex digits, have %d", typ, truncate(string(v), 140), n, len(v))
	}
	for i := 0; i < len(v); i++ {
		if !lowerHex[v[i]] {
			return fmt.Errorf("%s checksum %q: not lower-case hex", typ, string(v))
		}
	}
	return nil
}

var lowerHex = [256]bool{
	'0': true, '1': true, '2': true, '3': true, '4': true, '5': true, '6': true, '7': true,
	'8': true, '9': true, 'a': true, 'b': true, 'c': true, 'd': true, 'e': true, 'f': true,
}

// truncate shortens s for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
