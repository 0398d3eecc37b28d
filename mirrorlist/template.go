package mirrorlist

import (
	"bytes"
	"strconv"
	"time"
)

// Template is a repository's mirrorlist and metalink cut into pieces, so
// that a server can write its candidate mirrors in a different order for
// every request (see package selection) without rendering the documents
// again: per request it only copies bytes. It is immutable and safe for
// concurrent use. Build one whenever what the documents show changes.
type Template struct {
	lines [][]byte // per candidate: its mirrorlist line; nil when not Usable or a duplicate
	urls  []urlParts
	head  []byte // the metalink up to and including <resources ...>
	tail  []byte // the metalink after the last url
	// The documents for a request left with no usable candidate.
	fallbackText, fallbackMetalink []byte
}

// urlParts is a metalink url element split around its preference value.
type urlParts struct{ before, after []byte }

// sentinel is a mirror URL no real list holds: NewTemplate renders a
// metalink listing it alone and cuts the document around its url
// element, so that the pieces are exactly what Metalink writes.
const sentinel = "https://rpmirror-template.invalid/cut-here/"

// NewTemplate prepares the lists of ms, the candidate mirrors, for current
// and alternates (see Metalink). fallbackText and fallbackMetalink are
// answered when a request's order leaves no usable candidate (a protocol
// no candidate offers, say); they are typically Text and Metalink of no
// mirrors. now is the metalink's pubdate.
func NewTemplate(current File, alternates []File, ms []Mirror, fallbackText, fallbackMetalink []byte, now time.Time) *Template {
	t := &Template{
		lines:            make([][]byte, len(ms)),
		urls:             make([]urlParts, len(ms)),
		fallbackText:     fallbackText,
		fallbackMetalink: fallbackMetalink,
	}
	doc := Metalink(current, alternates, []Mirror{{URL: sentinel}}, "", now)
	start := bytes.Index(doc, []byte("    <url"))
	end := start + bytes.IndexByte(doc[start:], '\n') + 1
	t.head, t.tail = doc[:start:start], doc[end:]

	seen := map[string]bool{}
	for i, m := range ms {
		if !Usable(m.URL) {
			continue
		}
		base := baseURL(m.URL)
		if seen[base] {
			continue
		}
		seen[base] = true
		t.lines[i] = []byte(base + "\n")
		var b bytes.Buffer
		writeURL(&b, base, m.Location, 0)
		el := b.Bytes()
		cut := bytes.Index(el, []byte(`preference="0"`)) + len(`preference="`)
		t.urls[i] = urlParts{before: el[:cut:cut], after: el[cut+1:]}
	}
	return t
}

// Lists reports whether order names a candidate the lists show (one
// with a usable URL, not a duplicate): when it does not, AppendText and
// AppendMetalink answer the fallback.
func (t *Template) Lists(order []int) bool {
	for _, i := range order {
		if t.lines[i] != nil {
			return true
		}
	}
	return false
}

// Len returns the number of candidates.
func (t *Template) Len() int { return len(t.lines) }

// AppendText appends to b the mirrorlist of the candidates order names
// (indices into the Mirrors given to NewTemplate), in that order, and
// returns the extended slice.
func (t *Template) AppendText(b []byte, order []int) []byte {
	n := len(b)
	for _, i := range order {
		b = append(b, t.lines[i]...)
	}
	if len(b) == n {
		return append(b, t.fallbackText...)
	}
	return b
}

// AppendMetalink appends to b the metalink listing the candidates order
// names, in that order, with preferences 100, 99, ... (never below 1), and
// returns the extended slice.
func (t *Template) AppendMetalink(b []byte, order []int) []byte {
	n := len(b)
	b = append(b, t.head...)
	listed := 0
	for _, i := range order {
		u := t.urls[i]
		if u.before == nil {
			continue
		}
		b = append(b, u.before...)
		b = strconv.AppendInt(b, int64(max(100-listed, 1)), 10)
		b = append(b, u.after...)
		listed++
	}
	if listed == 0 {
		return append(b[:n], t.fallbackMetalink...)
	}
	return append(b, t.tail...)
}
