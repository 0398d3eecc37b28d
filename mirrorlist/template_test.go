package mirrorlist

import (
	"bytes"
	"math/rand/v2"
	"strconv"
	"testing"
)

// TestTemplate checks that, for any order of the candidates, a Template
// writes exactly what Text and Metalink write for the mirrors in that
// order.
func TestTemplate(t *testing.T) {
	ms := []Mirror{
		{URL: "https://a.example/repo/", Location: "DE"},
		{URL: "http://b.example/repo"}, // no trailing slash: normalized
		{URL: "not a url"},             // never listed
		{URL: "https://c.example/repo/?token=x&y=z", Location: "US"},
		{URL: "https://d.example/r/", Location: `<"&>`},
	}
	alts := []File{revision2, revision1}
	fbText := Text(nil, goldenOrigin)
	fbLink := Metalink(revision3, alts, nil, goldenOrigin, goldenNow)
	tpl := NewTemplate(revision3, alts, ms, fbText, fbLink, goldenNow)
	if tpl.Len() != len(ms) {
		t.Fatalf("Len = %d", tpl.Len())
	}
	rng := rand.New(rand.NewPCG(3, 4))
	orders := [][]int{nil, {2}, {0, 1, 2, 3, 4}, {4, 3, 2, 1, 0}, {3}, {2, 0}}
	for range 50 {
		orders = append(orders, rng.Perm(len(ms))[:rng.IntN(len(ms)+1)])
	}
	for _, order := range orders {
		picked := make([]Mirror, len(order))
		for i, j := range order {
			picked[i] = ms[j]
		}
		if got, want := tpl.AppendText(nil, order), Text(picked, goldenOrigin); !bytes.Equal(got, want) {
			t.Errorf("order %v: text\n%s\nwant\n%s", order, got, want)
		}
		if got, want := tpl.AppendMetalink(nil, order), Metalink(revision3, alts, picked, goldenOrigin, goldenNow); !bytes.Equal(got, want) {
			t.Errorf("order %v: metalink\n%s\nwant\n%s", order, got, want)
		}
	}
	// Appending keeps what the buffer held.
	if got := tpl.AppendText([]byte("x"), []int{2}); !bytes.Equal(got, append([]byte("x"), fbText...)) {
		t.Errorf("fallback appended after x: %q", got)
	}
	if got := tpl.AppendMetalink([]byte("x"), nil); !bytes.Equal(got, append([]byte("x"), fbLink...)) {
		t.Errorf("metalink fallback appended after x: %q", got)
	}
}

// TestTemplatePreferences lists more than 100 mirrors: preferences stop
// at 1, as Metalink's do.
func TestTemplatePreferences(t *testing.T) {
	ms := benchMirrors(120)
	order := make([]int, len(ms))
	for i := range order {
		order[i] = len(ms) - 1 - i
	}
	picked := make([]Mirror, len(ms))
	for i, j := range order {
		picked[i] = ms[j]
	}
	tpl := NewTemplate(revision3, nil, ms, nil, nil, goldenNow)
	if got, want := tpl.AppendMetalink(nil, order), Metalink(revision3, nil, picked, goldenOrigin, goldenNow); !bytes.Equal(got, want) {
		t.Error("120 mirrors reversed: metalink differs from Metalink's")
	}
}

// TestTemplateDuplicates drops a URL listed twice at build time: only its
// first candidate is ever written.
func TestTemplateDuplicates(t *testing.T) {
	ms := []Mirror{{URL: "https://a.example/"}, {URL: "https://b.example/"}, {URL: "https://a.example"}}
	tpl := NewTemplate(revision3, nil, ms, nil, nil, goldenNow)
	if got := string(tpl.AppendText(nil, []int{2, 1, 0})); got != "https://b.example/\nhttps://a.example/\n" {
		t.Errorf("text %q", got)
	}
}

func BenchmarkTemplate(b *testing.B) {
	for _, n := range []int{5, 100} {
		ms := benchMirrors(n)
		order := make([]int, n)
		for i := range order {
			order[i] = i
		}
		tpl := NewTemplate(revision3, []File{revision2, revision1}, ms, nil, nil, goldenNow)
		b.Run("text/"+strconv.Itoa(n), func(b *testing.B) {
			buf := make([]byte, 0, 64<<10)
			b.ReportAllocs()
			for b.Loop() {
				buf = tpl.AppendText(buf[:0], order)
			}
		})
		b.Run("metalink/"+strconv.Itoa(n), func(b *testing.B) {
			buf := make([]byte, 0, 64<<10)
			b.ReportAllocs()
			for b.Loop() {
				buf = tpl.AppendMetalink(buf[:0], order)
			}
		})
	}
}
