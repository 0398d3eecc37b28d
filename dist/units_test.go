package dist_test

import (
	"bufio"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// unitDirectives returns the directives of a unit file's [Service]
// section in order, as "Key=value".
func unitDirectives(t *testing.T, file string) []string {
	t.Helper()
	return sectionDirectives(t, file, "[Service]")
}

// sectionDirectives returns the directives of a unit file's section (as
// "[Socket]") in order, as "Key=value".
func sectionDirectives(t *testing.T, file, want string) []string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	section := ""
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = line
		case section == want:
			out = append(out, line)
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// The daemon's unit has the sandbox the issue asks for, and the sync
// service started by the timer has the same one.
func TestUnitSandbox(t *testing.T) {
	daemon := unitDirectives(t, "rpmirror.service")
	for _, want := range []string{
		"User=rpmirror",
		"ExecStart=/usr/bin/rpmirror serve -c /etc/rpmirror/mirrors.yaml",
		"ExecReload=/bin/kill -HUP $MAINPID",
		"ProtectSystem=strict",
		"StateDirectory=rpmirror",
		"ReadWritePaths=-/srv/mirror",
		"NoNewPrivileges=yes",
		"PrivateTmp=yes",
		"ProtectHome=yes",
		"RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
		"SystemCallFilter=@system-service",
		"CapabilityBoundingSet=",
	} {
		if !slices.Contains(daemon, want) {
			t.Errorf("rpmirror.service has no %s", want)
		}
	}
	// What only the daemon has: how it runs and stops.
	runOnly := regexp.MustCompile(`^(Type|ExecStart|ExecReload|Restart|RestartSec|TimeoutStopSec)=`)
	sandbox := func(directives []string) []string {
		return slices.DeleteFunc(slices.Clone(directives), runOnly.MatchString)
	}
	sync := unitDirectives(t, "rpmirror-sync.service")
	if !slices.Contains(sync, "ExecStart=/usr/bin/rpmirror sync -c /etc/rpmirror/mirrors.yaml") {
		t.Errorf("rpmirror-sync.service does not run rpmirror sync: %v", sync)
	}
	if a, b := sandbox(daemon), sandbox(sync); !slices.Equal(a, b) {
		t.Errorf("the two services are sandboxed differently:\nrpmirror.service      %v\nrpmirror-sync.service %v", a, b)
	}
}

// docs/operations.md records the score systemd-analyze security gives the
// units.
func TestSecurityScore(t *testing.T) {
	requireTools(t, "systemd-analyze")
	doc, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	score := regexp.MustCompile(`Overall exposure level for \S+: (\d+\.\d+)`)
	for _, unit := range []string{"rpmirror.service", "rpmirror-sync.service"} {
		out, err := exec.Command("systemd-analyze", "security", "--offline=yes", "./"+unit).CombinedOutput()
		m := score.FindSubmatch(out)
		if m == nil {
			t.Skipf("systemd-analyze security --offline=yes %s gave no score (systemd older than 250?): %v\n%s", unit, err, out)
		}
		want := "`" + unit + "`: exposure level " + string(m[1])
		if !strings.Contains(string(doc), want) {
			t.Errorf("docs/operations.md does not record %q", want)
		}
	}
}

// The socket unit listens where the shipped configuration's listen says
// (the daemon warns when they differ) and hands its one socket to the
// daemon's service.
func TestSocketUnit(t *testing.T) {
	sock := sectionDirectives(t, "rpmirror.socket", "[Socket]")
	cfg, err := os.ReadFile("mirrors.yaml")
	if err != nil {
		t.Fatal(err)
	}
	listen := regexp.MustCompile(`(?m)^listen: (\S+)$`).FindSubmatch(cfg)
	if listen == nil {
		t.Fatal("dist/mirrors.yaml gives no listen")
	}
	for _, want := range []string{"ListenStream=" + string(listen[1]), "Accept=no", "Service=rpmirror.service"} {
		if !slices.Contains(sock, want) {
			t.Errorf("rpmirror.socket lacks %s: %q", want, sock)
		}
	}
	if n := len(slices.DeleteFunc(slices.Clone(sock), func(d string) bool { return !strings.HasPrefix(d, "Listen") })); n != 1 {
		t.Errorf("rpmirror.socket has %d Listen directives; rpmirror serve takes one socket", n)
	}
}
