package filter

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/rpmirror/rpmirror/repodata"
)

// Options configure Write.
type Options struct {
	Rules Rules
	// Dir is the directory Write writes the new metadata files into
	// (a staging area: nothing there is served). It must exist.
	Dir string
	// Open returns the uncompressed content of one of the origin's
	// metadata files, already verified (or verified as it is read) by
	// the caller. Write opens primary twice at most and every other
	// written type once, and closes what it opens.
	Open func(d repodata.Data) (io.ReadCloser, error)
}

// Result is what Write wrote.
type Result struct {
	// Repomd is the new repomd.xml, and MD the same parsed.
	Repomd []byte
	MD     *repodata.Repomd
	// Written maps the href of each file Write wrote to its path in
	// Options.Dir.
	Written map[string]string
	// Carried are the origin's files the new repomd.xml lists as they
	// are, Dropped those it leaves out (sqlite and zchunk).
	Carried, Dropped []repodata.Data
	// Unknown are the types of Carried that filter does not know.
	Unknown []string
	Counts  Counts
}

// ModulesError refuses Newest on a repository with modules metadata.
type ModulesError struct {
	Newest int
	Href   string // the modules metadata
}

func (e *ModulesError) Error() string {
	return fmt.Sprintf("filter newest %d refused: the repository has modules metadata (%s), whose streams need older versions of packages; remove newest or mirror without a filter", e.Newest, e.Href)
}

// MismatchError reports a filelists, other or filelists-ext file that
// does not describe the packages primary lists.
type MismatchError struct {
	Type  string // "filelists", "other", "filelists_ext"
	Href  string
	PkgID string // a kept package described a different number of times
	Want  int    // times primary lists it
	Got   int    // times the file describes it
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("%s metadata %s describes package %s %d times, primary lists it %d times", e.Type, e.Href, e.PkgID, e.Got, e.Want)
}

// written are the types Write writes, and the root element each must have.
var written = map[string]string{
	"primary":       "metadata",
	"filelists":     "filelists",
	"other":         "otherdata",
	"filelists_ext": "filelists_ext",
}

// Writes reports whether Write writes metadata of type typ itself
// (primary, filelists, other, filelists_ext) rather than carrying the
// origin's file: such a file of a filtered mirror exists nowhere else.
func Writes(typ string) bool {
	_, ok := written[typ]
	return ok
}

// known are the types carried as they are that filter knows.
var known = map[string]bool{
	"group": true, "group_gz": true, "group_xz": true, "group_zst": true,
	"updateinfo": true, "updateinfo_gz": true, "updateinfo_xz": true, "updateinfo_zst": true,
	"modules": true, "prestodelta": true, "deltainfo": true, "productid": true,
}

// Dropped reports whether Write leaves metadata d out of a filtered
// mirror: sqlite databases and zchunk files.
func Dropped(d repodata.Data) bool {
	return strings.HasSuffix(d.Type, "_db") || strings.HasSuffix(d.Type, "_zck") ||
		strings.HasSuffix(strings.ToLower(d.Href), ".zck")
}

