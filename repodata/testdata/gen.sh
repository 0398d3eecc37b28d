#!/bin/sh
# Regenerates the test repositories under repos/, packages.txt and xz/ from
# specs/ and extra/. README.md quotes this script; a test checks that the
# two agree, so edit both.
#
# Needs: rpmbuild, rpm, createrepo_c, modifyrepo_c, gzip, xz, zstd, perl,
# sha1sum, sha256sum, sha512sum.
set -eu
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export SOURCE_DATE_EPOCH=1704067200 TZ=UTC LC_ALL=C

# 1. Build six tiny packages: binary, noarch, source, one with an epoch.
for spec in specs/tiny.spec specs/epochy.spec; do
	rpmbuild -ba --quiet \
		--define "_topdir $work/rpmbuild" \
		--define "_buildhost rpmirror.test" \
		--define "use_source_date_epoch_as_buildtime 1" \
		--define "clamp_mtime_to_source_date_epoch 1" \
		"$spec" >/dev/null
done

# 2. Lay them out as a repository; one directory name needs XML escaping.
pkgs=$work/pkgs
mkdir -p "$pkgs/x86_64" "$pkgs/odd & dir" "$pkgs/src"
cp "$work"/rpmbuild/RPMS/x86_64/*.rpm "$work"/rpmbuild/RPMS/noarch/tiny-data-*.rpm "$pkgs/x86_64/"
cp "$work"/rpmbuild/RPMS/noarch/epochy-*.rpm "$pkgs/odd & dir/"
cp "$work"/rpmbuild/SRPMS/*.rpm "$pkgs/src/"
find "$pkgs" -name '*.rpm' -exec touch -d @1704067200 {} +

# 3. What rpm and the file system say about each package, to compare with.
{
	printf '# href\tname\tepoch\tversion\trelease\tarch\tsize\tmtime\tsha1\tsha256\tsha512\n'
	(cd "$pkgs" && find . -name '*.rpm' | sed 's|^\./||' | sort) | while IFS= read -r f; do
		p="$pkgs/$f"
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$f" \
			"$(rpm -qp --nosignature --qf '%{NAME}\t%{EPOCHNUM}\t%{VERSION}\t%{RELEASE}\t%|SOURCERPM?{%{ARCH}}:{src}|' "$p")" \
			"$(stat -c %s "$p")" "$(stat -c %Y "$p")" \
			"$(sha1sum <"$p" | cut -d' ' -f1)" "$(sha256sum <"$p" | cut -d' ' -f1)" \
			"$(sha512sum <"$p" | cut -d' ' -f1)"
	done
} >packages.txt

# 4. Repositories: createrepo_c with different options, then copy repodata/.
mkrepo() {
	name=$1
	shift
	rm -rf "$pkgs/repodata" "repos/$name"
	createrepo_c --quiet --revision 1704067200 --set-timestamp-to-revision "$@" "$pkgs"
}
keep() {
	mkdir -p "repos/$1"
	cp -r "$pkgs/repodata" "repos/$1/"
}
mkrepo sha256-gz && keep sha256-gz # the defaults: sha256, gzip, sqlite databases (bzip2)
mkrepo sha1 -s sha1 --no-database && keep sha1
mkrepo sha -s sha --no-database && keep sha # old yum's name for SHA-1
mkrepo sha512-xz -s sha512 --general-compress-type xz --no-database && keep sha512-xz
mkrepo bz2 --general-compress-type bz2 --no-database && keep bz2
mkrepo simple --simple-md-filenames --no-database && keep simple
mkrepo extras --no-database --baseurl http://mirror.example.com/tiny/ \
	--distro 'cpe:/o:rpmirror:test:1,Test Distro 1' --content binary-x86_64 --repo tiny \
	-g "$PWD/extra/comps.xml"
modifyrepo_c --mdtype updateinfo --compress-type xz extra/updateinfo.xml "$pkgs/repodata" >/dev/null
modifyrepo_c --mdtype modules extra/modules.yaml "$pkgs/repodata" >/dev/null
keep extras

# zstd (what createrepo_c >= 1.0 writes by default) and uncompressed: start
# from gzip, recompress primary, filelists and other, rewrite repomd.xml.
recompress() { # repo type ext command...: replace type's .gz with the command's output
	dir=repos/$1 type=$2 ext=$3
	shift 3
	old=$(sed -n "/<data type=\"$type\">/,/<\/data>/s/.*<location href=\"\([^\"]*\)\".*/\1/p" "$dir/repodata/repomd.xml")
	gzip -dc "$dir/$old" | "$@" >"$work/new"
	sum=$(sha256sum <"$work/new" | cut -d' ' -f1)
	size=$(stat -c %s "$work/new")
	new=repodata/$sum-$type.xml$ext
	rm "$dir/$old"
	mv "$work/new" "$dir/$new"
	perl -0pi -e "s{(<data type=\"$type\">.*?</data>)}{\$1
		=~ s|<checksum type=\"sha256\">\\w+</checksum>|<checksum type=\"sha256\">$sum</checksum>|r
		=~ s|<location href=\"[^\"]*\"/>|<location href=\"$new\"/>|r
		=~ s|<size>\\d+</size>|<size>$size</size>|r}se" "$dir/repodata/repomd.xml"
}
for name in zstd plain; do
	mkrepo "$name" --no-database && keep "$name"
done
for type in primary filelists other; do
	recompress zstd "$type" .zst zstd -q -19
	recompress plain "$type" "" cat
done
# Uncompressed data has no open-checksum and open-size (like "group").
perl -0pi -e 's{\n\s*<open-(checksum|size)\b[^\n]*}{}g' repos/plain/repodata/repomd.xml

# 5. xz files for the container-format guard: block, check and stream
# variants of the same primary.xml.
rm -rf xz
mkdir xz
primary=$(ls repos/plain/repodata/*-primary.xml)
cp "$primary" xz/primary.xml
xz -c <xz/primary.xml >xz/default.xz
xz -c -9e <xz/primary.xml >xz/9e.xz
xz -c -T1 --block-size=1KiB <xz/primary.xml >xz/blocks-T1.xz
xz -c -T2 --block-size=1KiB <xz/primary.xml >xz/blocks-T2.xz
for check in none crc32 sha256; do
	xz -c --check=$check <xz/primary.xml >xz/check-$check.xz
done
xz -c </dev/null >xz/empty.xz
{ cat xz/default.xz; printf '\0\0\0\0\0\0\0\0'; cat xz/check-none.xz; } >xz/concat-padded.xz
gzip -n -9 -c <xz/primary.xml | xz -c >xz/incompressible.xz # LZMA2 stores it uncompressed
