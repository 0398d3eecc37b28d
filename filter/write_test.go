package filter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	gosync "sync"
	"testing"

	"github.com/rpmirror/rpmirror/internal/benchgen"
	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/repodata"
	"github.com/rpmirror/rpmirror/verify"
)

// fixturePkgs are the packages of the test repositories: several
// versions of a name (epochs, tildes), several arches, debuginfo, src.
func fixturePkgs(key *testrepo.Key) []testrepo.Pkg {
	pkgs := []testrepo.Pkg{
		{Name: "tool", Version: "1.0", Release: "1", Arch: "x86_64"},
		{Name: "tool", Version: "1.1", Release: "1", Arch: "x86_64"},
		{Name: "tool", Version: "2.0~rc1", Release: "1", Arch: "x86_64"},
		{Name: "tool", Version: "1.1", Release: "1", Arch: "i686"},
		{Name: "tool-debuginfo", Version: "1.1", Release: "1", Arch: "x86_64"},
		{Name: "lib", Version: "0.9", Release: "1", Epoch: 1, Arch: "x86_64"},
		{Name: "lib", Version: "1.0", Release: "1", Arch: "x86_64"},
		{Name: "lib", Version: "1.0", Release: "2", Arch: "x86_64", Requires: []string{"tool >= 1.0"}},
		{Name: "docs", Version: "1.0", Release: "1"},
		{Name: "docs", Version: "1.0", Release: "1.1"},
		{Name: "extra", Version: "3", Release: "1"},
	}
	for i := range pkgs {
		pkgs[i].Sign = key
	}
	return pkgs
}

var fixture struct {
	once  gosync.Once
	dir   string // the built RPMs, at their RelPath
	pkgs  []testrepo.Pkg
	paths []string
	key   *testrepo.Key
	err   error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if p, _ := benchOriginPath(); p != "" {
		os.RemoveAll(filepath.Dir(p))
	}
	if fixture.dir != "" {
		os.RemoveAll(fixture.dir)
	}
	if fixture.key != nil {
		fixture.key.Close()
	}
	os.Exit(code)
}

// builtRPMs builds the fixture packages once per test binary.
func builtRPMs(t *testing.T) (string, []testrepo.Pkg) {
	t.Helper()
	if missing := testrepo.MissingTools("rpmbuild", "rpmsign", "gpg", "createrepo_c", "modifyrepo_c"); len(missing) > 0 {
		t.Skipf("missing tools: %v", missing)
	}
	fixture.once.Do(func() {
		if fixture.key, fixture.err = testrepo.GenerateKey("rpmirror filter test"); fixture.err != nil {
			return
		}
		if fixture.dir, fixture.err = os.MkdirTemp("", "rpmirror-filter-rpms-"); fixture.err != nil {
			return
		}
		fixture.pkgs = fixturePkgs(fixture.key)
		fixture.paths, fixture.err = testrepo.Build(fixture.dir, fixture.pkgs...)
	})
	if fixture.err != nil {
		t.Fatal(fixture.err)
	}
	return fixture.dir, fixture.pkgs
}

// makeRepo copies the fixture packages for which keep is true into a new
// repository and runs createrepo_c over it.
func makeRepo(t *testing.T, opts testrepo.RepoOpts, keep func(testrepo.Pkg) bool) string {
	t.Helper()
	src, pkgs := builtRPMs(t)
	dir := t.TempDir()
	for _, p := range pkgs {
		if keep != nil && !keep(p) {
			continue
		}
		dst := filepath.Join(dir, filepath.FromSlash(p.RelPath()))
		os.MkdirAll(filepath.Dir(dst), 0o755)
		from := filepath.Join(src, filepath.FromSlash(p.RelPath()))
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
		// primary's <time file> is the file's modification time.
		fi, err := os.Stat(from)
		if err != nil {
			t.Fatal(err)
		}
		os.Chtimes(dst, fi.ModTime(), fi.ModTime())
	}
	if opts.Revision == "" {
		opts.Revision = "1700000000"
		opts.TimestampFromRevision = true
	}
	testrepo.CreateRepo(t, dir, opts)
	return dir
}

