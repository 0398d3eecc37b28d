package sync

import (
	"bufio"
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
	return &indexWriter{path: f.Name(), f: f, w: bufio.NewWriterSize(f, 64<<10)}, nil
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
		if _, err := io.WriteString(out, indexMagic+digest+"\n"); err != nil {
			return err
		}
		// out is a file: the kernel copies (copy_file_range), with no
		// buffer of ours.
		_, err := io.Copy(out, in)
		return err
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
// sha256 is digest. The file is read into one string of its size, which
// the entries are cut from: reading it by doubling a buffer and making a
// string of each line touched three times its size in fresh memory (a
// page first touched is what a small sync spends most on after its
// downloads).
func readIndex(root, rel, digest string) (map[string]string, error) {
	path := filepath.Join(root, rel)
	f, err := safefs.OpenFile(root, rel, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var sb strings.Builder
	if fi, err := f.Stat(); err == nil && fi.Size() > 0 {
		sb.Grow(int(fi.Size()) + 1) // one more, to see the end without growing
	}
	if _, err := io.Copy(&sb, f); err != nil {
		return nil, err
	}
	return parseIndexString(sb.String(), path, digest)
}

// parseIndex parses the index b, named name in errors, if it describes
// the repomd.xml whose sha256 is digest.
func parseIndex(b []byte, name, digest string) (map[string]string, error) {
	return parseIndexString(string(b), name, digest)
}

// parseIndexString is parseIndex of a string: the entries are substrings
// of s, with no string made for each.
func parseIndexString(s, name, digest string) (map[string]string, error) {
	first, rest, ok := strings.Cut(s, "\n")
	if !ok || first != indexMagic+digest {
		return nil, fmt.Errorf("%s describes another revision", name)
	}
	idx := make(map[string]string, strings.Count(rest, "\n"))
	for len(rest) > 0 {
		var line string
		line, rest, _ = strings.Cut(rest, "\n")
		href, sum, ok := strings.Cut(line, "\t")
		if !ok {
			return nil, fmt.Errorf("%s: malformed line %q", name, line)
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

// ReadVerifiedIndex returns the packages (href -> "type:hex") of the
// current verified revision of repo, whose repomd.xml has the hex sha256
// digest, as the sync that verified it recorded them for a repository
// with no written mirror (state.Store.VerifiedIndexPath).
func ReadVerifiedIndex(store *state.Store, repo, digest string) (map[string]string, error) {
	rel, err := filepath.Rel(store.Dir(), store.VerifiedIndexPath(repo))
	if err != nil {
		return nil, err
	}
	return readIndex(store.Dir(), rel, digest)
}
