package repodata

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// xzGuard passes an xz file through unchanged while following its
// container format (stream header, block headers, LZMA2 chunk headers,
// index, stream footer, stream padding) without decompressing anything, so
// that it can refuse a block whose LZMA2 dictionary is larger than maxDict
// before the decoder sees that block's header: github.com/ulikunitz/xz
// allocates the whole dictionary a header asks for, up to 4 GiB.
//
// Like that decoder it accepts only blocks with a single LZMA2 filter.
// Checksums are left to the decoder.
type xzGuard struct {
	r       io.Reader
	maxDict int64
	err     error

	state xzState
	buf   [1024]byte // a header being collected; block headers are at most 1024 bytes
	have  int        // bytes in buf
	want  int        // bytes to collect into buf, or to skip
	ctrl  byte       // control byte of the LZMA2 chunk whose header is collected
	check int        // size of the check field of the current stream's blocks
	block int64      // size of the current block so far, for its padding
	index int64      // size of the index so far, for its padding
	// index varints: the record count, then two per record
	varint    uint64
	shift     uint
	haveCount bool
	records   uint64
}

type xzState uint8

const (
	xzStreamHeader  xzState = iota // collect 12 bytes
	xzBlockOrIndex                 // one byte: block header size, or 0 for the index
	xzBlockHeader                  // collect the block header
	xzChunkControl                 // one byte: LZMA2 chunk control
	xzChunkHeader                  // collect the rest of an LZMA2 chunk header
	xzChunkData                    // skip
	xzBlockPadding                 // skip
	xzBlockCheck                   // skip
	xzIndex                        // varints, a byte at a time
	xzIndexPadding                 // skip
	xzIndexCRC                     // skip 4
	xzStreamFooter                 // collect 12 bytes
	xzStreamPadding                // zero bytes, or the next stream's header
)

// xzCheckSize is the size of the check field for each check type.
var xzCheckSize = [16]int{0, 4, 4, 4, 8, 8, 8, 16, 16, 16, 32, 32, 32, 64, 64, 64}

// newXZGuard returns a guard for the xz file r.
func newXZGuard(r io.Reader, maxDict int64) *xzGuard {
	g := &xzGuard{r: r, maxDict: maxDict}
	g.collect(xzStreamHeader, 12)
	return g
}

func (g *xzGuard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.r.Read(p)
	if n > 0 {
		if ferr := g.feed(p[:n]); ferr != nil {
			// Withhold the bytes: the decoder must not see the header.
			g.err = ferr
			return 0, ferr
		}
	}
	return n, err
}

// collect switches to a state that collects n bytes into buf.
func (g *xzGuard) collect(s xzState, n int) {
	g.state, g.have, g.want = s, 0, n
}

// skip switches to a state that skips n bytes, going through the
// transitions of empty skips at once.
func (g *xzGuard) skip(s xzState, n int64) error {
	if n > 1<<40 {
		return errors.New("xz: corrupt header")
	}
	g.state, g.want = s, int(n)
	if n == 0 {
		return g.skipped()
	}
	return nil
}

// skipped is called when a skip state has skipped all its bytes.
func (g *xzGuard) skipped() error {
	switch g.state {
	case xzChunkData:
		g.state = xzChunkControl
	case xzBlockPadding:
		return g.skip(xzBlockCheck, int64(g.check))
	case xzBlockCheck:
		g.state = xzBlockOrIndex
	case xzIndexPadding:
		return g.skip(xzIndexCRC, 4)
	case xzIndexCRC:
		g.collect(xzStreamFooter, 12)
	}
	return nil
}

func (g *xzGuard) feed(b []byte) error {
	for len(b) > 0 {
		switch g.state {
		case xzStreamHeader, xzBlockHeader, xzChunkHeader, xzStreamFooter:
			k := copy(g.buf[g.have:g.want], b)
			g.have += k
			b = b[k:]
			if g.state == xzBlockHeader || g.state == xzChunkHeader {
				g.block += int64(k)
			}
			if g.have == g.want {
				if err := g.collected(); err != nil {
					return err
				}
			}
		case xzChunkData, xzBlockPadding, xzBlockCheck, xzIndexPadding, xzIndexCRC:
			k := min(g.want, len(b))
			g.want -= k
			b = b[k:]
			switch g.state {
			case xzChunkData:
				g.block += int64(k)
			case xzIndexPadding:
				g.index += int64(k)
			}
			if g.want == 0 {
				if err := g.skipped(); err != nil {
					return err
				}
			}
		default:
			c := b[0]
			b = b[1:]
			if err := g.byte(c); err != nil {
				return err
			}
		}
	}
	return nil
}

