#!/usr/bin/env bash
# mkrpm.sh: build the rpmirror RPM and SRPM with rpmbuild, without network.
#
#   dist/mkrpm.sh OUTDIR            build into OUTDIR (make rpm: bin/rpm)
#   dist/mkrpm.sh --version DESCRIBE
#                                   print the RPM Version and Release that
#                                   the git describe string DESCRIBE maps to
#
# The source tarball is the work tree as git sees it (tracked files and
# untracked ones that are not ignored, so uncommitted changes are built),
# plus vendor/ written by `go mod vendor` from the local module cache with
# GOPROXY=off: rpmbuild then compiles from vendor/ and needs no network.
# rpmbuild runs with --nodeps: its BuildRequires (golang,
# systemd-rpm-macros) name EL/Fedora packages, which a Debian build host
# has under other names or not as RPMs at all; Go comes from PATH.
set -euo pipefail

# rpm_version DESCRIBE prints "VERSION RELEASE" for a git describe string:
#   v1.2.3                -> 1.2.3 1
#   v1.2.3-5-gabc1234     -> 1.2.3 5.gabc1234        (5 commits after v1.2.3)
#   v1.2.3-rc1            -> 1.2.3~rc1 1             (sorts before 1.2.3)
#   abc1234 (no tag yet)  -> 0 0.N.gabc1234          (N: commits in HEAD)
#   ...-dirty             -> release gains .dirty
# RPM versions may not hold "-"; each release sorts after the one before.
rpm_version() {
	local d=$1 dirty= ver rel
	if [[ $d == *-dirty ]]; then
		dirty=.dirty
		d=${d%-dirty}
	fi
	if [[ $d =~ ^(.*)-([0-9]+)-g([0-9a-f]+)$ ]]; then
		ver=${BASH_REMATCH[1]}
		rel=${BASH_REMATCH[2]}.g${BASH_REMATCH[3]}
	elif [[ $d =~ ^[0-9a-f]{4,40}$ ]]; then
		ver=
		rel=0.${COMMITS:-0}.g$d
	else
		ver=$d
		rel=1
	fi
	if [[ -z $ver ]]; then
		ver=0
	else
		ver=${ver#v}
		ver=${ver//-/\~}
		ver=$(printf '%s' "$ver" | tr -c 'A-Za-z0-9._+~^' '.')
	fi
	echo "$ver $rel$dirty"
}

if [[ ${1:-} == --version ]]; then
	rpm_version "$2"
	exit 0
fi

out=${1:?usage: dist/mkrpm.sh OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$(dirname "$0")/.."
for tool in rpmbuild go git tar; do
	command -v "$tool" >/dev/null || { echo "mkrpm: $tool is not installed (apt-get install rpm, or dnf install rpm-build)" >&2; exit 1; }
done
export CGO_ENABLED=0 GOPROXY=off GOFLAGS=-mod=mod GOTOOLCHAIN=local

describe=$(git describe --tags --always --dirty)
commit=$(git rev-parse HEAD)
if [[ -n $(git status --porcelain) ]]; then
	commit+=+dirty
fi
read -r version release < <(COMMITS=$(git rev-list --count HEAD) rpm_version "$describe")

top=$(mktemp -d "${TMPDIR:-/tmp}/rpmirror-rpmbuild.XXXXXX")
trap 'rm -rf "$top"' EXIT
mkdir -p "$top"/{SOURCES,SPECS,BUILD,RPMS,SRPMS}

# The source tarball: rpmirror-VERSION/ with the work tree and vendor/.
src=$top/src/rpmirror-$version
mkdir -p "$src"
git ls-files -z --cached --others --exclude-standard |
	while IFS= read -r -d '' f; do [[ -e $f ]] && printf '%s\0' "$f"; done |
	tar --null -T - -cf - | tar -C "$src" -xf -
go mod vendor -o "$src/vendor"
tar -C "$top/src" --owner=0 --group=0 --numeric-owner --sort=name --mtime=@0 \
	-czf "$top/SOURCES/rpmirror-$version.tar.gz" "rpmirror-$version"
cp dist/rpmirror.sysusers "$top/SOURCES/"

# bundled(golang(...)) provides: the modules linked into rpmirror, with
# versions made RPM-safe (v0.0.0-2019...-a7dc8b6 -> 0.0.0.2019....a7dc8b6).
go list -deps -f '{{with .Module}}{{if not .Main}}{{.Path}} {{.Version}}{{end}}{{end}}' ./cmd/rpmirror |
	sort -u | while read -r mod ver; do
		ver=${ver#v}
		printf 'Provides:       bundled(golang(%s)) = %s\n' "$mod" "${ver//-/.}"
	done >"$top/provides"

# The spec, with what git describe says and the bundled provides.
sed -e "/^#BUNDLED-PROVIDES\$/{r $top/provides" -e 'd;}' \
	-e "s/^%global describe .*/%global describe $describe/" \
	-e "s/^%global commit .*/%global commit   $commit/" \
	-e "s/^Version:\( *\).*/Version:\1$version/" \
	-e "s/^Release:\( *\)[^%]*/Release:\1$release/" \
	-e "s/^\(\* .* - \)0-0\$/\1$version-$release/" \
	dist/rpmirror.spec >"$top/SPECS/rpmirror.spec"

rpmbuild -ba --nodeps --quiet \
	--define "_topdir $top" \
	--define "_buildhost rpmirror-build" \
	"$top/SPECS/rpmirror.spec" >&2
find "$top/RPMS" "$top/SRPMS" -name '*.rpm' -exec cp {} "$out/" \;
ls -1 "$out"/rpmirror-"$version"-"$release"*.rpm
