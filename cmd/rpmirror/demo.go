package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/internal/demo"
	"github.com/rpmirror/rpmirror/internal/gpghome"
	"github.com/rpmirror/rpmirror/sync"
	"github.com/rpmirror/rpmirror/target/targets"
	"github.com/rpmirror/rpmirror/verify"
)

// runDemo shows the main job end to end with no network: the shipped
// repository is served on 127.0.0.1 as the origin and synced to two local
// mirrors; then the origin moves to a new revision and the mirrors follow.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flags("demo", stderr)
	dir := fs.String("dir", "", "work in `DIR` and keep it (default: a temporary directory, removed at the end)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	work := *dir
	if work == "" {
		tmp, err := os.MkdirTemp("", "rpmirror-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		work = tmp
	} else if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	work, _ = filepath.Abs(work)

	// The origin: the embedded repository, served on loopback. Swapping
	// the handler publishes a new revision at once, as an origin would.
	var current atomic.Value
	serveRevision := func(name string) error {
		rev, err := demo.Revision(name)
		if err != nil {
			return err
		}
		current.Store(http.FileServer(http.FS(rev)))
		return nil
	}
	if err := serveRevision("v1"); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listening on loopback: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/origin/", http.StripPrefix("/origin", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		current.Load().(http.Handler).ServeHTTP(w, r)
	})))
	mux.Handle("/mirror1/", http.StripPrefix("/mirror1", http.FileServer(http.Dir(filepath.Join(work, "mirror1")))))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String()

	keyPath := filepath.Join(work, "RPM-GPG-KEY-rpmirror-demo")
	if err := os.WriteFile(keyPath, demo.Key(), 0o644); err != nil {
		return err
	}
	cfgPath := filepath.Join(work, "mirrors.yaml")
	cfgText := fmt.Sprintf(`# Written by rpmirror demo.
state_dir: %[1]s/state
download:
  concurrency: 4
  retries: 1
repos:
  - name: demo
    origin: %[2]s/origin/
    schedule: "@every 15m"
    gpgkeys: [%[1]s/RPM-GPG-KEY-rpmirror-demo]
    prune_after: 0s
    mirrors:
      - name: mirror1
        path: %[1]s/mirror1
        url: %[2]s/mirror1/
      - name: mirror2
        path: %[1]s/mirror2
`, work, base)
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o644); err != nil {
		return err
	}
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return err
	}
	log := newLogger(stderr, slog.LevelWarn, "text")
	step := func(format string, a ...any) {
		fmt.Fprintf(stdout, "\n==> "+format+"\n", a...)
	}
	syncAll := func() error {
		reports, err := syncRepos(ctx, cfg, []*config.Repo{&cfg.Repos[0]}, false, 1, log, false, stderr)
		if err != nil {
			return err
		}
		for _, r := range reports {
			printReport(stdout, r, cfgPath)
			if r.Err != nil {
				return r.Err
			}
		}
		return nil
	}

	fmt.Fprintf(stdout, "rpmirror demo: working in %s\n", work)
	fmt.Fprintf(stdout, "origin (the shipped signed repository, revision v1) served at %s/origin/\n", base)
	step("rpmirror sync -c %s   (first sync to two mirrors)", cfgPath)
	if err := syncAll(); err != nil {
		return err
	}
	if err := demoVerify(ctx, stdout, cfg.Repos[0].GPGKeys, work); err != nil {
		return err
	}
	step("the origin publishes revision v2 (one package added, one updated, one removed); sync again")
	if err := serveRevision("v2"); err != nil {
		return err
	}
	if err := syncAll(); err != nil {
		return err
	}
	step("sync once more: nothing changed at the origin, so nothing is fetched")
	if err := syncAll(); err != nil {
		return err
	}
	if err := demoVerify(ctx, stdout, cfg.Repos[0].GPGKeys, work); err != nil {
		return err
	}
	repoFile := fmt.Sprintf(`[rpmirror-demo]
name=rpmirror demo
baseurl=%s/mirror1/
gpgcheck=1
repo_gpgcheck=1
gpgkey=file://%s
`, base, keyPath)
	step("how dnf uses the mirror: a .repo file such as")
	fmt.Fprint(stdout, indent(repoFile))
	if err := demoDNF(ctx, stdout, work, repoFile); err != nil {
		return err
	}
	if *dir == "" {
		// Not the path of its mirrors.yaml: it is gone when this is read.
		fmt.Fprintln(stdout, "\nDone. The demo directory is removed now; `rpmirror demo -dir DIR` keeps it, and `rpmirror status -c DIR/mirrors.yaml` then shows what rpmirror recorded.")
		return nil
	}
	fmt.Fprintf(stdout, "\nDone. State: rpmirror status -c %s\n", cfgPath)
	return nil
}

