// Package inflate decompresses gzip (RFC 1952) streams of DEFLATE (RFC
// 1951) data, one and a half times as fast as
// github.com/klauspost/compress/gzip on a primary.xml.gz (which is faster
// than compress/gzip): decompressing a large primary cost a sync more than
// parsing it. It follows libdeflate's design:
// a 64-bit bit buffer refilled eight bytes at a time, Huffman tables
// whose entries say all a symbol needs (literal, length base and extra
// bits), two literals a refill, and matches copied eight bytes at a time
// into a window that the reader's output is taken from.
//
// It accepts and refuses what compress/gzip does (FuzzGzip and
// FuzzInflate compare them, and compress/flate, on any input): the same header checks (magic, method, header
// CRC, name and comment lengths), the same refusal of over-subscribed
// and incomplete Huffman codes (but a single code of one bit), of
// distances beyond the data written and of a stream that ends early, the
// trailer's CRC-32 and size, and concatenated members. Errors are
// compress/gzip's sentinels (gzip.ErrHeader, gzip.ErrChecksum),
// io.ErrUnexpectedEOF, or a *CorruptError.
package inflate

import (
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math/bits"
	gosync "sync"
)

// CorruptError reports DEFLATE data that cannot be decoded, at an offset
// of the compressed input.
type CorruptError struct {
	Offset int64
	What   string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("flate: corrupt input at offset %d: %s", e.Offset, e.What)
}

const (
	windowSize = 32 << 10  // the farthest a match reaches back
	outSize    = 256 << 10 // output decoded between two Reads of the source
	inSize     = 64 << 10
	keepIn     = 8 // input bytes kept before the read position when compacting
	// A match writes up to 258 bytes, and up to 8 more by its word copy
	// (a short one 16 bytes); two literals come before it.
	outSlack = 258 + 8 + 2
)

// Table entries: bits 0-7 are the bits the code takes, 8-11 the extra
// bits that follow it (lengths, distances) or a subtable's index bits,
// 12-15 the kind, 16-31 the value (a literal, a length or distance base,
// a subtable's offset).
const (
	kindInvalid = iota << 12
	kindLiteral
	kindLength
	kindEnd
	kindSub
	kindDist
	kindMask = 0xf << 12
)

const (
	litlenBits = 11
	distBits   = 8
	// Room for the primary table and every subtable: a complete code
	// never needs more (zlib's ENOUGH: 852 and 592 for 9 and 6 primary
	// bits; more primary bits need fewer subtable entries).
	litlenSize = 1<<litlenBits + 1024
	distSize   = 1<<distBits + 512
)

var (
	lengthBase  = [29]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lengthExtra = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase    = [30]uint16{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra   = [30]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
	// codeOrder is the order of the code length code's lengths.
	codeOrder = [19]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}
)

func litlenEntry(sym int) uint32 {
	switch {
	case sym < 256:
		return kindLiteral | uint32(sym)<<16
	case sym == 256:
		return kindEnd
	case sym < 286:
		i := sym - 257
		return kindLength | uint32(lengthExtra[i])<<8 | uint32(lengthBase[i])<<16
	}
	return kindInvalid // 286 and 287: in the fixed code only
}

func distEntry(sym int) uint32 {
	if sym < 30 {
		return kindDist | uint32(distExtra[sym])<<8 | uint32(distBase[sym])<<16
	}
	return kindInvalid // 30 and 31: in the fixed code only
}

