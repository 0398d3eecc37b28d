package snapshot

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/repodata"
	"github.com/rpmirror/rpmirror/target"
)

// Where snapshots live in a mirror. No origin file may be published under
// Dir.
const (
	Dir        = "snapshots"
	IndexPath  = Dir + "/index.json"
	LatestPath = Dir + "/latest.txt"
	repomdPath = "repodata/repomd.xml"
	maxIndex   = 64 << 20
)

// Who pinned a snapshot.
const (
	PinnedByConfig  = "config"  // the repo's snapshots: pinned list
	PinnedByCommand = "command" // rpmirror snapshot pin
)

// ErrNotFound is returned (wrapped) for a snapshot name a mirror does not
// have.
var ErrNotFound = errors.New("no such snapshot")

// ErrUnsupported is returned (wrapped) for a target that cannot take
// snapshots (no target.Snapshotter).
var ErrUnsupported = errors.New("the mirror's storage cannot take snapshots")

// PinnedInConfigError reports an unpin of a snapshot that the
// configuration file pins: only editing the file unpins it.
type PinnedInConfigError struct {
	Name string
	File string
	Line int
}

func (e *PinnedInConfigError) Error() string {
	return fmt.Sprintf("snapshot %s is pinned in %s:%d: remove it from snapshots: pinned there", e.Name, e.File, e.Line)
}

// Snapshot is one entry of index.json.
type Snapshot struct {
	Name      string    `json:"name"`
	Revision  string    `json:"revision"`  // repomd.xml's <revision>
	Published time.Time `json:"published"` // when the revision was published (the name's time)
	// RepomdSHA256 is the hex SHA-256 of the snapshot's repomd.xml: two
	// snapshots of one revision have the same.
	RepomdSHA256 string `json:"repomd_sha256"`
	Pinned       bool   `json:"pinned"`
	PinnedBy     string `json:"pinned_by,omitempty"` // PinnedByConfig or PinnedByCommand
}

// Index is snapshots/index.json: every snapshot of one mirror, oldest
// first.
type Index struct {
	Repo string `json:"repo"`
	// Latest is the snapshot CI jobs should use: the newest, or while
	// the repository is held (rpmirror rollback) the one it is held at.
	// latest.txt holds the same name.
	Latest string `json:"latest,omitempty"`
	// Held is the snapshot the repository was rolled back to and is held
	// at, until rpmirror resume; "" when it is not held.
	Held      string     `json:"held,omitempty"`
	Snapshots []Snapshot `json:"snapshots"`

	// gone are the snapshots index.json names whose directory is not
	// there (removed by hand, as the repair of a broken one): Read
	// leaves them out, Tidy writes the index without them.
	gone []string
	// heldGone is the snapshot index.json says the repository is held
	// at when its directory is gone: Read forgets the hold (Held), Tidy
	// leaves the index and latest.txt as they are (rpmirror rollback to
	// another snapshot, or resume and a sync, writes them).
	heldGone string
	// incomplete are directories with a snapshot's name and no
	// repodata/repomd.xml: a snapshot being taken or removed on a target
	// without atomic commits (object storage), or one a killed process
	// left. They are not snapshots; Maintain completes or removes them.
	incomplete []string
}

// Find returns the snapshot called name.
func (x *Index) Find(name string) (*Snapshot, bool) {
	for i := range x.Snapshots {
		if x.Snapshots[i].Name == name {
			return &x.Snapshots[i], true
		}
	}
	return nil, false
}

// Lacks reports whether Maintain, run on the mirror whose index x is,
// takes a snapshot of the revision whose repodata/repomd.xml is repomd:
// unless the newest snapshot has that very repomd.xml. A revision the
// mirror is brought back to (a resume after a rollback) whose snapshot,
// taken when it was first published, is still the newest gets no other;
// one the origin went back to, older than the newest snapshot, gets one.
// A sync's plan asks it before anything is changed, so that a dry run
// says what the sync does.
func (x *Index) Lacks(repomd []byte) bool {
	n := len(x.Snapshots)
	return n == 0 || x.Snapshots[n-1].RepomdSHA256 != sha256Hex(repomd)
}

