package config

import (
	"fmt"
	"net/netip"
	"path"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/rpmirror/rpmirror/geo"
	hide "github.com/rpmirror/rpmirror/internal/redact"
)

// A struct stands for a mapping of the file through the tags of its
// fields. Its fields with a yaml tag are the mapping's keys, in the order
// messages list them; the decoder reads each value by the field's Go type
// (string, bool, int, int64 sizes, time.Duration, []string,
// []netip.Prefix, a struct or a pointer to one for a nested mapping) and
// these tags:
//
//	yaml:"key"           the key; yaml:"key,omitempty": an empty string
//	                     counts as left out
//	default:"text"       the value when the key is left out or has no
//	                     value, written as in the file and read by the same
//	                     rules (so the default is checked like a value)
//	required:"why"       leaving the key out is a problem: "missing KEY: why"
//	null:"what to do"    the key given with no value (null, as when every
//	                     line under it is commented out) is a problem:
//	                     "KEY has no value: what to do"; without this tag
//	                     such a key counts as left out
//	kind:"K"             how a string (or each string of a list) is read:
//	                     path (made absolute, cleaned), dir (a path that is
//	                     not "/"), url (http or https), log (a path or
//	                     "-"), size (an int64 such as 512MiB); custom: not
//	                     decoded here, the caller decodes it from the keys
//	                     returned
//	check:"name"         checks[name] checks (and may normalize) a string
//	range:"lo..hi"       bounds of a whole number or a size, inclusive
//	positive:""          a duration must not be zero
//	min:"1s" why:"..."   a duration must be at least this; why explains
//	items:"noun"         a list: "expected a list of NOUN"
//	unique:""            a list: an item given twice is a problem
//	empty:"want"         a list: an empty item is a problem ("empty entry: want ...")
//	emptylist:"why"      a list: an empty list is a problem ("KEY is WHY")
//	line:"Field"         the int field (a []int for a list) set to the
//	                     line of the value (of each item) when it is good
//	keyline:""           on a nested struct's int field: the line of the
//	                     key that holds the mapping
//
// A nested mapping's struct may add rules that involve several of its
// keys by implementing crossChecker. Defaults live in the default tags and
// nowhere else in the decoder; the exported Default constants are checked
// against them by a test.

// fieldSpec is one key of a mapping, read from a struct field's tags.
type fieldSpec struct {
	key       string
	index     int
	typ       reflect.Type
	omitEmpty bool
	def       *yaml.Node // nil: no default
	required  string
	null      string
	kind      string
	check     string
	lo, hi    int64
	positive  bool
	min       time.Duration
	why       string
	items     string
	unique    bool
	empty     string
	emptyList string
	line      string
}

// structSpec is the keys of a mapping and where the struct wants the
// line of its key.
type structSpec struct {
	fields  []fieldSpec
	keys    []string
	keyLine int // index of the keyline field, or -1
}

var (
	specMu    sync.Mutex
	specCache = map[reflect.Type]*structSpec{}
)

var (
	durationType = reflect.TypeFor[time.Duration]()
	prefixType   = reflect.TypeFor[netip.Prefix]()
)

