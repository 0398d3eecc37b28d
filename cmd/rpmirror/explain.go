package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/rpmirror/rpmirror/config"
)

// printExplain writes, for every repo, what a sync of it publishes: the
// origin's repodata and packages byte for byte (not its delta RPMs), or, with a filter, metadata rpmirror
// writes itself, which packages it keeps and what becomes of the
// origin's other files.
func printExplain(w io.Writer, cfg *config.Config) {
	for _, r := range cfg.Repos {
		f := r.Filter
		if f == nil {
			fmt.Fprintf(w, "\nrepo %s: mirrored whole: the origin's repodata and packages byte for byte, its repomd.xml (and .asc, .key) included;\n", r.Name)
			fmt.Fprintln(w, "  not the delta RPMs (drpms/) prestodelta names: clients with deltarpm on need deltarpm=0")
			continue
		}
		fmt.Fprintf(w, "\nrepo %s: filtered (line %d): rpmirror writes the repository's metadata itself\n", r.Name, f.Line)
		var keeps []string
		if len(f.Arch) > 0 {
			keeps = append(keeps, "arch "+strings.Join(f.Arch, ", "))
		} else {
			keeps = append(keeps, "every arch")
		}
		if len(f.Include) > 0 {
			keeps = append(keeps, "names matching "+strings.Join(f.Include, ", "))
		}
		if len(f.Exclude) > 0 {
			keeps = append(keeps, "except names matching "+strings.Join(f.Exclude, ", "))
		}
		if f.Newest > 0 {
			keeps = append(keeps, fmt.Sprintf("the newest %d versions of each name.arch (rpm version order)", f.Newest))
		}
		fmt.Fprintf(w, "  keeps:    %s; only those packages are downloaded, the others pruned after prune_after\n", strings.Join(keeps, "; "))
		fmt.Fprintln(w, "  writes:   primary, filelists, other (and filelists-ext) with the kept packages' entries as the origin wrote them,")
		fmt.Fprintln(w, "            compressed as the origin's, and a new repomd.xml (the origin's revision, tags and timestamps)")
		fmt.Fprintln(w, "  carries:  comps (group), updateinfo, modules and any other metadata as the origin has them")
		fmt.Fprintln(w, "            (prestodelta too, but not the delta RPMs it names: clients with deltarpm on need deltarpm=0)")
		fmt.Fprintln(w, "  drops:    sqlite databases (*_db) and zchunk files (*_zck): dnf reads the XML metadata")
		if f.Newest > 0 {
			fmt.Fprintln(w, "  refuses:  a revision with modules metadata (modular streams need the older versions newest drops)")
		}
		if r.SignWith != "" {
			fmt.Fprintf(w, "  signs:    repomd.xml with %s (repomd.xml.asc, its public key as repomd.xml.key); the origin's signature is not published\n", r.SignWith)
		} else {
			fmt.Fprintln(w, "  signs:    nothing: the origin's repomd.xml.asc no longer matches and is not published (clients: repo_gpgcheck=0, or set sign_with)")
		}
	}
}