// Path returns where a snapshot's files are, relative to the mirror.
func Path(name string) string { return Dir + "/" + name }

// Name returns the name of a snapshot published at t.
func Name(t time.Time) string { return t.UTC().Format(config.SnapshotTimeFormat) }

// nameTime splits a name into its time and its sequence number (1 when it
// has none).
func nameTime(name string) (time.Time, int) {
	ts, n, _ := strings.Cut(name, "-")
	t, _ := time.Parse(config.SnapshotTimeFormat, ts)
	seq, err := strconv.Atoi(n)
	if err != nil {
		seq = 1
	}
	return t, seq
}

// Compare orders snapshot names by when they were taken: by time, then
// by sequence number ("-2" after the plain name, "-10" after "-2").
func Compare(a, b string) int { return compareNames(a, b) }

func compareNames(a, b string) int {
	ta, na := nameTime(a)
	tb, nb := nameTime(b)
	if c := ta.Compare(tb); c != 0 {
		return c
	}
	return cmp.Compare(na, nb)
}

// snapshotter returns tg's Snapshotter or an error wrapping ErrUnsupported.
func snapshotter(tg target.Target) (target.Snapshotter, error) {
	sn, ok := tg.(target.Snapshotter)
	if !ok {
		return nil, fmt.Errorf("%s: %w", tg, ErrUnsupported)
	}
	return sn, nil
}