func readRepomd(t testing.TB, dir string) *repodata.Repomd {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "repodata", "repomd.xml"))
	if err != nil {
		t.Fatal(err)
	}
	md, err := repodata.ParseRepomd(b)
	if err != nil {
		t.Fatal(err)
	}
	return md
}

// opener opens the metadata files of the repository in dir, checking
// their checksums as the engine does.
func opener(dir string) func(d repodata.Data) (io.ReadCloser, error) {
	return func(d repodata.Data) (io.ReadCloser, error) {
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(d.Href)))
		if err != nil {
			return nil, err
		}
		if err := verify.Content(bytes.NewReader(b), d.Size, d.Checksum); err != nil {
			return nil, err
		}
		return repodata.Decompress(bytes.NewReader(b), d.Href)
	}
}

// writeFiltered filters the repository in origin into a new directory
// laid out as a repository (without packages).
func writeFiltered(t *testing.T, origin string, rules Rules) (string, *Result) {
	t.Helper()
	out := t.TempDir()
	stage := filepath.Join(out, "stage")
	os.MkdirAll(stage, 0o755)
	res, err := Write(context.Background(), readRepomd(t, origin), Options{Rules: rules, Dir: stage, Open: opener(origin)})
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(out, "repodata"), 0o755)
	for href, local := range res.Written {
		if err := os.Rename(local, filepath.Join(out, filepath.FromSlash(href))); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range res.Carried {
		b, err := os.ReadFile(filepath.Join(origin, filepath.FromSlash(d.Href)))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(out, filepath.FromSlash(d.Href)), b, 0o644)
	}
	if err := os.WriteFile(filepath.Join(out, "repodata", "repomd.xml"), res.Repomd, 0o644); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(stage)
	if len(entries) != 0 {
		t.Errorf("Write left %d files behind in its directory (spool, temporary files)", len(entries))
	}
	return out, res
}

// rawEntries returns the <package> elements of each written type of the
// repository in dir, by pkgid, as written.
func rawEntries(t *testing.T, dir string) map[string]map[string][]byte {
	t.Helper()
	md := readRepomd(t, dir)
	open := opener(dir)
	all := map[string]map[string][]byte{}
	for _, d := range md.Data {
		if _, ok := written[d.Type]; !ok {
			continue
		}
		rc, err := open(d)
		if err != nil {
			t.Fatalf("%s: %v", d.Type, err)
		}
		m := map[string][]byte{}
		if d.Type == "primary" {
			pr := repodata.NewPrimaryReader(rc)
			pr.KeepRaw()
			for {
				p, err := pr.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("%s: %v", d.Href, err)
				}
				m[p.Checksum.Value] = bytes.Clone(pr.Raw())
			}
		} else {
			er := repodata.NewEntryReader(rc, d.Href)
			for {
				e, err := er.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("%s: %v", d.Href, err)
				}
				m[e.PkgID] = bytes.Clone(e.Raw)
			}
		}
		rc.Close()
		all[d.Type] = m
	}
	return all
}

// nevras returns the NEVRAs that the primary of the repository in dir
// lists, sorted.
func nevras(t *testing.T, dir string) []string {
	t.Helper()
	md := readRepomd(t, dir)
	d, _ := md.Find("primary")
	rc, err := opener(dir)(d)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	pr := repodata.NewPrimaryReader(rc)
	var out []string
	for {
		p, err := pr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p.NEVRA())
	}
	sort.Strings(out)
	return out
}

func pkgNEVRA(p testrepo.Pkg) string {
	return repodataPkg(p).NEVRA()
}

func repodataPkg(p testrepo.Pkg) *repodata.Package {
	e := "0"
	if p.Epoch > 0 {
		e = string(rune('0' + p.Epoch))
	}
	v, r, a := p.Version, p.Release, p.Arch
	if a == "" {
		a = "noarch"
	}
	return &repodata.Package{Name: p.Name, Epoch: e, Version: v, Release: r, Arch: a}
}

