package sync_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/fetch"
	"github.com/rpmirror/rpmirror/state"
	"github.com/rpmirror/rpmirror/sync"
	"github.com/rpmirror/rpmirror/target"
	"github.com/rpmirror/rpmirror/target/local"
	"github.com/rpmirror/rpmirror/verify"
)

var (
	demoV1 = filepath.Join("..", "internal", "demo", "origin", "v1")
	demoV2 = filepath.Join("..", "internal", "demo", "origin", "v2")
	// unknownKey signed nothing (demoKey signed the demo's packages).
	unknownKey = filepath.Join("..", "testdata", "keys", "unknown.pub")
)

// adoption is a mirror rpmirror did not publish: a copy of a revision of
// the demo's origin, as rsync leaves one, with no index in state_dir,
// synced from an origin serving v2.
type adoption struct {
	mirror string
	store  *state.Store
	gets   *[]string // what the origin was asked for
	repo   *config.Repo
}

func adopt(t *testing.T, from string, gpgkeys ...string) *adoption {
	t.Helper()
	base := t.TempDir()
	a := &adoption{mirror: filepath.Join(base, "mirror"), gets: new([]string)}
	if err := os.CopyFS(a.mirror, os.DirFS(from)); err != nil {
		t.Fatal(err)
	}
	fsrv := http.FileServer(http.Dir(demoV2))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*a.gets = append(*a.gets, r.URL.Path[1:])
		fsrv.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	var err error
	if a.store, err = state.Open(filepath.Join(base, "state")); err != nil {
		t.Fatal(err)
	}
	a.repo = &config.Repo{Name: "test", Origin: srv.URL + "/", MinChecksum: config.DefaultMinChecksum, GPGKeys: gpgkeys,
		Mirrors: []config.Mirror{{Name: "m", Path: a.mirror}}}
	return a
}

func (a *adoption) sync(dry bool) *sync.Report {
	*a.gets = nil
	eng := sync.New(sync.Options{
		Store:      a.store,
		Fetcher:    fetch.New(fetch.Options{Retries: 1, Backoff: time.Millisecond}),
		DryRun:     dry,
		OpenTarget: func(_ context.Context, m config.Mirror) (target.Target, error) { return local.New(m.Path) },
	})
	return eng.Sync(context.Background(), a.repo)
}

