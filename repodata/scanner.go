package repodata

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"unicode/utf8"
)

// The scanner below is a small, strict, streaming XML tokenizer written for
// the metadata files of a repository. It exists instead of encoding/xml
// (about 30 MB/s) and github.com/orisano/gosax (fast, but it grows its
// buffer without limit to hold a token and checks little) so that a
// primary.xml of hundreds of megabytes parses at several hundred MB/s in
// bounded memory, and hostile input gets an error.
//
// What it checks: tags, attributes and their quoting, that end tags match
// start tags, one root element with nothing but white space, comments and
// processing instructions around it, that entity and character references
// are well formed and name one of the five predefined entities or a legal
// character, and that comments and CDATA sections are closed. It refuses
// DOCTYPE and every other <!...> declaration, so no entity can be defined.
// It does not check the characters of text it is not asked to decode (the
// caller checks the fields it keeps), nor namespace declarations: names are
// compared as written, prefix included, the way createrepo_c does.
//
// Memory is bounded: a token (tag, run of text, comment, CDATA section,
// processing instruction) longer than maxTokenSize is an error, so the
// buffer never grows beyond about twice that, and elements nest at most
// maxDepth deep.

const (
	maxTokenSize   = 1 << 20  // longest tag, text run, comment, ...
	maxDepth       = 256      // deepest element nesting
	readSize       = 64 << 10 // least free buffer space offered to Read
	initialBufSize = 256 << 10
)

// tokKind is the kind of token xmlScanner.next returns.
type tokKind uint8

const (
	tokEOF   tokKind = iota // end of a well-formed document
	tokStart                // start tag (possibly self-closing)
	tokEnd                  // end tag (not returned for self-closing tags)
	tokText                 // character data or a CDATA section
	tokNone                 // internal: comment, processing instruction
)

// xmlAttr is an attribute of the current start tag: offsets from the
// token's start of its name and raw (still escaped) value. Offsets rather
// than slices, so that recording one writes no pointers.
type xmlAttr struct {
	name, nameEnd, value, valueEnd int32
}

// errNeedMore reports that a token continues past the buffered data.
var errNeedMore = errors.New("need more data")

type xmlScanner struct {
	file string // name for error messages, e.g. "primary.xml"
	r    io.Reader
	buf  []byte // buf[pos:] is unread
	pos  int
	rerr error // sticky error from r, io.EOF at the end

	lines    int  // newlines in the data already dropped from buf
	bomDone  bool // a leading byte order mark has been looked for
	started  bool // a token has been read (the XML declaration must be first)
	rootDone bool // the root element has been closed

	// names of the open elements: element i is names[ends[i-1]:ends[i]]
	names []byte
	ends  []int

	// The current token; the slices point into buf and are valid until
	// the next call to next.
	tokPos      int       // offset in buf of the token
	name        []byte    // tokStart, tokEnd
	attrs       []xmlAttr // tokStart
	selfClosing bool      // tokStart
	text        []byte    // tokText, raw unless cdata
	lastTag     []byte    // the name of the last start tag scanned (a copy)
	cdata       bool      // tokText came from a CDATA section

	// Recording of the raw bytes of an element (see record): while rec
	// is set, the bytes from buf[recStart:] on are kept, in recBuf for
	// those fill drops from buf.
	rec      bool
	recStart int
	recBuf   []byte
}

// maxRecordSize bounds the raw bytes of one recorded element.
const maxRecordSize = 256 << 20

// record starts recording the raw bytes of the document at the token just
// returned (its first byte).
func (s *xmlScanner) record() {
	s.rec = true
	s.recStart = s.tokPos
	s.recBuf = s.recBuf[:0]
}

// recorded stops recording and returns the raw bytes from the start of
// the recorded token to the end of the token just returned. The slice is
// valid until the next call to next.
func (s *xmlScanner) recorded() []byte {
	s.rec = false
	if len(s.recBuf) == 0 {
		return s.buf[s.recStart:s.pos]
	}
	s.recBuf = append(s.recBuf, s.buf[s.recStart:s.pos]...)
	return s.recBuf
}

// line returns the line number of offset pos of buf.
func (s *xmlScanner) line(pos int) int {
	return s.lines + bytes.Count(s.buf[:pos], []byte{'\n'}) + 1
}

