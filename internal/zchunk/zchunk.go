// Package zchunk reads the content of a zchunk file (zchunk_format.txt of
// the zchunk project, version 1): the format createrepo_c writes
// primary.xml.zck and the other *_zck metadata in, which dnf built with
// zchunk reads in place of primary.xml.gz. rpmirror does not read what a
// zchunk file says; it decompresses it to check that it says what the
// primary it verified says (the same uncompressed bytes, by the
// open-checksum repomd.xml gives both).
//
// NewReader parses the header (lead, preface, index, signatures), then
// gives the uncompressed content of the data chunks, one after another,
// the dictionary chunk left out. It is strict and bounded: a header that
// does not parse, an unknown flag, checksum or compression type, lengths
// that do not add up, a chunk that does not decompress to its declared
// length, or bytes past the last chunk are errors (*FormatError), and no
// allocation is larger than what the header declares within fixed bounds.
// Chunk and data checksums are not checked: the caller checks the content
// itself, and the file's checksum from repomd.xml covers every byte.
package zchunk

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
)

// Bounds on what a header may declare. createrepo_c's chunks are a few
// KiB to a few MiB (one a package's entry for large ones); a dictionary is
// at most a few hundred KiB.
const (
	maxHeader      = 64 << 20  // header bytes after the lead
	maxChunks      = 1 << 22   // chunks in the index
	maxChunk       = 256 << 20 // one chunk, compressed or not
	maxDict        = 16 << 20  // the dictionary, uncompressed
	maxSignatures  = 1 << 10   // signatures in the preface
	maxOptional    = 1 << 10   // optional elements in the preface
	flagStreams    = 1 << 0    // chunks carry a stream number
	flagOptional   = 1 << 1    // the preface carries optional elements
	flagUncompSrc  = 1 << 2    // the index carries uncompressed checksums
	compNone       = 0
	compZstd       = 2
	zstdDictMagic  = "\x37\xa4\x30\xec" // a dictionary in zstd's format
	leadMagic      = "\x00ZCK1"
	maxCompIntSize = 10
)

// checksumLen is the length of each checksum type's digest.
var checksumLen = map[uint64]int{0: 20, 1: 32, 2: 64, 3: 16} // SHA-1, SHA-256, SHA-512, SHA-512/128

// FormatError reports a zchunk file that cannot be read: what was wrong,
// and where (the byte offset in the file, when known).
type FormatError struct {
	Offset int64
	Msg    string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("zchunk: at byte %d: %s", e.Offset, e.Msg)
}

// chunk is one entry of the index.
type chunk struct {
	length, size uint64 // compressed, uncompressed
}

// Reader gives the uncompressed content of a zchunk file's data chunks.
type Reader struct {
	r      *countingReader
	comp   uint64
	chunks []chunk // the data chunks, the dictionary left out
	dec    *zstd.Decoder
	buf    []byte // the chunk read, compressed
	out    []byte // what is left of the chunk decompressed
	next   int
	err    error
}

// countingReader counts the bytes read, for errors' offsets.
type countingReader struct {
	r *bufio.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}

// NewReader parses the header of the zchunk file r gives and returns a
// Reader of its content, which the header must declare to be at most max
// bytes in all. Close releases the decompressor.
func NewReader(r io.Reader, max int64) (*Reader, error) {
	cr := &countingReader{r: bufio.NewReaderSize(r, 64<<10)}
	zr := &Reader{r: cr}
	if err := zr.header(); err != nil {
		return nil, err
	}
	var total uint64
	for _, c := range zr.chunks {
		total += c.size // each at most maxChunk, at most maxChunks of them: no overflow
	}
	if max >= 0 && total > uint64(max) {
		zr.Close()
		return nil, zr.fail("the chunks declare %d bytes of content, more than %d", total, max)
	}
	return zr, nil
}

func (z *Reader) fail(format string, args ...any) error {
	return &FormatError{Offset: z.r.n, Msg: fmt.Sprintf(format, args...)}
}

// compInt reads a compressed integer: seven bits a byte, least significant
// first, the last byte's top bit set.
func (z *Reader) compInt(what string) (uint64, error) {
	var v uint64
	for i := 0; i < maxCompIntSize; i++ {
		b, err := z.r.ReadByte()
		if err != nil {
			return 0, z.fail("reading %s: %v", what, noEOF(err))
		}
		if i == maxCompIntSize-1 && b&0x7f > 1 {
			return 0, z.fail("%s does not fit 64 bits", what)
		}
		v |= uint64(b&0x7f) << (7 * i)
		if b&0x80 != 0 {
			return v, nil
		}
	}
	return 0, z.fail("%s does not fit 64 bits", what)
}

