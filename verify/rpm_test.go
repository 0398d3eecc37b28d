package verify_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/rpmirror/rpmirror/repodata"
	"github.com/rpmirror/rpmirror/verify"
)

// demoPackages reads the committed demo repository's primary metadata and
// returns its packages with their files' content.
func demoPackages(t testing.TB) ([]*repodata.Package, map[string][]byte) {
	t.Helper()
	root := filepath.Join("..", "internal", "demo", "origin", "v1")
	raw, err := os.ReadFile(filepath.Join(root, "repodata", "repomd.xml"))
	if err != nil {
		t.Fatal(err)
	}
	md, err := repodata.ParseRepomd(raw)
	if err != nil {
		t.Fatal(err)
	}
	d, ok := md.Find("primary")
	if !ok {
		t.Fatal("no primary")
	}
	f, err := os.Open(filepath.Join(root, d.Href))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := repodata.Decompress(f, d.Href)
	if err != nil {
		t.Fatal(err)
	}
	pr := repodata.NewPrimaryReader(r)
	var pkgs []*repodata.Package
	files := map[string][]byte{}
	for {
		p, err := pr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(root, p.Href))
		if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
		files[p.Href] = b
	}
	if len(pkgs) == 0 {
		t.Fatal("demo repository has no packages")
	}
	return pkgs, files
}

func keyring(t testing.TB, name string) openpgp.EntityList {
	t.Helper()
	k, err := verify.LoadKeyring(filepath.Join("..", "testdata", "keys", name+".pub"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func sha256sum(b []byte) repodata.Checksum {
	s := sha256.Sum256(b)
	return repodata.Checksum{Type: "sha256", Value: hex.EncodeToString(s[:])}
}

func TestRPM(t *testing.T) {
	pkgs, files := demoPackages(t)
	trusted, untrusted := keyring(t, "test"), keyring(t, "unknown")
	p := pkgs[0]
	good := files[p.Href]
	withEpoch := func() *repodata.Package {
		for _, p := range pkgs {
			if p.Epoch != "0" {
				return p
			}
		}
		t.Fatal("no package with an epoch in the demo repository")
		return nil
	}()
	// flip returns the package with byte i changed, and metadata that
	// matches the changed bytes, as a tampered origin would serve.
	flip := func(i int) ([]byte, *repodata.Package) {
		b := bytes.Clone(good)
		b[i] ^= 0x55
		q := *p
		q.Checksum = sha256sum(b)
		return b, &q
	}
	payloadFlipped, payloadMeta := flip(len(good) - 64)
	sigFlipped, sigMeta := flip(400) // inside the signature header's RSA signature
	at := bytes.LastIndex(good, []byte("rpmirror-fixtures"))
	if at < 0 {
		t.Fatal("no file name in the header")
	}
	headerFlipped, headerMeta := flip(at) // a file name in the main header
	leadFlipped, leadMeta := flip(0)
	with := func(change func(*repodata.Package)) *repodata.Package {
		q := *p
		change(&q)
		return &q
	}

	for _, tc := range []struct {
		name    string
		data    []byte
		want    *repodata.Package
		keys    openpgp.EntityList
		wantErr any   // pointer to the typed error expected, nil for success
		is      error // and what it wraps
	}{
		{name: "signed, trusted key", data: good, want: p, keys: trusted},
		{name: "epoch", data: files[withEpoch.Href], want: withEpoch, keys: trusted},
		{name: "no keyring: digests only", data: good, want: p},
		{name: "signed by another key", data: good, want: p, keys: untrusted, wantErr: new(*verify.SignatureError), is: verify.ErrUnknownKey},
		{name: "wrong checksum", data: good, want: with(func(q *repodata.Package) { q.Checksum = sha256sum([]byte("x")) }), wantErr: new(*verify.ChecksumError)},
		{name: "truncated", data: good[:len(good)-10], want: p, wantErr: new(*verify.SizeError)},
		{name: "longer", data: append(bytes.Clone(good), 0), want: p, wantErr: new(*verify.SizeError)},
		{name: "name", data: good, want: with(func(q *repodata.Package) { q.Name = "evil" }), keys: trusted, wantErr: new(*verify.HeaderMismatchError)},
		{name: "epoch differs", data: good, want: with(func(q *repodata.Package) { q.Epoch = "7" }), wantErr: new(*verify.HeaderMismatchError)},
		{name: "version", data: good, want: with(func(q *repodata.Package) { q.Version = "9" }), wantErr: new(*verify.HeaderMismatchError)},
		{name: "arch", data: good, want: with(func(q *repodata.Package) { q.Arch = "x86_64" }), wantErr: new(*verify.HeaderMismatchError)},
		{name: "source expected", data: good, want: with(func(q *repodata.Package) { q.Arch = "src" }), wantErr: new(*verify.HeaderMismatchError)},
		{name: "payload tampered, metadata to match", data: payloadFlipped, want: payloadMeta, keys: trusted, wantErr: new(*verify.CorruptError)},
		{name: "header tampered, metadata to match", data: headerFlipped, want: headerMeta, keys: trusted, wantErr: new(*verify.CorruptError)},
		{name: "signature tampered, metadata to match", data: sigFlipped, want: sigMeta, keys: trusted, wantErr: new(*verify.SignatureError), is: verify.ErrBadSignature},
		{name: "not an rpm", data: leadFlipped, want: leadMeta, wantErr: new(*verify.CorruptError)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := *tc.want
			want.Size = int64(len(tc.data))
			if tc.name == "truncated" || tc.name == "longer" {
				want.Size = int64(len(good))
			}
			res, err := verify.RPM(bytes.NewReader(tc.data), &want, tc.keys)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("RPM: %v", err)
				}
				if len(tc.keys) > 0 && len(res.Signatures) == 0 {
					t.Error("no signature reported")
				}
				return
			}
			if err == nil {
				t.Fatal("RPM accepted it")
			}
			if !errors.As(err, tc.wantErr) {
				t.Errorf("error %q (%T), want %T", err, err, tc.wantErr)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %q is not %v", err, tc.is)
			}
		})
	}
}

