package targets_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/target/targets"
)

func TestOpen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "m")
	creds := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(creds, []byte("[mirror]\naws_access_key_id = AK\naws_secret_access_key = SK\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	store := func(file, profile string) *config.S3 {
		return &config.S3{Endpoint: "https://s3.example.org", Bucket: "mirrors", Prefix: "r/", CredentialsFile: file, Profile: profile, LeaseTTL: config.DefaultLeaseTTL}
	}
	for _, tc := range []struct {
		name    string
		m       config.Mirror
		wantErr bool
		atomic  bool
	}{
		{name: "local directory", m: config.Mirror{Name: "a", Path: dir}, atomic: true},
		{name: "probe-only", m: config.Mirror{Name: "b", URL: "http://example.org/"}, wantErr: true},
		{name: "object storage", m: config.Mirror{Name: "c", S3: store(creds, "mirror")}, atomic: false},
		{name: "object storage, no such profile", m: config.Mirror{Name: "d", S3: store(creds, "")}, wantErr: true},
		{name: "object storage, no keys in the environment", m: config.Mirror{Name: "e", S3: store("", "")}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg, err := targets.Open(context.Background(), tc.m)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("Open(%+v): no error", tc.m)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if got := tg.Properties().AtomicCommit; got != tc.atomic {
				t.Errorf("AtomicCommit = %v, want %v", got, tc.atomic)
			}
		})
	}
}
