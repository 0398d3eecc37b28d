package daemon

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/mirrorlist"
	"github.com/rpmirror/rpmirror/server"
	"github.com/rpmirror/rpmirror/snapshot"
)

// snapshotIndexes reads the snapshot index of every written mirror of rc
// on this machine, by mirror name; nil when rc keeps no snapshots. A
// mirror whose index cannot be read is left out (and logged).
func (r *repo) snapshotIndexes(rc config.Repo) map[string]*snapshot.Index {
	if rc.Snapshots == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), targetTimeout)
	defer cancel()
	out := map[string]*snapshot.Index{}
	for _, m := range rc.Mirrors {
		if !m.Written() {
			continue
		}
		// Opening a target creates nothing; a mirror never synced has
		// no snapshots.
		tg, err := r.target(ctx, m)
		var x *snapshot.Index
		if err == nil {
			x, err = snapshot.Read(ctx, tg, rc.Name)
		}
		r.warnOnChange("reading the snapshots of a mirror", m.Name, err)
		if err != nil {
			continue
		}
		out[m.Name] = x
	}
	return out
}

// snapshotsKey says what the snapshot lists show, for render's key.
func snapshotsKey(idx map[string]*snapshot.Index) string {
	var b strings.Builder
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range idx {
			if !yield(n) {
				return
			}
		}
	})
	for _, n := range names {
		x := idx[n]
		fmt.Fprintf(&b, "|%s %s %s", n, x.Latest, x.Held)
		for _, s := range x.Snapshots {
			fmt.Fprintf(&b, " %s", s.Name)
		}
	}
	return b.String()
}

// snapshotBase returns mirror base URL u's URL of snapshot name.
func snapshotBase(u, name string) string {
	return strings.TrimSuffix(u, "/") + "/" + snapshot.Path(name) + "/"
}

// snapshotLists prepares what ?snapshot=NAME and /snapshots.json answer
// for the repo: for each snapshot a written mirror holds, the candidates
// holding it and their lists, the metalink describing its repomd.xml.
func (r *repo) snapshotLists(rc config.Repo, cands []candidate, idx map[string]*snapshot.Index, now time.Time) *server.Snapshots {
	if idx == nil {
		return nil
	}
	ss := &server.Snapshots{Lists: map[string]*server.SnapshotLists{}}
	type found struct {
		mirror config.Mirror
		snap   snapshot.Snapshot
	}
	where := map[string]found{}
	for _, m := range rc.Mirrors {
		x := idx[m.Name]
		if x == nil {
			continue
		}
		for _, s := range x.Snapshots {
			if _, ok := where[s.Name]; !ok {
				where[s.Name] = found{m, s}
				ss.Names = append(ss.Names, s.Name)
			}
		}
		if x.Held != "" {
			ss.Held = x.Held
		}
	}
	slices.SortFunc(ss.Names, snapshot.Compare)
	for _, c := range cands {
		x := idx[c.m.Name]
		if x == nil || x.Latest == "" {
			continue
		}
		ss.Mirrors = append(ss.Mirrors, server.SnapshotMirror{Name: c.m.Name, Latest: x.Latest, URL: snapshotBase(c.m.URL, x.Latest)})
		if ss.Held == "" && (ss.Latest == "" || snapshot.Compare(x.Latest, ss.Latest) > 0) {
			ss.Latest = x.Latest
		}
	}
	if ss.Held != "" {
		ss.Latest = ss.Held
	}
	if f, ok := where[ss.Latest]; ok {
		ss.Revision = f.snap.Revision
	}
	for _, name := range ss.Names {
		f := where[name]
		repomd, err := r.snapshotRepomd(f.mirror, f.snap)
		if err != nil {
			r.log.Warn("reading a snapshot's repomd.xml", "snapshot", name, "err", err)
			continue
		}
		has := make([]bool, len(cands))
		lm := make([]mirrorlist.Mirror, len(cands))
		for i, c := range cands {
			if x := idx[c.m.Name]; x != nil {
				_, has[i] = x.Find(name)
			}
			lm[i] = mirrorlist.Mirror{URL: snapshotBase(c.m.URL, name), Location: c.m.Country}
		}
		cur := describe(repomd)
		fb := mirrorlist.Fallback{Comment: fmt.Sprintf("no listed mirror holds snapshot %s of %s now: listing nothing", name, rc.Name)}
		ss.Lists[name] = &server.SnapshotLists{
			Has:   has,
			Lists: mirrorlist.NewTemplate(cur, nil, lm, mirrorlist.TextFallback(nil, fb), mirrorlist.MetalinkFallback(cur, nil, nil, fb, now), now),
		}
	}
	return ss
}

// snapshotRepomd returns a snapshot's repomd.xml, read once: a snapshot
// never changes under its name.
func (r *repo) snapshotRepomd(m config.Mirror, s snapshot.Snapshot) ([]byte, error) {
	key := s.Name + " " + s.RepomdSHA256
	r.filesMu.Lock()
	b, ok := r.snapRepomd[key]
	r.filesMu.Unlock()
	if ok {
		return b, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), targetTimeout)
	defer cancel()
	tg, err := r.target(ctx, m)
	if err != nil {
		return nil, err
	}
	rc, err := tg.Open(ctx, snapshot.Path(s.Name)+"/repodata/repomd.xml")
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err = io.ReadAll(io.LimitReader(rc, 16<<20+1))
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: reading repomd.xml: %w", s.Name, err)
	}
	if len(b) > 16<<20 {
		return nil, fmt.Errorf("snapshot %s: repomd.xml is larger than 16 MiB", s.Name)
	}
	r.filesMu.Lock()
	if r.snapRepomd == nil {
		r.snapRepomd = map[string][]byte{}
	}
	r.snapRepomd[key] = b
	r.filesMu.Unlock()
	return b, nil
}
