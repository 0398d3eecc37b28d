package demo

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestEmbeddedKeyIsTheTestKey(t *testing.T) {
	want, err := os.ReadFile(filepath.Join("..", "..", "testdata", "keys", "test.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(Key(), want) {
		t.Error("internal/demo/RPM-GPG-KEY-rpmirror-test differs from testdata/keys/test.pub")
	}
}

func TestRevisions(t *testing.T) {
	for _, rev := range []string{"v1", "v2"} {
		fsys, err := Revision(rev)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"repodata/repomd.xml", "repodata/repomd.xml.asc", "repodata/repomd.xml.key"} {
			if _, err := fs.Stat(fsys, p); err != nil {
				t.Errorf("%s: %v", rev, err)
			}
		}
	}
}
