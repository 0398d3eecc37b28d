package sync

import "github.com/rpmirror/rpmirror/state"

// SetFlush replaces what makes the cache durable before a mirror names
// its files (safefs.Flush), for a test that records it; it returns the
// one it replaced.
func SetFlush(f func(root string, paths []string) error) (old func(root string, paths []string) error) {
	old, flush = flush, f
	return old
}

// SetSaveState replaces what saves a repository's state in the
// state_dir (state.Store.Save), for a test that records it; it returns
// the one it replaced.
func SetSaveState(f func(*state.Store, *state.Repo) error) (old func(*state.Store, *state.Repo) error) {
	old, saveRepoState = saveRepoState, f
	return old
}
