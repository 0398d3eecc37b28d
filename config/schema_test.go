package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// The default and range tags are where the decoder takes defaults and
// limits from; the exported constants, which other packages use, must say
// the same.
func TestTagsMatchConstants(t *testing.T) {
	c := newWithDefaults[Config]()
	want := Config{
		Listen:            DefaultListen,
		ProbeInterval:     DefaultProbeInterval,
		MaxParallelSyncs:  DefaultMaxParallelSyncs,
		MaxParallelProbes: DefaultMaxParallelProbes,
		LeaseTTL:          DefaultLeaseTTL,
		Download: Download{
			Concurrency:     DefaultConcurrency,
			Retries:         DefaultRetries,
			ConnectTimeout:  DefaultConnectTimeout,
			StallTimeout:    DefaultStallTimeout,
			MaxMetadataSize: DefaultMaxMetadataSize,
		},
	}
	if !reflect.DeepEqual(*c, want) {
		t.Errorf("defaults of Config:\ngot  %+v\nwant %+v", *c, want)
	}

	if r := newWithDefaults[Repo](); r.Schedule != DefaultSchedule || r.PruneAfter != DefaultPruneAfter || r.MaxLag != DefaultMaxLag || r.MinChecksum != DefaultMinChecksum {
		t.Errorf("defaults of Repo: %+v", *r)
	}
	if m := newWithDefaults[Mirror](); m.Priority != DefaultPriority || m.Weight != DefaultWeight {
		t.Errorf("defaults of Mirror: %+v", *m)
	}
	if sn := newWithDefaults[Snapshots](); sn.Keep != DefaultSnapshotKeep || sn.KeepFor != DefaultSnapshotKeepFor {
		t.Errorf("defaults of Snapshots: %+v", *sn)
	}

	limits := []struct {
		typ    reflect.Type
		key    string
		lo, hi int64
	}{
		{reflect.TypeFor[Download](), "concurrency", MinConcurrency, MaxConcurrency},
		{reflect.TypeFor[Download](), "retries", MinRetries, MaxRetries},
		{reflect.TypeFor[Mirror](), "priority", MinPriority, MaxPriority},
		{reflect.TypeFor[Mirror](), "weight", MinWeight, MaxWeight},
		{reflect.TypeFor[Snapshots](), "keep", MinSnapshotKeep, MaxSnapshotKeep},
		{reflect.TypeFor[Filter](), "newest", 0, MaxNewest},
	}
	for _, l := range limits {
		for _, fs := range specOf(l.typ).fields {
			if fs.key == l.key && (fs.lo != l.lo || fs.hi != l.hi) {
				t.Errorf("%s: range %d..%d, want %d..%d", l.key, fs.lo, fs.hi, l.lo, l.hi)
			}
		}
	}
	for _, fs := range specOf(reflect.TypeFor[Config]()).fields {
		if fs.key == "lease_ttl" && fs.min != MinLeaseTTL {
			t.Errorf("lease_ttl: min %s, want %s", fs.min, MinLeaseTTL)
		}
	}
}

// sample exercises every tag of the generic decoder.
type sample struct {
	Name     string        `yaml:"name" required:"a name"`
	Sched    string        `yaml:"sched,omitempty" check:"schedule" default:"'@daily'"`
	Dir      string        `yaml:"dir" kind:"dir" line:"DirLine"`
	DirLine  int           `yaml:"-"`
	Wait     time.Duration `yaml:"wait" positive:"" min:"2s" why:"because" default:"5s"`
	Count    int           `yaml:"count" range:"1..3" default:"2"`
	Size     int64         `yaml:"size" kind:"size" range:"1KiB..1MiB"`
	Arches   []string      `yaml:"arches" check:"name" items:"arches" unique:"" empty:"an arch" emptylist:"an empty list, which keeps nothing" line:"ArchLine"`
	ArchLine []int
	Inner    *sampleInner `yaml:"inner"`
}

type sampleInner struct {
	On   bool `yaml:"on"`
	Line int  `keyline:""`
}

func (s *sampleInner) crossCheck(d *decoder, f keys, where string) bool {
	if e, ok := f.get("on"); ok && !s.On {
		d.errorf(e.val.Line, where, "on must be true")
		return false
	}
	return true
}

func TestDecodeInto(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want sample
		errs []string
	}{
		{name: "defaults", yaml: "name: x\n", want: sample{Name: "x", Sched: "@daily", Wait: 5 * time.Second, Count: 2}},
		{name: "every key", yaml: "name: x\nsched: \"@hourly\"\ndir: /srv/x/\nwait: 3s\ncount: 3\nsize: 2KiB\narches: [a, b]\ninner:\n  on: true\n",
			want: sample{Name: "x", Sched: "@hourly", Dir: "/srv/x", DirLine: 3, Wait: 3 * time.Second, Count: 3, Size: 2048,
				Arches: []string{"a", "b"}, ArchLine: []int{7, 7}, Inner: &sampleInner{On: true, Line: 8}}},
		{name: "empty string counts as left out", yaml: "name: x\nsched: \"\"\n", want: sample{Name: "x", Sched: "@daily", Wait: 5 * time.Second, Count: 2}},
		{name: "problems", yaml: "sched: \"* *\"\ndir: /\nwait: 1s\ncount: 4\nsize: 1\narches:\n  - a\n  - \"\"\n  - a\n  - \"b c\"\ninner: {on: false}\nbogus_key: 1\n",
			errs: []string{
				`f:1: missing name: a name`,
				`f:1: sched "* *": expected 5 fields, found 2 (minute hour day-of-month month day-of-week)`,
				`f:2: dir "/": must not be the root directory`,
				`f:3: wait "1s": must be at least 2s (because)`,
				`f:4: count 4: out of range 1..3`,
				`f:5: size "1": out of range 1024..1048576 bytes`,
				`f:8: arches: empty entry: want an arch`,
				`f:9: arches "a" is listed twice (first at line 7)`,
				`f:10: arches "b c": may only hold letters, digits, '.', '_' and '-'`,
				`f:11: inner: on must be true`,
				`f:12: unknown key "bogus_key" (valid keys here: name, sched, dir, wait, count, size, arches, inner)`,
			}},
		{name: "empty list", yaml: "name: x\narches: []\n", errs: []string{`f:2: arches is an empty list, which keeps nothing`}},
		{name: "scalar for a list", yaml: "name: x\narches: a\n", errs: []string{`f:2: arches: expected a list of arches, found "a": write arches: ["a"]`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &decoder{file: "f", dir: "/"}
			root := d.document([]byte(tt.yaml))
			got := newWithDefaults[sample]()
			_, ok := d.decodeInto(root, "", got, root.Line)
			d.errs.sort()
			var msgs []string
			for _, e := range d.errs {
				msgs = append(msgs, e.Error())
			}
			if !reflect.DeepEqual(msgs, tt.errs) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(msgs, "\n"), strings.Join(tt.errs, "\n"))
			}
			if ok != (len(tt.errs) == 0) {
				t.Errorf("ok = %v with %d problems", ok, len(tt.errs))
			}
			if tt.errs == nil && !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", *got, tt.want)
			}
		})
	}
}