func TestWrite(t *testing.T) {
	_, pkgs := builtRPMs(t)
	cases := []struct {
		name   string
		rules  Rules
		keep   []string // NEVRAs kept
		counts Counts
	}{
		{
			name:   "arch x86_64 and noarch, no debuginfo, newest 2",
			rules:  Rules{Arch: []string{"x86_64", "noarch"}, Exclude: []string{"*-debuginfo"}, Newest: 2},
			keep:   []string{"tool-0:1.1-1.x86_64", "tool-0:2.0~rc1-1.x86_64", "lib-1:0.9-1.x86_64", "lib-0:1.0-2.x86_64", "docs-0:1.0-1.noarch", "docs-0:1.0-1.1.noarch", "extra-0:3-1.noarch"},
			counts: Counts{Packages: 11, Kept: 7, Arch: 1, Exclude: 1, Newest: 2},
		},
		{
			name:   "include globs, newest 1",
			rules:  Rules{Include: []string{"t?ol*", "[a-l]ib"}, Newest: 1},
			keep:   []string{"tool-0:2.0~rc1-1.x86_64", "tool-0:1.1-1.i686", "tool-debuginfo-0:1.1-1.x86_64", "lib-1:0.9-1.x86_64"},
			counts: Counts{Packages: 11, Kept: 4, Include: 3, Newest: 4},
		},
		{
			name:   "everything dropped",
			rules:  Rules{Arch: []string{"aarch64"}},
			counts: Counts{Packages: 11, Arch: 11},
		},
		{
			name:   "nothing dropped",
			rules:  Rules{Arch: []string{"x86_64", "i686", "noarch"}},
			counts: Counts{Packages: 11, Kept: 11},
		},
	}
	for _, comp := range []string{"gz", "xz", "bz2", "zstd"} {
		origin := makeRepo(t, testrepo.RepoOpts{Compress: comp}, nil)
		originEntries := rawEntries(t, origin)
		for _, c := range cases {
			t.Run(comp+"/"+c.name, func(t *testing.T) {
				if c.keep == nil && c.counts.Kept == len(pkgs) {
					for _, p := range pkgs {
						c.keep = append(c.keep, pkgNEVRA(p))
					}
				}
				out, res := writeFiltered(t, origin, c.rules)
				if res.Counts != c.counts {
					t.Errorf("counts: %v, want %v", res.Counts, c.counts)
				}
				want := slices.Clone(c.keep)
				sort.Strings(want)
				if got := nevras(t, out); !slices.Equal(got, want) {
					t.Errorf("kept %q, want %q", got, want)
				}
				// The new repomd.xml is right about every file: checksum,
				// size, open-checksum, open-size (opener checks the first
				// two, the reader below the others).
				md := readRepomd(t, out)
				for _, d := range md.Data {
					b, err := os.ReadFile(filepath.Join(out, filepath.FromSlash(d.Href)))
					if err != nil {
						t.Fatal(err)
					}
					if err := verify.Content(bytes.NewReader(b), d.Size, d.Checksum); err != nil {
						t.Errorf("%s: %v", d.Href, err)
					}
					if _, ok := written[d.Type]; !ok {
						continue
					}
					if filepath.Ext(d.Href) != filepath.Ext(mustFind(t, readRepomd(t, origin), d.Type).Href) {
						t.Errorf("%s: not compressed as the origin's %s", d.Href, d.Type)
					}
					if base := filepath.Base(d.Href); base[:64] != d.Checksum.Value {
						t.Errorf("%s: not named for its checksum %s", d.Href, d.Checksum.Value)
					}
					rc, err := repodata.Decompress(bytes.NewReader(b), d.Href)
					if err != nil {
						t.Fatal(err)
					}
					if err := verify.Content(rc, d.OpenSize, *d.OpenChecksum); err != nil {
						t.Errorf("%s: open: %v", d.Href, err)
					}
					if od := mustFind(t, readRepomd(t, origin), d.Type); d.Timestamp != od.Timestamp {
						t.Errorf("%s: timestamp %d, want the origin's %d", d.Type, d.Timestamp, od.Timestamp)
					}
				}
				// Every entry is the origin's, byte for byte, and each
				// written type describes the kept packages.
				got := rawEntries(t, out)
				for typ, m := range got {
					if len(m) != len(got["primary"]) {
						t.Errorf("%s has %d packages, primary %d", typ, len(m), len(got["primary"]))
					}
					for pkgid, raw := range m {
						if !bytes.Equal(raw, originEntries[typ][pkgid]) {
							t.Errorf("%s entry of %s differs from the origin's", typ, pkgid)
						}
					}
				}
				// The sqlite databases are dropped.
				if len(res.Dropped) != 3 {
					t.Errorf("dropped %d files, want the 3 sqlite databases", len(res.Dropped))
				}
				for _, d := range md.Data {
					if Dropped(d) {
						t.Errorf("%s is listed", d.Type)
					}
				}
			})
		}
	}
}

