package sync

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"

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
//	<href>\t<type:checksum>\t<size> <nevra> <keys>
//	...
//
// The third field records what the package was verified against besides
// its bytes (claims): the size its primary entry gave, a digest of the
// NEVRA it gave (appendClaims), and the keyring that checked its
// signature (keysID: "-" for none). A later
// revision naming the same bytes with other claims (a primary that lies
// about a file the mirror keeps), or a sync with another keyring
// (gpgkeys rotated, or turned on), checks the file again before it is
// kept, as a fresh mirror's download would be. Lines written before
// rpmirror recorded claims have two fields; their packages are kept on
// their checksum alone.

const indexMagic = "rpmirror-index 1 "

// indexSum returns the checksum ("type:hex") of an index entry's value.
func indexSum(v string) string {
	if i := strings.IndexByte(v, '\t'); i >= 0 {
		return v[:i]
	}
	return v
}

// claimsMatch reports whether the index entry's value v records the
// claims of p checked with the keyring keys (keysID), or records none (an
// entry from before claims were recorded).
func claimsMatch(v string, p *repodata.Package, keys string) bool {
	i := strings.IndexByte(v, '\t')
	if i < 0 {
		return true
	}
	var buf [64]byte
	return v[i+1:] == string(appendClaims(buf[:0], p, keys))
}

// appendClaims appends the claims of p checked with the keyring keys:
// "<size> <nevra> <keys>", where nevra is the first 16 bytes of the
// SHA-256 of name, epoch, version, release and arch, each ended by a NUL,
// in hex. Hashed, the fields can hold nothing that breaks a line or
// reads as another field (a release "1.el9" and an arch "x86_64" are not
// a release "1" and an arch "el9.x86_64").
func appendClaims(b []byte, p *repodata.Package, keys string) []byte {
	epoch := p.Epoch
	if epoch == "" {
		epoch = "0"
	}
	// The fields in a buffer on the stack (a plan hashes one NEVRA a
	// package: no allocation for it).
	var buf [256]byte
	fields := buf[:0]
	for _, f := range [...]string{p.Name, epoch, p.Version, p.Release, p.Arch} {
		fields = append(append(fields, f...), 0)
	}
	sum := sha256.Sum256(fields)
	b = strconv.AppendInt(b, p.Size, 10)
	b = append(b, ' ')
	b = hex.AppendEncode(b, sum[:16])
	b = append(b, ' ')
	return append(b, keys...)
}

// IndexLine is the line (without its end) the index of a revision
// published with gpgkeys keyring records for package p: its location,
// checksum and claims. For tools that make an index as a sync would
// (benchgen's stand-in for a publish).
func IndexLine(p *repodata.Package, keyring openpgp.EntityList) string {
	b := append([]byte(p.Href+"\t"+p.Checksum.Type+":"+p.Checksum.Value+"\t"), appendClaims(nil, p, keysID(keyring))...)
	return string(b)
}

// keysID names a keyring in an index's claims: "-" for none (signatures
// not checked), otherwise the first 16 hex digits of the SHA-256 of its
// keys as they serialize, sorted: every key with its subkeys, signatures
// and revocations, so that any change to gpgkeys that could change a
// signature check (a key removed or added, a revocation certificate
// added to a key's file, a subkey added) changes it.
func keysID(keyring openpgp.EntityList) string {
	if len(keyring) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(keyring))
	for _, e := range keyring {
		var b bytes.Buffer
		if err := e.Serialize(&b); err != nil {
			// Not serializable: named by a fingerprint, and marked so
			// that it never matches another keyring's name.
			b.Reset()
			b.WriteString("unserializable ")
			if e.PrimaryKey != nil {
				b.WriteString(hex.EncodeToString(e.PrimaryKey.Fingerprint))
			}
		}
		keys = append(keys, b.String())
	}
	slices.Sort(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%d\n", len(k))
		io.WriteString(h, k)
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// indexWriter writes a revision's index while its primary is planned.
type indexWriter struct {
	path string
	f    *os.File
	w    *bufio.Writer
	buf  []byte // a line's claims, reused
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

// add records one package, with its claims as checked with the keyring
// keys (keysID). Hrefs have passed target.CheckPath and checksums are
// hex, so no field holds a tab or a line's end; the NEVRA is hashed
// (appendClaims).
func (iw *indexWriter) add(p *repodata.Package, keys string) error {
	if strings.ContainsAny(p.Href, "\t\n") || strings.ContainsAny(p.Checksum.Type, "\t\n") {
		return fmt.Errorf("index: %q: a location or checksum type with a tab or a line's end", p.Href)
	}
	iw.w.WriteString(p.Href)
	iw.w.WriteByte('\t')
	iw.w.WriteString(p.Checksum.Type)
	iw.w.WriteByte(':')
	iw.w.WriteString(p.Checksum.Value)
	iw.w.WriteByte('\t')
	iw.buf = appendClaims(iw.buf[:0], p, keys)
	iw.w.Write(iw.buf)
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
	return checksumsOnly(readIndex(store.Dir(), rel, digest))
}

// checksumsOnly leaves of each entry of an index its checksum
// ("type:hex"), without the claims: what the daemon compares between
// revisions.
func checksumsOnly(idx map[string]string, err error) (map[string]string, error) {
	for k, v := range idx {
		idx[k] = indexSum(v)
	}
	return idx, err
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
	return checksumsOnly(readIndex(store.Dir(), rel, digest))
}
