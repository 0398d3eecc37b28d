package repodata

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
)

// Package is one <package> of primary.xml, reduced to what a mirror needs.
type Package struct {
	Name    string
	Arch    string // "x86_64", "noarch", "src", ...
	Epoch   string // "0" when absent
	Version string
	Release string
	// Checksum is the <checksum type=... pkgid="YES"> of the package file.
	Checksum Checksum
	// Size is the <size package="N"> of the package file, -1 when absent.
	Size int64
	// Href is the <location href> as written, relative to the repository
	// root (or to Base). It is not checked: a caller that turns it into a
	// path must reject "..", absolute paths and the like itself.
	Href string
	// Base is the <location xml:base>, "" when absent.
	Base string
	// Time is the <time file="N">, 0 when absent.
	Time int64
}

// NEVRA returns "name-epoch:version-release.arch", like rpm's
// %{NEVRA} but with the epoch always shown ("0" when there is none).
func (p *Package) NEVRA() string {
	e := p.Epoch
	if e == "" {
		e = "0"
	}
	return p.Name + "-" + e + ":" + p.Version + "-" + p.Release + "." + p.Arch
}

// PrimaryReader reads the packages of an uncompressed primary.xml one at a
// time, without holding the document in memory: its memory stays bounded
// (a few MiB at most) whatever the size of the document. Use Decompress
// for a compressed file.
//
// It is strict. Malformed or truncated XML, DOCTYPE and entity
// declarations, a package without a name, arch, version, release,
// checksum or location href, a package type other than "rpm", and a
// package count different from <metadata packages="N"> are errors. A
// document that ends early is always an error, never a short list.
// Of each package it decodes only the fields of Package; the rest (the
// <format> section, descriptions) is checked for well-formed markup and
// skipped. Errors give the line, and the package by position and name:
// "primary.xml:57: package 17 (foo): missing <location href>". Element
// names are matched as written, prefix included, as createrepo_c does.
//
// A PrimaryReader is not safe for concurrent use.
type PrimaryReader struct {
	s        xmlScanner
	declared int
	started  bool
	n        int   // packages read, counting the current one
	err      error // sticky: io.EOF or the first error

	// The package being read: its text fields are decoded one after the
	// other into fb, field i is fb[off[i][0]:off[i][1]].
	fb     []byte
	off    [nFields][2]int
	have   uint32 // fields and elements seen, bit i for field i
	ckType string
	size   int64
	time   int64
	tmp    []byte

	keepRaw bool
	raw     []byte // the current package as written, with keepRaw
	root    Root

	skim     bool // SkimRest was called
	locating bool // in NextLocation
}

// Fields of a package; with the elements below, bits of have.
const (
	fName = iota
	fArch
	fEpoch
	fVer
	fRel
	fChecksum
	fHref
	fBase
	nFields
)

const (
	seenVersion = 1 << (nFields + iota)
	seenSize
	seenTime
	seenLoc
)

// maxFieldSize bounds every decoded field of a package.
const maxFieldSize = 64 << 10

// NewPrimaryReader returns a reader of the packages in the uncompressed
// primary.xml r.
func NewPrimaryReader(r io.Reader) *PrimaryReader {
	p := &PrimaryReader{declared: -1}
	p.s.file = "primary.xml"
	p.s.r = r
	return p
}

// KeepRaw makes the reader keep the bytes of each package as written in
// the document (from "<package" to "</package>"), for Raw. Call it before
// the first Next.
func (p *PrimaryReader) KeepRaw() { p.keepRaw = true }

// Raw returns the <package> element that the last Next returned, byte for
// byte as the document has it, when KeepRaw was called (nil otherwise).
// The slice is only valid until the next call to Next.
func (p *PrimaryReader) Raw() []byte { return p.raw }

