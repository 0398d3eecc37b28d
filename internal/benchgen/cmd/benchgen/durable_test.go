package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestDurableCost: benchgen durable writes each file's bytes into the
// directory and renames a new repomd.xml into place, leaving nothing
// staged; it refuses a directory that exists (a run must not count
// someone else's files).
func TestDurableCost(t *testing.T) {
	src := t.TempDir()
	var files []string
	for i, content := range []string{"first file", "second file, longer"} {
		p := filepath.Join(src, []string{"a.rpm", "b.xml.gz"}[i])
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	dir := filepath.Join(t.TempDir(), "out")
	d, err := durableCost(dir, files)
	if err != nil {
		t.Fatal(err)
	}
	if d <= 0 {
		t.Errorf("durableCost took %v", d)
	}
	for i, want := range []string{"first file", "second file, longer"} {
		b, err := os.ReadFile(filepath.Join(dir, []string{"0", "1"}[i]))
		if err != nil || string(b) != want {
			t.Errorf("file %d: %q, %v; want %q", i, b, err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "repomd.xml")); err != nil {
		t.Errorf("no repomd.xml committed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".repomd.xml.tmp")); err == nil {
		t.Errorf("the staged repomd.xml is left behind")
	}
	if _, err := durableCost(dir, files); err == nil {
		t.Errorf("durableCost into a directory that exists did not fail")
	}
}
