package sync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/repodata"
	"github.com/rpmirror/rpmirror/state"
	"github.com/rpmirror/rpmirror/target"
	"github.com/rpmirror/rpmirror/target/local"
	"github.com/rpmirror/rpmirror/target/targettest"
	"github.com/rpmirror/rpmirror/verify"
)

// pkg is a package of a planning test: its location and content.
type pkg struct{ href, content string }

func (p pkg) pkg() *repodata.Package {
	return &repodata.Package{Name: strings.TrimSuffix(filepath.Base(p.href), ".rpm"), Arch: "noarch", Epoch: "0", Version: "1", Release: "1",
		Href: p.href, Size: int64(len(p.content)), Checksum: repodata.Checksum{Type: "sha256", Value: sha256Hex([]byte(p.content))}}
}

func (p pkg) sum() string { return "sha256:" + sha256Hex([]byte(p.content)) }

// checksumOnly checks a package a mirror holds by its checksum alone: a
// planning test's packages are not RPMs (TestAdoptedMirrorFilesChecked
// and TestAdoptedMirrorSignaturesChecked check real ones).
func checksumOnly(r io.Reader, p *repodata.Package) error {
	return verify.Content(r, p.Size, p.Checksum)
}

// data is a metadata entry of a planning test's repomd.xml.
func data(typ, href, content string) repodata.Data {
	return repodata.Data{Type: typ, Href: href, Checksum: repodata.Checksum{Type: "sha256", Value: sha256Hex([]byte(content))}, Size: int64(len(content)), OpenSize: -1}
}

// planMirror is a mirror as a planning test sets it up.
type planMirror struct {
	served    []pkg           // the packages of the revision it serves (its index); nil: unknown
	unknown   bool            // its index is unknown (primary unreadable)
	files     []pkg           // files on it
	meta      []repodata.Data // the metadata of the revision it serves
	pending   map[string]time.Time
	unpub     map[string]time.Time
	noTarget  bool   // a dry run of a mirror whose directory is missing
	sequenced bool   // a target without an atomic commit
	adopted   bool   // served is the mirror's own metadata's claim (rpmirror did not publish it)
	metaBad   string // of an adopted mirror, the metadata file that failed its check (checkAdoptedMeta)
}

// mirrorPlanWant is what a test expects of one mirror's plan.
type mirrorPlanWant struct {
	served  int
	present []string
	store   []string // "path reason"
	commit  []string
	remove  []string
	pending map[string]time.Time
	prune   []string
	refused *UnsafePublishError
}