// unchanged lists the packages v1 and v2 both carry, byte for byte.
func unchanged(t *testing.T) []string {
	t.Helper()
	var same []string
	err := filepath.WalkDir(demoV1, func(p string, d fs.DirEntry, err error) error {
		if err != nil || filepath.Ext(p) != ".rpm" {
			return err
		}
		rel, _ := filepath.Rel(demoV1, p)
		a, _ := os.ReadFile(p)
		if b, err := os.ReadFile(filepath.Join(demoV2, rel)); err == nil && bytes.Equal(a, b) {
			same = append(same, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil || len(same) < 2 {
		t.Fatalf("want two packages unchanged from v1 to v2, have %q (%v)", same, err)
	}
	return same
}

// intactPackages counts the packages of v2 that mirror holds at their
// paths byte for byte: those a sync keeps after reading them back.
func intactPackages(t *testing.T, mirror string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(demoV2, func(p string, d fs.DirEntry, err error) error {
		if err != nil || filepath.Ext(p) != ".rpm" {
			return err
		}
		rel, _ := filepath.Rel(demoV2, p)
		want, _ := os.ReadFile(p)
		if got, err := os.ReadFile(filepath.Join(mirror, rel)); err == nil && bytes.Equal(got, want) {
			n++
		}
		return nil
	})
	if err != nil || n == 0 {
		t.Fatalf("no package of v2 in the copy (%v)", err)
	}
	return n
}

func flipByte(t *testing.T, p string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-10] ^= 0xff // same size: only its checksum tells
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// metadataFile is the path of v2's repodata file of the given kind.
func metadataFile(t *testing.T, kind string) string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(demoV2, "repodata", "*-"+kind+".xml.gz"))
	if err != nil || len(names) != 1 {
		t.Fatalf("v2's %s metadata: %q (%v)", kind, names, err)
	}
	return "repodata/" + filepath.Base(names[0])
}

// TestAdoptedMirrorFilesChecked: what an adopted mirror's own primary
// metadata says it serves is a claim: the first sync checks each file it
// keeps. It is behind (a copy of v1) or already serves the origin's
// revision (a copy of v2: before, taken as published by rpmirror and its
// revision recorded as verified unread). A package or metadata file the
// copy lost or that rotted on its disk is fetched again and replaced,
// and an intact one is kept without a download.
func TestAdoptedMirrorFilesChecked(t *testing.T) {
	same := unchanged(t)
	victim := same[0]
	tests := []struct {
		name    string
		from    string
		damage  string // the file damaged
		how     func(t *testing.T, path string)
		fetched bool
	}{
		{"behind, intact", demoV1, victim, func(*testing.T, string) {}, false},
		{"behind, a byte flipped", demoV1, victim, flipByte, true},
		{"behind, missing", demoV1, victim, func(t *testing.T, p string) { os.Remove(p) }, true},
		{"current, intact", demoV2, victim, func(*testing.T, string) {}, false},
		{"current, a byte flipped", demoV2, victim, flipByte, true},
		{"current, missing", demoV2, victim, func(t *testing.T, p string) { os.Remove(p) }, true},
		{"current, metadata with a byte flipped", demoV2, metadataFile(t, "filelists"), flipByte, true},
	}
	for _, dry := range []bool{true, false} {
		for _, tt := range tests {
			name := tt.name
			if dry {
				name += ", dry run"
			}
			t.Run(name, func(t *testing.T) {
				a := adopt(t, tt.from)
				tt.how(t, filepath.Join(a.mirror, filepath.FromSlash(tt.damage)))
				intact := intactPackages(t, a.mirror)
				rep := a.sync(dry)
				if rep.Err != nil {
					t.Fatal(rep.Err)
				}
				if got := rep.Mirrors[0].Checked; got != intact {
					t.Errorf("the report counts %d kept packages checked in place, want %d (the copy's intact packages of v2)", got, intact)
				}
				if rep.NoChange {
					t.Error("the sync reports no change: the adopted mirror was taken as published by rpmirror")
				}
				isPackage := strings.HasSuffix(tt.damage, ".rpm")
				if got := slices.Contains(rep.WouldFetch, tt.damage); isPackage && got != tt.fetched {
					t.Errorf("%s in the plan's fetches: %v, want %v (%q)", tt.damage, got, tt.fetched, rep.WouldFetch)
				}
				if slices.Contains(rep.WouldFetch, same[1]) {
					t.Errorf("the intact %s is fetched again", same[1])
				}
				if dry {
					if rep.RevisionVerified {
						t.Error("a dry run recorded the revision as verified")
					}
					return
				}
				if got := slices.Contains(*a.gets, tt.damage); got != tt.fetched {
					t.Errorf("%s downloaded: %v, want %v", tt.damage, got, tt.fetched)
				}
				got, err := os.ReadFile(filepath.Join(a.mirror, filepath.FromSlash(tt.damage)))
				want, _ := os.ReadFile(filepath.Join(demoV2, filepath.FromSlash(tt.damage)))
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("after the sync, %s on the mirror is not the origin's (%v)", tt.damage, err)
				}
				if !rep.RevisionVerified {
					t.Error("the revision is not recorded as verified after the mirror was checked")
				}
				// Published now: the next sync trusts its own index.
				again := a.sync(false)
				read := slices.DeleteFunc(*a.gets, func(p string) bool { return strings.HasPrefix(p, "repodata/repomd.xml") })
				if again.Err != nil || !again.NoChange || len(read) > 0 {
					t.Errorf("the second sync: err %v, no change %v, fetched %q; want nothing but repomd.xml and its signature", again.Err, again.NoChange, read)
				}
				if again.Err == nil && again.Mirrors[0].Checked != 0 {
					t.Errorf("the second sync read %d packages back; want none (its index is kept)", again.Mirrors[0].Checked)
				}
			})
		}
	}
}

// TestAdoptedMirrorSignaturesChecked: with gpgkeys, a package an adopted
// mirror keeps is checked as a download is, its signature included: a
// copy whose packages match the origin's checksums but are not signed by
// a configured key is not taken as verified, and nothing is published.
func TestAdoptedMirrorSignaturesChecked(t *testing.T) {
	for _, tt := range []struct {
		name, from string
		key        func(testing.TB) string
		wantErr    bool
	}{
		{"behind, the signing key", demoV1, demoKey, false},
		{"behind, another key", demoV1, func(testing.TB) string { return unknownKey }, true},
		{"current, the signing key", demoV2, demoKey, false},
		{"current, another key", demoV2, func(testing.TB) string { return unknownKey }, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := adopt(t, tt.from, tt.key(t))
			dry := a.sync(true)
			if dry.Err != nil {
				t.Fatal(dry.Err)
			}
			kept := unchanged(t)[1]
			if got := slices.Contains(dry.WouldFetch, kept); got != tt.wantErr {
				t.Errorf("the dry run's plan fetches the intact %s: %v, want %v", kept, got, tt.wantErr)
			}
			before, err := os.ReadFile(filepath.Join(a.mirror, "repodata", "repomd.xml"))
			if err != nil {
				t.Fatal(err)
			}
			rep := a.sync(false)
			var sigErr *verify.SignatureError
			if got := errors.As(rep.Err, &sigErr); got != tt.wantErr {
				t.Fatalf("sync error %v; want a signature error: %v", rep.Err, tt.wantErr)
			}
			after, _ := os.ReadFile(filepath.Join(a.mirror, "repodata", "repomd.xml"))
			if tt.wantErr && (!bytes.Equal(before, after) || rep.RevisionVerified) {
				t.Errorf("the mirror's repomd.xml changed (%v) or the revision was recorded as verified (%v)", !bytes.Equal(before, after), rep.RevisionVerified)
			}
		})
	}
}

// TestAdoptedMirrorNotSeeded: with no verified revision yet, the
// revision an adopted mirror serves is not taken as verified.
func TestAdoptedMirrorNotSeeded(t *testing.T) {
	a := adopt(t, demoV1)
	v1, err := os.ReadFile(filepath.Join(demoV1, "repodata", "repomd.xml"))
	if err != nil {
		t.Fatal(err)
	}
	// The origin fails after the mirrors are read: a sync that seeded
	// from the mirror would have recorded its revision by then.
	a.repo.Origin = "http://127.0.0.1:1/"
	if rep := a.sync(false); rep.Err == nil {
		t.Fatal("a sync from an unreachable origin succeeded")
	}
	v, err := a.store.LoadVerified("test")
	if err != nil {
		t.Fatal(err)
	}
	if v.Find(sha256Hex(v1)) >= 0 {
		t.Errorf("the adopted mirror's revision was recorded as verified: %+v", v.Revisions)
	}
}