func demoVerify(ctx context.Context, stdout io.Writer, keys []string, work string) error {
	keyring, err := verify.LoadKeyring(keys...)
	if err != nil {
		return err
	}
	for _, name := range []string{"mirror1", "mirror2"} {
		tg, err := targets.Open(ctx, config.Mirror{Name: name, Path: filepath.Join(work, name)})
		if err != nil {
			return err
		}
		problems, st, err := sync.CheckMirror(ctx, tg, keyring)
		if err != nil {
			return err
		}
		if len(problems) > 0 {
			return fmt.Errorf("%s: %s, first: %s", name, count(len(problems), "problem"), problems[0])
		}
		fmt.Fprintf(stdout, "  verify %s: revision %s, %s and %s check out\n", name, revisionOrNone(st.Revision), count(st.Metadata, "metadata file"), count(st.Packages, "signed package"))
	}
	return nil
}

// demoDNF lists the mirror's packages with dnf itself, when dnf is here.
func demoDNF(ctx context.Context, stdout io.Writer, work, repoFile string) error {
	dnf, err := exec.LookPath("dnf")
	if err != nil {
		fmt.Fprintln(stdout, "  (dnf is not installed here, so the demo stops short of running it)")
		return nil
	}
	root := filepath.Join(work, "dnf")
	reposd, tmp := filepath.Join(root, "repos.d"), filepath.Join(root, "tmp")
	for _, d := range []string{reposd, tmp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	// dnf starts gpg-agents for the homes it checks signatures with, and
	// gpg keeps a socket directory for each under /run/user/<uid>: stop
	// and remove them all once the demo is done with dnf.
	var homes []string
	defer func() {
		for _, h := range append(homes, gpghome.Homes(root)...) {
			gpghome.Release(context.WithoutCancel(ctx), h)
		}
	}()
	if err := os.WriteFile(filepath.Join(reposd, "demo.repo"), []byte(repoFile), 0o644); err != nil {
		return err
	}
	conf := filepath.Join(root, "dnf.conf")
	if err := os.WriteFile(conf, []byte("[main]\ninstall_weak_deps=False\nmodule_platform_id=platform:rpmirror\n"), 0o644); err != nil {
		return err
	}
	dnfRun := func(args ...string) (string, error) {
		base := append(demoDNFArgs(root), "-q", "--disablerepo=*", "--enablerepo=rpmirror-demo")
		cmd := exec.CommandContext(ctx, dnf, append(base, args...)...)
		cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
		var errOut strings.Builder
		cmd.Stderr = &errOut
		w, err := gpghome.WatchDNF(tmp)
		if err != nil {
			return "", err
		}
		out, err := cmd.Output()
		made, werr := w.Homes()
		homes = append(homes, made...)
		if err == nil && werr != nil {
			return string(out), werr
		}
		if err != nil {
			return string(out), fmt.Errorf("dnf %s failed: %w: %s", args[0], err, strings.TrimSpace(errOut.String()))
		}
		return string(out), nil
	}
	out, err := dnfRun("repoquery", "--qf", "%{name}-%{evr}.%{arch}")
	fmt.Fprintf(stdout, "\n==> dnf repoquery against mirror1 (repomd.xml signature checked: repo_gpgcheck=1):\n%s", indent(out))
	if err != nil {
		return err
	}
	if strings.TrimSpace(out) == "" {
		return errors.New("dnf listed no packages")
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(stdout, "  (not root: skipping dnf install into a scratch installroot)")
		return nil
	}
	fmt.Fprintf(stdout, "\n==> dnf install hello-mirror into a scratch installroot (package signatures checked: gpgcheck=1):\n")
	if _, err := dnfRun("install", "hello-mirror"); err != nil {
		return err
	}
	out, err = dnfRun("list", "--installed")
	fmt.Fprint(stdout, indent(out))
	return err
}

// demoDNFArgs are the options of the demo's dnf calls: everything under
// root (root/dnf.conf, root/repos.d, root/root as the installroot,
// root/cache), and no plugins: dnf-plugins-core's local plugin, on by
// default, would copy what is installed into the host's /var/lib/dnf and
// add a repository there, installroot or not.
func demoDNFArgs(root string) []string {
	return []string{"-y", "--noplugins", "--config", filepath.Join(root, "dnf.conf"), "--setopt=reposdir=" + filepath.Join(root, "repos.d"),
		"--installroot=" + filepath.Join(root, "root"), "--setopt=cachedir=" + filepath.Join(root, "cache"), "--releasever=1"}
}

func indent(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString("    " + l + "\n")
	}
	return b.String()
}
