package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// The keys each mapping may hold are keysOf the struct it decodes into,
// in the order of its fields (which is the order the documentation lists
// them). They are built when first needed, not when the package loads:
// every rpmirror command pays for its packages' initializers, and most
// configurations have no alerts, S3, filter or snapshots sections.

// decoder walks the YAML node tree rather than unmarshalling into structs
// with the YAML library: that way every problem is reported with the line
// of the key or value it is about, in words rather than Go type names, and
// decoding goes on after a problem so that one run finds them all. Most
// keys are decoded generically from the tags of the Config structs (see
// schema.go); the code here decodes the rest and checks what involves
// several keys.
type decoder struct {
	file string
	dir  string // absolute directory relative paths are resolved against
	errs Errors
}

// entry is one key of a mapping and its value.
type entry struct {
	name     string
	key, val *yaml.Node
}

// decode turns data into a Config. It returns the Config (nil when the file
// is not YAML at all or is empty) along with every problem found; a Config
// returned with problems is only good for further checks.
func decode(data []byte, file string) (*Config, Errors) {
	d := &decoder{file: file}
	dir, err := filepath.Abs(filepath.Dir(file))
	if err != nil {
		d.errorf(0, "", "cannot resolve the directory relative paths are resolved against: %v", err)
		return nil, d.errs
	}
	d.dir = dir
	root := d.document(data)
	if root == nil {
		return nil, d.errs
	}
	c := d.config(root)
	if c != nil {
		d.overlaps(c)
		d.listNames(c)
	}
	return c, d.errs
}

// errorf records a problem. where says which part of the file it is in
// (`repo "x"`, `repo "x": mirror "y"`, "download"), or is "" at the top.
func (d *decoder) errorf(line int, where, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if where != "" {
		msg = where + ": " + msg
	}
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Msg: msg})
}

// yamlLineRE matches the YAML library's syntax errors. It is compiled
// when an error is met, not when the package loads (every command would
// pay for it).
var yamlLineRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^yaml: line (\d+): (.*)$`) })

// document parses data as YAML and returns its top node, or nil after
// recording why there is none.
func (d *decoder) document(data []byte) *yaml.Node {
	if !utf8.Valid(data) {
		bad := 0
		for bad < len(data) {
			r, size := utf8.DecodeRune(data[bad:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			bad += size
		}
		d.errorf(1+bytes.Count(data[:bad], []byte("\n")), "", "invalid UTF-8: save the file as UTF-8")
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	err := decodeYAML(dec, &doc)
	if errors.Is(err, io.EOF) {
		d.errorf(1, "", "file is empty: want at least state_dir and repos")
		return nil
	}
	if err != nil {
		d.yamlError(err, data)
		return nil
	}
	var extra yaml.Node
	switch err := decodeYAML(dec, &extra); {
	case err == nil:
		line := extra.Line
		if len(extra.Content) > 0 && extra.Content[0].Line > 0 {
			line = extra.Content[0].Line
		}
		d.errorf(line, "", "a second YAML document starts here (after ---): write everything in one")
	case !errors.Is(err, io.EOF):
		d.yamlError(err, data)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		d.errorf(1, "", "file is empty: want at least state_dir and repos")
		return nil
	}
	root := doc.Content[0]
	if isNull(root) {
		d.errorf(root.Line, "", "file is empty: want at least state_dir and repos")
		return nil
	}
	return root
}

// decodeYAML is dec.Decode, turning a panic inside the YAML library into an
// error: the input is written by people, not trusted to be well-formed.
func decodeYAML(dec *yaml.Decoder, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: cannot parse: %v", r)
		}
	}()
	return dec.Decode(n)
}

// parserErrors are the YAML library's parser (not scanner) errors. It
// reports their line 0-based, unlike its scanner errors.
var parserErrors = []string{
	"did not find expected <stream-start>",
	"did not find expected <document start>",
	"found undefined tag handle",
	"did not find expected node content",
	"did not find expected '-' indicator",
	"did not find expected key",
	"did not find expected ',' or ']'",
	"did not find expected ',' or '}'",
	"found duplicate %YAML directive",
	"found incompatible YAML document",
	"found duplicate %TAG directive",
}

// unknownAnchorRE, like yamlLineRE, is compiled when first needed.
var unknownAnchorRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^unknown anchor '(.*)' referenced$`) })

