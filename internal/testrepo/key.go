package testrepo

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/internal/gpghome"
)

// Key is an OpenPGP signing key held in its own GNUPGHOME. The key is RSA
// 2048 with no passphrase, which both rpm and go-rpmutils (through
// ProtonMail's go-crypto) accept.
type Key struct {
	// Dir is the GNUPGHOME holding the secret key. It is a short path under
	// the system temporary directory: gpg-agent's socket lives there and
	// Unix socket paths are limited to about 100 bytes.
	Dir string
	// Name is the key's user ID, such as "rpmirror test key <test@rpmirror.invalid>".
	Name string
	// ID is the long key ID, 16 upper-case hex digits.
	ID string
	// Fingerprint is the full fingerprint, upper-case hex.
	Fingerprint string
	// PublicPath is a file holding the ASCII-armored public key, suitable
	// for rpmkeys --import, a .repo file's gpgkey=file://... and
	// openpgp.ReadArmoredKeyRing.
	PublicPath string
	// V3 is set for keys held by gpg1 (GnuPG 1.4), which signs with
	// OpenPGP V3 signature packets (--force-v3-sigs), the way RHEL and
	// CentOS packages were long signed.
	V3 bool
}

// gpgFlags are passed to every gpg call: never prompt, never ask a
// pinentry (keys have no passphrase).
var gpgFlags = []string{"--batch", "--no-tty", "--pinentry-mode", "loopback", "--passphrase", ""}

func (k *Key) gpg(args ...string) ([]byte, error) {
	if k.V3 {
		return run("", k.env(), "gpg1", append([]string{"--batch", "--no-tty", "--force-v3-sigs"}, args...)...)
	}
	return run("", k.env(), "gpg", append(append([]string{}, gpgFlags...), args...)...)
}

func (k *Key) env() []string { return []string{"GNUPGHOME=" + k.Dir} }

// Env returns the environment (GNUPGHOME=...) that makes gpg use this key's
// home, to be appended to os.Environ().
func (k *Key) Env() []string { return k.env() }

func newGNUPGHome() (string, error) {
	dir, err := os.MkdirTemp("", "rpmirror-gpg-")
	if err != nil {
		return "", fmt.Errorf("creating GNUPGHOME: %w", err)
	}
	return dir, nil
}

// GenerateKey creates a new RSA 2048 signing key with user ID name, no
// passphrase and no expiry, in a new temporary GNUPGHOME. Call Close when
// done with it.
func GenerateKey(name string) (*Key, error) {
	return GenerateKeyAt(name, time.Time{})
}

// GenerateKeyAt is GenerateKey with the key's creation time set to created
// (gpg --faked-system-time), unless it is zero. The committed keys are
// dated in the past so that no verifier with a slow clock sees a key from
// the future.
func GenerateKeyAt(name string, created time.Time) (*Key, error) {
	return generate(name, "rsa2048", created)
}

// GenerateKeyAlgo is GenerateKey for another gpg algorithm, such as
// "dsa2048" or "ed25519" (gpg --quick-gen-key's names).
func GenerateKeyAlgo(name, algo string) (*Key, error) {
	return generate(name, algo, time.Time{})
}

