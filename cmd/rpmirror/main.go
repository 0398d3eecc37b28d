// Command rpmirror keeps mirrors of RPM (yum/dnf) repositories in step with
// their origin. See README.md and docs/ for what each subcommand does.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/internal/gctune"
)

// Exit codes, decided here and nowhere else.
const (
	exitOK     = 0
	exitFailed = 1 // the job ran and something failed (a sync, a verify)
	exitUsage  = 2 // bad command line or bad configuration
	// exitBusy: nothing failed, but a repository was left to another
	// process that holds it (sysexits.h's EX_TEMPFAIL: try again later).
	exitBusy    = 75
	exitSignals = 130
)

// version and commit are set at build time with -ldflags "-X
// main.version=... -X main.commit=...": the Makefile sets version from git
// describe, and the RPM build, which has no .git, sets commit too. Without
// -X commit, the revision Go stamped into the binary is used (see
// buildInfo).
var (
	version = "dev"
	commit  = ""
)

// usageError is a problem with the command line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// configError is a configuration that does not load.
type configError struct{ err error }

func (e *configError) Error() string { return e.err.Error() }

// failedError means the command ran and reported its problems itself.
var errFailed = errors.New("failed")

// errBusy means the command ran, reported itself, and failed nowhere, but
// left a repository to another process that holds its lock.
var errBusy = errors.New("busy")

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = []command{
	{"sync", "bring every written mirror up to date with its origin", runSync},
	{"serve", "run the daemon: scheduled syncs, mirror probes, mirrorlist and metalink over HTTP", runServe},
	{"verify", "re-check each written mirror against its own repomd.xml", runVerify},
	{"status", "print what the state directory knows of each repository", runStatus},
	{"snapshots", "list the snapshots of each written mirror", runSnapshots},
	{"snapshot", "pin or unpin a snapshot: snapshot pin|unpin -c FILE --repo NAME SNAPSHOT", runSnapshot},
	{"rollback", "republish a snapshot as a repo's content and hold it there: rollback -c FILE --repo NAME --to SNAPSHOT", runRollback},
	{"resume", "let syncs move a held repo forward again: resume -c FILE --repo NAME", runResume},
	{"check", "validate a configuration file", runCheck},
	{"demo", "sync a shipped repository served on loopback to two local mirrors", runDemo},
	{"version", "print the version, the commit it was built from and the Go version", runVersion},
}

// hiddenCommands run like commands but are left out of the usage, the man
// page and the completion: they produce the man page and the completion
// scripts (make man, the RPM build) and serve the completion scripts.
var hiddenCommands = []command{
	{"gen-man", "write the rpmirror(1) man page in roff to stdout", runGenMan},
	{"gen-completion", "write the bash or zsh completion script to stdout", runGenCompletion},
	{completeReposCommand, "print the names of the repos in a configuration file, one a line", runCompleteRepos},
	{completeSnapshotsCommand, "print the names of a repo's snapshots, one a line", runCompleteSnapshots},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	stopProfile, err := startProfile()
	if err != nil {
		fmt.Fprintf(os.Stderr, "rpmirror: %v\n", err)
		os.Exit(exitUsage)
	}
	// No collection while the heap is small (a sync keeps about 2 MB
	// live and ran a cycle every couple of megabytes it allocated).
	stopGC := gctune.Floor(gctune.DefaultFloor)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stopGC()
	stopProfile()
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	if args[0] == "--version" || args[0] == "-version" {
		args = append([]string{"version"}, args[1:]...) // as most tools take it
	}
	for _, c := range slices.Concat(commands, hiddenCommands) {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		return exitCode(ctx, err, stderr)
	}
	fmt.Fprintf(stderr, "rpmirror: unknown command %q\n", args[0])
	usage(stderr)
	return exitUsage
}