// yamlError records a syntax error from the YAML library with its line.
func (d *decoder) yamlError(err error, data []byte) {
	msg, line := err.Error(), 0
	if m := yamlLineRE().FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
		if slices.Contains(parserErrors, msg) {
			line++
			// The library gives the line where the enclosing mapping or
			// list starts (a repo's first line), not the line where the
			// parser met what it did not expect: find that line.
			line = problemLine(data, line, msg)
		}
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
		if m := unknownAnchorRE().FindStringSubmatch(msg); m != nil {
			// Not a syntax error but the composer's, without a position.
			if i := bytes.Index(data, []byte("*"+m[1])); i >= 0 {
				line = 1 + bytes.Count(data[:i], []byte("\n"))
			}
			msg += ` (a value starting with * must be quoted, as in schedule: "*/15 * * * *")`
		} else {
			// The library leaves out the line when the error is on the
			// first line (it counts from 0 and treats 0 as unknown).
			line = 1
		}
	}
	if strings.Contains(msg, "found a tab character") {
		// The library gives the line where the scalar before the tab
		// started: the tab is in the indentation of that line or of a
		// later one.
		line = tabLine(data, line)
	}
	if lines := bytes.Split(data, []byte("\n")); line > 0 && line <= len(lines) {
		text := lines[line-1]
		switch {
		case strings.Contains(msg, "cannot start any token") && bytes.ContainsRune(text, '\t'):
			msg += " (tabs are not allowed for indentation: use spaces)"
		case strings.Contains(msg, "cannot start any token") && bytes.ContainsAny(text, "@`"):
			msg += ` (a value starting with @ or ` + "`" + ` must be quoted, as in schedule: "@every 1h")`
		case msg == "did not find expected key" || msg == "did not find expected '-' indicator":
			msg += " (check this line's indentation against the lines above it)"
		case strings.HasPrefix(msg, "did not find expected ',' or") && bytes.Contains(text, []byte("${")):
			msg += ` (inside [...] or {...}, quote a value holding ${...}, as in gpgkeys: ["/etc/pki/rpm-gpg/KEY-${releasever}"])`
		case strings.Contains(msg, "expected alphabetic or numeric character") && bytes.ContainsRune(text, '*'):
			msg += ` (a value starting with * must be quoted, as in schedule: "*/15 * * * *")`
		}
	}
	d.errorf(line, "", "invalid YAML: %s", msg)
}

// tabLine returns the first line, from line on (1-based), whose
// indentation holds a tab; line itself when none does.
func tabLine(data []byte, line int) int {
	lines := bytes.Split(data, []byte("\n"))
	for i := max(line, 1); i <= len(lines); i++ {
		text := lines[i-1]
		indent := text[:len(text)-len(bytes.TrimLeft(text, " \t"))]
		if bytes.IndexByte(indent, '\t') >= 0 {
			return i
		}
	}
	return line
}

// maxProblemScan bounds the lines problemLine tries, so that a huge file
// costs at most this many extra parses.
const maxProblemScan = 2000

// problemLine returns the line of a parser error that the YAML library
// reported at from, the start of the mapping or list it was parsing: the
// first line, from there on, such that the file cut after that line fails
// with the same message. Every line before it parsed (the text above it
// is well-formed), so it is the line that broke the construct. When no
// such line is found, from is returned.
func problemLine(data []byte, from int, msg string) int {
	lines := bytes.SplitAfter(data, []byte("\n"))
	end := 0
	for _, l := range lines[:min(from-1, len(lines))] {
		end += len(l)
	}
	for k := from; k <= len(lines) && k < from+maxProblemScan; k++ {
		end += len(lines[k-1])
		var n yaml.Node
		err := unmarshalYAML(data[:end], &n)
		if err == nil {
			continue
		}
		if m := yamlLineRE().FindStringSubmatch(err.Error()); m != nil && m[2] == msg {
			return k
		}
	}
	return from
}

// unmarshalYAML is yaml.Unmarshal, turning a panic into an error.
func unmarshalYAML(data []byte, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: cannot parse: %v", r)
		}
	}()
	return yaml.Unmarshal(data, n)
}

