package sync_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	gosync "sync"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/fetch"
	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/sync"
	"github.com/rpmirror/rpmirror/target"
	"github.com/rpmirror/rpmirror/target/local"
)

// digestCheck is a target that records, for every file stored through
// Put or Commit, the SHA256 it was handed and the digest of its content.
type digestCheck struct {
	target.Target
	mu    gosync.Mutex
	files map[string][2]string // path -> {File.SHA256, digest of Local}
}

func (d *digestCheck) record(fs ...target.File) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, f := range fs {
		b, err := os.ReadFile(f.Local)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		d.files[f.Path] = [2]string{f.SHA256, hex.EncodeToString(sum[:])}
	}
	return nil
}

func (d *digestCheck) Put(ctx context.Context, f target.File) error {
	if err := d.record(f); err != nil {
		return err
	}
	return d.Target.Put(ctx, f)
}

func (d *digestCheck) Commit(ctx context.Context, files []target.File, remove []string) error {
	if err := d.record(files...); err != nil {
		return err
	}
	return d.Target.Commit(ctx, files, remove)
}

// TestFilesCarryTheirSHA256: every file the engine stores (packages,
// metadata, repomd.xml and its signature and key) comes with the SHA-256
// digest of its content (target.File.SHA256), as verified from the
// origin's metadata, so that an object store can refuse an upload that
// arrives different.
func TestFilesCarryTheirSHA256(t *testing.T) {
	key := testrepo.TestKey(t)
	base := t.TempDir()
	v1 := filepath.Join(base, "v1")
	pkgs := testrepo.DemoPackages(key)
	buildRepo(t, v1, "", testrepo.RepoOpts{SignRepomd: key}, pkgs...)
	o := newOrigin(t, filepath.Join(base, "origin"))
	republish(t, o, v1)
	h := newHarness(t, o, key.PublicPath)
	var targets []*digestCheck
	eng := sync.New(sync.Options{Store: h.store, Fetcher: fetch.New(fetch.Options{}), Now: func() time.Time { return h.now },
		OpenTarget: func(_ context.Context, m config.Mirror) (target.Target, error) {
			tg, err := local.New(m.Path)
			if err != nil {
				return nil, err
			}
			d := &digestCheck{Target: tg, files: map[string][2]string{}}
			targets = append(targets, d)
			return d, nil
		}})
	if rep := eng.Sync(context.Background(), h.repo); rep.Err != nil {
		t.Fatal(rep.Err)
	}
	if len(targets) != len(h.mirrors) {
		t.Fatalf("%d targets opened, want %d", len(targets), len(h.mirrors))
	}
	for i, d := range targets {
		// The packages, primary, filelists, other, repomd.xml, .asc, .key.
		if want := len(pkgs) + 6; len(d.files) < want {
			t.Errorf("mirror %d: %d files stored, want at least %d: %v", i, len(d.files), want, d.files)
		}
		for _, p := range []string{sync.RepomdPath, sync.AscPath, sync.KeyPath} {
			if _, ok := d.files[p]; !ok {
				t.Errorf("mirror %d: %s not stored", i, p)
			}
		}
		for p, sums := range d.files {
			if sums[0] != sums[1] {
				t.Errorf("mirror %d: %s stored with SHA256 %q, its content has %s", i, p, sums[0], sums[1])
			}
		}
	}
}