// errorf returns an error about the token at offset pos of buf.
func (s *xmlScanner) errorf(pos int, format string, args ...any) error {
	return fmt.Errorf("%s:%d: "+format, append([]any{s.file, s.line(pos)}, args...)...)
}

// eofErrorf is errorf for a document that ends early: the error matches
// io.ErrUnexpectedEOF.
func (s *xmlScanner) eofErrorf(pos int, format string, args ...any) error {
	return truncatedError{s.errorf(pos, format, args...)}
}

// truncatedError is an error about a document that ends early.
type truncatedError struct{ err error }

func (e truncatedError) Error() string        { return e.err.Error() }
func (e truncatedError) Is(target error) bool { return target == io.ErrUnexpectedEOF }

// attr returns the raw value of the current start tag's attribute name.
func (s *xmlScanner) attr(name string) ([]byte, bool) {
	t := s.buf[s.tokPos:]
	for _, a := range s.attrs {
		if string(t[a.name:a.nameEnd]) == name {
			return t[a.value:a.valueEnd], true
		}
	}
	return nil, false
}

// fill reads more data into buf, first dropping what was consumed. It
// returns nil when it read something, io.EOF at the end of the input and
// any other read error wrapped.
func (s *xmlScanner) fill() error {
	if s.rerr != nil {
		return s.readErr()
	}
	if s.rec && s.pos > s.recStart {
		if len(s.recBuf)+s.pos-s.recStart > maxRecordSize {
			return s.errorf(s.recStart, "element longer than %d bytes", maxRecordSize)
		}
		s.recBuf = append(s.recBuf, s.buf[s.recStart:s.pos]...)
		s.recStart = s.pos
	}
	if s.pos > 0 {
		s.recStart -= s.pos
		s.lines += bytes.Count(s.buf[:s.pos], []byte{'\n'})
		n := copy(s.buf, s.buf[s.pos:])
		s.buf = s.buf[:n]
		s.tokPos -= s.pos
		s.pos = 0
	}
	if cap(s.buf)-len(s.buf) < readSize {
		nb := make([]byte, len(s.buf), max(2*cap(s.buf), len(s.buf)+readSize, initialBufSize))
		copy(nb, s.buf)
		s.buf = nb
	}
	for range 100 {
		free := s.buf[len(s.buf):cap(s.buf)]
		n, err := s.r.Read(free)
		if n < 0 || n > len(free) {
			s.rerr = fmt.Errorf("reader returned %d bytes for a %d-byte read", n, len(free))
			return s.readErr()
		}
		s.buf = s.buf[:len(s.buf)+n]
		if err != nil {
			s.rerr = err
			if n > 0 {
				return nil
			}
			return s.readErr()
		}
		if n > 0 {
			return nil
		}
	}
	s.rerr = io.ErrNoProgress
	return s.readErr()
}

func (s *xmlScanner) readErr() error {
	if s.rerr == io.EOF {
		return io.EOF
	}
	return fmt.Errorf("%s: reading: %w", s.file, s.rerr)
}

// more is called when the token at pos continues past the buffered data.
// It reads more data, failing if the token is already too long or the
// input had already ended. When it returns nil, the caller scans the token
// again: with more data, or knowing that the input ends (s.rerr is set).
func (s *xmlScanner) more(what string) error {
	if s.rerr != nil {
		if s.rerr == io.EOF {
			return s.eofErrorf(s.pos, "unexpected end of file inside %s", what)
		}
		return s.readErr()
	}
	if len(s.buf)-s.pos >= maxTokenSize {
		return s.errorf(s.pos, "%s longer than %d bytes", what, maxTokenSize)
	}
	if err := s.fill(); err != nil && err != io.EOF {
		return err
	}
	return nil
}

