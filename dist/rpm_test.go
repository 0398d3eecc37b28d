package dist_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/config"
)

// The uid and gid the scratch root gives the rpmirror user, so that the
// files rpm installs as root carry them.
const rpmirrorID = 987

// wantFiles is every file and directory of the binary RPM, except the
// /usr/lib/.build-id links rpmbuild adds, with its mode and owner.
var wantFiles = []struct {
	path, mode, user, group string
}{
	{"/etc/rpmirror", "drwxr-xr-x", "root", "root"},
	{"/etc/rpmirror/mirrors.yaml", "-rw-r-----", "root", "rpmirror"},
	{"/usr/bin/rpmirror", "-rwxr-xr-x", "root", "root"},
	{"/usr/lib/systemd/system/rpmirror-sync.service", "-rw-r--r--", "root", "root"},
	{"/usr/lib/systemd/system/rpmirror-sync.timer", "-rw-r--r--", "root", "root"},
	{"/usr/lib/systemd/system/rpmirror.service", "-rw-r--r--", "root", "root"},
	{"/usr/lib/systemd/system/rpmirror.socket", "-rw-r--r--", "root", "root"},
	{"/usr/lib/sysusers.d/rpmirror.conf", "-rw-r--r--", "root", "root"},
	{"/usr/share/bash-completion/completions/rpmirror", "-rw-r--r--", "root", "root"},
	{"/usr/share/doc/rpmirror", "drwxr-xr-x", "root", "root"},
	{"/usr/share/doc/rpmirror/README.md", "-rw-r--r--", "root", "root"},
	{"/usr/share/doc/rpmirror/configuration.md", "-rw-r--r--", "root", "root"},
	{"/usr/share/doc/rpmirror/design.md", "-rw-r--r--", "root", "root"},
	{"/usr/share/doc/rpmirror/mirrors.yaml.example", "-rw-r--r--", "root", "root"},
	{"/usr/share/doc/rpmirror/operations.md", "-rw-r--r--", "root", "root"},
	{"/usr/share/doc/rpmirror/security.md", "-rw-r--r--", "root", "root"},
	{"/usr/share/man/man1/rpmirror.1.gz", "-rw-r--r--", "root", "root"},
	{"/usr/share/zsh/site-functions/_rpmirror", "-rw-r--r--", "root", "root"},
	{"/var/lib/rpmirror", "drwxr-x---", "rpmirror", "rpmirror"},
}

// Files installed exactly as they are in the source tree.
var shippedAsIs = map[string]string{
	"/etc/rpmirror/mirrors.yaml":                    "mirrors.yaml",
	"/usr/lib/systemd/system/rpmirror.service":      "rpmirror.service",
	"/usr/lib/systemd/system/rpmirror.socket":       "rpmirror.socket",
	"/usr/lib/systemd/system/rpmirror-sync.service": "rpmirror-sync.service",
	"/usr/lib/systemd/system/rpmirror-sync.timer":   "rpmirror-sync.timer",
	"/usr/lib/sysusers.d/rpmirror.conf":             "rpmirror.sysusers",
	"/usr/share/doc/rpmirror/mirrors.yaml.example":  "../mirrors.yaml",
}

func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (.ci/run installs it): %v", tool, err)
		}
	}
}

