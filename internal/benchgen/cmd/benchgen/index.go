package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/rpmirror/rpmirror/repodata"
	"github.com/rpmirror/rpmirror/sync"
)

// writeIndex writes, at path, the index rpmirror keeps in state_dir of a
// mirror it published (sync/index.go: a line naming the sha256 of the
// repomd.xml it describes, then one line of location and checksum per
// package), for the repository under dir. It stands in for the sync that
// would have published a synthetic revision whose packages do not exist:
// the scale benchmark's mirror behind by one revision is then what a
// mirror rpmirror maintains is, not a directory it has never seen. With
// files, each package is made in dir too, at its location, a sparse file
// of its declared size: a sync lists the mirror it publishes to (a
// package deleted by hand is put back), and finds them there.
func writeIndex(dir, path string, files bool) error {
	repomd, err := os.ReadFile(filepath.Join(dir, "repodata", "repomd.xml"))
	if err != nil {
		return err
	}
	md, err := repodata.ParseRepomd(repomd)
	if err != nil {
		return err
	}
	d, ok := md.Find("primary")
	if !ok {
		return errors.New("repomd.xml lists no primary")
	}
	f, err := os.Open(filepath.Join(dir, filepath.FromSlash(d.Href)))
	if err != nil {
		return err
	}
	defer f.Close()
	dr, err := repodata.Decompress(f, d.Href)
	if err != nil {
		return err
	}
	defer dr.Close()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(out, 256<<10)
	sum := sha256.Sum256(repomd)
	fmt.Fprintf(w, "rpmirror-index 1 %s\n", hex.EncodeToString(sum[:]))
	pr := repodata.NewPrimaryReader(dr)
	for {
		p, err := pr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			out.Close()
			return fmt.Errorf("%s: %w", d.Href, err)
		}
		if files {
			if err := sparseFile(filepath.Join(dir, filepath.FromSlash(p.Href)), p.Size); err != nil {
				out.Close()
				return err
			}
		}
		// As a sync without gpgkeys records it (the benchmarks' have none).
		w.WriteString(sync.IndexLine(p, nil))
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// sparseFile makes the file at p, size bytes long, of holes.
func sparseFile(p string, size int64) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		f, err = os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	}
	if err != nil {
		return err
	}
	if err := f.Truncate(max(size, 0)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
