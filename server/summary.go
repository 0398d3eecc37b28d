package server

import (
	"cmp"
	"fmt"
	"html/template"
	"slices"
	"strconv"
	"time"
)

// Summary is what an operator looks at first: how many repositories and
// mirrors there are, the mirrors by state, and what needs attention. The
// server computes it from the repositories whenever it answers, for the
// banner of /status and the "summary" of /status.json.
type Summary struct {
	Repos          int            `json:"repos"`
	Mirrors        int            `json:"mirrors"`
	MirrorsByState map[string]int `json:"mirrors_by_state"`
	OriginsDown    int            `json:"origins_down"`
	// UpstreamsDown counts the upstreams down before the first usable
	// one of origins up through a later one: syncs fail over, and
	// someone should look at the one down (the incident's primary).
	UpstreamsDown int `json:"upstreams_down"`
	FailedSyncs   int `json:"failed_syncs"` // repositories whose last sync failed
	Syncing       int `json:"syncing"`
	// Attention names the repositories with their origin or one of its
	// upstreams down, their last sync failed or a mirror down, in the
	// order of Repos.
	Attention []string `json:"attention"`
}

// StateCount is one state and how many mirrors are in it.
type StateCount struct {
	State string
	Count int
}

// stateOrder is the order of the states on the page, best first; other
// states follow in alphabetical order.
var stateOrder = []string{"ok", "behind", "stale", "down", "unknown"}

// ByState returns the mirror counts in the page's order, states with no
// mirror left out.
func (s Summary) ByState() []StateCount {
	var out []StateCount
	for st, n := range s.MirrorsByState {
		if n > 0 {
			out = append(out, StateCount{st, n})
		}
	}
	rank := func(st string) int {
		if i := slices.Index(stateOrder, st); i >= 0 {
			return i
		}
		return len(stateOrder)
	}
	slices.SortFunc(out, func(a, b StateCount) int {
		return cmp.Or(cmp.Compare(rank(a.State), rank(b.State)), cmp.Compare(a.State, b.State))
	})
	return out
}

// Summarize counts st's repositories and mirrors.
func Summarize(st *Status) Summary {
	s := Summary{MirrorsByState: map[string]int{}, Attention: []string{}}
	for _, r := range st.Repos {
		s.Repos++
		attention := false
		if r.OriginState == "down" {
			s.OriginsDown++
			attention = true
		}
		if len(r.Upstreams) > 1 && r.OriginState == "ok" {
			// The upstreams preferred to the one syncs fail over to:
			// those after it (a metalink's many public mirrors) are
			// not counted, and with none up the origin is down,
			// counted as such.
			for _, u := range r.Upstreams {
				if u.State == "ok" {
					break
				}
				if u.State == "down" {
					s.UpstreamsDown++
					attention = true
				}
			}
		}
		if r.LastSync != nil && r.LastSync.Result == "failed" {
			s.FailedSyncs++
			attention = true
		}
		if r.Syncing {
			s.Syncing++
		}
		for _, m := range r.Mirrors {
			s.Mirrors++
			s.MirrorsByState[m.State]++
			if m.State == "down" {
				attention = true
			}
		}
		if attention {
			s.Attention = append(s.Attention, r.Name)
		}
	}
	return s
}

// withLists returns a copy of st whose lists are empty rather than nil,
// so that /status.json says [] (a program iterating over it needs no
// special case), with its Summary.
func withLists(st *Status) *Status {
	out := *st
	out.Repos = make([]RepoStatus, len(st.Repos))
	for i, r := range st.Repos {
		if r.Mirrors == nil {
			r.Mirrors = []MirrorStatus{}
		}
		if r.Failures == nil {
			r.Failures = []FailureStatus{}
		}
		if r.Upstreams == nil {
			r.Upstreams = []UpstreamStatus{}
		}
		out.Repos[i] = r
	}
	sum := Summarize(&out)
	out.Summary = &sum
	return &out
}

// revisionTime reads a repomd.xml revision as a time: createrepo_c writes
// the Unix time of the run by default. Revisions that are not a plausible
// Unix time (before 2000 or after 2200) are not times.
func revisionTime(rev string) (time.Time, bool) {
	n, err := strconv.ParseInt(rev, 10, 64)
	if err != nil || n < 946684800 || n > 7258118400 {
		return time.Time{}, false
	}
	return time.Unix(n, 0).UTC(), true
}

// revisionHTML shows a revision as a date in UTC when it is a Unix time,
// with the revision itself in its title, and as it is otherwise.
func revisionHTML(rev string) template.HTML {
	if rev == "" {
		return ""
	}
	t, ok := revisionTime(rev)
	if !ok {
		return template.HTML(template.HTMLEscapeString(rev))
	}
	return template.HTML(fmt.Sprintf(`<time class="revision" datetime="%s" title="revision %s">%s</time>`,
		t.Format(time.RFC3339), template.HTMLEscapeString(rev), t.Format("2006-01-02 15:04 UTC")))
}
