package verify_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/rpmirror/rpmirror/fetch"
	"github.com/rpmirror/rpmirror/verify"
)

// TestPermanent: what the content itself gets wrong (a signature, a
// header that is not what the metadata says, RPM digests of bytes that
// match their checksum) is permanent, and a download is not retried for
// it; a size or checksum mismatch may be the transfer's, and is retried.
func TestPermanent(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"size", &verify.SizeError{Want: 10, Got: 5}, false},
		{"checksum", &verify.ChecksumError{Type: "sha256", Want: "aa", Got: "bb"}, false},
		{"signature", &verify.SignatureError{Reason: verify.ErrUnknownKey}, true},
		{"header", &verify.HeaderMismatchError{Field: "name", Want: "a", Got: "b"}, true},
		{"rpm digest", &verify.CorruptError{Err: errors.New("payload digest mismatch")}, true},
		{"wrapped rpm digest", fmt.Errorf("package a (Packages/a.rpm): %w", &verify.CorruptError{Err: errors.New("header sha256 digest mismatch")}), true},
		{"other", errors.New("connection reset"), false},
	} {
		if got := verify.Permanent(tc.err); got != tc.want {
			t.Errorf("%s: Permanent(%v) = %t, want %t", tc.name, tc.err, got, tc.want)
		}
		if got := fetch.Transient(tc.err); tc.want && got {
			t.Errorf("%s: fetch.Transient(%v) = true: retried though permanent", tc.name, tc.err)
		}
	}
}