func mustFind(t testing.TB, md *repodata.Repomd, typ string) repodata.Data {
	t.Helper()
	d, ok := md.Find(typ)
	if !ok {
		t.Fatalf("no %s", typ)
	}
	return d
}

// TestWriteMatchesCreaterepo compares a filtered repository with what
// createrepo_c writes over the kept packages alone.
func TestWriteMatchesCreaterepo(t *testing.T) {
	rules := Rules{Arch: []string{"x86_64", "noarch"}, Exclude: []string{"*-debuginfo"}, Newest: 2}
	origin := makeRepo(t, testrepo.RepoOpts{Compress: "zstd"}, nil)
	out, _ := writeFiltered(t, origin, rules)
	kept := nevras(t, out)
	ref := makeRepo(t, testrepo.RepoOpts{Compress: "zstd"}, func(p testrepo.Pkg) bool {
		_, ok := slices.BinarySearch(kept, pkgNEVRA(p))
		return ok
	})
	if got, want := nevras(t, out), nevras(t, ref); !slices.Equal(got, want) {
		t.Fatalf("filtered %q, createrepo_c over the kept packages %q", got, want)
	}
	a, b := rawEntries(t, out), rawEntries(t, ref)
	for typ := range b {
		for pkgid, raw := range b[typ] {
			if !bytes.Equal(a[typ][pkgid], raw) {
				t.Errorf("%s entry of %s differs from createrepo_c's over the kept packages", typ, pkgid)
			}
		}
	}
}

// TestWriteDeterministic: the same origin and rules give the same bytes.
func TestWriteDeterministic(t *testing.T) {
	rules := Rules{Arch: []string{"x86_64", "noarch"}, Newest: 1}
	for _, comp := range []string{"gz", "xz", "bz2", "zstd"} {
		t.Run(comp, func(t *testing.T) {
			origin := makeRepo(t, testrepo.RepoOpts{Compress: comp}, nil)
			a, ra := writeFiltered(t, origin, rules)
			b, rb := writeFiltered(t, origin, rules)
			if !bytes.Equal(ra.Repomd, rb.Repomd) {
				t.Fatalf("two runs wrote different repomd.xml:\n%s\n%s", ra.Repomd, rb.Repomd)
			}
			for href := range ra.Written {
				x, _ := os.ReadFile(filepath.Join(a, href))
				y, _ := os.ReadFile(filepath.Join(b, href))
				if !bytes.Equal(x, y) {
					t.Errorf("%s differs between two runs", href)
				}
			}
			if md := readRepomd(t, origin); ra.MD.Revision != md.Revision {
				t.Errorf("revision %q, want the origin's %q", ra.MD.Revision, md.Revision)
			}
			_, rc := writeFiltered(t, origin, Rules{Arch: []string{"x86_64"}})
			if bytes.Equal(ra.Repomd, rc.Repomd) {
				t.Error("another filter wrote the same repomd.xml")
			}
		})
	}
}

