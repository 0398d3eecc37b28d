package repodata

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

func readRepomd(t *testing.T, path string) *Repomd {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseRepomd(b)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestParseRepomdTestdata reads what createrepo_c and modifyrepo_c wrote.
func TestParseRepomdTestdata(t *testing.T) {
	basic := []string{"primary", "filelists", "other"}
	for _, tt := range []struct {
		repo     string
		types    []string
		checksum string // type of every checksum
		ext      string // of primary
		open     bool   // open-checksum and open-size present
	}{
		{"sha256-gz", []string{"primary", "filelists", "other", "primary_db", "filelists_db", "other_db"}, "sha256", ".xml.gz", true},
		{"sha1", basic, "sha1", ".xml.gz", true},
		{"sha", basic, "sha1", ".xml.gz", true},
		{"sha512-xz", basic, "sha512", ".xml.xz", true},
		{"bz2", basic, "sha256", ".xml.bz2", true},
		{"zstd", basic, "sha256", ".xml.zst", true},
		{"plain", basic, "sha256", ".xml", false},
		{"simple", basic, "sha256", ".xml.gz", true},
		{"extras", []string{"primary", "filelists", "other", "group", "group_gz", "modules", "updateinfo"}, "sha256", ".xml.gz", true},
	} {
		t.Run(tt.repo, func(t *testing.T) {
			r := readRepomd(t, "testdata/repos/"+tt.repo+"/repodata/repomd.xml")
			if r.Revision != "1704067200" {
				t.Errorf("Revision = %q", r.Revision)
			}
			var types []string
			for _, d := range r.Data {
				types = append(types, d.Type)
				if d.Checksum.Type != tt.checksum {
					t.Errorf("%s: checksum type %q, want %q", d.Type, d.Checksum.Type, tt.checksum)
				}
				if err := d.Checksum.Validate(); err != nil {
					t.Errorf("%s: %v", d.Type, err)
				}
				if d.Size <= 0 || d.Timestamp <= 0 || d.Base != "" || d.HeaderChecksum != nil || d.HeaderSize != -1 {
					t.Errorf("%s: %+v", d.Type, d)
				}
				if !strings.HasPrefix(d.Href, "repodata/") {
					t.Errorf("%s: href %q", d.Type, d.Href)
				}
			}
			if !reflect.DeepEqual(types, tt.types) {
				t.Errorf("types %q, want %q", types, tt.types)
			}
			p, ok := r.Find("primary")
			if !ok {
				t.Fatal("no primary")
			}
			if !strings.HasSuffix(p.Href, "primary"+tt.ext) {
				t.Errorf("primary href %q, want ...%s", p.Href, tt.ext)
			}
			if tt.repo == "simple" && p.Href != "repodata/primary.xml.gz" {
				t.Errorf("primary href %q", p.Href)
			}
			if tt.open != (p.OpenChecksum != nil) || tt.open != (p.OpenSize > 0) {
				t.Errorf("open-checksum %v, open-size %d", p.OpenChecksum, p.OpenSize)
			}
			if _, ok := r.Find("nothing"); ok {
				t.Error("Find(nothing) found something")
			}
			var tags Tags
			if tt.repo == "extras" { // createrepo_c --content --repo --distro
				tags = Tags{Content: []string{"binary-x86_64"}, Repo: []string{"tiny"}, Distro: []Distro{{CPEID: "cpe:/o:rpmirror:test:1", Name: "Test Distro 1"}}}
			}
			if !reflect.DeepEqual(r.Tags, tags) {
				t.Errorf("tags %+v, want %+v", r.Tags, tags)
			}
		})
	}
}

// TestParseRepomdFedora reads a repomd.xml Fedora published (Fedora 38
// Everything x86_64, with zchunk data and an uncompressed comps file).
func TestParseRepomdFedora(t *testing.T) {
	r := readRepomd(t, "testdata/fedora38-repomd.xml")
	if r.Revision != "1681418230" || len(r.Data) != 12 {
		t.Fatalf("revision %q, %d data", r.Revision, len(r.Data))
	}
	zck, _ := r.Find("primary_zck")
	want := Data{
		Type:           "primary_zck",
		Href:           "repodata/dfa2aec8d2e83459677d698542f1a190d92815888668d027b21dfd46fb86ce01-primary.xml.zck",
		Checksum:       Checksum{"sha256", "dfa2aec8d2e83459677d698542f1a190d92815888668d027b21dfd46fb86ce01"},
		OpenChecksum:   &Checksum{"sha256", "7f2fdf1ef2d90b5a7223cee806e2cd1652b6086b3f747a3986352b48d4be638f"},
		Size:           33215921,
		OpenSize:       167638461,
		Timestamp:      1681418141,
		HeaderChecksum: &Checksum{"sha256", "34d4d0da333f4e5935ee08100f5fe9dd78de016444839e1cfc8776aeb527fbc2"},
		HeaderSize:     541899,
	}
	if !reflect.DeepEqual(zck, want) {
		t.Errorf("primary_zck:\ngot  %+v\nwant %+v", zck, want)
	}
	group, _ := r.Find("group")
	want = Data{
		Type:       "group",
		Href:       "repodata/1ab074f803c33a54eac36ffee514cfe9a60a927416b3ddc34defeaf4b1d63776-comps-Everything.x86_64.xml",
		Checksum:   Checksum{"sha256", "1ab074f803c33a54eac36ffee514cfe9a60a927416b3ddc34defeaf4b1d63776"},
		Size:       1826355,
		OpenSize:   -1,
		Timestamp:  1681417845,
		HeaderSize: -1,
	}
	if !reflect.DeepEqual(group, want) {
		t.Errorf("group:\ngot  %+v\nwant %+v", group, want)
	}
}

// repomdDoc is a small repomd.xml with edits old, new, ... made.
func repomdDoc(oldnew ...string) string {
	return strings.NewReplacer(oldnew...).Replace(`<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">
  <revision>1704067200</revision>
  <data type="primary">
    <checksum type="sha256">fbb2a24d6329ae0d8d1d76eaf2cabeb1cfee5c5a19d2b8c89034589533aa076f</checksum>
    <open-checksum type="sha256">4cb21e3666cbaaedb8d3e4b2c4b3884695066eb427ece36c7b7fac6456a46165</open-checksum>
    <location href="repodata/fbb2a24d6329ae0d8d1d76eaf2cabeb1cfee5c5a19d2b8c89034589533aa076f-primary.xml.zst"/>
    <timestamp>1704067200</timestamp>
    <size>1395</size>
    <open-size>6924</open-size>
  </data>
</repomd>
`)
}

func TestParseRepomdAccepts(t *testing.T) {
	want := Data{
		Type:         "primary",
		Href:         "repodata/fbb2a24d6329ae0d8d1d76eaf2cabeb1cfee5c5a19d2b8c89034589533aa076f-primary.xml.zst",
		Checksum:     Checksum{"sha256", "fbb2a24d6329ae0d8d1d76eaf2cabeb1cfee5c5a19d2b8c89034589533aa076f"},
		OpenChecksum: &Checksum{"sha256", "4cb21e3666cbaaedb8d3e4b2c4b3884695066eb427ece36c7b7fac6456a46165"},
		Size:         1395, OpenSize: 6924, Timestamp: 1704067200, HeaderSize: -1,
	}
	with := func(f func(d *Data)) Data {
		d := want
		f(&d)
		return d
	}
	for _, tt := range []struct {
		name string
		doc  string
		want Data
	}{
		{"as written", repomdDoc(), want},
		{"xml:base", repomdDoc("<location ", `<location xml:base="http://example.com/r/" `),
			with(func(d *Data) { d.Base = "http://example.com/r/" })},
		{"old yum", repomdDoc(`type="sha256">fbb2`, `type="sha">`+strings.Repeat("AB", 20)+`</checksum><!--`, `</checksum>
    <open`, `--><open`, "<timestamp>1704067200", "<timestamp>1704067200.57"),
			with(func(d *Data) { d.Checksum = Checksum{"sha1", strings.Repeat("ab", 20)} })},
		{"white space", repomdDoc("<size>1395", "<size>\n1395 ", ">fbb2a24d6329ae0d8d1d76eaf2cabeb1cfee5c5a19d2b8c89034589533aa076f<", "> fbb2a24d6329ae0d8d1d76eaf2cabeb1cfee5c5a19d2b8c89034589533aa076f\n<"), want},
		{"minimal", repomdDoc("<open-checksum", "<!--", "</open-checksum>", "-->", "<timestamp>1704067200</timestamp>", "", "<size>1395</size>", "", "<open-size>6924</open-size>", "", "<revision>1704067200</revision>", ""),
			with(func(d *Data) { d.OpenChecksum, d.Size, d.OpenSize, d.Timestamp = nil, -1, -1, 0 })},
		{"unknown elements", repomdDoc("<revision>", "<tags><x>y</x></tags><revision>", "<size>", "<database_version>10</database_version><new a='b'><c/></new><size>"), want},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRepomd([]byte(tt.doc))
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Data) != 1 || !reflect.DeepEqual(r.Data[0], tt.want) {
				t.Errorf("got  %+v\nwant %+v", r.Data, tt.want)
			}
		})
	}
	r, err := ParseRepomd([]byte(`<repomd/>`))
	if err != nil || r.Revision != "" || r.Data == nil || len(r.Data) != 0 {
		t.Errorf("empty repomd: %+v, %v", r, err)
	}
}

