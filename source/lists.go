package source

import (
	"bufio"
	"bytes"
	"cmp"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"hash"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// RepomdPath is where every upstream serves its repomd.xml, relative to
// its base URL; a metalink's url entries end with it.
const RepomdPath = "repodata/repomd.xml"

// Metalink is what a metalink says of repomd.xml: the file it expects
// and the alternates (earlier revisions) it still accepts, and the
// upstreams serving it, most preferred first.
type Metalink struct {
	File       Expected
	Alternates []Expected
	Upstreams  []string // base URLs ending in "/"
}

// Expected is one revision of repomd.xml a metalink accepts: its size
// (-1: not given) and hex digests by type ("md5", "sha1", "sha256",
// "sha512"; others are ignored).
type Expected struct {
	Size   int64
	Hashes map[string]string
}

// hashTypes are the digests a metalink may give that are checked, weakest
// first.
var hashTypes = []struct {
	name string
	new  func() hash.Hash
}{
	{"md5", md5.New}, {"sha1", sha1.New}, {"sha256", sha256.New}, {"sha512", sha512.New},
}

// matches reports whether b is the file e describes: its size, when
// given, and every digest given of a known type. An entry without a
// known digest matches nothing: a metalink that cannot tell a good
// repomd.xml from a bad one protects nothing.
func (e Expected) matches(b []byte) bool {
	if e.Size >= 0 && int64(len(b)) != e.Size {
		return false
	}
	checked := 0
	for _, ht := range hashTypes {
		want, ok := e.Hashes[ht.name]
		if !ok {
			continue
		}
		h := ht.new()
		h.Write(b)
		if !strings.EqualFold(hex.EncodeToString(h.Sum(nil)), want) {
			return false
		}
		checked++
	}
	return checked > 0
}

// Check returns nil when repomd is the metalink's file or one of its
// alternates, and a *MetalinkMismatchError otherwise.
func (m *Metalink) Check(repomd []byte) error {
	if m.File.matches(repomd) {
		return nil
	}
	for _, a := range m.Alternates {
		if a.matches(repomd) {
			return nil
		}
	}
	strongest := "sha256"
	for _, ht := range hashTypes {
		if _, ok := m.File.Hashes[ht.name]; ok {
			strongest = ht.name
		}
	}
	for _, ht := range hashTypes {
		if ht.name == strongest {
			h := ht.new()
			h.Write(repomd)
			strongest += ":" + hex.EncodeToString(h.Sum(nil))
		}
	}
	return &MetalinkMismatchError{Size: int64(len(repomd)), Hash: strongest}
}

// metalinkDoc is the part of a metalink 3.0 document (as MirrorManager
// writes it) that is read. Elements are matched by local name, so the
// metalink and mm0 namespaces need no spelling out.
type metalinkDoc struct {
	XMLName xml.Name `xml:"metalink"`
	Files   []struct {
		Name       string         `xml:"name,attr"`
		Size       string         `xml:"size"`
		Hashes     []metalinkHash `xml:"verification>hash"`
		Alternates []struct {
			Size   string         `xml:"size"`
			Hashes []metalinkHash `xml:"verification>hash"`
		} `xml:"alternates>alternate"`
		URLs []struct {
			Protocol   string `xml:"protocol,attr"`
			Preference string `xml:"preference,attr"`
			URL        string `xml:",chardata"`
		} `xml:"resources>url"`
	} `xml:"files>file"`
}

type metalinkHash struct {
	Type  string `xml:"type,attr"`
	Value string `xml:",chardata"`
}

func expected(size string, hashes []metalinkHash) (Expected, error) {
	e := Expected{Size: -1, Hashes: map[string]string{}}
	if s := strings.TrimSpace(size); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return e, fmt.Errorf("size %q is not a number of bytes", s)
		}
		e.Size = n
	}
	for _, h := range hashes {
		e.Hashes[strings.ToLower(strings.TrimSpace(h.Type))] = strings.ToLower(strings.TrimSpace(h.Value))
	}
	return e, nil
}

// ParseMetalink reads a metalink 3.0 document: the entry of its file
// named repomd.xml, its alternates, and its http and https URLs, most
// preferred first (URLs of equal preference keep their order), each
// turned into a base URL by removing repodata/repomd.xml. URLs of other
// protocols (rsync, ftp) are left out.
func ParseMetalink(b []byte) (*Metalink, error) {
	var doc metalinkDoc
	dec := xml.NewDecoder(bytes.NewReader(b))
	dec.Strict = true
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("not a metalink: %w", err)
	}
	for _, f := range doc.Files {
		if f.Name != "repomd.xml" {
			continue
		}
		file, err := expected(f.Size, f.Hashes)
		if err != nil {
			return nil, fmt.Errorf("metalink: repomd.xml: %w", err)
		}
		m := &Metalink{File: file}
		for i, a := range f.Alternates {
			alt, err := expected(a.Size, a.Hashes)
			if err != nil {
				return nil, fmt.Errorf("metalink: repomd.xml: alternate %d: %w", i+1, err)
			}
			m.Alternates = append(m.Alternates, alt)
		}
		type pref struct {
			url  string
			pref int
		}
		var urls []pref
		for _, u := range f.URLs {
			raw := strings.TrimSpace(u.URL)
			base, ok := strings.CutSuffix(raw, RepomdPath)
			if !ok {
				continue
			}
			if base, ok = upstreamURL(base); !ok {
				continue
			}
			p, err := strconv.Atoi(strings.TrimSpace(u.Preference))
			if err != nil {
				p = 0
			}
			urls = append(urls, pref{base, p})
		}
		slices.SortStableFunc(urls, func(a, b pref) int { return cmp.Compare(b.pref, a.pref) })
		for _, u := range urls {
			if !slices.Contains(m.Upstreams, u.url) {
				m.Upstreams = append(m.Upstreams, u.url)
			}
		}
		return m, nil
	}
	return nil, errors.New("the metalink describes no file named repomd.xml")
}

// ParseMirrorlist reads a mirrorlist: one base URL a line, in order of
// preference; blank lines and lines starting with # are skipped, and so
// are URLs that are not http or https.
func ParseMirrorlist(b []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if u, ok := upstreamURL(line); ok && !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	return out
}

// upstreamURL returns raw as a base URL ending in "/" when it is an
// absolute http or https URL without credentials, query or fragment.
func upstreamURL(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", false
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
		if u.RawPath != "" {
			u.RawPath += "/"
		}
	}
	return u.String(), true
}
