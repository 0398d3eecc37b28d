package config

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestFilterSettings(t *testing.T) {
	const head = "state_dir: /var/lib/rpmirror\nrepos:\n  - name: el9-${basearch}\n    vars: {basearch: [x86_64, aarch64]}\n    origin: https://example.org/el9/${basearch}/\n    mirrors: [{name: local, path: \"/srv/mirror/el9/${basearch}\"}]\n"
	tests := []struct {
		name string
		yaml string
		want []*Filter // per expanded repo
	}{
		{"absent", "", []*Filter{nil, nil}},
		{"empty mapping keeps everything", "    filter: {}\n", []*Filter{{Line: 7}, {Line: 7}}},
		{"every key, with variables", "    filter:\n      arch: [\"${basearch}\", noarch, src]\n      include: [\"glusterfs*\", \"python3-gluster*\"]\n      exclude: [\"*-debuginfo\", \"*-debug[s]ource\"]\n      newest: 2\n",
			[]*Filter{
				{Arch: []string{"x86_64", "noarch", "src"}, Include: []string{"glusterfs*", "python3-gluster*"}, Exclude: []string{"*-debuginfo", "*-debug[s]ource"}, Newest: 2, Line: 7},
				{Arch: []string{"aarch64", "noarch", "src"}, Include: []string{"glusterfs*", "python3-gluster*"}, Exclude: []string{"*-debuginfo", "*-debug[s]ource"}, Newest: 2, Line: 7},
			}},
		{"empty exclude excludes nothing", "    filter: {exclude: [], newest: 0}\n", []*Filter{{Line: 7}, {Line: 7}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseWith([]byte(head+tt.yaml), "mirrors.yaml", LoadOptions{SkipFilesystem: true})
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range c.Repos {
				if !reflect.DeepEqual(r.Filter, tt.want[i]) {
					t.Errorf("repo %s: Filter = %+v, want %+v", r.Name, r.Filter, tt.want[i])
				}
			}
		})
	}
}

// A usable key passes the filesystem checks, and SignWith is the file's
// absolute path.
func TestSignWith(t *testing.T) {
	td := copyTestdata(t)
	file := filepath.Join(td, "good-sign-with.yaml")
	data := "state_dir: state\nrepos:\n  - name: el9\n    origin: https://example.org/el9/\n    filter: {arch: [x86_64]}\n    sign_with: sign-key.asc\n    mirrors: [{name: local, path: mirror/el9}]\n"
	if err := os.WriteFile(file, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Repos[0].SignWith, filepath.Join(td, "sign-key.asc"); got != want {
		t.Errorf("SignWith = %q, want %q", got, want)
	}
}