// Write writes the metadata of the filtered mirror of the repository
// origin describes: see the package comment.
func Write(ctx context.Context, origin *repodata.Repomd, opts Options) (*Result, error) {
	if err := opts.Rules.Validate(); err != nil {
		return nil, err
	}
	res := &Result{Written: map[string]string{}}
	var primary *repodata.Data
	for i, d := range origin.Data {
		switch {
		case d.Type == "primary":
			primary = &origin.Data[i]
		case d.Type == "modules" && opts.Rules.Newest > 0:
			return nil, &ModulesError{Newest: opts.Rules.Newest, Href: d.Href}
		}
	}
	if primary == nil {
		return nil, errors.New("filter: the origin's repomd.xml lists no primary metadata")
	}
	w := &writer{opts: opts, res: res}
	newData := map[string]repodata.Data{}
	d, err := w.primary(ctx, *primary)
	if err != nil {
		return nil, err
	}
	newData["primary"] = d
	for _, od := range origin.Data {
		if _, ok := written[od.Type]; !ok || od.Type == "primary" {
			continue
		}
		d, err := w.entries(ctx, od)
		if err != nil {
			return nil, err
		}
		newData[od.Type] = d
	}
	var out []repodata.Data
	for _, od := range origin.Data {
		switch d, ok := newData[od.Type]; {
		case ok:
			out = append(out, d)
		case Dropped(od):
			res.Dropped = append(res.Dropped, od)
		default:
			res.Carried = append(res.Carried, od)
			if !known[od.Type] {
				res.Unknown = append(res.Unknown, od.Type)
			}
			out = append(out, od)
		}
	}
	res.Repomd = MarshalRepomd(&repodata.Repomd{Revision: origin.Revision, Tags: origin.Tags, Data: out})
	if n := len(res.Repomd); n > repodata.MaxRepomdSize {
		// Written, it would be refused when read back, and the mirror
		// stuck with it (an origin's repomd.xml just under the bound,
		// its <tags> padded, grows with the indentation).
		return nil, fmt.Errorf("filter: the repomd.xml to write is %d bytes, over the %d rpmirror reads (the origin's has %d <tags> entries)", n, repodata.MaxRepomdSize, len(origin.Tags.Content)+len(origin.Tags.Repo)+len(origin.Tags.Distro))
	}
	if res.MD, err = repodata.ParseRepomd(res.Repomd); err != nil {
		return nil, fmt.Errorf("filter: the repomd.xml written does not parse: %w", err)
	}
	return res, nil
}

// writer is the state of one Write.
type writer struct {
	opts Options
	res  *Result
	// kept maps the pkgid of each kept package to its index in want,
	// how many times primary lists it.
	kept map[string]int32
	want []int32
	root string // primary's root element, for errors
}

// candidate is a package that the arch and name rules keep, spooled.
type candidate struct {
	off   int64
	n     int32
	group *group // of its name.arch, with Newest
	evr   EVR
	pkgid string
}

// group holds the newest distinct versions of one name.arch, newest
// first, at most Rules.Newest of them.
type group struct {
	top []EVR
}

func (g *group) add(e EVR, n int) {
	i := 0
	for ; i < len(g.top); i++ {
		c := e.Compare(g.top[i])
		if c == 0 {
			return
		}
		if c > 0 {
			break
		}
	}
	if i >= n {
		return
	}
	g.top = slices.Insert(g.top, i, e)
	if len(g.top) > n {
		g.top = g.top[:n]
	}
}

func (g *group) has(e EVR) bool {
	for _, t := range g.top {
		if e.Compare(t) == 0 {
			return true
		}
	}
	return false
}