// SkimRest makes NextLocation skim, rather than tokenize and check, what
// follows a package's <checksum> and <location> (the <format> section,
// most of the document), and the text of the elements before them that no
// field is read from (<summary>, <description>, ...). Of an element of
// text alone, it finds the end tag after the text; of the rest of a
// package, it finds the package's "</package>" and checks only that what
// it passes over is markup of the package's own: no comment, CDATA
// section, processing instruction or declaration (which could hide an end
// tag), and no <package> or element of a field NextLocation reads or Next
// checks (<name>, <arch>, <version>, <checksum>, <size>, <location>,
// <time>). When any is there, or the rest is longer than a token may be,
// that package is read in full, as without SkimRest.
//
// The trade: of a document that Next accepts, NextLocation returns the
// same locations and checksums with SkimRest as without; the packages'
// fields, the package count, the document's structure around and between
// packages, and its end are checked as before. What is not checked in the
// skimmed parts is their markup: tag and attribute syntax, that tags
// match, references, and the characters of text and attribute values. A
// document malformed there is read (up to any other error) rather than
// refused, and its packages' locations and checksums are those the
// document writes. It is for an index of a primary whose content is
// already trusted (checked against a repomd.xml's checksum): about twice
// as fast on a primary shaped like Fedora's (BenchmarkPrimaryLocations).
// Call it before the first NextLocation; it has no effect on Next or with
// KeepRaw.
func (p *PrimaryReader) SkimRest() { p.skim = true }

// Root returns the start tag of the document's root element, once Next or
// Declared has read it (nil before, or if the document has none).
func (p *PrimaryReader) Root() *Root {
	if p.root.Tag == nil {
		return nil
	}
	return &p.root
}

// Declared returns the package count the document declares in
// <metadata packages="N">, or -1 if it declares none. It reads the start
// of the document if Next has not been called yet (returning -1 if that
// fails; Next then returns the error). N is what the document claims:
// don't size allocations by it without a cap.
func (p *PrimaryReader) Declared() int {
	if !p.started && p.err == nil {
		if err := p.start(); err != nil {
			p.err = err
		}
	}
	return p.declared
}

// Next returns the next package. It returns io.EOF after the last package
// of a complete, valid document; any other error is final and returned
// again by later calls. Each call returns a new *Package.
func (p *PrimaryReader) Next() (*Package, error) {
	if err := p.advance(); err != nil {
		return nil, err
	}
	return p.build(), nil
}

// NextLocation is Next for a reader that needs only where each package
// is and what it holds (an index of a repository): the same document is
// read with the same checks and errors, but no Package is built. It
// returns the package's <location href> and its checksum's normalized
// type and value (lower-case hex); the slices are valid until the next
// call.
func (p *PrimaryReader) NextLocation() (href []byte, sumType string, sum []byte, err error) {
	p.locating = true
	err = p.advance()
	p.locating = false
	if err != nil {
		return nil, "", nil, err
	}
	return p.field(fHref), p.ckType, p.field(fChecksum), nil
}

// advance reads and checks the next package, or returns the reader's
// error: io.EOF after the last one.
func (p *PrimaryReader) advance() error {
	if p.err != nil {
		return p.err
	}
	if !p.started {
		if err := p.start(); err != nil {
			p.err = err
			return err
		}
	}
	for {
		k, err := p.s.next()
		if err != nil {
			p.err = err
			return err
		}
		switch k {
		case tokStart: // a child of <metadata>
			if string(p.s.name) == "package" {
				if err := p.readPackage(); err != nil {
					p.err = err
					return err
				}
				return nil
			}
			if !p.s.selfClosing {
				if err := p.s.skip(); err != nil {
					p.err = err
					return err
				}
			}
		case tokEOF:
			if p.declared >= 0 && p.n != p.declared {
				p.err = fmt.Errorf("primary.xml: <metadata packages=\"%d\"> but the document has %d <package> elements", p.declared, p.n)
				return p.err
			}
			p.err = io.EOF
			return io.EOF
		}
	}
}

// start reads up to the root element.
func (p *PrimaryReader) start() error {
	p.started = true
	k, err := p.s.next()
	if err != nil {
		return err
	}
	if k != tokStart {
		return p.s.errorf(p.s.tokPos, "no root element")
	}
	if string(p.s.name) != "metadata" {
		return p.s.errorf(p.s.tokPos, "root element is <%s>, want <metadata>", p.s.name)
	}
	p.root = p.s.rootTag()
	if v, ok := p.s.attr("packages"); ok {
		n, err := p.number(v)
		if err != nil || n > 1<<31-1 {
			return p.s.errorf(p.s.tokPos, "<metadata packages=%q>: not a package count", truncate(string(v), 40))
		}
		p.declared = int(n)
	}
	return nil
}

