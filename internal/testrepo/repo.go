package testrepo

import (
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// RepoOpts says how CreateRepo writes repository metadata. The zero value
// gives createrepo_c 0.17's defaults: sha256, gzip, checksums in file
// names, sqlite databases.
type RepoOpts struct {
	// ChecksumType is sha1, sha256 (default) or sha512: createrepo_c -s.
	ChecksumType string
	// Compress is gz (default), xz, bz2 or zstd. createrepo_c 0.17 cannot
	// write zstd; for zstd primary, filelists and other are recompressed
	// here to .zst, as createrepo_c >= 1.0 (Fedora 39+, EL10) writes them by
	// default, and sqlite databases and extras stay as createrepo_c wrote
	// them (bz2, gz).
	Compress string
	// SimpleNames writes primary.xml.gz rather than <checksum>-primary.xml.gz
	// (--simple-md-filenames).
	SimpleNames bool
	// NoDatabase leaves out the sqlite databases (--no-database).
	NoDatabase bool
	// Revision sets repomd.xml's <revision>; default the current time.
	Revision string
	// TimestampFromRevision sets every <timestamp> in repomd.xml (and the
	// metadata files' modification times) to Revision, which must then be
	// a Unix time (--set-timestamp-to-revision).
	TimestampFromRevision bool
	// Extras are added metadata: group through createrepo_c -g (which
	// writes group and group_gz), every other type through modifyrepo_c.
	Extras []Extra
	// Args are more createrepo_c arguments, for example the repository's
	// tags: --content binary-x86_64 --repo h2repo --distro "cpe:/o:h2:h2:1,H2 Linux".
	Args []string
	// SignRepomd, when set, writes repodata/repomd.xml.asc (an armored
	// detached signature) and repodata/repomd.xml.key (the armored public
	// key), checked by dnf with repo_gpgcheck=1.
	SignRepomd *Key
}

// Extra is one additional metadata file for a repository.
type Extra struct {
	// Type is the repomd data type: group, updateinfo, modules, ...
	Type string
	// File is the uncompressed source file. Its base name names the
	// published file (updateinfo.xml becomes <checksum>-updateinfo.xml.gz).
	File string
}

var compressNames = map[string]string{
	"": "gz", "gz": "gz", "gzip": "gz",
	"xz":  "xz",
	"bz2": "bz2", "bzip2": "bz2",
	"zstd": "zstd", "zst": "zstd",
}

// MakeRepo runs createrepo_c on dir (replacing any repodata/ there), adds
// opts.Extras, recompresses to zstd and signs repomd.xml as opts say.
func MakeRepo(dir string, opts RepoOpts) error {
	if err := needTools("createrepo_c"); err != nil {
		return err
	}
	sum := opts.ChecksumType
	if sum == "" {
		sum = "sha256"
	}
	if newHash(sum) == nil {
		return fmt.Errorf("checksum type %q: want sha1, sha256 or sha512", opts.ChecksumType)
	}
	comp, ok := compressNames[opts.Compress]
	if !ok {
		return fmt.Errorf("compression %q: want gz, xz, bz2 or zstd", opts.Compress)
	}
	crComp := comp
	if comp == "zstd" {
		crComp = "gz" // recompressed below
	}
	args := []string{"--quiet", "--checksum", sum, "--general-compress-type", crComp}
	if comp != "zstd" {
		args = append(args, "--compress-type", crComp)
	}
	if opts.SimpleNames {
		args = append(args, "--simple-md-filenames")
	}
	if opts.NoDatabase {
		args = append(args, "--no-database")
	} else {
		args = append(args, "--database")
	}
	if opts.Revision != "" {
		args = append(args, "--revision", opts.Revision)
	}
	if opts.TimestampFromRevision {
		args = append(args, "--set-timestamp-to-revision")
	}
	var others []Extra
	for _, e := range opts.Extras {
		if e.Type == "group" {
			abs, err := filepath.Abs(e.File)
			if err != nil {
				return err
			}
			args = append(args, "--groupfile", abs)
		} else {
			others = append(others, e)
		}
	}
	if err := os.RemoveAll(filepath.Join(dir, "repodata")); err != nil {
		return fmt.Errorf("removing old repodata: %w", err)
	}
	args = append(args, opts.Args...)
	args = append(args, dir)
	if _, err := run("", nil, "createrepo_c", args...); err != nil {
		return fmt.Errorf("creating repository %s: %w", dir, err)
	}
	repodata := filepath.Join(dir, "repodata")
	for _, e := range others {
		if err := needTools("modifyrepo_c"); err != nil {
			return err
		}
		margs := []string{"--mdtype", e.Type, "--checksum", sum, "--compress-type", crComp}
		if opts.SimpleNames {
			margs = append(margs, "--simple-md-filenames")
		}
		margs = append(margs, e.File, repodata)
		if _, err := run("", nil, "modifyrepo_c", margs...); err != nil {
			return fmt.Errorf("adding %s metadata to %s: %w", e.Type, dir, err)
		}
	}
	if comp == "zstd" {
		if err := recompressZstd(repodata, !opts.SimpleNames, "primary", "filelists", "other"); err != nil {
			return err
		}
	}
	if opts.TimestampFromRevision && (len(others) > 0 || comp == "zstd") {
		// modifyrepo_c stamps what it adds with the current time.
		if err := setTimestamps(repodata, opts.Revision); err != nil {
			return err
		}
	}
	if opts.SignRepomd != nil {
		if err := SignRepomd(dir, opts.SignRepomd); err != nil {
			return err
		}
	}
	return nil
}

// SignRepomd writes repodata/repomd.xml.asc, an armored detached signature
// of repodata/repomd.xml by k, and repodata/repomd.xml.key, k's armored
// public key. Call it again after anything changes repomd.xml.
func SignRepomd(dir string, k *Key) error {
	repomd := filepath.Join(dir, "repodata", "repomd.xml")
	if err := k.DetachSign(repomd, repomd+".asc"); err != nil {
		return err
	}
	pub, err := os.ReadFile(k.PublicPath)
	if err != nil {
		return fmt.Errorf("reading public key: %w", err)
	}
	return os.WriteFile(repomd+".key", pub, 0o644)
}

// CreateRepo is MakeRepo for tests: it skips t when createrepo_c (or
// modifyrepo_c for extras) is missing and fails it on error.
func CreateRepo(t testing.TB, dir string, opts RepoOpts) {
	t.Helper()
	check(t, MakeRepo(dir, opts))
}

func newHash(name string) hash.Hash {
	switch name {
	case "sha1", "sha":
		return sha1.New()
	case "sha256":
		return sha256.New()
	case "sha512":
		return sha512.New()
	}
	return nil
}

var (
	dataBlockRE = regexp.MustCompile(`(?s)<data type="([^"]+)">.*?</data>`)
	checksumRE  = regexp.MustCompile(`<checksum type="([^"]+)">([0-9a-f]+)</checksum>`)
	locationRE  = regexp.MustCompile(`<location href="([^"]+)"/>`)
	sizeRE      = regexp.MustCompile(`<size>\d+</size>`)
)

// recompressZstd replaces the gzip files of the named data types in
// repodata with zstd ones and rewrites their repomd.xml entries the way
// createrepo_c >= 1.0 writes them: checksum and size of the .zst file,
// open-checksum, open-size and timestamp unchanged, location
// repodata/<checksum>-<type>.xml.zst (or <type>.xml.zst with simple names).
// No other bytes of repomd.xml change.
func recompressZstd(repodata string, unique bool, types ...string) error {
	repomdPath := filepath.Join(repodata, "repomd.xml")
	repomd, err := os.ReadFile(repomdPath)
	if err != nil {
		return fmt.Errorf("reading repomd.xml: %w", err)
	}
	want := make(map[string]bool)
	for _, t := range types {
		want[t] = true
	}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression))
	if err != nil {
		return err
	}
	defer enc.Close()
	var ferr error
	var obsolete []string
	out := dataBlockRE.ReplaceAllFunc(repomd, func(block []byte) []byte {
		typ := string(dataBlockRE.FindSubmatch(block)[1])
		if !want[typ] || ferr != nil {
			return block
		}
		loc := locationRE.FindSubmatch(block)
		cs := checksumRE.FindSubmatch(block)
		if loc == nil || cs == nil {
			ferr = fmt.Errorf("repomd.xml: %s entry has no location or checksum", typ)
			return block
		}
		href, sumType := string(loc[1]), string(cs[1])
		if !strings.HasSuffix(href, ".gz") {
			ferr = fmt.Errorf("repomd.xml: %s is %s, want a .gz file to recompress", typ, href)
			return block
		}
		oldPath := filepath.Join(repodata, "..", filepath.FromSlash(href))
		plain, err := readGzip(oldPath)
		if err != nil {
			ferr = err
			return block
		}
		packed := enc.EncodeAll(plain, nil)
		h := newHash(sumType)
		if h == nil {
			ferr = fmt.Errorf("repomd.xml: %s: unknown checksum type %q", typ, sumType)
			return block
		}
		h.Write(packed)
		sum := hex.EncodeToString(h.Sum(nil))
		name := typ + ".xml.zst"
		if unique {
			name = sum + "-" + name
		}
		newHref := path.Join(path.Dir(href), name)
		if err := os.WriteFile(filepath.Join(repodata, name), packed, 0o644); err != nil {
			ferr = fmt.Errorf("writing %s: %w", name, err)
			return block
		}
		obsolete = append(obsolete, oldPath)
		block = checksumRE.ReplaceAll(block, []byte(`<checksum type="${1}">`+sum+`</checksum>`))
		block = locationRE.ReplaceAll(block, []byte(`<location href="`+newHref+`"/>`))
		block = sizeRE.ReplaceAll(block, []byte(fmt.Sprintf("<size>%d</size>", len(packed))))
		return block
	})
	if ferr != nil {
		return ferr
	}
	for _, p := range obsolete {
		if err := os.Remove(p); err != nil {
			return fmt.Errorf("removing %s: %w", p, err)
		}
	}
	return writeFileAtomic(repomdPath, out)
}