func run(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s%s", strings.Join(cmd.Args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// TestRPM builds the RPM and SRPM as make rpm does, installs the RPM into
// a scratch root and checks what landed there: every file with its mode
// and owner, the binary, the configuration, the units, the man page and
// the completion.
func TestRPM(t *testing.T) {
	requireTools(t, "rpmbuild", "rpm", "git", "go", "tar")
	out := t.TempDir()
	// Without network: in a network namespace of its own where this host
	// allows one (root, unshare), else with GOPROXY=off as always.
	build := exec.Command("./mkrpm.sh", out)
	if exec.Command("unshare", "-n", "true").Run() == nil {
		build = exec.Command("unshare", "-n", "--", "./mkrpm.sh", out)
	} else {
		t.Log("unshare -n does not work here: building with the network reachable (GOPROXY=off still)")
	}
	built := run(t, build)
	var rpmFile, srpmFile string
	for _, f := range strings.Fields(built) {
		switch {
		case strings.HasSuffix(f, ".src.rpm"):
			srpmFile = f
		case strings.HasSuffix(f, ".rpm"):
			rpmFile = f
		}
	}
	if rpmFile == "" || srpmFile == "" {
		t.Fatalf("mkrpm.sh printed %q, want an RPM and an SRPM", built)
	}
	describe := strings.TrimSpace(run(t, exec.Command("git", "describe", "--tags", "--always", "--dirty")))
	commits := strings.TrimSpace(run(t, exec.Command("git", "rev-list", "--count", "HEAD")))
	version, release := rpmVersion(t, describe, commits)
	if base := filepath.Base(rpmFile); !strings.HasPrefix(base, "rpmirror-"+version+"-"+release) {
		t.Errorf("built %s, want rpmirror-%s-%s from git describe %s", base, version, release, describe)
	}

	t.Run("rpmlint", func(t *testing.T) {
		requireTools(t, "rpmlint")
		cmd := exec.Command("rpmlint", "-r", "rpmirror.rpmlintrc", rpmFile, srpmFile)
		out, _ := cmd.CombinedOutput()
		m := regexp.MustCompile(`(\d+) errors, (\d+) warnings`).FindSubmatch(out)
		if m == nil || string(m[1]) != "0" {
			t.Errorf("rpmlint reports errors:\n%s", out)
		}
	})

	t.Run("srpm", func(t *testing.T) {
		list := run(t, exec.Command("rpm", "-qlp", srpmFile))
		for _, f := range []string{"rpmirror.spec", "rpmirror.sysusers", "rpmirror-" + version + ".tar.gz"} {
			if !slices.Contains(strings.Fields(list), f) {
				t.Errorf("the SRPM lacks %s; it holds %s", f, list)
			}
		}
	})

	t.Run("bundled provides", func(t *testing.T) {
		provides := run(t, exec.Command("rpm", "-qp", "--provides", rpmFile))
		list := exec.Command("go", "list", "-deps", "-f", "{{with .Module}}{{if not .Main}}{{.Path}}{{end}}{{end}}", "../cmd/rpmirror")
		list.Env = append(os.Environ(), "CGO_ENABLED=0") // as the RPM is built
		mods := map[string]bool{}
		for _, m := range strings.Fields(run(t, list)) {
			mods[m] = true
		}
		if len(mods) == 0 {
			t.Fatal("go list found no module linked into rpmirror")
		}
		for m := range mods {
			if !strings.Contains(provides, "bundled(golang("+m+")) = ") {
				t.Errorf("the RPM does not provide bundled(golang(%s))", m)
			}
		}
		if !strings.Contains(provides, "bundled(golang(github.com/robfig/cron/v3)) = 3.0.1\n") {
			t.Errorf("provides:\n%s", provides)
		}
	})

	if os.Geteuid() != 0 {
		t.Skip("installing into a scratch root needs root: rpm chowns what it installs")
	}
	root := installScratch(t, rpmFile)
	bin := filepath.Join(root, "usr/bin/rpmirror")

	t.Run("files", func(t *testing.T) {
		list := run(t, exec.Command("rpm", "-qlv", "--root", root, "--dbpath", "/var/lib/rpm", "rpmirror"))
		var got []string
		for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
			f := strings.Fields(line)
			if len(f) < 9 || strings.HasPrefix(f[8], "/usr/lib/.build-id") {
				continue
			}
			got = append(got, fmt.Sprintf("%s %s %s %s", f[8], f[0], f[2], f[3]))
		}
		var want []string
		for _, w := range wantFiles {
			want = append(want, fmt.Sprintf("%s %s %s %s", w.path, w.mode, w.user, w.group))
		}
		if !slices.Equal(got, want) {
			t.Errorf("the package holds\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
		// On disk, with the ids of the scratch root's rpmirror user.
		for _, w := range wantFiles {
			fi, err := os.Lstat(filepath.Join(root, w.path))
			if err != nil {
				t.Error(err)
				continue
			}
			st := fi.Sys().(*syscall.Stat_t)
			ids := map[string]uint32{"root": 0, "rpmirror": rpmirrorID}
			if fi.Mode().String() != w.mode || st.Uid != ids[w.user] || st.Gid != ids[w.group] {
				t.Errorf("%s is %s %d:%d, want %s %s:%s", w.path, fi.Mode(), st.Uid, st.Gid, w.mode, w.user, w.group)
			}
		}
		for path, src := range shippedAsIs {
			sameFile(t, filepath.Join(root, path), src)
		}
		var rpmConfig string
		for _, w := range strings.Fields(run(t, exec.Command("rpm", "-qc", "--root", root, "--dbpath", "/var/lib/rpm", "rpmirror"))) {
			rpmConfig += w
		}
		if rpmConfig != "/etc/rpmirror/mirrors.yaml" {
			t.Errorf("configuration files: %q, want only /etc/rpmirror/mirrors.yaml", rpmConfig)
		}
		flags := run(t, exec.Command("rpm", "-q", "--root", root, "--dbpath", "/var/lib/rpm", "--qf", "[%{FILENAMES} %{FILEFLAGS:fflags}\n]", "rpmirror"))
		if !strings.Contains(flags, "/etc/rpmirror/mirrors.yaml cn") {
			t.Errorf("/etc/rpmirror/mirrors.yaml is not %%config(noreplace):\n%s", flags)
		}
	})

	t.Run("version", func(t *testing.T) {
		got := run(t, exec.Command(bin, "version"))
		head := strings.TrimSpace(run(t, exec.Command("git", "rev-parse", "HEAD")))
		want := "rpmirror " + describe + "\ncommit " + head
		if !strings.HasPrefix(got, want) || !strings.Contains(got, "\n"+runtime.Version()+" ") {
			t.Errorf("rpmirror version printed %q, want %q... and %s", got, want, runtime.Version())
		}
	})

	t.Run("check", func(t *testing.T) {
		got := run(t, exec.Command(bin, "check", "-c", filepath.Join(root, "etc/rpmirror/mirrors.yaml")))
		if !strings.Contains(got, ": ok: 0 repos") {
			t.Errorf("check printed %q", got)
		}
	})

	t.Run("serve", func(t *testing.T) {
		// The installed configuration, with its state and listen address
		// moved so that the test touches nothing of this host.
		cfg := filepath.Join(t.TempDir(), "mirrors.yaml")
		installed, err := os.ReadFile(filepath.Join(root, "etc/rpmirror/mirrors.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		moved := strings.NewReplacer(
			"\nstate_dir: /var/lib/rpmirror\n", "\nstate_dir: "+filepath.Join(filepath.Dir(cfg), "state")+"\n",
			"\nlisten: 127.0.0.1:8080\n", "\nlisten: 127.0.0.1:0\n").Replace(string(installed))
		if moved == string(installed) {
			t.Fatal("the installed configuration sets no state_dir /var/lib/rpmirror and listen 127.0.0.1:8080")
		}
		if err := os.WriteFile(cfg, []byte(moved), 0o600); err != nil {
			t.Fatal(err)
		}
		page := serveStatus(t, bin, cfg)
		if !strings.Contains(page, "No repositories configured.") {
			t.Errorf("/status of the installed configuration:\n%s", page)
		}
	})

	t.Run("systemd-analyze verify", func(t *testing.T) {
		requireTools(t, "systemd-analyze", "man")
		// The scratch root gets what systemd resolves the units against:
		// the standard targets and /bin/kill (ExecReload).
		units := filepath.Join(root, "usr/lib/systemd/system")
		targets, _ := filepath.Glob("/usr/lib/systemd/system/*.target")
		if len(targets) == 0 {
			t.Skip("no systemd targets in /usr/lib/systemd/system to verify the units against")
		}
		for _, tg := range targets {
			copyFile(t, tg, filepath.Join(units, filepath.Base(tg)), 0o644)
		}
		kill, err := exec.LookPath("kill")
		if err != nil || !filepath.IsAbs(kill) {
			t.Skip("no kill(1) to copy into the scratch root")
		}
		copyFile(t, kill, filepath.Join(root, "bin/kill"), 0o755)
		cmd := exec.Command("systemd-analyze", "verify", "--root="+root, "rpmirror.service", "rpmirror.socket", "rpmirror-sync.service", "rpmirror-sync.timer")
		// Documentation=man:rpmirror(1) is checked with man, which finds
		// the installed page through MANPATH.
		cmd.Env = append(os.Environ(), "MANPATH="+filepath.Join(root, "usr/share/man"), "SYSTEMD_LOG_COLOR=0")
		if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
	})

	t.Run("man", func(t *testing.T) {
		requireTools(t, "man")
		cmd := exec.Command("man", "-l", filepath.Join(root, "usr/share/man/man1/rpmirror.1.gz"))
		cmd.Env = append(os.Environ(), "MANPAGER=cat", "PAGER=cat", "MANWIDTH=120", "LANG=C")
		page := run(t, cmd)
		for _, s := range []string{"RPMIRROR(1)", "rpmirror sync [", "[-c FILE]", "--repo NAME", "EXIT STATUS", "rpmirror " + describe} {
			if !strings.Contains(page, s) {
				t.Errorf("man -l: the page has no %q", s)
			}
		}
	})

	// The example commented out in the installed configuration, made
	// active: the completion offers its repo names.
	example := filepath.Join(t.TempDir(), "mirrors.yaml")
	if err := os.WriteFile(example, uncommentExample(t, filepath.Join(root, "etc/rpmirror/mirrors.yaml")), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("bash completion", func(t *testing.T) {
		requireTools(t, "bash")
		prog := fmt.Sprintf(`source %q
COMP_WORDS=(rpmirror sync -c %q --repo ''); COMP_CWORD=5
_rpmirror
echo "${COMPREPLY[*]}"
COMP_WORDS=(rpmirror st); COMP_CWORD=1
_rpmirror
echo "${COMPREPLY[*]}"`, filepath.Join(root, "usr/share/bash-completion/completions/rpmirror"), example)
		cmd := exec.Command("bash", "--norc", "--noprofile", "-c", prog)
		cmd.Env = append(os.Environ(), "PATH="+filepath.Join(root, "usr/bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
		got := run(t, cmd)
		if want := "gluster-9-el8 gluster-9-el9\nstatus\n"; got != want {
			t.Errorf("completed %q, want %q", got, want)
		}
	})

	t.Run("zsh completion", func(t *testing.T) {
		requireTools(t, "zsh")
		run(t, exec.Command("zsh", "-n", filepath.Join(root, "usr/share/zsh/site-functions/_rpmirror")))
	})
}

// installScratch installs the RPM into a new scratch root, with its own
// rpm database and an /etc/passwd that knows the rpmirror user, and
// returns the root. The scriptlets do not run: they would need a system
// inside the root.
func installScratch(t *testing.T, rpmFile string) string {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	for file, line := range map[string]string{
		"passwd": fmt.Sprintf("root:x:0:0:root:/root:/bin/sh\nrpmirror:x:%d:%d:rpmirror:/var/lib/rpmirror:/sbin/nologin\n", rpmirrorID, rpmirrorID),
		"group":  fmt.Sprintf("root:x:0:\nrpmirror:x:%d:\n", rpmirrorID),
	} {
		if err := os.WriteFile(filepath.Join(root, "etc", file), []byte(line), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run(t, exec.Command("rpm", "-i", "--root", root, "--dbpath", "/var/lib/rpm", "--nodeps", "--noscripts", rpmFile))
	return root
}

// serveStatus runs bin serve -c cfg, waits for its listen address and
// returns its /status page.
func serveStatus(t *testing.T, bin, cfg string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "serve", "-c", cfg)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		_ = cmd.Wait()
	}()
	addr := regexp.MustCompile(`msg=serving addr=(\S+)`)
	lines := bufio.NewScanner(stderr)
	var log strings.Builder
	for lines.Scan() {
		log.WriteString(lines.Text() + "\n")
		m := addr.FindStringSubmatch(lines.Text())
		if m == nil {
			continue
		}
		go func() { _, _ = io.Copy(io.Discard, stderr) }()
		resp, err := http.Get("http://" + m[1] + "/status")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /status: %s, %v", resp.Status, err)
		}
		return string(body)
	}
	t.Fatalf("rpmirror serve never said where it listens:\n%s", log.String())
	return ""
}

// uncommentExample returns the packaged configuration with its example
// made active: the line "repos: []" dropped and one "#" removed from each
// line after the example's header.
func uncommentExample(t *testing.T, file string) []byte {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	inExample := false
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case strings.HasPrefix(line, "# ---- Example"):
			inExample = true
		case line == "repos: []":
		case inExample:
			b.WriteString(strings.TrimPrefix(line, "#") + "\n")
		default:
			b.WriteString(line + "\n")
		}
	}
	if !inExample {
		t.Fatalf("%s has no line starting with '# ---- Example'", file)
	}
	return []byte(b.String())
}

// rpmVersion maps a git describe string to an RPM version and release
// the way make rpm does, for a HEAD with that many commits.
func rpmVersion(t *testing.T, describe, commits string) (string, string) {
	t.Helper()
	cmd := exec.Command("./mkrpm.sh", "--version", describe)
	cmd.Env = append(os.Environ(), "COMMITS="+commits)
	f := strings.Fields(run(t, cmd))
	if len(f) != 2 {
		t.Fatalf("mkrpm.sh --version %s printed %q", describe, f)
	}
	return f[0], f[1]
}

func sameFile(t *testing.T, installed, src string) {
	t.Helper()
	a, err := os.ReadFile(installed)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Errorf("%s differs from dist/%s", installed, src)
	}
}

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, mode); err != nil {
		t.Fatal(err)
	}
}