// next returns the next token. At the end of the input it returns tokEOF
// if the document was complete, else an error wrapping
// io.ErrUnexpectedEOF. Comments and processing instructions are skipped;
// so is white space outside the root element.
func (s *xmlScanner) next() (tokKind, error) {
	for {
		if s.pos >= len(s.buf) {
			if err := s.fill(); err == io.EOF {
				return s.eof()
			} else if err != nil {
				return tokEOF, err
			}
			continue
		}
		b := s.buf[s.pos:]
		if !s.bomDone {
			if len(b) < 3 && s.rerr == nil {
				if err := s.more("byte order mark"); err != nil {
					return tokEOF, err
				}
				continue
			}
			s.bomDone = true
			if bytes.HasPrefix(b, []byte("\xef\xbb\xbf")) {
				s.pos += 3
				continue
			}
		}
		s.tokPos = s.pos
		if b[0] != '<' {
			i, check := scanText(b)
			if i < 0 {
				if s.rerr == nil {
					if err := s.more("text"); err != nil {
						return tokEOF, err
					}
					continue
				}
				if s.rerr != io.EOF {
					return tokEOF, s.readErr()
				}
				if n := len(s.ends); n > 0 {
					return tokEOF, s.eofErrorf(len(s.buf), "unexpected end of file inside <%s>", s.openName(n-1))
				}
				i = len(b) // white space at the end of the input
			}
			text := b[:i]
			s.pos += i
			s.started = true
			if len(s.ends) == 0 {
				for k, c := range text {
					if !asciiSpace[c] {
						return tokEOF, s.errorf(s.tokPos+k, "text outside the root element")
					}
				}
				continue
			}
			if check {
				if err := checkRefs(text); err != nil {
					return tokEOF, s.errorf(s.tokPos, "%v", err)
				}
				if bytes.Contains(text, []byte("]]>")) {
					return tokEOF, s.errorf(s.tokPos, `"]]>" in text`)
				}
			}
			s.text, s.cdata = text, false
			return tokText, nil
		}
		k, n, err := s.markup(b)
		if err == errNeedMore {
			if err := s.more(markupWhat(b)); err != nil {
				return tokEOF, err
			}
			continue
		}
		if err != nil {
			return tokEOF, err
		}
		s.pos += n
		s.started = true
		if k != tokNone {
			return k, nil
		}
	}
}

// scanText returns the index of the '<' that ends the text at the start
// of b, or -1, and whether the text has a '&' or a '>' (which the caller
// must check: text may not contain "]]>"). Most text is the white space
// between two tags: a byte loop finds its end faster than IndexByte.
func scanText(b []byte) (int, bool) {
	check := false
	i := 0
	for n := min(len(b), 32); i < n; i++ {
		if textStop[b[i]] {
			if b[i] == '<' {
				return i, check
			}
			check = true
		}
	}
	if i == len(b) {
		return -1, check
	}
	j := bytes.IndexByte(b[i:], '<')
	end := len(b)
	if j >= 0 {
		end = i + j
	}
	if !check {
		check = bytes.IndexByte(b[i:end], '&') >= 0 || bytes.IndexByte(b[i:end], '>') >= 0
	}
	if j < 0 {
		return -1, check
	}
	return end, check
}

// markupWhat names the markup b starts with, for errors.
func markupWhat(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte("<!--")):
		return "comment"
	case bytes.HasPrefix(b, []byte("<![")):
		return "CDATA section"
	case bytes.HasPrefix(b, []byte("<?")):
		return "processing instruction"
	case bytes.HasPrefix(b, []byte("</")):
		return "end tag"
	}
	return "tag"
}

// eof handles the end of the input.
func (s *xmlScanner) eof() (tokKind, error) {
	if n := len(s.ends); n > 0 {
		return tokEOF, s.eofErrorf(s.pos, "unexpected end of file inside <%s>", s.openName(n-1))
	}
	if !s.rootDone {
		return tokEOF, s.eofErrorf(s.pos, "no root element")
	}
	return tokEOF, nil
}

// openName returns the name of open element i.
func (s *xmlScanner) openName(i int) []byte {
	start := 0
	if i > 0 {
		start = s.ends[i-1]
	}
	return s.names[start:s.ends[i]]
}