// specOf returns the spec of struct type t. A malformed tag is a
// programming error and panics (every spec is built by the tests).
func specOf(t reflect.Type) *structSpec {
	specMu.Lock()
	defer specMu.Unlock()
	if s, ok := specCache[t]; ok {
		return s
	}
	s := &structSpec{keyLine: -1}
	for i := range t.NumField() {
		f := t.Field(i)
		if _, ok := f.Tag.Lookup("keyline"); ok {
			s.keyLine = i
		}
		tag, ok := f.Tag.Lookup("yaml")
		if !ok || tag == "-" {
			continue
		}
		key, opts, _ := strings.Cut(tag, ",")
		fs := fieldSpec{
			key:       key,
			index:     i,
			typ:       f.Type,
			omitEmpty: opts == "omitempty",
			required:  f.Tag.Get("required"),
			null:      f.Tag.Get("null"),
			kind:      f.Tag.Get("kind"),
			check:     f.Tag.Get("check"),
			why:       f.Tag.Get("why"),
			items:     f.Tag.Get("items"),
			empty:     f.Tag.Get("empty"),
			emptyList: f.Tag.Get("emptylist"),
			line:      f.Tag.Get("line"),
		}
		_, fs.positive = f.Tag.Lookup("positive")
		_, fs.unique = f.Tag.Lookup("unique")
		if r, ok := f.Tag.Lookup("range"); ok {
			lo, hi, _ := strings.Cut(r, "..")
			fs.lo, fs.hi = mustParseBound(lo), mustParseBound(hi)
		}
		if m, ok := f.Tag.Lookup("min"); ok {
			fs.min = mustParse(time.ParseDuration(m))
		}
		if def, ok := f.Tag.Lookup("default"); ok {
			var doc yaml.Node
			if err := yaml.Unmarshal([]byte(def), &doc); err != nil || len(doc.Content) != 1 {
				panic(fmt.Sprintf("config: %s.%s: bad default %q", t.Name(), f.Name, def))
			}
			fs.def = doc.Content[0]
		}
		if fs.check != "" {
			if _, ok := checks[fs.check]; !ok {
				panic(fmt.Sprintf("config: %s.%s: unknown check %q", t.Name(), f.Name, fs.check))
			}
		}
		s.fields = append(s.fields, fs)
		s.keys = append(s.keys, key)
	}
	specCache[t] = s
	return s
}

// keysOf returns the keys of the mapping struct type T stands for.
func keysOf[T any]() []string { return specOf(reflect.TypeFor[T]()).keys }

func mustParseBound(s string) int64 {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n
	}
	return mustParse(parseSize(s))
}

func mustParse[T any](v T, err error) T {
	if err != nil {
		panic("config: bad tag: " + err.Error())
	}
	return v
}

// A check says what is wrong with a string value, or returns the value
// as it is to be kept (normalized) and "". show is how the value appears
// in the message ("KEY %q: PROBLEM"): as written unless it may hold a
// secret.
type check struct {
	fn   func(s string) (value, problem string)
	show func(s string) string
}

func problemOnly(f func(string) string) func(string) (string, string) {
	return func(s string) (string, string) { return s, f(s) }
}

// checks are the checks named by check tags.
var checks = map[string]check{
	"listen":   {fn: problemOnly(listenProblem)},
	"webhook":  {fn: problemOnly(webhookProblem), show: hide.URL},
	"name":     {fn: problemOnly(nameProblem)},
	"country":  {fn: problemOnly(geo.CountryProblem)},
	"checksum": {fn: problemOnly(minChecksumProblem)},
	"schedule": {fn: problemOnly(func(s string) string {
		if err := ValidateCron(s); err != nil {
			return err.Error()
		}
		return ""
	})},
	"snapshot": {fn: problemOnly(func(s string) string {
		if !ValidSnapshotName(s) {
			return "not a snapshot name: want the UTC time it was taken, as 20261126T120000Z"
		}
		return ""
	})},
	"glob": {fn: problemOnly(func(s string) string {
		if _, err := path.Match(s, ""); err != nil {
			return `not a valid glob: want *, ? and [...] as in "glusterfs*", with every [ closed and no \ at the end`
		}
		if strings.Contains(s, "/") {
			return `a glob matches package names, which hold no "/"`
		}
		return ""
	})},
	"endpoint": {fn: func(s string) (string, string) {
		return strings.TrimSuffix(s, "/"), endpointProblem(s)
	}, show: redact},
	"bucket": {fn: problemOnly(bucketProblem)},
	"prefix": {fn: problemOnly(prefixProblem)},
	"region": {fn: problemOnly(func(s string) string {
		if !regionName(s) {
			return "want a region name such as us-east-1"
		}
		return ""
	})},
}

// minChecksumProblem says what is wrong with a min_checksum value.
func minChecksumProblem(s string) string {
	if checksumStrength(s) < 0 {
		return "want one of " + strings.Join(ChecksumTypes, ", ")
	}
	return ""
}

