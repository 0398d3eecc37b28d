package filter

import "strings"

// Vercmp compares two version (or release) strings the way rpm's
// rpmvercmp does, and returns -1, 0 or 1 when a is older than, the same
// as, or newer than b.
//
// The strings are split into segments of ASCII letters and of digits;
// every other character only separates segments. Segments compare one
// by one: numbers numerically (leading zeros ignored, so "1.01" equals
// "1.1"), letters as bytes, and a number is newer than letters. "~" sorts
// before anything, even the end of the string ("1.0~rc1" < "1.0"); "^"
// sorts after the end of the string but before anything else
// ("1.0" < "1.0^git1" < "1.0.1"). When one string runs out of segments
// first, the other is newer.
func Vercmp(a, b string) int {
	if a == b {
		return 0
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for i < len(a) && !isAlnum(a[i]) && a[i] != '~' && a[i] != '^' {
			i++
		}
		for j < len(b) && !isAlnum(b[j]) && b[j] != '~' && b[j] != '^' {
			j++
		}
		// The tilde sorts before everything else.
		if i < len(a) && a[i] == '~' || j < len(b) && b[j] == '~' {
			if i >= len(a) || a[i] != '~' {
				return 1
			}
			if j >= len(b) || b[j] != '~' {
				return -1
			}
			i++
			j++
			continue
		}
		// The caret too, except that the end of a string sorts before it.
		if i < len(a) && a[i] == '^' || j < len(b) && b[j] == '^' {
			if i >= len(a) {
				return -1
			}
			if j >= len(b) {
				return 1
			}
			if a[i] != '^' {
				return 1
			}
			if b[j] != '^' {
				return -1
			}
			i++
			j++
			continue
		}
		if i >= len(a) || j >= len(b) {
			break
		}
		// One segment of each: digits, or letters, as a's segment is.
		si, sj := i, j
		isNum := isDigit(a[i])
		if isNum {
			for i < len(a) && isDigit(a[i]) {
				i++
			}
			for j < len(b) && isDigit(b[j]) {
				j++
			}
		} else {
			for i < len(a) && isAlpha(a[i]) {
				i++
			}
			for j < len(b) && isAlpha(b[j]) {
				j++
			}
		}
		one, two := a[si:i], b[sj:j]
		// b's segment is of the other kind (so empty here): a number is
		// newer than letters.
		if len(two) == 0 {
			if isNum {
				return 1
			}
			return -1
		}
		if isNum {
			one = strings.TrimLeft(one, "0")
			two = strings.TrimLeft(two, "0")
			if len(one) != len(two) {
				if len(one) > len(two) {
					return 1
				}
				return -1
			}
		}
		if c := strings.Compare(one, two); c != 0 {
			return c
		}
	}
	// Every segment compared equal, perhaps with different separators.
	if i >= len(a) && j >= len(b) {
		return 0
	}
	if i >= len(a) {
		return -1
	}
	return 1
}

// EVR is a package's epoch, version and release.
type EVR struct {
	Epoch   string // "" or "0" when the package has none
	Version string
	Release string
}

// Compare orders EVRs as rpm does: by epoch as a number (none is 0), then
// version, then release, each compared with Vercmp. It returns -1, 0 or 1.
func (e EVR) Compare(o EVR) int {
	if c := compareEpoch(e.Epoch, o.Epoch); c != 0 {
		return c
	}
	if c := Vercmp(e.Version, o.Version); c != 0 {
		return c
	}
	return Vercmp(e.Release, o.Release)
}

// String returns "epoch:version-release", or "version-release" without
// an epoch.
func (e EVR) String() string {
	if e.Epoch == "" || strings.TrimLeft(e.Epoch, "0") == "" {
		return e.Version + "-" + e.Release
	}
	return e.Epoch + ":" + e.Version + "-" + e.Release
}

// compareEpoch compares two epochs, strings of digits ("" is 0), as
// numbers of any length.
func compareEpoch(a, b string) int {
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }
