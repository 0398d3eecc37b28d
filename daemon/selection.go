package daemon

import (
	"time"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/geo"
	"github.com/rpmirror/rpmirror/mirrorlist"
	"github.com/rpmirror/rpmirror/selection"
	"github.com/rpmirror/rpmirror/server"
	"github.com/rpmirror/rpmirror/state"
	"github.com/rpmirror/rpmirror/sync"
)

// accessLogGrace is how long a replaced access log stays open for the
// requests still holding it.
const accessLogGrace = 5 * time.Second

// openFiles opens the GeoIP database and the access log that cfg names,
// when they are not the ones open. d.mu is held.
func (d *Daemon) openFiles(cfg *config.Config) {
	if cfg.GeoIPDB != d.geoPath || (d.geoDB == nil && cfg.GeoIPDB != "") {
		d.geoPath, d.geoDB = cfg.GeoIPDB, nil
		if cfg.GeoIPDB != "" {
			db, err := geo.Open(cfg.GeoIPDB)
			if err != nil {
				d.log.Error("GeoIP database not loaded: every client is of unknown country", "err", err)
			} else {
				d.geoDB = db
				info := db.Info()
				d.log.Info("GeoIP database loaded", "file", info.Path, "type", info.Type, "built", info.Built)
			}
		}
	}
	if cfg.AccessLog != d.logPath || (d.accessLog == nil && cfg.AccessLog != "") {
		old := d.accessLog
		d.logPath, d.accessLog = cfg.AccessLog, nil
		if cfg.AccessLog != "" {
			l, err := server.OpenAccessLog(cfg.AccessLog)
			if err != nil {
				d.log.Error("no access log", "err", err)
			} else {
				d.accessLog = l
			}
		}
		if old != nil {
			time.AfterFunc(accessLogGrace, func() { old.Close() })
		}
	}
}

// ReopenFiles reads the GeoIP database again and reopens the access log,
// as after geoipupdate or logrotate replaced them (rpmirror serve calls
// it on SIGHUP, before reloading the configuration). A database that
// does not load leaves the previous one in use.
func (d *Daemon) ReopenFiles() {
	d.mu.Lock()
	db, l := d.geoDB, d.accessLog
	d.mu.Unlock()
	if db != nil {
		if err := db.Reload(); err != nil {
			d.log.Error("reloading the GeoIP database failed; keeping the loaded one", "err", err)
		} else {
			info := db.Info()
			d.log.Info("GeoIP database reloaded", "file", info.Path, "type", info.Type, "built", info.Built)
		}
	}
	if l != nil {
		if err := l.Reopen(); err != nil {
			d.log.Error("reopening the access log failed; writing to the old file", "err", err)
		}
	}
}

// closeFiles writes out and closes the access log.
func (d *Daemon) closeFiles() {
	d.mu.Lock()
	l := d.accessLog
	d.accessLog, d.logPath = nil, ""
	d.mu.Unlock()
	if l != nil {
		if err := l.Close(); err != nil {
			d.log.Error("closing the access log", "err", err)
		}
	}
}

// publishCatalog makes the repos of d.order what the mirror routes find.
// d.mu is held.
func (d *Daemon) publishCatalog() {
	entries := make([]server.Entry, 0, len(d.order))
	live := make([]*server.Live, 0, len(d.order))
	for _, name := range d.order {
		r := d.repos[name]
		rc := r.config()
		e := server.Entry{Name: rc.Name, MirrorlistName: rc.MirrorlistName, Arch: rc.Arch}
		if e.MirrorlistName == "" {
			e.MirrorlistName = rc.Name
		}
		entries = append(entries, e)
		live = append(live, &r.live)
	}
	d.mirrors.Store(&server.Mirrors{Catalog: server.NewCatalog(entries), Live: live})
}

// candidate is a mirror the repo's lists may name.
type candidate struct {
	m      config.Mirror
	behind bool   // serves an earlier verified revision
	sha256 string // of the repomd.xml it serves; "" when not known
}

