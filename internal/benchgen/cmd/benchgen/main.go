// Command benchgen writes the fixtures of rpmirror's benchmarks
// (scripts/bench-sync.sh, scripts/bench-scale.sh).
//
// Usage:
//
//	benchgen primary [-packages N] [-changed N] [-revision N] DIR
//	    synthetic primary metadata: DIR/gz and DIR/zst, each a repository
//	    of repodata/repomd.xml and its primary.xml (no packages)
//	benchgen rpms [-packages N] [-size BYTES] [-prefix P] [-updated N [-release R]] [-from DIR] DIR
//	    a repository of real packages signed by the committed test key
//	benchgen geoip FILE
//	    a GeoIP country database (.mmdb) placing 10.N.0.0/16 in one of
//	    eight countries on three continents (scripts/bench-serve.sh)
//	benchgen fixed -listen ADDR [-type TYPE] [-server fasthttp|net/http] FILE
//	    serves FILE's bytes as the answer to every GET, through
//	    server.NewServer (the daemon's fasthttp server and limits) and
//	    nothing else: the ceiling of what the daemon's HTTP stack answers
//	    on this machine, measured beside it (scripts/bench-serve.sh);
//	    -server net/http serves it through server.NewHTTPServer instead,
//	    the stack the daemon ran before
//	benchgen hashcost FILE...
//	    prints the CPU seconds this process spends computing, over every
//	    byte of the files, the digests a verifier that checks what rpm
//	    checks cannot avoid: two SHA-256 (the repository's checksum of the
//	    file; the payload digest) and one MD5 (header and payload), each
//	    256 KiB piece through all three while it is in cache, as a
//	    streaming verifier does; the files are read into memory first,
//	    untimed (scripts/bench-sync.sh)
//	benchgen durable DIR FILE...
//	    prints the seconds the least disk work of a publish takes: each
//	    FILE's bytes written to a new file in DIR, all of them and DIR
//	    made durable at once with a small new repomd.xml (an fsync each,
//	    side by side, then DIR's), then the commit (that repomd.xml
//	    renamed into place and DIR made durable again); the files are
//	    read into memory first, untimed; DIR must not exist
//	    (scripts/bench-sync.sh)
package main

import (
	"crypto/md5"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"hash"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/rpmirror/rpmirror/internal/benchgen"
	"github.com/rpmirror/rpmirror/internal/geotest"
	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/server"
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
		return errors.New("want a subcommand: primary, rpms, geoip, fixed, hashcost or durable")
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
	case "fixed":
		listen := fs.String("listen", "127.0.0.1:0", "address to serve on")
		ctype := fs.String("type", "text/plain; charset=utf-8", "Content-Type of the answer")
		stack := fs.String("server", "fasthttp", "HTTP server: fasthttp (the daemon's) or net/http")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return errors.New("want exactly one file argument")
		}
		if *stack != "fasthttp" && *stack != "net/http" {
			return fmt.Errorf("-server %q: want fasthttp or net/http", *stack)
		}
		return serveFixed(*listen, *ctype, *stack, fs.Arg(0))
	case "hashcost":
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			return errors.New("want one or more file arguments")
		}
		cpu, err := hashCost(fs.Args())
		if err != nil {
			return err
		}
		fmt.Printf("%.4f\n", cpu.Seconds())
		return nil
	case "durable":
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if fs.NArg() < 2 {
			return errors.New("want a directory and one or more file arguments")
		}
		d, err := durableCost(fs.Arg(0), fs.Args()[1:])
		if err != nil {
			return err
		}
		fmt.Printf("%.4f\n", d.Seconds())
		return nil
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
	case "index":
		// benchgen index [-files] -o STATE_DIR/index/REPO/MIRROR.idx MIRROR_DIR
		out := fs.String("o", "", "the index file to write (state_dir/index/<repo>/<mirror>.idx)")
		files := fs.Bool("files", false, "also make each package's file in MIRROR_DIR, sparse, of its declared size")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if fs.NArg() != 1 || *out == "" {
			return errors.New("want -o FILE and exactly one directory argument")
		}
		return writeIndex(fs.Arg(0), *out, *files)
	case "rpms":
		var o benchgen.RPMOpts
		fs.IntVar(&o.Packages, "packages", 1000, "packages")
		fs.IntVar(&o.Size, "size", 512, "payload bytes per package")
		fs.StringVar(&o.Prefix, "prefix", "", "package name prefix")
		fs.IntVar(&o.Updated, "updated", 0, "packages at release 2, or -release (a later revision)")
		fs.StringVar(&o.Release, "release", "", "the updated packages' release (default 2)")
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
	return fmt.Errorf("unknown subcommand %q: want primary, index, rpms, geoip, fixed or hashcost", args[0])
}

