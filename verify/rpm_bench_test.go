package verify_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"runtime"
	"testing"

	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/repodata"
	"github.com/rpmirror/rpmirror/verify"
)

// BenchmarkRPM checks real packages built by rpmbuild and signed by
// rpmsign, as a sync does after each download: size, checksum, header and
// payload digests, the signature against the test key. One op is one
// package; pkgs/s is reported besides MB/s.
func BenchmarkRPM(b *testing.B) {
	testrepo.RequireTools(b, "rpmbuild", "rpmsign", "gpg")
	key := testrepo.TestKey(b)
	keyring, err := verify.LoadKeyring(key.PublicPath)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		size int
	}{{"32KiB", 32 << 10}, {"16MiB", 16 << 20}} {
		b.Run(bc.name, func(b *testing.B) {
			pkg := testrepo.Pkg{Name: "bench-" + bc.name, Version: "1.0", Release: "1", Size: bc.size, Sign: key}
			paths := testrepo.BuildRPMs(b, b.TempDir(), pkg)
			data, err := os.ReadFile(paths[0])
			if err != nil {
				b.Fatal(err)
			}
			sum := sha256.Sum256(data)
			c, err := repodata.NewChecksum("sha256", hex.EncodeToString(sum[:]))
			if err != nil {
				b.Fatal(err)
			}
			want := &repodata.Package{Name: pkg.Name, Arch: "noarch", Epoch: "0", Version: "1.0", Release: "1", Checksum: c, Size: int64(len(data))}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				res, err := verify.RPM(bytes.NewReader(data), want, keyring)
				if err != nil {
					b.Fatal(err)
				}
				if len(res.Signatures) == 0 {
					b.Fatal("no signature checked")
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkgs/s")
		})
	}
}

// TestRPMGarbage: checking a small package makes little garbage (a sync
// checks thousands, and each collection of a small heap costs a sync
// CPU): the buffer that feeds the payload to its digests is reused, and
// the headers are read into a buffer sized once, not grown several
// times. The bound is what a 32 KiB package costs (about 46 KB, most of
// it go-rpmutils' copies of the headers) with room to spare; before
// this it was about 77 KB.
func TestRPMGarbage(t *testing.T) {
	testrepo.RequireTools(t, "rpmbuild", "rpmsign", "gpg")
	key := testrepo.TestKey(t)
	keyring, err := verify.LoadKeyring(key.PublicPath)
	if err != nil {
		t.Fatal(err)
	}
	pkg := testrepo.Pkg{Name: "garbage", Version: "1.0", Release: "1", Size: 32 << 10, Sign: key}
	data, err := os.ReadFile(testrepo.BuildRPMs(t, t.TempDir(), pkg)[0])
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	c, err := repodata.NewChecksum("sha256", hex.EncodeToString(sum[:]))
	if err != nil {
		t.Fatal(err)
	}
	want := &repodata.Package{Name: pkg.Name, Arch: "noarch", Epoch: "0", Version: "1.0", Release: "1", Checksum: c, Size: int64(len(data))}
	check := func() {
		if _, err := verify.RPM(bytes.NewReader(data), want, keyring); err != nil {
			t.Fatal(err)
		}
	}
	check() // the pool's buffer, the keyring's lazy state
	const runs = 50
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		check()
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / runs; per > 60<<10 {
		t.Errorf("checking a package of %d bytes allocates %d bytes, want at most %d", len(data), per, 60<<10)
	}
}

// largestRead records the largest read asked of it.
type largestRead struct {
	r       *bytes.Reader
	largest int
}

func (l *largestRead) Read(p []byte) (int, error) {
	l.largest = max(l.largest, len(p))
	return l.r.Read(p)
}

// TestRPMPayloadReads: a large package's payload is read in pieces of
// verify.PayloadBuffer, not 32 KiB: from a download each read is a
// hand-over from the goroutine receiving it, and larger ones took the
// initial sync of 20 x 16 MiB about a tenth faster (issue 10).
func TestRPMPayloadReads(t *testing.T) {
	testrepo.RequireTools(t, "rpmbuild", "rpmsign", "gpg")
	key := testrepo.TestKey(t)
	keyring, err := verify.LoadKeyring(key.PublicPath)
	if err != nil {
		t.Fatal(err)
	}
	pkg := testrepo.Pkg{Name: "reads", Version: "1.0", Release: "1", Size: 2 << 20, Sign: key}
	data, err := os.ReadFile(testrepo.BuildRPMs(t, t.TempDir(), pkg)[0])
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	c, err := repodata.NewChecksum("sha256", hex.EncodeToString(sum[:]))
	if err != nil {
		t.Fatal(err)
	}
	want := &repodata.Package{Name: pkg.Name, Arch: "noarch", Epoch: "0", Version: "1.0", Release: "1", Checksum: c, Size: int64(len(data))}
	r := &largestRead{r: bytes.NewReader(data)}
	if _, err := verify.RPM(r, want, keyring); err != nil {
		t.Fatal(err)
	}
	if r.largest != verify.PayloadBuffer || r.largest <= 32<<10 {
		t.Errorf("largest read asked: %d bytes, want %d", r.largest, verify.PayloadBuffer)
	}
}