// skip reads and drops n bytes.
func (z *Reader) skip(n int64, what string) error {
	if _, err := io.CopyN(io.Discard, z.r, n); err != nil {
		return z.fail("reading %s: %v", what, noEOF(err))
	}
	return nil
}

// noEOF makes an io.EOF within the file what it is: a file cut short.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (z *Reader) header() error {
	magic := make([]byte, len(leadMagic))
	if _, err := io.ReadFull(z.r, magic); err != nil || string(magic) != leadMagic {
		return z.fail("not a zchunk file (no \\0ZCK1 lead)")
	}
	sumType, err := z.compInt("the header checksum type")
	if err != nil {
		return err
	}
	sumLen, ok := checksumLen[sumType]
	if !ok {
		return z.fail("unknown checksum type %d", sumType)
	}
	headerSize, err := z.compInt("the header size")
	if err != nil {
		return err
	}
	if headerSize > maxHeader {
		return z.fail("a header of %d bytes (at most %d)", headerSize, maxHeader)
	}
	if err := z.skip(int64(sumLen), "the header checksum"); err != nil {
		return err
	}
	headerEnd := z.r.n + int64(headerSize)
	// The preface.
	if err := z.skip(int64(sumLen), "the data checksum"); err != nil {
		return err
	}
	flags, err := z.compInt("the flags")
	if err != nil {
		return err
	}
	if flags&^(flagStreams|flagOptional|flagUncompSrc) != 0 {
		return z.fail("unknown flags %#x", flags)
	}
	if z.comp, err = z.compInt("the compression type"); err != nil {
		return err
	}
	if z.comp != compNone && z.comp != compZstd {
		return z.fail("unknown compression type %d", z.comp)
	}
	if flags&flagOptional != 0 {
		n, err := z.compInt("the optional element count")
		if err != nil {
			return err
		}
		if n > maxOptional {
			return z.fail("%d optional elements (at most %d)", n, maxOptional)
		}
		for range n {
			if _, err := z.compInt("an optional element's type"); err != nil {
				return err
			}
			size, err := z.compInt("an optional element's size")
			if err != nil {
				return err
			}
			if size > maxHeader {
				return z.fail("an optional element of %d bytes", size)
			}
			if err := z.skip(int64(size), "an optional element"); err != nil {
				return err
			}
		}
	}
	// The index.
	indexSize, err := z.compInt("the index size")
	if err != nil {
		return err
	}
	if indexSize > maxHeader {
		return z.fail("an index of %d bytes (at most %d)", indexSize, maxHeader)
	}
	indexEnd := z.r.n + int64(indexSize)
	chunkSumType, err := z.compInt("the chunk checksum type")
	if err != nil {
		return err
	}
	chunkSumLen, ok := checksumLen[chunkSumType]
	if !ok {
		return z.fail("unknown chunk checksum type %d", chunkSumType)
	}
	count, err := z.compInt("the chunk count")
	if err != nil {
		return err
	}
	if count == 0 || count > maxChunks {
		return z.fail("%d chunks (want the dictionary's entry and at most %d)", count, maxChunks)
	}
	all := make([]chunk, 0, min(count, 1<<16))
	for i := range count {
		if flags&flagStreams != 0 {
			if _, err := z.compInt("a chunk's stream"); err != nil {
				return err
			}
		}
		if err := z.skip(int64(chunkSumLen), "a chunk's checksum"); err != nil {
			return err
		}
		if flags&flagUncompSrc != 0 {
			if err := z.skip(int64(chunkSumLen), "a chunk's uncompressed checksum"); err != nil {
				return err
			}
		}
		var c chunk
		if c.length, err = z.compInt("a chunk's length"); err != nil {
			return err
		}
		if c.size, err = z.compInt("a chunk's uncompressed length"); err != nil {
			return err
		}
		limit := uint64(maxChunk)
		if i == 0 {
			limit = maxDict
		}
		if c.length > maxChunk || c.size > limit {
			return z.fail("chunk %d: %d bytes, %d uncompressed (at most %d)", i, c.length, c.size, limit)
		}
		if z.comp == compNone && c.length != c.size {
			return z.fail("chunk %d: %d bytes stored uncompressed, %d declared", i, c.length, c.size)
		}
		all = append(all, c)
		if z.r.n > indexEnd {
			return z.fail("the index runs past its declared %d bytes", indexSize)
		}
	}
	if z.r.n != indexEnd {
		return z.fail("the index ends %d bytes before its declared size", indexEnd-z.r.n)
	}
	// The signatures.
	sigs, err := z.compInt("the signature count")
	if err != nil {
		return err
	}
	if sigs > maxSignatures {
		return z.fail("%d signatures (at most %d)", sigs, maxSignatures)
	}
	for range sigs {
		if _, err := z.compInt("a signature's type"); err != nil {
			return err
		}
		size, err := z.compInt("a signature's size")
		if err != nil {
			return err
		}
		if size > maxHeader {
			return z.fail("a signature of %d bytes", size)
		}
		if err := z.skip(int64(size), "a signature"); err != nil {
			return err
		}
	}
	if z.r.n != headerEnd {
		return z.fail("the header ends at byte %d, not at its declared %d", z.r.n, headerEnd)
	}
	dict, rest := all[0], all[1:]
	z.chunks = rest
	if z.comp == compZstd {
		var dictBytes []byte
		if dict.length > 0 {
			if dictBytes, err = z.chunk(dict, nil, "the dictionary"); err != nil {
				return err
			}
		}
		opts := []zstd.DOption{zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxChunk), zstd.WithDecoderLowmem(true)}
		switch {
		case len(dictBytes) == 0:
		case bytes.HasPrefix(dictBytes, []byte(zstdDictMagic)):
			opts = append(opts, zstd.WithDecoderDicts(dictBytes))
		default:
			// Raw content: frames made with it name no dictionary.
			opts = append(opts, zstd.WithDecoderDictRaw(0, dictBytes))
		}
		if z.dec, err = zstd.NewReader(nil, opts...); err != nil {
			return z.fail("the dictionary: %v", err)
		}
	} else if dict.length > 0 {
		if err := z.skip(int64(dict.length), "the dictionary"); err != nil {
			return err
		}
	}
	return nil
}

