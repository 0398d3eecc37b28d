package testrepo

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// modulePath is the import path of the module this package belongs to.
const modulePath = "github.com/rpmirror/rpmirror"

// ModuleRoot returns the directory holding rpmirror's go.mod: searched for
// upwards from the working directory, then from this source file.
func ModuleRoot() (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	for _, dir := range starts {
		for {
			if isModuleRoot(dir) {
				return dir, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", errors.New("finding the rpmirror module root: no go.mod for " + modulePath + " above the working directory")
}

func isModuleRoot(dir string) bool {
	f, err := os.Open(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); strings.HasPrefix(line, "module ") {
			return strings.TrimSpace(strings.TrimPrefix(line, "module ")) == modulePath
		}
	}
	return false
}

// TestdataPath returns the path of elem under the module's testdata/.
func TestdataPath(elem ...string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(append([]string{root, "testdata"}, elem...)...), nil
}

// Testdata returns the path of elem under the module's testdata/, such as
// Testdata(t, "repos", "demo"), failing t when the module root is not found.
func Testdata(t testing.TB, elem ...string) string {
	t.Helper()
	p, err := TestdataPath(elem...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// DemoOrigin returns the directory of revision "v1" or "v2" of the demo
// origin that rpmirror demo embeds, failing t when the module root is not
// found.
func DemoOrigin(t testing.TB, revision string) string {
	t.Helper()
	root, err := ModuleRoot()
	check(t, err)
	return filepath.Join(root, "internal", "demo", "origin", revision)
}

// DemoPackages are the packages of the demo origin, internal/demo/origin/v1: six small noarch
// packages, one with an epoch, one requiring another, all signed by key
// (unsigned when key is nil).
func DemoPackages(key *Key) []Pkg {
	return []Pkg{
		{Name: "hello-mirror", Version: "1.0", Release: "1", Requires: []string{"tools-common >= 2.0"}, Sign: key},
		{Name: "tools-common", Version: "2.3.1", Release: "1", Size: 1024, Sign: key},
		{Name: "libexample", Version: "0.9.2", Release: "2", Epoch: 1, Sign: key},
		{Name: "mirror-docs", Version: "1.0", Release: "1", Size: 2048, Sign: key},
		{Name: "sample-data", Version: "2024.01", Release: "1", Size: 4096, Sign: key},
		{Name: "webapp-config", Version: "3.1", Release: "4", Sign: key},
	}
}

// DemoV2Packages are the packages of internal/demo/origin/v2, the demo
// repository after an update: hello-mirror 1.0-1 replaced by 1.1-1,
// status-agent added, sample-data removed. The other four are the very
// same files as in demo.
func DemoV2Packages(key *Key) []Pkg {
	var pkgs []Pkg
	for _, p := range DemoPackages(key) {
		switch p.Name {
		case "hello-mirror":
			p.Version = "1.1"
		case "sample-data":
			continue
		}
		pkgs = append(pkgs, p)
	}
	return append(pkgs, Pkg{Name: "status-agent", Version: "0.1", Release: "1", Requires: []string{"hello-mirror"}, Sign: key})
}

// ManyPackages returns n small packages signed by key, named
// <letter>pkg-<number> so that they spread over Packages/a ... Packages/z.
func ManyPackages(n int, key *Key) []Pkg {
	pkgs := make([]Pkg, n)
	for i := range pkgs {
		pkgs[i] = Pkg{Name: fmt.Sprintf("%cpkg-%05d", 'a'+i%26, i), Version: "1.0", Release: "1", Sign: key}
	}
	return pkgs
}

// BuildDerived builds into dir the packages of pkgs, copying each that
// already exists in from (same RelPath) instead of building it again, so
// that unchanged packages stay byte for byte the same, as they do between
// two states of a real repository.
func BuildDerived(dir, from string, pkgs ...Pkg) ([]string, error) {
	paths := make([]string, len(pkgs))
	var build []Pkg
	var buildIdx []int
	for i, p := range pkgs {
		src := filepath.Join(from, filepath.FromSlash(p.RelPath()))
		dst := filepath.Join(dir, filepath.FromSlash(p.RelPath()))
		if _, err := os.Stat(src); err != nil {
			build = append(build, p)
			buildIdx = append(buildIdx, i)
			continue
		}
		if err := copyFile(src, dst); err != nil {
			return nil, err
		}
		paths[i] = dst
	}
	built, err := Build(dir, build...)
	if err != nil {
		return nil, err
	}
	for j, i := range buildIdx {
		paths[i] = built[j]
	}
	return paths, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copying %s: %w", src, err)
	}
	return out.Close()
}

// WriteDemo (re)generates the demo repositories under dir (the demo
// origin, internal/demo/origin): v1/ and v2/ (see DemoPackages and DemoV2Packages), both signed by key with
// signed repomd.xml, sha256 and gzip metadata without sqlite databases,
// and group, updateinfo and modules metadata. demo's revision and
// timestamps are a day before now, v2's now.
func WriteDemo(reposDir string, key *Key) error {
	// v2 is published a day after v1.
	now := time.Now().Unix()
	states := []struct {
		name, from string
		pkgs       []Pkg
		revision   int64
	}{
		{"v1", "", DemoPackages(key), now - 86400},
		{"v2", "v1", DemoV2Packages(key), now},
	}
	scratch, err := os.MkdirTemp("", "rpmirror-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	for _, s := range states {
		dir := filepath.Join(reposDir, s.name)
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
		if s.from == "" {
			_, err = Build(dir, s.pkgs...)
		} else {
			_, err = BuildDerived(dir, filepath.Join(reposDir, s.from), s.pkgs...)
		}
		if err != nil {
			return fmt.Errorf("building %s: %w", s.name, err)
		}
		extras, err := WriteExtraFiles(filepath.Join(scratch, s.name), s.pkgs...)
		if err != nil {
			return err
		}
		opts := RepoOpts{
			NoDatabase:            true,
			Extras:                extras,
			SignRepomd:            key,
			Revision:              strconv.FormatInt(s.revision, 10),
			TimestampFromRevision: true,
		}
		if err := MakeRepo(dir, opts); err != nil {
			return fmt.Errorf("creating %s: %w", s.name, err)
		}
	}
	return nil
}

// SmallRepo builds the demo packages (see DemoPackages), signed by key
// when it is not nil, into dir, and makes it a repository with createrepo_c
// defaults and, with a key, a signed repomd.xml. It returns the packages.
func SmallRepo(t testing.TB, dir string, key *Key) []Pkg {
	t.Helper()
	pkgs := DemoPackages(key)
	BuildRPMs(t, dir, pkgs...)
	CreateRepo(t, dir, RepoOpts{SignRepomd: key})
	return pkgs
}

// LargeRepo builds n small packages (see ManyPackages) signed by key into
// dir and makes it a repository without sqlite databases. It returns the
// packages. A thousand take about ten seconds, most of it signing.
func LargeRepo(t testing.TB, dir string, n int, key *Key) []Pkg {
	t.Helper()
	pkgs := ManyPackages(n, key)
	BuildRPMs(t, dir, pkgs...)
	CreateRepo(t, dir, RepoOpts{NoDatabase: true, SignRepomd: key})
	return pkgs
}
