package testrepo

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

func readKeyring(t *testing.T, paths ...string) openpgp.EntityList {
	t.Helper()
	var all openpgp.EntityList
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		el, err := openpgp.ReadArmoredKeyRing(f)
		f.Close()
		if err != nil {
			t.Fatalf("reading %s: %v", p, err)
		}
		all = append(all, el...)
	}
	return all
}

// agentRunning reports whether a gpg-agent process serves home.
func agentRunning(t *testing.T, home string) bool {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		cmd := strings.ReplaceAll(string(b), "\x00", " ")
		if strings.Contains(cmd, "gpg-agent") && strings.Contains(cmd, home) {
			return true
		}
	}
	return false
}

func TestKeys(t *testing.T) {
	RequireTools(t, "gpg", "gpgconf")
	tests := []struct {
		name string
		key  func(t *testing.T) *Key
		uid  string
	}{
		{"new", func(t *testing.T) *Key { return NewKey(t, "new key <new@rpmirror.invalid>") }, "new key <new@rpmirror.invalid>"},
		{"committed test key", func(t *testing.T) *Key { return TestKey(t) }, "rpmirror test key <test@rpmirror.invalid>"},
		{"committed unknown key", func(t *testing.T) *Key { return UnknownKey(t) }, "rpmirror unknown key <unknown@rpmirror.invalid>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := tt.key(t)
			if k.Name != tt.uid {
				t.Errorf("Name = %q, want %q", k.Name, tt.uid)
			}
			el := readKeyring(t, k.PublicPath)
			if len(el) != 1 {
				t.Fatalf("public key file holds %d keys, want 1", len(el))
			}
			pk := el[0].PrimaryKey
			if pk.PubKeyAlgo != packet.PubKeyAlgoRSA {
				t.Errorf("algorithm %v, want RSA", pk.PubKeyAlgo)
			}
			if bits, _ := pk.BitLength(); bits != 2048 {
				t.Errorf("%d bits, want 2048", bits)
			}
			if got := strings.ToUpper(pk.KeyIdString()); got != k.ID {
				t.Errorf("key ID %s in public key file, Key.ID %s", got, k.ID)
			}

			// Signing starts an agent; Close must stop it.
			f := filepath.Join(t.TempDir(), "f")
			os.WriteFile(f, []byte("data"), 0o644)
			if err := k.DetachSign(f, f+".asc"); err != nil {
				t.Fatal(err)
			}
			signed, _ := os.Open(f)
			sig, _ := os.Open(f + ".asc")
			defer signed.Close()
			defer sig.Close()
			if _, err := openpgp.CheckArmoredDetachedSignature(el, signed, sig, nil); err != nil {
				t.Errorf("detached signature does not verify: %v", err)
			}
			home := k.Dir
			if !agentRunning(t, home) {
				t.Logf("no gpg-agent seen for %s after signing", home)
			}
			k.Close()
			// The socket is gone when Close returns; the process may take
			// a moment more to exit.
			for i := 0; i < 100 && agentRunning(t, home); i++ {
				time.Sleep(20 * time.Millisecond)
			}
			if agentRunning(t, home) {
				t.Errorf("gpg-agent for %s still running after Close", home)
			}
			if _, err := os.Stat(home); !os.IsNotExist(err) {
				t.Errorf("GNUPGHOME %s not removed: %v", home, err)
			}
		})
	}
}
