package selection_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/rpmirror/rpmirror/selection"
)

func prefixes(ss ...string) []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range ss {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}

func TestClientAddr(t *testing.T) {
	trusted := prefixes("127.0.0.0/8", "10.0.0.0/8", "2001:db8:ffff::/48")
	for _, tc := range []struct {
		name    string
		remote  string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{"direct", "192.0.2.1:4321", nil, trusted, "192.0.2.1"},
		{"direct, header ignored", "192.0.2.1:4321", []string{"198.51.100.7"}, trusted, "192.0.2.1"},
		{"no trusted proxies: header ignored", "127.0.0.1:80", []string{"198.51.100.7"}, nil, "127.0.0.1"},
		{"one trusted proxy", "127.0.0.1:80", []string{"198.51.100.7"}, trusted, "198.51.100.7"},
		{"client-forged entries left of the real one", "127.0.0.1:80", []string{"10.9.9.9, 203.0.113.66, 198.51.100.7"}, trusted, "198.51.100.7"},
		{"two trusted proxies", "127.0.0.1:80", []string{"198.51.100.7, 10.1.1.1"}, trusted, "198.51.100.7"},
		{"several header lines", "127.0.0.1:80", []string{"203.0.113.66", "198.51.100.7, 10.1.1.1"}, trusted, "198.51.100.7"},
		{"every address trusted: the leftmost", "127.0.0.1:80", []string{"10.2.2.2, 10.1.1.1"}, trusted, "10.2.2.2"},
		{"empty header", "127.0.0.1:80", []string{""}, trusted, "127.0.0.1"},
		{"garbage left of a trusted hop", "127.0.0.1:80", []string{"not-an-ip, 10.1.1.1"}, trusted, "10.1.1.1"},
		{"garbage as the last hop", "127.0.0.1:80", []string{"198.51.100.7, bogus"}, trusted, "127.0.0.1"},
		{"entries with ports", "127.0.0.1:80", []string{"198.51.100.7:5555, [2001:db8:ffff::1]:443"}, trusted, "198.51.100.7"},
		{"IPv6 client", "[2001:db8:ffff::2]:443", []string{"2001:db8:1::9"}, trusted, "2001:db8:1::9"},
		{"4-in-6 remote", "[::ffff:127.0.0.1]:80", []string{"198.51.100.7"}, trusted, "198.51.100.7"},
		{"4-in-6 entry", "127.0.0.1:80", []string{"::ffff:198.51.100.7"}, trusted, "198.51.100.7"},
		{"zone dropped", "[fe80::1%eth0]:80", nil, trusted, "fe80::1"},
		{"spaces", "127.0.0.1:80", []string{"  198.51.100.7 ,  10.1.1.1  "}, trusted, "198.51.100.7"},
		{"bad remote", "pipe", nil, trusted, "invalid IP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := selection.ClientAddr(tc.remote, tc.xff, tc.trusted)
			if got.String() != tc.want {
				t.Errorf("ClientAddr(%q, %q) = %s, want %s", tc.remote, tc.xff, got, tc.want)
			}
		})
	}
}

func BenchmarkClientAddr(b *testing.B) {
	trusted := prefixes("127.0.0.0/8", "10.0.0.0/8")
	xff := []string{"203.0.113.66, 198.51.100.7, 10.1.1.1"}
	b.ReportAllocs()
	for b.Loop() {
		selection.ClientAddr("127.0.0.1:34567", xff, trusted)
	}
}

// FuzzClientAddr: X-Forwarded-For is written by whoever sends the
// request. ClientAddr never panics, ignores the header for an untrusted
// connection, and otherwise answers an address the connection or the
// header named.
func FuzzClientAddr(f *testing.F) {
	f.Add("127.0.0.1:80", "198.51.100.7, 10.1.1.1")
	f.Add("[::1]:443", "[2001:db8::1]:80,,garbage, ::ffff:10.0.0.1")
	f.Add("192.0.2.1:1", "")
	f.Add("127.0.0.1:80", "fe80::1%eth0")
	trusted := prefixes("127.0.0.0/8", "10.0.0.0/8", "::1/128")
	f.Fuzz(func(t *testing.T, remote, xff string) {
		got := selection.ClientAddr(remote, []string{xff}, trusted)
		r, err := netip.ParseAddrPort(remote)
		if err != nil {
			return
		}
		ra := r.Addr().Unmap().WithZone("")
		if !got.IsValid() {
			t.Fatalf("ClientAddr(%q, %q) is not an address", remote, xff)
		}
		if got.Zone() != "" || got.Is4In6() {
			t.Fatalf("ClientAddr(%q, %q) = %s: not unmapped and zone-free", remote, xff, got)
		}
		trustedRemote := false
		for _, p := range trusted {
			trustedRemote = trustedRemote || p.Contains(ra)
		}
		if !trustedRemote && got != ra {
			t.Fatalf("untrusted %q: ClientAddr = %s, want the connection's address", remote, got)
		}
		if got != ra && !strings.Contains(xff, strings.TrimPrefix(got.String(), "::ffff:")) && !strings.Contains(strings.ToLower(xff), got.String()) {
			// The header may write the address differently (leading
			// zeros, 4-in-6); it must at least parse to it.
			found := false
			for _, e := range strings.Split(xff, ",") {
				if a, err := netip.ParseAddr(strings.TrimSpace(e)); err == nil && a.Unmap().WithZone("") == got {
					found = true
				}
				if ap, err := netip.ParseAddrPort(strings.TrimSpace(e)); err == nil && ap.Addr().Unmap().WithZone("") == got {
					found = true
				}
			}
			if !found {
				t.Fatalf("ClientAddr(%q, %q) = %s: in neither the connection nor the header", remote, xff, got)
			}
		}
	})
}
