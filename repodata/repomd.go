package repodata

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// MaxRepomdSize bounds the repomd.xml rpmirror reads, from an origin or
// a mirror, and the one it writes for a filtered mirror: real ones are a
// few kilobytes.
const MaxRepomdSize = 16 << 20

// Repomd is a parsed repodata/repomd.xml.
type Repomd struct {
	Revision string // <revision>, "" when absent
	// Tags is the <tags> element, zero when absent.
	Tags Tags
	Data []Data // the <data> elements in document order
}

// Tags is the <tags> element of repomd.xml: what createrepo_c's
// --content, --repo and --distro say of the repository, and dnf shows as
// Repo-tags and Repo-distro-tags. Each list is in document order, the
// text as written.
type Tags struct {
	Content []string // <content>
	Repo    []string // <repo>
	Distro  []Distro // <distro>
}

// Distro is one <distro> tag: a distribution the repository is for.
type Distro struct {
	CPEID string // the cpeid attribute, "" when absent
	Name  string
}

// IsZero reports whether t holds no tag.
func (t Tags) IsZero() bool {
	return len(t.Content) == 0 && len(t.Repo) == 0 && len(t.Distro) == 0
}

// Data is one <data> element of repomd.xml: a metadata file of the
// repository.
type Data struct {
	// Type is the type attribute: "primary", "filelists", "other",
	// "primary_db", "group", "group_gz", "updateinfo", "modules",
	// "primary_zck", or anything else a tool chose to write.
	Type string
	// Href is the location href as written, relative to the repository
	// root, e.g. "repodata/abc-primary.xml.gz". It is not checked: a caller
	// that turns it into a path must reject "..", absolute paths and the
	// like itself.
	Href string
	// Base is the location's xml:base, "" when absent.
	Base string
	// Checksum is the digest of the file as stored (compressed).
	Checksum Checksum
	// OpenChecksum is the digest of the uncompressed content, nil when
	// absent (uncompressed files such as "group" have none).
	OpenChecksum *Checksum
	Size         int64 // size of the file as stored, -1 when absent
	OpenSize     int64 // size of the uncompressed content, -1 when absent
	Timestamp    int64 // <timestamp>, 0 when absent
	// HeaderChecksum is the zchunk header-checksum, nil when absent.
	HeaderChecksum *Checksum
	HeaderSize     int64 // zchunk header-size, -1 when absent
}

// Find returns the first Data of the given type.
func (r *Repomd) Find(typ string) (Data, bool) {
	for _, d := range r.Data {
		if d.Type == typ {
			return d, true
		}
	}
	return Data{}, false
}

// xmlNamespace is what encoding/xml turns the reserved "xml" prefix into.
const xmlNamespace = "http://www.w3.org/XML/1998/namespace"

// ParseRepomd parses repomd.xml. It is strict: every <data> must have a
// type, a location href and a valid checksum; a type may appear only once;
// numbers must be numbers; DOCTYPE and entity declarations are refused.
// <tags> is read leniently: its <content>, <repo> and <distro> children
// are kept (elements inside them are skipped, their text kept), anything
// else in it is skipped. Elements it does not know (<database_version>,
// ...) are skipped.
//
// ParseRepomd keeps b's size in memory a few times over; callers reading
// repomd.xml from the network should limit its size first.
func ParseRepomd(b []byte) (*Repomd, error) {
	p := repomdParser{d: xml.NewDecoder(bytes.NewReader(b))}
	p.d.Strict = true
	r, err := p.parse()
	if err != nil {
		return nil, err
	}
	return r, nil
}

type repomdParser struct {
	d *xml.Decoder
}

// errorf returns an error prefixed with repomd.xml and the current line.
func (p *repomdParser) errorf(format string, args ...any) error {
	line, _ := p.d.InputPos()
	return fmt.Errorf("repomd.xml:%d: "+format, append([]any{line}, args...)...)
}

// token returns the next token, refusing directives (DOCTYPE, ENTITY) and
// turning io.EOF into an error: callers only ask while an element is open.
func (p *repomdParser) token() (xml.Token, error) {
	t, err := p.d.Token()
	if err == io.EOF {
		return nil, p.errorf("unexpected end of file: %w", io.ErrUnexpectedEOF)
	}
	if err != nil {
		return nil, fmt.Errorf("repomd.xml: %w", err)
	}
	if d, ok := t.(xml.Directive); ok {
		return nil, p.errorf("%s", directiveError(d))
	}
	return t, nil
}

