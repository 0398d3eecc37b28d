package filter

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/rpmirror/rpmirror/internal/benchgen"
	"github.com/rpmirror/rpmirror/internal/readahead"
	"github.com/rpmirror/rpmirror/repodata"
)

// benchPackages is the size of the synthetic repository BenchmarkWrite
// filters, as issue 14 asks.
const benchPackages = 100_000

// benchOrigin writes, once, a synthetic primary.xml.zst of benchPackages
// packages (internal/benchgen, about 250 MB uncompressed) to a temporary
// directory, and returns its path and uncompressed size.
var benchOrigin = sync.OnceValues(func() (string, int64) {
	benchMade = true
	dir, err := os.MkdirTemp("", "rpmirror-filter-bench-")
	if err != nil {
		panic(err)
	}
	p := filepath.Join(dir, "primary.xml.zst")
	f, err := os.Create(p)
	if err != nil {
		panic(err)
	}
	zw, err := zstd.NewWriter(f)
	if err != nil {
		panic(err)
	}
	cw := &hashWriter{h: nopHash{}}
	if err := benchgen.WritePrimary(io.MultiWriter(zw, cw), benchgen.PrimaryOpts{Packages: benchPackages, Revision: 1}); err != nil {
		panic(err)
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	if err := f.Close(); err != nil {
		panic(err)
	}
	return p, cw.n
})

var benchMade bool

// benchOriginPath returns the path of the benchmark's origin if it was
// made.
func benchOriginPath() (string, int64) {
	if !benchMade {
		return "", 0
	}
	return benchOrigin()
}

// BenchmarkFilterWrite filters the primary metadata of a synthetic
// 100,000-package repository (zstd, as createrepo_c >= 1.0 writes it,
// decompressed on another core as the sync engine does), keeping about
// half (x86_64 and noarch, names ending in an odd digit,
// newest 2), and writes it zstd-compressed: decompression, parsing,
// spooling and compression included. MB/s are of uncompressed origin
// primary; peak-RSS-MB is the test process's peak resident memory, which
// holds nothing else large.
func BenchmarkFilterWrite(b *testing.B) {
	p, size := benchOrigin()
	md := &repodata.Repomd{Revision: "1", Data: []repodata.Data{{
		Type: "primary", Href: "repodata/primary.xml.zst", Size: -1, OpenSize: -1, HeaderSize: -1,
		Checksum: repodata.Checksum{Type: "sha256", Value: sha('0')},
	}}}
	rules := Rules{Arch: []string{"x86_64", "noarch"}, Exclude: []string{"*[02468]"}, Newest: 2}
	open := func(d repodata.Data) (io.ReadCloser, error) {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		rc, err := repodata.Decompress(f, p)
		if err != nil {
			f.Close()
			return nil, err
		}
		// As the sync engine opens metadata: decompressed on another core.
		ra := readahead.New(rc, d.OpenSize)
		return struct {
			io.Reader
			io.Closer
		}{ra, closers{ra, f}}, nil
	}
	b.SetBytes(size)
	b.ReportAllocs()
	var kept int
	cpu0 := cpuTime()
	for b.Loop() {
		dir := b.TempDir()
		res, err := Write(context.Background(), md, Options{Rules: rules, Dir: dir, Open: open})
		if err != nil {
			b.Fatal(err)
		}
		kept = res.Counts.Kept
		os.RemoveAll(dir)
	}
	if kept < benchPackages*4/10 || kept > benchPackages*6/10 {
		b.Fatalf("kept %d of %d packages, want about half", kept, benchPackages)
	}
	// On a busy machine wall time says little: the CPU time the process
	// spent (every goroutine, so both cores count) says what it costs.
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(size)*float64(b.N)/cpu/1e6, "MB/cpu-s")
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MB")
	}
	b.ReportMetric(float64(kept), "kept")
}

type closers []io.Closer

func (c closers) Close() error {
	for _, x := range c {
		x.Close()
	}
	return nil
}

// nopHash is a hash.Hash that only counts, for hashWriter.
type nopHash struct{}

func (nopHash) Write(p []byte) (int, error) { return len(p), nil }
func (nopHash) Sum(b []byte) []byte         { return b }
func (nopHash) Reset()                      {}
func (nopHash) Size() int                   { return 0 }
func (nopHash) BlockSize() int              { return 1 }

// cpuTime returns the user and system CPU time of the process so far, in
// seconds.
func cpuTime() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
