package config

import (
	"net/netip"
	"path/filepath"
	"slices"
	"testing"

	"github.com/rpmirror/rpmirror/internal/geotest"
)

func TestVarsExpand(t *testing.T) {
	data := []byte(`
state_dir: /var/lib/rpmirror
repos:
  - name: epel-${releasever}-${basearch}
    mirrorlist_name: epel-${releasever}
    arch: ${basearch}
    vars:
      releasever: [8, 9]
      basearch: [x86_64, aarch64]
    origin: https://dl.example.org/pub/epel/${releasever}/Everything/${basearch}/
    gpgkeys: ["/etc/pki/rpm-gpg/RPM-GPG-KEY-EPEL-${releasever}"]
    mirrors:
      - name: local
        path: /srv/mirror/epel/${releasever}/${basearch}
        url: https://mirror.example.org/epel/${releasever}/${basearch}/
  - name: tools
    origin: https://dl.example.org/tools/
    mirrors:
      - name: local
        path: /srv/mirror/tools
`)
	c, err := ParseWith(data, "/etc/rpmirror/mirrors.yaml", LoadOptions{SkipFilesystem: true})
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		name, list, arch, origin, key, path, url string
		vars                                     []Var
	}
	exp := func(rel, arch string) want {
		return want{
			name:   "epel-" + rel + "-" + arch,
			list:   "epel-" + rel,
			arch:   arch,
			origin: "https://dl.example.org/pub/epel/" + rel + "/Everything/" + arch + "/",
			key:    "/etc/pki/rpm-gpg/RPM-GPG-KEY-EPEL-" + rel,
			path:   "/srv/mirror/epel/" + rel + "/" + arch,
			url:    "https://mirror.example.org/epel/" + rel + "/" + arch + "/",
			vars:   []Var{{"releasever", rel}, {"basearch", arch}},
		}
	}
	wants := []want{
		exp("8", "x86_64"), exp("8", "aarch64"), exp("9", "x86_64"), exp("9", "aarch64"),
		{name: "tools", list: "tools", origin: "https://dl.example.org/tools/", path: "/srv/mirror/tools"},
	}
	if len(c.Repos) != len(wants) {
		t.Fatalf("%d repos, want %d", len(c.Repos), len(wants))
	}
	for i, w := range wants {
		r := c.Repos[i]
		var key string
		if len(r.GPGKeys) > 0 {
			key = r.GPGKeys[0]
		}
		m := r.Mirrors[0]
		if r.Name != w.name || r.MirrorlistName != w.list || r.Arch != w.arch || r.Origin != w.origin ||
			key != w.key || m.Path != w.path || m.URL != w.url || !slices.Equal(r.Vars, w.vars) {
			t.Errorf("repo %d: got name %q list %q arch %q origin %q key %q path %q url %q vars %v\nwant %+v",
				i, r.Name, r.MirrorlistName, r.Arch, r.Origin, key, m.Path, m.URL, r.Vars, w)
		}
		if i < 4 && r.Line != 4 {
			t.Errorf("repo %d: line %d, want 4 (the template's)", i, r.Line)
		}
	}
}

func TestSelectionKeys(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "country.mmdb")
	geotest.Write(t, db, geotest.Networks{"192.0.2.0/24": "DE"})
	data := []byte(`
state_dir: state
geoip_db: country.mmdb
trusted_proxies: [127.0.0.1, 10.0.0.0/8, "::1"]
access_log: log/access.json
repos:
  - name: fedora-40
    mirrorlist_name: fedora
    arch: x86_64
    origin: https://dl.example.org/fedora/40/
    mirrors:
      - name: ci
        url: http://ci-mirror.internal/fedora/40/
        networks: [10.20.0.0/16, "2001:db8:20::/48", 192.0.2.1]
        private: true
      - name: de
        url: https://fedora.example.de/40/
        country: DE
        weight: 300
      - name: plain
        url: https://fedora.example.net/40/
`)
	c, err := Parse(data, filepath.Join(dir, "mirrors.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if c.GeoIPDB != db || c.AccessLog != filepath.Join(dir, "log/access.json") {
		t.Errorf("geoip_db %q access_log %q", c.GeoIPDB, c.AccessLog)
	}
	wantProxies := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	if !slices.Equal(c.TrustedProxies, wantProxies) {
		t.Errorf("trusted_proxies %v, want %v", c.TrustedProxies, wantProxies)
	}
	r := c.Repos[0]
	if r.MirrorlistName != "fedora" || r.Arch != "x86_64" {
		t.Errorf("mirrorlist_name %q arch %q", r.MirrorlistName, r.Arch)
	}
	ci, de, plain := r.Mirrors[0], r.Mirrors[1], r.Mirrors[2]
	wantNets := []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16"), netip.MustParsePrefix("2001:db8:20::/48"), netip.MustParsePrefix("192.0.2.1/32")}
	if !slices.Equal(ci.Networks, wantNets) || !ci.Private || ci.Weight != DefaultWeight {
		t.Errorf("ci: %+v", ci)
	}
	if de.Country != "DE" || de.Weight != 300 || de.Private {
		t.Errorf("de: %+v", de)
	}
	if plain.Country != "" || plain.Weight != DefaultWeight || plain.Networks != nil {
		t.Errorf("plain: %+v", plain)
	}

	// access_log: - is standard output, not a path.
	c, err = ParseWith([]byte("state_dir: /s\naccess_log: \"-\"\nrepos: [{name: r, origin: \"https://o/\", mirrors: [{name: m, path: /m}]}]\n"), "x.yaml", LoadOptions{SkipFilesystem: true})
	if err != nil {
		t.Fatal(err)
	}
	if c.AccessLog != "-" {
		t.Errorf("access_log %q, want -", c.AccessLog)
	}
	// The default mirrorlist_name is the name.
	if c.Repos[0].MirrorlistName != "r" || c.Repos[0].Arch != "" {
		t.Errorf("defaults: mirrorlist_name %q arch %q", c.Repos[0].MirrorlistName, c.Repos[0].Arch)
	}
}
