package sync

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestIndexRoundTrip(t *testing.T) {
	dir := t.TempDir()
	iw, err := newIndexWriter(dir, "index.tmp")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"Packages/a/a-1.rpm": "sha256:aa", "Packages/b/b 2.rpm": "sha1:bb"}
	for _, h := range []string{"Packages/a/a-1.rpm", "Packages/b/b 2.rpm"} {
		iw.add(h, want[h])
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
