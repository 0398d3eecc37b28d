package daemon

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestRemoveStaleStaging: a list a killed daemon left staged in
// state_dir/tmp for longer than staleStaging is removed when a daemon
// starts; a younger one (another daemon's, in use) and anything else
// there stay.
func TestRemoveStaleStaging(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-2 * staleStaging)
	for _, tc := range []struct {
		name  string
		dir   bool
		mtime time.Time
		gone  bool
	}{
		{name: listStagePrefix + "123", mtime: old, gone: true},
		{name: listStagePrefix + "456", mtime: time.Now()},
		{name: "other-789", mtime: old},
		{name: listStagePrefix + "dir", dir: true, mtime: old},
	} {
		p := filepath.Join(dir, tc.name)
		var err error
		if tc.dir {
			err = os.Mkdir(p, 0o755)
		} else {
			err = os.WriteFile(p, []byte("x"), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, tc.mtime, tc.mtime); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_, err := os.Lstat(p)
			if gone := os.IsNotExist(err); gone != tc.gone {
				t.Errorf("%s: removed %v, want %v", tc.name, gone, tc.gone)
			}
		})
	}
	removeStaleStaging(dir, staleStaging, slog.New(slog.DiscardHandler))
	removeStaleStaging(filepath.Join(dir, "absent"), staleStaging, slog.New(slog.DiscardHandler)) // nothing staged yet: no error, nothing done
}
