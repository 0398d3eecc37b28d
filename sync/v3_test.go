package sync_test

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rpmirror/rpmirror/internal/testrepo"
)

// TestV3SignedRepository: a repository signed the way RHEL and CentOS
// packages long were (OpenPGP V3 signatures, made by gpg1) is mirrored
// with its key configured, and dnf installs from the mirror with
// gpgcheck=1. go-crypto alone refuses V3 signature packets, so this sync
// used to fail on the first package.
func TestV3SignedRepository(t *testing.T) {
	testrepo.RequireTools(t, "rpmbuild", "rpmsign", "gpg1", "createrepo_c", "dnf")
	key := testrepo.NewV3Key(t, "rpmirror v3 key <v3@rpmirror.invalid>", "rsa")
	src := filepath.Join(t.TempDir(), "src")
	pkgs := testrepo.DemoPackages(key)
	buildRepo(t, src, "", testrepo.RepoOpts{}, pkgs...)
	o := newOrigin(t, filepath.Join(t.TempDir(), "origin"))
	republish(t, o, src)
	h := newHarness(t, o, key.PublicPath)
	rep := h.mustSync()
	if rep.Fetched != len(pkgs) {
		t.Errorf("fetched %d packages, want %d", rep.Fetched, len(pkgs))
	}
	if got, want := h.dnfList(0), nevras(pkgs); !reflect.DeepEqual(got, want) {
		t.Errorf("dnf lists %v, want %v", got, want)
	}
	repo := testrepo.Repo{Name: "mirror", URL: h.mirrors[1], GPGKeys: []string{key.PublicPath}}
	out, err := testrepo.NewDNF(t, repo.String()).Run("install", pkgs[0].Name)
	if err != nil {
		t.Fatalf("dnf install from the mirror with gpgcheck=1: %v\n%s", err, out)
	}
	if !strings.Contains(out, pkgs[0].Name) {
		t.Errorf("dnf install output does not name %s:\n%s", pkgs[0].Name, out)
	}
}