// chunk reads chunk c (what names it in errors) and returns its content
// decompressed with dec (nil: without a dictionary).
func (z *Reader) chunk(c chunk, dec *zstd.Decoder, what string) ([]byte, error) {
	// Read as it arrives, not into a buffer of the declared length: a
	// header may declare more than the file holds.
	var b bytes.Buffer
	b.Grow(int(min(c.length, 1<<20)))
	if n, err := b.ReadFrom(io.LimitReader(z.r, int64(c.length))); err != nil {
		return nil, z.fail("reading %s: %v", what, err)
	} else if uint64(n) != c.length {
		return nil, z.fail("reading %s: %v", what, io.ErrUnexpectedEOF)
	}
	z.buf = b.Bytes()
	if z.comp == compNone {
		return z.buf, nil
	}
	if dec == nil {
		plain, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxDict))
		if err != nil {
			return nil, err
		}
		defer plain.Close()
		dec = plain
	}
	// Decoded as a stream, at most one byte past the declared length:
	// memory follows what the chunk holds, not what a header or a frame
	// claims.
	if err := dec.Reset(bytes.NewReader(z.buf)); err != nil {
		return nil, z.fail("decompressing %s: %v", what, err)
	}
	var out bytes.Buffer
	out.Grow(int(min(c.size, 1<<20)))
	n, err := out.ReadFrom(io.LimitReader(dec, int64(c.size)+1))
	if err != nil {
		return nil, z.fail("decompressing %s: %v", what, err)
	}
	if uint64(n) != c.size {
		return nil, z.fail("%s decompressed to %d bytes or more, %d declared", what, n, c.size)
	}
	return out.Bytes(), nil
}

// Read gives the content of the data chunks, in order.
func (z *Reader) Read(p []byte) (int, error) {
	for len(z.out) == 0 {
		if z.err != nil {
			return 0, z.err
		}
		if z.next == len(z.chunks) {
			// Nothing may follow the last chunk.
			if _, err := z.r.ReadByte(); err == nil {
				z.err = z.fail("bytes past the last chunk")
			} else if errors.Is(err, io.EOF) {
				z.err = io.EOF
			} else {
				z.err = err
			}
			continue
		}
		c := z.chunks[z.next]
		z.next++
		out, err := z.chunk(c, z.dec, fmt.Sprintf("chunk %d", z.next))
		if err != nil {
			z.err = err
			continue
		}
		z.out = out
	}
	n := copy(p, z.out)
	z.out = z.out[n:]
	return n, nil
}

// Close releases the decompressor.
func (z *Reader) Close() error {
	if z.dec != nil {
		z.dec.Close()
	}
	return nil
}
