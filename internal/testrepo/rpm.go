package testrepo

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Pkg describes one binary RPM to build. Zero fields take defaults.
type Pkg struct {
	Name    string
	Version string // default "1.0"
	Release string // default "1"
	Epoch   int    // 0: no Epoch tag
	Arch    string // "noarch" (default) or a target such as "x86_64"
	// Size is the number of payload bytes: one file of incompressible
	// pseudo-random data under /usr/share/rpmirror-fixtures/<name>/.
	// Default 512.
	Size int
	// Sign is the key rpmsign signs the package with; nil leaves it
	// unsigned.
	Sign *Key
	// Seed varies the payload: packages equal in every field but Seed
	// differ in content (and so in checksum).
	Seed int64
	// Requires are added as Requires: lines, such as "tools-common >= 2".
	Requires []string
}

// DefaultSize is the payload size of a Pkg whose Size is zero.
const DefaultSize = 512

func (p Pkg) withDefaults() Pkg {
	if p.Version == "" {
		p.Version = "1.0"
	}
	if p.Release == "" {
		p.Release = "1"
	}
	if p.Arch == "" {
		p.Arch = "noarch"
	}
	if p.Size <= 0 {
		p.Size = DefaultSize
	}
	return p
}

// FileName is the package's file name, NAME-VERSION-RELEASE.ARCH.rpm.
func (p Pkg) FileName() string {
	p = p.withDefaults()
	return fmt.Sprintf("%s-%s-%s.%s.rpm", p.Name, p.Version, p.Release, p.Arch)
}

// RelPath is where Build puts the package, relative to the repository
// root: Packages/<first letter of the name, lower case>/<FileName>, the
// layout of Fedora and EPEL.
func (p Pkg) RelPath() string {
	if p.Name == "" {
		return p.FileName()
	}
	return filepath.ToSlash(filepath.Join("Packages", strings.ToLower(p.Name[:1]), p.FileName()))
}

// NEVRA is the package as dnf repoquery prints it by default:
// NAME-EPOCH:VERSION-RELEASE.ARCH, with epoch 0 when there is none.
func (p Pkg) NEVRA() string {
	p = p.withDefaults()
	return fmt.Sprintf("%s-%d:%s-%s.%s", p.Name, p.Epoch, p.Version, p.Release, p.Arch)
}

func (p Pkg) validate() error {
	ok := func(s, extra string) bool {
		if s == "" {
			return false
		}
		for _, r := range s {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(extra, r)) {
				return false
			}
		}
		return true
	}
	switch {
	case !ok(p.Name, "._+-"):
		return fmt.Errorf("package name %q: want letters, digits and ._+-", p.Name)
	case strings.HasPrefix(p.Name, specName):
		return fmt.Errorf("package name %q: the prefix %q is reserved", p.Name, specName)
	case !ok(p.Version, "._+~^"):
		return fmt.Errorf("package %s: version %q: want letters, digits and ._+~^", p.Name, p.Version)
	case !ok(p.Release, "._+~^"):
		return fmt.Errorf("package %s: release %q: want letters, digits and ._+~^", p.Name, p.Release)
	case !ok(p.Arch, "_"):
		return fmt.Errorf("package %s: arch %q: want letters, digits and _", p.Name, p.Arch)
	case p.Epoch < 0:
		return fmt.Errorf("package %s: negative epoch %d", p.Name, p.Epoch)
	}
	for _, r := range p.Requires {
		if r == "" || strings.ContainsAny(r, "\n%") {
			return fmt.Errorf("package %s: requirement %q: empty, or holds a newline or %%", p.Name, r)
		}
	}
	return nil
}

// payload returns the package's file content: Size bytes from a ChaCha8
// stream seeded by everything that identifies the package plus Seed, so
// a rebuild produces the same content and every package differs.
func (p Pkg) payload() []byte {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00%s\x00%s\x00%s\x00", p.Name, p.Epoch, p.Version, p.Release, p.Arch)
	binary.Write(h, binary.LittleEndian, p.Seed)
	var seed [32]byte
	copy(seed[:], h.Sum(nil))
	buf := make([]byte, p.Size)
	rand.NewChaCha8(seed).Read(buf)
	return buf
}

// SourceDateEpoch is the build time written into every package
// (2024-01-01T00:00:00Z), so rebuilding a fixture changes only its
// signatures.
const SourceDateEpoch = 1704067200

// specName prefixes the never-built main package of each generated spec.
const specName = "rpmirror-fixture-build"