// GenerateV3Key creates a signing key with gpg1 (GnuPG 1.4), which makes
// OpenPGP V3 signatures: algo is "rsa" or "dsa", 2048 bits, no
// passphrase, no expiry. rpmsign signs with it through gpg1
// --force-v3-sigs, so rpm -Kv shows "Header V3 RSA/SHA256 Signature".
func GenerateV3Key(name, algo string) (*Key, error) {
	if err := needTools("gpg1"); err != nil {
		return nil, err
	}
	var keyType string
	switch algo {
	case "rsa":
		keyType = "RSA"
	case "dsa":
		keyType = "DSA"
	default:
		return nil, fmt.Errorf("gpg1 key algorithm %q: want rsa or dsa", algo)
	}
	dir, err := newGNUPGHome()
	if err != nil {
		return nil, err
	}
	k := &Key{Dir: dir, V3: true}
	real, email, _ := strings.Cut(name, " <")
	params := fmt.Sprintf("Key-Type: %s\nKey-Length: 2048\nKey-Usage: sign\nName-Real: %s\n", keyType, real)
	if email != "" {
		params += "Name-Email: " + strings.TrimSuffix(email, ">") + "\n"
	}
	params += "Expire-Date: 0\n%commit\n"
	pf := filepath.Join(dir, "params")
	if err := os.WriteFile(pf, []byte(params), 0o600); err != nil {
		k.Close()
		return nil, err
	}
	if _, err := k.gpg("--gen-key", pf); err != nil {
		k.Close()
		return nil, fmt.Errorf("generating gpg1 key %q: %w", name, err)
	}
	if err := k.load(""); err != nil {
		k.Close()
		return nil, err
	}
	return k, nil
}

// NewV3Key is GenerateV3Key for tests: it skips t without gpg1 and
// removes the key when t ends.
func NewV3Key(t testing.TB, name, algo string) *Key {
	t.Helper()
	k, err := GenerateV3Key(name, algo)
	check(t, err)
	t.Cleanup(func() { k.Close() })
	return k
}

// NewKeyAlgo is GenerateKeyAlgo for tests.
func NewKeyAlgo(t testing.TB, name, algo string) *Key {
	t.Helper()
	k, err := GenerateKeyAlgo(name, algo)
	check(t, err)
	t.Cleanup(func() { k.Close() })
	return k
}

func generate(name, algo string, created time.Time) (*Key, error) {
	if err := needTools("gpg", "gpgconf"); err != nil {
		return nil, err
	}
	dir, err := newGNUPGHome()
	if err != nil {
		return nil, err
	}
	k := &Key{Dir: dir}
	args := []string{"--quick-gen-key", name, algo, "sign", "never"}
	if !created.IsZero() {
		args = append([]string{"--faked-system-time", created.UTC().Format("20060102T150405") + "!"}, args...)
	}
	if _, err := k.gpg(args...); err != nil {
		k.Close()
		return nil, fmt.Errorf("generating key %q: %w", name, err)
	}
	if err := k.load(""); err != nil {
		k.Close()
		return nil, err
	}
	return k, nil
}

// LoadKey imports the ASCII-armored secret key in secretPath into a new
// temporary GNUPGHOME. publicPath, when not empty, becomes the Key's
// PublicPath; otherwise the public key is exported into the new home. Call
// Close when done with it.
func LoadKey(secretPath, publicPath string) (*Key, error) {
	if err := needTools("gpg", "gpgconf"); err != nil {
		return nil, err
	}
	dir, err := newGNUPGHome()
	if err != nil {
		return nil, err
	}
	k := &Key{Dir: dir}
	if _, err := k.gpg("--import", secretPath); err != nil {
		k.Close()
		return nil, fmt.Errorf("importing key %s: %w", secretPath, err)
	}
	if err := k.load(publicPath); err != nil {
		k.Close()
		return nil, err
	}
	return k, nil
}

// load fills in the key's identity from its GNUPGHOME, which must hold
// exactly one secret key, and its PublicPath.
func (k *Key) load(publicPath string) error {
	out, err := k.gpg("--with-colons", "--with-fingerprint", "--list-secret-keys")
	if err != nil {
		return fmt.Errorf("listing keys in %s: %w", k.Dir, err)
	}
	var secs int
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Split(line, ":")
		switch {
		case f[0] == "sec" && len(f) > 4:
			secs++
			k.ID = f[4]
		case f[0] == "fpr" && len(f) > 9 && k.Fingerprint == "":
			k.Fingerprint = f[9]
		case f[0] == "uid" && len(f) > 9 && k.Name == "":
			k.Name = unescapeColons(f[9])
		}
	}
	if secs != 1 || k.ID == "" || k.Fingerprint == "" {
		return fmt.Errorf("GNUPGHOME %s: want exactly one secret key, found %d", k.Dir, secs)
	}
	if publicPath != "" {
		k.PublicPath = publicPath
		return nil
	}
	pub, err := k.gpg("--armor", "--export", k.Fingerprint)
	if err != nil {
		return fmt.Errorf("exporting public key %s: %w", k.ID, err)
	}
	k.PublicPath = filepath.Join(k.Dir, "public.asc")
	if err := os.WriteFile(k.PublicPath, pub, 0o644); err != nil {
		return fmt.Errorf("writing public key: %w", err)
	}
	return nil
}