func directiveError(d xml.Directive) string {
	word, _, _ := strings.Cut(strings.TrimSpace(string(d)), " ")
	return fmt.Sprintf("<!%s> is not allowed (DOCTYPE and entity declarations are refused)", truncate(word, 20))
}

func (p *repomdParser) parse() (*Repomd, error) {
	// Prolog: up to the root element.
	var root xml.StartElement
	for {
		t, err := p.d.Token()
		if err == io.EOF {
			return nil, errors.New("repomd.xml: no <repomd> element")
		}
		if err != nil {
			return nil, fmt.Errorf("repomd.xml: %w", err)
		}
		switch t := t.(type) {
		case xml.Directive:
			return nil, p.errorf("%s", directiveError(t))
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return nil, p.errorf("text before the root element")
			}
		case xml.StartElement:
			root = t
		}
		if root.Name.Local != "" {
			break
		}
	}
	if root.Name.Local != "repomd" {
		return nil, p.errorf("root element is <%s>, want <repomd>", root.Name.Local)
	}
	r := &Repomd{Data: []Data{}}
	seen := map[string]bool{}
	haveRevision := false
	for {
		t, err := p.token()
		if err != nil {
			return nil, err
		}
		switch t := t.(type) {
		case xml.EndElement: // </repomd>
			if err := p.epilog(); err != nil {
				return nil, err
			}
			return r, nil
		case xml.StartElement:
			switch t.Name.Local {
			case "revision":
				if haveRevision {
					return nil, p.errorf("more than one <revision>")
				}
				haveRevision = true
				if r.Revision, err = p.text("revision"); err != nil {
					return nil, err
				}
			case "data":
				d, err := p.data(t)
				if err != nil {
					return nil, err
				}
				if seen[d.Type] {
					return nil, p.errorf("more than one <data type=%q>", d.Type)
				}
				seen[d.Type] = true
				r.Data = append(r.Data, d)
			case "tags":
				if err := p.tags(&r.Tags); err != nil {
					return nil, err
				}
			default:
				if err := p.d.Skip(); err != nil {
					return nil, fmt.Errorf("repomd.xml: %w", err)
				}
			}
		}
	}
}

// epilog checks that nothing but white space, comments and processing
// instructions follows the root element.
func (p *repomdParser) epilog() error {
	for {
		t, err := p.d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("repomd.xml: %w", err)
		}
		switch t := t.(type) {
		case xml.StartElement:
			return p.errorf("element <%s> after the root element", t.Name.Local)
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return p.errorf("text after the root element")
			}
		case xml.Directive:
			return p.errorf("%s", directiveError(t))
		}
	}
}

// text returns the character data of the element just opened, which must
// not contain elements.
func (p *repomdParser) text(elem string) (string, error) { return p.chars(elem, false) }

// anyText returns the character data of the element just opened, skipping
// the elements inside it.
func (p *repomdParser) anyText() (string, error) { return p.chars("", true) }

// tags reads the children of the <tags> element just opened into t.
func (p *repomdParser) tags(t *Tags) error {
	for {
		tok, err := p.token()
		if err != nil {
			return err
		}
		switch tok := tok.(type) {
		case xml.EndElement: // </tags>
			return nil
		case xml.StartElement:
			switch tok.Name.Local {
			case "content", "repo", "distro":
				v, err := p.anyText()
				if err != nil {
					return err
				}
				switch tok.Name.Local {
				case "content":
					t.Content = append(t.Content, v)
				case "repo":
					t.Repo = append(t.Repo, v)
				default:
					cpeid, _ := attr(tok, "", "cpeid")
					t.Distro = append(t.Distro, Distro{CPEID: cpeid, Name: v})
				}
			default:
				if err := p.d.Skip(); err != nil {
					return fmt.Errorf("repomd.xml: %w", err)
				}
			}
		}
	}
}