// markup scans the markup at the start of b (b[0] == '<'). It returns the
// token kind and length, or errNeedMore.
func (s *xmlScanner) markup(b []byte) (tokKind, int, error) {
	if len(b) < 2 {
		return 0, 0, errNeedMore
	}
	switch b[1] {
	case '/':
		i := bytes.IndexByte(b, '>')
		if i < 0 {
			return 0, 0, errNeedMore
		}
		name := trimRightSpace(b[2:i])
		if !isName(name) {
			return 0, 0, s.errorf(s.pos, "malformed end tag %q", truncate(string(b[:i+1]), 60))
		}
		n := len(s.ends)
		if n == 0 {
			return 0, 0, s.errorf(s.pos, "unexpected end tag </%s>", name)
		}
		if open := s.openName(n - 1); !bytes.Equal(open, name) {
			return 0, 0, s.errorf(s.pos, "end tag </%s> does not match <%s>", name, open)
		}
		s.names = s.names[:len(s.names)-len(name)]
		s.ends = s.ends[:n-1]
		if n == 1 {
			s.rootDone = true
		}
		s.name = name
		return tokEnd, i + 1, nil
	case '?':
		i := bytes.Index(b[2:], []byte("?>"))
		if i < 0 {
			return 0, 0, errNeedMore
		}
		pi := b[2 : 2+i]
		t := 0
		for t < len(pi) && !asciiSpace[pi[t]] {
			t++
		}
		target := pi[:t]
		if !isName(target) {
			return 0, 0, s.errorf(s.pos, "malformed processing instruction")
		}
		if bytes.EqualFold(target, []byte("xml")) {
			if s.started || string(target) != "xml" {
				return 0, 0, s.errorf(s.pos, "XML declaration not at the start of the document")
			}
			if err := checkXMLDecl(pi[t:]); err != nil {
				return 0, 0, s.errorf(s.pos, "XML declaration: %v", err)
			}
		}
		return tokNone, 2 + i + 2, nil
	case '!':
		if len(b) < 9 && s.rerr == nil {
			return 0, 0, errNeedMore // enough to tell a comment, CDATA and DOCTYPE apart
		}
		if bytes.HasPrefix(b, []byte("<!--")) {
			i := bytes.Index(b[4:], []byte("-->"))
			if i < 0 {
				return 0, 0, errNeedMore
			}
			c := b[4 : 4+i]
			if bytes.Contains(c, []byte("--")) || len(c) > 0 && c[len(c)-1] == '-' {
				return 0, 0, s.errorf(s.pos, `"--" inside a comment`)
			}
			return tokNone, 4 + i + 3, nil
		}
		if bytes.HasPrefix(b, []byte("<![CDATA[")) {
			if len(s.ends) == 0 {
				return 0, 0, s.errorf(s.pos, "CDATA section outside the root element")
			}
			i := bytes.Index(b[9:], []byte("]]>"))
			if i < 0 {
				return 0, 0, errNeedMore
			}
			s.text, s.cdata = b[9:9+i], true
			return tokText, 9 + i + 3, nil
		}
		word := b[2:min(len(b), 9)] // what the check above waited for
		for i, c := range word {
			if !nameByte[c] {
				word = word[:i]
				break
			}
		}
		return 0, 0, s.errorf(s.pos, "<!%s> is not allowed (DOCTYPE and entity declarations are refused)", word)
	}
	return s.startTag(b)
}

