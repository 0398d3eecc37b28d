package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/activation"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/daemon"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flags("serve", stderr)
	file := fs.String("c", "", "configuration `FILE`")
	shutdown := nonNegativeDuration(fs, "shutdown-timeout", 30*time.Second, "on SIGTERM, let in-flight syncs run this `duration` before cancelling them")
	verbose := fs.Bool("v", false, "log debug messages")
	logFormat := choice(fs, "log-format", "text", "log `FORMAT`: text or json", "text", "json")
	debugListen := fs.String("debug-listen", "", "serve Go's profiler (net/http/pprof) on `ADDR`, apart from the public routes; for profiling, keep it on loopback")
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
	ln, err := listen(cfg.Listen, log)
	if err != nil {
		return err
	}
	if *debugListen != "" {
		dln, err := net.Listen("tcp", *debugListen)
		if err != nil {
			return fmt.Errorf("listening on %s for -debug-listen: %w", *debugListen, err)
		}
		log.Warn("profiler listening: keep this address private", "addr", dln.Addr().String())
		dsrv := &http.Server{Handler: debugHandler(), ReadHeaderTimeout: 5 * time.Second}
		go dsrv.Serve(dln)
		defer dsrv.Close()
	}
	go logStoreProblems(ctx, log, cfg)
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
					// One line per problem, each FILE:LINE: what.
					var problems config.Errors
					if !errors.As(err, &problems) {
						problems = config.Errors{{File: *file, Msg: oneLine(err)}}
					}
					lines := make([]string, 0, len(problems))
					for _, p := range problems {
						log.Error("reloading the configuration failed; keeping the running one", "problem", p.Error())
						lines = append(lines, p.Error())
					}
					d.ReloadFailed(lines)
					continue
				}
				d.Reload(next)
				go logStoreProblems(ctx, log, next)
			}
		}
	}()
	if err := d.Run(ctx, ln); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// listen returns the socket systemd passed (socket activation, as
// dist/rpmirror.socket sets up: it stays open while the daemon restarts,
// so clients wait in its queue for the next one instead of being
// refused), or else a new one on addr (listen).
func listen(addr string, log *slog.Logger) (net.Listener, error) {
	lns, err := activation.Listeners()
	if err != nil {
		return nil, fmt.Errorf("taking the sockets systemd passed (LISTEN_FDS): %w", err)
	}
	switch {
	case len(lns) > 1:
		for _, l := range lns {
			if l != nil {
				l.Close()
			}
		}
		return nil, fmt.Errorf("systemd passed %d sockets (LISTEN_FDS); rpmirror serve takes one: give its .socket unit a single ListenStream=", len(lns))
	case len(lns) == 1 && lns[0] == nil:
		return nil, errors.New("the socket systemd passed (LISTEN_FDS) is not a listening stream socket: give rpmirror's .socket unit a ListenStream=, not a ListenDatagram=")
	case len(lns) == 1:
		ln := lns[0]
		if got := ln.Addr().String(); !sameListen(got, addr) {
			log.Warn("serving on the socket systemd passed, not on listen", "addr", got, "listen", addr)
		}
		return ln, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", addr, err)
	}
	return ln, nil
}

// sameListen reports whether got, the address a listening socket has,
// is the one listen gives (addr): the same port, and the same host, a
// wildcard for a wildcard (":8080" is "[::]:8080" once listening), or
// "localhost" for a loopback address.
func sameListen(got, addr string) bool {
	gh, gp, err1 := net.SplitHostPort(got)
	ah, ap, err2 := net.SplitHostPort(addr)
	if err1 != nil || err2 != nil || gp != ap {
		return got == addr
	}
	wild := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	gip, aip := net.ParseIP(gh), net.ParseIP(ah)
	switch {
	case wild(gh) && wild(ah):
		return true
	case ah == "localhost":
		return gip != nil && gip.IsLoopback()
	case gip != nil && aip != nil:
		return gip.Equal(aip)
	}
	return gh == ah
}

// logStoreProblems asks the object store of every s3 mirror of cfg what
// rpmirror check asks it, and logs each problem once, at the line of the
// key to fix: a missing bucket or credentials the store refuses would
// otherwise show only as the store's own message in every sync's failure
// and every probe round's warnings, naming neither the key nor the file.
func logStoreProblems(ctx context.Context, log *slog.Logger, cfg *config.Config) {
	for _, p := range checkStores(ctx, cfg) {
		if ctx.Err() != nil {
			return
		}
		log.Error("object storage: syncs of this mirror fail until it is fixed", "problem", p.Error())
	}
}

// debugHandler serves Go's profiler, as net/http/pprof registers it on
// http.DefaultServeMux, on a mux of its own: the public routes never
// expose it.
func debugHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