// The version make rpm derives from git describe is a valid RPM version,
// and each release sorts after the one before.
func TestRPMVersion(t *testing.T) {
	tests := []struct {
		describe, version, release string
	}{
		{"v1.2.3", "1.2.3", "1"},
		{"1.2.3", "1.2.3", "1"},
		{"v1.2.3-5-gabc1234", "1.2.3", "5.gabc1234"},
		{"v1.2.3-5-gabc1234-dirty", "1.2.3", "5.gabc1234.dirty"},
		{"v1.3.0-rc1", "1.3.0~rc1", "1"},
		{"v1.3.0-rc1-2-gabc1234", "1.3.0~rc1", "2.gabc1234"},
		{"abc1234", "0", "0.80.gabc1234"},
		{"abc1234-dirty", "0", "0.80.gabc1234.dirty"},
		{"release/2026:a", "release.2026.a", "1"},
	}
	for _, tc := range tests {
		t.Run(tc.describe, func(t *testing.T) {
			v, r := rpmVersion(t, tc.describe, "80")
			if v != tc.version || r != tc.release {
				t.Errorf("got %s-%s, want %s-%s", v, r, tc.version, tc.release)
			}
		})
	}
	// Order, as rpm compares: a tag < a commit after it < the next rc < the next tag.
	if _, err := exec.LookPath("rpm"); err != nil {
		t.Skip("rpm is not installed: cannot compare versions")
	}
	order := []string{"abc1234", "v1.2.3", "v1.2.3-1-gabc1234", "v1.2.3-12-gabc1234", "v1.3.0-rc1", "v1.3.0"}
	for i := 1; i < len(order); i++ {
		v0, r0 := rpmVersion(t, order[i-1], "80")
		v1, r1 := rpmVersion(t, order[i], "80")
		expr := fmt.Sprintf(`%%{lua: print(rpm.vercmp("%s-%s", "%s-%s"))}`, v0, r0, v1, r1)
		if got := strings.TrimSpace(run(t, exec.Command("rpm", "--eval", expr))); got != "-1" {
			t.Errorf("%s (%s-%s) does not sort before %s (%s-%s): vercmp %s", order[i-1], v0, r0, order[i], v1, r1, got)
		}
	}
}