// Build builds pkgs with rpmbuild, signs those with a Sign key with rpmsign,
// and writes them under dir at each Pkg's RelPath. It returns the paths in
// the order of pkgs.
//
// Packages are built from as few specs as possible, each package a
// subpackage with its own version, release and epoch: one spec per
// architecture, more only when a name repeats (two versions of one
// package). Signing runs a few rpmsign processes in parallel per key.
func Build(dir string, pkgs ...Pkg) ([]string, error) {
	if err := needTools("rpmbuild"); err != nil {
		return nil, err
	}
	pkgs = append([]Pkg(nil), pkgs...) // defaults are filled in below
	seen := make(map[string]bool)
	for i := range pkgs {
		pkgs[i] = pkgs[i].withDefaults()
		if err := pkgs[i].validate(); err != nil {
			return nil, err
		}
		if seen[pkgs[i].FileName()] {
			return nil, fmt.Errorf("package %s listed twice", pkgs[i].FileName())
		}
		seen[pkgs[i].FileName()] = true
		if pkgs[i].Sign != nil {
			if err := needTools("rpmsign", "gpg"); err != nil {
				return nil, err
			}
		}
	}
	dir, err := filepath.Abs(dir) // rpmbuild runs elsewhere
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	work, err := os.MkdirTemp(dir, ".rpmbuild-")
	if err != nil {
		return nil, fmt.Errorf("creating build directory: %w", err)
	}
	defer os.RemoveAll(work)

	paths := make([]string, len(pkgs))
	for gi, group := range groupForSpecs(pkgs) {
		top := filepath.Join(work, strconv.Itoa(gi))
		built, err := buildSpec(top, pkgs, group)
		if err != nil {
			return nil, err
		}
		for _, i := range group {
			dst := filepath.Join(dir, filepath.FromSlash(pkgs[i].RelPath()))
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return nil, fmt.Errorf("creating %s: %w", filepath.Dir(dst), err)
			}
			if err := os.Rename(built[i], dst); err != nil {
				return nil, fmt.Errorf("moving %s into place: %w", pkgs[i].FileName(), err)
			}
			paths[i] = dst
		}
	}

	byKey := make(map[*Key][]string)
	var keys []*Key
	for i, p := range pkgs {
		if p.Sign == nil {
			continue
		}
		if byKey[p.Sign] == nil {
			keys = append(keys, p.Sign)
		}
		byKey[p.Sign] = append(byKey[p.Sign], paths[i])
	}
	for _, k := range keys {
		if err := Sign(k, byKey[k]...); err != nil {
			return nil, err
		}
	}
	return paths, nil
}

// groupForSpecs splits pkgs (by index) into groups that one spec can
// build: one architecture, no name twice.
func groupForSpecs(pkgs []Pkg) [][]int {
	var groups [][]int
	var names []map[string]bool
	for i, p := range pkgs {
		placed := false
		for g := range groups {
			if pkgs[groups[g][0]].Arch == p.Arch && !names[g][p.Name] {
				groups[g] = append(groups[g], i)
				names[g][p.Name] = true
				placed = true
				break
			}
		}
		if !placed {
			groups = append(groups, []int{i})
			names = append(names, map[string]bool{p.Name: true})
		}
	}
	return groups
}

