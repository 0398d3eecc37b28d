package sync_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/fetch"
	"github.com/rpmirror/rpmirror/state"
	"github.com/rpmirror/rpmirror/sync"
	"github.com/rpmirror/rpmirror/target"
	"github.com/rpmirror/rpmirror/target/local"
)

// signalOpen is a mirror that says when its primary metadata is opened.
type signalOpen struct {
	target.Target
	once   *gosync.Once
	opened chan struct{}
}

func (s signalOpen) Open(ctx context.Context, p string) (io.ReadCloser, error) {
	if strings.HasSuffix(p, "-primary.xml.gz") {
		s.once.Do(func() { close(s.opened) })
	}
	return s.Target.Open(ctx, p)
}

// TestMirrorPrimaryReadWhileOriginFetched: the primary metadata a behind
// mirror serves (rpmirror has no index of it: someone else published it)
// is read while the origin's metadata is still being downloaded, not
// after. The origin holds back its primary until the mirror's has been
// opened; a plan that read the mirror only after the download would
// wait for the origin's guard to give up and fail.
func TestMirrorPrimaryReadWhileOriginFetched(t *testing.T) {
	v1 := filepath.Join("..", "internal", "demo", "origin", "v1")
	v2 := filepath.Join("..", "internal", "demo", "origin", "v2")
	base := t.TempDir()
	mirror := filepath.Join(base, "mirror")
	if err := os.CopyFS(mirror, os.DirFS(v1)); err != nil {
		t.Fatal(err)
	}
	opened := make(chan struct{})
	fsrv := http.FileServer(http.Dir(v2))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "-primary.xml.gz") {
			select {
			case <-opened:
			case <-time.After(time.Minute): // a guard, not a measure
				http.Error(w, "the mirror's primary was not read meanwhile", http.StatusForbidden)
				return
			}
		}
		fsrv.ServeHTTP(w, r)
	}))
	defer srv.Close()
	store, err := state.Open(filepath.Join(base, "state"))
	if err != nil {
		t.Fatal(err)
	}
	repo := &config.Repo{Name: "test", Origin: srv.URL + "/", MinChecksum: config.DefaultMinChecksum,
		Mirrors: []config.Mirror{{Name: "m", Path: mirror}}}
	var once gosync.Once
	for _, dry := range []bool{true, false} {
		eng := sync.New(sync.Options{
			Store:   store,
			Fetcher: fetch.New(fetch.Options{Retries: 1, Backoff: time.Millisecond}),
			DryRun:  dry,
			OpenTarget: func(_ context.Context, m config.Mirror) (target.Target, error) {
				tg, err := local.New(m.Path)
				return signalOpen{tg, &once, opened}, err
			},
		})
		rep := eng.Sync(context.Background(), repo)
		if rep.Err != nil {
			t.Fatalf("dry run %v: %v", dry, rep.Err)
		}
		if dry && (len(rep.WouldFetch) == 0 || len(rep.WouldFetch) > 3) {
			t.Errorf("dry run: would fetch %q: not the packages that changed from v1 to v2", rep.WouldFetch)
		}
	}
}

// TestPlanStartsWhileDownloading: planning reads the origin's primary
// metadata as it downloads, not once it is complete. The origin holds
// back the end of its primary until the engine says it is planning; a
// plan that waited for the whole file would wait for the origin's guard
// to give up and fail.
func TestPlanStartsWhileDownloading(t *testing.T) {
	v2 := filepath.Join("..", "internal", "demo", "origin", "v2")
	prog := &sync.Progress{}
	planning := func() bool {
		p := prog.Phase.Load()
		return p != nil && *p == "planning"
	}
	fsrv := http.FileServer(http.Dir(v2))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "-primary.xml.gz") {
			fsrv.ServeHTTP(w, r)
			return
		}
		b, err := os.ReadFile(filepath.Join(v2, filepath.FromSlash(r.URL.Path)))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(b)))
		half := len(b) / 2
		w.Write(b[:half])
		w.(http.Flusher).Flush()
		for deadline := time.Now().Add(time.Minute); !planning(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) { // a guard, not a measure
				return // the client sees a short body
			}
		}
		w.Write(b[half:])
	}))
	defer srv.Close()
	base := t.TempDir()
	store, err := state.Open(filepath.Join(base, "state"))
	if err != nil {
		t.Fatal(err)
	}
	repo := &config.Repo{Name: "test", Origin: srv.URL + "/", MinChecksum: config.DefaultMinChecksum,
		Mirrors: []config.Mirror{{Name: "m", Path: filepath.Join(base, "mirror")}}}
	eng := sync.New(sync.Options{Store: store, Fetcher: fetch.New(fetch.Options{}), DryRun: true, Progress: prog})
	rep := eng.Sync(context.Background(), repo)
	if rep.Err != nil {
		t.Fatal(rep.Err)
	}
	if len(rep.WouldFetch) == 0 {
		t.Error("the plan fetches nothing for an empty mirror")
	}
}