func (d *decoder) config(root *yaml.Node) *Config {
	if !d.isKind(root, yaml.MappingNode, "", "the file", "a mapping of "+strings.Join(keysOf[Config](), ", ")) {
		return nil
	}
	c := newWithDefaults[Config]()
	c.File = d.file
	f, _ := d.decodeInto(root, "", c, root.Line)
	c.stateDirLine = f.line("state_dir")
	c.apiTokenLine = f.line("api_token_file")
	c.geoIPLine = f.line("geoip_db")
	c.accessLogLine = f.line("access_log")

	// probe_timeout defaults to a share of probe_interval, so only a
	// timeout the file sets can be too long, and it is compared with an
	// interval the file sets only when that interval is valid.
	if e, ok := f.get("probe_timeout"); !ok || f.bad["probe_timeout"] {
		c.ProbeTimeout = ProbeTimeoutFor(c.ProbeInterval)
	} else if t := c.ProbeTimeout; t > c.ProbeInterval && !f.bad["probe_interval"] {
		if line := f.line("probe_interval"); line > 0 {
			d.errorf(e.val.Line, "", "probe_timeout %s: must not be longer than probe_interval %s (line %d)", t, c.ProbeInterval, line)
		} else {
			d.errorf(e.val.Line, "", "probe_timeout %s: must not be longer than probe_interval, which is %s by default", t, c.ProbeInterval)
		}
	}

	if e, ok := f.get("repos"); ok {
		c.Repos = d.repos(e)
		for i := range c.Repos {
			for j := range c.Repos[i].Mirrors {
				if m := c.Repos[i].Mirrors[j].S3; m != nil {
					m.LeaseTTL = c.LeaseTTL
					m.Holder = c.LeaseHolder
				}
			}
		}
	}
	return c
}

func (d *decoder) repos(e entry) []Repo {
	if !d.isKind(e.val, yaml.SequenceNode, "", e.name, "a list of repos") {
		return nil
	}
	// An empty list is a valid configuration: the daemon then serves an
	// empty status page, which is what a freshly installed package runs.
	var repos []Repo
	seen := map[string]int{} // repo name -> line
	for i, n := range e.val.Content {
		where := fmt.Sprintf("repos[%d]", i)
		if name, ok := peekName(n); ok {
			where = fmt.Sprintf("repo %q", name)
		}
		nodes, vars := d.expand(n, where)
		for j, n := range nodes {
			if r, ok := d.repo(n, i, seen); ok {
				r.Vars = vars[j]
				repos = append(repos, r)
			}
		}
	}
	return repos
}

func (d *decoder) repo(n *yaml.Node, i int, seen map[string]int) (Repo, bool) {
	where := fmt.Sprintf("repos[%d]", i)
	if name, ok := peekName(n); ok {
		where = fmt.Sprintf("repo %q", name)
	}
	if !d.isKind(n, yaml.MappingNode, "", where, "a mapping of "+strings.Join(keysOf[Repo](), ", ")) {
		return Repo{}, false
	}
	r := newWithDefaults[Repo]()
	r.Line = n.Line
	f, _ := d.decodeInto(n, where, r, n.Line)

	if e, ok := f.get("name"); ok {
		if name, ok := d.str(e, where); ok {
			if problem := nameProblem(name); problem != "" {
				d.errorf(e.val.Line, "", "repo name %q: %s", name, problem)
			} else if first, dup := seen[name]; dup {
				d.errorf(e.val.Line, "", "repo name %q is already used at line %d", name, first)
			} else {
				seen[name] = e.val.Line
				r.Name = name
			}
		}
	}
	if _, ok := f.get("mirrorlist_name"); !ok || f.bad["mirrorlist_name"] {
		r.MirrorlistName = r.Name
	}
	r.listLine = or(f.line("mirrorlist_name"), f.line("arch"))
	r.authLine = f.line("origin_auth_file")
	r.signWithLine = f.line("sign_with")

	d.origin(f, n.Line, where, r)

	if _, ok := f.get("repo_gpgkeys"); !ok {
		r.RepoGPGKeys, r.RepoGPGKeyLines = r.GPGKeys, r.GPGKeyLines
	}
	if e, ok := f.get("repo_gpgcheck"); ok && r.RepoGPGCheck && len(r.RepoGPGKeys) == 0 {
		d.errorf(e.val.Line, where, "repo_gpgcheck: true needs the keys repomd.xml is signed with: set repo_gpgkeys (or gpgkeys)")
	}
	if e, ok := f.get("repo_gpgkeys"); ok && !r.RepoGPGCheck && len(r.RepoGPGKeys) > 0 {
		d.errorf(e.val.Line, where, "repo_gpgkeys is set but repo_gpgcheck is not true: the keys would not be used (add repo_gpgcheck: true)")
	}

	if e, ok := f.get("sign_with"); ok && r.SignWith != "" {
		if _, filtered := f.get("filter"); !filtered && !f.guessed["filter"] && !f.bad["filter"] {
			d.errorf(e.val.Line, where, "sign_with is set but filter is not: rpmirror signs only the repomd.xml it writes for a filtered mirror (add a filter, or leave sign_with out)")
		}
	}

	if e, ok := f.get("mirrors"); ok {
		r.Mirrors = d.mirrors(e, where)
	} else {
		d.missing(f, "mirrors", n.Line, where, "at least one mirror is required")
	}
	return *r, true
}