// setDefaults sets every field of the struct v that has a default tag,
// and those of the structs (not pointers to structs) it holds.
func setDefaults(v reflect.Value) {
	d := &decoder{}
	for i := range specOf(v.Type()).fields {
		fs := &specOf(v.Type()).fields[i]
		if fs.typ.Kind() == reflect.Struct && fs.typ != durationType {
			setDefaults(v.Field(fs.index))
		}
		if fs.def == nil {
			continue
		}
		if !d.value(fs, entry{name: fs.key, key: fs.def, val: fs.def}, "", v) {
			panic(fmt.Sprintf("config: default of %s.%s: %v", v.Type().Name(), fs.key, d.errs))
		}
	}
}

// newWithDefaults returns a new T with its defaults set.
func newWithDefaults[T any]() *T {
	p := new(T)
	setDefaults(reflect.ValueOf(p).Elem())
	return p
}

// decodeInto decodes mapping n (already known to be one) into the struct
// dst points to, whose defaults must already be set: every key that is
// not of kind custom. where says where n is for messages; keyLine is the
// line a missing key is reported at. It returns the keys found, for the
// caller to decode the custom ones and check what involves several, and
// whether every value was good and no required key was missing.
func (d *decoder) decodeInto(n *yaml.Node, where string, dst any, keyLine int) (keys, bool) {
	v := reflect.ValueOf(dst).Elem()
	spec := specOf(v.Type())
	f := d.fields(n, where, spec.keys)
	ok := true
	for i := range spec.fields {
		fs := &spec.fields[i]
		e, given := f.get(fs.key)
		if !given {
			if e, present := f.entries[fs.key]; present && fs.null != "" {
				d.errorf(e.key.Line, where, "%s has no value: %s", fs.key, fs.null)
				f.bad[fs.key] = true
				ok = false
				continue
			}
			if fs.required != "" {
				d.missing(f, fs.key, keyLine, where, fs.required)
				ok = false
			}
			continue
		}
		if fs.kind == "custom" {
			continue
		}
		if !d.value(fs, e, where, v) {
			f.bad[fs.key] = true
			ok = false
		}
	}
	return f, ok
}

// A crossChecker is a mapping struct with rules that involve several of
// its keys, checked after its keys are decoded. crossCheck records the
// problems it finds and reports whether there were none.
type crossChecker interface {
	crossCheck(d *decoder, f keys, where string) bool
}

// value decodes the value of one key into its field of the struct v,
// reporting whether it was good.
func (d *decoder) value(fs *fieldSpec, e entry, where string, v reflect.Value) bool {
	fv := v.Field(fs.index)
	setLine := func(line int) {
		if fs.line != "" {
			v.FieldByName(fs.line).SetInt(int64(line))
		}
	}
	switch {
	case fs.typ == durationType:
		t, ok := d.duration(e, where, fs.positive)
		if !ok {
			return false
		}
		if t < fs.min {
			msg := fmt.Sprintf("%s %q: must be at least %s", e.name, e.val.Value, fs.min)
			if fs.why != "" {
				msg += " (" + fs.why + ")"
			}
			d.errorf(e.val.Line, where, "%s", msg)
			return false
		}
		fv.SetInt(int64(t))
	case fs.typ.Kind() == reflect.Bool:
		b, ok := d.boolean(e, where)
		if !ok {
			return false
		}
		fv.SetBool(b)
	case fs.typ.Kind() == reflect.Int:
		n, ok := d.integer(e, where, int(fs.lo), int(fs.hi))
		if !ok {
			return false
		}
		fv.SetInt(int64(n))
	case fs.typ.Kind() == reflect.Int64 && fs.kind == "size":
		n, ok := d.size(e, where, fs.lo, fs.hi)
		if !ok {
			return false
		}
		fv.SetInt(n)
	case fs.typ.Kind() == reflect.String:
		s, ok := d.scalar(fs, e, where)
		if !ok {
			return false
		}
		if s == "" && fs.omitEmpty {
			return true
		}
		fv.SetString(s)
	case fs.typ.Kind() == reflect.Slice && fs.typ.Elem() == prefixType:
		ps, ok := d.networks(e, where)
		if !ok {
			return false
		}
		fv.Set(reflect.ValueOf(ps))
	case fs.typ.Kind() == reflect.Slice && fs.typ.Elem().Kind() == reflect.String:
		list, lines, ok := d.list(fs, e, where)
		fv.Set(reflect.ValueOf(list))
		if fs.line != "" {
			v.FieldByName(fs.line).Set(reflect.ValueOf(lines))
		}
		return ok
	case fs.typ.Kind() == reflect.Struct, fs.typ.Kind() == reflect.Pointer && fs.typ.Elem().Kind() == reflect.Struct:
		t := fs.typ
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		spec := specOf(t)
		if !d.isKind(e.val, yaml.MappingNode, where, e.name, "a mapping of "+strings.Join(spec.keys, ", ")) {
			return false
		}
		sv := fv
		if fs.typ.Kind() == reflect.Pointer {
			sv = reflect.New(t)
			setDefaults(sv.Elem())
			fv.Set(sv)
			sv = sv.Elem()
		}
		if spec.keyLine >= 0 {
			sv.Field(spec.keyLine).SetInt(int64(e.key.Line))
		}
		inner := joinWhere(where, e.name)
		f, ok := d.decodeInto(e.val, inner, sv.Addr().Interface(), e.key.Line)
		if c, is := sv.Addr().Interface().(crossChecker); is && !c.crossCheck(d, f, inner) {
			ok = false
		}
		return ok
	default:
		panic(fmt.Sprintf("config: key %s: cannot decode into %s", fs.key, fs.typ))
	}
	setLine(e.val.Line)
	return true
}

