package repodata

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
)

// Root is the start tag of a metadata document's root element, byte for
// byte as the document has it: for example
// `<metadata xmlns="http://linux.duke.edu/metadata/common" packages="12">`.
type Root struct {
	Name string // "metadata", "filelists", "otherdata", "filelists_ext", ...
	Tag  []byte // the start tag as written
	// count is the offset in Tag of the packages attribute's value and
	// its end; {0, 0} when the tag has none.
	count [2]int
}

// WithCount returns the start tag with its packages attribute set to n
// (added when the tag has none), every other byte as written. A
// self-closing root tag is returned as a start tag: the caller writes the
// end tag.
func (r *Root) WithCount(n int) []byte {
	tag := r.Tag
	num := strconv.Itoa(n)
	var out []byte
	if r.count != [2]int{} {
		out = make([]byte, 0, len(tag)+len(num))
		out = append(out, tag[:r.count[0]]...)
		out = append(out, num...)
		out = append(out, tag[r.count[1]:]...)
	} else {
		end := len(tag) - 1 // the '>'
		if bytes.HasSuffix(tag, []byte("/>")) {
			end--
		}
		out = append(out, tag[:end]...)
		out = append(out, ` packages="`...)
		out = append(out, num...)
		out = append(out, `">`...)
	}
	if bytes.HasSuffix(out, []byte("/>")) {
		out = append(out[:len(out)-2], '>')
	}
	return out
}

// rootTag returns the start tag just read, which is the root element's.
func (s *xmlScanner) rootTag() Root {
	r := Root{Name: string(s.name), Tag: bytes.Clone(s.buf[s.tokPos:s.pos])}
	for _, a := range s.attrs {
		if string(r.Tag[a.name:a.nameEnd]) == "packages" {
			r.count = [2]int{int(a.value), int(a.valueEnd)}
		}
	}
	return r
}

// Entry is one <package> of filelists.xml, other.xml or
// filelists-ext.xml: the attributes that say which package it describes,
// and the element as written.
type Entry struct {
	PkgID string // the pkgid attribute: the checksum of the package file
	Name  string // the name attribute, "" when absent
	Arch  string // the arch attribute, "" when absent
	// Raw is the element byte for byte as the document has it, from
	// "<package" to "</package>". It is only valid until the next call
	// to Next.
	Raw []byte
}

// EntryReader reads the <package> elements of an uncompressed
// filelists.xml, other.xml or filelists-ext.xml one at a time, as written,
// without holding the document in memory. It is as strict as
// PrimaryReader about the markup (malformed and truncated documents,
// DOCTYPE and entity declarations are errors, and so is a package count
// different from the root's packages="N"); of each package it decodes
// only the pkgid, name and arch attributes, and a package without a
// pkgid is an error. Children of the root other than <package> are
// skipped. It does not check the root element's name: see Root.
//
// An EntryReader is not safe for concurrent use.
type EntryReader struct {
	s        xmlScanner
	declared int
	started  bool
	n        int
	err      error
	root     Root
	e        Entry
}

// NewEntryReader returns a reader of the packages of the uncompressed
// metadata document r; file names it in errors ("filelists.xml").
func NewEntryReader(r io.Reader, file string) *EntryReader {
	e := &EntryReader{declared: -1}
	e.s.file = file
	e.s.r = r
	return e
}

// Root returns the start tag of the document's root element, reading it
// if Next has not been called yet (nil if that fails; Next then returns
// the error).
func (e *EntryReader) Root() *Root {
	if !e.started && e.err == nil {
		if err := e.start(); err != nil {
			e.err = err
		}
	}
	if e.root.Tag == nil {
		return nil
	}
	return &e.root
}

// Declared returns the count of <root packages="N">, or -1 when there is
// none (or the start of the document could not be read).
func (e *EntryReader) Declared() int {
	e.Root()
	return e.declared
}

func (e *EntryReader) start() error {
	e.started = true
	k, err := e.s.next()
	if err != nil {
		return err
	}
	if k != tokStart {
		return e.s.errorf(e.s.tokPos, "no root element")
	}
	e.root = e.s.rootTag()
	if v, ok := e.s.attr("packages"); ok {
		n, err := strconv.ParseUint(string(v), 10, 31)
		if err != nil {
			return e.s.errorf(e.s.tokPos, "<%s packages=%q>: not a package count", e.root.Name, truncate(string(v), 40))
		}
		e.declared = int(n)
	}
	return nil
}

// Next returns the next package. The Entry is reused by the next call. It
// returns io.EOF after the last package of a complete, valid document;
// any other error is final.
func (e *EntryReader) Next() (*Entry, error) {
	if e.err != nil {
		return nil, e.err
	}
	if !e.started {
		if err := e.start(); err != nil {
			e.err = err
			return nil, err
		}
	}
	for {
		k, err := e.s.next()
		if err != nil {
			e.err = err
			return nil, err
		}
		switch k {
		case tokStart:
			if string(e.s.name) != "package" {
				if !e.s.selfClosing {
					if err := e.s.skip(); err != nil {
						e.err = err
						return nil, err
					}
				}
				continue
			}
			e.n++
			if err := e.readEntry(); err != nil {
				e.err = err
				return nil, err
			}
			return &e.e, nil
		case tokEOF:
			if e.declared >= 0 && e.n != e.declared {
				e.err = fmt.Errorf("%s: <%s packages=\"%d\"> but the document has %d <package> elements", e.s.file, e.root.Name, e.declared, e.n)
				return nil, e.err
			}
			e.err = io.EOF
			return nil, io.EOF
		}
	}
}

func (e *EntryReader) readEntry() error {
	pos := e.s.tokPos
	attr := func(name string) (string, error) {
		v, ok := e.s.attr(name)
		if !ok {
			return "", nil
		}
		b, err := appendDecoded(nil, v, false)
		if err != nil {
			return "", e.s.errorf(pos, "package %d: %s: %v", e.n, name, err)
		}
		return string(b), nil
	}
	var err error
	if e.e.PkgID, err = attr("pkgid"); err != nil {
		return err
	}
	if e.e.PkgID == "" {
		return e.s.errorf(pos, "package %d: no pkgid", e.n)
	}
	if e.e.Name, err = attr("name"); err != nil {
		return err
	}
	if e.e.Arch, err = attr("arch"); err != nil {
		return err
	}
	e.s.record()
	if !e.s.selfClosing {
		if err := e.s.skip(); err != nil {
			return err
		}
	}
	e.e.Raw = e.s.recorded()
	return nil
}
