package checker

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Paths of the files at fixed names.
const (
	RepomdPath = "repodata/repomd.xml"
	AscPath    = RepomdPath + ".asc"
	KeyPath    = RepomdPath + ".key"
)

// Package is one package the primary metadata names.
type Package struct {
	Name, Epoch, Version, Release, Arch string
	Href                                string
	Size                                int64 // -1: not given
	SumType, Sum                        string
}

// NEVRA returns NAME-EPOCH:VERSION-RELEASE.ARCH, epoch 0 when none is
// given: what dnf repoquery prints with
// --qf '%{name}-%{epoch}:%{version}-%{release}.%{arch}'.
func (p Package) NEVRA() string {
	e := p.Epoch
	if e == "" {
		e = "0"
	}
	return fmt.Sprintf("%s-%s:%s-%s.%s", p.Name, e, p.Version, p.Release, p.Arch)
}

// Options say what else Check requires.
type Options struct {
	// KeyFiles are armored OpenPGP public keys. When any are given,
	// repodata/repomd.xml.asc must be present and be a valid signature
	// of repomd.xml by one of them. Without, an .asc that is present is
	// checked against the mirror's own repodata/repomd.xml.key.
	KeyFiles []string
}

// Report is what Check found.
type Report struct {
	Served   bool   // repodata/repomd.xml exists: the mirror serves a revision
	Repomd   []byte // its content
	Revision string
	Packages []Package // as primary lists them
	Problems []string  // empty when the mirror is consistent
}

// NEVRAs returns the sorted NEVRA of every package.
func (r *Report) NEVRAs() []string {
	s := make([]string, 0, len(r.Packages))
	for _, p := range r.Packages {
		s = append(s, p.NEVRA())
	}
	sort.Strings(s)
	return s
}