// startTag scans the start tag at the start of b.
func (s *xmlScanner) startTag(b []byte) (tokKind, int, error) {
	j := 1
	if l := len(s.lastTag); len(b) > l+1 && string(b[1:1+l]) == string(s.lastTag) && !nameByte[b[1+l]] && l > 0 {
		// The name of the start tag before (most are the same as
		// the one before: <rpm:entry .../> after <rpm:entry .../>),
		// checked already.
		j = 1 + l
	} else {
		for j < len(b) && nameByte[b[j]] {
			j++
		}
		if j == len(b) {
			return 0, 0, errNeedMore
		}
		if !nameStart(b[1:j]) {
			return 0, 0, s.errorf(s.pos, "malformed tag %q", truncate(string(b[:min(len(b), j+1)]), 60))
		}
		s.lastTag = append(s.lastTag[:0], b[1:j]...)
	}
	name := b[1:j]
	s.attrs = s.attrs[:0]
	end := 0
	for end == 0 {
		switch c := b[j]; {
		case c == '>':
			end = j + 1
			s.selfClosing = false
		case c == '/':
			if j+1 == len(b) {
				return 0, 0, errNeedMore
			}
			if b[j+1] != '>' {
				return 0, 0, s.errorf(s.pos, "malformed tag <%s>: '/' not followed by '>'", name)
			}
			end = j + 2
			s.selfClosing = true
		case asciiSpace[c]:
			for j++; j < len(b) && asciiSpace[b[j]]; j++ {
			}
			if j == len(b) {
				return 0, 0, errNeedMore
			}
			if b[j] == '>' || b[j] == '/' {
				continue
			}
			k := j
			for j < len(b) && nameByte[b[j]] {
				j++
			}
			if j == len(b) {
				return 0, 0, errNeedMore
			}
			an := b[k:j]
			if !nameStart(an) {
				return 0, 0, s.errorf(s.pos, "malformed attribute in <%s>", name)
			}
			for j < len(b) && asciiSpace[b[j]] {
				j++
			}
			if j == len(b) {
				return 0, 0, errNeedMore
			}
			if b[j] != '=' {
				return 0, 0, s.errorf(s.pos, "attribute %s of <%s> has no value", an, name)
			}
			for j++; j < len(b) && asciiSpace[b[j]]; j++ {
			}
			if j == len(b) {
				return 0, 0, errNeedMore
			}
			q := b[j]
			if q != '"' && q != '\'' {
				return 0, 0, s.errorf(s.pos, "attribute %s of <%s>: value not quoted", an, name)
			}
			// The value ends at the quote; '<' may not appear in it, '&'
			// must start a reference. One pass finds all three, eight
			// bytes at a time while it can.
			vs := j + 1
			refs := false
			qs := uint64(q) * lo8
			for j = vs; ; j++ {
				found := false
				for ; j+8 <= len(b); j += 8 {
					x := binary.LittleEndian.Uint64(b[j:])
					if m := hasZeroByte(x^qs) | hasZeroByte(x^(lo8*'<')) | hasZeroByte(x^(lo8*'&')); m != 0 {
						// The lowest byte flagged is the first stop: a
						// false one only ever follows a true one.
						j += bits.TrailingZeros64(m) >> 3
						found = true
						break
					}
				}
				for !found && j < len(b) && !attrStop[b[j]] {
					j++
				}
				if j == len(b) {
					return 0, 0, errNeedMore
				}
				if c := b[j]; c == q {
					break
				} else if c == '<' {
					return 0, 0, s.errorf(s.pos, "attribute %s of <%s>: '<' in value", an, name)
				} else if c == '&' {
					refs = true
				}
			}
			v := b[vs:j]
			j++
			if j == len(b) {
				return 0, 0, errNeedMore
			}
			if refs {
				if err := checkRefs(v); err != nil {
					return 0, 0, s.errorf(s.pos, "attribute %s of <%s>: %v", an, name, err)
				}
			}
			s.attrs = append(s.attrs, xmlAttr{int32(k), int32(k + len(an)), int32(vs), int32(vs + len(v))})
			if c := b[j]; c != '>' && c != '/' && !asciiSpace[c] {
				return 0, 0, s.errorf(s.pos, "malformed tag <%s>: no space after attribute %s", name, an)
			}
		default:
			return 0, 0, s.errorf(s.pos, "malformed tag <%s>", name)
		}
	}
	n := len(s.ends)
	if n == 0 && s.rootDone {
		return 0, 0, s.errorf(s.pos, "element <%s> after the root element", name)
	}
	if !s.selfClosing {
		if n == maxDepth {
			return 0, 0, s.errorf(s.pos, "elements nested more than %d deep", maxDepth)
		}
		s.names = append(s.names, name...)
		s.ends = append(s.ends, len(s.names))
	} else if n == 0 {
		s.rootDone = true
	}
	s.name = name
	return tokStart, end, nil
}

// skimText skips the content and the end tag of the element whose start
// tag was just returned (not self-closing) when its content is text alone
// and its end tag, written without white space, is buffered: the first
// '<' after the start tag starts that end tag. The text is not checked
// (PrimaryReader.SkimRest). It returns false, having consumed nothing,
// otherwise.
func (s *xmlScanner) skimText() bool {
	b := s.buf[s.pos:]
	i := bytes.IndexByte(b, '<')
	if i < 0 {
		return false
	}
	n := len(s.ends)
	name := s.openName(n - 1)
	e := b[i:]
	if len(e) < len(name)+3 || e[1] != '/' || string(e[2:2+len(name)]) != string(name) || e[2+len(name)] != '>' {
		return false
	}
	s.names = s.names[:len(s.names)-len(name)]
	s.ends = s.ends[:n-1]
	s.pos += i + len(name) + 3
	return true
}

