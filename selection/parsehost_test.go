package selection

import (
	"net/netip"
	"testing"
)

// FuzzParseHost: parseHost picks its parser from the form of s; it must
// answer exactly what trying both parsers in turn answers.
func FuzzParseHost(f *testing.F) {
	for _, s := range []string{"192.0.2.1", "192.0.2.1:80", "[2001:db8::1]:443", "2001:db8::1", "[2001:db8::1]",
		"fe80::1%eth0", "[fe80::1%eth0]:80", "::ffff:192.0.2.1", "1:2", "", ":", "[::1]", "1.2.3.4%x:80", "[1.2.3.4]:80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, wantOK := netip.Addr{}, false
		if a, err := netip.ParseAddr(s); err == nil {
			want, wantOK = a.Unmap().WithZone(""), true
		} else if ap, err := netip.ParseAddrPort(s); err == nil {
			want, wantOK = ap.Addr().Unmap().WithZone(""), true
		}
		got, ok := parseHost(s)
		if got != want || ok != wantOK {
			t.Fatalf("parseHost(%q) = %v, %v; trying both parsers gives %v, %v", s, got, ok, want, wantOK)
		}
	})
}