func (r *Report) problem(format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

type checksumXML struct {
	Type  string `xml:"type,attr"`
	Value string `xml:",chardata"`
}

type locationXML struct {
	Href string `xml:"href,attr"`
	Base string `xml:"base,attr"`
}

type repomdXML struct {
	XMLName  xml.Name `xml:"repomd"`
	Revision string   `xml:"revision"`
	Data     []struct {
		Type     string      `xml:"type,attr"`
		Checksum checksumXML `xml:"checksum"`
		Location locationXML `xml:"location"`
		Size     *int64      `xml:"size"`
	} `xml:"data"`
}

type packageXML struct {
	Name    string `xml:"name"`
	Arch    string `xml:"arch"`
	Version struct {
		Epoch string `xml:"epoch,attr"`
		Ver   string `xml:"ver,attr"`
		Rel   string `xml:"rel,attr"`
	} `xml:"version"`
	Checksum checksumXML `xml:"checksum"`
	Size     struct {
		Package *int64 `xml:"package,attr"`
	} `xml:"size"`
	Location locationXML `xml:"location"`
}

// Check checks the mirror in dir. A mirror without repodata/repomd.xml
// serves nothing and has no problems.
func Check(dir string, opts Options) *Report {
	r := &Report{}
	root, err := os.OpenRoot(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return r
	}
	if err != nil {
		r.problem("opening %s: %v", dir, err)
		return r
	}
	defer root.Close()
	raw, err := root.ReadFile(RepomdPath)
	if errors.Is(err, fs.ErrNotExist) {
		return r
	}
	r.Served, r.Repomd = true, raw
	if err != nil {
		r.problem("%s: %v", RepomdPath, err)
		return r
	}
	checkSignature(r, root, raw, opts.KeyFiles)
	var md repomdXML
	if err := xml.Unmarshal(raw, &md); err != nil {
		r.problem("%s: %v", RepomdPath, err)
		return r
	}
	r.Revision = md.Revision
	primary, primaryOK := "", false
	for _, d := range md.Data {
		href := d.Location.Href
		if d.Type == "primary" {
			primary = href
		}
		if !safe(r, "data "+d.Type, href, d.Location.Base) {
			continue
		}
		size := int64(-1)
		if d.Size != nil {
			size = *d.Size
		}
		if checkFile(r, root, href, size, d.Checksum) && d.Type == "primary" {
			primaryOK = true
		}
	}
	switch {
	case primary == "":
		r.problem("%s names no primary metadata", RepomdPath)
	case !primaryOK:
		r.problem("%s is not usable: packages not checked", primary)
	default:
		checkPrimary(r, root, primary)
	}
	return r
}

// safe reports whether href is a relative path that stays inside the
// mirror, and no xml:base sends clients elsewhere.
func safe(r *Report, what, href, base string) bool {
	switch {
	case base != "":
		r.problem("%s: %s has xml:base %q", what, href, base)
	case href == "" || !filepath.IsLocal(href) || strings.Contains(href, `\`) || filepath.Clean(href) != href:
		r.problem("%s: unsafe location %q", what, href)
	default:
		return true
	}
	return false
}

func newHash(typ string) hash.Hash {
	switch typ {
	case "sha", "sha1":
		return sha1.New()
	case "sha224":
		return sha256.New224()
	case "sha256":
		return sha256.New()
	case "sha384":
		return sha512.New384()
	case "sha512":
		return sha512.New()
	}
	return nil
}

// checkFile checks that href is a regular file of size bytes (any size
// when negative) with checksum sum, and reports whether it is.
func checkFile(r *Report, root *os.Root, href string, size int64, sum checksumXML) bool {
	h := newHash(sum.Type)
	if h == nil {
		r.problem("%s: unknown checksum type %q", href, sum.Type)
		return false
	}
	f, err := root.Open(href)
	if err != nil {
		r.problem("%s: %v", href, err)
		return false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		r.problem("%s: not a regular file", href)
		return false
	}
	if size >= 0 && fi.Size() != size {
		r.problem("%s: %d bytes, want %d", href, fi.Size(), size)
		return false
	}
	if _, err := io.Copy(h, f); err != nil {
		r.problem("%s: %v", href, err)
		return false
	}
	if got, want := hex.EncodeToString(h.Sum(nil)), strings.ToLower(strings.TrimSpace(sum.Value)); got != want {
		r.problem("%s: %s %s, want %s", href, sum.Type, got, want)
		return false
	}
	return true
}

// checkPrimary streams the primary metadata and checks every package.
func checkPrimary(r *Report, root *os.Root, href string) {
	f, err := root.Open(href)
	if err != nil {
		r.problem("%s: %v", href, err)
		return
	}
	defer f.Close()
	plain, closeFn, err := decompress(f)
	if err != nil {
		r.problem("%s: %v", href, err)
		return
	}
	defer closeFn()
	dec := xml.NewDecoder(plain)
	seen := map[string]bool{}
	declared := -1
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			r.problem("%s: %v", href, err)
			return
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch se.Name.Local {
		case "metadata":
			for _, a := range se.Attr {
				if a.Name.Local == "packages" {
					if declared, err = strconv.Atoi(a.Value); err != nil {
						r.problem("%s: packages=%q", href, a.Value)
					}
				}
			}
		case "package":
			var p packageXML
			if err := dec.DecodeElement(&p, &se); err != nil {
				r.problem("%s: %v", href, err)
				return
			}
			pkg := Package{Name: p.Name, Epoch: p.Version.Epoch, Version: p.Version.Ver, Release: p.Version.Rel, Arch: p.Arch,
				Href: p.Location.Href, Size: -1, SumType: p.Checksum.Type, Sum: p.Checksum.Value}
			if p.Size.Package != nil {
				pkg.Size = *p.Size.Package
			}
			r.Packages = append(r.Packages, pkg)
			if !safe(r, "package "+pkg.NEVRA(), pkg.Href, p.Location.Base) {
				continue
			}
			if seen[pkg.Href] {
				r.problem("%s: %s listed twice", href, pkg.Href)
				continue
			}
			seen[pkg.Href] = true
			checkFile(r, root, pkg.Href, pkg.Size, p.Checksum)
		}
	}
	if declared >= 0 && declared != len(r.Packages) {
		r.problem("%s: declares %d packages, lists %d", href, declared, len(r.Packages))
	}
}

// decompress recognises the compression of r by its first bytes.
func decompress(r io.Reader) (io.Reader, func(), error) {
	br := bufio.NewReader(r)
	magic, _ := br.Peek(6)
	nop := func() {}
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		return zr, nop, err
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		zr, err := xz.NewReader(br)
		return zr, nop, err
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, nop, err
		}
		return zr, zr.Close, nil
	case bytes.HasPrefix(magic, []byte("BZh")):
		return bzip2.NewReader(br), nop, nil
	}
	return br, nop, nil
}

// checkSignature checks repomd.xml.asc, when present, against keyFiles
// or else the mirror's own repomd.xml.key; with keyFiles it must be
// present.
func checkSignature(r *Report, root *os.Root, repomd []byte, keyFiles []string) {
	asc, err := root.ReadFile(AscPath)
	if errors.Is(err, fs.ErrNotExist) {
		if len(keyFiles) > 0 {
			r.problem("%s: missing", AscPath)
		}
		return
	}
	if err != nil {
		r.problem("%s: %v", AscPath, err)
		return
	}
	var keys [][]byte
	for _, k := range keyFiles {
		b, err := os.ReadFile(k)
		if err != nil {
			r.problem("reading key %s: %v", k, err)
			return
		}
		keys = append(keys, b)
	}
	if len(keys) == 0 {
		b, err := root.ReadFile(KeyPath)
		if err != nil {
			r.problem("%s is present but %s is not: %v", AscPath, KeyPath, err)
			return
		}
		keys = append(keys, b)
	}
	var ring openpgp.EntityList
	for _, k := range keys {
		el, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(k))
		if err != nil {
			r.problem("reading key: %v", err)
			return
		}
		ring = append(ring, el...)
	}
	if _, err := openpgp.CheckArmoredDetachedSignature(ring, bytes.NewReader(repomd), bytes.NewReader(asc), nil); err != nil {
		r.problem("%s does not verify %s: %v", AscPath, RepomdPath, err)
	}
}