// Read returns the index of the mirror's snapshots, mended from the
// directories under snapshots/: an entry whose directory is gone is left
// out, a directory with a snapshot's name that the index lacks (a process
// killed before it rewrote the index) is added from its repomd.xml.
// Directories with other names are not rpmirror's and are ignored. A
// directory without repodata/repomd.xml is not a snapshot (yet, or any
// more): on a target without atomic commits a snapshot's repomd.xml is
// its last file copied and its first removed.
func Read(ctx context.Context, tg target.Target, repo string) (*Index, error) {
	sn, err := snapshotter(tg)
	if err != nil {
		return nil, err
	}
	x := &Index{Repo: repo}
	b, err := readSmall(ctx, tg, IndexPath, maxIndex)
	switch {
	case errors.Is(err, target.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		if err := json.Unmarshal(b, x); err != nil {
			// Rebuilt from the directories below; only command pins are
			// lost.
			x = &Index{Repo: repo}
		}
		x.Repo = repo
	}
	dirs, err := sn.Dirs(ctx, Dir)
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, d := range dirs {
		if config.ValidSnapshotName(d) {
			have[d] = true
		}
	}
	var kept []Snapshot
	for _, s := range x.Snapshots {
		if have[s.Name] {
			kept = append(kept, s)
			delete(have, s.Name)
		} else {
			x.gone = append(x.gone, s.Name)
		}
	}
	for name := range have {
		md, err := readSmall(ctx, tg, Path(name)+"/"+repomdPath, 16<<20)
		if errors.Is(err, target.ErrNotExist) {
			x.incomplete = append(x.incomplete, name)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading snapshot %s: %w", name, err)
		}
		s := Snapshot{Name: name, RepomdSHA256: sha256Hex(md)}
		s.Published, _ = nameTime(name)
		if r, err := repodata.ParseRepomd(md); err == nil {
			s.Revision = r.Revision
		}
		kept = append(kept, s)
	}
	slices.SortFunc(kept, func(a, b Snapshot) int { return compareNames(a.Name, b.Name) })
	slices.Sort(x.incomplete)
	x.Snapshots = kept
	if _, ok := x.Find(x.Held); x.Held != "" && !ok {
		x.heldGone = x.Held
	}
	x.setLatest()
	return x, nil
}

// GoneError is a problem of index.json: it names a snapshot whose
// directory is gone (removed by hand, as the repair of a broken one is
// done). Clients that read index.json are sent to it and get 404; Read
// leaves it out, and Tidy writes the index without it.
type GoneError struct {
	Name string
	// Held says the repository is held at it (rpmirror rollback): Tidy
	// does not rewrite the index then (see LatestError.HeldGone).
	Held bool
	// HeldGone is the snapshot the repository is held at when its
	// directory is gone too: Tidy does not rewrite the index, so verify
	// --repair does not remove this entry either (a reviewer's: the
	// advice to run it was given again after it).
	HeldGone string
}

func (e *GoneError) Error() string {
	switch {
	case e.Held:
		return fmt.Sprintf("names snapshot %s, the one the repository is held at, whose directory is gone (%s)", e.Name, heldGoneFix)
	case e.HeldGone != "":
		return fmt.Sprintf("names snapshot %s, whose directory is gone (snapshot %s, the one the repository is held at, is gone too: %s)", e.Name, e.HeldGone, heldGoneFix)
	}
	return fmt.Sprintf("names snapshot %s, whose directory is gone (rpmirror verify --repair removes it from the index)", e.Name)
}

// heldGoneFix says what writes index.json and latest.txt again when the
// snapshot the repository is held at is gone: not verify --repair, which
// cannot know what a sync would write while the repository is held.
const heldGoneFix = "rpmirror rollback to another snapshot, or rpmirror resume and then a sync, writes index.json and latest.txt again"

// LatestError is a problem of latest.txt: it is missing while the mirror
// has snapshots, or it names a snapshot the mirror does not have (its
// directory gone, or not a whole snapshot). CI jobs that follow it get
// 404.
type LatestError struct {
	// Names is what latest.txt names; "" when it is missing.
	Names string
	// Latest is what it should name, as a sync writes it (the index's
	// Latest: the newest snapshot, or the one the repository is held
	// at); "" when no snapshot is left.
	Latest string
	// Held says Latest is the snapshot the repository is held at.
	Held bool
	// HeldGone is the snapshot the repository is held at when its
	// directory is gone: then Tidy does not rewrite latest.txt (a sync
	// would not write it while the repository is held, and naming the
	// newest would send CI jobs to the revision rolled back from).
	HeldGone string
}

func (e *LatestError) Error() string {
	what := "is missing"
	if e.Names != "" {
		what = fmt.Sprintf("names snapshot %s, which this mirror does not have (its directory is gone)", e.Names)
	}
	switch {
	case e.HeldGone != "" && e.HeldGone == e.Names:
		return fmt.Sprintf("%s: CI jobs that follow it get 404 (it is the one the repository is held at: %s)", what, heldGoneFix)
	case e.HeldGone != "":
		return fmt.Sprintf("%s: CI jobs that follow it get 404 (snapshot %s, the one the repository is held at, is gone too: %s)", what, e.HeldGone, heldGoneFix)
	case e.Latest == "":
		return fmt.Sprintf("%s: CI jobs that follow it get 404 (no snapshot is left: rpmirror verify --repair removes it)", what)
	case e.Held:
		return fmt.Sprintf("%s: CI jobs that follow it get 404 (rpmirror verify --repair makes it name %s, the snapshot the repository is held at)", what, e.Latest)
	}
	return fmt.Sprintf("%s: CI jobs that follow it get 404 (rpmirror verify --repair makes it name %s, the newest snapshot)", what, e.Latest)
}

// Stale returns what is wrong with the files that list the snapshots of
// the mirror tg, whose index x is as Read returned it: each snapshot
// index.json names whose directory is gone (*GoneError, for IndexPath),
// and latest.txt missing while there are snapshots, or naming a snapshot
// the mirror does not have (*LatestError, for LatestPath; nil when it
// has none). latest.txt naming another snapshot the mirror has is not a
// problem: a resume interrupted before it rewrote it leaves it naming
// the snapshot held at, until the next sync.
func Stale(ctx context.Context, tg target.Target, x *Index) ([]*GoneError, *LatestError, error) {
	var gone []*GoneError
	for _, name := range x.gone {
		ge := &GoneError{Name: name, Held: name == x.heldGone}
		if !ge.Held {
			ge.HeldGone = x.heldGone
		}
		gone = append(gone, ge)
	}
	b, err := readSmall(ctx, tg, LatestPath, 4<<10)
	switch {
	case errors.Is(err, target.ErrNotExist):
		if len(x.Snapshots) == 0 {
			return gone, nil, nil
		}
	case errors.Is(err, errTooLarge):
		// Not a name: a problem Tidy mends as any other (a reviewer's:
		// it failed verify's check of the snapshots, and the repair).
		return gone, &LatestError{Names: "(more than 4 KiB)", Latest: x.Latest, Held: x.Held != "", HeldGone: x.heldGone}, nil
	case err != nil:
		return nil, nil, fmt.Errorf("reading %s: %w", LatestPath, err)
	}
	names := strings.TrimSpace(string(b))
	if _, ok := x.Find(names); ok {
		return gone, nil, nil
	}
	return gone, &LatestError{Names: names, Latest: x.Latest, Held: x.Held != "", HeldGone: x.heldGone}, nil
}

// Tidied is what Tidy wrote again.
type Tidied struct {
	// Unindexed are the snapshots index.json named whose directory was
	// gone: it no longer names them.
	Unindexed []string
	// Latest, when not nil, is what was wrong with latest.txt: it names
	// Latest.Latest now, or was removed when that is "" (no snapshot is
	// left).
	Latest *LatestError
}

// Tidy writes the mirror's index.json and latest.txt again, as a sync
// writes them, when they name snapshots whose directory is gone (removed
// by hand, as a broken one is repaired) or latest.txt is missing while
// there are snapshots (Stale), and returns what it mended: clients read
// index.json and latest.txt, which named them until the next sync, and
// CI jobs following latest.txt got 404. When the snapshot the repository
// is held at is gone, it writes nothing: a sync would not write them
// while the repository is held, and latest.txt naming the newest would
// send CI jobs to the revision rolled back from (verify names the
// problem and what mends it). The caller holds the mirror's lock.
func Tidy(ctx context.Context, tg target.Target, repo string) (Tidied, error) {
	if _, ok := tg.(target.Snapshotter); !ok {
		return Tidied{}, nil
	}
	x, err := Read(ctx, tg, repo)
	if err != nil {
		return Tidied{}, err
	}
	gone, latest, err := Stale(ctx, tg, x)
	if err != nil {
		return Tidied{}, err // it says it was reading latest.txt
	}
	if (len(gone) == 0 && latest == nil) || x.heldGone != "" {
		return Tidied{}, nil
	}
	if err := Write(ctx, tg, x); err != nil {
		return Tidied{}, fmt.Errorf("writing the snapshot index: %w", err)
	}
	return Tidied{Unindexed: x.gone, Latest: latest}, nil
}

// setLatest sets Latest from Held and the snapshots, forgetting a Held
// snapshot that is gone.
func (x *Index) setLatest() {
	if _, ok := x.Find(x.Held); !ok {
		x.Held = ""
	}
	x.Latest = x.Held
	if x.Latest == "" && len(x.Snapshots) > 0 {
		x.Latest = x.Snapshots[len(x.Snapshots)-1].Name
	}
}

// Write replaces index.json and latest.txt (each atomically; index.json
// first). latest.txt is removed when there is no snapshot.
func Write(ctx context.Context, tg target.Target, x *Index) error {
	if x.Snapshots == nil {
		x.Snapshots = []Snapshot{}
	}
	b, err := json.MarshalIndent(x, "", "  ")
	if err != nil {
		return err
	}
	if err := putBytes(ctx, tg, IndexPath, append(b, '\n')); err != nil {
		return err
	}
	if x.Latest == "" {
		return tg.Remove(ctx, LatestPath)
	}
	return putBytes(ctx, tg, LatestPath, []byte(x.Latest+"\n"))
}

// Revision is what a mirror serves: the files a snapshot of it holds.
type Revision struct {
	Repomd []byte // repodata/repomd.xml
	// Published is when the mirror started serving it: the snapshot's
	// name and publish time, unless Shared names it. Zero means now.
	Published time.Time
	// Shared, when not nil, returns the name the repo's other mirrors
	// already hold this revision under (the same repomd.xml), or "": a
	// mirror added later names its snapshot of the revision as they do,
	// so that one revision has one name on every mirror. It is only
	// called when a snapshot is taken, and its name is used when it
	// sorts after this mirror's newest snapshot.
	Shared func() string
	// Paths returns every other file: metadata and packages. It is only
	// called when a snapshot is taken.
	Paths func() ([]string, error)
}

// Policy is a repo's snapshots setting as Maintain applies it.
type Policy struct {
	Keep    int
	KeepFor time.Duration
	Pinned  map[string]bool // pinned by the configuration
}

// PolicyOf returns the policy of a repo's snapshots setting.
func PolicyOf(c *config.Snapshots) Policy {
	p := Policy{Keep: c.Keep, KeepFor: c.KeepFor, Pinned: map[string]bool{}}
	for _, n := range c.Pinned {
		p.Pinned[n] = true
	}
	return p
}

// Expired returns the names of the snapshots in x (oldest first) that the
// policy removes at now: not among the newest Keep, not younger than
// KeepFor, not pinned, and not the one the repository is held at.
func (p Policy) Expired(x *Index, now time.Time) []string {
	var out []string
	for i, s := range x.Snapshots {
		newest := len(x.Snapshots)-i <= p.Keep
		young := now.Sub(s.Published) < p.KeepFor
		if newest || young || s.Pinned || s.Name == x.Held {
			continue
		}
		out = append(out, s.Name)
	}
	return out
}

// applyPins sets each snapshot's pin from the configuration, keeping the
// pins of rpmirror snapshot pin.
func (p Policy) applyPins(x *Index) {
	for i := range x.Snapshots {
		s := &x.Snapshots[i]
		switch {
		case p.Pinned[s.Name]:
			s.Pinned, s.PinnedBy = true, PinnedByConfig
		case s.PinnedBy == PinnedByCommand:
			s.Pinned = true
		default:
			s.Pinned, s.PinnedBy = false, ""
		}
	}
}

// Result is what Maintain did.
type Result struct {
	Taken   string   // the snapshot taken, or ""
	Removed []string // snapshots removed
}

// Maintain brings a mirror's snapshots up to date after it serves rev
// (the caller holds the mirror's lock): it takes a snapshot of rev named
// as the repo's other mirrors name it (rev.Shared) or else for its
// publish time, unless the newest snapshot has the same repomd.xml
// (Index.Lacks), removes
// what the policy no longer keeps, and rewrites index.json and
// latest.txt. The new snapshot is complete under its final name before
// the index names it; a removed one leaves the index before its
// directory goes.
//
// On a target without atomic commits (object storage) the snapshot's
// files are copied one by one, its repodata/repomd.xml last: until that
// copy, the directory is not a snapshot to Read, to dnf (a repository
// without repomd.xml) or to index.json. A directory left so by a killed
// process is completed when it has the name being taken (the same
// revision, published at the same time), else removed.
func Maintain(ctx context.Context, tg target.Target, repo string, p Policy, rev Revision, now time.Time, log *slog.Logger) (Result, error) {
	var res Result
	sn, err := snapshotter(tg)
	if err != nil {
		return res, err
	}
	x, err := Read(ctx, tg, repo)
	if err != nil {
		return res, err
	}
	sum := sha256Hex(rev.Repomd)
	if x.Lacks(rev.Repomd) {
		// Names sort in the order snapshots were taken, even when two
		// fall in one second or the clock went back.
		at := rev.Published
		if at.IsZero() {
			at = now
		}
		base, newest := at, ""
		if n := len(x.Snapshots); n > 0 {
			newest = x.Snapshots[n-1].Name
		}
		if lt, _ := nameTime(newest); newest != "" && base.Before(lt) {
			base = lt
		}
		name := Name(base)
		for i := 2; newest != "" && compareNames(name, newest) <= 0; i++ {
			name = fmt.Sprintf("%s-%d", Name(base), i)
		}
		if rev.Shared != nil {
			if shared := rev.Shared(); config.ValidSnapshotName(shared) && (newest == "" || compareNames(shared, newest) > 0) {
				name = shared
				at, _ = nameTime(shared)
			}
		}
		more, err := rev.Paths()
		if err != nil {
			return res, fmt.Errorf("listing the files of the revision to snapshot: %w", err)
		}
		more = slices.DeleteFunc(slices.Clone(more), func(p string) bool { return p == repomdPath })
		slices.Sort(more)
		// repomd.xml last: on a target without atomic commits, it
		// makes the directory a snapshot.
		paths := append(slices.Compact(more), repomdPath)
		if slices.Contains(x.incomplete, name) && tg.Properties().AtomicCommit {
			// Left by hand: a target with atomic commits never leaves
			// part of a snapshot.
			if err := sn.RemoveDir(ctx, Path(name)); err != nil {
				return res, fmt.Errorf("removing the incomplete snapshot %s: %w", name, err)
			}
		}
		if err := sn.Snapshot(ctx, Path(name), paths); err != nil {
			return res, fmt.Errorf("taking snapshot %s: %w", name, err)
		}
		s := Snapshot{Name: name, RepomdSHA256: sum, Published: at.UTC().Truncate(time.Second)}
		if md, err := repodata.ParseRepomd(rev.Repomd); err == nil {
			s.Revision = md.Revision
		}
		x.Snapshots = append(x.Snapshots, s)
		res.Taken = name
		log.Info("snapshot taken", "snapshot", name, "revision", s.Revision, "files", len(paths))
	}
	p.applyPins(x)
	// A sync runs only while the repo is not held (rpmirror resume
	// clears the mark too): a mark left by a hold removed by hand goes.
	x.Held = ""
	res.Removed = p.Expired(x, now)
	x.Snapshots = slices.DeleteFunc(x.Snapshots, func(s Snapshot) bool { return slices.Contains(res.Removed, s.Name) })
	x.setLatest()
	if err := Write(ctx, tg, x); err != nil {
		return res, fmt.Errorf("writing the snapshot index: %w", err)
	}
	for _, name := range res.Removed {
		if err := removeSnapshot(ctx, tg, sn, name); err != nil {
			return res, fmt.Errorf("removing snapshot %s: %w", name, err)
		}
		log.Info("snapshot removed", "snapshot", name)
	}
	for _, name := range x.incomplete {
		if name == res.Taken {
			continue
		}
		if err := sn.RemoveDir(ctx, Path(name)); err != nil {
			return res, fmt.Errorf("removing the incomplete snapshot %s: %w", name, err)
		}
		log.Info("incomplete snapshot removed", "snapshot", name)
	}
	return res, nil
}

// removeSnapshot removes the snapshot called name. On a target without
// atomic commits its repomd.xml goes first, so that from then on it is no
// snapshot (Read) and a removal cut short is finished by the next
// Maintain.
func removeSnapshot(ctx context.Context, tg target.Target, sn target.Snapshotter, name string) error {
	if !tg.Properties().AtomicCommit {
		if err := tg.Remove(ctx, Path(name)+"/"+repomdPath); err != nil {
			return err
		}
	}
	return sn.RemoveDir(ctx, Path(name))
}

// SetPin pins (or unpins) the snapshot called name on a mirror, as
// rpmirror snapshot pin does; the caller holds the mirror's lock. c is
// the repo's snapshots setting, file the configuration file: a snapshot
// the file pins cannot be unpinned here (*PinnedInConfigError). It
// reports whether the pin changed: pinning a snapshot pinned the same
// way or unpinning one that is not pinned changes (and writes) nothing.
func SetPin(ctx context.Context, tg target.Target, repo string, c *config.Snapshots, file, name string, pin bool) (changed bool, err error) {
	x, err := Read(ctx, tg, repo)
	if err != nil {
		return false, err
	}
	s, ok := x.Find(name)
	if !ok {
		return false, fmt.Errorf("%s: %w", name, ErrNotFound)
	}
	was := *s
	if i := slices.Index(c.Pinned, name); i >= 0 {
		if !pin {
			return false, &PinnedInConfigError{Name: name, File: file, Line: c.PinnedLines[i]}
		}
		s.Pinned, s.PinnedBy = true, PinnedByConfig
	} else if pin {
		s.Pinned, s.PinnedBy = true, PinnedByCommand
	} else {
		s.Pinned, s.PinnedBy = false, ""
	}
	if *s == was {
		return false, nil
	}
	return true, Write(ctx, tg, x)
}

// Package is one package a snapshot holds.
type Package struct {
	Href     string
	Checksum string
	Size     int64
}

// Packages lists the packages of the snapshot called name, read from its
// primary metadata.
func Packages(ctx context.Context, tg target.Target, name string, maxMetadata int64) ([]Package, error) {
	return packagesAt(ctx, tg, Path(name)+"/", "snapshot "+name, maxMetadata)
}

// TreePackages lists the packages the mirror's current tree serves, read
// from its primary metadata: none when it serves no repomd.xml.
func TreePackages(ctx context.Context, tg target.Target, maxMetadata int64) ([]Package, error) {
	if _, err := tg.Stat(ctx, repomdPath); errors.Is(err, target.ErrNotExist) {
		return nil, nil
	}
	return packagesAt(ctx, tg, "", "the current tree", maxMetadata)
}

// packagesAt lists the packages of the repository at base (a path prefix
// of tg, "" or ending in "/"), what for errors.
func packagesAt(ctx context.Context, tg target.Target, base, what string, maxMetadata int64) ([]Package, error) {
	b, err := readSmall(ctx, tg, base+repomdPath, 16<<20)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	md, err := repodata.ParseRepomd(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", what, repomdPath, err)
	}
	d, ok := md.Find("primary")
	if !ok {
		return nil, fmt.Errorf("%s: %s lists no primary metadata", what, repomdPath)
	}
	rc, err := tg.Open(ctx, base+d.Href)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rc.Close()
	dr, err := repodata.Decompress(rc, d.Href)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer dr.Close()
	pr := repodata.NewPrimaryReader(io.LimitReader(dr, maxMetadata))
	var out []Package
	for {
		p, err := pr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: reading %s: %w", what, d.Href, err)
		}
		out = append(out, Package{Href: p.Href, Checksum: p.Checksum.String(), Size: p.Size})
	}
}

