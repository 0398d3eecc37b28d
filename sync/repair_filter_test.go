package sync_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/internal/checker"
	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/repodata"
	"github.com/rpmirror/rpmirror/sync"
	"github.com/rpmirror/rpmirror/target/local"
	"github.com/rpmirror/rpmirror/verify"
)

// TestRepairFilteredMirror: the metadata of a filtered mirror is
// rpmirror's own, so Repair writes a deleted or damaged primary or
// filelists again from the origin's revision, byte for byte as it was,
// and signs repomd.xml again with sign_with when its signature is gone;
// once the origin has moved on, the file stays broken with an
// *OriginChangedError, and a repomd.xml rpmirror never verified is not
// signed.
func TestRepairFilteredMirror(t *testing.T) {
	key := testrepo.TestKey(t)
	base := t.TempDir()
	repoKey, signWith := testrepo.NewSigningKey(t, base)
	pkgs := filterPkgs(key)
	v1, v2 := filepath.Join(base, "v1"), filepath.Join(base, "v2")
	buildRepo(t, v1, "", testrepo.RepoOpts{SignRepomd: key, Revision: "1", Compress: "zstd"}, pkgs...)
	o := newOrigin(t, filepath.Join(base, "origin"))
	republish(t, o, v1)
	h := newHarness(t, o, key.PublicPath)
	h.repo.Filter = &config.Filter{Arch: []string{"x86_64", "noarch"}, Exclude: []string{"*-debuginfo"}, Newest: 2}
	h.repo.SignWith = signWith
	h.repo.RepoGPGCheck, h.repo.RepoGPGKeys = true, []string{key.PublicPath}
	kept := []testrepo.Pkg{pkgs[1], pkgs[2], pkgs[5], pkgs[6], pkgs[7], pkgs[8]}
	h.mustSync()

	m0, m1 := h.mirrors[0], h.mirrors[1]
	repomd, err := os.ReadFile(filepath.Join(m0, filepath.FromSlash(sync.RepomdPath)))
	if err != nil {
		t.Fatal(err)
	}
	md, err := repodata.ParseRepomd(repomd)
	if err != nil {
		t.Fatal(err)
	}
	href := func(typ string) string {
		d, ok := md.Find(typ)
		if !ok {
			t.Fatalf("the filtered repomd.xml lists no %s", typ)
		}
		return d.Href
	}
	primary, filelists := href("primary"), href("filelists")
	before := map[string][]byte{}
	for _, p := range []string{primary, filelists, sync.KeyPath} {
		if before[p], err = os.ReadFile(filepath.Join(m0, filepath.FromSlash(p))); err != nil {
			t.Fatal(err)
		}
	}
	opts, err := sync.CheckOptionsFor(h.repo)
	if err != nil {
		t.Fatal(err)
	}
	check := func(m string) []sync.Problem {
		t.Helper()
		tg, err := local.New(m)
		if err != nil {
			t.Fatal(err)
		}
		problems, _, err := sync.CheckMirrorWith(context.Background(), tg, opts)
		if err != nil {
			t.Fatal(err)
		}
		return problems
	}
	repair := func() map[string]*sync.MirrorRepair {
		t.Helper()
		reps, err := h.engine(false).Repair(context.Background(), h.repo)
		if err != nil {
			t.Fatal(err)
		}
		byName := map[string]*sync.MirrorRepair{}
		for _, r := range reps {
			if r.Err != nil {
				t.Fatalf("repairing %s: %v", r.Name, r.Err)
			}
			byName[r.Name] = r
		}
		return byName
	}
	paths := func(ps []sync.Problem) []string {
		var s []string
		for _, p := range ps {
			s = append(s, p.Path)
		}
		sort.Strings(s)
		return s
	}
	flip := func(p string) {
		t.Helper()
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0xff
		// A new file, not a write in place: the mirrors share their
		// metadata through hard links.
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	at := func(m, p string) string { return filepath.Join(m, filepath.FromSlash(p)) }

	// Damage: the primary deleted and the filelists damaged on one
	// mirror; on the other, the filelists deleted, the signature deleted
	// and the key damaged.
	os.Remove(at(m0, primary))
	flip(at(m0, filelists))
	os.Remove(at(m1, filelists))
	os.Remove(at(m1, sync.AscPath))
	flip(at(m1, sync.KeyPath))
	if got, want := paths(check(m1)), []string{filelists, sync.AscPath, sync.KeyPath}; !reflect.DeepEqual(got, want) {
		t.Fatalf("CheckMirrorWith finds problems with %v on the damaged mirror, want %v", got, want)
	}
	o.fetched()
	reps := repair()
	for name, want := range map[string][]string{
		"one": {filelists, primary},
		"two": {filelists, sync.AscPath, sync.KeyPath},
	} {
		r := reps[name]
		if got := paths(r.Replaced); !reflect.DeepEqual(got, sortedStrings(want)) || len(r.Left) > 0 {
			t.Errorf("mirror %s: replaced %v, left %v; want %v replaced, nothing left", name, got, r.Left, want)
		}
	}
	if got := o.fetched(); got != nil {
		t.Errorf("the repair fetched packages %v", got)
	}
	ring := mustKeyring(t, repoKey.PublicPath)
	for _, m := range h.mirrors {
		for p, b := range before {
			if got, err := os.ReadFile(at(m, p)); err != nil || !bytes.Equal(got, b) {
				t.Errorf("mirror %s: %s after the repair is not what was published (%v)", m, p, err)
			}
		}
		asc, err := os.ReadFile(at(m, sync.AscPath))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := verify.DetachedSignature(repomd, asc, ring); err != nil {
			t.Errorf("mirror %s: repomd.xml.asc after the repair: %v", m, err)
		}
		for _, p := range check(m) {
			t.Errorf("mirror %s after the repair: %s", m, p)
		}
		r := checker.Check(m, checker.Options{KeyFiles: []string{key.PublicPath, repoKey.PublicPath}})
		for _, p := range r.Problems {
			t.Errorf("checker: mirror %s after the repair: %s", m, p)
		}
	}
	dnf := testrepo.NewDNF(t, testrepo.Repo{Name: "mirror", URL: m1, GPGKeys: []string{key.PublicPath, repoKey.PublicPath}, RepoGPGCheck: true}.String())
	out, err := dnf.Run("repoquery", "-q", "--qf", "%{name}-%{epoch}:%{version}-%{release}.%{arch}")
	if err != nil {
		t.Fatalf("dnf repoquery on the repaired mirror: %v\n%s", err, out)
	}
	if got := strings.Fields(out); !reflect.DeepEqual(sortedStrings(got), nevras(kept)) {
		t.Errorf("dnf sees %v on the repaired mirror, want %v", got, nevras(kept))
	}

	// A repomd.xml rpmirror did not verify is not signed again.
	tampered := append(bytes.Clone(repomd), '\n')
	if err := os.WriteFile(at(m1, sync.RepomdPath), tampered, 0o644); err != nil {
		t.Fatal(err)
	}
	r := repair()["two"]
	if len(r.Replaced) > 0 || len(r.Left) != 1 || r.Left[0].Path != sync.AscPath || !errors.Is(r.Left[0].Err, sync.ErrUnverifiedRepomd) {
		t.Errorf("repair of a tampered repomd.xml: replaced %v, left %v; want the signature left with ErrUnverifiedRepomd", r.Replaced, r.Left)
	}
	if err := os.WriteFile(at(m1, sync.RepomdPath), repomd, 0o644); err != nil {
		t.Fatal(err)
	}

	// The origin moves on: the filtered metadata written from its new
	// revision is not the mirror's, which stays broken until a sync.
	more := []testrepo.Pkg{{Name: "lib", Version: "2.0", Release: "1", Arch: "x86_64", Sign: key}}
	buildRepo(t, v2, v1, testrepo.RepoOpts{SignRepomd: key, Revision: "2", Compress: "zstd"}, append(pkgs, more...)...)
	republish(t, o, v2)
	os.Remove(at(m0, primary))
	r = repair()["one"]
	var oc *sync.OriginChangedError
	if len(r.Replaced) > 0 || len(r.Left) != 1 || r.Left[0].Path != primary || !errors.As(r.Left[0].Err, &oc) || !errors.Is(r.Left[0].Err, sync.ErrMissing) {
		t.Fatalf("repair after the origin moved on: replaced %v, left %v; want %s left with an *OriginChangedError", r.Replaced, r.Left, primary)
	}
	if oc.Href != primary || oc.Revision != "1" || oc.OriginRevision != "2" || oc.WentBack {
		t.Errorf("OriginChangedError %+v, want %s, revision 1, origin revision 2, not gone back", oc, primary)
	}
	t.Logf("left: %s", r.Left[0])
	// A sync publishes the new revision.
	h.mustSync()
	if p := check(m0); len(p) > 0 {
		t.Errorf("after the sync: %v", p)
	}

	// The origin goes back to revision 1: a sync refuses it, and the
	// repair says so rather than to run one (an operator tester's).
	md2, err := os.ReadFile(at(m0, sync.RepomdPath))
	if err != nil {
		t.Fatal(err)
	}
	primary2 := regexp.MustCompile(`(?s)<data type="primary">.*?<location href="([^"]+)"`).FindSubmatch(md2)[1]
	republish(t, o, v1)
	os.Remove(at(m0, string(primary2)))
	r = repair()["one"]
	if len(r.Left) != 1 || !errors.As(r.Left[0].Err, &oc) || !oc.WentBack || !strings.Contains(r.Left[0].Err.Error(), "allow_rollback") {
		t.Errorf("repair after the origin went back: left %v; want an *OriginChangedError saying it went back and naming allow_rollback", r.Left)
	}
}
