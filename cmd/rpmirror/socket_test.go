package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	gosync "sync"
	"syscall"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/internal/testrepo"
)

// onSocket returns the command that runs rpmirror serve on the listening
// socket ln as systemd passes one (socket activation: fd 3, LISTEN_FDS,
// and LISTEN_PID, the child's own pid, which sh knows before it execs).
func onSocket(t *testing.T, ln *os.File, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sh", append([]string{"-c", `LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"`, os.Args[0], "serve"}, args...)...)
	cmd.Env = append(os.Environ(), "RPMIRROR_TEST_BE_MAIN=1", "TMPDIR="+childTmp)
	cmd.ExtraFiles = []*os.File{ln}
	return cmd
}

// TestRestartOnTheSocketSystemdHolds restarts rpmirror serve on the
// socket systemd holds for it (dist/rpmirror.socket) while clients keep
// asking for the mirrorlist, with the origin answering 403 (the
// incident): no client is refused or left without an answer, and every
// answer lists the two healthy mirrors, the first ones of the new daemon
// too, never the failing origin (it starts from the last daemon's
// probes). The daemon serves on the socket it was passed, whatever
// listen says, and says so.
func TestRestartOnTheSocketSystemdHolds(t *testing.T) {
	f := newFixture(t, testrepo.DemoPackages(nil), 2)
	var urls []string
	for _, m := range f.mirrors {
		srv := httptest.NewServer(http.FileServer(http.Dir(m)))
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL+"/")
	}
	cfg := fmt.Sprintf(`state_dir: %[1]s/state
listen: 127.0.0.1:1
probe_interval: 1s
probe_timeout: 500ms
download:
  retries: 0
repos:
  - name: test
    origin: %[2]s/
    gpgkeys: [%[3]s]
    schedule: "@every 1h"
    mirrors:
      - name: m1
        path: %[4]s
        url: %[5]s
      - name: m2
        path: %[6]s
        url: %[7]s
`, f.dir, f.srv.URL, f.key.PublicPath, f.mirrors[0], urls[0], f.mirrors[1], urls[1])
	if err := os.WriteFile(f.cfg, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := tl.Addr().String()
	sock, err := tl.(*net.TCPListener).File() // systemd's copy: open across restarts
	tl.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()

	start := func() (*exec.Cmd, *syncBuffer) {
		cmd := onSocket(t, sock, "-c", f.cfg)
		var out syncBuffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &out
	}
	stop := func(cmd *exec.Cmd, out *syncBuffer) {
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("rpmirror serve exited with %v after SIGTERM:\n%s", err, out.String())
		}
	}
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	get := func() (string, error) {
		resp, err := client.Get("http://" + addr + "/mirrorlist?repo=test")
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != 200 {
			err = fmt.Errorf("%s", resp.Status)
		}
		return string(b), err
	}
	both := func(list string) bool {
		return strings.Contains(list, urls[0]) && strings.Contains(list, urls[1]) && !strings.Contains(list, f.srv.URL)
	}

	first, out := start()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if l, err := get(); err == nil && both(l) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon never listed both mirrors:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if log := out.String(); !strings.Contains(log, "serving on the socket systemd passed") || !strings.Contains(log, addr) {
		t.Errorf("the daemon does not say it serves on the socket it was passed, not on listen:\n%s", log)
	}
	f.mu.Lock()
	f.status = http.StatusForbidden
	f.mu.Unlock()

	ctx, cancel := context.WithCancel(context.Background())
	var (
		mu       gosync.Mutex
		answers  int
		failures []string
		wg       gosync.WaitGroup
	)
	for range 4 { // as CI jobs do: several clients at once
		wg.Go(func() {
			for ctx.Err() == nil {
				l, err := get()
				mu.Lock()
				answers++
				switch {
				case err != nil:
					failures = append(failures, err.Error())
				case !both(l):
					failures = append(failures, "listed other than m1 and m2:\n"+l)
				}
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	time.Sleep(200 * time.Millisecond)
	stop(first, out)
	second, out2 := start()
	time.Sleep(1500 * time.Millisecond)
	cancel()
	wg.Wait()
	stop(second, out2)
	if answers < 20 {
		t.Fatalf("only %d requests made", answers)
	}
	if len(failures) > 0 {
		t.Errorf("%d of %d requests during the restart failed; the first: %s\nthe new daemon's log:\n%s", len(failures), answers, failures[0], out2.String())
	}
	if !strings.Contains(out2.String(), "starting from the last daemon's probes") {
		t.Errorf("the new daemon did not start from the last one's probes:\n%s", out2.String())
	}
}

// TestServeRefusesSocketsItCannotUse: a .socket unit that passes two
// sockets, or a datagram one, stops rpmirror serve at start (exit not 0)
// with an error naming the fix.
func TestServeRefusesSocketsItCannotUse(t *testing.T) {
	dir := t.TempDir()
	cfg := dir + "/mirrors.yaml"
	if err := os.WriteFile(cfg, []byte("state_dir: "+dir+"/state\nlisten: 127.0.0.1:1\nrepos:\n  - name: r\n    origin: http://127.0.0.1:1/r/\n    mirrors:\n      - name: m\n        url: http://127.0.0.1:1/m/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tcp := func(t *testing.T) *os.File {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		f, err := ln.(*net.TCPListener).File()
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	udp := func(t *testing.T) *os.File {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		f, err := c.(*net.UDPConn).File()
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	for _, tc := range []struct {
		name    string
		sockets []func(*testing.T) *os.File
		want    string
	}{
		{"two stream sockets", []func(*testing.T) *os.File{tcp, tcp}, "systemd passed 2 sockets (LISTEN_FDS); rpmirror serve takes one: give its .socket unit a single ListenStream="},
		{"a datagram socket", []func(*testing.T) *os.File{udp}, "is not a listening stream socket: give rpmirror's .socket unit a ListenStream=, not a ListenDatagram="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var files []*os.File
			for _, mk := range tc.sockets {
				f := mk(t)
				defer f.Close()
				files = append(files, f)
			}
			cmd := exec.Command("sh", "-c", fmt.Sprintf(`LISTEN_PID=$$ LISTEN_FDS=%d exec "$0" "$@"`, len(files)), os.Args[0], "serve", "-c", cfg)
			cmd.Env = append(os.Environ(), "RPMIRROR_TEST_BE_MAIN=1", "TMPDIR="+childTmp)
			cmd.ExtraFiles = files
			done := make(chan struct{})
			var out []byte
			var err error
			go func() { out, err = cmd.CombinedOutput(); close(done) }()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
				<-done
				t.Fatalf("rpmirror serve kept running on %s:\n%s", tc.name, out)
			}
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() == 0 || !strings.Contains(string(out), tc.want) {
				t.Errorf("rpmirror serve on %s: %v\n%s\nwant a failure saying %q", tc.name, err, out, tc.want)
			}
		})
	}
}
