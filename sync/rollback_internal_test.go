package sync

import (
	"strings"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/repodata"
)

func TestOlderRevision(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"1700000000", "1700000001", true},
		{"1700000001", "1700000000", false},
		{"5", "5", false},
		{"9", "10", true}, // numerically, not as strings
		{"release-2", "release-10", false},
		{"", "5", false},
	} {
		if got := olderRevision(tc.a, tc.b); got != tc.want {
			t.Errorf("olderRevision(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestNewestTimestamp(t *testing.T) {
	md := &repodata.Repomd{Data: []repodata.Data{{Timestamp: 5}, {Timestamp: 9}, {}}}
	if got := newestTimestamp(md); !got.Equal(time.Unix(9, 0)) {
		t.Errorf("newestTimestamp = %v, want 9", got)
	}
	if got := newestTimestamp(&repodata.Repomd{}); !got.IsZero() {
		t.Errorf("newestTimestamp of no data = %v, want zero", got)
	}
}

func TestRollbackErrorSaysWhy(t *testing.T) {
	for _, tc := range []struct {
		err  *RollbackError
		want string
	}{
		{&RollbackError{Origin: "https://o/", Revision: "1", CurrentRevision: "2", Replay: true}, "serves revision 1 again, which revision 2 replaced"},
		{&RollbackError{Origin: "https://o/", Revision: "1", CurrentRevision: "2"}, "revision 1 is older than the current revision 2"},
		{&RollbackError{Origin: "https://o/", Revision: "x", CurrentRevision: "y", Timestamp: time.Unix(1, 0), CurrentTimestamp: time.Unix(2, 0)}, "newest timestamp 1970-01-01T00:00:01Z) is older than the current revision y"},
	} {
		if msg := tc.err.Error(); !strings.Contains(msg, tc.want) || !strings.Contains(msg, "allow_rollback") {
			t.Errorf("%q does not say %q and how to allow it", msg, tc.want)
		}
	}
}
