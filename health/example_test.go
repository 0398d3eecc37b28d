package health_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/rpmirror/rpmirror/health"
	"github.com/rpmirror/rpmirror/repodata"
)

// Probing a mirror: compare its repomd.xml with the origin's, check a
// package sampled from the origin's primary.xml, and track state changes.
func Example() {
	origin := filepath.Join("..", "internal", "demo", "origin", "v1")
	mirror := httptest.NewServer(http.FileServer(http.Dir(origin)))
	defer mirror.Close()

	// What the origin serves now, and a sample of its packages.
	want, err := os.ReadFile(filepath.Join(origin, "repodata", "repomd.xml"))
	if err != nil {
		panic(err)
	}
	md, err := repodata.ParseRepomd(want)
	if err != nil {
		panic(err)
	}
	primary, _ := md.Find("primary")
	f, err := os.Open(filepath.Join(origin, primary.Href))
	if err != nil {
		panic(err)
	}
	defer f.Close()
	rc, err := repodata.Decompress(f, primary.Href)
	if err != nil {
		panic(err)
	}
	defer rc.Close()
	packages, err := health.SamplePackages(rc, 100, nil)
	if err != nil {
		panic(err)
	}

	p := &health.Prober{Client: mirror.Client(), Timeout: 10 * time.Second}
	tracker := health.NewTracker()
	r := p.Probe(context.Background(), mirror.URL+"/", want, packages)
	prev, changed := tracker.Update("local", r)
	fmt.Println(r.State, r.Revision, r.Reason == "")
	fmt.Println(prev, "->", r.State, changed)
	// Output:
	// ok 1795537924 true
	// unknown -> ok true
}
