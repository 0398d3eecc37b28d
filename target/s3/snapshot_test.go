package s3_test

import (
	"bytes"
	"context"
	"io"
	"reflect"
	"slices"
	"testing"

	"github.com/rpmirror/rpmirror/internal/s3test"
	"github.com/rpmirror/rpmirror/target"
	"github.com/rpmirror/rpmirror/target/s3"
)

// TestSnapshotIsServerSideCopy: a snapshot in object storage is one
// CopyObject request per file, seen on the wire: nothing is uploaded and
// no object is read back. The copies keep what the originals were stored
// with (Cache-Control, Content-Type, the SHA-256 Stat reports). Restoring
// files that already hold the snapshot's content copies nothing.
func TestSnapshotIsServerSideCopy(t *testing.T) {
	srv := s3test.Start(t, "bkt")
	count := srv.Count(t)
	tg := newTarget(t, &s3test.Server{Endpoint: count.Endpoint, Dir: srv.Dir}, "bkt", "repo/", nil)
	ctx := context.Background()
	files := map[string]string{
		"Packages/a/a-1-1.noarch.rpm": "package a",
		"Packages/b/b-1-1.noarch.rpm": "package b",
		"repodata/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef-primary.xml.zst": "primary",
		"repodata/repomd.xml": "repomd",
	}
	paths := []string{"Packages/a/a-1-1.noarch.rpm", "Packages/b/b-1-1.noarch.rpm", "repodata/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef-primary.xml.zst", "repodata/repomd.xml"}
	for _, p := range paths {
		b := []byte(files[p])
		if err := tg.Put(ctx, target.File{Path: p, Local: writeFile(t, b), Size: int64(len(b)), SHA256: sha(b)}); err != nil {
			t.Fatal(err)
		}
	}
	count.Puts()
	count.Gets()
	count.Requests()
	if err := tg.Snapshot(ctx, "snapshots/one", paths); err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	var want []string
	for _, p := range paths {
		want = append(want, "bkt/repo/snapshots/one/"+p)
	}
	got := count.Copies()
	if len(got) == 0 || got[len(got)-1] != want[len(want)-1] {
		t.Errorf("copies asked for: %v, want the last file last", got)
	}
	slices.Sort(got)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("copies asked for: %v, want one for each file: %v", got, want)
	}
	if got := count.Puts(); len(got) != 0 {
		t.Errorf("the snapshot uploaded %v", got)
	}
	for _, k := range count.Gets() {
		if k != "bkt/" { // the listing of snapshots/one/
			t.Errorf("the snapshot read %s back", k)
		}
	}
	reqs := count.Requests()
	t.Logf("requests of a snapshot of %d files: %v", len(paths), reqs)
	if reqs["PUT"] != len(paths) {
		t.Errorf("%d PUT requests for %d files", reqs["PUT"], len(paths))
	}
	for _, p := range paths {
		orig, cp := head(t, srv, "bkt", "repo/"+p), head(t, srv, "bkt", "repo/snapshots/one/"+p)
		for _, h := range []string{"Cache-Control", "Content-Type"} {
			if orig.Get(h) != cp.Get(h) || cp.Get(h) == "" {
				t.Errorf("%s: copy's %s = %q, original's %q", p, h, cp.Get(h), orig.Get(h))
			}
		}
		info, err := tg.Stat(ctx, "snapshots/one/"+p)
		if err != nil || info.SHA256 != sha([]byte(files[p])) {
			t.Errorf("Stat of the copy of %s: %+v, %v; want its SHA-256", p, info, err)
		}
	}
	if err := tg.Restore(ctx, "snapshots/one", paths, nil); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if got := count.Copies(); len(got) != 0 {
		t.Errorf("restoring files that hold the snapshot's content copied %v", got)
	}
	if tg.Properties().SnapshotsShareFiles {
		t.Error("object storage says its snapshots share files")
	}
	var _ target.Snapshotter = (*s3.S3)(nil)
}

// TestSnapshotCopiesLargeObjectsInParts: an object the store will not
// copy in one request (S3 refuses a copy source over 5 GiB with
// InvalidRequest; here the counting proxy refuses anything over 6 MiB,
// and parts are at most 6 MiB) is copied in parts on the server (UploadPartCopy),
// byte for byte, keeping Cache-Control, Content-Type and the recorded
// SHA-256; a small object's refusal is not hidden by a second try.
func TestSnapshotCopiesLargeObjectsInParts(t *testing.T) {
	defer func(n int64) { s3.CopyPartSize = n }(s3.CopyPartSize)
	s3.CopyPartSize = 6 << 20
	srv := s3test.Start(t, "bkt")
	count := srv.Count(t)
	tg := newTarget(t, &s3test.Server{Endpoint: count.Endpoint, Dir: srv.Dir}, "bkt", "repo/", nil)
	ctx := context.Background()
	big := make([]byte, 11<<20+3)
	for i := range big {
		big[i] = byte(i*7 + i>>12)
	}
	paths := []string{"Packages/b/big-1-1.x86_64.rpm", "repodata/repomd.xml"}
	contents := [][]byte{big, []byte("repomd")}
	for i, p := range paths {
		if err := tg.Put(ctx, target.File{Path: p, Local: writeFile(t, contents[i]), Size: int64(len(contents[i])), SHA256: sha(contents[i])}); err != nil {
			t.Fatal(err)
		}
	}
	count.CopyLimit(6 << 20)
	count.Puts()
	if err := tg.Snapshot(ctx, "snapshots/one", paths); err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	if got := count.Puts(); len(got) != 0 {
		t.Errorf("the snapshot uploaded %v", got)
	}
	for i, p := range paths {
		rc, err := tg.Open(ctx, "snapshots/one/"+p)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(b, contents[i]) {
			t.Errorf("copy of %s: %d bytes, %v; want the %d bytes stored", p, len(b), err, len(contents[i]))
		}
		orig, cp := head(t, srv, "bkt", "repo/"+p), head(t, srv, "bkt", "repo/snapshots/one/"+p)
		for _, h := range []string{"Cache-Control", "Content-Type"} {
			if orig.Get(h) != cp.Get(h) || cp.Get(h) == "" {
				t.Errorf("%s: copy's %s = %q, original's %q", p, h, cp.Get(h), orig.Get(h))
			}
		}
		if info, err := tg.Stat(ctx, "snapshots/one/"+p); err != nil || info.SHA256 != sha(contents[i]) {
			t.Errorf("Stat of the copy of %s: %+v, %v; want its SHA-256", p, info, err)
		}
	}
	// A refusal that is not about size (the limit below the small
	// object, which fits one part) is the error.
	count.CopyLimit(1)
	if err := tg.Snapshot(ctx, "snapshots/two", paths[1:]); err == nil {
		t.Error("Snapshot succeeded although the store refused the copy of a small object")
	}
}
