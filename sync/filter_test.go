package sync_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/filter"
	"github.com/rpmirror/rpmirror/internal/checker"
	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/repodata"
	"github.com/rpmirror/rpmirror/sync"
	"github.com/rpmirror/rpmirror/target/local"
	"github.com/rpmirror/rpmirror/verify"
)

// filterPkgs are the packages of a filtered origin: versions of one
// name.arch (an epoch, a tilde), several arches, debuginfo, a package
// requiring another.
func filterPkgs(key *testrepo.Key) []testrepo.Pkg {
	pkgs := []testrepo.Pkg{
		{Name: "tool", Version: "1.0", Release: "1", Arch: "x86_64"},
		{Name: "tool", Version: "1.1", Release: "1", Arch: "x86_64"},
		{Name: "tool", Version: "2.0~rc1", Release: "1", Arch: "x86_64"},
		{Name: "tool", Version: "1.1", Release: "1", Arch: "i686"},
		{Name: "tool-debuginfo", Version: "1.1", Release: "1", Arch: "x86_64"},
		{Name: "lib", Version: "0.9", Release: "1", Epoch: 1, Arch: "x86_64"},
		{Name: "lib", Version: "1.0", Release: "2", Arch: "x86_64", Requires: []string{"tool >= 1.0"}},
		{Name: "docs", Version: "1.0", Release: "1"},
		{Name: "docs", Version: "1.0", Release: "1.1"},
	}
	for i := range pkgs {
		pkgs[i].Sign = key
	}
	return pkgs
}

// dnfView returns what dnf sees of each package of a repository: its
// NEVRA with its requires, provides and files.
func dnfView(t *testing.T, repo testrepo.Repo) map[string]string {
	t.Helper()
	testrepo.RequireTools(t, "dnf")
	out, err := testrepo.DNFWithRepoFile(t, repo.String(), "repoquery", "-q",
		"--qf", "@@%{name}-%{epoch}:%{version}-%{release}.%{arch}\nrequires: %{requires}\nprovides: %{provides}\nfiles: %{files}")
	if err != nil {
		t.Fatalf("dnf repoquery on %s: %v\n%s", repo.URL, err, out)
	}
	view := map[string]string{}
	for _, block := range strings.Split(out, "@@")[1:] {
		nevra, rest, _ := strings.Cut(block, "\n")
		view[nevra] = strings.TrimSpace(rest)
	}
	return view
}

