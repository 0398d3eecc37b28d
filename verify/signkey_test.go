package verify_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/rpmirror/rpmirror/verify"
)

func TestParseSigningKey(t *testing.T) {
	newKey := func(t *testing.T, email string) *openpgp.Entity {
		t.Helper()
		e, err := openpgp.NewEntity("test", "", email, &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	secret := func(t *testing.T, es ...*openpgp.Entity) []byte {
		t.Helper()
		var b bytes.Buffer
		for _, e := range es {
			if err := e.SerializePrivate(&b, nil); err != nil {
				t.Fatal(err)
			}
		}
		return b.Bytes()
	}
	armored := func(t *testing.T, typ string, data []byte) []byte {
		t.Helper()
		var b bytes.Buffer
		w, err := armor.Encode(&b, typ, nil)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		w.Close()
		return b.Bytes()
	}
	plain := newKey(t, "plain@rpmirror.invalid")
	other := newKey(t, "other@rpmirror.invalid")
	var public bytes.Buffer
	if err := plain.Serialize(&public); err != nil {
		t.Fatal(err)
	}
	protected := newKey(t, "protected@rpmirror.invalid")
	protectedBytes := secret(t, protected) // self-signatures made before encrypting
	pk, err := openpgp.ReadKeyRing(bytes.NewReader(protectedBytes))
	if err != nil {
		t.Fatal(err)
	}
	if err := pk[0].EncryptPrivateKeys([]byte("passphrase"), nil); err != nil {
		t.Fatal(err)
	}
	var enc bytes.Buffer
	if err := pk[0].SerializePrivateWithoutSigning(&enc, nil); err != nil {
		t.Fatal(err)
	}
	revoked := newKey(t, "revoked@rpmirror.invalid")
	if err := revoked.RevokeKey(packet.KeyCompromised, "test", &packet.Config{Time: func() time.Time { return time.Now().Add(-time.Minute) }}); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		data []byte
		want error // nil: the key parses and can sign
	}{
		{"binary", secret(t, plain), nil},
		{"armored", armored(t, openpgp.PrivateKeyType, secret(t, plain)), nil},
		{"armored public key", armored(t, openpgp.PublicKeyType, public.Bytes()), verify.ErrNoSecretKey},
		{"binary public key", public.Bytes(), verify.ErrNoSecretKey},
		{"empty", nil, verify.ErrNoSecretKey},
		{"two secret keys", secret(t, plain, other), verify.ErrSeveralSecretKeys},
		{"passphrase", armored(t, openpgp.PrivateKeyType, enc.Bytes()), verify.ErrKeyProtected},
		{"revoked", secret(t, revoked), verify.ErrCannotSign},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := verify.ParseSigningKey(tc.data)
			if tc.want == nil {
				if err != nil || e == nil {
					t.Fatalf("ParseSigningKey: %v", err)
				}
				if _, ok := e.SigningKey(time.Now()); !ok {
					t.Error("the key returned cannot sign")
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("ParseSigningKey: %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("not a key", func(t *testing.T) {
		if _, err := verify.ParseSigningKey([]byte("hello")); err == nil {
			t.Error("ParseSigningKey accepted text")
		}
	})
}