// skip skips the rest of the element whose start tag was just returned.
// The caller must not call it for a self-closing tag.
func (s *xmlScanner) skip() error {
	target := len(s.ends) - 1
	for {
		// What a skipped element mostly holds (white space, start tags
		// and end tags, all buffered) is scanned here, as next scans it
		// but without returning each token; anything else (a comment,
		// a reference, a token that continues past the buffer, an
		// error) is left to next, which scans it again.
		if b := s.buf[s.pos:]; len(b) > 1 && s.bomDone {
			if b[0] != '<' {
				if i, check := scanText(b); i > 0 && !check {
					s.pos += i
					continue
				}
			} else if c := b[1]; c == '/' {
				n := len(s.ends)
				name := s.openName(n - 1)
				if e := 2 + len(name); len(b) > e && b[e] == '>' && string(b[2:e]) == string(name) {
					s.names = s.names[:len(s.names)-len(name)]
					s.ends = s.ends[:n-1]
					s.pos += e + 1
					if n == 1 {
						s.rootDone = true
					}
					if n-1 == target {
						s.name = b[2:e] // as next sets it: the buffer's bytes
						return nil
					}
					continue
				}
			} else if c != '?' && c != '!' {
				s.tokPos = s.pos
				if _, n, err := s.startTag(b); err == nil {
					s.pos += n
					continue
				} else if err != errNeedMore {
					return err
				}
			}
		}
		k, err := s.next()
		if err != nil {
			return err
		}
		if k == tokEnd && len(s.ends) == target {
			return nil
		}
		if k == tokEOF { // cannot happen: eof reports open elements
			return s.eofErrorf(s.pos, "unexpected end of file")
		}
	}
}

// checkXMLDecl checks the attributes of <?xml ...?>: the document must be
// UTF-8 (or say nothing).
func checkXMLDecl(b []byte) error {
	for {
		i := 0
		for i < len(b) && asciiSpace[b[i]] {
			i++
		}
		if i == len(b) {
			return nil
		}
		if i == 0 {
			return errors.New("malformed")
		}
		b = b[i:]
		eq := bytes.IndexByte(b, '=')
		if eq <= 0 {
			return errors.New("malformed")
		}
		name := trimRightSpace(b[:eq])
		b = b[eq+1:]
		for len(b) > 0 && asciiSpace[b[0]] {
			b = b[1:]
		}
		if len(b) == 0 || b[0] != '"' && b[0] != '\'' {
			return errors.New("malformed")
		}
		e := bytes.IndexByte(b[1:], b[0])
		if e < 0 {
			return errors.New("malformed")
		}
		value := b[1 : 1+e]
		b = b[e+2:]
		switch string(name) {
		case "version":
			if string(value) != "1.0" {
				return fmt.Errorf("unsupported version %q", truncate(string(value), 20))
			}
		case "encoding":
			if !bytes.EqualFold(value, []byte("utf-8")) {
				return fmt.Errorf("unsupported encoding %q (only UTF-8 is)", truncate(string(value), 20))
			}
		case "standalone":
		default:
			return errors.New("malformed")
		}
	}
}

var (
	asciiSpace = [256]bool{' ': true, '\t': true, '\n': true, '\r': true}
	// attrStop are the bytes that end a run of an attribute value.
	attrStop = [256]bool{'"': true, '\'': true, '<': true, '&': true}
	// textStop are the bytes that end a run of text, or may.
	textStop = [256]bool{'<': true, '&': true, '>': true}
	// nameByte reports the bytes a name may contain: ASCII letters,
	// digits and "-._:". XML allows more, but no repository metadata
	// uses it.
	nameByte = func() (t [256]bool) {
		for c := 0; c < 256; c++ {
			t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
				c == '-' || c == '.' || c == '_' || c == ':'
		}
		return t
	}()
)

const (
	lo8 = 0x0101010101010101
	hi8 = 0x8080808080808080
)

// hasZeroByte returns non-zero if one of the bytes of x is zero.
func hasZeroByte(x uint64) uint64 {
	return (x - lo8) & ^x & hi8
}

// nameStart reports whether name is non-empty and starts with a byte a
// name may start with.
func nameStart(name []byte) bool {
	if len(name) == 0 {
		return false
	}
	c := name[0]
	return !('0' <= c && c <= '9' || c == '-' || c == '.')
}

// isName reports whether b is an XML name made of ASCII.
func isName(b []byte) bool {
	if !nameStart(b) {
		return false
	}
	for _, c := range b {
		if !nameByte[c] {
			return false
		}
	}
	return true
}

func trimRightSpace(b []byte) []byte {
	for len(b) > 0 && asciiSpace[b[len(b)-1]] {
		b = b[:len(b)-1]
	}
	return b
}