// primary filters the origin's primary metadata d. Reading it takes a
// core (the caller decompresses on another); the kept entries are
// spooled to a file, and their bookkeeping done, on a goroutine of their
// own (spooler), so that the reading goroutine only parses and matches.
func (w *writer) primary(ctx context.Context, d repodata.Data) (repodata.Data, error) {
	rc, err := w.opts.Open(d)
	if err != nil {
		return repodata.Data{}, fmt.Errorf("filter: opening %s: %w", d.Href, err)
	}
	defer rc.Close()
	spool, err := os.CreateTemp(w.opts.Dir, ".primary-*.spool")
	if err != nil {
		return repodata.Data{}, fmt.Errorf("filter: %w", err)
	}
	defer func() {
		spool.Close()
		os.Remove(spool.Name())
	}()
	pr := repodata.NewPrimaryReader(rc)
	pr.KeepRaw()
	rules := &w.opts.Rules
	counts := &w.res.Counts
	sp := newSpooler(spool, rules.Newest)
	defer sp.stop()
	for {
		if counts.Packages&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return repodata.Data{}, err
			}
		}
		p, err := pr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return repodata.Data{}, fmt.Errorf("filter: reading %s: %w", d.Href, err)
		}
		counts.Packages++
		if r := rules.Match(p); r != Kept {
			counts.add(r)
			continue
		}
		if err := sp.add(p, pr.Raw()); err != nil {
			return repodata.Data{}, fmt.Errorf("filter: spooling: %w", err)
		}
	}
	cands, err := sp.finish()
	if err != nil {
		return repodata.Data{}, fmt.Errorf("filter: spooling: %w", err)
	}
	root := pr.Root()
	if root == nil { // not possible after a complete document
		return repodata.Data{}, fmt.Errorf("filter: %s has no root element", d.Href)
	}
	keep := make([]bool, len(cands))
	w.kept = map[string]int32{}
	for i, c := range cands {
		if c.group != nil && !c.group.has(c.evr) {
			counts.add(DroppedNewest)
			continue
		}
		keep[i] = true
		counts.add(Kept)
		idx, ok := w.kept[c.pkgid]
		if !ok {
			idx = int32(len(w.want))
			w.kept[c.pkgid] = idx
			w.want = append(w.want, 0)
		}
		w.want[idx]++
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return repodata.Data{}, fmt.Errorf("filter: %w", err)
	}
	sr := bufio.NewReaderSize(spool, spoolChunk)
	return w.writeFile(d, root, counts.Kept, func(out io.Writer) error {
		var pos int64
		for i, c := range cands {
			if !keep[i] {
				continue
			}
			if _, err := sr.Discard(int(c.off - pos)); err != nil {
				return fmt.Errorf("reading the spool: %w", err)
			}
			pos = c.off + int64(c.n)
			// Most entries are written from the reader's buffer; one
			// larger than it is copied through.
			if int(c.n) <= spoolChunk {
				b, err := sr.Peek(int(c.n))
				if err != nil {
					return fmt.Errorf("reading the spool: %w", err)
				}
				if _, err := out.Write(b); err != nil {
					return err
				}
				if _, err := sr.Discard(len(b)); err != nil {
					return fmt.Errorf("reading the spool: %w", err)
				}
			} else if _, err := io.CopyN(out, sr, int64(c.n)); err != nil {
				return fmt.Errorf("reading the spool: %w", err)
			}
			if _, err := out.Write(newline); err != nil {
				return err
			}
		}
		return nil
	})
}

// spoolChunk is the size of the spool's writes and reads.
const spoolChunk = 1 << 20

// spooler writes the raw entries of the packages the arch and name rules
// keep to the spool file, in order, and records each as a candidate, in
// its own goroutine: add hands it batches of entries (copied: the
// reader's buffer is reused) and finish returns the candidates.
type spooler struct {
	newest int
	todo   chan *spoolBatch
	free   chan *spoolBatch
	done   chan struct{}
	cur    *spoolBatch
	failed atomic.Bool // the spool goroutine failed: err is set
	err    error       // the spool goroutine's, read after done
	cands  []candidate
}

// spoolBatch is a run of entries, with the package each is of.
type spoolBatch struct {
	buf  []byte
	pkgs []*repodata.Package
	lens []int32
}

func newSpooler(f *os.File, newest int) *spooler {
	const batches = 3
	sp := &spooler{
		newest: newest,
		todo:   make(chan *spoolBatch, batches),
		free:   make(chan *spoolBatch, batches),
		done:   make(chan struct{}),
	}
	for range batches - 1 {
		sp.free <- &spoolBatch{buf: make([]byte, 0, spoolChunk)}
	}
	sp.cur = &spoolBatch{buf: make([]byte, 0, spoolChunk)}
	go sp.run(f, sp.todo)
	return sp
}

// add spools the entry raw of package p; p must not change afterwards.
func (sp *spooler) add(p *repodata.Package, raw []byte) error {
	if len(sp.cur.buf)+len(raw) > cap(sp.cur.buf) && len(sp.cur.pkgs) > 0 {
		if err := sp.send(); err != nil {
			return err
		}
	}
	// An entry larger than a batch gets a batch of its own, grown.
	sp.cur.buf = append(sp.cur.buf, raw...)
	sp.cur.pkgs = append(sp.cur.pkgs, p)
	sp.cur.lens = append(sp.cur.lens, int32(len(raw)))
	return nil
}

