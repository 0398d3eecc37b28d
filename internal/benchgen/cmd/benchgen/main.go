// Command benchgen writes the fixtures of rpmirror's benchmarks
// (scripts/bench-sync.sh, scripts/bench-scale.sh).
//
// Usage:
//
//	benchgen primary [-packages N] [-changed N] [-revision N] DIR
//	    synthetic primary metadata: DIR/gz and DIR/zst, each a repository
//	    of repodata/repomd.xml and its primary.xml (no packages)
//	benchgen rpms [-packages N] [-size BYTES] [-prefix P] [-updated N] [-from DIR] DIR
//	    a repository of real packages signed by the committed test key
//	benchgen geoip FILE
//	    a GeoIP country database (.mmdb) placing 10.N.0.0/16 in one of
//	    eight countries on three continents (scripts/bench-serve.sh)
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/rpmirror/rpmirror/internal/benchgen"
	"github.com/rpmirror/rpmirror/internal/geotest"
	"github.com/rpmirror/rpmirror/internal/testrepo"
)

func main() {
	if err := run(os.Args[1:]); errors.Is(err, flag.ErrHelp) {
		return
	} else if err != nil {
		fmt.Fprintln(os.Stderr, "benchgen:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("want a subcommand: primary, rpms or geoip")
	}
	start := time.Now()
	fs := flag.NewFlagSet("benchgen "+args[0], flag.ContinueOnError)
	switch args[0] {
	case "geoip":
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return errors.New("want exactly one file argument")
		}
		countries := []string{"DE", "FR", "US", "JP", "BR", "NL", "CA", "AU"}
		nets := geotest.Networks{}
		for i := range 256 {
			nets[fmt.Sprintf("10.%d.0.0/16", i)] = countries[i%len(countries)]
		}
		b, err := geotest.Build(nets)
		if err != nil {
			return err
		}
		return os.WriteFile(fs.Arg(0), b, 0o644)
	case "primary":
		var o benchgen.PrimaryOpts
		fs.IntVar(&o.Packages, "packages", 100000, "packages in primary.xml")
		fs.IntVar(&o.Changed, "changed", 0, "packages that differ from revision 1 (with -revision 2 or more)")
		fs.IntVar(&o.Revision, "revision", 1, "revision to write")
		fs.IntVar(&o.Files, "files", 0, "average <file> lines per package (0: up to 7, as Fedora)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return errors.New("want exactly one directory argument")
		}
		st, err := benchgen.WriteMetadataRepos(fs.Arg(0), o)
		if err != nil {
			return err
		}
		fmt.Printf("wrote %d packages, primary.xml %d bytes (gz %d, zst %d) in %v: %s\n", o.Packages, st.OpenSize,
			st.Sizes["gz"], st.Sizes["zst"], time.Since(start).Round(time.Millisecond), fs.Arg(0))
		return nil
	case "rpms":
		var o benchgen.RPMOpts
		fs.IntVar(&o.Packages, "packages", 1000, "packages")
		fs.IntVar(&o.Size, "size", 512, "payload bytes per package")
		fs.StringVar(&o.Prefix, "prefix", "", "package name prefix")
		fs.IntVar(&o.Updated, "updated", 0, "packages at release 2 (a second revision)")
		fs.StringVar(&o.From, "from", "", "earlier revision to copy unchanged packages from")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return errors.New("want exactly one directory argument")
		}
		keys, err := testrepo.TestdataPath("keys")
		if err != nil {
			return err
		}
		key, err := testrepo.LoadKey(filepath.Join(keys, "test.sec"), filepath.Join(keys, "test.pub"))
		if err != nil {
			return err
		}
		defer key.Close()
		rel, err := benchgen.BuildRPMRepo(fs.Arg(0), o, key)
		if err != nil {
			return err
		}
		fmt.Printf("built %d packages in %v: %s\n", len(rel), time.Since(start).Round(time.Millisecond), fs.Arg(0))
		return nil
	}
	return fmt.Errorf("unknown subcommand %q: want primary or rpms", args[0])
}
