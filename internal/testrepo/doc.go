// Package testrepo builds real RPM repositories for tests, the demo and
// benchmarks: OpenPGP keys made by gpg, packages made by rpmbuild and signed
// by rpmsign, repository metadata made by createrepo_c and modifyrepo_c, and a
// dnf client that runs in a throw-away installroot to prove that what was
// built (or what rpmirror published) is usable.
//
// Nothing here is hand-written XML standing in for a repository: every
// fixture is produced by the same tools that produce distribution
// repositories, so a test that passes against it says something about real
// mirrors.
//
// Each helper comes in two forms. The testing.TB form (NewKey, BuildRPMs,
// CreateRepo, ...) skips the test when a tool is missing, fails it on error
// and registers clean-up. The error-returning form (GenerateKey, Build,
// MakeRepo, ...) is for programs such as cmd/mkrepo, which regenerates the
// committed fixtures under testdata/.
//
// Tools used: rpmbuild, rpmsign, gpg and gpgconf, createrepo_c, modifyrepo_c
// and dnf (with dnf-plugins-core for "dnf download"). createrepo_c before 1.0
// cannot write zstd metadata; CreateRepo recompresses in Go instead, so the
// zstd binary is not needed.
package testrepo