// scalar reads a string value of the field's kind and applies its check.
func (d *decoder) scalar(fs *fieldSpec, e entry, where string) (string, bool) {
	var s string
	var ok bool
	switch fs.kind {
	case "":
		s, ok = d.str(e, where)
	case "path":
		s, ok = d.path(e, where)
	case "dir":
		if s, ok = d.path(e, where); ok && s == "/" {
			d.errorf(e.val.Line, where, "%s %q: must not be the root directory", e.name, e.val.Value)
			return "", false
		}
	case "url":
		s, ok = d.url(e, where, false)
	case "log":
		if s, ok = d.str(e, where); ok && s != "-" {
			s, ok = d.path(e, where)
		}
	default:
		panic("config: unknown kind " + fs.kind)
	}
	if !ok || fs.check == "" || (s == "" && fs.omitEmpty) {
		return s, ok
	}
	c := checks[fs.check]
	value, problem := c.fn(s)
	if problem != "" {
		show := s
		if c.show != nil {
			show = c.show(s)
		}
		d.errorf(e.val.Line, where, "%s %q: %s", e.name, show, problem)
		return "", false
	}
	return value, true
}

// list reads a list of strings of the field's kind: its items, their
// lines, and whether all were good.
func (d *decoder) list(fs *fieldSpec, e entry, where string) ([]string, []int, bool) {
	if e.val.Kind == yaml.ScalarNode {
		d.errorf(e.val.Line, where, "%s: expected a list of %s, found %s: write %s: [%q]", e.name, fs.items, describe(e.val), e.name, e.val.Value)
		return nil, nil, false
	}
	if !d.isKind(e.val, yaml.SequenceNode, where, e.name, "a list of "+fs.items) {
		return nil, nil, false
	}
	if fs.emptyList != "" && len(e.val.Content) == 0 {
		d.errorf(e.val.Line, where, "%s is %s", e.name, fs.emptyList)
		return nil, nil, false
	}
	var list []string
	var lines []int
	seen := map[string]int{}
	ok := true
	for _, n := range e.val.Content {
		if fs.empty != "" && (isNull(n) || (n.Kind == yaml.ScalarNode && n.Value == "")) {
			d.errorf(n.Line, where, "%s: empty entry: want %s", e.name, fs.empty)
			ok = false
			continue
		}
		item := *fs
		item.omitEmpty = false
		s, good := d.scalar(&item, entry{name: e.name, key: e.key, val: n}, where)
		if !good {
			ok = false
			continue
		}
		if first, dup := seen[s]; dup && fs.unique {
			d.errorf(n.Line, where, "%s %q is listed twice (first at line %d)", e.name, s, first)
			ok = false
			continue
		}
		seen[s] = n.Line
		list = append(list, s)
		lines = append(lines, n.Line)
	}
	return list, lines, ok
}

func joinWhere(where, key string) string {
	if where == "" {
		return key
	}
	return where + ": " + key
}