func TestReader(t *testing.T) {
	data := []byte("the quick brown fox")
	sum := sha256sum(data)
	for _, tc := range []struct {
		name    string
		size    int64
		sum     repodata.Checksum
		wantErr any
	}{
		{"match", int64(len(data)), sum, nil},
		{"unknown size", -1, sum, nil},
		{"short", int64(len(data)) + 1, sum, new(*verify.SizeError)},
		{"long", int64(len(data)) - 1, sum, new(*verify.SizeError)},
		{"digest", int64(len(data)), sha256sum([]byte("other")), new(*verify.ChecksumError)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := verify.Content(bytes.NewReader(data), tc.size, tc.sum)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.As(err, tc.wantErr) {
				t.Errorf("error %v (%T), want %T", err, err, tc.wantErr)
			}
		})
	}
	if _, err := verify.NewReader(bytes.NewReader(data), 1, repodata.Checksum{Type: "crc32", Value: "00"}); err == nil {
		t.Error("NewReader accepted an unknown checksum type")
	}
}

func TestLoadKeyring(t *testing.T) {
	dir := t.TempDir()
	pub, _ := os.ReadFile(filepath.Join("..", "testdata", "keys", "test.pub"))
	other, _ := os.ReadFile(filepath.Join("..", "testdata", "keys", "unknown.pub"))
	both := filepath.Join(dir, "both.asc")
	os.WriteFile(both, append(append(bytes.Clone(pub), '\n'), other...), 0o644)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o644)
	garbage := filepath.Join(dir, "garbage")
	os.WriteFile(garbage, []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnot base64 at all!\n-----END PGP PUBLIC KEY BLOCK-----\n"), 0o644)
	for _, tc := range []struct {
		name  string
		path  string
		keys  int
		error bool
	}{
		{"one", filepath.Join("..", "testdata", "keys", "test.pub"), 1, false},
		{"two blocks in one file", both, 2, false},
		{"empty", empty, 0, true},
		{"garbage", garbage, 0, true},
		{"missing", filepath.Join(dir, "nope"), 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := verify.LoadKeyring(tc.path)
			if tc.error {
				if err == nil {
					t.Fatal("no error")
				}
				if !bytes.Contains([]byte(err.Error()), []byte(tc.path)) {
					t.Errorf("error %q does not name the file", err)
				}
				return
			}
			if err != nil || len(keys) != tc.keys {
				t.Fatalf("got %d keys, %v; want %d", len(keys), err, tc.keys)
			}
		})
	}
}

// FuzzRPM feeds arbitrary bytes to RPM: it must return an error, never
// panic, whatever the bytes.
func FuzzRPM(f *testing.F) {
	_, files := demoPackages(f)
	for _, b := range files {
		f.Add(b[:min(len(b), 4096)])
		break
	}
	f.Add([]byte{0xed, 0xab, 0xee, 0xdb, 3, 0, 0, 0})
	keys := keyring(f, "test")
	f.Fuzz(func(t *testing.T, data []byte) {
		want := &repodata.Package{Name: "x", Epoch: "0", Version: "1", Release: "1", Arch: "noarch", Size: int64(len(data)), Checksum: sha256sum(data)}
		verify.RPM(bytes.NewReader(data), want, keys)
	})
}