// origin decodes origin (one URL or a list of them), origin_metalink or
// origin_mirrorlist: exactly one of them.
func (d *decoder) origin(f keys, line int, where string, r *Repo) {
	var given []entry
	for _, k := range []string{"origin", "origin_metalink", "origin_mirrorlist"} {
		if e, ok := f.get(k); ok {
			given = append(given, e)
		}
	}
	switch len(given) {
	case 0:
		d.missing(f, "origin", line, where, "the URL of the repository to mirror")
		return
	case 1:
	default:
		var also []string
		for _, e := range given[1:] {
			also = append(also, fmt.Sprintf("%s at line %d", e.name, e.key.Line))
		}
		d.errorf(given[1].key.Line, where, "%s (line %d) and %s: give only one of origin, origin_metalink and origin_mirrorlist", given[0].name, given[0].key.Line, strings.Join(also, ", "))
		return
	}
	e := given[0]
	switch e.name {
	case "origin_metalink", "origin_mirrorlist":
		s, ok := d.str(e, where)
		if !ok {
			return
		}
		u, problem := checkListURL(s)
		if problem != "" {
			d.errorf(e.val.Line, where, "%s %q: %s", e.name, redact(s), problem)
			return
		}
		if e.name == "origin_metalink" {
			r.OriginMetalink = u
		} else {
			r.OriginMirrorlist = u
		}
		r.originLine = e.val.Line
		return
	}
	if e.val.Kind != yaml.SequenceNode {
		if u, ok := d.url(e, where, true); ok {
			r.Origin, r.originLine = u, e.val.Line
			r.Origins, r.originLines = []string{u}, []int{e.val.Line}
		}
		return
	}
	if len(e.val.Content) == 0 {
		d.errorf(e.val.Line, where, "origin is an empty list: want the URL of the repository, or a list of URLs serving it, primary first")
		return
	}
	seen := map[string]int{}
	ok := true
	for _, item := range e.val.Content {
		u, good := d.url(entry{name: e.name, key: e.key, val: item}, where, true)
		if !good {
			ok = false
			continue
		}
		if first, dup := seen[u]; dup {
			d.errorf(item.Line, where, "origin %q is listed twice (first at line %d)", redact(u), first)
			ok = false
			continue
		}
		seen[u] = item.Line
		r.Origins = append(r.Origins, u)
		r.originLines = append(r.originLines, item.Line)
	}
	if !ok {
		r.Origins, r.originLines = nil, nil
		return
	}
	r.Origin, r.originLine = r.Origins[0], r.originLines[0]
}

