package sync

// SetFlush replaces what makes the cache durable before a mirror names
// its files (safefs.Flush), for a test that records it; it returns the
// one it replaced.
func SetFlush(f func(root string, paths []string) error) (old func(root string, paths []string) error) {
	old, flush = flush, f
	return old
}
