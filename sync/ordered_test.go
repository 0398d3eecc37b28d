package sync_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/fetch"
	"github.com/rpmirror/rpmirror/internal/testrepo"
	"github.com/rpmirror/rpmirror/sync"
	"github.com/rpmirror/rpmirror/target"
	"github.com/rpmirror/rpmirror/target/local"
	"github.com/rpmirror/rpmirror/target/targettest"
	"github.com/rpmirror/rpmirror/verify"
)

// TestPublishWithoutAtomicCommit: a mirror whose target cannot commit
// several files at once (object storage) gets the classic order, and an
// update that would replace metadata or a package under the same name is
// refused with an UnsafePublishError that names the file, leaving the
// mirror serving its revision; an update with hashed names goes through.
func TestPublishWithoutAtomicCommit(t *testing.T) {
	key := testrepo.TestKey(t)
	for _, tc := range []struct {
		name       string
		opts       testrepo.RepoOpts
		wantUnsafe bool
	}{
		{"hashed metadata names", testrepo.RepoOpts{NoDatabase: true}, false},
		{"simple metadata names", testrepo.RepoOpts{NoDatabase: true, SimpleNames: true}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			v1, v2 := filepath.Join(base, "v1"), filepath.Join(base, "v2")
			buildRepo(t, v1, "", tc.opts, testrepo.DemoPackages(key)...)
			buildRepo(t, v2, v1, tc.opts, testrepo.DemoV2Packages(key)...)
			o := newOrigin(t, filepath.Join(base, "origin"))
			republish(t, o, v1)
			h := newHarness(t, o, key.PublicPath)
			eng := sync.New(sync.Options{Store: h.store, Fetcher: fetch.New(fetch.Options{}), Now: func() time.Time { return h.now },
				OpenTarget: func(_ context.Context, m config.Mirror) (target.Target, error) {
					tg, err := local.New(m.Path)
					if err != nil {
						return nil, err
					}
					return targettest.Sequential(tg), nil
				}})
			if rep := eng.Sync(context.Background(), h.repo); rep.Err != nil {
				t.Fatalf("first sync: %v", rep.Err)
			}
			h.checkMirrors()
			before, err := os.ReadFile(filepath.Join(h.mirrors[0], "repodata", "repomd.xml"))
			if err != nil {
				t.Fatal(err)
			}
			republish(t, o, v2)
			rep := eng.Sync(context.Background(), h.repo)
			var unsafe *sync.UnsafePublishError
			if got := errors.As(rep.Err, &unsafe); got != tc.wantUnsafe {
				t.Fatalf("update: err = %v, want an UnsafePublishError: %v", rep.Err, tc.wantUnsafe)
			}
			if !tc.wantUnsafe {
				h.checkMirrors()
			}
			for _, m := range h.mirrors {
				tg, err := local.New(m)
				if err != nil {
					t.Fatal(err)
				}
				keyring, _ := verify.LoadKeyring(key.PublicPath)
				problems, _, err := sync.CheckMirror(context.Background(), tg, keyring)
				if err != nil || len(problems) > 0 {
					t.Errorf("mirror %s after the update: %v %v", m, err, problems)
				}
			}
			after, _ := os.ReadFile(filepath.Join(h.mirrors[0], "repodata", "repomd.xml"))
			if tc.wantUnsafe {
				if !unsafe.Metadata || unsafe.Path == "" {
					t.Errorf("UnsafePublishError %+v: want the metadata file named", unsafe)
				}
				if string(after) != string(before) {
					t.Error("a refused update changed the mirror's repomd.xml")
				}
			} else if string(after) == string(before) {
				t.Error("the update was not published")
			}
		})
	}
}
