package config

import (
	"reflect"
	"testing"
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

	limits := []struct {
		typ    reflect.Type
		key    string
		lo, hi int64
	}{
		{reflect.TypeFor[Download](), "concurrency", MinConcurrency, MaxConcurrency},
		{reflect.TypeFor[Download](), "retries", MinRetries, MaxRetries},
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
