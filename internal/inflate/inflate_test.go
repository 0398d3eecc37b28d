package inflate

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	kgzip "github.com/klauspost/compress/gzip"
)

// sample returns n bytes of text-like data with repeats near and far.
func sample(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	words := []string{"<rpm:entry name=\"", "libc.so.6()(64bit)", "\"/>\n", "  <file>/usr/share/", "x", "package", "é", "\x00\x01\x02"}
	var b bytes.Buffer
	for b.Len() < n {
		switch r.IntN(4) {
		case 0:
			b.WriteString(words[r.IntN(len(words))])
		case 1:
			b.WriteByte(byte(r.IntN(256)))
		case 2:
			if b.Len() > 10 {
				// a run (distance 1 to 7) or a far repeat
				d := 1 + r.IntN(min(b.Len(), 40000))
				l := 3 + r.IntN(300)
				for i := 0; i < l; i++ {
					b.WriteByte(b.Bytes()[b.Len()-d])
				}
			}
		default:
			for range r.IntN(20) {
				b.WriteByte('a' + byte(r.IntN(3)))
			}
		}
	}
	return b.Bytes()[:n]
}

func gz(t testing.TB, data []byte, level int) []byte {
	var b bytes.Buffer
	w, err := gzip.NewWriterLevel(&b, level)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	w.Close()
	return b.Bytes()
}

// oneByte reads a byte at a time.
type oneByte struct{ r io.Reader }

func (o oneByte) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

func TestMatchesCompressGzip(t *testing.T) {
	for _, tc := range []struct {
		name  string
		data  []byte
		level int
	}{
		{"empty", nil, gzip.DefaultCompression},
		{"small", []byte("hello, hello, hello world"), gzip.DefaultCompression},
		{"stored", sample(200000, 1), gzip.NoCompression},
		{"fixed and dynamic, best speed", sample(1<<20, 2), gzip.BestSpeed},
		{"default", sample(3<<20, 3), gzip.DefaultCompression},
		{"best", sample(1<<20, 4), gzip.BestCompression},
		{"huffman only", sample(1<<20, 5), gzip.HuffmanOnly},
		{"runs", bytes.Repeat([]byte("a"), 1<<20), gzip.DefaultCompression},
	} {
		t.Run(tc.name, func(t *testing.T) {
			z := gz(t, tc.data, tc.level)
			for _, src := range []io.Reader{bytes.NewReader(z), oneByte{bytes.NewReader(z)}} {
				r, err := NewReader(src)
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(r)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, tc.data) {
					t.Fatalf("got %d bytes, want %d", len(got), len(tc.data))
				}
			}
		})
	}
}

func TestMultistream(t *testing.T) {
	a, b := sample(100000, 7), sample(50000, 8)
	z := append(gz(t, a, 6), gz(t, b, 1)...)
	r, err := NewReader(bytes.NewReader(z))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, append(a, b...)) {
		t.Fatal("concatenated members read wrong")
	}
}

func TestErrors(t *testing.T) {
	good := gz(t, sample(300000, 9), 6)
	flip := func(i int) []byte { b := bytes.Clone(good); b[i] ^= 0x40; return b }
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"truncated", good[:len(good)/2], io.ErrUnexpectedEOF},
		{"no trailer", good[:len(good)-8], io.ErrUnexpectedEOF},
		{"bad crc", flip(len(good) - 6), gzip.ErrChecksum},
		{"bad size", flip(len(good) - 2), gzip.ErrChecksum},
		{"bad magic", flip(0), gzip.ErrHeader},
		{"trailing garbage", append(bytes.Clone(good), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), gzip.ErrHeader},
		{"part of a header after", append(bytes.Clone(good), 0x1f, 0x8b), io.ErrUnexpectedEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewReader(bytes.NewReader(tc.in))
			if err == nil {
				_, err = io.ReadAll(r)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// FuzzGzip: whatever the input, the reader gives what compress/gzip
// gives, and fails where it fails.
func FuzzGzip(f *testing.F) {
	for i, l := range []int{0, 1, 6, 9, -2} {
		f.Add(gz(f, sample(3000, uint64(i)), l))
	}
	f.Add([]byte("\x1f\x8b\x08\x1e\x00\x00\x00\x00\x00\x00\x00\x00name\x00comment\x00"))
	f.Fuzz(func(t *testing.T, in []byte) {
		want, werr := readStd(in)
		r, err := NewReader(bytes.NewReader(in))
		var got []byte
		if err == nil {
			got, err = io.ReadAll(io.LimitReader(r, 1<<20))
		}
		if (err == nil) != (werr == nil) {
			t.Fatalf("error %v, compress/gzip's %v", err, werr)
		}
		if err == nil && !bytes.Equal(got, want) {
			t.Fatalf("output differs from compress/gzip's")
		}
	})
}

func readStd(in []byte) ([]byte, error) {
	r, err := gzip.NewReader(bytes.NewReader(in))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(r, 1<<20))
}

func BenchmarkInflate(b *testing.B) {
	data := sample(16<<20, 11)
	z := gz(b, data, 6)
	b.Run("inflate", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			r, _ := NewReader(bytes.NewReader(z))
			io.Copy(io.Discard, r)
		}
	})
	b.Run("klauspost", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			r, _ := kgzip.NewReader(bytes.NewReader(z))
			io.Copy(io.Discard, r)
		}
	})
}

// readFlate decodes the raw DEFLATE stream in.
func readFlate(in []byte) ([]byte, error) {
	d := &decoder{src: bytes.NewReader(in), in: make([]byte, 0, inSize), out: make([]byte, windowSize+outSize)}
	d.startStream()
	var out []byte
	rp := d.op
	for d.state != stateEnd && len(out) < 1<<20 {
		if len(d.out)-d.op < outSlack {
			out = append(out, d.out[rp:d.op]...)
			d.slide()
			rp = d.op
		}
		if err := d.decode(); err != nil {
			return append(out, d.out[rp:d.op]...), err
		}
	}
	return append(out, d.out[rp:d.op]...), nil
}

// FuzzInflate: on any raw DEFLATE stream, the decoder gives what
// compress/flate gives, and fails where it fails.
func FuzzInflate(f *testing.F) {
	for i, l := range []int{0, 1, 6, 9, -2} {
		var b bytes.Buffer
		w, _ := flate.NewWriter(&b, l)
		w.Write(sample(5000, uint64(i)))
		w.Close()
		f.Add(b.Bytes())
	}
	f.Add([]byte{0x01, 0x00, 0x00, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, in []byte) {
		want, werr := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(in)), 1<<20))
		got, err := readFlate(in)
		if len(want) >= 1<<20 || len(got) >= 1<<20 {
			return
		}
		if (err == nil) != (werr == nil) {
			t.Fatalf("error %v, compress/flate's %v", err, werr)
		}
		if err == nil && !bytes.Equal(got, want) {
			t.Fatalf("output differs from compress/flate's")
		}
	})
}