// TestWriteTags: the filtered repomd.xml carries the origin's <tags>, as
// createrepo_c --content, --repo and --distro write them, escaped, and
// dnf shows them on the filtered repository as on the origin.
func TestWriteTags(t *testing.T) {
	origin := makeRepo(t, testrepo.RepoOpts{Args: []string{
		"--content", "binary-x86_64", "--repo", "h2repo", "--repo", `odd & <"quoted">`,
		"--distro", "cpe:/o:h2:h2:1,H2 Linux", "--distro", "No CPE & co",
	}}, nil)
	want := repodata.Tags{
		Content: []string{"binary-x86_64"},
		Repo:    []string{"h2repo", `odd & <"quoted">`},
		Distro:  []repodata.Distro{{CPEID: "cpe:/o:h2:h2:1", Name: "H2 Linux"}, {Name: "No CPE & co"}},
	}
	if got := readRepomd(t, origin).Tags; !reflect.DeepEqual(got, want) {
		t.Fatalf("createrepo_c wrote tags %+v, want %+v", got, want)
	}
	rules := Rules{Arch: []string{"x86_64", "noarch"}}
	out, res := writeFiltered(t, origin, rules)
	if !reflect.DeepEqual(res.MD.Tags, want) {
		t.Errorf("filtered repomd.xml has tags %+v, want the origin's %+v", res.MD.Tags, want)
	}
	if md := readRepomd(t, origin); res.MD.Revision != md.Revision || md.Revision == "" {
		t.Errorf("revision %q, want the origin's %q", res.MD.Revision, md.Revision)
	}
	if _, again := writeFiltered(t, origin, rules); !bytes.Equal(res.Repomd, again.Repomd) {
		t.Errorf("two runs wrote different repomd.xml:\n%s\n%s", res.Repomd, again.Repomd)
	}
	// The tags as createrepo_c writes them, so dnf reads them the same.
	for _, line := range []string{
		"  <tags>\n    <content>binary-x86_64</content>\n    <repo>h2repo</repo>\n",
		"    <repo>odd &amp; &lt;&#34;quoted&#34;&gt;</repo>\n",
		"    <distro cpeid=\"cpe:/o:h2:h2:1\">H2 Linux</distro>\n    <distro>No CPE &amp; co</distro>\n  </tags>\n",
	} {
		if !bytes.Contains(res.Repomd, []byte(line)) {
			t.Errorf("the filtered repomd.xml lacks\n%s\n%s", line, res.Repomd)
		}
	}
	testrepo.RequireTools(t, "dnf")
	tagLines := func(name, dir string) []string {
		t.Helper()
		out, err := testrepo.DNF(t, name, dir, "repolist", "-v")
		if err != nil {
			t.Fatalf("dnf repolist -v on %s: %v\n%s", name, err, out)
		}
		var lines []string
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, "Repo-tags") || strings.HasPrefix(l, "Repo-distro-tags") {
				lines = append(lines, l)
			}
		}
		return lines
	}
	originTags := tagLines("origin", origin)
	if !slices.ContainsFunc(originTags, func(l string) bool { return strings.HasPrefix(l, "Repo-tags") }) ||
		!slices.ContainsFunc(originTags, func(l string) bool { return strings.Contains(l, "cpe:/o:h2:h2:1") }) {
		t.Fatalf("dnf repolist -v shows on the origin %q, want Repo-tags and Repo-distro-tags", originTags)
	}
	if got := tagLines("origin", out); !slices.Equal(got, originTags) {
		t.Errorf("dnf repolist -v shows on the filtered repository\n%q\nand on the origin\n%q", got, originTags)
	}
}

// TestWriteRefusesAnOversizedRepomd: an origin's repomd.xml under the
// bound rpmirror reads, its <tags> padded so that the repomd.xml the
// filter writes (indented) is over it, is refused when written: published,
// it was refused when read back and the mirror stuck with it (an
// attacker's finding).
func TestWriteRefusesAnOversizedRepomd(t *testing.T) {
	origin := makeRepo(t, testrepo.RepoOpts{}, nil)
	md := readRepomd(t, origin)
	for range repodata.MaxRepomdSize / 24 {
		md.Tags.Content = append(md.Tags.Content, "aaaaaaa")
	}
	stage := t.TempDir()
	_, err := Write(context.Background(), md, Options{Rules: Rules{Arch: []string{"noarch"}}, Dir: stage, Open: opener(origin)})
	if err == nil || !strings.Contains(err.Error(), "over the 16777216 rpmirror reads") {
		t.Errorf("Write of a repomd.xml over the bound: %v", err)
	}
}

