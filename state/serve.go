package state

import (
	"fmt"
	"time"

	"github.com/rpmirror/rpmirror/internal/safefs"
)

// rpmirror serve answers metalinks that name the verified repomd.xml by
// its hashes, and dnf refuses a repomd.xml its metalink does not name. A
// sync run beside the daemon (by hand, or from cron) that publishes a new
// revision would fail the clients that fetched a metalink just before the
// daemon learnt of it: the daemon's own syncs wait for them, and a sync
// beside it waits too, through these records.
//
//   - The daemon holds a shared lock on serve/lock for as long as it runs
//     (Serving); a sync asks whether anyone holds it (Served). (Not in
//     locks/, where a repository named "serve" has its lock.)
//   - For each repository it serves, the daemon records in serve/REPO.json
//     (SaveAdopted) the revision its lists name as current, from its start
//     on and each time that changes, with when it last answered a
//     metalink before they named it. A process about to move a mirror to
//     a revision waits until that record names it, then until the
//     clients of that last answer have had their time.

const serveLockRel = "serve/lock"

// Serving records that an rpmirror serve runs on this state_dir, until
// release. Any number of processes may hold it at once.
func (s *Store) Serving() (release func(), err error) {
	release, err = safefs.HoldShared(s.dir, serveLockRel)
	if err != nil {
		return nil, fmt.Errorf("recording in the state_dir that rpmirror serve runs: %w", err)
	}
	return release, nil
}

// Served reports whether an rpmirror serve runs on this state_dir
// (Serving).
func (s *Store) Served() (bool, error) {
	held, err := safefs.Held(s.dir, serveLockRel)
	if err != nil {
		return false, fmt.Errorf("asking whether rpmirror serve runs on the state_dir: %w", err)
	}
	return held, nil
}

// Adopted is what rpmirror serve records of the revision its lists name
// as current (the held one while a hold lasts).
type Adopted struct {
	Repo string `json:"repo"`
	// SHA256 is the hex digest of the revision's repomd.xml.
	SHA256 string `json:"sha256"`
	// At is when the lists named it (or when the daemon started).
	At time.Time `json:"at"`
	// MetalinkServed is when the daemon last answered a metalink of the
	// repository before the lists named it (zero for none): a client
	// that got one fetches the repomd.xml it names within moments.
	MetalinkServed time.Time `json:"metalink_served,omitzero"`
}

func (s *Store) adoptedRel(repo string) string { return "serve/" + repo + ".json" }

// SaveAdopted records a atomically (not made durable: it matters only
// while the processes that read it run).
func (s *Store) SaveAdopted(a *Adopted) error {
	return s.writeRecord("serve", s.adoptedRel(a.Repo), a, false, "the revision rpmirror serve lists for "+a.Repo)
}

// RemoveAdopted removes the record of repo: a daemon no longer serves it.
// A record that is absent is not an error.
func (s *Store) RemoveAdopted(repo string) error {
	return s.removeRecord(s.adoptedRel(repo), "the record of the revision rpmirror serve lists for "+repo)
}

// AdoptedRepos lists the repositories SaveAdopted has a record of.
func (s *Store) AdoptedRepos() ([]string, error) { return s.recordNames("serve") }

// LoadAdopted returns what SaveAdopted recorded last for repo, or nil.
func (s *Store) LoadAdopted(repo string) (*Adopted, error) {
	a, err := readRecord[Adopted](s, s.adoptedRel(repo), "the revision rpmirror serve lists for "+repo)
	if a != nil {
		a.Repo = repo
	}
	return a, err
}
