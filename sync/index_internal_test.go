package sync

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadIndexAllocations: an index is read into one string of its size
// and its entries cut from it, not a string made for each line from a
// buffer grown by doubling (issue 10's small syncs: the index of a
// 1000-package mirror touched three times its size in fresh memory).
// The entries read are the ones written, and a malformed line or another
// revision's index is still refused.
func TestReadIndexAllocations(t *testing.T) {
	dir := t.TempDir()
	digest := strings.Repeat("ab", 32)
	var b strings.Builder
	b.WriteString(indexMagic + digest + "\n")
	want := map[string]string{}
	for i := range 1000 {
		href := fmt.Sprintf("Packages/p/pkg-%05d-1.0-1.noarch.rpm", i)
		sum := fmt.Sprintf("sha256:%064x", i)
		want[href] = sum
		fmt.Fprintf(&b, "%s\t%s\n", href, sum)
	}
	if err := os.WriteFile(filepath.Join(dir, "m.idx"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	idx, err := readIndex(dir, "m.idx", digest)
	if err != nil {
		t.Fatal(err)
	}
	if len(idx) != len(want) {
		t.Fatalf("%d entries, want %d", len(idx), len(want))
	}
	for href, sum := range want {
		if idx[href] != sum {
			t.Fatalf("%s: %q, want %q", href, idx[href], sum)
		}
	}
	allocs := testing.AllocsPerRun(5, func() {
		if _, err := readIndex(dir, "m.idx", digest); err != nil {
			t.Fatal(err)
		}
	})
	// The map's tables and the file's string and handle: a few dozen;
	// a string for each of the 1000 lines is over a thousand.
	if allocs > 100 {
		t.Errorf("reading an index of 1000 packages: %.0f allocations, want at most 100", allocs)
	}

	for _, tc := range []struct{ name, content, digest string }{
		{"another revision", indexMagic + digest + "\n", strings.Repeat("cd", 32)},
		{"malformed line", indexMagic + digest + "\nno tab here\n", digest},
		{"empty", "", digest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(dir, "bad.idx"), []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			if idx, err := readIndex(dir, "bad.idx", tc.digest); err == nil {
				t.Errorf("read %d entries, want an error", len(idx))
			}
		})
	}
}
