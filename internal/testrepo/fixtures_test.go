package testrepo

import (
	"bytes"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/rpmirror/rpmirror/internal/gpghome"
	rpmutils "github.com/sassoftware/go-rpmutils"
)

// TestCommittedRepos checks the demo origin under internal/demo/origin: every
// package signed by the test key, metadata consistent, repomd.xml signed,
// and v2 differing from v1 exactly as DemoV2Packages says.
func TestCommittedRepos(t *testing.T) {
	keyring := readKeyring(t, Testdata(t, "keys", "test.pub"))
	unknownRing := readKeyring(t, Testdata(t, "keys", "unknown.pub"))
	states := []struct {
		name string
		pkgs []Pkg
	}{
		{"v1", DemoPackages(nil)},
		{"v2", DemoV2Packages(nil)},
	}
	revisions := make(map[string]int64)
	for _, s := range states {
		t.Run(s.name, func(t *testing.T) {
			dir := DemoOrigin(t, s.name)
			var want, got []string
			for _, p := range s.pkgs {
				want = append(want, p.RelPath())
			}
			filepath.WalkDir(filepath.Join(dir, "Packages"), func(p string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					rel, _ := filepath.Rel(dir, p)
					got = append(got, filepath.ToSlash(rel))
				}
				return err
			})
			sort.Strings(want)
			sort.Strings(got)
			if !slices.Equal(got, want) {
				t.Fatalf("packages:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			for _, rel := range got {
				f, err := os.Open(filepath.Join(dir, rel))
				if err != nil {
					t.Fatal(err)
				}
				_, sigs, err := rpmutils.Verify(f, keyring)
				f.Close()
				if err != nil || len(sigs) != 1 || sigs[0].Signer == nil {
					t.Errorf("%s: Verify: %v, %d signatures", rel, err, len(sigs))
				}
			}

			entries := checkRepomd(t, dir, "sha256")
			for _, typ := range []string{"primary", "filelists", "other", "group", "group_gz", "updateinfo", "modules"} {
				if _, ok := entries[typ]; !ok {
					t.Errorf("repomd.xml has no %s", typ)
				}
			}
			if _, ok := entries["primary_db"]; ok {
				t.Errorf("repomd.xml has sqlite databases")
			}
			revisions[s.name] = entries["primary"].Timestamp

			repomd := filepath.Join(dir, "repodata", "repomd.xml")
			verifyDetached := func(ring openpgp.EntityList) error {
				data, _ := os.ReadFile(repomd)
				sig, err := os.ReadFile(repomd + ".asc")
				if err != nil {
					return err
				}
				_, err = openpgp.CheckArmoredDetachedSignature(ring, bytes.NewReader(data), bytes.NewReader(sig), nil)
				return err
			}
			if err := verifyDetached(keyring); err != nil {
				t.Errorf("repomd.xml.asc does not verify with the test key: %v", err)
			}
			if err := verifyDetached(unknownRing); err == nil {
				t.Errorf("repomd.xml.asc verifies with the unknown key")
			}
			shipped, _ := os.ReadFile(repomd + ".key")
			committed, _ := os.ReadFile(Testdata(t, "keys", "test.pub"))
			if !bytes.Equal(shipped, committed) {
				t.Errorf("repomd.xml.key is not testdata/keys/test.pub")
			}
		})
	}
	if revisions["v1"] >= revisions["v2"] {
		t.Errorf("demo timestamp %d not before v2's %d", revisions["v1"], revisions["v2"])
	}

	// Packages in both states are the same files.
	for _, p := range DemoV2Packages(nil) {
		a, errA := os.ReadFile(filepath.Join(DemoOrigin(t, "v1"), p.RelPath()))
		b, _ := os.ReadFile(filepath.Join(DemoOrigin(t, "v2"), p.RelPath()))
		if errA == nil && !bytes.Equal(a, b) {
			t.Errorf("%s differs between v1 and v2", p.RelPath())
		}
	}
}

