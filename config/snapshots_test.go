package config

import (
	"reflect"
	"testing"
	"time"
)

func TestSnapshotsSettings(t *testing.T) {
	const head = "state_dir: /var/lib/rpmirror\nrepos:\n  - name: ovirt\n    origin: https://example.org/ovirt/\n    mirrors: [{name: local, path: /srv/mirror/ovirt}]\n"
	tests := []struct {
		name string
		yaml string
		want *Snapshots
	}{
		{"absent", "", nil},
		{"null", "    snapshots:\n", nil},
		{"empty mapping takes the defaults", "    snapshots: {}\n", &Snapshots{Keep: 14, KeepFor: 336 * time.Hour, Line: 6}},
		{"every key", "    snapshots:\n      keep: 3\n      keep_for: 0s\n      pinned: [20261126T120000Z, 20261127T000000Z-2]\n",
			&Snapshots{Keep: 3, Pinned: []string{"20261126T120000Z", "20261127T000000Z-2"}, PinnedLines: []int{9, 9}, Line: 6}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseWith([]byte(head+tt.yaml), "mirrors.yaml", LoadOptions{SkipFilesystem: true})
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Repos[0].Snapshots; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Snapshots = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestValidSnapshotName(t *testing.T) {
	for name, want := range map[string]bool{
		"20261126T120000Z":    true,
		"20261126T120000Z-2":  true,
		"20261126T120000Z-17": true,
		"20261126T120000Z-1":  false,
		"20261126T120000Z-02": false,
		"20261126T120000Z-":   false,
		"20261126T120000":     false,
		"20261326T120000Z":    false,
		"latest":              false,
		"../20261126T120000Z": false,
		"20261126T120000Z/x":  false,
	} {
		if got := ValidSnapshotName(name); got != want {
			t.Errorf("ValidSnapshotName(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestSnapshotsOnObjectStorage: a repo with a mirror in object storage
// may keep snapshots (server-side copies); rpmirror check once refused
// it.
func TestSnapshotsOnObjectStorage(t *testing.T) {
	const yaml = `state_dir: /var/lib/rpmirror
repos:
  - name: ovirt-master
    origin: https://resources.ovirt.org/repos/ovirt/tested/master/rpm/el9/
    snapshots: {keep: 3}
    mirrors:
      - name: local
        path: /srv/mirror/ovirt-master
      - name: store
        s3:
          endpoint: https://s3.example.org
          bucket: mirrors
`
	c, err := ParseWith([]byte(yaml), "mirrors.yaml", LoadOptions{SkipFilesystem: true})
	if err != nil {
		t.Fatalf("snapshots with an s3 mirror: %v", err)
	}
	if s := c.Repos[0].Snapshots; s == nil || s.Keep != 3 || c.Repos[0].Mirrors[1].Kind() != "s3" {
		t.Errorf("Snapshots = %+v, mirrors %+v", s, c.Repos[0].Mirrors)
	}
}