// TestParseRepomdTags reads <tags>: as createrepo_c --content, --repo and
// --distro write it, escaped, and with what else a tool might put there.
func TestParseRepomdTags(t *testing.T) {
	for _, tt := range []struct {
		name, tags string
		want       Tags
	}{
		{"none", "", Tags{}},
		{"empty", "<tags/>", Tags{}},
		{"createrepo_c", `<tags>
    <content>binary-x86_64</content>
    <repo>h2repo</repo>
    <distro cpeid="cpe:/o:h2:h2:1">H2 Linux</distro>
    <distro>Plain &amp; &lt;odd&gt;</distro>
  </tags>`, Tags{
			Content: []string{"binary-x86_64"},
			Repo:    []string{"h2repo"},
			Distro:  []Distro{{CPEID: "cpe:/o:h2:h2:1", Name: "H2 Linux"}, {Name: "Plain & <odd>"}},
		}},
		{"interleaved, two elements", `<tags><repo>b</repo><content>a</content><repo>c</repo></tags><tags><content>d</content></tags>`,
			Tags{Content: []string{"a", "d"}, Repo: []string{"b", "c"}}},
		{"unknown and nested elements skipped", `<tags><keyword>k</keyword><x>y</x><repo>a<b>c</b>d</repo><distro cpeid="" other="1"><i/>e</distro></tags>`,
			Tags{Repo: []string{"ad"}, Distro: []Distro{{Name: "e"}}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRepomd([]byte(repomdDoc("<data ", tt.tags+"<data ")))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(r.Tags, tt.want) {
				t.Errorf("tags %+v, want %+v", r.Tags, tt.want)
			}
			if r.Tags.IsZero() != (len(tt.want.Content)+len(tt.want.Repo)+len(tt.want.Distro) == 0) {
				t.Errorf("IsZero() = %v", r.Tags.IsZero())
			}
			if len(r.Data) != 1 {
				t.Errorf("%d data", len(r.Data))
			}
		})
	}
}