// TestDNF runs dnf against the committed demo repository as a client of a
// real mirror would, with gpgcheck and repo_gpgcheck on.
func TestDNF(t *testing.T) {
	RequireTools(t, "dnf", "gpg", "gpgconf")
	// Installing, downloading and querying leave the host's dnf as it
	// was (the local plugin would copy what is installed into the host's
	// /var/lib/dnf/plugins/local).
	defer HostDNFUnchanged(t)()
	demo := DemoOrigin(t, "v1")
	pub := Testdata(t, "keys", "test.pub")
	c := NewDNF(t, RepoFile("demo", demo, pub))

	if got, want := repoquery(t, c), sortedNEVRAs(DemoPackages(nil)); !slices.Equal(got, want) {
		t.Errorf("dnf repoquery:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	checkExtras(t, c)

	dest := t.TempDir()
	if out, err := c.Run("download", "--destdir", dest, "libexample"); err != nil {
		t.Fatalf("dnf download: %v\n%s", err, out)
	}
	p := DemoPackages(nil)[2] // libexample, with an epoch
	got, err := os.ReadFile(filepath.Join(dest, p.FileName()))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(filepath.Join(demo, p.RelPath()))
	if !bytes.Equal(got, want) {
		t.Errorf("dnf download: %s differs from the repository's", p.FileName())
	}

	// Installing checks each package's signature against gpgkey; the
	// dependency on tools-common is resolved from the repository.
	if out, err := c.Run("install", "hello-mirror"); err != nil {
		t.Fatalf("dnf install with gpgcheck=1: %v\n%s", err, out)
	}
	out, err := c.Run("list", "--installed", "--quiet")
	if err != nil || !strings.Contains(out, "hello-mirror.noarch") || !strings.Contains(out, "tools-common.noarch") {
		t.Errorf("dnf list --installed: %v\n%s", err, out)
	}

	// The same client, pointed at v2 (as a mirror moves on), sees
	// the update.
	if err := c.SetRepoFile(RepoFile("demo", DemoOrigin(t, "v2"), pub)); err != nil {
		t.Fatal(err)
	}
	if out, err := c.Run("upgrade"); err != nil || !strings.Contains(out, "hello-mirror") {
		t.Errorf("dnf upgrade from v2: %v\n%s", err, out)
	}
	out, _ = c.Run("list", "--installed", "--quiet", "hello-mirror")
	if !strings.Contains(out, "1.1-1") {
		t.Errorf("after upgrade:\n%s", out)
	}
}

// TestDNFRejects proves that gpgcheck in these fixtures means something:
// dnf refuses what the wrong key signed, or what nobody signed.
func TestDNFRejects(t *testing.T) {
	RequireTools(t, append(DefaultTools, "dnf")...)
	test, unknown := TestKey(t), UnknownKey(t)

	foreign := t.TempDir() // packages by the unknown key, metadata by the test key
	BuildRPMs(t, foreign, Pkg{Name: "foreign", Sign: unknown})
	CreateRepo(t, foreign, RepoOpts{SignRepomd: test})
	unsigned := t.TempDir()
	BuildRPMs(t, unsigned, Pkg{Name: "plain"})
	CreateRepo(t, unsigned, RepoOpts{SignRepomd: test})

	demo := DemoOrigin(t, "v1")
	tests := []struct {
		name string
		repo Repo
		args []string
		want string // in dnf's error
	}{
		{"package signed by another key", Repo{Name: "r", URL: demo, GPGKeys: []string{unknown.PublicPath}}, []string{"install", "hello-mirror"}, "GPG check FAILED"},
		{"repomd signed by another key", Repo{Name: "r", URL: demo, GPGKeys: []string{unknown.PublicPath}, RepoGPGCheck: true}, []string{"repoquery"}, "Bad GPG signature"},
		{"package by unknown key", Repo{Name: "r", URL: foreign, GPGKeys: []string{test.PublicPath}, RepoGPGCheck: true}, []string{"install", "foreign"}, "Public key for foreign-1.0-1.noarch.rpm is not installed"},
		{"unsigned package", Repo{Name: "r", URL: unsigned, GPGKeys: []string{test.PublicPath}, RepoGPGCheck: true}, []string{"install", "plain"}, "is not signed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := NewDNF(t, tt.repo.String()).Run(tt.args...)
			var re *RunError
			if !errors.As(err, &re) {
				t.Fatalf("dnf %s succeeded (%v):\n%s", strings.Join(tt.args, " "), err, out)
			}
			t.Logf("dnf says: %s", re.Stderr)
			if !strings.Contains(re.Stderr, tt.want) {
				t.Errorf("dnf error %q, want it to mention %q", re.Stderr, tt.want)
			}
		})
	}
}

func TestDNFHelper(t *testing.T) {
	RequireTools(t, "dnf")
	srv := httptest.NewServer(http.FileServer(http.Dir(filepath.Dir(DemoOrigin(t, "v1")))))
	defer srv.Close()
	mirrorlist := filepath.Join(t.TempDir(), "mirrorlist")
	os.WriteFile(mirrorlist, []byte("# dead first, then a live one\nhttp://127.0.0.1:1/nowhere/\n"+srv.URL+"/v2/\n"), 0o644)
	want := sortedNEVRAs(DemoV2Packages(nil))

	tests := []struct {
		name, url string
	}{
		{"path", DemoOrigin(t, "v2")},
		{"http baseurl", srv.URL + "/v2/"},
		{"mirrorlist", "mirrorlist=file://" + mirrorlist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := DNF(t, "plain", tt.url, "repoquery", "--quiet")
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Fields(out)
			sort.Strings(got)
			if !slices.Equal(got, want) {
				t.Errorf("repoquery: %q, want %q", got, want)
			}
		})
	}
	if _, err := DNF(t, "missing", t.TempDir(), "repoquery"); err == nil {
		t.Errorf("repoquery of an empty directory succeeded")
	}
}