func TestWriteExtras(t *testing.T) {
	_, pkgs := builtRPMs(t)
	extras := testrepo.WriteExtras(t, t.TempDir(), pkgs...)
	origin := makeRepo(t, testrepo.RepoOpts{Extras: append(extras, testrepo.Extra{Type: "weird", File: extras[0].File})}, nil)

	t.Run("newest refused with modules", func(t *testing.T) {
		_, err := Write(context.Background(), readRepomd(t, origin), Options{Rules: Rules{Newest: 1}, Dir: t.TempDir(), Open: opener(origin)})
		var me *ModulesError
		if !errors.As(err, &me) || me.Newest != 1 {
			t.Fatalf("err = %v, want a *ModulesError", err)
		}
	})
	t.Run("carried, dropped, unknown", func(t *testing.T) {
		out, res := writeFiltered(t, origin, Rules{Arch: []string{"noarch"}})
		var carried []string
		for _, d := range res.Carried {
			carried = append(carried, d.Type)
		}
		sort.Strings(carried)
		if want := []string{"group", "group_gz", "modules", "updateinfo", "weird"}; !slices.Equal(carried, want) {
			t.Errorf("carried %q, want %q", carried, want)
		}
		if !slices.Equal(res.Unknown, []string{"weird"}) {
			t.Errorf("unknown %q, want [weird]", res.Unknown)
		}
		md, omd := readRepomd(t, out), readRepomd(t, origin)
		for _, typ := range carried {
			if !reflect.DeepEqual(mustFind(t, md, typ), mustFind(t, omd, typ)) {
				t.Errorf("%s is not listed as the origin lists it", typ)
			}
		}
	})
}

