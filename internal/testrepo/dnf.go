package testrepo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/rpmirror/rpmirror/internal/gpghome"
)

// DNFClient runs dnf as a real client in a throw-away installroot: its
// own configuration, repository files, cache and rpm database, nothing
// read from or written to the host's. Calls share state (the cache, what
// is installed), so a test can query, install, change the mirror and
// query again.
type DNFClient struct {
	// Dir holds dnf.conf, repos.d/, cache/, root/ (the installroot) and
	// tmp/ (dnf's TMPDIR).
	Dir   string
	repos []string

	mu    sync.Mutex
	homes []string // gpg homes dnf made in tmp/ and deleted
}

// NewDNFClient writes repoFile (the text of a .repo file, one or more
// sections) into a new client under dir and enables exactly the
// repositories it defines.
func NewDNFClient(dir, repoFile string) (*DNFClient, error) {
	if err := needTools("dnf"); err != nil {
		return nil, err
	}
	c := &DNFClient{Dir: dir}
	for _, d := range []string{"repos.d", "cache", "root", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	if err := c.SetRepoFile(repoFile); err != nil {
		return nil, err
	}
	// module_platform_id quiets "Detection of Platform Module failed".
	conf := "[main]\ninstall_weak_deps=False\nskip_if_unavailable=False\nmodule_platform_id=platform:rpmirror\n"
	if err := os.WriteFile(filepath.Join(dir, "dnf.conf"), []byte(conf), 0o644); err != nil {
		return nil, err
	}
	return c, nil
}

// SetRepoFile replaces the client's .repo file, as when a test moves the
// client to another mirror; the cache and the installroot stay.
func (c *DNFClient) SetRepoFile(repoFile string) error {
	var repos []string
	for _, m := range sectionRE.FindAllStringSubmatch(repoFile, -1) {
		if m[1] != "main" {
			repos = append(repos, m[1])
		}
	}
	if len(repos) == 0 {
		return fmt.Errorf("repo file defines no repository:\n%s", repoFile)
	}
	if err := os.WriteFile(filepath.Join(c.Dir, "repos.d", "rpmirror-test.repo"), []byte(repoFile), 0o644); err != nil {
		return err
	}
	c.repos = repos
	return nil
}

var sectionRE = regexp.MustCompile(`(?m)^\[([^\]]+)\]\s*$`)

// Run runs dnf with args (such as "repoquery" or "download", "--destdir",
// dir, "hello-mirror") and returns its standard output. Metadata is never
// taken from the cache without asking the repository whether it changed
// (metadata_expire=0). On failure the error holds dnf's standard error.
func (c *DNFClient) Run(args ...string) (string, error) {
	base := []string{
		"--config", filepath.Join(c.Dir, "dnf.conf"),
		"--setopt=reposdir=" + filepath.Join(c.Dir, "repos.d"),
		"--installroot=" + filepath.Join(c.Dir, "root"),
		"--setopt=cachedir=" + filepath.Join(c.Dir, "cache"),
		"--setopt=metadata_expire=0",
		"--releasever=1",
		"--assumeyes",
		"--disablerepo=*",
	}
	base = append(base, DNFSafeArgs...)
	for _, r := range c.repos {
		base = append(base, "--enablerepo="+r)
	}
	// dnf reads keys through throw-away gpg homes that it deletes:
	// libdnf's in /tmp, its Python code's in TMPDIR (tmp/ here). Their
	// names are learnt here so that Close can release what gpg keeps for
	// them outside the homes.
	tmp := filepath.Join(c.Dir, "tmp")
	w, err := gpghome.WatchDNF(tmp)
	if err != nil {
		return "", fmt.Errorf("dnf %s: %w", strings.Join(args, " "), err)
	}
	out, err := run("", []string{"LC_ALL=C.UTF-8", "TMPDIR=" + tmp}, "dnf", append(base, args...)...)
	homes, werr := w.Homes()
	c.mu.Lock()
	c.homes = append(c.homes, homes...)
	c.mu.Unlock()
	if err == nil {
		err = werr
	}
	if err != nil {
		return string(out), fmt.Errorf("dnf %s: %w", strings.Join(args, " "), err)
	}
	return string(out), nil
}

// Repo is one section of a .repo file.
type Repo struct {
	Name string
	// URL is a baseurl (http://..., file://... or an absolute path), or
	// "mirrorlist=URL" or "metalink=URL".
	URL string
	// GPGKeys are armored public key files or URLs. With any, gpgcheck=1:
	// dnf refuses packages not signed by one of them.
	GPGKeys []string
	// RepoGPGCheck sets repo_gpgcheck=1: repodata/repomd.xml.asc must be
	// a valid signature by one of GPGKeys.
	RepoGPGCheck bool
	// Options are added as key=value lines, such as "timeout" or
	// "max_parallel_downloads".
	Options map[string]string
}

// String returns the section's text.
func (r Repo) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%s]\nname=%s\n", r.Name, r.Name)
	switch {
	case strings.HasPrefix(r.URL, "mirrorlist="), strings.HasPrefix(r.URL, "metalink="):
		fmt.Fprintf(&b, "%s\n", r.URL)
	default:
		fmt.Fprintf(&b, "baseurl=%s\n", fileURL(r.URL))
	}
	gpgcheck, repoGPGCheck := 0, 0
	if len(r.GPGKeys) > 0 {
		gpgcheck = 1
		var urls []string
		for _, k := range r.GPGKeys {
			urls = append(urls, fileURL(k))
		}
		fmt.Fprintf(&b, "gpgkey=%s\n", strings.Join(urls, " "))
	}
	if r.RepoGPGCheck {
		repoGPGCheck = 1
	}
	fmt.Fprintf(&b, "gpgcheck=%d\nrepo_gpgcheck=%d\n", gpgcheck, repoGPGCheck)
	keys := make([]string, 0, len(r.Options))
	for k := range r.Options {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, r.Options[k])
	}
	return b.String()
}