// send hands the current batch to the spool goroutine and takes a free
// one.
func (sp *spooler) send() error {
	sp.todo <- sp.cur
	sp.cur = <-sp.free
	sp.cur.buf, sp.cur.pkgs, sp.cur.lens = sp.cur.buf[:0], sp.cur.pkgs[:0], sp.cur.lens[:0]
	if sp.failed.Load() {
		sp.stop()
		return sp.err
	}
	return nil
}

// finish spools what is left and returns every candidate, in order.
func (sp *spooler) finish() ([]candidate, error) {
	if len(sp.cur.pkgs) > 0 {
		if err := sp.send(); err != nil {
			return nil, err
		}
	}
	sp.stop()
	return sp.cands, sp.err
}

// stop ends the spool goroutine when finish was not called.
func (sp *spooler) stop() {
	if sp.todo != nil {
		close(sp.todo)
		sp.todo = nil
		<-sp.done
	}
}

// run is the spool goroutine; todo is sp.todo (which stop sets to nil).
func (sp *spooler) run(f *os.File, todo <-chan *spoolBatch) {
	defer close(sp.done)
	type nameArch struct{ name, arch string }
	groups := map[nameArch]*group{}
	var off int64
	for b := range todo {
		if sp.err == nil {
			if _, err := f.Write(b.buf); err != nil {
				sp.err = err
				sp.failed.Store(true)
			}
		}
		if sp.err != nil {
			sp.free <- b // drained until closed
			continue
		}
		for i, p := range b.pkgs {
			n := b.lens[i]
			c := candidate{off: off, n: n, pkgid: p.Checksum.Value}
			off += int64(n)
			if sp.newest > 0 {
				c.evr = EVR{p.Epoch, p.Version, p.Release}
				key := nameArch{p.Name, p.Arch}
				g := groups[key]
				if g == nil {
					g = &group{}
					groups[key] = g
				}
				g.add(c.evr, sp.newest)
				c.group = g
			}
			sp.cands = append(sp.cands, c)
		}
		clear(b.pkgs) // the packages can be collected
		if cap(b.buf) > spoolChunk {
			b.buf = make([]byte, 0, spoolChunk) // not keeping a huge one
		}
		sp.free <- b
	}
}

var newline = []byte("\n")

// entries filters the origin's filelists, other or filelists-ext
// metadata d: the entries of the kept packages, as many times each as
// primary lists it.
func (w *writer) entries(ctx context.Context, d repodata.Data) (repodata.Data, error) {
	rc, err := w.opts.Open(d)
	if err != nil {
		return repodata.Data{}, fmt.Errorf("filter: opening %s: %w", d.Href, err)
	}
	defer rc.Close()
	er := repodata.NewEntryReader(rc, path.Base(d.Href))
	root := er.Root()
	if root == nil {
		_, err := er.Next()
		return repodata.Data{}, fmt.Errorf("filter: reading %s: %w", d.Href, err)
	}
	if want := written[d.Type]; root.Name != want {
		return repodata.Data{}, fmt.Errorf("filter: reading %s: root element is <%s>, want <%s>", d.Href, root.Name, want)
	}
	got := make([]int32, len(w.want))
	total := 0
	for _, n := range w.want {
		total += int(n)
	}
	return w.writeFile(d, root, total, func(out io.Writer) error {
		var lower []byte
		for n := 0; ; n++ {
			if n&1023 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			e, err := er.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("reading %s: %w", d.Href, err)
			}
			lower = append(lower[:0], e.PkgID...)
			lower = bytes.ToLower(lower)
			idx, ok := w.kept[string(lower)]
			if !ok || got[idx] >= w.want[idx] {
				if ok {
					return &MismatchError{Type: d.Type, Href: d.Href, PkgID: string(lower), Want: int(w.want[idx]), Got: int(got[idx]) + 1}
				}
				continue
			}
			got[idx]++
			if _, err := out.Write(e.Raw); err != nil {
				return err
			}
			if _, err := out.Write(newline); err != nil {
				return err
			}
		}
		for pkgid, idx := range w.kept {
			if got[idx] != w.want[idx] {
				return &MismatchError{Type: d.Type, Href: d.Href, PkgID: pkgid, Want: int(w.want[idx]), Got: int(got[idx])}
			}
		}
		return nil
	})
}