// byte handles one byte in the one-byte-at-a-time states.
func (g *xzGuard) byte(c byte) error {
	switch g.state {
	case xzBlockOrIndex:
		if c == 0 { // index indicator
			g.state, g.index = xzIndex, 1
			g.varint, g.shift, g.haveCount, g.records = 0, 0, false, 0
			return nil
		}
		g.collect(xzBlockHeader, (int(c)+1)*4)
		g.buf[0], g.have, g.block = c, 1, 1
	case xzChunkControl:
		g.block++
		g.ctrl = c
		switch {
		case c == 0: // end of the LZMA2 data
			return g.skip(xzBlockPadding, (4-g.block%4)%4)
		case c == 1 || c == 2: // uncompressed chunk: 2 bytes of size
			g.collect(xzChunkHeader, 2)
		case c >= 0x80: // LZMA chunk: sizes, and properties after a reset
			n := 4
			if c&0x60 >= 0x40 {
				n = 5
			}
			g.collect(xzChunkHeader, n)
		default:
			return errors.New("xz: invalid LZMA2 chunk")
		}
	case xzIndex:
		g.index++
		if g.shift >= 63 {
			return errors.New("xz: corrupt index")
		}
		g.varint |= uint64(c&0x7f) << g.shift
		g.shift += 7
		if c&0x80 != 0 {
			return nil
		}
		v := g.varint
		g.varint, g.shift = 0, 0
		if !g.haveCount {
			if v > 1<<40 {
				return errors.New("xz: corrupt index")
			}
			g.haveCount, g.records = true, 2*v
		} else {
			g.records--
		}
		if g.records == 0 {
			return g.skip(xzIndexPadding, (4-g.index%4)%4)
		}
	case xzStreamPadding:
		switch c {
		case 0:
		case 0xfd: // the next stream
			g.collect(xzStreamHeader, 12)
			g.buf[0], g.have = c, 1
		default:
			return errors.New("xz: unexpected data after the end of the stream")
		}
	}
	return nil
}

// collected handles a header collected in buf.
func (g *xzGuard) collected() error {
	h := g.buf[:g.have]
	switch g.state {
	case xzStreamHeader:
		if string(h[:6]) != "\xfd7zXZ\x00" || h[6] != 0 || h[7]&0xf0 != 0 {
			return errors.New("xz: corrupt stream header")
		}
		g.check = xzCheckSize[h[7]]
		g.state = xzBlockOrIndex
	case xzBlockHeader:
		if err := g.blockHeader(h); err != nil {
			return err
		}
		g.state = xzChunkControl
	case xzChunkHeader:
		var n int
		if g.ctrl < 0x80 {
			n = int(binary.BigEndian.Uint16(h[0:2])) + 1
		} else {
			n = int(binary.BigEndian.Uint16(h[2:4])) + 1
		}
		return g.skip(xzChunkData, int64(n))
	case xzStreamFooter:
		if string(h[10:12]) != "YZ" {
			return errors.New("xz: corrupt stream footer")
		}
		g.state = xzStreamPadding
	}
	return nil
}

// blockHeader checks a block header: one LZMA2 filter with a dictionary
// no larger than maxDict.
func (g *xzGuard) blockHeader(h []byte) error {
	flags := h[1]
	if flags&0x3c != 0 {
		return errors.New("xz: corrupt block header")
	}
	if flags&3 != 0 {
		return errors.New("xz: unsupported filter chain (only LZMA2 alone is)")
	}
	body := h[2 : len(h)-4] // without the CRC32
	next := func() (uint64, bool) {
		v, n := binary.Uvarint(body)
		if n <= 0 {
			return 0, false
		}
		body = body[n:]
		return v, true
	}
	for _, present := range []bool{flags&0x40 != 0, flags&0x80 != 0} { // sizes
		if present {
			if _, ok := next(); !ok {
				return errors.New("xz: corrupt block header")
			}
		}
	}
	id, ok1 := next()
	size, ok2 := next()
	if !ok1 || !ok2 || size > uint64(len(body)) {
		return errors.New("xz: corrupt block header")
	}
	if id != 0x21 || size != 1 {
		return fmt.Errorf("xz: unsupported filter %#x (only LZMA2 is)", id)
	}
	code := body[0]
	if code > 40 {
		return errors.New("xz: corrupt LZMA2 dictionary size")
	}
	dict := int64(1)<<32 - 1
	if code < 40 {
		dict = int64(2|code&1) << (code/2 + 11)
	}
	if dict > g.maxDict {
		return fmt.Errorf("xz: LZMA2 dictionary of %d MiB is larger than the limit of %d MiB", dict>>20, g.maxDict>>20)
	}
	return nil
}