// TestWriteMismatch: filelists or other metadata that do not describe
// the packages primary lists are refused.
func TestWriteMismatch(t *testing.T) {
	primary := `<?xml version="1.0" encoding="UTF-8"?>
<metadata xmlns="http://linux.duke.edu/metadata/common" packages="2">
<package type="rpm"><name>a</name><arch>noarch</arch><version epoch="0" ver="1" rel="1"/><checksum type="sha256" pkgid="YES">` + sha('a') + `</checksum><location href="a.rpm"/></package>
<package type="rpm"><name>b</name><arch>noarch</arch><version epoch="0" ver="1" rel="1"/><checksum type="sha256" pkgid="YES">` + sha('b') + `</checksum><location href="b.rpm"/></package>
</metadata>
`
	filelists := func(ids ...string) string {
		s := `<?xml version="1.0" encoding="UTF-8"?>
<filelists xmlns="http://linux.duke.edu/metadata/filelists" packages="` + string(rune('0'+len(ids))) + `">
`
		for _, id := range ids {
			s += `<package pkgid="` + id + `" name="x" arch="noarch"><version epoch="0" ver="1" rel="1"/><file>/x</file></package>
`
		}
		return s + "</filelists>\n"
	}
	for _, c := range []struct {
		name      string
		filelists string
		wantErr   bool
		kept      int
	}{
		{"complete", filelists(sha('a'), sha('b')), false, 2},
		{"in another order, with an unknown package", filelists(sha('c'), sha('b'), sha('a')), false, 2},
		{"one missing", filelists(sha('a')), true, 0},
		{"one twice", filelists(sha('a'), sha('b'), sha('b')), true, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			files := map[string]string{"primary": primary, "filelists": c.filelists}
			md := &repodata.Repomd{Revision: "1", Data: []repodata.Data{
				{Type: "primary", Href: "repodata/p.xml", Checksum: repodata.Checksum{Type: "sha256", Value: sha('p')}, Size: -1, OpenSize: -1, HeaderSize: -1},
				{Type: "filelists", Href: "repodata/f.xml.gz", Checksum: repodata.Checksum{Type: "sha256", Value: sha('f')}, Size: -1, OpenSize: -1, HeaderSize: -1},
			}}
			res, err := Write(context.Background(), md, Options{Dir: t.TempDir(), Open: func(d repodata.Data) (io.ReadCloser, error) {
				return io.NopCloser(bytes.NewReader([]byte(files[d.Type]))), nil
			}})
			var mm *MismatchError
			if c.wantErr {
				if !errors.As(err, &mm) || mm.Type != "filelists" {
					t.Fatalf("err = %v, want a *MismatchError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Counts.Kept != c.kept {
				t.Errorf("kept %d, want %d", res.Counts.Kept, c.kept)
			}
		})
	}
}

func sha(c byte) string { return string(bytes.Repeat([]byte{c}, 64)) }

// TestWriteSpoolBoundaries: a primary large enough that its kept entries
// fill many spool batches and compressor chunks, with one entry larger
// than a batch, is written with exactly the kept entries, in order, byte
// for byte, and the checksums, sizes and open-checksums of what was
// written are right.
func TestWriteSpoolBoundaries(t *testing.T) {
	var gen bytes.Buffer
	if err := benchgen.WritePrimary(&gen, benchgen.PrimaryOpts{Packages: 6000, Revision: 1}); err != nil {
		t.Fatal(err)
	}
	// One package lists enough files to be larger than a spool batch.
	doc := gen.Bytes()
	at := bytes.Index(doc, []byte("</format>"))
	var huge []byte
	for i := 0; len(huge) < 2*spoolChunk; i++ {
		huge = fmt.Appendf(huge, "<file>/usr/share/huge/%d &amp; more</file>\n", i)
	}
	doc = append(doc[:at:at], append(huge, doc[at:]...)...)
	for _, rules := range []Rules{
		{Arch: []string{"x86_64", "noarch"}, Exclude: []string{"*[02468]"}},
		{Arch: []string{"x86_64", "noarch"}, Newest: 1},
		{},
	} {
		md := &repodata.Repomd{Revision: "1", Data: []repodata.Data{{
			Type: "primary", Href: "repodata/primary.xml.zst", Size: -1, OpenSize: -1, HeaderSize: -1,
			Checksum: repodata.Checksum{Type: "sha256", Value: sha('0')},
		}}}
		dir := t.TempDir()
		res, err := Write(context.Background(), md, Options{Rules: rules, Dir: dir, Open: func(repodata.Data) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(doc)), nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		d := res.MD.Data[0]
		b, err := os.ReadFile(res.Written[d.Href])
		if err != nil {
			t.Fatal(err)
		}
		if err := verify.Content(bytes.NewReader(b), d.Size, d.Checksum); err != nil {
			t.Errorf("%+v: the file written: %v", rules, err)
		}
		rc, err := repodata.Decompress(bytes.NewReader(b), d.Href)
		if err != nil {
			t.Fatal(err)
		}
		open, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		if err := verify.Content(bytes.NewReader(open), d.OpenSize, *d.OpenChecksum); err != nil {
			t.Errorf("%+v: the file written, decompressed: %v", rules, err)
		}
		got := primaryEntries(t, open, nil)
		if len(got) != res.Counts.Kept || res.Counts.Kept == 0 {
			t.Errorf("%+v: %d entries written, %d kept", rules, len(got), res.Counts.Kept)
		}
		if rules.Newest > 0 {
			continue
		}
		want := primaryEntries(t, doc, func(p *repodata.Package) bool { return rules.Match(p) == Kept })
		if len(got) != len(want) {
			t.Fatalf("%+v: %d entries written, want %d", rules, len(got), len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("%+v: entry %d differs from the origin's (%d bytes, want %d)", rules, i, len(got[i]), len(want[i]))
			}
		}
	}
}

// primaryEntries returns the raw entries of the packages of primary
// document doc that keep accepts (nil: all).
func primaryEntries(t *testing.T, doc []byte, keep func(*repodata.Package) bool) [][]byte {
	t.Helper()
	pr := repodata.NewPrimaryReader(bytes.NewReader(doc))
	pr.KeepRaw()
	var out [][]byte
	for {
		p, err := pr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if keep == nil || keep(p) {
			out = append(out, bytes.Clone(pr.Raw()))
		}
	}
}