func (d *decoder) mirrors(e entry, repoWhere string) []Mirror {
	if !d.isKind(e.val, yaml.SequenceNode, repoWhere, e.name, "a list of mirrors") {
		return nil
	}
	if len(e.val.Content) == 0 {
		d.errorf(e.val.Line, repoWhere, "mirrors is empty: at least one mirror is required")
		return nil
	}
	var ms []Mirror
	seen := map[string]int{} // mirror name -> line
	type named struct {
		name string
		line int
	}
	seenURL := map[string]named{} // mirror url, without a trailing slash -> its mirror
	for i, n := range e.val.Content {
		where := fmt.Sprintf("%s: mirrors[%d]", repoWhere, i)
		if name, ok := peekName(n); ok {
			where = fmt.Sprintf("%s: mirror %q", repoWhere, name)
		}
		if !d.isKind(n, yaml.MappingNode, "", where, "a mapping of "+strings.Join(keysOf[Mirror](), ", ")) {
			continue
		}
		m := newWithDefaults[Mirror]()
		m.Line = n.Line
		f, _ := d.decodeInto(n, where, m, n.Line)
		m.pathLine = f.line("path")

		if e, ok := f.get("name"); ok {
			if name, ok := d.str(e, where); ok {
				if problem := nameProblem(name); problem != "" {
					d.errorf(e.val.Line, repoWhere, "mirror name %q: %s", name, problem)
				} else if first, dup := seen[name]; dup {
					d.errorf(e.val.Line, repoWhere, "mirror name %q is already used at line %d", name, first)
				} else {
					seen[name] = e.val.Line
					m.Name = name
				}
			}
		}

		if e, ok := f.get("url"); ok && m.URL != "" {
			// The lists and the probes know a mirror by its URL: two
			// at one were listed once, in a place neither's selection
			// rules chose (a tester's private mirror took a public
			// one's place and dropped it from the written lists).
			key := strings.TrimSuffix(m.URL, "/")
			if first, dup := seenURL[key]; dup {
				d.errorf(e.val.Line, where, "url %q is mirror %q's already (line %d): one URL is one mirror", redact(m.URL), first.name, first.line)
			} else {
				seenURL[key] = named{m.Name, e.val.Line}
			}
		}

		_, pathGiven := f.get("path")
		_, s3Given := f.get("s3")
		if f.bad["s3"] {
			m.S3 = nil
		}
		if e, ok := f.get("s3"); ok && pathGiven && m.S3 != nil {
			d.errorf(e.key.Line, where, "both path and s3: a written mirror is a directory or a place in object storage, not both")
			m.S3 = nil
		}
		if _, urlGiven := f.get("url"); !urlGiven && !pathGiven && !s3Given && !f.guessed["path"] && !f.guessed["url"] && !f.guessed["s3"] {
			d.errorf(n.Line, where, "neither path nor url: a mirror rpmirror writes needs a path (or s3), one it only probes needs a url")
		}
		if e, ok := f.get("private"); ok && m.Private && len(m.Networks) == 0 && !f.guessed["networks"] {
			if _, given := f.get("networks"); !given {
				d.errorf(e.val.Line, where, "private: true needs networks: a private mirror is listed only to clients inside its networks")
			}
		}
		ms = append(ms, *m)
	}
	return ms
}

// crossCheck checks profile, which needs credentials_file.
func (m *S3) crossCheck(d *decoder, f keys, where string) bool {
	e, given := f.get("profile")
	if !given {
		return true
	}
	s, ok := d.str(e, where)
	if !ok {
		return true
	}
	if _, file := f.get("credentials_file"); !file {
		d.errorf(e.val.Line, where, "profile %q is set but credentials_file is not: the profile would not be used (the environment's AWS_ACCESS_KEY_ID is)", s)
	} else if s == "" || strings.ContainsAny(s, "[]\n") {
		d.errorf(e.val.Line, where, "profile %q: want the name of a [section] of credentials_file", s)
	} else {
		m.Profile = s
	}
	return true
}

// regionName reports whether s is a region name such as us-east-1: 1 to
// 64 lowercase letters, digits and '-', beginning and ending with a
// letter or digit. (As a regular expression, ^[a-z0-9]([a-z0-9-]{0,62}
// [a-z0-9])?$, compiled when the package was loaded, it took 0.4 to
// 0.8 ms of every command's start: its repetition is 62 copies of a
// class.)
func regionName(s string) bool {
	return nameOf(s, 1, 64, "-")
}

// nameOf reports whether s has lo to hi bytes, each a lowercase
// letter, a digit or one of inner, those of inner neither first nor
// last.
func nameOf(s string, lo, hi int, inner string) bool {
	if len(s) < lo || len(s) > hi {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case i > 0 && i < len(s)-1 && strings.IndexByte(inner, c) >= 0:
		default:
			return false
		}
	}
	return true
}

// endpointProblem says what is wrong with an object store's endpoint.
func endpointProblem(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return "want an http or https URL such as https://s3.example.org"
	case u.User != nil:
		return "must not hold credentials: use credentials_file or the environment"
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
		return "want the store's URL without a path: put the bucket in bucket and the directory in prefix"
	}
	return ""
}