func readSmall(ctx context.Context, tg target.Target, p string, limit int64) ([]byte, error) {
	rc, err := tg.Open(ctx, p)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("reading %s: %w (%d bytes)", p, errTooLarge, limit)
	}
	return b, nil
}

// errTooLarge is readSmall's error for a file larger than its limit.
var errTooLarge = errors.New("larger than the limit")

// putBytes stores b at p through a temporary file on this machine: in the
// target's own staging directory when it has one (target.Stager: a local
// mirror's, emptied after a crash), else in the system's.
func putBytes(ctx context.Context, tg target.Target, p string, b []byte) error {
	dir := ""
	if st, ok := tg.(target.Stager); ok {
		d, err := st.StageDir()
		if err != nil {
			return fmt.Errorf("storing %s: %w", p, err)
		}
		dir = d
	}
	f, err := os.CreateTemp(dir, "rpmirror-snapshot-*")
	if err != nil {
		return fmt.Errorf("storing %s: %w", p, err)
	}
	defer os.Remove(f.Name())
	if _, err := io.Copy(f, bytes.NewReader(b)); err != nil {
		f.Close()
		return fmt.Errorf("storing %s: %w", p, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("storing %s: %w", p, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("storing %s: %w", p, err)
	}
	sum := sha256.Sum256(b)
	return tg.Put(ctx, target.File{Path: p, Local: filepath.Clean(f.Name()), Size: int64(len(b)), SHA256: hex.EncodeToString(sum[:])})
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