func keys[V any](m map[string]V) []string {
	s := make([]string, 0, len(m))
	for k := range m {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}

func TestFilteredMirror(t *testing.T) {
	key := testrepo.TestKey(t)
	base := t.TempDir()
	repoKey, signWith := testrepo.NewSigningKey(t, base)
	pkgs := filterPkgs(key)
	v1 := filepath.Join(base, "v1")
	extras := testrepo.WriteExtras(t, filepath.Join(base, "extras"), pkgs...)
	var noModules []testrepo.Extra
	for _, e := range extras {
		if e.Type != "modules" {
			noModules = append(noModules, e)
		}
	}
	tags := []string{"--content", "binary-x86_64", "--repo", "h2repo", "--distro", "cpe:/o:h2:h2:1,H2 Linux"}
	buildRepo(t, v1, "", testrepo.RepoOpts{SignRepomd: key, Revision: "1", Compress: "zstd", Extras: noModules, Args: tags}, pkgs...)
	o := newOrigin(t, filepath.Join(base, "origin"))
	republish(t, o, v1)
	h := newHarness(t, o, key.PublicPath)
	h.repo.Filter = &config.Filter{Arch: []string{"x86_64", "noarch"}, Exclude: []string{"*-debuginfo"}, Newest: 2}
	h.repo.SignWith = signWith
	kept := []testrepo.Pkg{pkgs[1], pkgs[2], pkgs[5], pkgs[6], pkgs[7], pkgs[8]}

	// Dry run: what the filter keeps and drops, by reason; nothing written.
	rep := h.engine(true).Sync(context.Background(), h.repo)
	if rep.Err != nil {
		t.Fatal(rep.Err)
	}
	wantCounts := filter.Counts{Packages: 9, Kept: 6, Arch: 1, Exclude: 1, Newest: 1}
	if rep.Filter == nil || rep.Filter.Counts != wantCounts {
		t.Fatalf("dry run: filter report %+v, want %+v", rep.Filter, wantCounts)
	}
	if got, want := sortedStrings(rep.WouldFetch), relPaths(kept...); !reflect.DeepEqual(got, want) {
		t.Errorf("dry run would fetch %v, want %v", got, want)
	}
	if _, err := os.Stat(filepath.Join(h.mirrors[0], "repodata")); err == nil {
		t.Fatal("the dry run wrote the mirror")
	}
	o.fetched()

	// First sync: only the kept packages are fetched.
	rep = h.mustSync()
	for _, m := range h.mirrors {
		checkServable(t, m) // the metadata rpmirror wrote and signed too
	}
	if got, want := o.fetched(), relPaths(kept...); !reflect.DeepEqual(got, want) {
		t.Errorf("fetched %v, want only the kept packages %v", got, want)
	}
	if !slices.Equal(rep.Filter.Dropped, []string{"primary_db", "filelists_db", "other_db"}) {
		t.Errorf("metadata dropped: %v, want the sqlite databases", rep.Filter.Dropped)
	}
	originRepomd, _ := os.ReadFile(filepath.Join(o.dir, "repodata", "repomd.xml"))
	originAsc, _ := os.ReadFile(filepath.Join(o.dir, "repodata", "repomd.xml.asc"))
	ring, err := verify.LoadKeyring(repoKey.PublicPath)
	if err != nil {
		t.Fatal(err)
	}
	var first []byte
	for _, m := range h.mirrors {
		repomd, err := os.ReadFile(filepath.Join(m, "repodata", "repomd.xml"))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(repomd, originRepomd) {
			t.Fatalf("mirror %s serves the origin's repomd.xml", m)
		}
		// The origin's revision and tags (dnf's Repo-tags and
		// Repo-distro-tags) are kept.
		md, err := repodata.ParseRepomd(repomd)
		if err != nil {
			t.Fatal(err)
		}
		wantTags := repodata.Tags{Content: []string{"binary-x86_64"}, Repo: []string{"h2repo"}, Distro: []repodata.Distro{{CPEID: "cpe:/o:h2:h2:1", Name: "H2 Linux"}}}
		if md.Revision != "1" || !reflect.DeepEqual(md.Tags, wantTags) {
			t.Errorf("mirror %s: revision %q, tags %+v; want the origin's, 1 and %+v", m, md.Revision, md.Tags, wantTags)
		}
		if first == nil {
			first = repomd
		} else if !bytes.Equal(first, repomd) {
			t.Errorf("the two mirrors serve different repomd.xml")
		}
		asc, err := os.ReadFile(filepath.Join(m, "repodata", "repomd.xml.asc"))
		if err != nil {
			t.Fatalf("mirror %s: no signature: %v", m, err)
		}
		if bytes.Equal(asc, originAsc) {
			t.Errorf("mirror %s publishes the origin's signature", m)
		}
		if _, err := verify.DetachedSignature(repomd, asc, ring); err != nil {
			t.Errorf("mirror %s: repomd.xml.asc is not a good signature by sign_with's key: %v", m, err)
		}
		// The consistency checkers: rpmirror's own and the independent one.
		tg, err := local.New(m)
		if err != nil {
			t.Fatal(err)
		}
		problems, _, err := sync.CheckMirror(context.Background(), tg, mustKeyring(t, key.PublicPath))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("mirror %s: %s", m, p)
		}
		r := checker.Check(m, checker.Options{KeyFiles: []string{key.PublicPath, repoKey.PublicPath}})
		for _, p := range r.Problems {
			t.Errorf("checker: mirror %s: %s", m, p)
		}
		if got, want := r.NEVRAs(), nevras(kept); !reflect.DeepEqual(got, want) {
			t.Errorf("checker: mirror %s lists %v, want %v", m, got, want)
		}
	}
	// The verified revision is the filtered one.
	v, err := h.store.LoadVerified("test")
	if err != nil {
		t.Fatal(err)
	}
	if cur := v.Current(); cur == nil || !bytes.Equal(cur.Repomd, first) {
		t.Errorf("the current verified revision is not the filtered repomd.xml")
	}

	// dnf sees exactly the kept packages, with the origin's requires,
	// provides and files; and the same as over a repository createrepo_c
	// made of the kept packages alone.
	mirrorView := dnfView(t, testrepo.Repo{Name: "mirror", URL: h.mirrors[0]})
	if got, want := keys(mirrorView), nevras(kept); !reflect.DeepEqual(got, want) {
		t.Fatalf("dnf sees %v on the filtered mirror, want %v", got, want)
	}
	originView := dnfView(t, testrepo.Repo{Name: "origin", URL: o.dir})
	for nevra, v := range mirrorView {
		if originView[nevra] != v {
			t.Errorf("%s: dnf sees on the mirror\n%s\nand on the origin\n%s", nevra, v, originView[nevra])
		}
	}
	ref := filepath.Join(base, "reference")
	for _, p := range kept {
		dst := filepath.Join(ref, filepath.FromSlash(p.RelPath()))
		os.MkdirAll(filepath.Dir(dst), 0o755)
		b, err := os.ReadFile(filepath.Join(o.dir, filepath.FromSlash(p.RelPath())))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(dst, b, 0o644)
	}
	testrepo.CreateRepo(t, ref, testrepo.RepoOpts{Compress: "zstd"})
	if refView := dnfView(t, testrepo.Repo{Name: "reference", URL: ref}); !reflect.DeepEqual(refView, mirrorView) {
		t.Errorf("dnf sees on the filtered mirror\n%v\nand over createrepo_c of the kept packages\n%v", mirrorView, refView)
	}

	// dnf installs a kept package with gpgcheck=1 and repo_gpgcheck=1.
	dnf := testrepo.NewDNF(t, testrepo.Repo{Name: "mirror", URL: h.mirrors[1], GPGKeys: []string{key.PublicPath, repoKey.PublicPath}, RepoGPGCheck: true}.String())
	if out, err := dnf.Run("install", "-y", "lib"); err != nil {
		t.Fatalf("dnf install from the filtered mirror: %v\n%s", err, out)
	}
	if out, err := dnf.Run("list", "--installed", "-q"); err != nil || !strings.Contains(out, "lib.x86_64") || !strings.Contains(out, "1:0.9-1") {
		t.Errorf("after install: %v\n%s", err, out)
	}

	// A second sync changes nothing: the same filtered revision, known
	// from state without reading the origin's metadata again.
	o.requested()
	rep = h.mustSync()
	if !rep.NoChange || rep.Filter == nil || !rep.Filter.Reused {
		t.Errorf("second sync: NoChange %v, filter report %+v", rep.NoChange, rep.Filter)
	}
	if got, want := o.requested(), []string{"repodata/repomd.xml", "repodata/repomd.xml.asc", "repodata/repomd.xml.key"}; !reflect.DeepEqual(got, want) {
		t.Errorf("the no-op sync of a filtered mirror requested %v, want only %v", got, want)
	}
	// Without that record (state from before it, or another daemon's
	// state directory) the revision is written again, byte for byte the
	// same, and nothing is published.
	st, err := h.store.Load("test")
	if err != nil {
		t.Fatal(err)
	}
	st.Filtered = nil
	if err := h.store.Save(st); err != nil {
		t.Fatal(err)
	}
	rep = h.mustSync()
	if !rep.NoChange || rep.Filter == nil || rep.Filter.Reused || rep.Filter.Kept != 6 {
		t.Errorf("sync without the record: NoChange %v, filter report %+v", rep.NoChange, rep.Filter)
	}
	if after, _ := os.ReadFile(filepath.Join(h.mirrors[0], "repodata", "repomd.xml")); !bytes.Equal(after, first) {
		t.Error("the second sync wrote another repomd.xml")
	}
	if o.fetched() != nil {
		t.Error("the second sync fetched packages")
	}

	// Another filter: packages it drops are pruned (prune_after 0), those
	// it adds fetched.
	h.repo.Filter = &config.Filter{Arch: []string{"x86_64", "i686"}, Include: []string{"tool*"}, Newest: 1}
	kept2 := []testrepo.Pkg{pkgs[2], pkgs[3], pkgs[4]}
	rep = h.mustSync()
	if got, want := o.fetched(), relPaths(pkgs[3], pkgs[4]); !reflect.DeepEqual(got, want) {
		t.Errorf("after the filter changed, fetched %v, want %v", got, want)
	}
	if got, want := keys(dnfView(t, testrepo.Repo{Name: "mirror", URL: h.mirrors[0]})), nevras(kept2); !reflect.DeepEqual(got, want) {
		t.Errorf("after the filter changed dnf sees %v, want %v", got, want)
	}
	for _, m := range h.mirrors {
		files := tree(t, m)
		for _, p := range []testrepo.Pkg{pkgs[1], pkgs[5], pkgs[7]} {
			if _, ok := files[p.RelPath()]; ok {
				t.Errorf("mirror %s still has %s, which the new filter drops", m, p.RelPath())
			}
		}
		if r := checker.Check(m, checker.Options{KeyFiles: []string{key.PublicPath, repoKey.PublicPath}}); len(r.Problems) > 0 {
			t.Errorf("checker: mirror %s: %v", m, r.Problems)
		}
	}
}

