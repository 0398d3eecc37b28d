package s3creds

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	for _, tc := range []struct {
		name, file, profile string
		want                Credentials
		wantErr             string // part of the message; the secret must never be in it
		missing             bool
	}{
		{
			name: "default profile",
			file: "# comment\n[default]\naws_access_key_id = AKID\naws_secret_access_key = " + secret + "\n",
			want: Credentials{AccessKey: "AKID", SecretKey: secret},
		},
		{
			name:    "named profile among others",
			file:    "[default]\naws_access_key_id=A\naws_secret_access_key=B\n\n[mirror]\n; comment\naws_access_key_id=AK2\naws_secret_access_key=" + secret + "\naws_session_token=TOK\n",
			profile: "mirror",
			want:    Credentials{AccessKey: "AK2", SecretKey: secret, SessionToken: "TOK"},
		},
		{
			name:    "config file spelling",
			file:    "[profile mirror]\naws_access_key_id=AK\naws_secret_access_key=" + secret + "\n",
			profile: "mirror",
			want:    Credentials{AccessKey: "AK", SecretKey: secret},
		},
		{name: "no such profile", file: "[other]\naws_access_key_id=A\naws_secret_access_key=B\n", wantErr: "has no profile [default]", missing: true},
		{name: "no secret", file: "[default]\naws_access_key_id=A\n", wantErr: "needs both", missing: true},
		{name: "bad line is not quoted", file: "[default]\n" + secret + "\n", wantErr: ":2: not a key = value line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "credentials")
			if err := os.WriteFile(p, []byte(tc.file), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := Load(p, tc.profile)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error shows the secret: %v", err)
				}
				if errors.Is(err, ErrMissing) != tc.missing {
					t.Errorf("errors.Is(err, ErrMissing) = %v, want %v", !tc.missing, tc.missing)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %v %q, want %v", got, got.SecretKey, tc.want)
			}
			for _, s := range []string{fmt.Sprint(got), fmt.Sprintf("%v %+v %#v %s", got, got, got, got)} {
				if strings.Contains(s, secret) {
					t.Errorf("printing Credentials shows the secret: %s", s)
				}
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "none"), ""); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want os.ErrNotExist", err)
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv(EnvAccessKey, "AK")
	t.Setenv(EnvSecretKey, "SK")
	t.Setenv(EnvSession, "")
	if c, err := FromEnv(); err != nil || c.AccessKey != "AK" || c.SecretKey != "SK" {
		t.Errorf("FromEnv = %v, %v", c, err)
	}
	t.Setenv(EnvSecretKey, "")
	if _, err := FromEnv(); !errors.Is(err, ErrMissing) {
		t.Errorf("FromEnv without a secret: err = %v, want ErrMissing", err)
	}
}