// pkgErrorf returns an error about the current package.
func (p *PrimaryReader) pkgErrorf(format string, args ...any) error {
	who := fmt.Sprintf("package %d", p.n)
	if name := truncate(string(p.field(fName)), 100); name != "" {
		if strings.IndexFunc(name, func(r rune) bool { return !unicode.IsGraphic(r) }) >= 0 {
			name = strconv.Quote(name)
		}
		who += " (" + name + ")"
	}
	return p.s.errorf(p.s.tokPos, "%s: "+format, append([]any{who}, args...)...)
}

func (p *PrimaryReader) field(i int) []byte {
	return p.fb[p.off[i][0]:p.off[i][1]]
}

// setField decodes raw into field i.
func (p *PrimaryReader) setField(i int, raw []byte, cdata bool, what string) error {
	if p.have&(1<<i) != 0 {
		return p.pkgErrorf("more than one %s", what)
	}
	p.have |= 1 << i
	start := len(p.fb)
	var err error
	p.fb, err = appendDecoded(p.fb, raw, cdata)
	if err != nil {
		return p.pkgErrorf("%s: %v", what, err)
	}
	if len(p.fb)-start > maxFieldSize {
		return p.pkgErrorf("%s longer than %d bytes", what, maxFieldSize)
	}
	p.off[i] = [2]int{start, len(p.fb)}
	return nil
}

// setAttrField decodes attribute attr of the current tag into field i.
func (p *PrimaryReader) setAttrField(i int, attr, what string) error {
	if v, ok := p.s.attr(attr); ok {
		return p.setField(i, v, false, what)
	}
	return nil
}

// setTextField decodes the content of the element just opened into
// field i. The element may contain text, CDATA sections and comments.
func (p *PrimaryReader) setTextField(i int, what string) error {
	if p.have&(1<<i) != 0 {
		return p.pkgErrorf("more than one %s", what)
	}
	p.have |= 1 << i
	start := len(p.fb)
	p.off[i] = [2]int{start, start}
	if p.s.selfClosing {
		return nil
	}
	for {
		k, err := p.s.next()
		if err != nil {
			return err
		}
		switch k {
		case tokText:
			if p.fb, err = appendDecoded(p.fb, p.s.text, p.s.cdata); err != nil {
				return p.pkgErrorf("%s: %v", what, err)
			}
			if len(p.fb)-start > maxFieldSize {
				return p.pkgErrorf("%s longer than %d bytes", what, maxFieldSize)
			}
		case tokStart:
			return p.pkgErrorf("unexpected <%s> inside %s", p.s.name, what)
		case tokEnd:
			p.off[i][1] = len(p.fb)
			return nil
		case tokEOF: // cannot happen: the scanner reports open elements
			return p.s.eofErrorf(p.s.pos, "unexpected end of file inside %s", what)
		}
	}
}

// number parses a non-negative decimal integer from a raw attribute value.
func (p *PrimaryReader) number(raw []byte) (int64, error) {
	v := raw
	if bytes.IndexByte(raw, '&') >= 0 {
		var err error
		if p.tmp, err = appendDecoded(p.tmp[:0], raw, false); err != nil {
			return 0, err
		}
		v = p.tmp
	}
	if len(v) == 0 || len(v) > 18 {
		return 0, errors.New("not a number")
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, errors.New("not a number")
		}
		n = n*10 + int64(c-'0')
	}
	return n, nil
}

// numberAttr parses the number in attribute attr of the current tag, or
// returns def if there is none.
func (p *PrimaryReader) numberAttr(attr string, def int64, what string) (int64, error) {
	v, ok := p.s.attr(attr)
	if !ok {
		return def, nil
	}
	n, err := p.number(v)
	if err != nil {
		return 0, p.pkgErrorf("%s=%q: not a number", what, truncate(string(v), 40))
	}
	return n, nil
}

