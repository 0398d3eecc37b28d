// Command mkrepo builds signed RPM repositories with rpmbuild, rpmsign, gpg
// and createrepo_c, using internal/testrepo. It makes throw-away
// repositories for trying rpmirror out and regenerates the fixtures
// committed under testdata/ (see testdata/README.md).
//
// Usage:
//
//	mkrepo [flags] DIR       build a repository in DIR (the demo packages, or -packages N)
//	mkrepo -demo DIR         regenerate DIR/v1 and DIR/v2 (internal/demo/origin)
//	mkrepo -new-keys DIR     generate new test and unknown keys into DIR (testdata/keys)
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/rpmirror/rpmirror/internal/testrepo"
)

func main() {
	if err := run(os.Args[1:]); errors.Is(err, flag.ErrHelp) {
		return
	} else if err != nil {
		fmt.Fprintln(os.Stderr, "mkrepo:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("mkrepo", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage:\n  mkrepo [flags] DIR\n  mkrepo -demo internal/demo/origin\n  mkrepo -new-keys TESTDATA/keys\n\nFlags:\n")
		fs.PrintDefaults()
	}
	var (
		demo     = fs.Bool("demo", false, "regenerate DIR/v1 and DIR/v2 (the demo origin, internal/demo/origin), signed by the committed test key")
		newKeys  = fs.Bool("new-keys", false, "generate a new test key and unknown key into DIR (invalidates the committed repositories)")
		packages = fs.Int("packages", 0, "build this many generated packages instead of the six demo packages")
		size     = fs.Int("size", 0, "payload bytes per generated package (default 512)")
		keyName  = fs.String("key", "test", "signing key: test or unknown (committed keys), new (generated; public key written to DIR/RPM-GPG-KEY-rpmirror), none (unsigned)")
		checksum = fs.String("checksum", "sha256", "metadata checksum: sha1, sha256, sha512")
		compress = fs.String("compress", "gz", "metadata compression: gz, xz, bz2, zstd")
		simple   = fs.Bool("simple-md-filenames", false, "no checksums in metadata file names")
		database = fs.Bool("database", false, "also write sqlite databases")
		extras   = fs.Bool("extras", false, "add group, updateinfo and modules metadata")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("want exactly one directory argument")
	}
	dir := fs.Arg(0)
	start := time.Now()

	switch {
	case *newKeys:
		return writeKeys(dir)
	case *demo:
		key, err := committedKey("test")
		if err != nil {
			return err
		}
		defer key.Close()
		if err := testrepo.WriteDemo(dir, key); err != nil {
			return err
		}
		fmt.Printf("wrote %s and %s in %v\n", filepath.Join(dir, "v1"), filepath.Join(dir, "v2"), time.Since(start).Round(time.Millisecond))
		return nil
	}

	var key *testrepo.Key
	var err error
	switch *keyName {
	case "test", "unknown":
		key, err = committedKey(*keyName)
	case "new":
		key, err = testrepo.GenerateKey("rpmirror generated key <generated@rpmirror.invalid>")
	case "none":
	default:
		return fmt.Errorf("-key %q: want test, unknown, new or none", *keyName)
	}
	if err != nil {
		return err
	}
	defer key.Close()

	pkgs := testrepo.DemoPackages(key)
	if *packages > 0 {
		pkgs = testrepo.ManyPackages(*packages, key)
	}
	if *size > 0 {
		for i := range pkgs {
			pkgs[i].Size = *size
		}
	}
	if _, err := testrepo.Build(dir, pkgs...); err != nil {
		return err
	}
	built := time.Since(start)
	opts := testrepo.RepoOpts{
		ChecksumType: *checksum,
		Compress:     *compress,
		SimpleNames:  *simple,
		NoDatabase:   !*database,
		SignRepomd:   key,
	}
	if *extras {
		scratch, err := os.MkdirTemp("", "mkrepo-extras-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(scratch)
		if opts.Extras, err = testrepo.WriteExtraFiles(scratch, pkgs...); err != nil {
			return err
		}
	}
	if err := testrepo.MakeRepo(dir, opts); err != nil {
		return err
	}
	if *keyName == "new" {
		pub, err := os.ReadFile(key.PublicPath)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "RPM-GPG-KEY-rpmirror"), pub, 0o644); err != nil {
			return err
		}
	}
	signed := "unsigned"
	if key != nil {
		signed = "signed by " + key.ID
	}
	fmt.Printf("built %d packages (%s) in %v, repository in %v: %s\n", len(pkgs), signed,
		built.Round(time.Millisecond), (time.Since(start) - built).Round(time.Millisecond), dir)
	return nil
}

func committedKey(name string) (*testrepo.Key, error) {
	keys, err := testrepo.TestdataPath("keys")
	if err != nil {
		return nil, err
	}
	return testrepo.LoadKey(filepath.Join(keys, name+".sec"), filepath.Join(keys, name+".pub"))
}

// keysCreated is the creation time of the committed keys: in the past, so
// that no verifier with a slow clock sees a key from the future.
var keysCreated = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func writeKeys(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, k := range []struct{ file, uid string }{
		{"test", "rpmirror test key <test@rpmirror.invalid>"},
		{"unknown", "rpmirror unknown key <unknown@rpmirror.invalid>"},
	} {
		key, err := testrepo.GenerateKeyAt(k.uid, keysCreated)
		if err != nil {
			return err
		}
		err = key.ExportSecret(filepath.Join(dir, k.file+".sec"))
		if err == nil {
			var pub []byte
			if pub, err = os.ReadFile(key.PublicPath); err == nil {
				err = os.WriteFile(filepath.Join(dir, k.file+".pub"), pub, 0o644)
			}
		}
		key.Close()
		if err != nil {
			return err
		}
		fmt.Printf("%s: %s %s\n", k.file, key.ID, k.uid)
	}
	return nil
}