// chars returns the character data of the element elem just opened; an
// element inside it is skipped when skip is set, an error otherwise.
func (p *repomdParser) chars(elem string, skip bool) (string, error) {
	var b []byte
	for {
		t, err := p.token()
		if err != nil {
			return "", err
		}
		switch t := t.(type) {
		case xml.CharData:
			b = append(b, t...)
		case xml.StartElement:
			if !skip {
				return "", p.errorf("unexpected <%s> inside <%s>", t.Name.Local, elem)
			}
			if err := p.d.Skip(); err != nil {
				return "", fmt.Errorf("repomd.xml: %w", err)
			}
		case xml.EndElement:
			return string(b), nil
		}
	}
}

func attr(se xml.StartElement, space, local string) (string, bool) {
	for _, a := range se.Attr {
		if a.Name.Local == local && a.Name.Space == space {
			return a.Value, true
		}
	}
	return "", false
}

func (p *repomdParser) data(se xml.StartElement) (Data, error) {
	d := Data{Size: -1, OpenSize: -1, HeaderSize: -1}
	typ, ok := attr(se, "", "type")
	if !ok || typ == "" {
		return d, p.errorf("<data> without a type attribute")
	}
	d.Type = typ
	fail := func(err error) (Data, error) {
		return d, p.errorf("data %q: %w", typ, err)
	}
	seen := map[string]bool{}
	haveLocation := false
	for {
		t, err := p.token()
		if err != nil {
			return d, err
		}
		var el xml.StartElement
		switch t := t.(type) {
		case xml.EndElement: // </data>
			if !haveLocation {
				return fail(errors.New("missing <location href>"))
			}
			if d.Checksum.Type == "" {
				return fail(errors.New("missing <checksum>"))
			}
			return d, nil
		case xml.StartElement:
			el = t
		default:
			continue
		}
		name := el.Name.Local
		switch name {
		case "checksum", "open-checksum", "header-checksum", "location",
			"timestamp", "size", "open-size", "header-size":
			if seen[name] {
				return fail(fmt.Errorf("more than one <%s>", name))
			}
			seen[name] = true
		}
		switch name {
		case "checksum", "open-checksum", "header-checksum":
			typAttr, ok := attr(el, "", "type")
			if !ok {
				return fail(fmt.Errorf("<%s> without a type attribute", name))
			}
			v, err := p.text(name)
			if err != nil {
				return d, err
			}
			c, err := NewChecksum(typAttr, strings.TrimSpace(v))
			if err != nil {
				return fail(fmt.Errorf("<%s>: %w", name, err))
			}
			switch name {
			case "checksum":
				d.Checksum = c
			case "open-checksum":
				d.OpenChecksum = &c
			default:
				d.HeaderChecksum = &c
			}
		case "location":
			href, ok := attr(el, "", "href")
			if !ok || href == "" {
				return fail(errors.New("missing <location href>"))
			}
			d.Href = href
			if base, ok := attr(el, xmlNamespace, "base"); ok {
				d.Base = base
			} else if base, ok := attr(el, "xml", "base"); ok {
				d.Base = base
			}
			haveLocation = true
			if err := p.d.Skip(); err != nil {
				return d, fmt.Errorf("repomd.xml: %w", err)
			}
		case "timestamp", "size", "open-size", "header-size":
			v, err := p.text(name)
			if err != nil {
				return d, err
			}
			var n int64
			if name == "timestamp" {
				n, err = parseTimestamp(v)
			} else {
				n, err = parseSize(v)
			}
			if err != nil {
				return fail(fmt.Errorf("<%s>: %w", name, err))
			}
			switch name {
			case "timestamp":
				d.Timestamp = n
			case "size":
				d.Size = n
			case "open-size":
				d.OpenSize = n
			default:
				d.HeaderSize = n
			}
		default: // database_version and anything else
			if err := p.d.Skip(); err != nil {
				return d, fmt.Errorf("repomd.xml: %w", err)
			}
		}
	}
}

// parseSize parses a non-negative decimal integer.
func parseSize(s string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size", truncate(s, 40))
	}
	return n, nil
}

// parseTimestamp parses seconds since the epoch. Old yum wrote a fraction
// ("1329912553.05"); it is dropped.
func parseTimestamp(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if i, f, ok := strings.Cut(t, "."); ok && i != "" && f != "" && strings.Trim(f, "0123456789") == "" {
		t = i
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a timestamp", truncate(s, 40))
	}
	return n, nil
}
