package state

import "time"

// rpmirror serve lists only the mirrors its probes found serving a
// verified revision. A daemon that has just started has probed none: for
// its first moments (a round's probes, longer when a mirror hangs) its
// lists fell back to the origin, the server that may be the very one
// failing. So the daemon saves its last probe of every mirror when it
// stops (SaveProbed), and the next one starts from them (LoadProbed) when
// they are recent, until its own probes replace them.

// Probed is what rpmirror serve last found of a repository's mirrors.
type Probed struct {
	Repo string `json:"repo"`
	// Saved is when the daemon saved it: as it exited, once its syncs
	// in flight were done. ProbesStopped is when it stopped probing,
	// before it waited for them (zero in records that predate it).
	Saved         time.Time      `json:"saved"`
	ProbesStopped time.Time      `json:"probes_stopped,omitzero"`
	Mirrors       []ProbedMirror `json:"mirrors"`
	// Origin is the origin as a whole (Configured: its origin, or
	// origin_metalink or origin_mirrorlist, as configured), Upstreams
	// each upstream, as last probed; nil and none before any probe.
	Origin    *ProbedMirror  `json:"origin,omitempty"`
	Upstreams []ProbedMirror `json:"upstreams,omitempty"`
}

// ProbedMirror is one mirror's last probe, as the probe found it (not as
// the daemon judged it against the revisions it had verified: the next
// daemon judges it again against its own).
type ProbedMirror struct {
	// Name is the mirror's name in the configuration; Configured its url
	// there, any password redacted: a result is for the mirror of that
	// name only while its url is the same.
	Name       string `json:"name"`
	Configured string `json:"configured_url"`
	// URL, State and the rest are the probe's (health.Result's fields).
	URL      string        `json:"url"`
	State    string        `json:"state"`
	Accepted bool          `json:"accepted,omitempty"`
	Reason   string        `json:"reason,omitempty"`
	Latency  time.Duration `json:"latency_ns,omitempty"`
	Checked  time.Time     `json:"checked"`
	Revision string        `json:"revision,omitempty"`
	Package  string        `json:"package,omitempty"`
	Metadata string        `json:"metadata,omitempty"`
	SHA256   string        `json:"sha256,omitempty"`
	Turn     int           `json:"turn,omitempty"`
}

func (s *Store) probedRel(repo string) string { return "probes/" + repo + ".json" }

// SaveProbed records p atomically (not made durable: a result lost in a
// power cut is probed again).
func (s *Store) SaveProbed(p *Probed) error {
	return s.writeRecord("probes", s.probedRel(p.Repo), p, false, "the last probes of the mirrors of "+p.Repo)
}

// LoadProbed returns what SaveProbed recorded last for repo, or nil.
func (s *Store) LoadProbed(repo string) (*Probed, error) {
	p, err := readRecord[Probed](s, s.probedRel(repo), "the last probes of the mirrors of "+repo)
	if p != nil {
		p.Repo = repo
	}
	return p, err
}

// RemoveProbed removes what SaveProbed recorded for repo: the daemon that
// read it at its start has probes of its own from then on, and a daemon
// after it that is not stopped (killed, crashed) must not start from
// these older ones. A record that is absent is not an error.
func (s *Store) RemoveProbed(repo string) error {
	return s.removeRecord(s.probedRel(repo), "the last probes of the mirrors of "+repo)
}
