package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPrintable(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain text, with a tab\tand ünïcode", "plain text, with a tab\tand ünïcode"},
		{"\x1b]0;pwned\a\x1b[2J", `\x1b]0;pwned\a\x1b[2J`},
		{"C1 \u009b31m", `C1 \u009b31m`},
		{"bad \xff\xfe UTF-8", `bad \xff\xfe UTF-8`},
		{"carriage\rreturn", `carriage\rreturn`},
		{"next line \u0085, separator \u2028, reversed \u202etxt.exe", `next line \u0085, separator \u2028, reversed \u202etxt.exe`},
	} {
		if got := printable(tc.in); got != tc.want {
			t.Errorf("printable(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	// A <revision> is the origin's too: "1\n  local  published 999
	// files" printed raw forged a line of the report (an attacker's
	// finding).
	if got := revisionOrNone("1\n  local        published 999 files"); strings.Contains(got, "\n") {
		t.Errorf("revisionOrNone printed a new line: %q", got)
	}
}

// TestHostileBytesNeverReachTheTerminal: a sync fails because the
// origin's TLS certificate is for other names, and those names, chosen
// by whoever made the certificate, are an escape sequence that sets the
// terminal's title and clears the screen. Go's error quotes them raw;
// what rpmirror prints (the summary, the error line, status) shows them
// escaped.
func TestHostileBytesNeverReachTheTerminal(t *testing.T) {
	const evil = "\x1b]0;pwned\a\x1b[2J.example"
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "rpmirror test CA"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IsCA:         true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    []string{evil},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	srv.StartTLS()
	defer srv.Close()

	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	cfg := filepath.Join(dir, "m.yaml")
	// By name: for an address Go says only that the certificate has no
	// IP SANs.
	origin := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	os.WriteFile(cfg, []byte("state_dir: state\ndownload: {retries: 0}\nrepos:\n  - name: r\n    origin: "+origin+"/\n    tls: {ca_file: ca.pem}\n    mirrors:\n      - name: m\n        path: mirror\n"), 0o644)

	code, stdout, stderr := rpmirror(t, "sync", "-c", cfg)
	if code != exitFailed {
		t.Fatalf("sync: exit %d\n%s%s", code, stdout, stderr)
	}
	_, status, _ := rpmirror(t, "status", "-c", cfg)
	for name, out := range map[string]string{"sync's stdout": stdout, "sync's stderr": stderr, "status": status} {
		if strings.ContainsAny(out, "\x1b\a") {
			t.Errorf("%s has the certificate's escape sequence raw:\n%q", name, out)
		}
	}
	if !strings.Contains(stderr, `\x1b]0;pwned\a`) {
		t.Errorf("the error does not show the name, escaped:\n%s", stderr)
	}
}
