package benchgen

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
)

// entry is one <package> of primary.xml as createrepo_c writes it, shaped
// like an average package of Fedora's Everything repository (about 2.5 KB
// of XML: a description, a few provides, twenty-odd requires, a few
// files). It is the template of repodata's BenchmarkPrimary.
const entry = `<package type="rpm">
  <name>@NAME@</name>
  <arch>@ARCH@</arch>
  <version epoch="@EPOCH@" ver="@VER@" rel="@REL@.fc40"/>
  <checksum type="sha256" pkgid="YES">@SUM@</checksum>
  <summary>@SUMMARY@</summary>
  <description>@DESC@</description>
  <packager>Fedora Project</packager>
  <url>https://@WORD@.example.org/@NAME@</url>
  <time file="@TIME@" build="@TIME@"/>
  <size package="@SIZE@" installed="@ISIZE@" archive="@ISIZE@"/>
  <location href="Packages/@INITIAL@/@NAME@-@VER@-@REL@.fc40.@ARCH@.rpm"/>
  <format>
    <rpm:license>MIT AND BSD-3-Clause</rpm:license>
    <rpm:vendor>Fedora Project</rpm:vendor>
    <rpm:group>Unspecified</rpm:group>
    <rpm:buildhost>buildvm-x86-@NUM@.iad2.fedoraproject.org</rpm:buildhost>
    <rpm:sourcerpm>@NAME@-@VER@-@REL@.fc40.src.rpm</rpm:sourcerpm>
    <rpm:header-range start="4504" end="@HEND@"/>
    <rpm:provides>
      <rpm:entry name="@NAME@" flags="EQ" epoch="@EPOCH@" ver="@VER@" rel="@REL@.fc40"/>
      <rpm:entry name="@NAME@(x86-64)" flags="EQ" epoch="@EPOCH@" ver="@VER@" rel="@REL@.fc40"/>
@PROVIDES@    </rpm:provides>
    <rpm:requires>
@REQUIRES@    </rpm:requires>
    <rpm:obsoletes>
      <rpm:entry name="@NAME@-legacy" flags="LT" epoch="0" ver="@VER@"/>
    </rpm:obsoletes>
@FILES@  </format>
</package>
`

var words = strings.Fields(`a about access add all allows an and application are as at
audio based be between binding bindings build by c can client code collection command common
compatible configuration contains control core data database debug default desktop development
devel display document documentation driver easy editor engine example extension fast file files
font for format framework from functions gnome graphical graphics group header headers high
image implementation in interface is it kde language layer libraries library light line linux
manager media module modules more network new of on open package parser perl plugin plugins
program programs protocol provides python qt reading rust sdk server service set shared simple
small source standard static support system that the this to tool toolkit tools toolset uses
utilities utility version video web which widget with writing x11 xml`)

// PrimaryOpts describe a synthetic primary.xml.
type PrimaryOpts struct {
	Packages int // number of packages
	// Changed packages (spread evenly) get a new release, location and
	// checksum when Revision is greater than 1, as after an update.
	Changed  int
	Revision int // 1 or more
	// Files is the number of extra <file> lines per package, on average
	// (0: a few, up to 7, as in Fedora's primary.xml).
	Files int
}

// changedAt reports whether package i is one of the o.Changed updated ones.
func (o PrimaryOpts) changedAt(i int) bool {
	if o.Revision <= 1 || o.Changed <= 0 {
		return false
	}
	step := max(o.Packages/o.Changed, 1)
	return i%step == 0 && i/step < o.Changed
}

