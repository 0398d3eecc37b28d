package mirrorlist

import (
	"bytes"
	"cmp"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Namespaces and fixed attribute values of the metalinks Metalink writes.
const (
	MetalinkNS      = "http://www.metalinker.org/"
	MirrorManagerNS = "http://fedorahosted.org/mirrormanager"
	Generator       = "rpmirror"
	// RepomdPath is appended to each mirror's base URL in a metalink;
	// librepo strips it again to get the base URL.
	RepomdPath = "repodata/repomd.xml"
)

// pubdateLayout is RFC 1123 with the zone written "GMT", as HTTP dates and
// MirrorManager's pubdate are.
const pubdateLayout = "Mon, 02 Jan 2006 15:04:05 GMT"

// File describes one revision of repomd.xml for the metalink.
type File struct {
	// Timestamp is written as mm0:timestamp. librepo parses it and
	// nothing in dnf or librepo acts on it; yum 3 required it to equal
	// the newest <timestamp> of the repomd.xml's data entries, which is
	// what Describe uses by default.
	Timestamp int64
	// Size of repomd.xml in bytes. librepo parses it and does not check it.
	Size int64
	// Hex digests of repomd.xml, lower case. Empty ones are left out.
	// librepo checks the strongest present (sha512 when all are).
	MD5, SHA1, SHA256, SHA512 string
}

// Describe computes File for the bytes of a repomd.xml. A timestamp of 0
// means "take it from repomd": the newest <timestamp> of its <data>
// entries (what yum's repoMDObject and MirrorManager call the
// repository's timestamp), or its <revision> when that is a number and no
// data entry has a timestamp, or 0 when repomd does not parse.
func Describe(repomd []byte, timestamp int64) File {
	if timestamp == 0 {
		timestamp, _ = RepomdTimestamp(repomd)
	}
	m, s1, s256, s512 := md5.Sum(repomd), sha1.Sum(repomd), sha256.Sum256(repomd), sha512.Sum512(repomd)
	return File{
		Timestamp: timestamp,
		Size:      int64(len(repomd)),
		MD5:       hex.EncodeToString(m[:]),
		SHA1:      hex.EncodeToString(s1[:]),
		SHA256:    hex.EncodeToString(s256[:]),
		SHA512:    hex.EncodeToString(s512[:]),
	}
}

// RepomdTimestamp returns the timestamp Describe uses for a repomd.xml:
// the newest <timestamp> among its <data> entries, else its numeric
// <revision>.
func RepomdTimestamp(repomd []byte) (int64, error) {
	var doc struct {
		Revision string   `xml:"revision"`
		Stamps   []string `xml:"data>timestamp"`
	}
	if err := xml.Unmarshal(repomd, &doc); err != nil {
		return 0, fmt.Errorf("reading repomd.xml: %w", err)
	}
	var newest int64
	found := false
	for _, s := range doc.Stamps {
		if t, ok := parseStamp(s); ok {
			newest, found = max(newest, t), true
		}
	}
	if found {
		return newest, nil
	}
	if t, ok := parseStamp(doc.Revision); ok {
		return t, nil
	}
	return 0, fmt.Errorf("reading repomd.xml: no data timestamp and no numeric revision")
}

// parseStamp parses a Unix time written as an integer or, as some old
// generators did, a decimal fraction.
func parseStamp(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if t, err := strconv.ParseInt(s, 10, 64); err == nil {
		return t, true
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f >= math.MinInt64 && f < math.MaxInt64 {
		return int64(f), true
	}
	return 0, false
}

// Metalink renders a metalink 3.0 document for repomd.xml as librepo
// parses it and MirrorManager writes it: current's timestamp, size and
// hashes; alternates (earlier revisions still accepted from mirrors, see
// the package comment) newest first, without duplicates or current
// itself; and one url per usable mirror (see Usable) in the order of ms,
// its text the base URL followed by RepomdPath, with preference 100 for
// the first and one less for each next, never below 1. With no usable
// mirror it lists origin, preference 100, after an XML comment saying so
// (unless origin is not Usable either: dnf then fails with "No URLs in
// metalink"). now, in GMT, is the pubdate.
func Metalink(current File, alternates []File, ms []Mirror, origin string, now time.Time) []byte {
	return MetalinkFallback(current, alternates, ms, Fallback{URL: origin, Comment: "no mirror is healthy: serving the origin instead"}, now)
}

// MetalinkFallback is Metalink with what to write when no mirror is
// listed.
func MetalinkFallback(current File, alternates []File, ms []Mirror, fb Fallback, now time.Time) []byte {
	listed := usableMirrors(ms)
	alts := sortAlternates(current, alternates)

	size := 1024 + 512*len(alts)
	for _, m := range listed {
		size += len(m.URL) + len(m.Location) + 100
	}
	var b bytes.Buffer
	b.Grow(size)
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n")
	b.WriteString(`<metalink version="3.0" xmlns="` + MetalinkNS + `" type="dynamic" pubdate="`)
	b.WriteString(now.UTC().Format(pubdateLayout))
	b.WriteString(`" generator="` + Generator + `" xmlns:mm0="` + MirrorManagerNS + `">` + "\n")
	b.WriteString(" <files>\n")
	b.WriteString(`  <file name="repomd.xml">` + "\n")
	writeFile(&b, "   ", current)
	if len(alts) > 0 {
		b.WriteString("   <mm0:alternates>\n")
		for _, a := range alts {
			b.WriteString("    <mm0:alternate>\n")
			writeFile(&b, "     ", a)
			b.WriteString("    </mm0:alternate>\n")
		}
		b.WriteString("   </mm0:alternates>\n")
	}
	b.WriteString(`   <resources maxconnections="1">` + "\n")
	if len(listed) == 0 {
		b.WriteString("    <!-- ")
		b.WriteString(fb.comment())
		b.WriteString(" -->\n")
		if fb.URL != "" && Usable(fb.URL) {
			writeURL(&b, baseURL(fb.URL), "", 100)
		}
	}
	for i, m := range listed {
		writeURL(&b, m.URL, m.Location, max(100-i, 1))
	}
	b.WriteString("   </resources>\n")
	b.WriteString("  </file>\n")
	b.WriteString(" </files>\n")
	b.WriteString("</metalink>\n")
	return b.Bytes()
}

// writeFile writes the mm0:timestamp, size and verification elements
// describing f.
func writeFile(b *bytes.Buffer, indent string, f File) {
	b.WriteString(indent)
	b.WriteString("<mm0:timestamp>")
	b.WriteString(strconv.FormatInt(f.Timestamp, 10))
	b.WriteString("</mm0:timestamp>\n")
	b.WriteString(indent)
	b.WriteString("<size>")
	b.WriteString(strconv.FormatInt(f.Size, 10))
	b.WriteString("</size>\n")
	b.WriteString(indent)
	b.WriteString("<verification>\n")
	for _, h := range [...]struct{ typ, sum string }{{"md5", f.MD5}, {"sha1", f.SHA1}, {"sha256", f.SHA256}, {"sha512", f.SHA512}} {
		if h.sum == "" {
			continue
		}
		b.WriteString(indent)
		b.WriteString(` <hash type="`)
		b.WriteString(h.typ)
		b.WriteString(`">`)
		escape(b, h.sum)
		b.WriteString("</hash>\n")
	}
	b.WriteString(indent)
	b.WriteString("</verification>\n")
}

// writeURL writes one url element of resources.
func writeURL(b *bytes.Buffer, base, location string, preference int) {
	b.WriteString(`    <url`)
	if i := strings.Index(base, "://"); i > 0 {
		scheme := strings.ToLower(base[:i])
		b.WriteString(` protocol="`)
		b.WriteString(scheme)
		b.WriteString(`" type="`)
		b.WriteString(scheme)
		b.WriteByte('"')
	}
	if location != "" {
		b.WriteString(` location="`)
		escape(b, location)
		b.WriteByte('"')
	}
	b.WriteString(` preference="`)
	b.WriteString(strconv.Itoa(preference))
	b.WriteString(`">`)
	escape(b, base)
	b.WriteString(RepomdPath)
	b.WriteString("</url>\n")
}

// escape writes s with the five characters XML reserves escaped, fit for
// both text and attribute values. URLs are Usable and so plain ASCII, but
// a Location or a hash comes from elsewhere: control characters, invalid
// UTF-8 and the non-characters XML forbids become U+FFFD so that the
// document stays well-formed.
func escape(b *bytes.Buffer, s string) {
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		size := 1
		var esc string
		switch {
		case c == '&':
			esc = "&amp;"
		case c == '<':
			esc = "&lt;"
		case c == '>':
			esc = "&gt;"
		case c == '"':
			esc = "&#34;"
		case c == '\'':
			esc = "&#39;"
		case c < ' ' || c == 0x7f:
			esc = "\uFFFD"
		case c >= utf8.RuneSelf:
			var r rune
			r, size = utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 || r == 0xFFFE || r == 0xFFFF || 0x80 <= r && r <= 0x9f {
				esc = "\uFFFD"
			}
		}
		if esc != "" {
			b.WriteString(s[last:i])
			b.WriteString(esc)
			last = i + size
		}
		i += size
	}
	b.WriteString(s[last:])
}

// sortAlternates returns alternates newest first, without files equal to
// current or to a newer alternate.
func sortAlternates(current File, alternates []File) []File {
	if len(alternates) == 0 {
		return nil
	}
	alts := make([]File, 0, len(alternates))
	for _, a := range alternates {
		if sameFile(a, current) || slices.ContainsFunc(alts, func(b File) bool { return sameFile(a, b) }) {
			continue
		}
		alts = append(alts, a)
	}
	slices.SortStableFunc(alts, func(a, b File) int { return cmp.Compare(b.Timestamp, a.Timestamp) })
	return alts
}

// sameFile reports whether a and b have the same hashes (and at least one).
func sameFile(a, b File) bool {
	return a.MD5 == b.MD5 && a.SHA1 == b.SHA1 && a.SHA256 == b.SHA256 && a.SHA512 == b.SHA512 &&
		a.MD5+a.SHA1+a.SHA256+a.SHA512 != ""
}