// hashWriter counts and hashes what is written through it.
type hashWriter struct {
	h hash.Hash
	n int64
}

func (h *hashWriter) Write(p []byte) (int, error) {
	h.h.Write(p)
	h.n += int64(len(p))
	return len(p), nil
}

// teeHasher is where writeFile's body writes the uncompressed file: it
// gathers what is written in chunks, writes each to the compressor and
// hashes it (the open-checksum) on a goroutine of its own, while the
// next chunk is gathered and compressed. It keeps the first error; the
// compressors copy what they are given, so a chunk is reused once hashed.
type teeHasher struct {
	w    io.Writer
	cur  []byte
	n    int64
	err  error
	todo chan []byte
	free chan []byte
	done chan struct{}
	sum  []byte // set before done is closed
}

// teeChunk is the size of teeHasher's chunks.
const teeChunk = 256 << 10

func newTeeHasher(w io.Writer) *teeHasher {
	const chunks = 3
	t := &teeHasher{w: w, todo: make(chan []byte, chunks), free: make(chan []byte, chunks), done: make(chan struct{})}
	for range chunks - 1 {
		t.free <- make([]byte, 0, teeChunk)
	}
	t.cur = make([]byte, 0, teeChunk)
	todo := t.todo // stop sets t.todo to nil
	go func() {
		defer close(t.done)
		h := sha256.New()
		for b := range todo {
			h.Write(b)
			t.free <- b[:0]
		}
		t.sum = h.Sum(nil)
	}()
	return t
}

func (t *teeHasher) Write(p []byte) (int, error) {
	if t.err != nil {
		return 0, t.err
	}
	n := len(p)
	for len(p) > 0 {
		k := copy(t.cur[len(t.cur):cap(t.cur)], p)
		t.cur = t.cur[:len(t.cur)+k]
		p = p[k:]
		if len(t.cur) == cap(t.cur) {
			t.flush()
		}
	}
	return n, t.err
}

func (t *teeHasher) WriteString(s string) (int, error) { return t.Write([]byte(s)) }

// flush compresses the current chunk and hands it to the hasher.
func (t *teeHasher) flush() {
	if t.err != nil || len(t.cur) == 0 {
		return
	}
	if _, err := t.w.Write(t.cur); err != nil {
		t.err = err
		return
	}
	t.n += int64(len(t.cur))
	t.todo <- t.cur
	t.cur = <-t.free
}

// finish writes what is left and returns the hex SHA-256 and the size
// of everything written.
func (t *teeHasher) finish() (string, int64, error) {
	t.flush()
	t.stop()
	if t.err != nil {
		return "", 0, t.err
	}
	return hex.EncodeToString(t.sum), t.n, nil
}

// stop ends the hashing goroutine.
func (t *teeHasher) stop() {
	if t.todo != nil {
		close(t.todo)
		t.todo = nil
		<-t.done
	}
}

