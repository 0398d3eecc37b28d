package targets_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/target/targets"
)

func TestOpen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "m")
	for _, tc := range []struct {
		name    string
		m       config.Mirror
		wantErr bool
		atomic  bool
	}{
		{name: "local directory", m: config.Mirror{Name: "a", Path: dir}, atomic: true},
		{name: "probe-only", m: config.Mirror{Name: "b", URL: "http://example.org/"}, wantErr: true},
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
