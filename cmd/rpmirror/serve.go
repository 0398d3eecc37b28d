package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/daemon"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flags("serve", stderr)
	file := fs.String("c", "", "configuration `FILE`")
	shutdown := fs.Duration("shutdown-timeout", 30*time.Second, "on SIGTERM, let in-flight syncs run this long before cancelling them")
	verbose := fs.Bool("v", false, "log debug messages")
	logFormat := choice(fs, "log-format", "text", "log `FORMAT`: text or json", "text", "json")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*file)
	if err != nil {
		return err
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := newLogger(stderr, level, *logFormat)
	d, err := daemon.New(cfg, daemon.Options{Logger: log, ShutdownTimeout: *shutdown, Version: version})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.Listen, err)
	}
	// SIGHUP reads the GeoIP database again, reopens the access log and
	// reloads the configuration; a bad one is reported and the running
	// one kept.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				d.ReopenFiles()
				next, err := config.Load(*file)
				if err != nil {
					log.Error("reloading the configuration failed; keeping the running one", "file", *file, "err", oneLine(err))
					continue
				}
				d.Reload(next)
			}
		}
	}()
	if err := d.Run(ctx, ln); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}