// TestPlanWhenDownloadRestarts: the plan made while the origin's primary
// downloads is the plan made from the whole file when the download is
// cut and resumed, or served wrong and fetched again from the start: what
// planning read as it arrived is checked against the primary's checksum,
// and the plan is made again from the verified file when it is not it.
func TestPlanWhenDownloadRestarts(t *testing.T) {
	v1 := filepath.Join("..", "internal", "demo", "origin", "v1")
	v2 := filepath.Join("..", "internal", "demo", "origin", "v2")
	for _, tc := range []struct {
		name  string
		first func(w http.ResponseWriter, b []byte) // the first answer for the primary
	}{
		{"as it should", nil},
		{"cut half-way", func(w http.ResponseWriter, b []byte) {
			w.Header().Set("Content-Length", fmt.Sprint(len(b)))
			w.Write(b[:len(b)/2])
			w.(http.Flusher).Flush()
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}},
		{"cut, then another length", func(w http.ResponseWriter, b []byte) {
			w.Header().Set("Content-Length", fmt.Sprint(len(b)+7))
			w.Write(b[:len(b)/3])
			w.(http.Flusher).Flush()
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu gosync.Mutex
			served := 0
			fsrv := http.FileServer(http.Dir(v2))
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				first := strings.HasSuffix(r.URL.Path, "-primary.xml.gz") && served == 0
				if strings.HasSuffix(r.URL.Path, "-primary.xml.gz") {
					served++
				}
				mu.Unlock()
				if first && tc.first != nil {
					b, err := os.ReadFile(filepath.Join(v2, filepath.FromSlash(r.URL.Path)))
					if err != nil {
						t.Error(err)
						return
					}
					tc.first(w, b)
					return
				}
				fsrv.ServeHTTP(w, r)
			}))
			defer srv.Close()
			rep := dryRun(t, srv.URL, v1, fetch.Options{Retries: 3, Backoff: time.Millisecond})
			// The plan from the file, as the engine made it before it read
			// the primary as it downloaded.
			want := planFromFile(t, v1, v2)
			if got := strings.Join(rep.Plan.Lines(), "\n"); got != want {
				t.Errorf("plan:\n%s\nwant:\n%s", got, want)
			}
			if tc.first != nil && served < 2 {
				t.Errorf("the primary was requested %d times: the test did not cut a download", served)
			}
		})
	}
}

// planFromFile returns the lines of the dry run's plan from a mirror
// serving v1 to the origin v2 whose repomd.xml declares no size for the
// primary: it is then planned from the downloaded file, not as it
// arrives.
func planFromFile(t *testing.T, v1, v2 string) string {
	t.Helper()
	md, err := os.ReadFile(filepath.Join(v2, "repodata", "repomd.xml"))
	if err != nil {
		t.Fatal(err)
	}
	noSize := regexp.MustCompile(`(?s)(<data type="primary">.*?)<size>\d+</size>`).ReplaceAll(md, []byte("${1}"))
	if bytes.Equal(noSize, md) {
		t.Fatal("no primary size in repomd.xml to remove")
	}
	fsrv := http.FileServer(http.Dir(v2))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/repodata/repomd.xml" {
			w.Write(noSize)
			return
		}
		fsrv.ServeHTTP(w, r)
	}))
	defer srv.Close()
	rep := dryRun(t, srv.URL, v1, fetch.Options{})
	return strings.Join(rep.Plan.Lines(), "\n")
}

// dryRun makes the plan of a dry-run sync from the origin at url to a
// mirror holding a copy of v1, and fails the test if the sync fails.
func dryRun(t *testing.T, url, v1 string, fo fetch.Options) *sync.Report {
	t.Helper()
	base := t.TempDir()
	mirror := filepath.Join(base, "mirror")
	if err := os.CopyFS(mirror, os.DirFS(v1)); err != nil {
		t.Fatal(err)
	}
	store, err := state.Open(filepath.Join(base, "state"))
	if err != nil {
		t.Fatal(err)
	}
	repo := &config.Repo{Name: "test", Origin: url + "/", MinChecksum: config.DefaultMinChecksum,
		Mirrors: []config.Mirror{{Name: "m", Path: mirror}}}
	rep := sync.New(sync.Options{Store: store, DryRun: true, Fetcher: fetch.New(fo),
		Now: func() time.Time { return time.Time{} }}).Sync(context.Background(), repo)
	if rep.Err != nil {
		t.Fatal(rep.Err)
	}
	return rep
}
