package local

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDocumentedServerConfigWithNginx runs nginx with the server block
// docs/operations.md gives for serving a mirror, its root reached through
// a symlink as operators often have it: the mirror's files are served,
// rpmirror's work files are not, nor is what a symlink planted in the
// mirror points at (a package, or a snapshot directory linked elsewhere:
// a tester's nginx served it while verify said nothing).
func TestDocumentedServerConfigWithNginx(t *testing.T) {
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		if p := "/usr/sbin/nginx"; fileExists(p) {
			nginx = p
		} else {
			t.Skip("nginx not installed")
		}
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	section, _, _ := strings.Cut(string(doc[strings.Index(string(doc), "## Serving a mirror"):]), "### Filesystem requirements")
	m := regexp.MustCompile("(?s)```nginx\n(server \\{.*?\n\\})\n```").FindStringSubmatch(section)
	if m == nil {
		t.Fatal("docs/operations.md's \"Serving a mirror\" gives no nginx server block")
	}
	dir := t.TempDir()
	srv, outside := filepath.Join(dir, "srv"), filepath.Join(dir, "outside")
	mirror := filepath.Join(srv, "el9")
	files := map[string]string{
		"repodata/repomd.xml":                            "<repomd/>",
		"Packages/a/a-1-1.noarch.rpm":                    "rpm",
		"snapshots/20261126T120000Z/repodata/repomd.xml": "<repomd/>",
		workDir + "/" + lockName:                         "1234",
	}
	for p, content := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(mirror, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(mirror, p), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(outside, "repodata"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "repodata", "repomd.xml"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	for link, to := range map[string]string{
		"snapshots/20261101T000000Z":     outside,
		"Packages/e/evil-1-1.noarch.rpm": filepath.Join(outside, "repodata", "repomd.xml"),
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(mirror, link)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(to, filepath.Join(mirror, link)); err != nil {
			t.Fatal(err)
		}
	}
	root := filepath.Join(dir, "www") // the server's root, a symlink to srv
	if err := os.Symlink(srv, root); err != nil {
		t.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	server := strings.Replace(m[1], "listen 80;", "listen "+addr+";", 1)
	server = strings.Replace(server, "root /srv/mirror;", "root "+root+";", 1)
	if !strings.Contains(server, addr) || !strings.Contains(server, root) {
		t.Fatalf("the documented server block has no `listen 80;` or `root /srv/mirror;` to replace:\n%s", m[1])
	}
	conf := fmt.Sprintf(`daemon off;
master_process off;
user root;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events {}
http {
    access_log off;
    client_body_temp_path %[1]s/tmp-body;
    proxy_temp_path %[1]s/tmp-proxy;
    fastcgi_temp_path %[1]s/tmp-fastcgi;
    uwsgi_temp_path %[1]s/tmp-uwsgi;
    scgi_temp_path %[1]s/tmp-scgi;
%[2]s
}
`, dir, server)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(nginx, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	get := func(p string) (int, string) {
		resp, err := http.Get("http://" + addr + p)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b := make([]byte, 64)
		n, _ := resp.Body.Read(b)
		return resp.StatusCode, string(b[:n])
	}
	deadline := time.Now().Add(10 * time.Second)
	for code, _ := get("/el9/repodata/repomd.xml"); code == 0; code, _ = get("/el9/repodata/repomd.xml") {
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx did not answer:\n%s", log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, tc := range []struct {
		path   string
		served bool
	}{
		{"/el9/repodata/repomd.xml", true},
		{"/el9/Packages/a/a-1-1.noarch.rpm", true},
		{"/el9/snapshots/20261126T120000Z/repodata/repomd.xml", true},
		{"/el9/" + workDir + "/" + lockName, false},
		{"/el9/Packages/e/evil-1-1.noarch.rpm", false},
		{"/el9/snapshots/20261101T000000Z/repodata/repomd.xml", false},
	} {
		code, body := get(tc.path)
		if served := code == http.StatusOK; served != tc.served || strings.Contains(body, "secret") {
			t.Errorf("GET %s: %d %q; want served: %v", tc.path, code, body, tc.served)
		}
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
