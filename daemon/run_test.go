package daemon_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/daemon"
)

// loadConfig writes yaml to dir/mirrors.yaml and loads it.
func loadConfig(t *testing.T, dir, yaml string) *config.Config {
	t.Helper()
	path := filepath.Join(dir, "mirrors.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// runDaemon starts a daemon for cfg on a loopback port and stops it when
// the test ends.
func runDaemon(t *testing.T, cfg *config.Config, opts daemon.Options) (*daemon.Daemon, *env) {
	t.Helper()
	d, err := daemon.New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	lnd, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- d.Run(ctx, lnd) }()
	t.Cleanup(func() {
		cancel()
		<-stopped
	})
	return d, &env{t: t, base: "http://" + lnd.Addr().String()}
}
