package config

import (
	"regexp"
	"strings"
	"testing"
)

// TestNames: a region and a bucket name are checked as the regular
// expressions that state S3's rules would check them (compiled here, not
// when the package loads, where the region's took 0.4 to 0.8 ms of every
// command's start), on every string of up to four bytes from an alphabet
// of the allowed and refused kinds, and on names around the length
// limits.
func TestNames(t *testing.T) {
	region := regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$`)
	bucket := regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	inputs := []string{""}
	alphabet := []string{"a", "z", "0", "9", "-", ".", "A", "_", "/", "é"}
	level := []string{""}
	for range 4 {
		var next []string
		for _, p := range level {
			for _, c := range alphabet {
				next = append(next, p+c)
			}
		}
		inputs = append(inputs, next...)
		level = next
	}
	for _, n := range []int{2, 3, 61, 62, 63, 64, 65} {
		inputs = append(inputs, strings.Repeat("a", n), "a"+strings.Repeat("-", n-2)+"a", "a"+strings.Repeat(".", n-2)+"a", strings.Repeat("a", n-1)+"-")
	}
	tests := []struct {
		name string
		re   *regexp.Regexp
		fn   func(string) bool
	}{
		{"region", region, regionName},
		{"bucket", bucket, func(s string) bool { return nameOf(s, 3, 63, ".-") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, s := range inputs {
				if got, want := tc.fn(s), tc.re.MatchString(s); got != want {
					t.Errorf("%q: %v, want %v", s, got, want)
				}
			}
		})
	}
}