// readPackage reads and checks the <package> element whose start tag
// was just read.
func (p *PrimaryReader) readPackage() error {
	p.n++
	p.raw = nil
	if p.keepRaw {
		p.s.record()
	}
	p.fb = p.fb[:0]
	p.have = 0
	p.ckType = ""
	p.size = -1
	p.time = 0
	if t, ok := p.s.attr("type"); ok && string(t) != "rpm" {
		return p.pkgErrorf("type %q is not supported (want \"rpm\")", truncate(string(t), 40))
	}
	if !p.s.selfClosing {
		if err := p.readPackageContent(); err != nil {
			return err
		}
	}
	if p.keepRaw {
		p.raw = p.s.recorded()
	}
	return p.check()
}

func (p *PrimaryReader) readPackageContent() error {
	for {
		k, err := p.s.next()
		if err != nil {
			return err
		}
		switch k {
		case tokEnd: // </package>
			return nil
		case tokStart:
		case tokEOF: // cannot happen: the scanner reports open elements
			return p.s.eofErrorf(p.s.pos, "unexpected end of file inside <package>")
		default:
			continue
		}
		attrsOnly := true
		switch string(p.s.name) {
		case "name":
			attrsOnly = false
			err = p.setTextField(fName, "<name>")
		case "arch":
			attrsOnly = false
			err = p.setTextField(fArch, "<arch>")
		case "version":
			if p.have&seenVersion != 0 {
				return p.pkgErrorf("more than one <version>")
			}
			p.have |= seenVersion
			err = p.setAttrField(fEpoch, "epoch", "<version epoch>")
			if err == nil {
				err = p.setAttrField(fVer, "ver", "<version ver>")
			}
			if err == nil {
				err = p.setAttrField(fRel, "rel", "<version rel>")
			}
		case "checksum":
			attrsOnly = false
			t, ok := p.s.attr("type")
			if !ok {
				return p.pkgErrorf("<checksum> without a type attribute")
			}
			if p.ckType, ok = checksumTypeBytes(t); !ok {
				if p.tmp, err = appendDecoded(p.tmp[:0], t, false); err == nil {
					p.ckType, err = NormalizeChecksumType(string(p.tmp))
				}
				if err != nil {
					return p.pkgErrorf("<checksum>: %v", err)
				}
			}
			err = p.setTextField(fChecksum, "<checksum>")
		case "size":
			if p.have&seenSize != 0 {
				return p.pkgErrorf("more than one <size>")
			}
			p.have |= seenSize
			p.size, err = p.numberAttr("package", -1, "<size package>")
		case "location":
			if p.have&seenLoc != 0 {
				return p.pkgErrorf("more than one <location>")
			}
			p.have |= seenLoc
			err = p.setAttrField(fHref, "href", "<location href>")
			if err == nil {
				err = p.setAttrField(fBase, "xml:base", "<location xml:base>")
			}
		case "time":
			if p.have&seenTime != 0 {
				return p.pkgErrorf("more than one <time>")
			}
			p.have |= seenTime
			p.time, err = p.numberAttr("file", 0, "<time file>")
		default: // <format>, <summary>, <description>, ...
			if p.skim && p.locating && !p.keepRaw && !p.s.selfClosing {
				if p.have&skimAfter != skimAfter {
					if p.s.skimText() {
						continue
					}
				} else if ok, err := p.skimRest(); err != nil {
					return err
				} else if ok {
					continue // at </package>
				}
			}
		}
		if err != nil {
			return err
		}
		if attrsOnly && !p.s.selfClosing {
			if err := p.s.skip(); err != nil {
				return err
			}
		}
	}
}

// skimAfter are the fields NextLocation returns: once both are read,
// the rest of a package may be skimmed (SkimRest).
const skimAfter = 1<<fChecksum | seenLoc

// pkgEnd is the end tag a skimmed package ends with.
var pkgEnd = []byte("</package>")