var timestampRE = regexp.MustCompile(`<timestamp>\d+</timestamp>`)

// setTimestamps sets every <timestamp> in repomd.xml, and the modification
// time of every file in repodata, to the Unix time unix.
func setTimestamps(repodata, unix string) error {
	sec, err := strconv.ParseInt(unix, 10, 64)
	if err != nil {
		return fmt.Errorf("revision %q is not a Unix time: %w", unix, err)
	}
	repomdPath := filepath.Join(repodata, "repomd.xml")
	repomd, err := os.ReadFile(repomdPath)
	if err != nil {
		return fmt.Errorf("reading repomd.xml: %w", err)
	}
	repomd = timestampRE.ReplaceAll(repomd, []byte("<timestamp>"+unix+"</timestamp>"))
	if err := writeFileAtomic(repomdPath, repomd); err != nil {
		return err
	}
	entries, err := os.ReadDir(repodata)
	if err != nil {
		return err
	}
	t := time.Unix(sec, 0)
	for _, e := range entries {
		if err := os.Chtimes(filepath.Join(repodata, e.Name()), t, t); err != nil {
			return err
		}
	}
	return nil
}

func readGzip(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, zr); err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	return buf.Bytes(), nil
}

func writeFileAtomic(p string, data []byte) error {
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	return nil
}