// prepare builds what the mirror routes answer for the repo: the
// candidates, their lists for current and alternates, and what to answer
// when a request leaves none (fbText, fbMetalink).
func (r *repo) prepare(cands []candidate, cur mirrorlist.File, alts []mirrorlist.File, fbText, fbMetalink []byte, files *redirects, now time.Time) *server.Repo {
	sel := make([]selection.Mirror, len(cands))
	lm := make([]mirrorlist.Mirror, len(cands))
	for i, c := range cands {
		sel[i] = selection.Mirror{
			URL:      c.m.URL,
			Networks: c.m.Networks,
			Country:  c.m.Country,
			Private:  c.m.Private,
			Weight:   c.m.Weight,
			Priority: c.m.Priority,
			Behind:   c.behind,
		}
		lm[i] = mirrorlist.Mirror{URL: c.m.URL, Location: c.m.Country}
	}
	sr := &server.Repo{
		Set:   selection.NewSet(sel),
		Lists: mirrorlist.NewTemplate(cur, alts, lm, fbText, fbMetalink, now),
	}
	if files != nil {
		sr.Files = files
	}
	return sr
}

// redirectFiles describes, for redirects, which verified revision each
// candidate and the origin serve and what those revisions hold; nil while
// no revision is verified.
//
// rc.Origin is where a request no mirror can answer goes: the upstream
// the lists fall back to (fallbackOrigin), not the first configured,
// which may be the one answering 403 (an operator tester's clients were
// redirected there while the lists named the upstream that was up).
func (r *repo) redirectFiles(rc config.Repo, cands []candidate, v *state.Verified, originRepomd []byte, refused *refusal) *redirects {
	cur := v.Current()
	if cur == nil {
		return nil
	}
	r.filesMu.Lock()
	defer r.filesMu.Unlock()
	used := map[string]*revFiles{}
	get := func(i int) *revFiles {
		rev := &v.Revisions[i]
		if rf := used[rev.SHA256]; rf != nil {
			return rf
		}
		rf := r.files[rev.SHA256]
		if rf == nil || !rf.packages {
			rf = newRevFiles(rev.Repomd, rev.SHA256, r.packageIndex(rc, rev.SHA256))
		}
		used[rev.SHA256] = rf
		return rf
	}
	x := &redirects{bases: make([]string, len(cands)), revs: make([]*revFiles, len(cands)), current: get(0)}
	for i, c := range cands {
		x.bases[i] = c.m.URL
		if j := v.Find(c.sha256); j >= 0 {
			x.revs[i] = get(j)
		}
	}
	if originRepomd != nil {
		sum := sha256Hex(originRepomd)
		if j := v.Find(sum); j >= 0 && (refused == nil || refused.sha256 != sum) {
			x.origin, x.originRev = rc.Origin, get(j)
		}
	}
	// Keep the package lists of the newest revisions too, even unused
	// now: once a revision is superseded, its index is overwritten, and
	// a mirror serving it may come back from a short outage.
	for i := range min(len(v.Revisions), keepRevFiles) {
		sum := v.Revisions[i].SHA256
		if rf := r.files[sum]; rf != nil && used[sum] == nil && rf.packages {
			used[sum] = rf
		}
	}
	r.files = used
	return x
}

// keepRevFiles is how many of the newest verified revisions keep their
// file lists for redirects while no mirror serves them.
const keepRevFiles = 4

// packageIndex returns the packages of the revision whose repomd.xml has
// digest sum, from the index a sync saved for a written mirror serving
// it, or, for a repository with no written mirror, the one it saved of
// the revision it verified (without it, /r/ sent any path but metadata to
// an ok mirror: a tester's nonsense paths were redirected); nil when
// neither recorded it.
func (r *repo) packageIndex(rc config.Repo, sum string) map[string]string {
	st, err := r.d.store.Load(rc.Name)
	if err != nil {
		return nil
	}
	for _, m := range rc.Mirrors {
		if ms := st.Mirrors[m.Name]; m.Written() && ms != nil && ms.RepomdSHA256 == sum {
			if idx, err := sync.ReadIndex(r.d.store, rc.Name, m.Name, sum); err == nil {
				return idx
			}
		}
	}
	if idx, err := sync.ReadVerifiedIndex(r.d.store, rc.Name, sum); err == nil {
		return idx
	}
	return nil
}

// publicOnly returns ms without the private mirrors of rc.
func publicOnly(rc config.Repo, ms []mirrorlist.Mirror) []mirrorlist.Mirror {
	private := map[string]bool{}
	for _, m := range rc.Mirrors {
		if m.Private {
			private[m.URL] = true
		}
	}
	if len(private) == 0 {
		return ms
	}
	out := make([]mirrorlist.Mirror, 0, len(ms))
	for _, m := range ms {
		if !private[m.URL] {
			out = append(out, m)
		}
	}
	return out
}
