package sync

import (
	"fmt"
	"net/url"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/fetch"
	"github.com/rpmirror/rpmirror/repodata"
	"github.com/rpmirror/rpmirror/target"
)

// ReservedPathError reports a package or metadata location at a path that
// rpmirror writes itself, or that the same revision uses for another file.
type ReservedPathError struct {
	Href  string
	Owner string // what rpmirror keeps there
}

func (e *ReservedPathError) Error() string {
	return fmt.Sprintf("location %q is where rpmirror keeps %s: refused", e.Href, e.Owner)
}

// PathClashError reports a revision that locates a file at a path that
// is the directory of another of its files: no mirror can hold both.
type PathClashError struct {
	Href   string // the file's location
	Inside string // a location inside it
}

func (e *PathClashError) Error() string {
	return fmt.Sprintf("location %q is a file, but %q needs it to be a directory: refused", e.Href, e.Inside)
}

// ConflictError reports metadata that lists one location twice with
// different content.
type ConflictError struct {
	File  string // the metadata file, e.g. repodata/repomd.xml
	Href  string
	First string // checksum and size of the first entry
	Then  string // and of the second
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s lists %s twice with different content (%s, then %s): refused", e.File, e.Href, e.First, e.Then)
}

// reservedOwner says what rpmirror keeps at p, or "" when p is free for
// an origin's file.
func reservedOwner(p string) string {
	switch p {
	case RepomdPath:
		return "the repository's repomd.xml"
	case AscPath:
		return "repomd.xml's signature"
	case KeyPath:
		return "repomd.xml's key"
	case MirrorlistPath:
		return "the mirrorlist rpmirror serve writes"
	case MetalinkPath:
		return "the metalink rpmirror serve writes"
	}
	return snapshotOwner(p)
}

func describe(c repodata.Checksum, size int64) string {
	if size < 0 {
		return c.String()
	}
	return fmt.Sprintf("%s, %d bytes", c, size)
}

// checkLocation refuses a location that could reach outside the mirror,
// or that points at another host unless the repo allows it.
func checkLocation(repo *config.Repo, href, base string) error {
	if base != "" {
		if !repo.FollowXMLBase {
			return fmt.Errorf("location %q has xml:base %q: files hosted elsewhere are refused (follow_xml_base: true fetches them from there)", href, base)
		}
		u, err := url.Parse(base)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			return fmt.Errorf("location %q: xml:base %q is not an http(s) URL", href, fetch.Redact(base))
		}
	}
	return checkHref(href, "")
}

// checkStrength refuses a checksum weaker than the repo's min_checksum.
func checkStrength(repo *config.Repo, c repodata.Checksum) error {
	if repo.MinChecksum != "" && config.WeakerThan(c.Type, repo.MinChecksum) {
		return fmt.Errorf("checksum type %s is weaker than min_checksum %s", c.Type, repo.MinChecksum)
	}
	return nil
}

// checkHref refuses a location that could reach outside the mirror or
// that points at another host.
func checkHref(href, base string) error {
	if base != "" {
		return fmt.Errorf("location %q has xml:base %q: packages hosted elsewhere are not mirrored", href, base)
	}
	if err := target.CheckPath(href); err != nil {
		return fmt.Errorf("unsafe location href: %w", err)
	}
	return nil
}
