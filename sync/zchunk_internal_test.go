package sync

import (
	"errors"
	"testing"

	"github.com/rpmirror/rpmirror/repodata"
)

func TestCheckZchunk(t *testing.T) {
	sum := func(typ, v string) *repodata.Checksum { return &repodata.Checksum{Type: typ, Value: v} }
	data := func(typ string, open *repodata.Checksum) repodata.Data {
		return repodata.Data{Type: typ, Href: "repodata/" + typ, OpenChecksum: open}
	}
	for _, c := range []struct {
		name    string
		data    []repodata.Data
		refused string // the zchunk type refused, "" for none
	}{
		{"no zchunk", []repodata.Data{data("primary", sum("sha256", "aa")), data("other", sum("sha256", "bb"))}, ""},
		{"copies", []repodata.Data{data("primary", sum("sha256", "aa")), data("primary_zck", sum("sha256", "aa")),
			data("other", sum("sha256", "bb")), data("other_zck", sum("sha256", "bb"))}, ""},
		{"zchunk alone", []repodata.Data{data("primary", sum("sha256", "aa")), data("updateinfo_zck", sum("sha256", "cc"))}, ""},
		{"other content", []repodata.Data{data("primary", sum("sha256", "aa")), data("primary_zck", sum("sha256", "ab"))}, "primary_zck"},
		{"other content, listed first", []repodata.Data{data("primary_zck", sum("sha256", "ab")), data("primary", sum("sha256", "aa"))}, "primary_zck"},
		// Only the primary locates packages: Fedora's group_zck, made
		// from group_xz, beside group, which has no open-checksum.
		{"Fedora's comps", []repodata.Data{data("primary", sum("sha256", "aa")), data("primary_zck", sum("sha256", "aa")),
			data("group", nil), data("group_xz", sum("sha256", "bb")), data("group_zck", sum("sha256", "cc")),
			data("filelists", sum("sha256", "dd")), data("filelists_zck", sum("sha256", "de"))}, ""},
		{"no open-checksum", []repodata.Data{data("primary", sum("sha256", "aa")), data("primary_zck", nil)}, "primary_zck"},
		{"no open-checksum on the original", []repodata.Data{data("primary", nil), data("primary_zck", sum("sha256", "aa"))}, "primary_zck"},
		{"types differ", []repodata.Data{data("primary", sum("sha256", "aa")), data("primary_zck", sum("sha512", "aa"))}, "primary_zck"},
	} {
		err := checkZchunk(&repodata.Repomd{Data: c.data})
		var zm *ZchunkMismatchError
		switch {
		case c.refused == "" && err != nil:
			t.Errorf("%s: %v, want accepted", c.name, err)
		case c.refused != "" && (!errors.As(err, &zm) || zm.Type != c.refused):
			t.Errorf("%s: err = %v, want %s refused", c.name, err, c.refused)
		}
	}
}
