package verify_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"runtime"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/repodata"
	"github.com/rpmirror/rpmirror/verify"
)

// BenchmarkRPM checks real packages built by rpmbuild and signed by
// rpmsign, as a sync does after each download: size, checksum, header and
// payload digests, the signature against the test key. One op is one
// package; pkgs/s is reported besides MB/s.
func BenchmarkRPM(b *testing.B) {
	for _, bc := range []struct {
		name string
		size int
	}{{"32KiB", 32 << 10}, {"16MiB", 16 << 20}} {
		b.Run(bc.name, func(b *testing.B) {
			data, want, keyring := signedPackage(b, "bench-"+bc.name, bc.size)
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
// the headers are read into a pooled buffer, not a new one grown several
// times a package. The bound is what a 32 KiB package costs (about 29
// KB, most of it go-rpmutils' copies of the headers) with room to spare;
// before the pool it was about 46 KB, and 77 KB before that.
func TestRPMGarbage(t *testing.T) {
	data, want, keyring := signedPackage(t, "garbage", 32<<10)
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
	if per := (after.TotalAlloc - before.TotalAlloc) / runs; per > 40<<10 {
		t.Errorf("checking a package of %d bytes allocates %d bytes, want at most %d", len(data), per, 40<<10)
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
	data, want, keyring := signedPackage(t, "reads", 2<<20)
	r := &largestRead{r: bytes.NewReader(data)}
	if _, err := verify.RPM(r, want, keyring); err != nil {
		t.Fatal(err)
	}
	if r.largest != verify.PayloadBuffer || r.largest <= 32<<10 {
		t.Errorf("largest read asked: %d bytes, want %d", r.largest, verify.PayloadBuffer)
	}
}

// signedPackage builds one package of size payload bytes with rpmbuild,
// signed by the test key with rpmsign, and returns its bytes, the primary
// entry a repository would give it and the keyring that checks it.
func signedPackage(tb testing.TB, name string, size int) ([]byte, *repodata.Package, openpgp.EntityList) {
	tb.Helper()
	testrepo.RequireTools(tb, "rpmbuild", "rpmsign", "gpg")
	key := testrepo.TestKey(tb)
	keyring, err := verify.LoadKeyring(key.PublicPath)
	if err != nil {
		tb.Fatal(err)
	}
	pkg := testrepo.Pkg{Name: name, Version: "1.0", Release: "1", Size: size, Sign: key}
	data, err := os.ReadFile(testrepo.BuildRPMs(tb, tb.TempDir(), pkg)[0])
	if err != nil {
		tb.Fatal(err)
	}
	sum := sha256.Sum256(data)
	c, err := repodata.NewChecksum("sha256", hex.EncodeToString(sum[:]))
	if err != nil {
		tb.Fatal(err)
	}
	return data, &repodata.Package{Name: name, Arch: "noarch", Epoch: "0", Version: "1.0", Release: "1", Checksum: c, Size: int64(len(data))}, keyring
}