// checkRefs checks the entity and character references in raw text.
func checkRefs(b []byte) error {
	for {
		i := bytes.IndexByte(b, '&')
		if i < 0 {
			return nil
		}
		_, n, err := parseRef(b[i:])
		if err != nil {
			return err
		}
		b = b[i+n:]
	}
}

// maxRefLen bounds the length of a reference, "&" and ";" included.
const maxRefLen = 32

// parseRef parses the reference at the start of b (b[0] == '&') and
// returns the character it stands for and its length.
func parseRef(b []byte) (rune, int, error) {
	end := bytes.IndexByte(b[:min(len(b), maxRefLen)], ';')
	if end < 0 {
		return 0, 0, fmt.Errorf("malformed reference %q", truncate(string(b), 12))
	}
	ref := b[1:end]
	switch string(ref) {
	case "amp":
		return '&', end + 1, nil
	case "lt":
		return '<', end + 1, nil
	case "gt":
		return '>', end + 1, nil
	case "quot":
		return '"', end + 1, nil
	case "apos":
		return '\'', end + 1, nil
	}
	if len(ref) < 2 || ref[0] != '#' {
		return 0, 0, fmt.Errorf("unknown entity %q", b[:end+1])
	}
	digits, base := ref[1:], rune(10)
	if digits[0] == 'x' {
		digits, base = digits[1:], 16
	}
	if len(digits) == 0 {
		return 0, 0, fmt.Errorf("malformed character reference %q", b[:end+1])
	}
	var r rune
	for _, c := range digits {
		var d rune
		switch {
		case '0' <= c && c <= '9':
			d = rune(c - '0')
		case base == 16 && 'a' <= c && c <= 'f':
			d = rune(c-'a') + 10
		case base == 16 && 'A' <= c && c <= 'F':
			d = rune(c-'A') + 10
		default:
			return 0, 0, fmt.Errorf("malformed character reference %q", b[:end+1])
		}
		r = r*base + d
		if r > utf8.MaxRune {
			return 0, 0, fmt.Errorf("character reference %q out of range", b[:end+1])
		}
	}
	if !isXMLChar(r) {
		return 0, 0, fmt.Errorf("character reference %q is not an XML character", b[:end+1])
	}
	return r, end + 1, nil
}

// isXMLChar reports whether r may appear in an XML 1.0 document.
func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0a || r == 0x0d ||
		r >= 0x20 && r <= 0xd7ff ||
		r >= 0xe000 && r <= 0xfffd ||
		r >= 0x10000 && r <= 0x10ffff
}

// appendDecoded appends raw text or an attribute value to dst with
// references replaced and line ends normalized ("\r\n" and "\r" become
// "\n"), as encoding/xml does. With cdata, only line ends are normalized.
// It checks that the result is UTF-8 made of XML characters.
func appendDecoded(dst, raw []byte, cdata bool) ([]byte, error) {
	start := len(dst)
	for len(raw) > 0 {
		i := 0
		for i < len(raw) && raw[i] != '\r' && (cdata || raw[i] != '&') {
			i++
		}
		dst = append(dst, raw[:i]...)
		raw = raw[i:]
		if len(raw) == 0 {
			break
		}
		if raw[0] == '\r' {
			dst = append(dst, '\n')
			raw = raw[1:]
			if len(raw) > 0 && raw[0] == '\n' {
				raw = raw[1:]
			}
			continue
		}
		r, n, err := parseRef(raw)
		if err != nil {
			return dst, err
		}
		dst = utf8.AppendRune(dst, r)
		raw = raw[n:]
	}
	return dst, checkChars(dst[start:])
}

// checkChars checks that b is UTF-8 made of XML characters.
func checkChars(b []byte) error {
	for i := 0; i < len(b); {
		if i+8 <= len(b) {
			// Fast path: eight bytes of printable ASCII.
			x := binary.LittleEndian.Uint64(b[i:])
			if (x-lo8*0x20)&^x&hi8|x&hi8 == 0 {
				i += 8
				continue
			}
		}
		c := b[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				return fmt.Errorf("illegal character %U", rune(c))
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return errors.New("invalid UTF-8")
		}
		if !isXMLChar(r) {
			return fmt.Errorf("illegal character %U", r)
		}
		i += n
	}
	return nil
}