// bucketProblem applies S3's bucket naming rules.
func bucketProblem(s string) string {
	if !nameOf(s, 3, 63, ".-") || strings.Contains(s, "..") {
		return "want 3 to 63 lowercase letters, digits, '.' and '-', beginning and ending with a letter or digit"
	}
	return ""
}

// prefixProblem says what is wrong with a key prefix.
func prefixProblem(s string) string {
	if s == "" {
		return ""
	}
	if !strings.HasSuffix(s, "/") {
		return fmt.Sprintf("must end with \"/\" (write %q), or be \"\" for the bucket's root", s+"/")
	}
	for _, el := range strings.Split(strings.TrimSuffix(s, "/"), "/") {
		switch {
		case el == "" || el == "." || el == "..":
			return "want a relative path of names, with no empty, \".\" or \"..\" element"
		case strings.HasPrefix(el, ".rpmirror"):
			return "must not name rpmirror's own files (.rpmirror)"
		case strings.ContainsFunc(el, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }):
			return "must not hold control characters or backslashes"
		}
	}
	return ""
}

// keys are the known keys found in a mapping.
type keys struct {
	entries map[string]entry
	guessed map[string]bool // known keys that an unknown key was probably meant to be
	bad     map[string]bool // keys whose value was refused
}

// line returns the line of name's value if it was given and good, or 0.
func (k keys) line(name string) int {
	if e, ok := k.get(name); ok && !k.bad[name] {
		return e.val.Line
	}
	return 0
}

// get returns the entry for name if it is there with a value: a key with
// no value (null) counts as left out.
func (k keys) get(name string) (entry, bool) {
	e, ok := k.entries[name]
	return e, ok && !isNull(e.val)
}

// missing records that the required key name is missing from the mapping
// at line, unless an unknown key in n was probably meant to be it: that problem has
// been recorded already.
func (d *decoder) missing(k keys, name string, line int, where, why string) {
	if k.guessed[name] {
		return
	}
	if e, ok := k.entries[name]; ok {
		line = e.key.Line
	}
	d.errorf(line, where, "missing %s: %s", name, why)
}

// fields returns the known keys of mapping n, recording a problem for each
// key that is not known or given twice.
func (d *decoder) fields(n *yaml.Node, where string, known []string) keys {
	k := keys{entries: make(map[string]entry, len(known)), guessed: map[string]bool{}, bad: map[string]bool{}}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, v := n.Content[i], n.Content[i+1]
		if kn.Kind != yaml.ScalarNode || isNull(kn) {
			d.errorf(kn.Line, where, "keys must be plain words, found %s", describe(kn))
			continue
		}
		name := kn.Value
		if !slices.Contains(known, name) {
			guess := guessKey(name, known)
			hint := "valid keys here: " + strings.Join(known, ", ")
			switch {
			case name == "<<":
				hint = "merge keys are not supported: write the keys out; " + hint
			case guess != "":
				k.guessed[guess] = true
				hint = fmt.Sprintf("did you mean %q? %s", guess, hint)
			}
			d.errorf(kn.Line, where, "unknown key %q (%s)", name, hint)
			continue
		}
		if first, dup := k.entries[name]; dup {
			d.errorf(kn.Line, where, "%s is given twice (first at line %d)", name, first.key.Line)
			continue
		}
		k.entries[name] = entry{name: name, key: kn, val: v}
	}
	return k
}