// serveFixed answers every request on listen with the bytes of file,
// with the headers the daemon's list routes send, as cheaply as the
// server allows: prepared header values, one write.
func serveFixed(listen, ctype, stack, file string) error {
	body, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	fmt.Printf("serving %d bytes on %s with %s\n", len(body), ln.Addr(), stack)
	log := slog.New(slog.DiscardHandler)
	if stack == "net/http" {
		typ, length, noCache := []string{ctype}, []string{strconv.Itoa(len(body))}, []string{"no-cache"}
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hd := w.Header()
			hd["Content-Type"], hd["Content-Length"], hd["Cache-Control"] = typ, length, noCache
			if r.Method != http.MethodHead {
				w.Write(body)
			}
		})
		return server.NewHTTPServer(h, log).Serve(ln)
	}
	cacheControl, noCache := []byte("Cache-Control"), []byte("no-cache")
	h := func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.SetContentType(ctype)
		ctx.Response.Header.SetCanonical(cacheControl, noCache)
		ctx.Response.SetBodyRaw(body)
	}
	return server.NewServer(h, log, server.DefaultLimits).Serve(ln)
}

// hashCost reads files into memory and returns the CPU time (user and
// system, from getrusage) spent computing two SHA-256 digests and one MD5
// digest over all their bytes: the least hashing a verifier that checks
// what rpm checks must do for these files.
func hashCost(files []string) (time.Duration, error) {
	bufs, err := readFiles(files, "its hash cost")
	if err != nil {
		return 0, err
	}
	// One pass over every byte, untimed: memory just filled by a read is
	// slow to hash the first time on this virtual machine (a first pass
	// of SHA-256 over it cost four times a second one, and a plain loop
	// over the bytes did not take that away), where a streaming verifier
	// hashes from a buffer it reuses.
	warm := sha256.New()
	for _, b := range bufs {
		warm.Write(b)
	}
	before, err := cpuTime()
	if err != nil {
		return 0, err
	}
	// A streaming verifier hashes each piece while it is in the CPU's
	// cache, so do the same: each 256 KiB piece through the three
	// digests in turn, not each whole file three times from memory.
	const piece = 256 << 10
	for _, b := range bufs {
		hs := []hash.Hash{sha256.New(), sha256.New(), md5.New()}
		for len(b) > 0 {
			n := min(piece, len(b))
			for _, h := range hs {
				h.Write(b[:n])
			}
			b = b[n:]
		}
		for _, h := range hs {
			_ = h.Sum(nil)
		}
	}
	after, err := cpuTime()
	if err != nil {
		return 0, err
	}
	return after - before, nil
}

// cpuTime is this process's user and system CPU time so far.
func cpuTime() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("reading CPU time: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// durableCost returns the wall time of the disk work no publish that
// keeps rpmirror's promise can skip (docs/design.md, durability): the
// files written to dir and made durable, all at once, before a commit
// makes them visible, and the commit (a rename) made durable. That is
// two rounds of flushes; rpmirror's publish does more (its records).
func durableCost(dir string, files []string) (time.Duration, error) {
	bufs, err := readFiles(files, "its durability cost")
	if err != nil {
		return 0, err
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return 0, err
	}
	// The new repomd.xml is staged with the files, and made durable
	// with them.
	tmp := filepath.Join(dir, ".repomd.xml.tmp")
	bufs = append(bufs, []byte("<repomd/>\n"))
	start := time.Now()
	fds := make([]*os.File, len(bufs))
	for i, b := range bufs {
		name := filepath.Join(dir, strconv.Itoa(i))
		if i == len(bufs)-1 {
			name = tmp
		}
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		if _, err := f.Write(b); err != nil {
			return 0, err
		}
		fds[i] = f
	}
	errs := make(chan error, len(fds))
	for _, f := range fds {
		go func() { errs <- f.Sync() }()
	}
	for range fds {
		if err := <-errs; err != nil {
			return 0, err
		}
	}
	if err := syncPath(dir); err != nil {
		return 0, err
	}
	if err := os.Rename(tmp, filepath.Join(dir, "repomd.xml")); err != nil {
		return 0, err
	}
	if err := syncPath(dir); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// syncPath fsyncs the file or directory at p.
func syncPath(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// readFiles reads files into memory, untimed, before a measurement of
// what; an error names the file.
func readFiles(files []string, what string) ([][]byte, error) {
	bufs := make([][]byte, 0, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("reading %s for %s: %w", f, what, err)
		}
		bufs = append(bufs, b)
	}
	return bufs, nil
}
