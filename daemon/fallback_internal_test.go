package daemon

import (
	"strings"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/health"
	"github.com/rpmirror/rpmirror/state"
)

// TestFallback: what the lists hold when no mirror can be listed, and the
// comment that says why, in each case a tester found the comment wrong
// or the origin listed where it must not be.
func TestFallback(t *testing.T) {
	const sum = "1111111111111111111111111111111111111111111111111111111111111111"
	cur, old, unverified := repomdWith("repodata/c.xml.gz", sum), repomdWith("repodata/o.xml.gz", sum), repomdWith("repodata/u.xml.gz", sum)
	v := &state.Verified{Repo: "r"}
	v.Add(state.Revision{SHA256: sha256Hex(old), Repomd: old}, time.Now().Add(-time.Hour), 24*time.Hour)
	v.Add(state.Revision{SHA256: sha256Hex(cur), Repomd: cur}, time.Now(), 24*time.Hour)
	rc := config.Repo{Name: "r", Origin: "http://origin/"}
	filtered := rc
	filtered.Filter = &config.Filter{}
	for _, tc := range []struct {
		name         string
		rc           config.Repo
		v            *state.Verified
		originRepomd []byte
		refused      *refusal
		origin       health.State
		url          bool   // the origin listed
		comment      string // in the comment
	}{
		{"filtered", filtered, v, cur, nil, health.OK, false, "not this filtered one: listing nothing"},
		{"nothing verified, origin not read", rc, &state.Verified{Repo: "r"}, nil, nil, health.Unknown, false, "no revision is verified yet, and the origin is not probed yet: listing nothing"},
		{"nothing verified, origin down", rc, &state.Verified{Repo: "r"}, nil, nil, health.Down, false, "the origin is down at its last probe: listing nothing"},
		{"nothing verified, origin read before and down now", rc, &state.Verified{Repo: "r"}, unverified, nil, health.Down, false, "no revision is verified yet, and the origin is down at its last probe: listing nothing"},
		{"origin not probed yet", rc, v, nil, nil, health.Unknown, true, "serving the origin instead (not probed yet)"},
		{"origin down, read before", rc, v, cur, nil, health.Down, true, "which serves the current verified revision 1, though it was down at its last probe"},
		{"origin serving the current revision", rc, v, cur, nil, health.OK, true, "which serves the current verified revision 1"},
		{"origin gone back to a verified revision, refused", rc, v, old, &refusal{sha256: sha256Hex(old), revision: "1"}, health.OK, false, "was refused by the last sync (see /status): listing nothing"},
		{"origin's new revision refused", rc, v, unverified, &refusal{sha256: sha256Hex(unverified), revision: "1"}, health.OK, false, "failed verification: listing nothing"},
		{"origin's new revision not verified yet", rc, v, unverified, nil, health.OK, true, "is not verified yet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fb, _, _ := fallback(tc.rc, tc.v, tc.originRepomd, tc.refused, tc.origin)
			if (fb.URL != "") != tc.url || !strings.Contains(fb.Comment, tc.comment) {
				t.Errorf("fallback = %q, %q; want the origin listed: %v, a comment with %q", fb.URL, fb.Comment, tc.url, tc.comment)
			}
			if strings.Contains(fb.Comment, "down") != (tc.origin == health.Down) {
				t.Errorf("comment %q: says down %v, the origin's state is %s", fb.Comment, !(tc.origin == health.Down), tc.origin)
			}
		})
	}
}