// TestFilteredNewestWithModules: newest is refused on a repository with
// modules metadata, with a typed error; the mirrors are not touched.
func TestFilteredNewestWithModules(t *testing.T) {
	key := testrepo.TestKey(t)
	base := t.TempDir()
	pkgs := filterPkgs(key)[:2]
	v1 := filepath.Join(base, "v1")
	buildRepo(t, v1, "", testrepo.RepoOpts{Revision: "1", Extras: testrepo.WriteExtras(t, filepath.Join(base, "extras"), pkgs...)}, pkgs...)
	o := newOrigin(t, filepath.Join(base, "origin"))
	republish(t, o, v1)
	h := newHarness(t, o, key.PublicPath)
	h.repo.Filter = &config.Filter{Newest: 1}
	rep := h.sync()
	var me *filter.ModulesError
	if !errors.As(rep.Err, &me) {
		t.Fatalf("err = %v, want a *filter.ModulesError", rep.Err)
	}
	if _, err := os.Stat(filepath.Join(h.mirrors[0], "repodata")); err == nil {
		t.Error("the mirror was written")
	}
	// Without newest the modules metadata is carried.
	h.repo.Filter = &config.Filter{Arch: []string{"x86_64"}}
	h.mustSync()
	r := checker.Check(h.mirrors[0], checker.Options{})
	if len(r.Problems) > 0 {
		t.Fatal(r.Problems)
	}
	if !bytes.Contains(r.Repomd, []byte(`type="modules"`)) {
		t.Error("modules metadata is not carried")
	}
}

func sortedStrings(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}

func mustKeyring(t *testing.T, files ...string) openpgp.EntityList {
	t.Helper()
	k, err := verify.LoadKeyring(files...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
