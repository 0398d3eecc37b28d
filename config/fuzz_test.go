package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, that it returns either a
// configuration or problems, and that what it returns holds up.
func FuzzParse(f *testing.F) {
	seeds, err := filepath.Glob("testdata/*.yaml")
	if err != nil {
		f.Fatal(err)
	}
	seeds = append(seeds, "../mirrors.yaml")
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("state_dir: /s\nrepos:\n  - name: e-${v}-${a}\n    mirrorlist_name: e-${v}\n    arch: ${a}\n    vars: {v: [8, 9], a: [x86_64, aarch64]}\n    origin: https://o/${v}/${a}/\n    mirrors:\n      - name: m\n        path: /m/${v}/${a}\n        networks: [10.0.0.0/8]\n        private: true\n        country: DE\n        weight: 5\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseWith(data, "/etc/rpmirror/fuzz.yaml", LoadOptions{SkipFilesystem: true})
		if err != nil {
			if c != nil {
				t.Fatal("a config returned along with an error")
			}
			var errs *Errors
			if !errors.As(err, &errs) || len(*errs) == 0 {
				t.Fatalf("error is not a non-empty *Errors: %#v", err)
			}
			for _, e := range *errs {
				if e.Msg == "" || strings.ContainsAny(e.Msg, "\n\r") || e.Line < 0 || e.File != "/etc/rpmirror/fuzz.yaml" {
					t.Fatalf("bad problem: %#v", e)
				}
			}
			return
		}
		// An empty repos list is valid; a missing repos key is not.
		if c.StateDir == "" || !filepath.IsAbs(c.StateDir) || (len(c.Repos) == 0 && !bytes.Contains(data, []byte("repos"))) {
			t.Fatalf("accepted a config without state_dir or repos: %+v", c)
		}
		d := c.Download
		if d.Concurrency < MinConcurrency || d.Concurrency > MaxConcurrency || d.Retries < MinRetries || d.Retries > MaxRetries ||
			d.ConnectTimeout <= 0 || d.StallTimeout <= 0 {
			t.Fatalf("accepted download settings out of range: %+v", d)
		}
		names := map[string]bool{}
		lists := map[[2]string]bool{}
		for _, r := range c.Repos {
			if lists[[2]string{r.MirrorlistName, r.Arch}] || nameProblem(r.MirrorlistName) != "" {
				t.Fatalf("accepted mirrorlist_name %q arch %q twice or malformed", r.MirrorlistName, r.Arch)
			}
			lists[[2]string{r.MirrorlistName, r.Arch}] = true
			if strings.Contains(r.Name+r.Origin+r.MirrorlistName+r.Arch, "${") {
				t.Fatalf("a ${variable} left in repo %+v", r)
			}
			if nameProblem(r.Name) != "" || names[r.Name] {
				t.Fatalf("accepted repo name %q", r.Name)
			}
			names[r.Name] = true
			// The upstreams: origin (one URL or a list, each ending in
			// "/", the first being Origin), or a metalink or a
			// mirrorlist they are taken from; exactly one of the three.
			lists := 0
			for _, u := range []string{r.OriginMetalink, r.OriginMirrorlist} {
				if u != "" {
					lists++
					if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "file:") {
						t.Fatalf("accepted upstream list %q of repo %s", u, r.Name)
					}
				}
			}
			switch {
			case lists > 1 || (lists == 1 && (r.Origin != "" || len(r.Origins) != 0)):
				t.Fatalf("accepted repo %s with more than one of origin, origin_metalink and origin_mirrorlist: %+v", r.Name, r)
			case lists == 0 && (!strings.HasSuffix(r.Origin, "/") || len(r.Origins) == 0 || r.Origins[0] != r.Origin):
				t.Fatalf("accepted repo %s with origin %q (origins %q)", r.Name, r.Origin, r.Origins)
			}
			for _, o := range r.Origins {
				if !strings.HasSuffix(o, "/") {
					t.Fatalf("accepted origin %q of repo %s", o, r.Name)
				}
			}
			if ValidateCron(r.Schedule) != nil || r.PruneAfter < 0 || len(r.Mirrors) == 0 {
				t.Fatalf("accepted repo %+v", r)
			}
			for _, k := range r.GPGKeys {
				if !filepath.IsAbs(k) {
					t.Fatalf("relative key path %q", k)
				}
			}
			for _, m := range r.Mirrors {
				if m.S3 != nil && (m.Path != "" || endpointProblem(m.S3.Endpoint) != "" || bucketProblem(m.S3.Bucket) != "" || prefixProblem(m.S3.Prefix) != "" || m.S3.LeaseTTL < MinLeaseTTL) {
					t.Fatalf("accepted s3 mirror %+v: %+v", m, *m.S3)
				}
				if nameProblem(m.Name) != "" || (m.Path == "" && m.S3 == nil && m.URL == "") ||
					(m.URL != "" && !strings.HasSuffix(m.URL, "/")) || (m.Path != "" && (!filepath.IsAbs(m.Path) || m.Path == "/")) {
					t.Fatalf("accepted mirror %+v", m)
				}
				if strings.Contains(m.Path+m.URL, "${") || (m.Private && len(m.Networks) == 0) || m.Weight < MinWeight || m.Weight > MaxWeight {
					t.Fatalf("accepted mirror %+v", m)
				}
			}
		}
	})
}