// RepoFile returns the text of a .repo file with one repository, name, at
// url (see Repo.URL). With gpgKeys it sets gpgcheck=1 and repo_gpgcheck=1;
// without, both are off.
func RepoFile(name, url string, gpgKeys ...string) string {
	return Repo{Name: name, URL: url, GPGKeys: gpgKeys, RepoGPGCheck: len(gpgKeys) > 0}.String()
}

// fileURL turns a path into a file:// URL and leaves URLs alone.
func fileURL(s string) string {
	if strings.Contains(s, "://") {
		return s
	}
	if abs, err := filepath.Abs(s); err == nil {
		s = abs
	}
	return "file://" + filepath.ToSlash(s)
}

// DNF runs dnf with args against one repository, repoName, with
// gpgcheck off, in a new installroot removed when t ends. url is a
// baseurl (http://..., file://... or an absolute path), or
// "mirrorlist=URL" or "metalink=URL". It skips t when dnf is missing.
func DNF(t testing.TB, repoName, url string, args ...string) (string, error) {
	t.Helper()
	return DNFWithRepoFile(t, RepoFile(repoName, url), args...)
}

// DNFWithRepoFile is DNF with the .repo file text given, for gpgcheck,
// several repositories or any other option.
func DNFWithRepoFile(t testing.TB, repoFile string, args ...string) (string, error) {
	t.Helper()
	return NewDNF(t, repoFile).Run(args...)
}

// NewDNF is NewDNFClient in a directory removed when t ends, after
// Close.
func NewDNF(t testing.TB, repoFile string) *DNFClient {
	t.Helper()
	c, err := NewDNFClient(t.TempDir(), repoFile)
	check(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// Close stops the gpg-agents dnf started and removes the socket
// directories gpg made for them under /run/user/<uid>: with
// repo_gpgcheck=1 dnf keeps a keyring per repository under its cache
// (cache/<repo>-<hash>/pubring), whose agent outlives dnf, and imports
// keys through throw-away homes in its TMPDIR. Close leaves the files.
func (c *DNFClient) Close() error {
	c.mu.Lock()
	homes := append(gpghome.Homes(c.Dir), c.homes...)
	c.homes = nil
	c.mu.Unlock()
	for _, h := range homes {
		gpghome.Release(context.Background(), h)
	}
	return nil
}