// unescapeColons undoes gpg's --with-colons escaping (\x3a and friends).
func unescapeColons(s string) string {
	if !strings.Contains(s, `\x`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			var c byte
			if _, err := fmt.Sscanf(s[i+2:i+4], "%02x", &c); err == nil {
				b.WriteByte(c)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// ExportSecret writes the ASCII-armored secret key (which includes the
// public key) to path.
func (k *Key) ExportSecret(path string) error {
	out, err := k.gpg("--armor", "--export-secret-keys", k.Fingerprint)
	if err != nil {
		return fmt.Errorf("exporting secret key %s: %w", k.ID, err)
	}
	if !bytes.Contains(out, []byte("PRIVATE KEY BLOCK")) {
		return fmt.Errorf("exporting secret key %s: gpg wrote no private key block", k.ID)
	}
	return os.WriteFile(path, out, 0o600)
}

// DetachSign writes an ASCII-armored detached signature of file to sigPath,
// the way repomd.xml.asc is made.
func (k *Key) DetachSign(file, sigPath string) error {
	if _, err := k.gpg("--yes", "--armor", "--detach-sign", "--local-user", k.Fingerprint, "--output", sigPath, file); err != nil {
		return fmt.Errorf("signing %s: %w", file, err)
	}
	return nil
}

// Close stops the gpg-agent (and any other gpg daemon) started for this
// key's home, waits for it to go, then removes the home. It is safe to
// call more than once.
func (k *Key) Close() error {
	if k == nil || k.Dir == "" {
		return nil
	}
	gpghome.Release(context.Background(), k.Dir)
	err := os.RemoveAll(k.Dir)
	k.Dir = ""
	return err
}

// NewKey generates a fresh signing key (see GenerateKey) whose gpg-agent is
// stopped and home removed when t ends. It takes about a third of a second.
func NewKey(t testing.TB, name string) *Key {
	t.Helper()
	k, err := GenerateKey(name)
	check(t, err)
	t.Cleanup(func() { k.Close() })
	return k
}

// TestKey loads the committed test key (testdata/keys/test.sec) into a
// temporary GNUPGHOME that is removed when t ends. Its PublicPath is the
// committed testdata/keys/test.pub, the key the committed repositories
// verify against.
func TestKey(t testing.TB) *Key {
	t.Helper()
	return loadCommitted(t, "test")
}

// UnknownKey loads the committed second key (testdata/keys/unknown.sec),
// for packages and metadata "signed by a key nobody trusts".
func UnknownKey(t testing.TB) *Key {
	t.Helper()
	return loadCommitted(t, "unknown")
}

func loadCommitted(t testing.TB, name string) *Key {
	t.Helper()
	dir := Testdata(t, "keys")
	k, err := LoadKey(filepath.Join(dir, name+".sec"), filepath.Join(dir, name+".pub"))
	check(t, err)
	t.Cleanup(func() { k.Close() })
	return k
}

// NewSigningKey makes a new key, as NewKey does, for rpmirror to sign
// repomd.xml with (sign_with): its unprotected secret key is exported,
// armored, to dir/repo-key.asc, whose path is returned with the key.
func NewSigningKey(t testing.TB, dir string) (*Key, string) {
	t.Helper()
	k := NewKey(t, "rpmirror filtered repo signer")
	path := filepath.Join(dir, "repo-key.asc")
	check(t, k.ExportSecret(path))
	return k, path
}
