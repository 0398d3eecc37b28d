package sync

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

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
	want := map[string]string{}
	for _, p := range pkgs {
		want[p.Href] = p.Checksum.Type + ":" + p.Checksum.Value + "\t" + string(appendClaims(nil, p, "-"))
	}
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
// package's only when each is the same, however its fields split the
// NEVRA; an entry without claims (written before they were recorded)
// matches any; a NEVRA holding a line's end or a tab cannot add a line or
// a field to the index.
func TestClaimsMatch(t *testing.T) {
	p := repodata.Package{Href: "Packages/b/beta-1.0-2.noarch.rpm", Checksum: repodata.Checksum{Type: "sha256", Value: "aa"}, Size: 39614, Name: "beta", Version: "1.0", Release: "2.el9", Arch: "noarch"}
	const keys = "0123456789abcdef"
	v := "sha256:aa\t" + string(appendClaims(nil, &p, keys))
	with := func(edit func(q *repodata.Package)) repodata.Package { q := p; edit(&q); return q }
	for _, tc := range []struct {
		name string
		v    string
		p    repodata.Package
		keys string
		want bool
	}{
		{"the same", v, p, keys, true},
		{"epoch written", v, with(func(q *repodata.Package) { q.Epoch = "0" }), keys, true},
		{"no claims recorded", "sha256:aa", p, keys, true},
		{"another size", v, with(func(q *repodata.Package) { q.Size = 39615 }), keys, false},
		{"a size that begins the same", v, with(func(q *repodata.Package) { q.Size = 3961 }), keys, false},
		{"another name", v, with(func(q *repodata.Package) { q.Name = "zeta" }), keys, false},
		{"another epoch", v, with(func(q *repodata.Package) { q.Epoch = "1" }), keys, false},
		{"another arch", v, with(func(q *repodata.Package) { q.Arch = "x86_64" }), keys, false},
		{"the release's end moved into the arch", v, with(func(q *repodata.Package) { q.Release, q.Arch = "2", "el9.noarch" }), keys, false},
		{"another keyring", v, p, "fedcba9876543210", false},
		{"no keyring now", v, p, "-", false},
		{"truncated", v[:len(v)-3], p, keys, false},
		{"empty claims", "sha256:aa\t", p, keys, false},
	} {
		if got := claimsMatch(tc.v, &tc.p, tc.keys); got != tc.want {
			t.Errorf("%s: claimsMatch(%q, %s) = %t, want %t", tc.name, tc.v, tc.p.NEVRA(), got, tc.want)
		}
	}

	// A name with a line's end and a tab, as the primary reader lets
	// through (&#10; and &#9;): one line, three fields.
	dir := t.TempDir()
	iw, err := newIndexWriter(dir, "index.tmp")
	if err != nil {
		t.Fatal(err)
	}
	evil := with(func(q *repodata.Package) { q.Name = "tiny\nsnapshots/s1/Packages/victim.rpm\tsha256:bb" })
	if err := iw.add(&evil, keys); err != nil {
		t.Fatal(err)
	}
	src, err := iw.finish()
	if err != nil {
		t.Fatal(err)
	}
	if err := saveIndex(src, dir, "m.idx", "d1"); err != nil {
		t.Fatal(err)
	}
	got, err := readIndex(dir, "m.idx", "d1")
	if err != nil || len(got) != 1 || strings.Count(got[p.Href], "\t") != 1 {
		t.Errorf("the index of one package whose name holds a line's end and a tab: %q, %v; want one entry of two fields", got, err)
	}
}

// TestKeysID: the keyring's name in claims is "-" without keys, the same
// for the same keys in any order, and another for another set, or for
// the same key revoked (a revocation certificate added to its file).
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
	f, err := os.Open(testrepo.Testdata(t, "keys", "test.sec"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sec, err := openpgp.ReadArmoredKeyRing(f)
	if err != nil {
		t.Fatal(err)
	}
	before := keysID(sec)
	if err := sec[0].RevokeKey(packet.KeyCompromised, "compromised", nil); err != nil {
		t.Fatal(err)
	}
	if after := keysID(sec); after == before {
		t.Errorf("keysID of a key and of the same key revoked: both %s", after)
	}
}
