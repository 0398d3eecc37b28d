package server

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/mirrorlist"
)

// withSnapshot gives the world's repo one snapshot, held by every mirror
// but ber, described by its own repomd.xml.
func (w *world) withSnapshot(name string, repomd []byte) {
	var ms []mirrorlist.Mirror
	for _, m := range worldMirrors {
		ms = append(ms, mirrorlist.Mirror{URL: m.URL + "snapshots/" + name + "/", Location: m.Country})
	}
	cur := mirrorlist.Describe(repomd, 1)
	fb := mirrorlist.Fallback{Comment: "no listed mirror holds snapshot " + name}
	w.repo.Snapshots = &Snapshots{
		Latest: name, Revision: "7", Names: []string{"20261124T120000Z", name},
		Lists: map[string]*SnapshotLists{name: {
			Has:   []bool{true, false, true, true, true},
			Lists: mirrorlist.NewTemplate(cur, nil, ms, mirrorlist.TextFallback(nil, fb), mirrorlist.MetalinkFallback(cur, nil, nil, fb, time.Unix(0, 0)), time.Unix(0, 0)),
		}},
		Mirrors: []SnapshotMirror{{Name: "fra", Latest: name, URL: worldMirrors[0].URL + "snapshots/" + name + "/"}},
	}
}

// TestSnapshotListsPerClient: ?snapshot=NAME lists the mirrors holding
// the snapshot in the order the plain list has for the client (ber, which
// lacks it, left out), each URL the snapshot's; the metalink describes
// the snapshot's repomd.xml; a snapshot no mirror holds is a 404 naming
// those there are; /snapshots.json gives the latest and the lists' paths.
func TestSnapshotListsPerClient(t *testing.T) { forEachFrontEnd(t, testSnapshotListsPerClient) }

func testSnapshotListsPerClient(t *testing.T, fe string) {
	w := newWorld(t, fe, "127.0.0.0/8", "::1/128")
	const snap = "20261125T120000Z"
	w.withSnapshot(snap, []byte("<repomd>snapshot</repomd>"))
	const ml = "/mirrorlist?repo=example-9-BaseOS&arch=x86_64&snapshot=" + snap
	for _, tc := range []struct {
		name string
		xff  string
		want [][]string
	}{
		{"Germany", inGermany, [][]string{{"fra"}, {"partner"}, {"university"}}},
		{"France", inFrance, [][]string{{"partner"}, {"fra"}, {"university"}}},
		{"USA", inUSA, [][]string{{"university"}, {"fra"}, {"partner"}}},
		{"CI farm: its private mirror first", inCI, [][]string{{"ci"}, {"fra", "university"}, {"partner"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 10 {
				code, _, body := w.get(t, ml, tc.xff)
				if code != 200 {
					t.Fatalf("status %d: %s", code, body)
				}
				if got := names(t, strings.ReplaceAll(body, "snapshots/"+snap+"/", "")); !matchGroups(got, tc.want) {
					t.Fatalf("order %v, want groups %v\n%s", got, tc.want, body)
				}
				if strings.Count(body, "snapshots/"+snap+"/\n") != strings.Count(body, "\n") {
					t.Fatalf("a URL that is not the snapshot's:\n%s", body)
				}
			}
		})
	}
	code, _, body := w.get(t, "/metalink?repo=example-9-BaseOS&arch=x86_64&snapshot="+snap, inGermany)
	want := mirrorlist.Describe([]byte("<repomd>snapshot</repomd>"), 1)
	if code != 200 || !strings.Contains(body, want.SHA256) || !strings.Contains(body, worldMirrors[0].URL+"snapshots/"+snap+"/repodata/repomd.xml") || strings.Contains(body, "ber.example.org") {
		t.Errorf("metalink of snapshot %s: %d\n%s", snap, code, body)
	}
	for _, path := range []string{"/mirrorlist?repo=example-9-BaseOS&arch=x86_64&snapshot=20200101T000000Z", "/metalink?repo=example-9-BaseOS&arch=x86_64&snapshot=20200101T000000Z"} {
		code, _, body := w.get(t, path, inGermany)
		if code != 404 || !strings.Contains(body, "no snapshot 20200101T000000Z of example-9-BaseOS-x86_64: its snapshots are 20261124T120000Z, "+snap) {
			t.Errorf("%s: %d %q", path, code, body)
		}
	}
	_, _, body = w.get(t, "/snapshots.json", "")
	var doc SnapshotsDoc
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Repos) != 2 || doc.Repos[0].Latest != snap || doc.Repos[0].Metalink != "/metalink?repo=example-9-BaseOS&arch=x86_64&snapshot="+snap || len(doc.Repos[0].Mirrors) != 1 {
		t.Errorf("/snapshots.json:\n%s", body)
	}
	w.repo.Snapshots = nil
	if code, _, body := w.get(t, ml, inGermany); code != 404 || !strings.Contains(body, "it keeps no snapshots") {
		t.Errorf("a repo without snapshots: %d %q", code, body)
	}
}