// writeFile writes the new file of type d.Type: the XML declaration, the
// root start tag with count, what body writes, the root end tag;
// compressed as d's file is, named for its checksum.
func (w *writer) writeFile(d repodata.Data, root *repodata.Root, count int, body func(io.Writer) error) (repodata.Data, error) {
	comp := compressionOf(d.Href)
	f, err := os.CreateTemp(w.opts.Dir, ".filtered-*.tmp")
	if err != nil {
		return repodata.Data{}, fmt.Errorf("filter: %w", err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	packed := &hashWriter{h: sha256.New()}
	fb := bufio.NewWriterSize(f, 256<<10)
	cw, err := comp.newWriter(io.MultiWriter(fb, packed))
	if err != nil {
		return repodata.Data{}, fmt.Errorf("filter: compressing %s: %w", d.Type, err)
	}
	out := newTeeHasher(cw)
	defer out.stop()
	out.WriteString(xml.Header)
	out.Write(root.WithCount(count))
	out.Write(newline)
	if err := body(out); err != nil {
		var mm *MismatchError
		if errors.As(err, &mm) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return repodata.Data{}, err
		}
		return repodata.Data{}, fmt.Errorf("filter: writing %s: %w", d.Type, err)
	}
	out.WriteString("</" + root.Name + ">\n")
	openSum, openSize, err := out.finish()
	if err != nil {
		return repodata.Data{}, fmt.Errorf("filter: writing %s: %w", d.Type, err)
	}
	if err := cw.Close(); err != nil {
		return repodata.Data{}, fmt.Errorf("filter: compressing %s: %w", d.Type, err)
	}
	if err := fb.Flush(); err != nil {
		return repodata.Data{}, fmt.Errorf("filter: writing %s: %w", d.Type, err)
	}
	if err := f.Close(); err != nil {
		return repodata.Data{}, fmt.Errorf("filter: writing %s: %w", d.Type, err)
	}
	sum := hex.EncodeToString(packed.h.Sum(nil))
	name := sum + "-" + strings.ReplaceAll(d.Type, "_", "-") + ".xml" + comp.ext
	local := filepath.Join(w.opts.Dir, name)
	if err := os.Rename(tmp, local); err != nil {
		return repodata.Data{}, fmt.Errorf("filter: %w", err)
	}
	ok = true
	nd := repodata.Data{
		Type:         d.Type,
		Href:         path.Join(path.Dir(d.Href), name),
		Checksum:     repodata.Checksum{Type: "sha256", Value: sum},
		OpenChecksum: &repodata.Checksum{Type: "sha256", Value: openSum},
		Size:         packed.n,
		OpenSize:     openSize,
		Timestamp:    d.Timestamp,
		HeaderSize:   -1,
	}
	w.res.Written[nd.Href] = local
	return nd, nil
}

// MarshalRepomd returns a repomd.xml of md's revision, tags and data, in
// the layout createrepo_c writes (the tags grouped as it writes them:
// content, repo, distro). It is deterministic: the same md gives the same
// bytes.
func MarshalRepomd(md *repodata.Repomd) []byte {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString(`<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">` + "\n")
	if md.Revision != "" {
		b.WriteString("  <revision>" + escape(md.Revision) + "</revision>\n")
	}
	if t := md.Tags; !t.IsZero() {
		b.WriteString("  <tags>\n")
		for _, c := range t.Content {
			b.WriteString("    <content>" + escape(c) + "</content>\n")
		}
		for _, r := range t.Repo {
			b.WriteString("    <repo>" + escape(r) + "</repo>\n")
		}
		for _, d := range t.Distro {
			b.WriteString("    <distro")
			if d.CPEID != "" {
				b.WriteString(` cpeid="` + escape(d.CPEID) + `"`)
			}
			b.WriteString(">" + escape(d.Name) + "</distro>\n")
		}
		b.WriteString("  </tags>\n")
	}
	sum := func(elem string, c *repodata.Checksum) {
		if c != nil && c.Type != "" {
			fmt.Fprintf(&b, "    <%s type=\"%s\">%s</%s>\n", elem, escape(c.Type), escape(c.Value), elem)
		}
	}
	num := func(elem string, n int64) {
		if n >= 0 {
			fmt.Fprintf(&b, "    <%s>%s</%s>\n", elem, strconv.FormatInt(n, 10), elem)
		}
	}
	for _, d := range md.Data {
		b.WriteString(`  <data type="` + escape(d.Type) + "\">\n")
		sum("checksum", &d.Checksum)
		sum("open-checksum", d.OpenChecksum)
		sum("header-checksum", d.HeaderChecksum)
		b.WriteString(`    <location href="` + escape(d.Href) + `"`)
		if d.Base != "" {
			b.WriteString(` xml:base="` + escape(d.Base) + `"`)
		}
		b.WriteString("/>\n")
		if d.Timestamp > 0 {
			num("timestamp", d.Timestamp)
		}
		num("size", d.Size)
		num("open-size", d.OpenSize)
		num("header-size", d.HeaderSize)
		b.WriteString("  </data>\n")
	}
	b.WriteString("</repomd>\n")
	return b.Bytes()
}

func escape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}
