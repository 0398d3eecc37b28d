package daemon

import "testing"

func repomdWith(primary, sum string) []byte {
	return []byte(`<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo"><revision>1</revision>
<data type="primary"><checksum type="sha256">` + sum + `</checksum><location href="` + primary + `"/></data>
</repomd>`)
}

func TestRedirectsServes(t *testing.T) {
	const (
		sumCur = "1111111111111111111111111111111111111111111111111111111111111111"
		sumOld = "2222222222222222222222222222222222222222222222222222222222222222"
	)
	cur := newRevFiles(repomdWith("repodata/cur-primary.xml.gz", sumCur), "c0", map[string]string{
		"Packages/a.rpm":   "sha256:aa",
		"Packages/b.rpm":   "sha256:b2", // rebuilt under the same name
		"Packages/new.rpm": "sha256:nn",
	})
	old := newRevFiles(repomdWith("repodata/old-primary.xml.gz", sumOld), "b0", map[string]string{
		"Packages/a.rpm":    "sha256:aa",
		"Packages/b.rpm":    "sha256:b1",
		"Packages/gone.rpm": "sha256:gg",
	})
	oldNoPkgs := newRevFiles(repomdWith("repodata/old-primary.xml.gz", sumOld), "b0", nil)
	x := &redirects{
		bases:   []string{"https://ok/", "https://behind/", "https://behind-unknown/", "https://unknown/"},
		revs:    []*revFiles{cur, old, oldNoPkgs, nil},
		current: cur,
	}
	for _, tc := range []struct {
		path string
		want [4]bool // per candidate
	}{
		{"repodata/repomd.xml", [4]bool{true, false, false, false}},
		{"repodata/repomd.xml.asc", [4]bool{true, false, false, false}},
		{"repodata/repomd.xml.key", [4]bool{true, false, false, false}},
		{"repodata/cur-primary.xml.gz", [4]bool{true, false, false, false}},
		{"repodata/old-primary.xml.gz", [4]bool{false, true, true, false}}, // a client holding the old repomd.xml
		{"Packages/a.rpm", [4]bool{true, true, false, false}},              // unchanged: behind is fine
		{"Packages/b.rpm", [4]bool{true, false, false, false}},             // changed content: current only
		{"Packages/new.rpm", [4]bool{true, false, false, false}},           // new in current: never behind
		{"Packages/gone.rpm", [4]bool{false, true, false, false}},          // only the old revision has it
		{"Packages/nowhere.rpm", [4]bool{false, false, false, false}},
	} {
		for i, want := range tc.want {
			if got := x.Serves(i, tc.path); got != want {
				t.Errorf("Serves(%s, %s) = %v, want %v", x.bases[i], tc.path, got, want)
			}
		}
	}

	// The current revision's packages unknown: servers of it are trusted
	// with any package, servers of earlier ones with their metadata only.
	curNoPkgs := newRevFiles(repomdWith("repodata/cur-primary.xml.gz", sumCur), "c0", nil)
	y := &redirects{bases: []string{"https://ok/", "https://behind/"}, revs: []*revFiles{curNoPkgs, oldNoPkgs}, current: curNoPkgs}
	for _, tc := range []struct {
		path string
		want [2]bool
	}{
		{"Packages/new.rpm", [2]bool{true, false}},
		{"repodata/repomd.xml", [2]bool{true, false}},
		{"repodata/old-primary.xml.gz", [2]bool{false, true}}, // metadata is known in full
	} {
		for i, want := range tc.want {
			if got := y.Serves(i, tc.path); got != want {
				t.Errorf("unknown packages: Serves(%s, %s) = %v, want %v", y.bases[i], tc.path, got, want)
			}
		}
	}

	// The origin: only when it serves a verified revision.
	x.origin, x.originRev = "https://origin/", cur
	if x.Origin("Packages/new.rpm") != "https://origin/" || x.Origin("Packages/gone.rpm") != "" {
		t.Error("origin serving the current revision")
	}
	x.origin, x.originRev = "", nil
	if x.Origin("Packages/new.rpm") != "" {
		t.Error("an origin not serving a verified revision is used")
	}
}
