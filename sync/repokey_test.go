package sync_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/sync"
	"github.com/rpmirror/rpmirror/target/local"
	"github.com/rpmirror/rpmirror/verify"
)

// TestRepoKeyChecked: with repo_gpgcheck, the origin's
// repodata/repomd.xml.key, which dnf clients import with repo_gpgcheck=1
// and gpgkey=<mirror>/repodata/repomd.xml.key, is published only when
// every primary key in it is one of repo_gpgkeys (by fingerprint: armor
// and user IDs may differ) and it holds the key that signed
// repomd.xml.asc. Otherwise the revision is refused with a
// *sync.RepoKeyMismatchError naming the file, the origin and the
// fingerprints, nothing is recorded as verified and every mirror stays
// byte for byte as it was; dnf importing the mirror's key keeps reading
// it. An origin without the file is mirrored as before.
func TestRepoKeyChecked(t *testing.T) {
	testrepo.RequireTools(t, "rpmbuild", "rpmsign", "gpg", "createrepo_c")
	key := testrepo.TestKey(t)
	unknown := testrepo.UnknownKey(t)
	base := t.TempDir()
	v1, v2 := filepath.Join(base, "v1"), filepath.Join(base, "v2")
	p1 := testrepo.DemoPackages(key)
	p2 := append(slices.Clone(p1), testrepo.Pkg{Name: "zz-new", Version: "1", Release: "1", Sign: key})
	buildRepo(t, v1, "", testrepo.RepoOpts{Revision: "1", SignRepomd: key}, p1...)
	buildRepo(t, v2, v1, testrepo.RepoOpts{Revision: "2", SignRepomd: key}, p2...)
	pub, err := os.ReadFile(key.PublicPath)
	if err != nil {
		t.Fatal(err)
	}
	other, err := os.ReadFile(unknown.PublicPath)
	if err != nil {
		t.Fatal(err)
	}
	// The right key as gpg exports it once a user ID is added: binary,
	// and not the bytes of the configured file.
	if out, err := gpg(key, "--quick-add-uid", key.Fingerprint, "rpmirror test key (second uid) <second@rpmirror.invalid>"); err != nil {
		t.Fatalf("gpg --quick-add-uid: %v\n%s", err, out)
	}
	binary, err := gpg(key, "--export", key.Fingerprint)
	if err != nil || len(binary) == 0 || slices.Equal(binary, pub) {
		t.Fatalf("gpg --export: %v\n%s", err, binary)
	}
	keyPath := func(dir string) string { return filepath.Join(dir, "repodata", "repomd.xml.key") }
	// The next revision signed by a signing subkey added to the key; the
	// configured file has the subkey, the origin's repomd.xml.key (the
	// key as first published) does not: dnf importing it refuses the
	// signature (a tester's finding), though its primary key is right.
	if out, err := gpg(key, "--quick-add-key", key.Fingerprint, "rsa2048", "sign", "0"); err != nil {
		t.Fatalf("gpg --quick-add-key: %v\n%s", err, out)
	}
	withSub := filepath.Join(base, "with-subkey.asc")
	if out, err := gpg(key, "--armor", "--output", withSub, "--export", key.Fingerprint); err != nil {
		t.Fatalf("gpg --export: %v\n%s", err, out)
	}
	bySub := filepath.Join(base, "by-subkey")
	if err := os.CopyFS(bySub, os.DirFS(v2)); err != nil {
		t.Fatal(err)
	}
	asc := filepath.Join(bySub, "repodata", "repomd.xml.asc")
	os.Remove(asc)
	if out, err := gpg(key, "--armor", "--detach-sign", "--output", asc, filepath.Join(bySub, "repodata", "repomd.xml")); err != nil {
		t.Fatalf("gpg --detach-sign: %v\n%s", err, out)
	}
	if out, err := gpg(key, "--list-packets", asc); err != nil || strings.Contains(string(out), "keyid "+key.ID) {
		t.Fatalf("the signature is not by the subkey: %v\n%s", err, out)
	}

	for _, tc := range []struct {
		name     string
		from     string   // the origin's next revision (default v2)
		key      []byte   // its repomd.xml.key; nil: none
		repoKeys []string // repo_gpgkeys (default the test key)
		dnf      bool     // check that dnf importing the mirror's key reads it
		// Refused when any is set: what the error says.
		unknown []string // fingerprints not in repo_gpgkeys
		missing string   // the signer's, when the file lacks it
		parse   bool     // the file does not parse
		// unusable: the file holds the signer's primary key, but the
		// signature does not verify with what it holds.
		unusable bool
	}{
		{name: "the right key", key: pub, dnf: true},
		{name: "the right key in binary with another user ID", key: binary, dnf: true},
		{name: "no repomd.xml.key"},
		{name: "another valid key", key: other, unknown: []string{unknown.Fingerprint}, missing: key.Fingerprint, dnf: true},
		{name: "the right key and an unknown one", key: slices.Concat(pub, other), unknown: []string{unknown.Fingerprint}},
		{name: "garbage", key: []byte("<html><body>404 Not Found</body></html>\n"), parse: true},
		{name: "a configured key but not the signer's", key: other, repoKeys: []string{key.PublicPath, unknown.PublicPath}, missing: key.Fingerprint},
		{name: "another key beside the revision the mirrors serve", from: v1, key: other, unknown: []string{unknown.Fingerprint}, missing: key.Fingerprint},
		{name: "the signer's primary key without the subkey that signed", from: bySub, key: pub, repoKeys: []string{withSub}, unusable: true},
		{name: "the signer's key with the subkey that signed", from: bySub, key: mustRead(t, withSub), repoKeys: []string{withSub}, dnf: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from := tc.from
			if from == "" {
				from = v2
			}
			dir := filepath.Join(t.TempDir(), "next")
			if err := os.CopyFS(dir, os.DirFS(from)); err != nil {
				t.Fatal(err)
			}
			if tc.key == nil {
				os.Remove(keyPath(dir))
			} else if err := os.WriteFile(keyPath(dir), tc.key, 0o644); err != nil {
				t.Fatal(err)
			}
			repoKeys := tc.repoKeys
			if repoKeys == nil {
				repoKeys = []string{key.PublicPath}
			}
			ring, err := verify.LoadKeyring(repoKeys...)
			if err != nil {
				t.Fatal(err)
			}
			o := newOrigin(t, filepath.Join(t.TempDir(), "origin"))
			republish(t, o, v1)
			h := newHarness(t, o, key.PublicPath)
			h.repo.RepoGPGCheck, h.repo.RepoGPGKeys = true, repoKeys
			h.mustSync()
			before := []map[string]string{tree(t, h.mirrors[0]), tree(t, h.mirrors[1])}
			republish(t, o, dir)
			rep := h.sync()

			refused := tc.unknown != nil || tc.missing != "" || tc.parse || tc.unusable
			if !refused {
				if rep.Err != nil {
					t.Fatalf("sync: %v", rep.Err)
				}
				repomd, _ := os.ReadFile(filepath.Join(dir, "repodata", "repomd.xml"))
				for _, m := range h.mirrors {
					if got, _ := os.ReadFile(filepath.Join(m, "repodata", "repomd.xml")); !slices.Equal(got, repomd) {
						t.Errorf("mirror %s does not serve the origin's repomd.xml", m)
					}
					got, err := os.ReadFile(keyPath(m))
					switch {
					case tc.key == nil && !errors.Is(err, os.ErrNotExist):
						t.Errorf("mirror %s serves a repomd.xml.key the origin does not have (%v)", m, err)
					case tc.key != nil && !slices.Equal(got, tc.key):
						t.Errorf("mirror %s does not serve the origin's repomd.xml.key (%v)", m, err)
					}
					checkRepoSignature(t, m, ring, nil) // rpmirror verify: no problem
				}
				if tc.dnf {
					// A client importing the key the mirror serves.
					if got, want := dnfRepoGPGCheck(t, h.mirrors[0], keyPath(h.mirrors[0])), nevras(p2); !reflect.DeepEqual(got, want) {
						t.Errorf("dnf with repo_gpgcheck=1 and the mirror's repomd.xml.key lists %v, want %v", got, want)
					}
				}
				return
			}

			// Nothing published, nothing recorded as verified, and clients
			// importing the mirror's key unaffected.
			for i, m := range h.mirrors {
				if got := tree(t, m); !reflect.DeepEqual(got, before[i]) {
					t.Errorf("mirror %d changed:\nbefore %v\nafter  %v", i, before[i], got)
				}
			}
			v, err := h.store.LoadVerified(h.repo.Name)
			if err != nil {
				t.Fatal(err)
			}
			var revs []string
			for _, r := range v.Revisions {
				revs = append(revs, r.Revision)
			}
			if !slices.Equal(revs, []string{"1"}) {
				t.Errorf("verified revisions %v, want revision 1 alone", revs)
			}
			if tc.dnf {
				if got, want := dnfRepoGPGCheck(t, h.mirrors[0], keyPath(h.mirrors[0])), nevras(p1); !reflect.DeepEqual(got, want) {
					t.Errorf("dnf with repo_gpgcheck=1 and the mirror's repomd.xml.key lists %v, want %v", got, want)
				}
			}
			var rke *sync.RepoKeyMismatchError
			if !errors.As(rep.Err, &rke) {
				t.Fatalf("sync error %v (%T), want a *sync.RepoKeyMismatchError", rep.Err, rep.Err)
			}
			t.Logf("refused: %v", rep.Err)
			if !slices.Equal(rke.Unknown, tc.unknown) || rke.Missing != tc.missing || (rke.Err != nil) != tc.parse || (rke.Unusable != nil) != tc.unusable {
				t.Errorf("refused with unknown %v, missing %q, parse error %v, unusable %v; want unknown %v, missing %q, a parse error %v, unusable %v",
					rke.Unknown, rke.Missing, rke.Err, rke.Unusable, tc.unknown, tc.missing, tc.parse, tc.unusable)
			}
			md, _ := os.ReadFile(filepath.Join(dir, "repodata", "repomd.xml"))
			wantRev := "2"
			if from == v1 {
				wantRev = "1"
			}
			if rke.Revision != wantRev || !strings.Contains(string(md), "<revision>"+wantRev+"</revision>") {
				t.Errorf("refused revision %q, want %q", rke.Revision, wantRev)
			}
			msg := rep.Err.Error()
			for _, want := range append([]string{sync.KeyPath, o.URL(), "refused"}, append(slices.Clone(tc.unknown), tc.missing)...) {
				if !strings.Contains(msg, want) {
					t.Errorf("sync error %q does not say %q", msg, want)
				}
			}
		})
	}

	// A filtered mirror with sign_with publishes rpmirror's key, never
	// the origin's: the origin's is not judged, and a wrong one refuses
	// nothing.
	t.Run("filtered with sign_with", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "next")
		if err := os.CopyFS(dir, os.DirFS(v2)); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(keyPath(dir), other, 0o644); err != nil {
			t.Fatal(err)
		}
		repoKey, signWith := testrepo.NewSigningKey(t, t.TempDir())
		o := newOrigin(t, filepath.Join(t.TempDir(), "origin"))
		republish(t, o, dir)
		h := newHarness(t, o, key.PublicPath)
		h.repo.RepoGPGCheck, h.repo.RepoGPGKeys = true, []string{key.PublicPath}
		h.repo.Filter, h.repo.SignWith = &config.Filter{}, signWith
		h.mustSync()
		for _, m := range h.mirrors {
			b, err := os.ReadFile(keyPath(m))
			if err != nil {
				t.Fatal(err)
			}
			keys, err := verify.ParsePublicKeys(b)
			if err != nil || len(keys) != 1 || verify.Fingerprint(keys[0]) != repoKey.Fingerprint {
				t.Errorf("mirror %s: repomd.xml.key holds %d keys (%v), want sign_with's %s alone", m, len(keys), err, repoKey.Fingerprint)
			}
		}
	})

	// rpmirror verify: a mirror serving a repomd.xml.key that a sync
	// would refuse has a problem at that path; one serving none, or the
	// right key, has none.
	t.Run("verify", func(t *testing.T) {
		ring, err := verify.LoadKeyring(key.PublicPath)
		if err != nil {
			t.Fatal(err)
		}
		mirror := filepath.Join(t.TempDir(), "m")
		if err := os.CopyFS(mirror, os.DirFS(v1)); err != nil {
			t.Fatal(err)
		}
		checkRepoSignature(t, mirror, ring, nil)
		for _, tc := range []struct {
			name    string
			key     []byte
			unknown []string
			missing string
		}{
			{"another key", other, []string{unknown.Fingerprint}, key.Fingerprint},
			{"an unknown one besides", slices.Concat(pub, other), []string{unknown.Fingerprint}, ""},
			{"garbage", []byte("not a key\n"), nil, ""},
		} {
			if err := os.WriteFile(keyPath(mirror), tc.key, 0o644); err != nil {
				t.Fatal(err)
			}
			tg, err := local.New(mirror)
			if err != nil {
				t.Fatal(err)
			}
			problems, _, err := sync.CheckMirrorWith(context.Background(), tg, sync.CheckOptions{RepoKeyring: ring})
			if err != nil {
				t.Fatal(err)
			}
			var rke *sync.RepoKeyMismatchError
			if len(problems) != 1 || problems[0].Path != sync.KeyPath || !errors.As(problems[0].Err, &rke) ||
				!slices.Equal(rke.Unknown, tc.unknown) || rke.Missing != tc.missing {
				t.Errorf("%s: problems %v, want one at %s (unknown %v, missing %q)", tc.name, problems, sync.KeyPath, tc.unknown, tc.missing)
			}
		}
		os.Remove(keyPath(mirror))
		checkRepoSignature(t, mirror, ring, nil)
	})
}

// gpg runs gpg in k's home and returns its standard output.
func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gpg(k *testrepo.Key, args ...string) ([]byte, error) {
	cmd := exec.Command("gpg", append([]string{"--batch", "--no-tty", "--pinentry-mode", "loopback", "--passphrase", ""}, args...)...)
	cmd.Env = append(os.Environ(), k.Env()...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return append(out, stderr.String()...), err
	}
	return out, nil
}
