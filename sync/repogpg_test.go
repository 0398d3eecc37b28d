package sync_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/sync"
	"github.com/rpmirror/rpmirror/target/local"
	"github.com/rpmirror/rpmirror/verify"
)

// TestRepoGPGCheck: with repo_gpgcheck, an origin revision whose
// repomd.xml.asc is missing, by another key, of another revision or not a
// signature is refused with a *RepomdSignatureError and every mirror stays
// byte for byte as it was; dnf with repo_gpgcheck=1 keeps reading the
// mirrors. A correctly signed revision is published, and CheckMirrorWith
// (rpmirror verify) checks the signature of what a mirror serves.
func TestRepoGPGCheck(t *testing.T) {
	testrepo.RequireTools(t, "rpmbuild", "rpmsign", "gpg", "createrepo_c")
	key := testrepo.TestKey(t)
	unknown := testrepo.UnknownKey(t)
	base := t.TempDir()
	v1 := filepath.Join(base, "v1")
	p1 := testrepo.DemoPackages(key)
	buildRepo(t, v1, "", testrepo.RepoOpts{Revision: "1", SignRepomd: key}, p1...)
	newPkg := testrepo.Pkg{Name: "zz-new", Version: "1", Release: "1", Sign: key}
	p2 := append(append([]testrepo.Pkg(nil), p1...), newPkg)
	keyring, err := verify.LoadKeyring(key.PublicPath)
	if err != nil {
		t.Fatal(err)
	}

	// Revision 2 is built once; each case alters its repomd.xml.asc.
	v2 := filepath.Join(base, "v2")
	buildRepo(t, v2, v1, testrepo.RepoOpts{Revision: "2", SignRepomd: key}, p2...)
	asc := func(dir string) string { return filepath.Join(dir, "repodata", "repomd.xml.asc") }
	for _, tc := range []struct {
		name    string
		prepare func(t *testing.T, dir string)
		is      error // nil: the revision is published
	}{
		{
			name:    "signed by the key",
			prepare: func(t *testing.T, dir string) {},
		},
		{
			name:    "no repomd.xml.asc",
			prepare: func(t *testing.T, dir string) { os.Remove(asc(dir)) },
			is:      verify.ErrUnsigned,
		},
		{
			name: "signed by another key",
			prepare: func(t *testing.T, dir string) {
				if err := unknown.DetachSign(filepath.Join(dir, "repodata", "repomd.xml"), asc(dir)); err != nil {
					t.Fatal(err)
				}
			},
			is: verify.ErrUnknownKey,
		},
		{
			name:    "the previous revision's signature",
			prepare: func(t *testing.T, dir string) { copyFile(t, asc(v1), asc(dir)) },
			is:      verify.ErrBadSignature,
		},
		{
			name: "not a signature",
			prepare: func(t *testing.T, dir string) {
				os.WriteFile(asc(dir), []byte("-----BEGIN PGP SIGNATURE-----\n\nbm90IGEgc2lnbmF0dXJl\n-----END PGP SIGNATURE-----\n"), 0o644)
			},
			is: verify.ErrBadSignature,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "v2")
			if err := os.CopyFS(dir, os.DirFS(v2)); err != nil {
				t.Fatal(err)
			}
			o := newOrigin(t, filepath.Join(t.TempDir(), "origin"))
			republish(t, o, v1)
			h := newHarness(t, o, key.PublicPath)
			h.repo.RepoGPGCheck, h.repo.RepoGPGKeys = true, []string{key.PublicPath}
			h.mustSync()
			before := []map[string]string{tree(t, h.mirrors[0]), tree(t, h.mirrors[1])}
			tc.prepare(t, dir)
			republish(t, o, dir)
			rep := h.sync()
			if tc.is == nil {
				if rep.Err != nil {
					t.Fatalf("sync: %v", rep.Err)
				}
				checkRepoSignature(t, h.mirrors[0], keyring, nil)
				if got, want := dnfRepoGPGCheck(t, h.mirrors[0], key.PublicPath), nevras(p2); !reflect.DeepEqual(got, want) {
					t.Errorf("dnf with repo_gpgcheck=1 lists %v, want %v", got, want)
				}
				return
			}
			var rse *sync.RepomdSignatureError
			if !errors.As(rep.Err, &rse) {
				t.Fatalf("sync error %v (%T), want a *sync.RepomdSignatureError", rep.Err, rep.Err)
			}
			if !errors.Is(rep.Err, tc.is) || rse.Revision != "2" || !strings.Contains(rep.Err.Error(), "repomd.xml signature check failed") {
				t.Errorf("sync error %q: want one naming revision 2 and wrapping %v", rep.Err, tc.is)
			}
			for i, m := range h.mirrors {
				if got := tree(t, m); !reflect.DeepEqual(got, before[i]) {
					t.Errorf("mirror %d changed:\nbefore %v\nafter  %v", i, before[i], got)
				}
			}
			if tc.is == verify.ErrUnsigned {
				// One dnf run is enough to show clients are unaffected.
				if got, want := dnfRepoGPGCheck(t, h.mirrors[0], key.PublicPath), nevras(p1); !reflect.DeepEqual(got, want) {
					t.Errorf("dnf with repo_gpgcheck=1 lists %v, want %v", got, want)
				}
			}
		})
	}

	// rpmirror verify: a mirror whose repomd.xml.asc is missing or does
	// not verify has a problem at that path.
	t.Run("verify", func(t *testing.T) {
		mirror := filepath.Join(t.TempDir(), "m")
		if err := os.CopyFS(mirror, os.DirFS(v1)); err != nil {
			t.Fatal(err)
		}
		asc := filepath.Join(mirror, "repodata", "repomd.xml.asc")
		checkRepoSignature(t, mirror, keyring, nil)
		copyFile(t, filepath.Join(v1, "repodata", "repomd.xml"), asc)
		checkRepoSignature(t, mirror, keyring, verify.ErrBadSignature)
		os.Remove(asc)
		checkRepoSignature(t, mirror, keyring, verify.ErrUnsigned)
	})
}

