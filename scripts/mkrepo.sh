#!/bin/sh
# mkrepo.sh builds a small signed RPM repository (six noarch packages, one
# with an epoch, signed by the committed test key, createrepo_c metadata and
# a signed repomd.xml) into a directory, or regenerates the fixtures under
# testdata/. It is a thin wrapper: the logic lives in internal/testrepo.
#
#   scripts/mkrepo.sh /tmp/repo                      # the demo packages, test key
#   scripts/mkrepo.sh -key new -packages 1000 /tmp/big
#   scripts/mkrepo.sh -compress zstd -extras /tmp/repo
#   scripts/mkrepo.sh -demo internal/demo/origin     # regenerate the demo origin, v1/ and v2/
#   scripts/mkrepo.sh -h                             # all flags
#
# Needs go, rpmbuild, rpmsign, gpg and createrepo_c (modifyrepo_c for -extras).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$(mktemp -d "${TMPDIR:-/tmp}/mkrepo.XXXXXX")
trap 'rm -rf "$bin"' EXIT INT TERM
(cd "$root" && CGO_ENABLED=0 go build -o "$bin/mkrepo" ./internal/testrepo/cmd/mkrepo)
# Not exec: the trap removes the binary afterwards. Relative paths in the
# arguments stay relative to the caller's directory.
"$bin/mkrepo" "$@"
