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

// refParse reads the packages of primary.xml with encoding/xml, as a
// reference to compare PrimaryReader with. It decodes the same fields the
// same way (qualified names as written, epoch "0" when absent, checksum
// trimmed, lower-cased and its type normalized) but checks only what
// encoding/xml checks: it returns an error only for XML that encoding/xml
// refuses, and for DOCTYPE. It also returns the declared package count.
func refParse(data []byte) ([]Package, int, error) {
	// encoding/xml's Token checks that tags match; RawToken keeps
	// prefixes as written. Check with one, extract with the other.
	d := xml.NewDecoder(bytes.NewReader(data))
	for {
		t, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, 0, err
		}
		if _, ok := t.(xml.Directive); ok {
			return nil, 0, errors.New("directive")
		}
	}

	qname := func(n xml.Name) string {
		if n.Space != "" {
			return n.Space + ":" + n.Local
		}
		return n.Local
	}
	attr := func(se xml.StartElement, name string) (string, bool) {
		for _, a := range se.Attr {
			if qname(a.Name) == name {
				return a.Value, true
			}
		}
		return "", false
	}
	num := func(s string, def int64) int64 {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return def
		}
		return n
	}

	var (
		pkgs     []Package
		declared = -1
		depth    int
		cur      *Package
		text     *strings.Builder
		textEl   string
	)
	d = xml.NewDecoder(bytes.NewReader(data))
	for {
		t, err := d.RawToken()
		if err == io.EOF {
			return pkgs, declared, nil
		}
		if err != nil {
			return nil, 0, err
		}
		switch t := t.(type) {
		case xml.StartElement:
			depth++
			name := qname(t.Name)
			switch {
			case depth == 1:
				if v, ok := attr(t, "packages"); ok {
					declared = int(num(v, -1))
				}
			case depth == 2 && name == "package":
				pkgs = append(pkgs, Package{Epoch: "0", Size: -1})
				cur = &pkgs[len(pkgs)-1]
			case depth == 3 && cur != nil:
				switch name {
				case "name", "arch", "checksum":
					text, textEl = &strings.Builder{}, name
					if name == "checksum" {
						v, _ := attr(t, "type")
						cur.Checksum.Type, _ = NormalizeChecksumType(v)
					}
				case "version":
					if v, ok := attr(t, "epoch"); ok && v != "" {
						cur.Epoch = v
					}
					cur.Version, _ = attr(t, "ver")
					cur.Release, _ = attr(t, "rel")
				case "size":
					if v, ok := attr(t, "package"); ok {
						cur.Size = num(v, -1)
					}
				case "location":
					cur.Href, _ = attr(t, "href")
					cur.Base, _ = attr(t, "xml:base")
				case "time":
					if v, ok := attr(t, "file"); ok {
						cur.Time = num(v, 0)
					}
				}
			}
		case xml.CharData:
			if text != nil {
				text.Write(t)
			}
		case xml.EndElement:
			if text != nil && depth == 3 {
				switch textEl {
				case "name":
					cur.Name = text.String()
				case "arch":
					cur.Arch = text.String()
				case "checksum":
					cur.Checksum.Value = strings.ToLower(strings.TrimSpace(text.String()))
				}
				text = nil
			}
			if depth == 2 {
				cur = nil
			}
			depth--
		case xml.Directive:
			return nil, 0, fmt.Errorf("directive")
		}
	}
}
