package sync

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/repodata"
	"github.com/rpmirror/rpmirror/verify"
)

func TestIndexRoundTrip(t *testing.T) {
	dir := t.TempDir()
	iw, err := newIndexWriter(dir, "index.tmp")
	if err != nil {
		t.Fatal(err)
	}
	pkgs := []*repodata.Package{
		{Href: "Packages/a/a-1.rpm", Checksum: repodata.Checksum{Type: "sha256", Value: "aa"}, Size: 10, Name: "a", Version: "1", Release: "1", Arch: "noarch"},
		{Href: "Packages/b/b 2.rpm", Checksum: repodata.Checksum{Type: "sha1", Value: "bb"}, Size: -1, Name: "b", Epoch: "2", Version: "2", Release: "1.el9", Arch: "x86_64"},
	}
	want := map[string]string{"Packages/a/a-1.rpm": "sha256:aa\t10 a-0:1-1.noarch -", "Packages/b/b 2.rpm": "sha1:bb\t-1 b-2:2-1.el9.x86_64 -"}
	for _, p := range pkgs {
		iw.add(p, "-")
	}
	src, err := iw.finish()
	if err != nil {
		t.Fatal(err)
	}
	rel := filepath.Join("index", "repo", "m.idx")
	dst := filepath.Join(dir, rel)
	if err := saveIndex(src, dir, rel, "d1"); err != nil {
		t.Fatal(err)
	}
	got, err := readIndex(dir, rel, "d1")
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("readIndex = %q, %v; want %q", got, err, want)
	}
	for _, p := range pkgs {
		if v := got[p.Href]; !isChecksum(v, p.Checksum) || !claimsMatch(v, p, "-") {
			t.Errorf("%s: entry %q does not give back its checksum and claims", p.Href, v)
		}
	}
	if sums, _ := checksumsOnly(readIndex(dir, rel, "d1")); !reflect.DeepEqual(sums, map[string]string{"Packages/a/a-1.rpm": "sha256:aa", "Packages/b/b 2.rpm": "sha1:bb"}) {
		t.Errorf("checksumsOnly = %q", sums)
	}
	if _, err := readIndex(dir, rel, "d2"); err == nil {
		t.Error("an index of another revision was accepted")
	}
	os.WriteFile(dst, []byte(indexMagic+"d1\nno tab here\n"), 0o644)
	if _, err := readIndex(dir, rel, "d1"); err == nil {
		t.Error("a malformed index was accepted")
	}
}

// TestClaimsMatch: an index entry's claims (size, NEVRA, keyring) match a
// package's only when each is the same; an entry without claims (written
// before they were recorded) matches any.
func TestClaimsMatch(t *testing.T) {
	p := &repodata.Package{Size: 39614, Name: "beta", Epoch: "", Version: "1.0", Release: "2", Arch: "noarch"}
	const v = "sha256:aa\t39614 beta-0:1.0-2.noarch 0123456789abcdef"
	for _, tc := range []struct {
		name string
		v    string
		p    repodata.Package
		keys string
		want bool
	}{
		{"the same", v, *p, "0123456789abcdef", true},
		{"epoch written", v, func() repodata.Package { q := *p; q.Epoch = "0"; return q }(), "0123456789abcdef", true},
		{"no claims recorded", "sha256:aa", *p, "0123456789abcdef", true},
		{"another size", v, func() repodata.Package { q := *p; q.Size = 39615; return q }(), "0123456789abcdef", false},
		{"a size that begins the same", v, func() repodata.Package { q := *p; q.Size = 3961; return q }(), "0123456789abcdef", false},
		{"another name", v, func() repodata.Package { q := *p; q.Name = "zeta"; return q }(), "0123456789abcdef", false},
		{"another epoch", v, func() repodata.Package { q := *p; q.Epoch = "1"; return q }(), "0123456789abcdef", false},
		{"another arch", v, func() repodata.Package { q := *p; q.Arch = "x86_64"; return q }(), "0123456789abcdef", false},
		{"another keyring", v, *p, "fedcba9876543210", false},
		{"no keyring now", v, *p, "-", false},
		{"truncated", "sha256:aa\t39614 beta-0:1.0", *p, "0123456789abcdef", false},
		{"empty claims", "sha256:aa\t", *p, "0123456789abcdef", false},
	} {
		if got := claimsMatch(tc.v, &tc.p, tc.keys); got != tc.want {
			t.Errorf("%s: claimsMatch(%q, %s) = %t, want %t", tc.name, tc.v, tc.p.NEVRA(), got, tc.want)
		}
	}
}

// TestKeysID: the keyring's name in claims is "-" without keys, the same
// for the same keys in any order, and another for another set.
func TestKeysID(t *testing.T) {
	a, err := verify.LoadKeyring(testrepo.Testdata(t, "keys", "test.pub"))
	if err != nil {
		t.Fatal(err)
	}
	b := testrepo.UnknownKey(t)
	kb, err := verify.LoadKeyring(b.PublicPath)
	if err != nil {
		t.Fatal(err)
	}
	ab := append(append(openpgp.EntityList{}, a...), kb...)
	ba := append(append(openpgp.EntityList{}, kb...), a...)
	if got := keysID(nil); got != "-" {
		t.Errorf("keysID(none) = %q", got)
	}
	if keysID(ab) != keysID(ba) || keysID(ab) == keysID(a) || keysID(a) == keysID(kb) || len(keysID(a)) != 16 {
		t.Errorf("keysID: a %s, b %s, ab %s, ba %s", keysID(a), keysID(kb), keysID(ab), keysID(ba))
	}
}

// TestIsChecksum: a checksum in an index ("type:value") is compared with
// a package's without making its string.
func TestIsChecksum(t *testing.T) {
	c := repodata.Checksum{Type: "sha256", Value: "ab"}
	for _, tc := range []struct {
		sum  string
		want bool
	}{
		{"sha256:ab", true},
		{"sha256:ac", false},
		{"sha256:abc", false},
		{"sha1:ab", false},
		{"sha256ab", false},
		{"sha256::b", false},
		{"sha25:6ab", false},
		{"", false},
	} {
		if got := isChecksum(tc.sum, c); got != tc.want {
			t.Errorf("isChecksum(%q, %v) = %v", tc.sum, c, got)
		}
	}
}
