package verify_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
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
