package sync

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/rpmirror/rpmirror/repodata"
)

func TestIndexRoundTrip(t *testing.T) {
	dir := t.TempDir()
	iw, err := newIndexWriter(dir, "index.tmp")
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string]repodata.Checksum{"Packages/a/a-1.rpm": {Type: "sha256", Value: "aa"}, "Packages/b/b 2.rpm": {Type: "sha1", Value: "bb"}}
	want := map[string]string{"Packages/a/a-1.rpm": "sha256:aa", "Packages/b/b 2.rpm": "sha1:bb"}
	for _, h := range []string{"Packages/a/a-1.rpm", "Packages/b/b 2.rpm"} {
		iw.add(h, sums[h])
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
		t.Fatalf("readIndex = %v, %v; want %v", got, err, want)
	}
	if _, err := readIndex(dir, rel, "d2"); err == nil {
		t.Error("an index of another revision was accepted")
	}
	os.WriteFile(dst, []byte(indexMagic+"d1\nno tab here\n"), 0o644)
	if _, err := readIndex(dir, rel, "d1"); err == nil {
		t.Error("a malformed index was accepted")
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