// guessKey returns the known key name was probably meant to be, or "".
func guessKey(name string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if dist := editDistance(strings.ToLower(name), k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes; keys
// are ASCII.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// isKind reports whether n is of kind want, recording a problem if not.
// what names the value in the message, wantDesc describes what was wanted.
func (d *decoder) isKind(n *yaml.Node, want yaml.Kind, where, what, wantDesc string) bool {
	if n.Kind == want && (want != yaml.ScalarNode || !isNull(n)) {
		return true
	}
	if n.Kind == yaml.AliasNode {
		d.errorf(n.Line, where, "%s: aliases (*%s) are not supported: write the value out", what, n.Value)
		return false
	}
	d.errorf(n.Line, where, "%s: expected %s, found %s", what, wantDesc, describe(n))
	return false
}

// str returns the text of a scalar value. Numbers and booleans are taken
// as written: a name of 9 is the string "9".
func (d *decoder) str(e entry, where string) (string, bool) {
	if !d.isKind(e.val, yaml.ScalarNode, where, e.name, "a string") {
		return "", false
	}
	switch tag := e.val.ShortTag(); tag {
	case "!!str", "!!int", "!!float", "!!bool", "!!timestamp":
		return e.val.Value, true
	default:
		d.errorf(e.val.Line, where, "%s: the tag %s is not supported", e.name, e.val.Tag)
		return "", false
	}
}

func (d *decoder) boolean(e entry, where string) (bool, bool) {
	if !d.isKind(e.val, yaml.ScalarNode, where, e.name, "true or false") {
		return false, false
	}
	if e.val.ShortTag() != "!!bool" {
		d.errorf(e.val.Line, where, "%s: expected true or false, found %s", e.name, describe(e.val))
		return false, false
	}
	var b bool
	if err := e.val.Decode(&b); err != nil {
		d.errorf(e.val.Line, where, "%s: expected true or false, found %s", e.name, describe(e.val))
		return false, false
	}
	return b, true
}

// size parses a byte count: a whole number, optionally followed by KiB,
// MiB, GiB or TiB (or KB, MB, GB, TB for powers of 1000).
func (d *decoder) size(e entry, where string, lo, hi int64) (int64, bool) {
	if !d.isKind(e.val, yaml.ScalarNode, where, e.name, "a size such as 512MiB") {
		return 0, false
	}
	n, err := parseSize(e.val.Value)
	if err != nil {
		d.errorf(e.val.Line, where, "%s %q: %v", e.name, e.val.Value, err)
		return 0, false
	}
	if n < lo || n > hi {
		d.errorf(e.val.Line, where, "%s %q: out of range %d..%d bytes", e.name, e.val.Value, lo, hi)
		return 0, false
	}
	return n, true
}

func (d *decoder) integer(e entry, where string, lo, hi int) (int, bool) {
	if !d.isKind(e.val, yaml.ScalarNode, where, e.name, "a whole number") {
		return 0, false
	}
	if e.val.ShortTag() != "!!int" {
		d.errorf(e.val.Line, where, "%s: expected a whole number, found %s", e.name, describe(e.val))
		return 0, false
	}
	var n int
	if err := e.val.Decode(&n); err != nil || n < lo || n > hi {
		d.errorf(e.val.Line, where, "%s %s: out of range %d..%d", e.name, e.val.Value, lo, hi)
		return 0, false
	}
	return n, true
}

// duration parses a Go duration ("90s", "1h30m"); a bare 0 is allowed.
// With positive, zero is a problem too.
func (d *decoder) duration(e entry, where string, positive bool) (time.Duration, bool) {
	s, ok := d.str(e, where)
	if !ok {
		return 0, false
	}
	t, err := time.ParseDuration(s)
	switch {
	case err != nil:
		d.errorf(e.val.Line, where, "%s %q: %s", e.name, s, durationProblem(err))
	case t < 0:
		d.errorf(e.val.Line, where, "%s %q: must not be negative", e.name, s)
	case positive && t == 0:
		d.errorf(e.val.Line, where, "%s %q: must be greater than zero", e.name, s)
	default:
		return t, true
	}
	return 0, false
}

// durationProblem rewords an error of time.ParseDuration without repeating
// the value, which the caller's message already shows.
func durationProblem(err error) string {
	msg := strings.TrimPrefix(err.Error(), "time: ")
	switch {
	case strings.HasPrefix(msg, "missing unit"):
		return "missing unit (valid units: ns, us, ms, s, m, h; for example 90s, 15m, 24h)"
	case strings.HasPrefix(msg, "unknown unit"):
		unit, _, _ := strings.Cut(strings.TrimPrefix(msg, "unknown unit "), " in duration")
		return fmt.Sprintf("unknown unit %s (valid units: ns, us, ms, s, m, h; for example 90s, 15m, 24h)", unit)
	}
	return "not a duration (for example 90s, 15m, 24h, 1h30m)"
}

// path returns a path value made absolute against the file's directory
// and cleaned.
func (d *decoder) path(e entry, where string) (string, bool) {
	s, ok := d.str(e, where)
	if !ok {
		return "", false
	}
	switch {
	case s == "":
		d.errorf(e.val.Line, where, "%s: empty path", e.name)
	case strings.ContainsRune(s, 0):
		d.errorf(e.val.Line, where, "%s %q: a path cannot contain a NUL byte", e.name, s)
	case strings.HasPrefix(s, "~"):
		d.errorf(e.val.Line, where, "%s %q: ~ is not expanded: write the full path", e.name, s)
	case strings.Contains(s, "://"):
		d.errorf(e.val.Line, where, "%s %q: write a local path, not a URL", e.name, redact(s))
	default:
		if !filepath.IsAbs(s) {
			s = filepath.Join(d.dir, s)
		}
		return filepath.Clean(s), true
	}
	return "", false
}

// url validates a URL value and returns it normalized to end in "/".
// allowFile admits file:///absolute/path URLs (for origins).
func (d *decoder) url(e entry, where string, allowFile bool) (string, bool) {
	s, ok := d.str(e, where)
	if !ok {
		return "", false
	}
	u, problem := checkURL(s, allowFile)
	if problem != "" {
		d.errorf(e.val.Line, where, "%s %q: %s", e.name, redact(s), problem)
		return "", false
	}
	return u, true
}

// networks decodes a list of CIDR networks ("10.20.0.0/16",
// "2001:db8::/32"); a single address stands for itself (/32 or /128).
func (d *decoder) networks(e entry, where string) ([]netip.Prefix, bool) {
	if e.val.Kind == yaml.ScalarNode && !isNull(e.val) {
		d.errorf(e.val.Line, where, "%s: expected a list of networks, found %s: write %s: [%q]", e.name, describe(e.val), e.name, e.val.Value)
		return nil, false
	}
	if !d.isKind(e.val, yaml.SequenceNode, where, e.name, "a list of networks such as 10.20.0.0/16") {
		return nil, false
	}
	var ps []netip.Prefix
	ok := true
	for _, n := range e.val.Content {
		s, good := d.str(entry{name: e.name, key: e.key, val: n}, where)
		if !good {
			ok = false
			continue
		}
		p, problem := parseNetwork(s)
		if problem != "" {
			d.errorf(n.Line, where, "%s: %q: %s", e.name, s, problem)
			ok = false
			continue
		}
		ps = append(ps, p)
	}
	return ps, ok
}

// parseNetwork parses a CIDR network or a single address.
func parseNetwork(s string) (netip.Prefix, string) {
	if strings.Contains(s, "%") {
		return netip.Prefix{}, "a zone (%...) is not allowed"
	}
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, "not an IP network: want ADDRESS/BITS, such as 10.20.0.0/16 or 2001:db8::/32"
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), ""
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, "not an IP network: want ADDRESS/BITS, such as 10.20.0.0/16 or 2001:db8::/32"
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, fmt.Sprintf("has bits set after the first %d: did you mean %s?", p.Bits(), m)
	}
	return p, ""
}