func TestPlanner(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	a1, b1, c1 := pkg{"Packages/a.rpm", "a-one"}, pkg{"Packages/b.rpm", "b-one"}, pkg{"Packages/c.rpm", "c-one"}
	b2, d1 := pkg{"Packages/b.rpm", "b-two"}, pkg{"Packages/d.rpm", "d-one"}
	prim1, prim2 := data("primary", "repodata/1-primary.xml.gz", "p1"), data("primary", "repodata/2-primary.xml.gz", "p2")
	files1, files2 := data("filelists", "repodata/1-filelists.xml.gz", "f1"), data("filelists", "repodata/2-filelists.xml.gz", "f2")
	group := data("group", "repodata/comps.xml", "g")
	// Revision 2 of the origin: a kept, b rebuilt under the same name,
	// c dropped, d new; all its metadata under new names but comps.
	rev2 := []pkg{a1, b2, d1}
	md2 := []repodata.Data{prim2, files2, group}
	tail := []string{"repodata/2-primary.xml.gz metadata", "repodata/2-filelists.xml.gz metadata", "repodata/comps.xml metadata", "repodata/repomd.xml repomd", "repodata/repomd.xml.asc repomd"}
	for _, tc := range []struct {
		name       string
		origin     []pkg
		md         []repodata.Data
		pruneAfter time.Duration
		mirrors    []planMirror
		wantMeta   []string // hrefs of the metadata to fetch
		wantFetch  []string
		want       []mirrorPlanWant
		wantErr    any // a pointer to the error type planning must fail with
	}{
		{
			name:   "an empty mirror gets everything, stored before the commit",
			origin: rev2, md: md2,
			mirrors:   []planMirror{{unknown: true}},
			wantMeta:  []string{prim2.Href, files2.Href, group.Href},
			wantFetch: []string{a1.href, b2.href, d1.href},
			want: []mirrorPlanWant{{
				store:  []string{"Packages/a.rpm new", "Packages/b.rpm new", "Packages/d.rpm new"},
				commit: tail, remove: []string{KeyPath}, pending: map[string]time.Time{},
			}},
		},
		{
			name:   "a missing mirror directory in a dry run is empty",
			origin: rev2, md: md2,
			mirrors:   []planMirror{{unknown: true, noTarget: true}},
			wantMeta:  []string{prim2.Href, files2.Href, group.Href},
			wantFetch: []string{a1.href, b2.href, d1.href},
			want: []mirrorPlanWant{{
				store:  []string{"Packages/a.rpm new", "Packages/b.rpm new", "Packages/d.rpm new"},
				commit: tail, remove: []string{KeyPath}, pending: map[string]time.Time{},
			}},
		},
		{
			name:   "behind by one revision: new stored, changed committed, dropped and old metadata pruned at once",
			origin: rev2, md: md2,
			mirrors: []planMirror{{
				served: []pkg{a1, b1, c1}, files: []pkg{a1, b1, c1},
				meta: []repodata.Data{prim1, files1, group},
			}},
			wantMeta:  []string{prim2.Href, files2.Href},
			wantFetch: []string{b2.href, d1.href},
			want: []mirrorPlanWant{{
				served: 1,
				store:  []string{"Packages/d.rpm new"},
				commit: append([]string{"Packages/b.rpm changed"}, slices.Delete(slices.Clone(tail), 2, 3)...),
				remove: []string{KeyPath},
				pending: map[string]time.Time{
					c1.href: {}, prim1.Href: {}, files1.Href: {},
				},
				prune: []string{c1.href, files1.Href, prim1.Href},
			}},
		},
		{
			name:   "prune_after keeps what became unused lately, prunes what has waited long enough",
			origin: rev2, md: md2, pruneAfter: 2 * day,
			mirrors: []planMirror{{
				served: []pkg{a1, b1, c1}, files: []pkg{a1, b1, c1, {"Packages/old.rpm", "old"}},
				meta:    []repodata.Data{prim1, files1, group},
				pending: map[string]time.Time{"Packages/old.rpm": now.Add(-3 * day), "Packages/recent.rpm": now.Add(-day)},
			}},
			wantMeta:  []string{prim2.Href, files2.Href},
			wantFetch: []string{b2.href, d1.href},
			want: []mirrorPlanWant{{
				served: 1,
				store:  []string{"Packages/d.rpm new"},
				commit: append([]string{"Packages/b.rpm changed"}, slices.Delete(slices.Clone(tail), 2, 3)...),
				remove: []string{KeyPath},
				pending: map[string]time.Time{
					c1.href: {}, prim1.Href: {}, files1.Href: {},
					"Packages/old.rpm": now.Add(-3 * day), "Packages/recent.rpm": now.Add(-day),
				},
				prune: []string{"Packages/old.rpm"},
			}},
		},
		{
			name:   "a package an interrupted sync stored is kept, a stranger at a free path is overwritten before the commit",
			origin: []pkg{a1, d1, {"Packages/e.rpm", "e-right"}}, md: []repodata.Data{prim2},
			mirrors: []planMirror{{
				served: []pkg{a1}, files: []pkg{a1, d1, {"Packages/e.rpm", "e-wrong"}},
				meta:  []repodata.Data{prim1},
				unpub: map[string]time.Time{d1.href: now.Add(-time.Hour), "Packages/gone.rpm": now.Add(-2 * time.Hour)},
			}},
			wantMeta:  []string{prim2.Href},
			wantFetch: []string{"Packages/e.rpm"},
			want: []mirrorPlanWant{{
				served: 1, present: []string{d1.href},
				store:  []string{"Packages/e.rpm new"},
				commit: []string{"repodata/2-primary.xml.gz metadata", "repodata/repomd.xml repomd", "repodata/repomd.xml.asc repomd"},
				remove: []string{KeyPath},
				// What was stored for a revision never published and not
				// named by this one is pending since it was stored.
				pending: map[string]time.Time{prim1.Href: {}, "Packages/gone.rpm": now.Add(-2 * time.Hour)},
				prune:   []string{"Packages/gone.rpm", prim1.Href},
			}},
		},
		{
			name:   "a mirror whose package list cannot be read: what is not there is missing",
			origin: []pkg{a1, d1}, md: []repodata.Data{prim2},
			mirrors: []planMirror{{
				unknown: true, meta: []repodata.Data{prim1}, files: []pkg{a1},
			}},
			wantMeta:  []string{prim2.Href},
			wantFetch: []string{d1.href},
			want: []mirrorPlanWant{{
				present: []string{a1.href},
				store:   []string{"Packages/d.rpm missing"},
				commit:  []string{"repodata/2-primary.xml.gz metadata", "repodata/repomd.xml repomd", "repodata/repomd.xml.asc repomd"},
				remove:  []string{KeyPath},
				pending: map[string]time.Time{prim1.Href: {}},
				prune:   []string{prim1.Href},
			}},
		},
		{
			name:   "when what the mirror serves is unknown, a file in the way is replaced by the commit",
			origin: []pkg{a1, b2}, md: []repodata.Data{prim2},
			mirrors: []planMirror{{
				unknown: true, files: []pkg{a1, b1},
			}},
			wantMeta:  []string{prim2.Href},
			wantFetch: []string{b2.href},
			want: []mirrorPlanWant{{
				present: []string{a1.href},
				commit:  []string{"Packages/b.rpm changed", "repodata/2-primary.xml.gz metadata", "repodata/repomd.xml repomd", "repodata/repomd.xml.asc repomd"},
				remove:  []string{KeyPath}, pending: map[string]time.Time{},
			}},
		},
		{
			name:   "two mirrors lacking one package fetch it once",
			origin: rev2, md: md2,
			mirrors: []planMirror{
				{served: []pkg{a1, b1, c1}, files: []pkg{a1, b1, c1}, meta: []repodata.Data{prim1, files1, group}},
				{unknown: true},
			},
			wantMeta:  []string{prim2.Href, files2.Href, group.Href},
			wantFetch: []string{a1.href, b2.href, d1.href},
			want: []mirrorPlanWant{
				{
					served: 1, store: []string{"Packages/d.rpm new"},
					commit: append([]string{"Packages/b.rpm changed"}, slices.Delete(slices.Clone(tail), 2, 3)...),
					remove: []string{KeyPath},
					pending: map[string]time.Time{
						c1.href: {}, prim1.Href: {}, files1.Href: {},
					},
					prune: []string{c1.href, files1.Href, prim1.Href},
				},
				{
					store:  []string{"Packages/a.rpm new", "Packages/b.rpm new", "Packages/d.rpm new"},
					commit: tail, remove: []string{KeyPath}, pending: map[string]time.Time{},
				},
			},
		},
		{
			name:   "identical duplicates are planned once",
			origin: []pkg{a1, a1, d1}, md: []repodata.Data{prim2},
			mirrors:   []planMirror{{unknown: true}},
			wantMeta:  []string{prim2.Href},
			wantFetch: []string{a1.href, d1.href},
			want: []mirrorPlanWant{{
				store:  []string{"Packages/a.rpm new", "Packages/d.rpm new"},
				commit: []string{"repodata/2-primary.xml.gz metadata", "repodata/repomd.xml repomd", "repodata/repomd.xml.asc repomd"},
				remove: []string{KeyPath}, pending: map[string]time.Time{},
			}},
		},
		{
			name:   "without an atomic commit, a package replaced under its name is refused",
			origin: rev2, md: md2,
			mirrors: []planMirror{{
				served: []pkg{a1, b1, c1}, files: []pkg{a1, b1, c1},
				meta: []repodata.Data{prim1, files1, group}, sequenced: true,
			}},
			wantMeta:  []string{prim2.Href, files2.Href},
			wantFetch: []string{b2.href, d1.href},
			want: []mirrorPlanWant{{
				served: 1,
				store:  []string{"Packages/d.rpm new"},
				commit: append([]string{"Packages/b.rpm changed"}, slices.Delete(slices.Clone(tail), 2, 3)...),
				remove: []string{KeyPath},
				pending: map[string]time.Time{
					c1.href: {}, prim1.Href: {}, files1.Href: {},
				},
				prune:   []string{c1.href, files1.Href, prim1.Href},
				refused: &UnsafePublishError{Mirror: "m0", Path: b2.href},
			}},
		},
		{
			name:   "an adopted mirror: a package its metadata names that is damaged or missing is repaired by the commit, one intact is kept",
			origin: []pkg{a1, b1, c1}, md: []repodata.Data{prim1},
			mirrors: []planMirror{{
				served: []pkg{a1, b1, c1}, files: []pkg{a1, {b1.href, "b-rotted"}},
				meta: []repodata.Data{prim1}, adopted: true,
			}},
			wantMeta:  []string{prim1.Href},
			wantFetch: []string{b1.href, c1.href},
			want: []mirrorPlanWant{{
				served: 1,
				commit: []string{"Packages/b.rpm repair", "Packages/c.rpm repair", "repodata/repomd.xml repomd", "repodata/repomd.xml.asc repomd"},
				remove: []string{KeyPath}, pending: map[string]time.Time{},
			}},
		},
		{
			name:   "without an atomic commit, an adopted mirror's damaged package is repaired, not refused",
			origin: []pkg{a1, b1}, md: []repodata.Data{prim1},
			mirrors: []planMirror{{
				served: []pkg{a1, b1}, files: []pkg{a1, {b1.href, "b-rotted"}},
				meta: []repodata.Data{prim1}, adopted: true, sequenced: true,
			}},
			wantMeta:  []string{prim1.Href},
			wantFetch: []string{b1.href},
			want: []mirrorPlanWant{{
				served: 1,
				commit: []string{"Packages/b.rpm repair", "repodata/repomd.xml repomd", "repodata/repomd.xml.asc repomd"},
				remove: []string{KeyPath}, pending: map[string]time.Time{},
			}},
		},
		{
			name:   "without an atomic commit, an adopted mirror's damaged metadata is repaired, not refused",
			origin: []pkg{a1}, md: []repodata.Data{data("primary", "repodata/primary.xml.gz", "p1")},
			mirrors: []planMirror{{
				served: []pkg{a1}, files: []pkg{a1},
				meta: []repodata.Data{data("primary", "repodata/primary.xml.gz", "p1")}, adopted: true, sequenced: true,
				metaBad: "repodata/primary.xml.gz",
			}},
			wantMeta: []string{"repodata/primary.xml.gz"},
			want: []mirrorPlanWant{{
				served:  1,
				commit:  []string{"repodata/primary.xml.gz metadata", "repodata/repomd.xml repomd", "repodata/repomd.xml.asc repomd"},
				remove:  []string{KeyPath},
				pending: map[string]time.Time{},
			}},
		},
		{
			name:   "without an atomic commit, metadata replaced under its name is refused",
			origin: []pkg{a1, d1}, md: []repodata.Data{data("primary", "repodata/primary.xml.gz", "p2")},
			mirrors: []planMirror{{
				served: []pkg{a1}, files: []pkg{a1},
				meta: []repodata.Data{data("primary", "repodata/primary.xml.gz", "p1")}, sequenced: true,
			}},
			wantMeta:  []string{"repodata/primary.xml.gz"},
			wantFetch: []string{d1.href},
			want: []mirrorPlanWant{{
				served:  1,
				store:   []string{"Packages/d.rpm new"},
				commit:  []string{"repodata/primary.xml.gz metadata", "repodata/repomd.xml repomd", "repodata/repomd.xml.asc repomd"},
				remove:  []string{KeyPath},
				pending: map[string]time.Time{},
				refused: &UnsafePublishError{Mirror: "m0", Path: "repodata/primary.xml.gz", Metadata: true},
			}},
		},
		{
			name:   "a location listed twice with different content is refused",
			origin: []pkg{a1, {a1.href, "a-other"}}, md: []repodata.Data{prim2},
			mirrors: []planMirror{{unknown: true}},
			wantErr: new(*ConflictError),
		},
		{
			name:   "a package where rpmirror keeps its mirror list is refused",
			origin: []pkg{{MirrorlistPath, "x"}}, md: []repodata.Data{prim2},
			mirrors: []planMirror{{unknown: true}},
			wantErr: new(*ReservedPathError),
		},
		{
			name:   "a package at a metadata file's location is refused",
			origin: []pkg{{prim2.Href, "x"}}, md: []repodata.Data{prim2},
			mirrors: []planMirror{{unknown: true}},
			wantErr: new(*ReservedPathError),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			cache := t.TempDir()
			repomd := []byte("<repomd revision 2/>")
			pl := &planner{
				repo:   &config.Repo{Name: "r", PruneAfter: tc.pruneAfter, MinChecksum: config.DefaultMinChecksum},
				md:     &repodata.Repomd{Revision: "2", Data: tc.md},
				repomd: repomd, asc: []byte("signature"),
				cache: cache, now: now, verifyHeld: checksumOnly,
			}
			var seen []string
			pl.seen = func(p *repodata.Package) error {
				seen = append(seen, p.Href)
				return nil
			}
			var behind []*mirror
			for i, pm := range tc.mirrors {
				behind = append(behind, newPlanMirror(t, i, pm))
			}
			var pkgs []*repodata.Package
			for _, p := range tc.origin {
				pkgs = append(pkgs, p.pkg())
			}
			var gotMeta []string
			for _, d := range metadataToFetch(pl.md, behind) {
				gotMeta = append(gotMeta, d.Href)
			}
			plan, err := pl.plan(ctx, "primary.xml", sliceNext(pkgs), behind)
			if tc.wantErr != nil {
				if !errors.As(err, tc.wantErr) {
					t.Fatalf("planning: %v, want a %T", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(gotMeta, tc.wantMeta) {
				t.Errorf("metadata to fetch %q, want %q", gotMeta, tc.wantMeta)
			}
			var gotFetch []string
			var bytes int64
			for _, p := range plan.Fetch {
				gotFetch = append(gotFetch, p.Href)
				bytes += p.Size
			}
			if !slices.Equal(gotFetch, tc.wantFetch) || plan.FetchBytes != bytes {
				t.Errorf("fetch %q (%d bytes), want %q (%d bytes)", gotFetch, plan.FetchBytes, tc.wantFetch, bytes)
			}
			distinct := map[string]bool{}
			for _, p := range tc.origin {
				distinct[p.href] = true
			}
			if plan.Packages != len(distinct) || len(seen) != len(distinct) {
				t.Errorf("%d packages planned, seen %q; want each of %d once", plan.Packages, seen, len(distinct))
			}
			if plan.Revision != "2" || plan.RepomdSHA256 != sha256Hex(repomd) {
				t.Errorf("plan of revision %q (%s)", plan.Revision, plan.RepomdSHA256)
			}
			for i, w := range tc.want {
				mp := behind[i].plan
				got := mirrorPlanWant{served: mp.Served, present: mp.Present, store: placements(mp.Store), commit: placements(mp.Commit),
					remove: mp.Remove, pending: mp.Pending, prune: mp.Prune}
				if mp.Refused != nil {
					var ue *UnsafePublishError
					if !errors.As(mp.Refused, &ue) {
						t.Errorf("mirror %d: refused with %v, not an UnsafePublishError", i, mp.Refused)
					} else {
						got.refused = ue
					}
				}
				if !reflect.DeepEqual(got, w) {
					t.Errorf("mirror %d: plan\n%+v\nwant\n%+v\n%s", i, got, w, strings.Join(mp.Lines(), "\n"))
				}
				checkFiles(t, cache, mp)
			}
		})
	}
}

// checkFiles checks what a mirror's plan says to write: every package
// and metadata file comes from the cache under its checksum, repomd.xml
// and its signature from their staging names, and each carries the
// sha256 digest it was verified with.
func checkFiles(t *testing.T, cache string, mp *MirrorPlan) {
	t.Helper()
	for _, p := range append(slices.Clone(mp.Store), mp.Commit...) {
		f := p.File(cache)
		if p.Reason == ReasonRepomd {
			if f.Local != filepath.Join(cache, filepath.Base(f.Path)) || len(f.SHA256) != 64 {
				t.Errorf("%s is staged at %s, digest %q", f.Path, f.Local, f.SHA256)
			}
			continue
		}
		if want := filepath.Join(cache, "sha256-"+f.SHA256); f.SHA256 == "" || f.Local != want {
			t.Errorf("%s: from %s with digest %q, want from %s", f.Path, f.Local, f.SHA256, want)
		}
	}
}

func placements(ps []Placement) []string {
	var s []string
	for _, p := range ps {
		s = append(s, p.Path+" "+string(p.Reason))
	}
	return s
}

func sliceNext(pkgs []*repodata.Package) func() (*repodata.Package, error) {
	return func() (*repodata.Package, error) {
		if len(pkgs) == 0 {
			return nil, io.EOF
		}
		p := pkgs[0]
		pkgs = pkgs[1:]
		return p, nil
	}
}

// newPlanMirror makes the i-th mirror of a planning test: a local target
// holding pm.files, serving a revision with pm.meta and pm.served.
func newPlanMirror(t *testing.T, i int, pm planMirror) *mirror {
	t.Helper()
	name := "m" + string(rune('0'+i))
	m := &mirror{cfg: config.Mirror{Name: name}, rep: &MirrorReport{Name: name},
		st: &state.Mirror{Pending: pm.pending, Unpublished: pm.unpub}}
	if len(pm.meta) > 0 {
		m.cur = []byte("<repomd revision 1/>")
		m.curMd = &repodata.Repomd{Revision: "1", Data: pm.meta}
	}
	if !pm.unknown {
		m.index = map[string]string{}
		for _, p := range pm.served {
			m.index[p.href] = p.sum()
		}
		m.indexServed, m.adopted = pm.adopted, pm.adopted
	}
	if pm.adopted {
		m.metaOK = map[string]bool{}
		for _, d := range pm.meta {
			m.metaOK[d.Href] = d.Href != pm.metaBad
		}
	}
	if pm.noTarget {
		return m
	}
	dir := t.TempDir()
	for _, f := range pm.files {
		p := filepath.Join(dir, filepath.FromSlash(f.href))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f.content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tg, err := local.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	m.tg = tg
	if pm.sequenced {
		m.tg = targettest.Sequential(tg)
	}
	return m
}

// TestPlanCurrent: a mirror that serves the revision is only pruned, and
// only from a pending list computed against what it serves.
func TestPlanCurrent(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	cur := []byte("<repomd/>")
	tg, err := local.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pending := map[string]time.Time{"old.rpm": now.Add(-48 * time.Hour), "recent.rpm": now.Add(-time.Hour)}
	for _, tc := range []struct {
		name       string
		pendingFor string
		tg         target.Target
		want       []string
	}{
		{"pending for the served revision", sha256Hex(cur), tg, []string{"old.rpm"}},
		{"pending for another revision", sha256Hex([]byte("other")), tg, nil},
		{"no target (a dry run of a missing directory)", sha256Hex(cur), nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &mirror{cfg: config.Mirror{Name: "m"}, tg: tc.tg, cur: cur, st: &state.Mirror{Pending: pending, PendingFor: tc.pendingFor}}
			mp := planCurrent(m, now, 24*time.Hour)
			if !mp.UpToDate || !slices.Equal(mp.Prune, tc.want) || len(mp.Store)+len(mp.Commit) != 0 {
				t.Errorf("plan %+v, want current, pruning %q", mp, tc.want)
			}
		})
	}
}

// TestPlanLines: the printed plan says what is done to what and why.
func TestPlanLines(t *testing.T) {
	p := &Plan{Revision: "7", Packages: 2, Fetch: []*repodata.Package{{Href: "a.rpm", Size: 3}}, FetchBytes: 3,
		Metadata: []repodata.Data{{Type: "primary", Href: "repodata/p.xml.gz"}},
		Mirrors: []*MirrorPlan{
			{Name: "one", Served: 1,
				Store:    []Placement{{Path: "a.rpm", Reason: ReasonNew}},
				Commit:   []Placement{{Path: RepomdPath, Reason: ReasonRepomd}},
				Remove:   []string{AscPath, KeyPath},
				Unserved: map[string]bool{AscPath: true}, // nothing to tell: no file goes
				Present:  []string{"b.rpm"},
				Pending:  map[string]time.Time{"old.rpm": time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "x.rpm": {}},
				Prune:    []string{"old.rpm", "x.rpm"}},
			{Name: "two", UpToDate: true},
		}}
	want := []string{
		"revision 7: 2 packages listed, 1 to fetch (3 bytes), 1 metadata files to fetch",
		"  fetch    repodata/p.xml.gz (primary metadata)",
		"  fetch    a.rpm (3 bytes)",
		"mirror one: serves 1 of the packages already, stores 1, commits 1 files",
		"  store    a.rpm (new)",
		"  commit   repodata/repomd.xml (repomd)",
		"  remove   repodata/repomd.xml.key (the origin has none)",
		"  keep     b.rpm (present-verified)",
		"  prune    old.rpm (unused since 2026-01-02T03:04:05Z)",
		"  prune    x.rpm (unused from the commit)",
		"mirror two: current",
	}
	if got := p.Lines(); !slices.Equal(got, want) {
		t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// statCounter is a target that counts its Stat calls.
type statCounter struct {
	target.Target
	stats int
}

func (s *statCounter) Stat(ctx context.Context, p string) (target.Info, error) {
	s.stats++
	return s.Target.Stat(ctx, p)
}

// TestPlanListsUnindexedMirror: a mirror whose packages are unknown (none
// served yet, or an unreadable index) is listed once, not looked up a
// package at a time: only a file whose size matches a package of the
// revision is looked at on its own. The plan is the same either way.
func TestPlanListsUnindexedMirror(t *testing.T) {
	ctx := context.Background()
	var origin []pkg
	for i := range 200 {
		origin = append(origin, pkg{fmt.Sprintf("Packages/p%03d.rpm", i), fmt.Sprintf("content %03d", i)})
	}
	present, changed, other := origin[3], pkg{origin[7].href, "other content, longer"}, pkg{"Packages/stray.rpm", "x"}
	for _, tc := range []struct {
		name      string
		pm        planMirror
		wantStats int
		wantStore int
		present   []string
		commit    string
	}{
		{"empty", planMirror{unknown: true}, 0, 200, nil, ""},
		{"holding files, index unknown", planMirror{unknown: true, files: []pkg{present, changed, other}, meta: []repodata.Data{data("primary", "repodata/1-primary.xml.gz", "p1")}},
			1, 198, []string{present.href}, changed.href + " changed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pl := &planner{
				repo:   &config.Repo{Name: "r", MinChecksum: config.DefaultMinChecksum},
				md:     &repodata.Repomd{Revision: "2", Data: []repodata.Data{data("primary", "repodata/2-primary.xml.gz", "p2")}},
				repomd: []byte("<repomd/>"), cache: t.TempDir(), now: time.Now(), verifyHeld: checksumOnly,
			}
			m := newPlanMirror(t, 0, tc.pm)
			sc := &statCounter{Target: m.tg}
			m.tg = sc
			var pkgs []*repodata.Package
			for _, p := range origin {
				pkgs = append(pkgs, p.pkg())
			}
			if _, err := pl.plan(ctx, "primary.xml", sliceNext(pkgs), []*mirror{m}); err != nil {
				t.Fatal(err)
			}
			if sc.stats != tc.wantStats {
				t.Errorf("%d Stat calls planning %d packages, want %d", sc.stats, len(origin), tc.wantStats)
			}
			mp := m.plan
			if len(mp.Store) != tc.wantStore || !slices.Equal(mp.Present, tc.present) {
				t.Errorf("stores %d, keeps %q; want %d, %q", len(mp.Store), mp.Present, tc.wantStore, tc.present)
			}
			if tc.commit != "" && !slices.Contains(placements(mp.Commit), tc.commit) {
				t.Errorf("commit %q, want it to carry %q", placements(mp.Commit), tc.commit)
			}
			if m.files != nil {
				t.Error("the mirror's listing is kept after planning")
			}
		})
	}
}

// TestReadAhead: packages read while the mirrors' indexes load are
// planned first, in order, each once, then reading goes on; an error of
// the reader comes after the packages read before it; at most about
// readAheadMax are held (the reader runs on a goroutine of its own, a
// batch or two beyond it); stop ends the reader early.
func TestReadAhead(t *testing.T) {
	boom := errors.New("truncated")
	for _, tc := range []struct {
		name    string
		total   int
		readyAt int   // the reader's call that closes ready (0: before any)
		failAt  int   // the call that fails (0: none)
		wantErr error // after the packages before failAt
	}{
		{"indexes ready first", 5, 0, 0, io.EOF},
		{"ready after two", 5, 2, 0, io.EOF},
		{"all read before ready", 3, 10, 0, io.EOF},
		{"error before ready", 5, 10, 3, boom},
		{"error after ready", 5, 1, 4, boom},
		{"bounded", readAheadMax + 10, readAheadMax + 5, 0, io.EOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ready := make(chan struct{})
			if tc.readyAt == 0 {
				close(ready)
			}
			calls, maxAhead := 0, 0 // the reader's goroutine's
			var planned atomic.Int64
			next := func() (*repodata.Package, error) {
				calls++
				if ahead := calls - int(planned.Load()); ahead > maxAhead {
					maxAhead = ahead
				}
				if calls == tc.readyAt {
					close(ready)
				}
				// The indexes are ready some time after the reader
				// ended, when it ended first.
				end := func(err error) (*repodata.Package, error) {
					if calls < tc.readyAt {
						tc.readyAt = -1
						go close(ready)
					}
					return nil, err
				}
				if calls == tc.failAt {
					return end(boom)
				}
				if calls > tc.total {
					return end(io.EOF)
				}
				return &repodata.Package{Href: fmt.Sprint(calls)}, nil
			}
			if tc.name == "bounded" {
				// ready is closed by the reader's call readyAt, which
				// never comes if reading ahead stops at readAheadMax:
				// close it once the bound is reached.
				inner := next
				next = func() (*repodata.Package, error) {
					p, err := inner()
					if calls == readAheadMax {
						go close(ready)
					}
					return p, err
				}
				tc.readyAt = -1
			}
			nextAll, stop := readAhead(next, ready)
			var got []string
			var err error
			for {
				var p *repodata.Package
				if p, err = nextAll(); err != nil {
					break
				}
				planned.Add(1)
				got = append(got, p.Href)
			}
			stop() // the reader has ended: its counters can be read
			want := tc.total
			if tc.failAt != 0 {
				want = tc.failAt - 1
			}
			if len(got) != want || !errors.Is(err, tc.wantErr) {
				t.Fatalf("planned %d packages, then %v; want %d, then %v", len(got), err, want, tc.wantErr)
			}
			for i, h := range got {
				if h != fmt.Sprint(i+1) {
					t.Fatalf("package %d is %s: out of order", i+1, h)
				}
			}
			if limit := readAheadMax + 2*readAheadBatch + 1; maxAhead > limit {
				t.Errorf("%d packages read ahead of planning, want at most %d", maxAhead, limit)
			}
		})
	}
}

// TestReadAheadStop: a planner that fails stops the reader, which may be
// anywhere in a long primary, and stop waits for it to end.
func TestReadAheadStop(t *testing.T) {
	ready := make(chan struct{})
	close(ready)
	var calls atomic.Int64
	next := func() (*repodata.Package, error) {
		calls.Add(1)
		return &repodata.Package{Href: "p"}, nil // never ends by itself
	}
	nextAll, stop := readAhead(next, ready)
	if _, err := nextAll(); err != nil {
		t.Fatal(err)
	}
	stop()
	n := calls.Load()
	if again := calls.Load(); again != n {
		t.Errorf("the reader read on after stop returned: %d, then %d packages", n, again)
	}
	stop() // twice is harmless
}
