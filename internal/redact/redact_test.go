package redact

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

func TestURL(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"plain", "https://mirror.example/el9/", "https://mirror.example/el9/"},
		{"user and password", "https://me:s3cret@origin.example/el9/", "https://me:xxxxx@origin.example/el9/"},
		{"token as user", "https://tok3n@origin.example/el9/", "https://xxxxx@origin.example/el9/"},
		{"query", "https://hooks.example/x?secret=s3cret&b=2", "https://hooks.example/x?xxxxx"},
		{"both", "https://me:s3cret@hooks.example/x?secret=s3cret", "https://me:xxxxx@hooks.example/x?xxxxx"},
		{"empty query", "https://hooks.example/x?", "https://hooks.example/x"},
		{"fragment kept", "https://hooks.example/x?k=s3cret#frag", "https://hooks.example/x?xxxxx#frag"},
		{"unparsable with a secret", "https://me:s3cret@bad host/%zz", "xxxxx"},
		{"unparsable without", "%zz", "%zz"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := URL(tc.in); got != tc.want {
				t.Errorf("URL(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestError(t *testing.T) {
	inner := &url.Error{Op: "Post", URL: "https://hooks.example/x?secret=s3cret", Err: errors.New("connection refused")}
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"bare", &url.Error{Op: "Get", URL: "https://me:s3cret@o.example/?secret=s3cret", Err: errors.New("eof")}},
		{"wrapped", fmt.Errorf("delivering: %w", inner)},
		{"joined", errors.Join(errors.New("first"), fmt.Errorf("second: %w", &url.Error{Op: "Get", URL: "https://o.example/?secret=s3cret", Err: errors.New("eof")}))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if msg := Error(tc.err).Error(); strings.Contains(msg, "s3cret") {
				t.Errorf("%q shows the secret", msg)
			}
		})
	}
	if Error(nil) != nil {
		t.Error("Error(nil) != nil")
	}
}
