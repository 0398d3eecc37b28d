package main

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// printable returns s with every control character (but the tab), every
// format character (U+202E, which reverses what follows), the line and
// paragraph separators (U+2028, U+2029) and every byte that is not UTF-8
// written as a Go escape ("\x1b"), so that
// nothing an origin, a mirror or a certificate put into an error can
// drive the terminal that reads rpmirror's output: a TLS certificate
// valid for the name "\x1b]0;...\a" made the error of a failed sync
// print that escape sequence raw. New lines are the caller's business.
func printable(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || hidden(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case hidden(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// hidden reports whether r is to be escaped by printable.
func hidden(r rune) bool {
	return r != '\t' && (unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp))
}

// errLine is an error as one printable line: its new lines become "; ".
func errLine(err error) string {
	return printable(strings.ReplaceAll(err.Error(), "\n", "; "))
}
