package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rpmirror/rpmirror/mirrorlist"
)

// Snapshots is what the mirror routes know of a repository's snapshots
// (rpmirror snapshots): which candidate mirror holds which snapshot, and
// each snapshot's lists. The daemon prepares it with the Repo.
type Snapshots struct {
	// Latest is the snapshot CI jobs should use: the newest a listed
	// mirror holds, or while the repository is held (Held) the one it is
	// held at. Revision is its repomd.xml's revision.
	Latest, Revision, Held string
	// Names lists every snapshot a written mirror holds, oldest first.
	Names []string
	// Lists holds each snapshot's lists, by name.
	Lists map[string]*SnapshotLists
	// Mirrors are the listed mirrors holding snapshots, each with the
	// latest it holds.
	Mirrors []SnapshotMirror
}

// SnapshotLists are the lists of one snapshot.
type SnapshotLists struct {
	// Has says, per candidate of the Repo's Set, whether it holds the
	// snapshot.
	Has []bool
	// Lists renders the candidates' URLs of the snapshot (their base URL
	// followed by snapshots/NAME/), the metalink describing the
	// snapshot's repomd.xml, and what to answer when no candidate holding
	// it is left.
	Lists *mirrorlist.Template
}

// SnapshotMirror is a listed mirror's latest snapshot.
type SnapshotMirror struct {
	Name   string `json:"name"`
	Latest string `json:"latest"`
	URL    string `json:"url"` // the latest snapshot's base URL on the mirror
}

// SnapshotsDoc is /snapshots.json: every repository's latest snapshot
// and its URL on each listed mirror, for CI jobs.
type SnapshotsDoc struct {
	Generated time.Time       `json:"generated"`
	Repos     []RepoSnapshots `json:"repos"`
}

// RepoSnapshots is one repository in /snapshots.json.
type RepoSnapshots struct {
	Name     string `json:"name"`
	Latest   string `json:"latest,omitempty"`
	Revision string `json:"revision,omitempty"`
	Held     string `json:"held,omitempty"`
	// Mirrorlist and Metalink are this server's paths of the latest
	// snapshot's lists.
	Mirrorlist string           `json:"mirrorlist,omitempty"`
	Metalink   string           `json:"metalink,omitempty"`
	Mirrors    []SnapshotMirror `json:"mirrors"`
	Snapshots  []string         `json:"snapshots"`
}

// snapshotsDoc builds /snapshots.json from what the routes serve.
func snapshotsDoc(ms *Mirrors, now time.Time) *SnapshotsDoc {
	doc := &SnapshotsDoc{Generated: now.UTC(), Repos: []RepoSnapshots{}}
	if ms == nil {
		return doc
	}
	for i := range ms.Catalog.Len() {
		repo := ms.Live[i].Load()
		if repo == nil || repo.Snapshots == nil {
			continue
		}
		e, s := ms.Catalog.Entry(i), repo.Snapshots
		rs := RepoSnapshots{Name: e.Name, Latest: s.Latest, Revision: s.Revision, Held: s.Held, Mirrors: s.Mirrors, Snapshots: s.Names}
		if rs.Mirrors == nil {
			rs.Mirrors = []SnapshotMirror{}
		}
		if rs.Snapshots == nil {
			rs.Snapshots = []string{}
		}
		if s.Latest != "" {
			q := "?repo=" + url.QueryEscape(e.MirrorlistName)
			if e.Arch != "" {
				q += "&arch=" + url.QueryEscape(e.Arch)
			}
			q += "&snapshot=" + url.QueryEscape(s.Latest)
			rs.Mirrorlist, rs.Metalink = "/mirrorlist"+q, "/metalink"+q
		}
		doc.Repos = append(doc.Repos, rs)
	}
	return doc
}

func (m *mirrorRoutes) snapshots(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(snapshotsDoc(m.src.Mirrors(), time.Now()))
}

// snapshotList answers /mirrorlist and /metalink with ?snapshot=NAME: the
// candidates holding the snapshot, in the client's order; 404 with the
// snapshots there are for one no mirror holds.
func (m *mirrorRoutes) snapshotList(a *answer, rq *request, repo *Repo, order []int, name string) {
	var sl *SnapshotLists
	if repo.Snapshots != nil {
		sl = repo.Snapshots.Lists[name]
	}
	if sl == nil {
		rq.status = http.StatusNotFound
		msg := "no snapshot " + clean(name) + " of " + rq.repo + ": "
		switch {
		case repo.Snapshots == nil:
			msg += "it keeps no snapshots (snapshots: is not set)"
		case len(repo.Snapshots.Names) == 0:
			msg += "no written mirror holds a snapshot yet"
		default:
			msg += "its snapshots are " + strings.Join(repo.Snapshots.Names, ", ")
		}
		if rq.kind == KindMetalink {
			a.contentType = contentMetalink
			a.body = append(a.body[:0], `<?xml version="1.0" encoding="utf-8"?>`+"\n"+
				`<metalink version="3.0" xmlns="`+mirrorlist.MetalinkNS+`" type="dynamic" generator="`+mirrorlist.Generator+`">`+"\n"+
				"<!-- "+strings.ReplaceAll(msg, "--", "- -")+" -->\n</metalink>\n"...)
		} else {
			a.contentType = contentText
			a.body = append(a.body[:0], "# "+msg+"\n"...)
		}
		a.status = rq.status
		return
	}
	kept := order[:0]
	for _, i := range order {
		if sl.Has[i] {
			kept = append(kept, i)
		}
	}
	if rq.kind == KindMetalink {
		a.body = sl.Lists.AppendMetalink(a.body[:0], kept)
		a.contentType = contentMetalink
	} else {
		a.body = sl.Lists.AppendText(a.body[:0], kept)
		a.contentType = contentText
	}
	a.status, a.noCache = http.StatusOK, true
	rq.status = a.status
}
