package fetch_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/fetch"
)

// TestCheckFile: CheckFile accepts a regular file of the size given that
// the check accepts, and refuses the rest at once: a symlink (not
// followed), a FIFO (not waited on: a reviewer's, it hung), a directory,
// another size, what the check refuses, nothing there.
func TestCheckFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(file, link); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	bad := errors.New("not the file")
	accept := func(r io.Reader) error {
		b, err := io.ReadAll(r)
		if err == nil && string(b) != "0123456789" {
			return bad
		}
		return err
	}
	for _, tc := range []struct {
		name  string
		path  string
		size  int64
		check fetch.Check
		ok    bool
	}{
		{"the file", file, 10, accept, true},
		{"any size", file, 0, accept, true},
		{"another size", file, 11, accept, false},
		{"refused by the check", file, 10, func(io.Reader) error { return bad }, false},
		{"a symlink", link, 10, accept, false},
		{"a FIFO", fifo, 10, accept, false},
		{"a directory", dir, 0, accept, false},
		{"nothing there", filepath.Join(dir, "none"), 10, accept, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() { done <- fetch.CheckFile(tc.path, tc.size, tc.check) }()
			select {
			case err := <-done:
				if (err == nil) != tc.ok {
					t.Errorf("CheckFile: %v, want ok %v", err, tc.ok)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("CheckFile did not return")
			}
		})
	}
}