// WritePrimary writes a primary.xml of o.Packages packages to w. Package i
// is the same in every revision unless it is one of the changed ones, so
// two revisions differ in exactly o.Changed packages.
func WritePrimary(w io.Writer, o PrimaryOpts) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	pool := rand.New(rand.NewPCG(1, 2))
	word := func(r *rand.Rand) string { return words[r.IntN(len(words))] }
	libs := make([]string, 3000)
	for i := range libs {
		libs[i] = fmt.Sprintf("lib%s%s.so.%d", word(pool), word(pool), pool.IntN(10))
	}
	var sb strings.Builder
	fmt.Fprintf(bw, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"+
		"<metadata xmlns=\"http://linux.duke.edu/metadata/common\" xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\" packages=\"%d\">\n", o.Packages)
	for i := range o.Packages {
		rng := rand.New(rand.NewPCG(uint64(i), 7))
		wordsN := func(n int) string {
			sb.Reset()
			for k := range n {
				if k > 0 {
					sb.WriteByte(' ')
				}
				sb.WriteString(word(rng))
			}
			return sb.String()
		}
		entries := func(k int) string {
			var b strings.Builder
			for range k {
				lib := libs[rng.IntN(len(libs))]
				switch rng.IntN(4) {
				case 0:
					fmt.Fprintf(&b, "      <rpm:entry name=\"%s()(64bit)\"/>\n", lib)
				case 1:
					fmt.Fprintf(&b, "      <rpm:entry name=\"%s(%s_%d.%d)(64bit)\"/>\n", lib, strings.ToUpper(word(rng)), rng.IntN(4), rng.IntN(40))
				case 2:
					fmt.Fprintf(&b, "      <rpm:entry name=\"%s-%s\" flags=\"GE\" epoch=\"0\" ver=\"%d.%d\"/>\n", word(rng), word(rng), rng.IntN(9), rng.IntN(30))
				default:
					fmt.Fprintf(&b, "      <rpm:entry name=\"%s\"/>\n", []string{"/usr/bin/sh", "rtld(GNU_HASH)", "libc.so.6(GLIBC_2.34)(64bit)", "libm.so.6()(64bit)"}[rng.IntN(4)])
				}
			}
			return b.String()
		}
		name := fmt.Sprintf("%s-%s%d", word(rng), word(rng), i)
		arch := "x86_64"
		if rng.IntN(4) == 0 {
			arch = "noarch"
		}
		rel := 1 + rng.IntN(20)
		sumSeed := strconv.Itoa(i)
		if o.changedAt(i) {
			rel += 100 * (o.Revision - 1)
			sumSeed += "/" + strconv.Itoa(o.Revision)
		}
		sum := sha256.Sum256([]byte(sumSeed))
		nfiles := rng.IntN(8)
		if o.Files > 0 {
			nfiles = rng.IntN(2*o.Files + 1)
		}
		var files strings.Builder
		for range nfiles {
			fmt.Fprintf(&files, "    <file>/usr/%s/%s/%s-%s</file>\n", []string{"bin", "lib64", "share"}[rng.IntN(3)], name, word(rng), word(rng))
		}
		ver := fmt.Sprintf("%d.%d.%d", rng.IntN(10), rng.IntN(30), rng.IntN(100))
		epoch := strconv.Itoa(rng.IntN(2))
		summary := wordsN(3 + rng.IntN(6))
		desc := wordsN(15 + rng.IntN(40))
		_, err := strings.NewReplacer(
			"@NAME@", name,
			"@INITIAL@", name[:1],
			"@ARCH@", arch,
			"@EPOCH@", epoch,
			"@VER@", ver,
			"@REL@", strconv.Itoa(rel),
			"@SUM@", hex.EncodeToString(sum[:]),
			"@SUMMARY@", summary,
			"@DESC@", desc,
			"@WORD@", word(rng),
			"@TIME@", strconv.Itoa(1700000000+rng.IntN(20000000)),
			"@SIZE@", strconv.Itoa(10000+rng.IntN(2000000)),
			"@ISIZE@", strconv.Itoa(20000+rng.IntN(8000000)),
			"@NUM@", strconv.Itoa(rng.IntN(40)),
			"@HEND@", strconv.Itoa(6000+rng.IntN(40000)),
			"@PROVIDES@", entries(rng.IntN(8)),
			"@REQUIRES@", entries(5+rng.IntN(20)),
			"@FILES@", files.String(),
		).WriteString(bw, entry)
		if err != nil {
			return err
		}
	}
	if _, err := bw.WriteString("</metadata>\n"); err != nil {
		return err
	}
	return bw.Flush()
}
