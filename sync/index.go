package sync

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/rpmirror/rpmirror/internal/safefs"
	"github.com/rpmirror/rpmirror/repodata"
	"github.com/rpmirror/rpmirror/state"
)

// The index of a published revision: what the mirror serves, so that the
// next sync can tell what it already has without parsing the mirror's
// primary metadata again. It lives in state_dir (trusted), one file per
// mirror, and says which repomd.xml it describes: a sync uses it only
// while the mirror serves exactly that repomd.xml.
//
//	rpmirror-index 1 <sha256 of repomd.xml>
//	<href>\t<type:checksum>
//	...

const indexMagic = "rpmirror-index 1 "

// indexWriter writes a revision's index while its primary is planned.
type indexWriter struct {
	path string
	f    *os.File
	w    *bufio.Writer
}

// newIndexWriter creates the index file name in dir, a directory of
// rpmirror's own (the download cache).
func newIndexWriter(dir, name string) (*indexWriter, error) {
	f, err := safefs.OpenFile(dir, name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	return &indexWriter{path: f.Name(), f: f, w: bufio.NewWriterSize(f, 256<<10)}, nil
}

// add records one package. Hrefs have passed target.CheckPath, so they
// hold no tab or newline.
func (iw *indexWriter) add(href string, sum repodata.Checksum) error {
	iw.w.WriteString(href)
	iw.w.WriteByte('\t')
	iw.w.WriteString(sum.Type)
	iw.w.WriteByte(':')
	iw.w.WriteString(sum.Value)
	return iw.w.WriteByte('\n')
}

// finish closes the file and returns its path.
func (iw *indexWriter) finish() (string, error) {
	err := iw.w.Flush()
	if cerr := iw.f.Close(); err == nil {
		err = cerr
	}
	iw.f = nil
	return iw.path, err
}

// abort removes an unfinished index.
func (iw *indexWriter) abort() {
	if iw.f != nil {
		iw.f.Close()
		os.Remove(iw.path)
	}
}

// saveIndex stores the index at src as the index of a mirror serving the
// repomd.xml whose sha256 is digest, atomically, at rel below root (the
// state directory).
func saveIndex(src, root, rel, digest string) error {
	if src == "" {
		return errors.New("no index was written")
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return safefs.WriteAtomic(root, rel, 0o644, func(out io.Writer) error {
		w := bufio.NewWriterSize(out, 256<<10)
		w.WriteString(indexMagic + digest + "\n")
		if _, err := io.Copy(w, in); err != nil {
			return err
		}
		return w.Flush()
	})
}

// indexDescribes reports whether the index at rel under root describes
// the repomd.xml whose sha256 is digest, reading only its first line.
func indexDescribes(root, rel, digest string) bool {
	f, err := safefs.OpenFile(root, rel, os.O_RDONLY, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	want := indexMagic + digest + "\n"
	b := make([]byte, len(want))
	_, err = io.ReadFull(f, b)
	return err == nil && string(b) == want
}

// readIndex reads the index at path if it describes the repomd.xml whose
// sha256 is digest.
func readIndex(root, rel, digest string) (map[string]string, error) {
	path := filepath.Join(root, rel)
	f, err := safefs.OpenFile(root, rel, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		return nil, err
	}
	return parseIndex(b, path, digest)
}

// parseIndex parses the index b, named name in errors, if it describes
// the repomd.xml whose sha256 is digest.
func parseIndex(b []byte, name, digest string) (map[string]string, error) {
	path := name
	first, rest, ok := bytes.Cut(b, []byte("\n"))
	if !ok || string(first) != indexMagic+digest {
		return nil, fmt.Errorf("%s describes another revision", path)
	}
	idx := make(map[string]string, bytes.Count(rest, []byte("\n")))
	for len(rest) > 0 {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte("\n"))
		href, sum, ok := strings.Cut(string(line), "\t")
		if !ok {
			return nil, fmt.Errorf("%s: malformed line %q", path, line)
		}
		idx[href] = sum
	}
	return idx, nil
}

// ReadIndex returns the packages of the revision whose repomd.xml has
// the hex sha256 digest, as the last sync that published it to mirror
// recorded them (href -> "type:hex" checksum), or an error when the index
// describes another revision or cannot be read. The daemon uses it to
// know which files each revision holds, for redirects.
func ReadIndex(store *state.Store, repo, mirror, digest string) (map[string]string, error) {
	rel, err := filepath.Rel(store.Dir(), store.IndexPath(repo, mirror))
	if err != nil {
		return nil, err
	}
	return readIndex(store.Dir(), rel, digest)
}
