package local

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rpmirror/rpmirror/target"
	"github.com/rpmirror/rpmirror/target/targettest"
)

func TestConformance(t *testing.T) {
	targettest.Run(t, func(t *testing.T) target.Target {
		l, err := New(filepath.Join(t.TempDir(), "mirror"))
		if err != nil {
			t.Fatal(err)
		}
		return l
	})
}

func TestSymlinkedDirectoryIsNotFollowed(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	os.Mkdir(outside, 0o755)
	l, err := New(filepath.Join(base, "mirror"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(l.Root(), "Packages")); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(base, "src")
	os.WriteFile(src, []byte("x"), 0o644)
	for name, op := range map[string]func() error{
		"Put": func() error { return l.Put(ctx, target.File{Path: "Packages/evil.rpm", Local: src, Size: 1}) },
		"Commit": func() error {
			return l.Commit(ctx, []target.File{{Path: "Packages/evil.rpm", Local: src, Size: 1}}, nil)
		},
	} {
		if err := op(); err == nil {
			t.Errorf("%s through a symlinked directory succeeded", name)
		}
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Errorf("a file was written outside the mirror: %v", ents)
	}
	if _, err := l.Stat(ctx, "Packages/evil.rpm"); err == nil {
		t.Error("Stat through a symlinked directory succeeded")
	}
}

// TestCommitIsAtomic reads the two metadata files through one directory
// handle, as a web server resolving paths at one moment would, while
// commits replace both: every pair read must come from one generation.
func TestCommitIsAtomic(t *testing.T) {
	ctx := context.Background()
	l, err := New(filepath.Join(t.TempDir(), "mirror"))
	if err != nil {
		t.Fatal(err)
	}
	srcDir := t.TempDir()
	commit := func(gen int) {
		var files []target.File
		for _, name := range []string{"repomd.xml", "primary.xml"} {
			p := filepath.Join(srcDir, fmt.Sprintf("%s.%d", name, gen))
			c := fmt.Sprintf("gen %d", gen)
			os.WriteFile(p, []byte(c), 0o644)
			files = append(files, target.File{Path: "repodata/" + name, Local: p, Size: int64(len(c))})
		}
		if err := l.Commit(ctx, files, nil); err != nil {
			t.Errorf("Commit gen %d: %v", gen, err)
		}
	}
	commit(0)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var checked, mixed int
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 64)
		read := func(dfd int, name string) string {
			fd, err := unix.Openat(dfd, name, unix.O_RDONLY, 0)
			if err != nil {
				return "missing: " + err.Error()
			}
			defer unix.Close(fd)
			n, _ := unix.Read(fd, buf)
			return string(buf[:n])
		}
		for {
			select {
			case <-stop:
				return
			default:
			}
			dfd, err := unix.Open(filepath.Join(l.Root(), "repodata"), unix.O_RDONLY|unix.O_DIRECTORY, 0)
			if err != nil {
				mixed++
				continue
			}
			a, b := read(dfd, "repomd.xml"), read(dfd, "primary.xml")
			unix.Close(dfd)
			checked++
			if a != b {
				mixed++
				t.Errorf("read %q with %q", a, b)
			}
		}
	}()
	for gen := 1; gen <= 200; gen++ {
		commit(gen)
	}
	close(stop)
	wg.Wait()
	if mixed > 0 || checked == 0 {
		t.Fatalf("%d of %d reads saw a mix of generations", mixed, checked)
	}
}
