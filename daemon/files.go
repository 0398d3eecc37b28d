package daemon

import (
	"strings"

	"github.com/rpmirror/rpmirror/repodata"
	"github.com/rpmirror/rpmirror/server"
)

// revFiles is what one verified revision holds, for redirects: every
// file's path and checksum ("type:hex").
type revFiles struct {
	sha256 string            // of the revision's repomd.xml
	files  map[string]string // path -> checksum
	// packages says whether files holds the revision's packages (read
	// from a written mirror's index) or only its metadata.
	packages bool
}

// repomdPaths are the files beside repomd.xml that belong to it: its
// signature, whose content changes with every revision, and the key that
// signs it, which a .repo file's gpgkey= may name through /r/ (a tester's
// dnf failed: the key had no revision to be served from, so 404).
var repomdPaths = []string{"repodata/repomd.xml", "repodata/repomd.xml.asc", "repodata/repomd.xml.key"}

// newRevFiles describes the revision whose repomd.xml is repomd (with hex
// sha256 sum): its metadata files, and its packages when pkgs (href ->
// checksum, from an index) is not nil.
func newRevFiles(repomd []byte, sum string, pkgs map[string]string) *revFiles {
	rf := &revFiles{sha256: sum, files: make(map[string]string, len(pkgs)+16), packages: pkgs != nil}
	for p, c := range pkgs {
		rf.files[p] = c
	}
	for _, p := range repomdPaths {
		rf.files[p] = "repomd:" + sum
	}
	if md, err := repodata.ParseRepomd(repomd); err == nil {
		for _, d := range md.Data {
			rf.files[d.Href] = d.Checksum.String()
		}
	}
	return rf
}

// redirects implements server.Files for one rendering of a repository:
// which revision each candidate serves, and the origin's.
type redirects struct {
	bases   []string    // per candidate: base URL
	revs    []*revFiles // per candidate: the revision it serves; nil when unknown
	current *revFiles   // the current verified revision; nil when none
	// origin is the origin's base URL and originRev its revision, when it
	// serves a verified revision that did not fail verification.
	origin    string
	originRev *revFiles
}

var _ server.Files = (*redirects)(nil)

func (x *redirects) Base(i int) string { return x.bases[i] }

func (x *redirects) Serves(i int, path string) bool { return x.holds(x.revs[i], path) }

func (x *redirects) Origin(path string) string {
	if x.origin != "" && x.holds(x.originRev, path) {
		return x.origin
	}
	return ""
}

// holds reports whether a server of revision rf has path with the content
// the current revision has there, or, for a path the current revision
// lacks (a package an older metadata names), has it at all.
func (x *redirects) holds(rf *revFiles, path string) bool {
	if rf == nil || x.current == nil {
		return false
	}
	sum, ok := rf.files[path]
	if rf == x.current {
		// With the packages unknown (no written mirror recorded them),
		// a server of the current revision is trusted with any path
		// outside repodata/, whose content repomd.xml lists in full.
		return ok || !rf.packages && !strings.HasPrefix(path, "repodata/")
	}
	if !ok {
		return false
	}
	if cur, inCurrent := x.current.files[path]; inCurrent {
		return cur == sum
	}
	// Not in the current revision (as far as known): an earlier file,
	// which rf's servers do have. A package that is new in the current
	// revision is not in rf: never sent here.
	return true
}