func TestParseRepomdErrors(t *testing.T) {
	for _, tt := range []struct {
		name, doc, want string
	}{
		{"empty", "", "repomd.xml: no <repomd> element"},
		{"DOCTYPE", repomdDoc("<repomd ", `<!DOCTYPE repomd [<!ENTITY x "y">]><repomd `), "repomd.xml:2: <!DOCTYPE> is not allowed (DOCTYPE and entity declarations are refused)"},
		{"ENTITY", repomdDoc("<data ", `<!ENTITY x "y"><data `), "repomd.xml:4: <!ENTITY> is not allowed (DOCTYPE and entity declarations are refused)"},
		{"entity", repomdDoc("repodata/", "&x;/"), "repomd.xml: XML syntax error on line 7: invalid character entity &x;"},
		{"root", "<metadata/>", "repomd.xml:1: root element is <metadata>, want <repomd>"},
		{"truncated", repomdDoc()[:300], "repomd.xml: XML syntax error on line 5: unexpected EOF"},
		{"unclosed", strings.TrimSuffix(repomdDoc(), "</repomd>\n"), "repomd.xml: XML syntax error on line 12: unexpected EOF"},
		{"text after root", repomdDoc() + "x", "repomd.xml:13: text after the root element"},
		{"element after root", repomdDoc() + "<repomd/>", "repomd.xml:13: element <repomd> after the root element"},
		{"no type", repomdDoc(` type="primary"`, ""), "repomd.xml:4: <data> without a type attribute"},
		{"empty type", repomdDoc(`type="primary"`, `type=""`), "repomd.xml:4: <data> without a type attribute"},
		{"duplicate type", repomdDoc("</data>", "</data><data type='primary'><checksum type='md5'>00000000000000000000000000000000</checksum><location href='x'/></data>"),
			`repomd.xml:11: more than one <data type="primary">`},
		{"no location", repomdDoc("<location ", "<xlocation "), `repomd.xml:11: data "primary": missing <location href>`},
		{"no href", repomdDoc("href=", "ref="), `repomd.xml:7: data "primary": missing <location href>`},
		{"empty href", repomdDoc(`href="repodata/fbb2a24d6329ae0d8d1d76eaf2cabeb1cfee5c5a19d2b8c89034589533aa076f-primary.xml.zst"`, `href=""`), `repomd.xml:7: data "primary": missing <location href>`},
		{"no checksum", repomdDoc("<checksum ", "<xchecksum ", "</checksum>", "</xchecksum>"), `repomd.xml:11: data "primary": missing <checksum>`},
		{"checksum type", repomdDoc(`<checksum type="sha256"`, `<checksum type="sha3"`), `repomd.xml:5: data "primary": <checksum>: unknown checksum type "sha3"`},
		{"checksum without type", repomdDoc(`<checksum type="sha256"`, `<checksum`), `repomd.xml:5: data "primary": <checksum> without a type attribute`},
		{"checksum length", repomdDoc(">fbb2a24d", ">"), `repomd.xml:5: data "primary": <checksum>: sha256 checksum "6329ae0d8d1d76eaf2cabeb1cfee5c5a19d2b8c89034589533aa076f": want 64 hex digits, have 56`},
		{"open-checksum", repomdDoc(">4cb2", ">xcb2"), `repomd.xml:6: data "primary": <open-checksum>: sha256 checksum "xcb21e3666cbaaedb8d3e4b2c4b3884695066eb427ece36c7b7fac6456a46165": not lower-case hex`},
		{"element in checksum", repomdDoc(">fbb2a24d", "><b/>fbb2a24d"), `repomd.xml:5: unexpected <b> inside <checksum>`},
		{"two checksums", repomdDoc("<open-checksum", "<checksum", "</open-checksum>", "</checksum>"), `repomd.xml:6: data "primary": more than one <checksum>`},
		{"unclosed tag", repomdDoc("<data ", "<tags><repo>a</tags><data "), "repomd.xml: XML syntax error on line 4: element <repo> closed by </tags>"},
		{"two revisions", repomdDoc("<data ", "<revision/><data "), `repomd.xml:4: more than one <revision>`},
		{"size", repomdDoc("<size>1395", "<size>1.4k"), `repomd.xml:9: data "primary": <size>: "1.4k" is not a size`},
		{"negative size", repomdDoc("<size>1395", "<size>-1"), `repomd.xml:9: data "primary": <size>: "-1" is not a size`},
		{"timestamp", repomdDoc("<timestamp>1704067200", "<timestamp>yesterday"), `repomd.xml:8: data "primary": <timestamp>: "yesterday" is not a timestamp`},
		{"encoding", repomdDoc("UTF-8", "ISO-8859-1"), `repomd.xml: xml: encoding "ISO-8859-1" declared but Decoder.CharsetReader is nil`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseRepomd([]byte(tt.doc))
			if errString(err) != tt.want {
				t.Fatalf("got error\n%v\nwant\n%s", err, tt.want)
			}
		})
	}
}