// exitCode prints err, one line per problem, and maps it to an exit code.
func exitCode(ctx context.Context, err error, stderr io.Writer) int {
	var ue *usageError
	var ce *configError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "rpmirror: %s\n", ue.msg)
		return exitUsage
	case errors.As(err, &ce):
		for _, line := range strings.Split(ce.Error(), "\n") {
			fmt.Fprintln(stderr, line)
		}
		return exitUsage
	case errors.Is(err, errFailed):
		if ctx.Err() != nil {
			return exitSignals
		}
		return exitFailed
	case errors.Is(err, errBusy):
		return exitBusy
	case ctx.Err() != nil:
		fmt.Fprintln(stderr, "rpmirror: interrupted")
		return exitSignals
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		fmt.Fprintf(stderr, "rpmirror: %s\n", printable(line))
	}
	if isBusy(err) {
		// rollback, resume: another process holds the repository.
		return exitBusy
	}
	return exitFailed
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: rpmirror COMMAND [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'rpmirror COMMAND -h' for a command's flags.")
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// flags returns a FlagSet for a subcommand that reports errors as usage
// errors instead of exiting. Every command makes its flags with it and
// parses them with parseFlags before doing anything else: that is how
// commandFlags learns them for the man page and the completion.
func flags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("rpmirror "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	if fc, ok := stderr.(*flagCollector); ok {
		fc.fs = fs
	}
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	// The flag package prints a bad flag's error and then the usage; the
	// error is printed once, by exitCode, and the usage only for -h.
	out := fs.Output()
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.SetOutput(out)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.Usage()
			return err
		}
		return &usageError{msg: fmt.Sprintf("%s: %v ('%s -h' lists its flags)", strings.TrimPrefix(fs.Name(), "rpmirror "), err, fs.Name())}
	}
	if fs.NArg() > 0 {
		hint := ""
		if fs.Lookup("repo") != nil {
			hint = " (name a repo with --repo NAME)"
		}
		return &usageError{msg: fmt.Sprintf("%s: unexpected argument %q%s", strings.TrimPrefix(fs.Name(), "rpmirror "), fs.Arg(0), hint)}
	}
	return nil
}

// loadConfig loads the configuration, turning its problems into a
// configError.
func loadConfig(path string) (*config.Config, error) {
	return loadConfigWith(path, config.LoadOptions{})
}

// loadConfigWith is loadConfig with opts.
func loadConfigWith(path string, opts config.LoadOptions) (*config.Config, error) {
	if path == "" {
		return nil, &usageError{msg: "no configuration: pass -c FILE"}
	}
	cfg, err := config.LoadWith(path, opts)
	if err != nil {
		return nil, &configError{err: err}
	}
	return cfg, nil
}

// repoFlags are the flags every command that works on repositories takes:
// -c FILE and --repo NAME (repeatable).
type repoFlags struct {
	file  *string
	repos stringList
}

func addRepoFlags(fs *flag.FlagSet, verb string) *repoFlags {
	rf := &repoFlags{file: fs.String("c", "", "configuration `FILE`")}
	fs.Var(&rf.repos, "repo", verb+" only repo `NAME` (repeatable)")
	return rf
}

// load loads the configuration and returns it with the repos selected.
func (rf *repoFlags) load() (*config.Config, []*config.Repo, error) {
	return rf.loadWith(config.LoadOptions{})
}

// loadWith is load with opts.
func (rf *repoFlags) loadWith(opts config.LoadOptions) (*config.Config, []*config.Repo, error) {
	cfg, err := loadConfigWith(*rf.file, opts)
	if err != nil {
		return nil, nil, err
	}
	sel, err := selectRepos(cfg, rf.repos)
	return cfg, sel, err
}

// loadToRead is load for a command that only reads what rpmirror keeps
// (status): the configuration's filesystem checks, which want state_dir
// and the mirrors writable, are left out, so that it works on a
// read-only state_dir or as a user who may only read it.
func (rf *repoFlags) loadToRead() (*config.Config, []*config.Repo, error) {
	return rf.loadWith(config.LoadOptions{SkipFilesystem: true})
}

// selectRepos returns the repos named, or all of them.
func selectRepos(cfg *config.Config, names []string) ([]*config.Repo, error) {
	if len(names) == 0 {
		var all []*config.Repo
		for i := range cfg.Repos {
			all = append(all, &cfg.Repos[i])
		}
		return all, nil
	}
	var sel []*config.Repo
	for _, n := range names {
		r, ok := cfg.Repo(n)
		if !ok {
			var known []string
			for _, r := range cfg.Repos {
				known = append(known, r.Name)
			}
			return nil, &usageError{msg: fmt.Sprintf("no repo %q in %s (it has: %s)", n, cfg.File, strings.Join(known, ", "))}
		}
		sel = append(sel, r)
	}
	return sel, nil
}

// newLogger returns the logger for a command: text lines on stderr.
func newLogger(w io.Writer, level slog.Level, format string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// terminalWidth is the width in columns of the terminal w is, 0 when it
// is none or tells none (a pty whose size was never set: 0x0).
func terminalWidth(w io.Writer) int {
	f, ok := w.(*os.File)
	if !ok {
		return 0
	}
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return 0
	}
	return int(ws.Col)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0 && os.Getenv("TERM") != "dumb"
}