// checkRepoSignature runs CheckMirrorWith on dir with repoKeyring and
// checks its only problem, if any, is repomd.xml.asc's, wrapping want.
func checkRepoSignature(t *testing.T, dir string, repoKeyring openpgp.EntityList, want error) {
	t.Helper()
	tg, err := local.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	problems, _, err := sync.CheckMirrorWith(context.Background(), tg, sync.CheckOptions{RepoKeyring: repoKeyring})
	if err != nil {
		t.Fatal(err)
	}
	if want == nil {
		for _, p := range problems {
			t.Errorf("problem: %s", p)
		}
		return
	}
	if len(problems) != 1 || problems[0].Path != sync.AscPath || !errors.Is(problems[0].Err, want) {
		t.Errorf("problems %v, want one at %s wrapping %v", problems, sync.AscPath, want)
	}
}

// dnfRepoGPGCheck lists the packages dnf sees in the mirror at dir with
// gpgcheck=1 and repo_gpgcheck=1.
func dnfRepoGPGCheck(t *testing.T, dir, key string) []string {
	t.Helper()
	testrepo.RequireTools(t, "dnf")
	repo := testrepo.Repo{Name: "mirror", URL: dir, GPGKeys: []string{key}, RepoGPGCheck: true}
	out, err := testrepo.DNFWithRepoFile(t, repo.String(), "repoquery", "-q", "--qf", "%{name}-%{epoch}:%{version}-%{release}.%{arch}")
	if err != nil {
		t.Fatalf("dnf repoquery with repo_gpgcheck=1: %v\n%s", err, out)
	}
	lines := strings.Fields(out)
	sort.Strings(lines)
	return lines
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestOriginPageNotMirroredAsSignature: without repo_gpgcheck, nothing
// verifies the origin's repomd.xml.asc and repomd.xml.key; a server that
// answers a file it lacks with a page of its own and 200 (a soft 404)
// used to have that page mirrored as the signature and key clients fetch.
// Now what is not OpenPGP data of its kind is left out, with a warning
// naming the upstream and the file; the revision is published, the
// mirrors consistent. A real signature and key are still mirrored as
// they are, unchecked.
func TestOriginPageNotMirroredAsSignature(t *testing.T) {
	testrepo.RequireTools(t, "rpmbuild", "rpmsign", "gpg", "createrepo_c")
	key := testrepo.TestKey(t)
	v1 := filepath.Join(t.TempDir(), "v1")
	buildRepo(t, v1, "", testrepo.RepoOpts{Revision: "1", SignRepomd: key}, testrepo.DemoPackages(key)...)
	pub, err := os.ReadFile(key.PublicPath)
	if err != nil {
		t.Fatal(err)
	}
	page := []byte("<!DOCTYPE html>\n<html><head><title>Not Found</title></head><body>Sorry.</body></html>\n")
	repodataOf := func(dir string) string { return filepath.Join(dir, "repodata") }
	for _, tc := range []struct {
		name          string
		asc, keyFile  []byte // nil: the origin's own signature; the test key
		wantAsc, want bool   // mirrored
		warn          []string
	}{
		{name: "signature and key", wantAsc: true, want: true},
		{name: "a page for both", asc: page, keyFile: page, warn: []string{"repodata/repomd.xml.asc", "repodata/repomd.xml.key", "<!DOCTYPE html>"}},
		{name: "a page for the key", keyFile: page, wantAsc: true, warn: []string{"repodata/repomd.xml.key"}},
		{name: "the key as the signature", asc: pub, want: true, warn: []string{"repodata/repomd.xml.asc", "PGP PUBLIC KEY BLOCK"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "v1")
			if err := os.CopyFS(dir, os.DirFS(v1)); err != nil {
				t.Fatal(err)
			}
			keyFile := tc.keyFile
			if keyFile == nil {
				keyFile = pub
			}
			if err := os.WriteFile(filepath.Join(repodataOf(dir), "repomd.xml.key"), keyFile, 0o644); err != nil {
				t.Fatal(err)
			}
			if tc.asc != nil {
				if err := os.WriteFile(filepath.Join(repodataOf(dir), "repomd.xml.asc"), tc.asc, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			o := newOrigin(t, dir)
			h := newHarness(t, o, key.PublicPath)
			var log bytes.Buffer
			h.log = &log
			h.mustSync()
			for _, m := range h.mirrors {
				for _, f := range []struct {
					name string
					want bool
					from string
				}{{"repomd.xml.asc", tc.wantAsc, filepath.Join(repodataOf(dir), "repomd.xml.asc")}, {"repomd.xml.key", tc.want, filepath.Join(repodataOf(dir), "repomd.xml.key")}} {
					got, err := os.ReadFile(filepath.Join(repodataOf(m), f.name))
					switch {
					case f.want && err != nil:
						t.Errorf("%s: the origin's %s not mirrored: %v", m, f.name, err)
					case f.want:
						if want, _ := os.ReadFile(f.from); !bytes.Equal(got, want) {
							t.Errorf("%s: %s is not the origin's", m, f.name)
						}
					case err == nil:
						t.Errorf("%s: mirrors the origin's %s, which is not OpenPGP data of its kind:\n%s", m, f.name, got)
					}
				}
			}
			for _, m := range h.mirrors {
				checkConsistent(t, m)
			}
			warned := grepLog(log.String(), "not mirroring the origin's")
			for _, w := range tc.warn {
				if !strings.Contains(warned, w) || !strings.Contains(warned, o.URL()) {
					t.Errorf("no warning naming %q and the upstream:\n%s", w, warned)
				}
			}
			if len(tc.warn) == 0 && warned != "" {
				t.Errorf("warned of a real signature and key:\n%s", warned)
			}
		})
	}
}

// grepLog returns the lines of log holding s.
func grepLog(log, s string) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestSignaturePageServedOnce: without repo_gpgcheck, an origin that
// serves a page in place of its repomd.xml.asc once, its repomd.xml the
// same, leaves the mirrors the signature they serve (the one recorded
// with that revision), not none while the record names one (a
// reviewer's case: every probe then found every mirror down). A page an
// older rpmirror recorded and mirrored as the signature is dropped from
// the mirrors and the record together: verify, checking against what is
// recorded, finds nothing wrong either way.
func TestSignaturePageServedOnce(t *testing.T) {
	testrepo.RequireTools(t, "rpmbuild", "rpmsign", "gpg", "createrepo_c")
	key := testrepo.TestKey(t)
	dir := filepath.Join(t.TempDir(), "v1")
	buildRepo(t, dir, "", testrepo.RepoOpts{Revision: "1", SignRepomd: key}, testrepo.DemoPackages(key)...)
	ascPath := filepath.Join(dir, "repodata", "repomd.xml.asc")
	good, err := os.ReadFile(ascPath)
	if err != nil {
		t.Fatal(err)
	}
	page := []byte("<!DOCTYPE html>\n<html><body>Service Unavailable</body></html>\n")
	o := newOrigin(t, dir)
	h := newHarness(t, o, key.PublicPath)
	var log bytes.Buffer
	h.log = &log
	h.mustSync()
	consistent := func(when string) {
		t.Helper()
		opts, err := sync.CheckOptionsFor(h.repo)
		if err != nil {
			t.Fatal(err)
		}
		opts.Signatures = sync.RecordedSignatures(h.store, h.repo)
		opts.Keys = sync.RecordedKeys(h.store, h.repo)
		opts.Verified = sync.VerifiedDigests(h.store, h.repo)
		for _, m := range h.mirrors {
			tg, err := local.New(m)
			if err != nil {
				t.Fatal(err)
			}
			problems, _, err := sync.CheckMirrorWith(context.Background(), tg, opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range problems {
				t.Errorf("%s: %s: %s", when, m, p)
			}
		}
	}
	served := func(m string) []byte {
		b, _ := os.ReadFile(filepath.Join(m, "repodata", "repomd.xml.asc"))
		return b
	}

	if err := os.WriteFile(ascPath, page, 0o644); err != nil {
		t.Fatal(err)
	}
	h.mustSync()
	for _, m := range h.mirrors {
		if !bytes.Equal(served(m), good) {
			t.Errorf("%s: after a page served once in place of the signature, the mirror serves %q", m, served(m))
		}
	}
	if !strings.Contains(log.String(), "keeping the repodata/repomd.xml.asc this revision was verified with") {
		t.Errorf("no warning that the origin's signature was a page:\n%s", grepLog(log.String(), "repomd.xml.asc"))
	}
	consistent("after the page served once")

	// As an older rpmirror left it: the page recorded and mirrored.
	v, err := h.store.LoadVerified("test")
	if err != nil || v == nil {
		t.Fatal(v, err)
	}
	v.Revisions[0].Signature = page
	if err := h.store.SaveVerified(v); err != nil {
		t.Fatal(err)
	}
	for _, m := range h.mirrors {
		if err := os.Remove(filepath.Join(m, "repodata", "repomd.xml.asc")); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(m, "repodata", "repomd.xml.asc"), page, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	h.mustSync()
	for _, m := range h.mirrors {
		if b := served(m); b != nil {
			t.Errorf("%s: serves %q as the signature after the recorded page was found out", m, b)
		}
	}
	if v, _ := h.store.LoadVerified("test"); v == nil || v.Revisions[0].Signature != nil {
		t.Errorf("the page is still recorded as the signature")
	}
	consistent("after the recorded page was dropped")
}