// skimRest skims the rest of the current package (SkimRest) from the
// start tag of the element just opened, a child of <package>, to the
// package's end tag, which it leaves to be read. It returns false, having
// consumed nothing, when the rest must be read in full: a '<' in it
// starts a comment, CDATA section, processing instruction or declaration
// (which may hide "</package>" or anything else), or the start tag of a
// <package> or of an element a package's fields are read from; or it is
// longer than maxTokenSize; or the input ends or fails before its end
// tag (the full read then reports that). One pass over the rest looks at
// each '<' in it, the first "</package>" ending it.
func (p *PrimaryReader) skimRest() (bool, error) {
	s := &p.s
	off := 0 // of s.buf[s.pos:]: every '<' before it has been looked at
	for {
		b := s.buf[s.pos:]
	scan:
		for {
			i := bytes.IndexByte(b[off:], '<')
			if i < 0 {
				off = len(b)
				break
			}
			j := off + i
			t := b[j+1:]
			switch {
			case len(t) == 0:
				off = j // more is needed to tell
				break scan
			case t[0] == '/':
				if len(t) < len(pkgEnd)-1 && bytes.HasPrefix(pkgEnd[1:], t) {
					off = j // it may be "</package>"
					break scan
				}
				if bytes.HasPrefix(t, pkgEnd[1:]) {
					// The element just opened is closed by the skim.
					n := len(s.ends)
					s.names = s.names[:s.ends[n-2]]
					s.ends = s.ends[:n-1]
					s.pos += j
					return true, nil
				}
				off = j + 2
				continue
			case t[0] == '!' || t[0] == '?':
				return false, nil
			}
			k := 0
			for k < len(t) && nameByte[t[k]] {
				k++
			}
			if k == len(t) {
				off = j // the name may go on
				break
			}
			switch string(t[:k]) {
			case "package", "name", "arch", "version", "checksum", "size", "location", "time":
				return false, nil
			}
			off = j + 1 + k
		}
		if s.rerr != nil || len(b) >= maxTokenSize {
			return false, nil
		}
		if err := s.fill(); err != nil {
			return false, nil // s.rerr is set: the full read reports it
		}
	}
}

// check checks the package just read, and trims and lower-cases its
// checksum.
func (p *PrimaryReader) check() error {
	for _, f := range [...]struct {
		i    int
		what string
	}{
		{fName, "<name>"},
		{fArch, "<arch>"},
		{fVer, "<version ver>"},
		{fRel, "<version rel>"},
		{fChecksum, "<checksum>"},
		{fHref, "<location href>"},
	} {
		if p.have&(1<<f.i) == 0 || len(p.field(f.i)) == 0 {
			return p.pkgErrorf("missing %s", f.what)
		}
	}
	if p.have&(1<<fEpoch) != 0 {
		e := p.field(fEpoch)
		for _, c := range e {
			if c < '0' || c > '9' {
				return p.pkgErrorf("<version epoch=%q>: not a number", truncate(string(e), 40))
			}
		}
	}
	// The checksum: trim white space, lower-case.
	o := &p.off[fChecksum]
	for o[0] < o[1] && asciiSpace[p.fb[o[0]]] {
		o[0]++
	}
	for o[1] > o[0] && asciiSpace[p.fb[o[1]-1]] {
		o[1]--
	}
	for i := o[0]; i < o[1]; i++ {
		if c := p.fb[i]; 'A' <= c && c <= 'F' {
			p.fb[i] = c + 'a' - 'A'
		}
	}
	if err := validateChecksum(p.ckType, p.field(fChecksum)); err != nil {
		return p.pkgErrorf("<checksum>: %v", err)
	}
	return nil
}

// build returns the package just read and checked.
func (p *PrimaryReader) build() *Package {
	all := string(p.fb) // one allocation for every string of the package
	str := func(i int) string {
		if p.have&(1<<i) == 0 {
			return ""
		}
		return all[p.off[i][0]:p.off[i][1]]
	}
	pkg := &Package{
		Name:     str(fName),
		Arch:     str(fArch),
		Epoch:    str(fEpoch),
		Version:  str(fVer),
		Release:  str(fRel),
		Checksum: Checksum{Type: p.ckType, Value: str(fChecksum)},
		Size:     p.size,
		Href:     str(fHref),
		Base:     str(fBase),
		Time:     p.time,
	}
	if pkg.Epoch == "" {
		pkg.Epoch = "0"
	}
	return pkg
}

// checksumTypeBytes normalizes the common spellings of a checksum type
// without allocating.
func checksumTypeBytes(b []byte) (string, bool) {
	switch string(b) {
	case "sha256":
		return "sha256", true
	case "sha1", "sha":
		return "sha1", true
	case "sha512":
		return "sha512", true
	case "sha384":
		return "sha384", true
	case "sha224":
		return "sha224", true
	case "md5":
		return "md5", true
	}
	return "", false
}