// buildSpec writes one spec for pkgs[group...] under top, runs rpmbuild,
// and returns the path of each built package by index.
func buildSpec(top string, pkgs []Pkg, group []int) (map[int]string, error) {
	root := filepath.Join(top, "SOURCES", "root")
	arch := pkgs[group[0]].Arch
	var spec strings.Builder
	fmt.Fprintf(&spec, "Name: %s\nVersion: 0\nRelease: 0\nSummary: rpmirror test fixtures\nLicense: MIT\nURL: https://rpmirror.invalid/\n", specName)
	if arch == "noarch" {
		spec.WriteString("BuildArch: noarch\n")
	}
	spec.WriteString("\n%description\nNot built: a container for subpackages.\n\n")
	for _, i := range group {
		p := pkgs[i]
		fmt.Fprintf(&spec, "%%package -n %s\nVersion: %s\nRelease: %s\n", p.Name, p.Version, p.Release)
		if p.Epoch > 0 {
			fmt.Fprintf(&spec, "Epoch: %d\n", p.Epoch)
		}
		fmt.Fprintf(&spec, "Summary: rpmirror test package %s\nAutoReqProv: no\n", p.Name)
		for _, r := range p.Requires {
			fmt.Fprintf(&spec, "Requires: %s\n", r)
		}
		fmt.Fprintf(&spec, "\n%%description -n %s\n%s is a package built by rpmirror's test fixtures (%d bytes, seed %d).\n\n", p.Name, p.Name, p.Size, p.Seed)
		fmt.Fprintf(&spec, "%%files -n %s\n/usr/share/rpmirror-fixtures/%s\n\n", p.Name, p.Name)

		d := filepath.Join(root, "usr", "share", "rpmirror-fixtures", p.Name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("creating payload directory: %w", err)
		}
		if err := os.WriteFile(filepath.Join(d, p.Name+".dat"), p.payload(), 0o644); err != nil {
			return nil, fmt.Errorf("writing payload of %s: %w", p.Name, err)
		}
	}
	spec.WriteString("%install\nmkdir -p %{buildroot}\ncp -a %{_sourcedir}/root/. %{buildroot}/\n\n")
	spec.WriteString("%changelog\n* Mon Jan 01 2024 rpmirror tests <tests@rpmirror.invalid> - 0-0\n- Built by internal/testrepo.\n")

	specPath := filepath.Join(top, "fixtures.spec")
	if err := os.WriteFile(specPath, []byte(spec.String()), 0o644); err != nil {
		return nil, fmt.Errorf("writing spec: %w", err)
	}
	out := filepath.Join(top, "RPMS")
	args := []string{"-bb", "--quiet",
		"--define", "_topdir " + top,
		"--define", "_sourcedir " + filepath.Join(top, "SOURCES"),
		"--define", "_rpmdir " + out,
		"--define", "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm", // %% defers expansion to each package
		"--define", "_tmppath " + filepath.Join(top, "tmp"),
		// zstd level 3: what Fedora uses (at level 19) without the cost of
		// compressing random data hard.
		"--define", "_binary_payload w3.zstdio",
		"--define", "debug_package %{nil}",
		"--define", "__os_install_post %{nil}",
		"--define", "_build_id_links none",
		"--define", "_buildhost rpmirror.test",
		"--define", "use_source_date_epoch_as_buildtime 1",
		"--define", "clamp_mtime_to_source_date_epoch 1",
	}
	if arch != "noarch" {
		args = append(args, "--target", arch)
	}
	args = append(args, specPath)
	if err := os.MkdirAll(filepath.Join(top, "tmp"), 0o755); err != nil {
		return nil, err
	}
	env := []string{"SOURCE_DATE_EPOCH=" + strconv.Itoa(SourceDateEpoch), "HOME=" + top, "LC_ALL=C"}
	if _, err := run(top, env, "rpmbuild", args...); err != nil {
		return nil, fmt.Errorf("building %d packages: %w", len(group), err)
	}
	built := make(map[int]string, len(group))
	for _, i := range group {
		p := filepath.Join(out, pkgs[i].FileName())
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("rpmbuild did not produce %s: %w", pkgs[i].FileName(), err)
		}
		built[i] = p
	}
	return built, nil
}

// Sign signs RPM files in place with k using rpmsign --addsign (a V4
// header signature, SHA-256, as rpm 4.18 makes by default; a V3 one for a
// gpg1 key), running several rpmsign processes in parallel for many
// files.
func Sign(k *Key, files ...string) error {
	gpg := "gpg"
	if k.V3 {
		gpg = "gpg1"
	}
	if err := needTools("rpmsign", gpg); err != nil {
		return err
	}
	if len(files) == 0 {
		return nil
	}
	gpgPath, err := lookPath(gpg)
	if err != nil {
		return err
	}
	// Each signature costs a gpg process and an agent round trip (~8 ms);
	// a few processes in parallel roughly halve the time on two cores.
	const perProc = 50
	procs := min((len(files)+perProc-1)/perProc, max(2, runtime.NumCPU()*2), 8)
	chunk := (len(files) + procs - 1) / procs
	errs := make([]error, procs)
	var wg sync.WaitGroup
	for c := 0; c < procs; c++ {
		lo, hi := c*chunk, min((c+1)*chunk, len(files))
		if lo >= hi {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			args := []string{"--addsign",
				"--define", "__gpg " + gpgPath,
				"--define", "_gpg_path " + k.Dir,
				"--define", "_gpg_name " + k.Fingerprint,
				"--define", "_gpg_digest_algo sha256",
			}
			if k.V3 {
				args = append(args, "--define", "_gpg_sign_cmd_extra_args --force-v3-sigs")
			}
			args = append(args, files[lo:hi]...)
			// GPG_TTY set keeps rpmsign from warning that stdin is no tty;
			// no pinentry is ever asked for.
			env := append(k.env(), "GPG_TTY=/dev/null", "HOME="+k.Dir, "LC_ALL=C")
			if _, err := run("", env, "rpmsign", args...); err != nil {
				errs[c] = fmt.Errorf("signing %d packages with key %s: %w", hi-lo, k.ID, err)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// BuildRPMs is Build for tests: it skips t when rpmbuild (or, for signed
// packages, rpmsign or gpg) is missing and fails it on error.
func BuildRPMs(t testing.TB, dir string, pkgs ...Pkg) []string {
	t.Helper()
	paths, err := Build(dir, pkgs...)
	check(t, err)
	return paths
}
