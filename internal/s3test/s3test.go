// Package s3test starts a real S3 server for tests: versitygw, an
// Apache-2.0 S3 gateway over a local directory, on a loopback port. There
// is no fake S3: a test that needs object storage skips, saying how to
// install versitygw, when the binary is not there.
package s3test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Access and Secret are the credentials the server accepts.
const (
	Access = "rpmirrortestkey"
	Secret = "rpmirror-test-secret-0123456789abcdef"
)

// InstallHint says how to get versitygw.
const InstallHint = "CGO_ENABLED=0 go install github.com/versity/versitygw/cmd/versitygw@v1.8.0 (.ci/run does)"

// Server is a running versitygw.
type Server struct {
	// Endpoint is its http URL.
	Endpoint string
	// Dir holds one directory per bucket; the objects of bucket B are
	// plain files under Dir/B/.
	Dir string
}

// Binary returns the path of versitygw: on PATH, or in $GOPATH/bin
// (~/go/bin by default), or "" when it is in neither.
func Binary() string {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		gopath = filepath.Join(home, "go")
	}
	p := filepath.Join(filepath.SplitList(gopath)[0], "bin", "versitygw")
	if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
		return p
	}
	return ""
}

// Start starts versitygw with the given buckets (directories created
// before it starts) and stops it when the test ends. It skips the test
// when versitygw is not installed.
func Start(t testing.TB, buckets ...string) *Server {
	t.Helper()
	bin := Binary()
	if bin == "" {
		t.Skip("versitygw is not installed: " + InstallHint)
	}
	dir := t.TempDir()
	for _, b := range buckets {
		if err := os.Mkdir(filepath.Join(dir, b), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for attempt := 0; ; attempt++ {
		addr := freePort(t)
		ctx, cancel := context.WithCancel(context.Background())
		cmd := exec.CommandContext(ctx, bin, "--access", Access, "--secret", Secret, "--port", addr, "posix", dir)
		logf, err := os.Create(filepath.Join(t.TempDir(), "versitygw.log"))
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			cancel()
			t.Fatalf("starting versitygw: %v", err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		stop := func() { cancel(); <-exited; logf.Close() }
		endpoint := "http://" + addr
		if waitUp(endpoint, exited) {
			t.Cleanup(stop)
			return &Server{Endpoint: endpoint, Dir: dir}
		}
		stop()
		if attempt == 2 {
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("versitygw did not start on %s:\n%s", addr, b)
		}
	}
}

func freePort(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitUp waits until the server answers HTTP, or exits, or a minute
// passes.
func waitUp(endpoint string, exited <-chan struct{}) bool {
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		if resp, err := c.Get(endpoint + "/"); err == nil {
			resp.Body.Close()
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// String names the server for messages.
func (s *Server) String() string { return fmt.Sprintf("versitygw at %s over %s", s.Endpoint, s.Dir) }

// AllowPublicRead gives bucket a policy that lets anyone GET (and HEAD)
// its objects without credentials, as a bucket that is a mirror's public
// base URL has: clients and probes then read it at
// Endpoint/bucket/prefix/ (path-style).
func (s *Server) AllowPublicRead(t testing.TB, bucket string) {
	t.Helper()
	c, err := minio.New(strings.TrimPrefix(s.Endpoint, "http://"), &minio.Options{Creds: credentials.NewStaticV4(Access, Secret, ""), Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::` + bucket + `/*"]}]}`
	if err := c.SetBucketPolicy(context.Background(), bucket, policy); err != nil {
		t.Fatalf("making bucket %s readable by anyone: %v", bucket, err)
	}
}