// listNames records repos that clients could not tell apart: two with the
// same mirrorlist_name and arch.
func (d *decoder) listNames(c *Config) {
	type key struct{ name, arch string }
	first := map[key]*Repo{}
	for i := range c.Repos {
		r := &c.Repos[i]
		if r.Name == "" || r.MirrorlistName == "" {
			continue
		}
		k := key{r.MirrorlistName, r.Arch}
		o, dup := first[k]
		if !dup {
			first[k] = r
			continue
		}
		what := fmt.Sprintf("mirrorlist_name %q", r.MirrorlistName)
		if r.Arch != "" {
			what += fmt.Sprintf(" with arch %q", r.Arch)
		}
		d.errorf(or(r.listLine, r.Line), repoDesc(*r), "%s is also that of %s (line %d): clients could not tell them apart", what, repoDesc(*o), o.Line)
	}
}

// peekName returns the value of the name key of mapping n, if it is a
// non-empty scalar, for naming the repo or mirror in messages about its
// other keys.
func peekName(n *yaml.Node) (string, bool) {
	if n.Kind != yaml.MappingNode {
		return "", false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == "name" && v.Kind == yaml.ScalarNode && !isNull(v) && v.Value != "" {
			return v.Value, true
		}
	}
	return "", false
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe says what a node is, for "expected X, found Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if isNull(n) {
			return "no value"
		}
		v := redact(n.Value)
		if utf8.RuneCountInString(v) > 40 {
			v = string([]rune(v)[:40]) + "..."
		}
		return strconv.Quote(v)
	}
	return "nothing"
}
