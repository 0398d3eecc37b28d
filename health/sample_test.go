package health

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestSamplePackages(t *testing.T) {
	for _, rev := range []string{"v1", "v2"} {
		primary := demoPrimary(t, rev)
		all, err := SamplePackages(bytes.NewReader(primary), 1000, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 6 {
			t.Fatalf("%s: %d packages, want the demo's 6: %v", rev, len(all), all)
		}
		for _, tc := range []struct {
			name string
			n    int
			rnd  func(int) int
		}{
			{"n above the count", 100, nil},
			{"n equal to the count", 6, nil},
			{"n below the count", 3, nil},
			{"one", 1, nil},
			{"n below the count, fixed rnd", 4, fixed(0)},
		} {
			t.Run(rev+"/"+tc.name, func(t *testing.T) {
				for range 20 {
					got, err := SamplePackages(bytes.NewReader(primary), tc.n, tc.rnd)
					if err != nil {
						t.Fatal(err)
					}
					if want := min(tc.n, len(all)); len(got) != want {
						t.Fatalf("%d hrefs, want %d: %v", len(got), want, got)
					}
					if tc.n >= len(all) && !slices.Equal(got, all) {
						t.Errorf("got %v, want every package in document order %v", got, all)
					}
					seen := map[string]bool{}
					for _, p := range got {
						if seen[p.Href] {
							t.Errorf("%q sampled twice", p.Href)
						}
						seen[p.Href] = true
						fi, err := os.Stat(filepath.Join(demoDir(rev), filepath.FromSlash(p.Href)))
						if err != nil {
							t.Errorf("sampled %q, which is not in the repository: %v", p.Href, err)
						} else if fi.Size() != p.Size {
							t.Errorf("sampled %q with size %d; the file has %d bytes", p.Href, p.Size, fi.Size())
						}
					}
				}
			})
		}
	}
}

// Reservoir sampling with a fixed rnd picks a predictable sample: with
// rnd always 0, each package after the first n replaces the first slot.
func TestSamplePackagesReservoir(t *testing.T) {
	primary := demoPrimary(t, "v1")
	all := demoPackages(t, "v1")
	got, err := SamplePackages(bytes.NewReader(primary), 3, fixed(0))
	if err != nil {
		t.Fatal(err)
	}
	if want := []Package{all[5], all[1], all[2]}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	// rnd beyond n never replaces: the first n stay.
	got, err = SamplePackages(bytes.NewReader(primary), 3, func(k int) int { return k - 1 })
	if err != nil {
		t.Fatal(err)
	}
	if want := all[:3]; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// Every package has its chance: over many samples of 2, each of the six
// demo packages turns up.
func TestSamplePackagesCoversAll(t *testing.T) {
	primary := demoPrimary(t, "v1")
	count := map[string]int{}
	for range 300 {
		got, err := SamplePackages(bytes.NewReader(primary), 2, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range got {
			count[p.Href]++
		}
	}
	for _, p := range demoPackages(t, "v1") {
		if count[p.Href] == 0 {
			t.Errorf("%q never sampled in 300 samples of 2", p.Href)
		}
	}
}

// Packages that do not live under the repository root are not sampled.
func TestSamplePackagesSkipsOutsideRoot(t *testing.T) {
	primary := string(demoPrimary(t, "v1"))
	all := demoPackages(t, "v1")
	replace := func(s, old, new string) string {
		if !strings.Contains(s, old) {
			t.Fatalf("demo primary.xml has no %q", old)
		}
		return strings.Replace(s, old, new, 1)
	}
	primary = replace(primary, `href="`+all[0].Href+`"`, `href="../../elsewhere/`+all[0].Href+`"`)
	primary = replace(primary, `href="`+all[1].Href+`"`, `href="/`+all[1].Href+`"`)
	primary = replace(primary, `href="`+all[2].Href+`"`, `xml:base="https://other.example/repo/" href="`+all[2].Href+`"`)
	got, err := SamplePackages(strings.NewReader(primary), 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := all[3:]; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestSamplePackagesErrors(t *testing.T) {
	primary := demoPrimary(t, "v1")
	for _, tc := range []struct {
		name   string
		input  []byte
		n      int
		reason string
	}{
		{"n zero", primary, 0, "sampling packages: sample size 0, want at least 1"},
		{"n negative", primary, -1, "sampling packages: sample size -1, want at least 1"},
		{"truncated", primary[:len(primary)/2], 3, "sampling packages: primary.xml:"},
		{"not XML", []byte("<html>Service unavailable</html>"), 3, "sampling packages: primary.xml"},
		{"empty", nil, 3, "sampling packages: primary.xml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SamplePackages(bytes.NewReader(tc.input), tc.n, nil)
			if err == nil {
				t.Fatalf("got %v, want an error", got)
			}
			if !strings.HasPrefix(err.Error(), tc.reason) {
				t.Errorf("error %q, want it to start with %q", err, tc.reason)
			}
		})
	}
}

// SamplePackages reads primary.xml from the origin: whatever it is given,
// it returns an error or at most n distinct hrefs under the root.
func FuzzSamplePackages(f *testing.F) {
	f.Add(demoPrimary(f, "v1"), 3)
	f.Add(demoPrimary(f, "v2"), 100)
	f.Add([]byte(`<metadata packages="0"/>`), 1)
	f.Fuzz(func(t *testing.T, primary []byte, n int) {
		n = n%20 + 1
		if n < 1 {
			n += 20
		}
		got, err := SamplePackages(bytes.NewReader(primary), n, nil)
		if err != nil {
			return
		}
		if len(got) > n {
			t.Fatalf("%d hrefs, want at most %d", len(got), n)
		}
		for _, p := range got {
			if !underRoot(p.Href) {
				t.Errorf("sampled %q, which is not under the root", p.Href)
			}
		}
	})
}