// TestDNFRunsNoHostPlugin: the client's dnf loads only the plugins tests
// call as commands, never one that writes to the host (local,
// generate_completion_cache, post-transaction-actions). Unlike a snapshot
// of the host's directories, this holds whatever else runs on the machine.
func TestDNFRunsNoHostPlugin(t *testing.T) {
	RequireTools(t, "dnf")
	c := NewDNF(t, RepoFile("demo", DemoOrigin(t, "v1")))
	out, err := c.Run("-v", "repolist")
	if err != nil {
		t.Fatalf("dnf -v repolist: %v\n%s", err, out)
	}
	var loaded string
	for _, l := range strings.Split(out, "\n") {
		if p, ok := strings.CutPrefix(l, "Loaded plugins:"); ok {
			loaded = p
		}
	}
	for _, p := range strings.Split(loaded, ",") {
		if p = strings.TrimSpace(p); p != "" && p != "download" && p != "reposync" {
			t.Errorf("dnf loaded the plugin %q (all: %s)", p, loaded)
		}
	}
}

// TestDNFLeavesNoGPGSocketDirs checks that a dnf client with
// repo_gpgcheck=1 leaves nothing of gpg's behind once closed: libdnf
// imports the repository's key through throw-away gpg homes, and where
// /run/user/<uid> exists gpg makes a socket directory there for each
// home, which neither gpg nor libdnf removes.
func TestDNFLeavesNoGPGSocketDirs(t *testing.T) {
	RequireTools(t, "dnf", "gpg", "gpgconf")
	c, err := NewDNFClient(t.TempDir(), RepoFile("demo", DemoOrigin(t, "v1"), Testdata(t, "keys", "test.pub")))
	if err != nil {
		t.Fatal(err)
	}
	if out, err := c.Run("repoquery"); err != nil {
		t.Fatalf("dnf repoquery with repo_gpgcheck=1: %v\n%s", err, out)
	}
	homes := append(slices.Clone(c.homes), gpghome.Homes(c.Dir)...)
	if len(c.homes) == 0 {
		t.Fatal("dnf made no gpg home in its TMPDIR: the client no longer learns libdnf's throw-away homes")
	}
	var socketDirs []string
	for _, h := range homes {
		if d := gpghome.SocketDir(h); !strings.HasPrefix(d, c.Dir) {
			socketDirs = append(socketDirs, d) // outside the client's directory: under /run/user
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	for _, d := range socketDirs {
		if _, err := os.Lstat(d); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("gpg's socket directory %s is still there after Close (%v)", d, err)
		}
	}
	t.Logf("%d gpg homes, %d socket directories outside the client's directory", len(homes), len(socketDirs))
}