// build fills table for the code lengths lens (a canonical Huffman code,
// read LSB first): a primary table indexed by tableBits bits, then the
// subtables of the longer codes. It reports false for a code that
// compress/flate refuses: over-subscribed, or incomplete but for a single
// code of one bit. An empty code builds a table that refuses every
// symbol.
func build(table []uint32, lens []uint8, tableBits uint, entry func(int) uint32) bool {
	var count [16]int
	maxLen := 0
	for _, l := range lens {
		count[l]++
		maxLen = max(maxLen, int(l))
	}
	count[0] = 0
	primary := table[:1<<tableBits]
	if maxLen == 0 {
		clear(primary)
		return true
	}
	var next [16]int
	code := 0
	for l := 1; l <= maxLen; l++ {
		code <<= 1
		next[l] = code
		code += count[l]
	}
	if code != 1<<maxLen && !(code == 1 && maxLen == 1) {
		return false
	}
	if code != 1<<maxLen {
		clear(primary) // the one-bit code's other half is invalid
	}
	// Subtables: for each primary index of a code longer than
	// tableBits, the longest such code with that prefix sets its size.
	var subBits [1 << 11]uint8
	var subOff [1 << 11]uint32
	if maxLen > int(tableBits) {
		nx := next
		for sym, l := range lens {
			if int(l) <= int(tableBits) {
				if l > 0 {
					nx[l]++
				}
				continue
			}
			rev := bits.Reverse16(uint16(nx[l])) >> (16 - l)
			nx[l]++
			p := rev & (1<<tableBits - 1)
			subBits[p] = max(subBits[p], l-uint8(tableBits))
			_ = sym
		}
		off := uint32(1 << tableBits)
		for p := range 1 << tableBits {
			if subBits[p] == 0 {
				continue
			}
			n := uint32(1) << subBits[p]
			if int(off+n) > len(table) {
				return false // cannot happen for a complete code
			}
			subOff[p] = off
			clear(table[off : off+n])
			primary[p] = kindSub | uint32(subBits[p])<<8 | off<<16 | uint32(tableBits)
			off += n
		}
	}
	for sym, l := range lens {
		if l == 0 {
			continue
		}
		rev := uint32(bits.Reverse16(uint16(next[l])) >> (16 - l))
		next[l]++
		e := entry(sym)
		if int(l) <= int(tableBits) {
			e |= uint32(l)
			for i := rev; i < 1<<tableBits; i += 1 << l {
				primary[i] = e
			}
			continue
		}
		p := rev & (1<<tableBits - 1)
		sub := table[subOff[p] : subOff[p]+1<<subBits[p]]
		e |= uint32(l) - uint32(tableBits)
		step := uint32(1) << (uint32(l) - uint32(tableBits))
		for i := rev >> tableBits; i < uint32(len(sub)); i += step {
			sub[i] = e
		}
	}
	return true
}

// fixedTables are the tables of the fixed Huffman code (BTYPE 01).
var fixedTables = gosync.OnceValues(func() (*[litlenSize]uint32, *[distSize]uint32) {
	var lens [288]uint8
	for i := range lens {
		switch {
		case i < 144:
			lens[i] = 8
		case i < 256:
			lens[i] = 9
		case i < 280:
			lens[i] = 7
		default:
			lens[i] = 8
		}
	}
	lt, dt := new([litlenSize]uint32), new([distSize]uint32)
	build(lt[:], lens[:], litlenBits, litlenEntry)
	var dl [32]uint8
	for i := range dl {
		dl[i] = 5
	}
	build(dt[:], dl[:], distBits, distEntry)
	return lt, dt
})

// States of a decoder between two calls of decode.
const (
	stateBlock   = iota // next: a block header
	stateHuffman        // inside a Huffman block
	stateStored         // inside a stored block, stored bytes left
	stateEnd            // the final block ended
)

// decoder decodes one DEFLATE stream after another from its input, into
// a window from which its output is read.
type decoder struct {
	src      io.Reader
	in       []byte // in[ip:len(in)] is unread input
	ip       int
	consumed int64 // input dropped from in, for error offsets
	rerr     error // the source's error, io.EOF at its end
	overread int   // zero bytes put in the bit buffer past the input's end

	bitbuf   uint64
	bitsleft uint // bits of bitbuf that are input; the bits above may be too

	out  []byte // out[:op] is output, the window included
	op   int
	base int // where the current stream's output starts in out (or 0)

	state      int
	final      bool
	storedLeft int
	lt         *[litlenSize]uint32 // the current block's tables
	dt         *[distSize]uint32
	litlen     [litlenSize]uint32
	dist       [distSize]uint32
	lens       [320]uint8
	err        error
}

func (d *decoder) offset() int64 { return d.consumed + int64(d.ip) }

func (d *decoder) corrupt(what string) error {
	return &CorruptError{Offset: d.offset(), What: what}
}

