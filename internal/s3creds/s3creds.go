// Package s3creds reads the access key of an S3-compatible object store
// from an AWS shared-credentials file or from the environment, and keeps
// the secret out of every message: errors name the file, the line and the
// profile, never a key or a line's text.
package s3creds

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"
)

// DefaultProfile is the profile read when none is named.
const DefaultProfile = "default"

// Environment variables read by FromEnv.
const (
	EnvAccessKey = "AWS_ACCESS_KEY_ID"
	EnvSecretKey = "AWS_SECRET_ACCESS_KEY"
	EnvSession   = "AWS_SESSION_TOKEN"
)

// maxFileSize bounds the credentials file read.
const maxFileSize = 1 << 20

// ErrMissing is returned (wrapped) when no access key is found where one
// was looked for.
var ErrMissing = errors.New("no access key")

// Credentials are an access key. String hides the secret.
type Credentials struct {
	AccessKey    string
	SecretKey    string
	SessionToken string
}

// String names the access key and hides the secret, so that printing
// Credentials by mistake leaks nothing.
func (c Credentials) String() string { return "access key " + c.AccessKey + " (secret hidden)" }

// GoString is String, for %#v.
func (c Credentials) GoString() string { return c.String() }

// Load reads profile (DefaultProfile when "") from the AWS
// shared-credentials file at file: an INI file of [profile] sections with
// aws_access_key_id, aws_secret_access_key and optionally
// aws_session_token. Both keys must be there.
func Load(file, profile string) (Credentials, error) {
	if profile == "" {
		profile = DefaultProfile
	}
	f, err := os.Open(file)
	if err != nil {
		return Credentials{}, fmt.Errorf("reading credentials: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Credentials{}, fmt.Errorf("reading credentials: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return Credentials{}, fmt.Errorf("credentials file %s is not a regular file", file)
	}
	if fi.Size() > maxFileSize {
		return Credentials{}, fmt.Errorf("credentials file %s is larger than %d bytes", file, maxFileSize)
	}
	var (
		c       Credentials
		found   bool
		section string
		line    int
	)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), maxFileSize)
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || s[0] == '#' || s[0] == ';' {
			continue
		}
		if s[0] == '[' {
			if !strings.HasSuffix(s, "]") {
				return Credentials{}, fmt.Errorf("credentials file %s:%d: a section header must end with ]", file, line)
			}
			section = strings.TrimSpace(s[1 : len(s)-1])
			// The config file's spelling, [profile name], is accepted too.
			section = strings.TrimSpace(strings.TrimPrefix(section, "profile "))
			if section == profile {
				found = true
			}
			continue
		}
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			// The line's text may be a secret: never quote it.
			return Credentials{}, fmt.Errorf("credentials file %s:%d: not a key = value line", file, line)
		}
		if section != profile {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "aws_access_key_id":
			c.AccessKey = v
		case "aws_secret_access_key":
			c.SecretKey = v
		case "aws_session_token":
			c.SessionToken = v
		}
	}
	if err := sc.Err(); err != nil {
		return Credentials{}, fmt.Errorf("reading credentials file %s: %w", file, err)
	}
	switch {
	case !found:
		return Credentials{}, fmt.Errorf("credentials file %s has no profile [%s]: %w", file, profile, ErrMissing)
	case c.AccessKey == "" || c.SecretKey == "":
		return Credentials{}, fmt.Errorf("credentials file %s: profile [%s] needs both aws_access_key_id and aws_secret_access_key: %w", file, profile, ErrMissing)
	}
	return c, nil
}

// FromEnv returns the access key in AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN if set), or an error
// wrapping ErrMissing if either of the two is unset or empty.
func FromEnv() (Credentials, error) {
	c := Credentials{
		AccessKey:    os.Getenv(EnvAccessKey),
		SecretKey:    os.Getenv(EnvSecretKey),
		SessionToken: os.Getenv(EnvSession),
	}
	if c.AccessKey == "" || c.SecretKey == "" {
		return Credentials{}, fmt.Errorf("no credentials_file and %s or %s is not set: %w", EnvAccessKey, EnvSecretKey, ErrMissing)
	}
	return c, nil
}