// The packaged configuration is valid as installed (no repository yet)
// and with its commented example made active.
func TestPackagedConfig(t *testing.T) {
	c, err := config.LoadWith("mirrors.yaml", config.LoadOptions{SkipFilesystem: true})
	if err != nil {
		t.Fatalf("as installed: %v", err)
	}
	if len(c.Repos) != 0 || c.StateDir != "/var/lib/rpmirror" || c.Listen != "127.0.0.1:8080" {
		t.Errorf("as installed: state_dir %s, listen %s, %d repos; want /var/lib/rpmirror, 127.0.0.1:8080, none", c.StateDir, c.Listen, len(c.Repos))
	}
	file := filepath.Join(t.TempDir(), "mirrors.yaml")
	if err := os.WriteFile(file, uncommentExample(t, "mirrors.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err = config.LoadWith(file, config.LoadOptions{SkipFilesystem: true})
	if err != nil {
		t.Fatalf("with the example: %v", err)
	}
	var names []string
	for _, r := range c.Repos {
		names = append(names, r.Name)
		for _, m := range r.Mirrors {
			if m.Written() && !strings.HasPrefix(m.Path, "/srv/mirror/") {
				t.Errorf("the example writes %s, outside the unit's ReadWritePaths=-/srv/mirror", m.Path)
			}
		}
	}
	if !slices.Equal(names, []string{"gluster-9-el8", "gluster-9-el9"}) {
		t.Errorf("the example has repos %v", names)
	}
}