// fill reads more input, keeping the last keepIn bytes before ip (bytes
// in the bit buffer that may be given back). It returns false when there
// is no more (d.rerr is then set).
func (d *decoder) fill() bool {
	if d.rerr != nil {
		return false
	}
	if d.ip > keepIn {
		drop := d.ip - keepIn
		n := copy(d.in, d.in[drop:])
		d.in = d.in[:n]
		d.ip -= drop
		d.consumed += int64(drop)
	}
	for range 100 {
		n, err := d.src.Read(d.in[len(d.in):cap(d.in)])
		d.in = d.in[:len(d.in)+n]
		if err != nil {
			d.rerr = err
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
	d.rerr = io.ErrNoProgress
	return false
}

// srcErr is the error for input that ended early, or the source's error.
func (d *decoder) srcErr() error {
	if d.rerr == io.EOF || d.rerr == nil {
		return io.ErrUnexpectedEOF
	}
	return d.rerr
}

// refillSlow fills the bit buffer to 56 to 63 bits a byte at a time,
// reading the source for more input; past its end it puts in zero bytes
// (overread), and fails once more of them are in than the bit buffer
// holds (some were used as input).
func (d *decoder) refillSlow() error {
	for d.bitsleft < 56 {
		if d.ip == len(d.in) && !d.fill() {
			if d.rerr != io.EOF {
				return d.srcErr()
			}
			d.overread++
			if d.overread > 8 {
				return io.ErrUnexpectedEOF
			}
			d.bitsleft += 8
			continue
		}
		if len(d.in)-d.ip >= 8 {
			d.refill()
			return nil
		}
		d.bitbuf |= uint64(d.in[d.ip]) << d.bitsleft
		d.ip++
		d.bitsleft += 8
	}
	return nil
}

// refill fills the bit buffer to at least 56 bits from eight bytes of
// input, which must be there.
func (d *decoder) refill() {
	d.bitbuf |= binary.LittleEndian.Uint64(d.in[d.ip:]) << (d.bitsleft & 63)
	d.ip += int(63-d.bitsleft) >> 3
	d.bitsleft |= 56
}

// need makes sure the bit buffer holds at least n (≤ 56) bits.
func (d *decoder) need(n uint) error {
	if d.bitsleft >= n {
		return nil
	}
	if len(d.in)-d.ip >= 8 {
		d.refill()
		return nil
	}
	return d.refillSlow()
}

// take returns the next n bits, which must be in the bit buffer.
func (d *decoder) take(n uint) uint32 {
	v := uint32(d.bitbuf & (1<<n - 1))
	d.bitbuf >>= n
	d.bitsleft -= n
	return v
}

// giveBack drops the bits up to the next byte boundary and returns the
// whole bytes left in the bit buffer to the input. It fails when the bit
// buffer held fewer input bytes than that (the stream ended early).
func (d *decoder) giveBack() error {
	d.bitsleft &^= 7
	n := int(d.bitsleft >> 3)
	if d.overread > n {
		return io.ErrUnexpectedEOF
	}
	d.ip -= n - d.overread
	d.overread, d.bitbuf, d.bitsleft = 0, 0, 0
	return nil
}

// startStream starts a DEFLATE stream: no match reaches before it.
func (d *decoder) startStream() {
	d.state, d.final, d.base = stateBlock, false, d.op
}

// slide drops the output that no match can reach any more, the caller
// having read it: all but the last windowSize bytes.
func (d *decoder) slide() {
	if drop := d.op - windowSize; drop > 0 {
		copy(d.out, d.out[drop:d.op])
		d.op -= drop
		d.base = max(d.base-drop, 0)
	}
}

// decode decodes until there is new output in the window or the stream
// ends. It returns the decoder's error (sticky).
func (d *decoder) decode() error {
	if d.err != nil {
		return d.err
	}
	start := d.op
	for d.op == start && d.state != stateEnd {
		var err error
		switch d.state {
		case stateBlock:
			err = d.blockHeader()
		case stateHuffman:
			err = d.huffman()
		case stateStored:
			err = d.stored()
		}
		if err != nil {
			d.err = err
			return err
		}
	}
	return nil
}

// blockHeader reads a block's header (and a dynamic block's code).
func (d *decoder) blockHeader() error {
	if d.final {
		d.state = stateEnd
		return d.giveBack()
	}
	if err := d.need(3); err != nil {
		return err
	}
	h := d.take(3)
	d.final = h&1 != 0
	switch h >> 1 {
	case 0:
		if err := d.giveBack(); err != nil {
			return err
		}
		for len(d.in)-d.ip < 4 {
			if !d.fill() {
				return d.srcErr()
			}
		}
		n := binary.LittleEndian.Uint16(d.in[d.ip:])
		nn := binary.LittleEndian.Uint16(d.in[d.ip+2:])
		if n != ^nn {
			return d.corrupt("stored block length does not match its complement")
		}
		d.ip += 4
		d.storedLeft = int(n)
		d.state = stateStored
	case 1:
		lt, dt := fixedTables()
		d.lt, d.dt = lt, dt
		d.state = stateHuffman
	case 2:
		if err := d.dynamic(); err != nil {
			return err
		}
		d.lt, d.dt = &d.litlen, &d.dist
		d.state = stateHuffman
	default:
		return d.corrupt("reserved block type")
	}
	return nil
}

// dynamic reads the code of a dynamic Huffman block.
func (d *decoder) dynamic() error {
	if err := d.need(14); err != nil {
		return err
	}
	nlit := int(d.take(5)) + 257
	ndist := int(d.take(5)) + 1
	nclen := int(d.take(4)) + 4
	if nlit > 286 || ndist > 30 {
		return d.corrupt("too many codes")
	}
	var clens [19]uint8
	for i := range nclen {
		if err := d.need(3); err != nil {
			return err
		}
		clens[codeOrder[i]] = uint8(d.take(3))
	}
	var ct [1 << 7]uint32
	if !build(ct[:], clens[:], 7, func(sym int) uint32 { return kindLiteral | uint32(sym)<<16 }) {
		return d.corrupt("bad code length code")
	}
	lens := d.lens[:nlit+ndist]
	for i := 0; i < len(lens); {
		if err := d.need(7 + 7); err != nil {
			return err
		}
		e := ct[d.bitbuf&(1<<7-1)]
		n := uint(e & 0xff)
		if n == 0 {
			return d.corrupt("invalid code length symbol")
		}
		d.take(n)
		sym := e >> 16
		if sym < 16 {
			lens[i] = uint8(sym)
			i++
			continue
		}
		var rep int
		var v uint8
		switch sym {
		case 16:
			if i == 0 {
				return d.corrupt("repeat of no previous length")
			}
			v = lens[i-1]
			rep = 3 + int(d.take(2))
		case 17:
			rep = 3 + int(d.take(3))
		default:
			rep = 11 + int(d.take(7))
		}
		if i+rep > len(lens) {
			return d.corrupt("code lengths repeated past their end")
		}
		for range rep {
			lens[i] = v
			i++
		}
	}
	if !build(d.litlen[:], lens[:nlit], litlenBits, litlenEntry) ||
		!build(d.dist[:], lens[nlit:], distBits, distEntry) {
		return d.corrupt("bad Huffman code")
	}
	return nil
}

// stored copies a stored block's bytes.
func (d *decoder) stored() error {
	for d.storedLeft > 0 && d.op < len(d.out) {
		if d.ip == len(d.in) && !d.fill() {
			return d.srcErr()
		}
		n := copy(d.out[d.op:min(len(d.out), d.op+d.storedLeft)], d.in[d.ip:])
		d.op += n
		d.ip += n
		d.storedLeft -= n
	}
	if d.storedLeft == 0 {
		d.state = stateBlock
	}
	return nil
}

// huffman decodes a Huffman block's symbols until the block ends or the
// window has too little room left for one more.
func (d *decoder) huffman() error {
	bitbuf, bitsleft := d.bitbuf, d.bitsleft
	in, ip := d.in, d.ip
	out, op := d.out, d.op
	lt, dt := d.lt, d.dt
	const lmask, dmask = 1<<litlenBits - 1, 1<<distBits - 1
	var err error
	for {
		if len(out)-op < outSlack {
			break
		}
		// Refill: 56 bits at least, enough for a literal and a match, or
		// two literals.
		if len(in)-ip >= 8 {
			bitbuf |= binary.LittleEndian.Uint64(in[ip:]) << (bitsleft & 63)
			ip += int(63-bitsleft) >> 3
			bitsleft |= 56
		} else {
			d.bitbuf, d.bitsleft, d.ip = bitbuf, bitsleft, ip
			err = d.refillSlow()
			bitbuf, bitsleft, in, ip = d.bitbuf, d.bitsleft, d.in, d.ip
			if err != nil {
				break
			}
		}
		e := lt[bitbuf&lmask]
		if e&kindMask == kindSub {
			bitbuf >>= litlenBits
			bitsleft -= litlenBits
			e = lt[(e>>16)+uint32(bitbuf)&(1<<(e>>8&0xf)-1)]
		}
		n := uint(e & 0xff)
		bitbuf >>= n
		bitsleft -= n
		if e&kindMask == kindLiteral {
			out[op] = byte(e >> 16)
			op++
			// A second literal needs no refill: 41 bits are left.
			e = lt[bitbuf&lmask]
			if e&kindMask == kindSub {
				bitbuf >>= litlenBits
				bitsleft -= litlenBits
				e = lt[(e>>16)+uint32(bitbuf)&(1<<(e>>8&0xf)-1)]
			}
			n = uint(e & 0xff)
			bitbuf >>= n
			bitsleft -= n
			if e&kindMask == kindLiteral {
				out[op] = byte(e >> 16)
				op++
				continue
			}
			// A match after a literal: 26 bits may be left, too few.
			if len(in)-ip >= 8 {
				bitbuf |= binary.LittleEndian.Uint64(in[ip:]) << (bitsleft & 63)
				ip += int(63-bitsleft) >> 3
				bitsleft |= 56
			} else {
				d.bitbuf, d.bitsleft, d.ip = bitbuf, bitsleft, ip
				err = d.refillSlow()
				bitbuf, bitsleft, in, ip = d.bitbuf, d.bitsleft, d.in, d.ip
				if err != nil {
					break
				}
			}
		}
		switch e & kindMask {
		case kindLength:
		case kindEnd:
			d.state = stateBlock
			d.bitbuf, d.bitsleft, d.ip, d.op = bitbuf, bitsleft, ip, op
			return nil
		default:
			err = d.corrupt("invalid literal/length symbol")
		}
		if err != nil {
			break
		}
		x := uint(e >> 8 & 0xf)
		length := int(e>>16) + int(bitbuf&(1<<x-1))
		bitbuf >>= x
		bitsleft -= x
		e = dt[bitbuf&dmask]
		if e&kindMask == kindSub {
			bitbuf >>= distBits
			bitsleft -= distBits
			e = dt[(e>>16)+uint32(bitbuf)&(1<<(e>>8&0xf)-1)]
		}
		if e&kindMask != kindDist {
			err = d.corrupt("invalid distance symbol")
			break
		}
		n = uint(e & 0xff)
		bitbuf >>= n
		bitsleft -= n
		x = uint(e >> 8 & 0xf)
		dist := int(e>>16) + int(bitbuf&(1<<x-1))
		bitbuf >>= x
		bitsleft -= x
		if dist > op-d.base {
			err = d.corrupt("distance beyond the output")
			break
		}
		src := op - dist
		switch {
		case dist >= length:
			if length <= 16 {
				// Short matches are most: two words, not a call.
				binary.LittleEndian.PutUint64(out[op:], binary.LittleEndian.Uint64(out[src:]))
				binary.LittleEndian.PutUint64(out[op+8:], binary.LittleEndian.Uint64(out[src+8:]))
			} else {
				copy(out[op:op+length], out[src:src+length])
			}
		case dist >= 8:
			// Eight bytes at a time: each read is at least eight bytes
			// behind the write, and the last may write past the match
			// into the slack.
			for i := 0; i < length; i += 8 {
				binary.LittleEndian.PutUint64(out[op+i:], binary.LittleEndian.Uint64(out[src+i:]))
			}
		case dist == 1:
			b := out[src]
			s := out[op : op+length]
			for i := range s {
				s[i] = b
			}
		default:
			s := out[src : op+length]
			for i := dist; i < len(s); i++ {
				s[i] = s[i-dist]
			}
		}
		op += length
	}
	d.bitbuf, d.bitsleft, d.ip, d.op = bitbuf, bitsleft, ip, op
	return err
}

// Reader decompresses a gzip stream, one member after another.
type Reader struct {
	d    decoder
	rp   int // d.out[rp:d.op] is output not read yet
	crc  uint32
	size uint32
	err  error
}

var _ io.Reader = (*Reader)(nil)

// NewReader returns a reader of the decompressed content of the gzip
// stream r. It reads the first member's header (io.EOF for an empty r).
func NewReader(r io.Reader) (*Reader, error) {
	z := &Reader{}
	z.d.src = r
	z.d.in = make([]byte, 0, inSize)
	z.d.out = make([]byte, windowSize+outSize)
	if err := z.header(); err != nil {
		return nil, err
	}
	return z, nil
}

// readFull reads len(b) bytes of input, past what the decoder has used,
// as io.ReadFull does: io.EOF if there were none, io.ErrUnexpectedEOF if
// there were some but not enough.
func (z *Reader) readFull(b []byte) error {
	d := &z.d
	for i := 0; i < len(b); {
		if d.ip == len(d.in) && !d.fill() {
			if d.rerr == io.EOF && i > 0 {
				return io.ErrUnexpectedEOF
			}
			return d.rerr
		}
		n := copy(b[i:], d.in[d.ip:])
		d.ip += n
		i += n
	}
	return nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// header reads a member's header, as compress/gzip does.
func (z *Reader) header() error {
	var buf [10]byte
	if err := z.readFull(buf[:]); err != nil {
		return err // io.EOF: no more members
	}
	if buf[0] != 0x1f || buf[1] != 0x8b || buf[2] != 8 {
		return gzip.ErrHeader
	}
	flg := buf[3]
	digest := crc32.ChecksumIEEE(buf[:])
	if flg&4 != 0 { // FEXTRA
		var xl [2]byte
		if err := z.readFull(xl[:]); err != nil {
			return noEOF(err)
		}
		digest = crc32.Update(digest, crc32.IEEETable, xl[:])
		extra := make([]byte, binary.LittleEndian.Uint16(xl[:]))
		if err := z.readFull(extra); err != nil {
			return noEOF(err)
		}
		digest = crc32.Update(digest, crc32.IEEETable, extra)
	}
	for _, f := range []byte{8, 16} { // FNAME, FCOMMENT
		if flg&f == 0 {
			continue
		}
		var s [512]byte
		for i := 0; ; i++ {
			if i == len(s) {
				return gzip.ErrHeader
			}
			if err := z.readFull(s[i : i+1]); err != nil {
				return noEOF(err)
			}
			if s[i] == 0 {
				digest = crc32.Update(digest, crc32.IEEETable, s[:i+1])
				break
			}
		}
	}
	if flg&2 != 0 { // FHCRC
		var hc [2]byte
		if err := z.readFull(hc[:]); err != nil {
			return noEOF(err)
		}
		if binary.LittleEndian.Uint16(hc[:]) != uint16(digest) {
			return gzip.ErrHeader
		}
	}
	z.crc, z.size = 0, 0
	z.d.startStream()
	return nil
}

// Read reads decompressed bytes. It returns io.EOF after the last
// member's trailer checked out.
func (z *Reader) Read(p []byte) (int, error) {
	d := &z.d
	for z.rp == d.op {
		if z.err != nil {
			return 0, z.err
		}
		if d.state == stateEnd {
			z.err = z.trailer()
			continue
		}
		if len(d.out)-d.op < outSlack {
			d.slide()
		}
		z.rp = d.op
		// Output decoded before an error is read first.
		z.err = d.decode()
	}
	n := copy(p, d.out[z.rp:d.op])
	z.crc = crc32.Update(z.crc, crc32.IEEETable, p[:n])
	z.size += uint32(n)
	z.rp += n
	return n, nil
}

// trailer checks a member's trailer and starts the next member, if any.
func (z *Reader) trailer() error {
	var t [8]byte
	if err := z.readFull(t[:]); err != nil {
		return noEOF(err)
	}
	if binary.LittleEndian.Uint32(t[:4]) != z.crc || binary.LittleEndian.Uint32(t[4:]) != z.size {
		return gzip.ErrChecksum
	}
	return z.header()
}

// Close does nothing: it is there for an io.ReadCloser.
func (z *Reader) Close() error { return nil }
