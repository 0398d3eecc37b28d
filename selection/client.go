package selection

import (
	"net/netip"
	"strings"
)

// ClientAddr returns the address of the client of a request that arrived
// from remote (an http.Request's RemoteAddr, "host:port") carrying the
// X-Forwarded-For header values xff, given the networks of the trusted
// proxies.
//
// When remote is not inside trusted, the header is ignored: anyone can
// write one. Otherwise the header's addresses are read from the right
// (each proxy appends the address it got the request from), skipping
// those inside trusted; the first one outside is the client. When every
// address is trusted, the leftmost is the client; an entry that is not
// an address ends the walk at the address to its right, which a trusted
// proxy wrote. The returned address is unmapped (::ffff:192.0.2.1 becomes
// 192.0.2.1) and has no zone; it is the zero Addr when remote does not
// parse.
func ClientAddr(remote string, xff []string, trusted []netip.Prefix) netip.Addr {
	addr, ok := parseHost(remote)
	if !ok {
		return netip.Addr{}
	}
	return ClientAddrFrom(addr, xff, trusted)
}

// ClientAddrFrom is ClientAddr for a server that knows the connection's
// peer as an address already (fasthttp's RemoteIP): no string to parse.
// It keeps none of xff's strings, so they may alias a buffer the server
// reuses once the request is answered.
func ClientAddrFrom(remote netip.Addr, xff []string, trusted []netip.Prefix) netip.Addr {
	if !remote.IsValid() {
		return netip.Addr{}
	}
	addr := remote.Unmap().WithZone("")
	if !contains(trusted, addr) {
		return addr
	}
	for i := len(xff) - 1; i >= 0; i-- {
		v := xff[i]
		for len(v) > 0 {
			entry := v
			if j := strings.LastIndexByte(v, ','); j >= 0 {
				entry, v = v[j+1:], v[:j]
			} else {
				v = ""
			}
			entry = strings.TrimSpace(entry)
			if entry == "" {
				continue
			}
			a, ok := parseHost(entry)
			if !ok {
				return addr
			}
			addr = a
			if !contains(trusted, addr) {
				return addr
			}
		}
	}
	return addr
}

// parseHost parses an address written alone ("192.0.2.1", "2001:db8::1")
// or with a port ("192.0.2.1:80", "[2001:db8::1]:80"), as RemoteAddr and
// some proxies' X-Forwarded-For entries write it. The form picks the
// parser, so that a request never pays for a failed parse (and the error
// it allocates): a port follows a bracketed IPv6 address or the only
// colon of an IPv4 one, while a bare IPv6 address has two colons or more.
func parseHost(s string) (netip.Addr, bool) {
	var a netip.Addr
	if strings.HasPrefix(s, "[") || strings.Count(s, ":") == 1 {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	} else {
		var err error
		if a, err = netip.ParseAddr(s); err != nil {
			return netip.Addr{}, false
		}
	}
	return a.Unmap().WithZone(""), true
}

// contains reports whether one of nets holds a.
func contains(nets []netip.Prefix, a netip.Addr) bool {
	for _, n := range nets {
		if n.Contains(a) {
			return true
		}
	}
	return false
}
