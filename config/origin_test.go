package config

import (
	"slices"
	"testing"
)

// TestOriginForms: origin as one URL or a list (primary first), or
// origin_metalink / origin_mirrorlist with a query kept.
func TestOriginForms(t *testing.T) {
	for _, tc := range []struct {
		name, origin         string
		primary              string
		origins              []string
		metalink, mirrorlist string
	}{
		{"one URL", "origin: https://a.example/repo", "https://a.example/repo/", []string{"https://a.example/repo/"}, "", ""},
		{"a list", "origin:\n      - https://a.example/repo/\n      - http://b.example/r", "https://a.example/repo/", []string{"https://a.example/repo/", "http://b.example/r/"}, "", ""},
		{"metalink", "origin_metalink: https://mirrors.example.org/metalink?repo=epel-9&arch=x86_64", "", nil, "https://mirrors.example.org/metalink?repo=epel-9&arch=x86_64", ""},
		{"mirrorlist", "origin_mirrorlist: HTTPS://mirrors.example.org/mirrorlist?repo=epel-9", "", nil, "", "https://mirrors.example.org/mirrorlist?repo=epel-9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := "state_dir: /var/lib/rpmirror\nrepos:\n  - name: r\n    " + tc.origin + "\n    mirrors:\n      - name: m\n        url: https://m.example/r/\n"
			c, err := ParseWith([]byte(data), "m.yaml", LoadOptions{SkipFilesystem: true})
			if err != nil {
				t.Fatal(err)
			}
			r := c.Repos[0]
			if r.Origin != tc.primary || !slices.Equal(r.Origins, tc.origins) || r.OriginMetalink != tc.metalink || r.OriginMirrorlist != tc.mirrorlist {
				t.Errorf("got origin %q, origins %q, metalink %q, mirrorlist %q", r.Origin, r.Origins, r.OriginMetalink, r.OriginMirrorlist)
			}
		})
	}
}
