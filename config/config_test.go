package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// copyTestdata copies testdata/ into a temporary directory and changes
// into that directory, so that "testdata/..." names the copy: relative
// paths in the files then resolve to a directory the test may write,
// whoever runs it and wherever the checkout is. It returns the absolute
// path of the copy.
func copyTestdata(t *testing.T) string {
	t.Helper()
	tmp := t.TempDir()
	dst := filepath.Join(tmp, "testdata")
	if err := os.CopyFS(dst, os.DirFS("testdata")); err != nil {
		t.Fatal(err)
	}
	t.Chdir(tmp)
	return dst
}

// The exact message of every bad file. Relative paths in them resolve
// under testdata/, so the filesystem checks run on files that are there.
var badFiles = []struct {
	file string
	want string
}{
	{"bad-empty.yaml", `testdata/bad-empty.yaml:1: file is empty: want at least state_dir and repos`},
	{"bad-utf8.yaml", `testdata/bad-utf8.yaml:3: invalid UTF-8: save the file as UTF-8`},
	{"bad-syntax.yaml", `testdata/bad-syntax.yaml:5: invalid YAML: did not find expected ',' or ']'`},
	// The library says line 3 (where the repo starts) for both.
	{"bad-syntax-indent.yaml", `testdata/bad-syntax-indent.yaml:10: invalid YAML: did not find expected key (check this line's indentation against the lines above it)`},
	{"bad-syntax-list.yaml", `testdata/bad-syntax-list.yaml:12: invalid YAML: did not find expected '-' indicator (check this line's indentation against the lines above it)`},
	{"bad-syntax-unquoted.yaml", "testdata/bad-syntax-unquoted.yaml:5: invalid YAML: found character that cannot start any token (a value starting with @ or ` must be quoted, as in schedule: \"@every 1h\")"},
	{"bad-tab.yaml", `testdata/bad-tab.yaml:4: invalid YAML: found a tab character that violates indentation`},
	// The library says the line before, where the scalar ends that the
	// tab follows (a tester's: "one line too early").
	{"bad-tab-nested.yaml", `testdata/bad-tab-nested.yaml:8: invalid YAML: found a tab character that violates indentation`},
	{"bad-two-documents.yaml", `testdata/bad-two-documents.yaml:9: a second YAML document starts here (after ---): write everything in one`},
	{"bad-alias.yaml", `testdata/bad-alias.yaml:12: repo "gluster-9-el9": mirrors[0]: aliases (*local) are not supported: write the value out`},
	{"bad-not-mapping.yaml", `testdata/bad-not-mapping.yaml:1: the file: expected a mapping of state_dir, listen, probe_interval, probe_timeout, max_parallel_syncs, max_parallel_probes, api_token_file, alerts, download, geoip_db, trusted_proxies, access_log, lease_ttl, lease_holder, repos, found a list`},

	{"bad-unknown-key-top.yaml", `testdata/bad-unknown-key-top.yaml:2: unknown key "log_level" (valid keys here: state_dir, listen, probe_interval, probe_timeout, max_parallel_syncs, max_parallel_probes, api_token_file, alerts, download, geoip_db, trusted_proxies, access_log, lease_ttl, lease_holder, repos)`},
	{"bad-unknown-key-download.yaml", `testdata/bad-unknown-key-download.yaml:3: download: unknown key "parallel" (valid keys here: concurrency, retries, connect_timeout, stall_timeout, max_metadata_size)`},
	{"bad-unknown-key-repo.yaml", `testdata/bad-unknown-key-repo.yaml:5: repo "gluster-9-el8": unknown key "gpgkey" (did you mean "gpgkeys"? valid keys here: name, mirrorlist_name, arch, vars, origin, origin_metalink, origin_mirrorlist, schedule, gpgkeys, repo_gpgcheck, repo_gpgkeys, allow_rollback, prune_after, max_lag, min_checksum, follow_xml_base, origin_auth_file, tls, snapshots, filter, sign_with, mirrors)`},
	{"bad-unknown-key-mirror.yaml", `testdata/bad-unknown-key-mirror.yaml:8: repo "gluster-9-el8": mirror "local": unknown key "URL" (did you mean "url"? valid keys here: name, path, s3, url, priority, networks, country, private, weight)`},
	{"bad-listen.yaml", `testdata/bad-listen.yaml:1: listen "localhost": want HOST:PORT, such as 127.0.0.1:8080 or :8080`},
	{"bad-probe-timeout.yaml", `testdata/bad-probe-timeout.yaml:2: probe_timeout 10s: must not be longer than probe_interval 5s (line 1)`},
	{"bad-probe-timeout-default.yaml", `testdata/bad-probe-timeout-default.yaml:1: probe_timeout 1m30s: must not be longer than probe_interval, which is 1m0s by default`},
	{"bad-max-parallel-syncs.yaml", `testdata/bad-max-parallel-syncs.yaml:2: max_parallel_syncs 0: out of range 1..1024`},
	{"bad-probe-interval.yaml", `testdata/bad-probe-interval.yaml:1: probe_interval "500ms": must be at least 1s`},
	{"bad-webhook.yaml", `testdata/bad-webhook.yaml:2: alerts: webhook "ftp://alerts.example.org/x": want an http:// or https:// URL`},
	{"bad-priority.yaml", `testdata/bad-priority.yaml:9: repo "gluster-9-el8": mirror "local": priority 0: out of range 1..1000`},
	{"bad-min-checksum.yaml", `testdata/bad-min-checksum.yaml:5: repo "gluster-9-el8": min_checksum "crc32": want one of md5, sha1, sha224, sha256, sha384, sha512`},
	{"bad-repo-gpgcheck-no-keys.yaml", `testdata/bad-repo-gpgcheck-no-keys.yaml:5: repo "gluster-9-el8": repo_gpgcheck: true needs the keys repomd.xml is signed with: set repo_gpgkeys (or gpgkeys)`},
	{"bad-repo-gpgkeys-unused.yaml", `testdata/bad-repo-gpgkeys-unused.yaml:5: repo "gluster-9-el8": repo_gpgkeys is set but repo_gpgcheck is not true: the keys would not be used (add repo_gpgcheck: true)`},
	{"bad-allow-rollback.yaml", `testdata/bad-allow-rollback.yaml:5: repo "gluster-9-el8": allow_rollback: expected true or false, found "sometimes"`},
	{"bad-follow-xml-base.yaml", `testdata/bad-follow-xml-base.yaml:5: repo "gluster-9-el8": follow_xml_base: expected true or false, found "yes please"`},
	{"bad-max-metadata-size.yaml", `testdata/bad-max-metadata-size.yaml:2: download: max_metadata_size "12 bananas": want a whole number of bytes, optionally with a unit (KiB, MiB, GiB, TiB)`},
	{"bad-origin-auth.yaml", `testdata/bad-origin-auth.yaml:5: repo "gluster-9-el8": origin_auth_file $TESTDATA/bad-auth.txt: want one line user:password`},
	{"bad-ca-file.yaml", `testdata/bad-ca-file.yaml:6: repo "gluster-9-el8": tls: ca_file "$TESTDATA/bad-auth.txt": holds no PEM certificate`},
	{"bad-duplicate-key.yaml", `testdata/bad-duplicate-key.yaml:5: repo "gluster-9-el8": origin is given twice (first at line 4)`},

	{"bad-type-repos.yaml", `testdata/bad-type-repos.yaml:3: repos: expected a list of repos, found a mapping`},
	{"bad-type-mirrors.yaml", `testdata/bad-type-mirrors.yaml:6: repo "gluster-9-el8": mirrors: expected a list of mirrors, found "local"`},
	{"bad-type-download.yaml", `testdata/bad-type-download.yaml:3: download: expected a mapping of concurrency, retries, connect_timeout, stall_timeout, max_metadata_size, found a list`},
	{"bad-type-name.yaml", `testdata/bad-type-name.yaml:3: repos[0]: name: expected a string, found a list`},
	{"bad-retries-type.yaml", `testdata/bad-retries-type.yaml:3: download: retries: expected a whole number, found "three"`},
	{"bad-gpgkeys-scalar.yaml", `testdata/bad-gpgkeys-scalar.yaml:5: repo "gluster-9-el8": gpgkeys: expected a list of key files, found "test-key.asc": write gpgkeys: ["test-key.asc"]`},

	{"bad-missing-state-dir.yaml", `testdata/bad-missing-state-dir.yaml:1: missing state_dir: the directory for rpmirror's state and download cache`},
	{"bad-missing-repos.yaml", `testdata/bad-missing-repos.yaml:1: missing repos: the list of repositories to mirror; write "repos: []" for none yet`},
	{"bad-missing-name.yaml", `testdata/bad-missing-name.yaml:3: repos[0]: missing name: a name of letters, digits, '.', '_' and '-'`},
	{"bad-missing-origin.yaml", `testdata/bad-missing-origin.yaml:3: repo "gluster-9-el8": missing origin: the URL of the repository to mirror`},
	{"bad-missing-mirrors.yaml", `testdata/bad-missing-mirrors.yaml:3: repo "gluster-9-el8": missing mirrors: at least one mirror is required`},
	{"bad-no-mirrors.yaml", `testdata/bad-no-mirrors.yaml:5: repo "gluster-9-el8": mirrors is empty: at least one mirror is required`},
	{"bad-mirror-missing-name.yaml", `testdata/bad-mirror-missing-name.yaml:6: repo "gluster-9-el8": mirrors[0]: missing name: a name of letters, digits, '.', '_' and '-'`},
	{"bad-probe-without-url.yaml", `testdata/bad-probe-without-url.yaml:8: repo "gluster-9-el8": mirror "partner": neither path nor url: a mirror rpmirror writes needs a path (or s3), one it only probes needs a url`},

	{"bad-name-charset.yaml", `testdata/bad-name-charset.yaml:3: repo name "gluster 9/el8": may only hold letters, digits, '.', '_' and '-'`},
	{"bad-name-dotdot.yaml", `testdata/bad-name-dotdot.yaml:3: repo name "..": must not be "." or ".."`},
	{"bad-name-duplicate.yaml", `testdata/bad-name-duplicate.yaml:8: repo name "gluster-9-el8" is already used at line 3`},
	{"bad-mirror-name-duplicate.yaml", `testdata/bad-mirror-name-duplicate.yaml:8: repo "gluster-9-el8": mirror name "local" is already used at line 6`},
	{"bad-mirror-url-duplicate.yaml", `testdata/bad-mirror-url-duplicate.yaml:9: repo "gluster-9-el8": mirror "ci": url "https://mirror.example.org/x/" is mirror "public"'s already (line 7): one URL is one mirror`},

	{"bad-path-duplicate.yaml", `testdata/bad-path-duplicate.yaml:12: repo "gluster-9-el9": mirror "local": path "$TESTDATA/mirror/x" is also the path of repo "gluster-9-el8" mirror "local" (line 7)`},
	{"bad-path-nested.yaml", `testdata/bad-path-nested.yaml:12: repo "gluster-9-el9": mirror "local": path "$TESTDATA/mirror/el9" is inside the path "$TESTDATA/mirror" of repo "gluster-9-el8" mirror "local" (line 7)`},
	{"bad-path-state-dir.yaml", `testdata/bad-path-state-dir.yaml:7: repo "gluster-9-el8": mirror "local": path "$TESTDATA/state/published" is inside state_dir "$TESTDATA/state" (line 1)`},
	{"bad-path-root.yaml", `testdata/bad-path-root.yaml:7: repo "gluster-9-el8": mirror "local": path "/": must not be the root directory`},
	{"bad-path-tilde.yaml", `testdata/bad-path-tilde.yaml:7: repo "gluster-9-el8": mirror "local": path "~/mirror": ~ is not expanded: write the full path`},
	{"bad-path-url.yaml", `testdata/bad-path-url.yaml:7: repo "gluster-9-el8": mirror "local": path "file:///srv/mirror": write a local path, not a URL`},
	{"bad-path-not-writable.yaml", `testdata/bad-path-not-writable.yaml:7: repo "gluster-9-el8": mirror "local": path "$TESTDATA/test-key.asc/mirror": cannot be created: "$TESTDATA/test-key.asc" is not a directory`},
	{"bad-state-dir-not-writable.yaml", `testdata/bad-state-dir-not-writable.yaml:1: state_dir "$TESTDATA/test-key.asc/state": cannot be created: "$TESTDATA/test-key.asc" is not a directory`},

	{"bad-origin-and-metalink.yaml", `testdata/bad-origin-and-metalink.yaml:5: repo "epel-9": origin (line 4) and origin_metalink at line 5: give only one of origin, origin_metalink and origin_mirrorlist`},
	{"bad-origin-list-duplicate.yaml", `testdata/bad-origin-list-duplicate.yaml:7: repo "gluster-9-el8": origin "https://download.gluster.org/pub/gluster/9/" is listed twice (first at line 5)`},
	{"bad-origin-list-item.yaml", `testdata/bad-origin-list-item.yaml:6: repo "gluster-9-el8": origin "ftp://partner.example.org/gluster/9/": scheme "ftp" is not supported: want http://, https:// or file://`},
	{"bad-origin-list-empty.yaml", `testdata/bad-origin-list-empty.yaml:4: repo "gluster-9-el8": origin is an empty list: want the URL of the repository, or a list of URLs serving it, primary first`},
	{"bad-origin-mirrorlist.yaml", `testdata/bad-origin-mirrorlist.yaml:4: repo "epel-9": origin_mirrorlist "https://user:xxxxx@mirrors.example.org/mirrorlist?repo=epel-9": credentials must not be written in the URL: put them in a file and name it with origin_auth_file`},
	{"bad-origin-scheme.yaml", `testdata/bad-origin-scheme.yaml:4: repo "gluster-9-el8": origin "ftp://download.gluster.org/pub/gluster/": scheme "ftp" is not supported: want http://, https:// or file://`},
	{"bad-origin-relative.yaml", `testdata/bad-origin-relative.yaml:4: repo "gluster-9-el8": origin "download.gluster.org/pub/gluster/": not an absolute URL: want http://, https:// or file://`},
	{"bad-origin-file-host.yaml", `testdata/bad-origin-file-host.yaml:4: repo "gluster-9-el8": origin "file://srv/upstream/gluster": a file URL has no host (found "srv"): write file:///absolute/path`},
	{"bad-url-no-host.yaml", `testdata/bad-url-no-host.yaml:7: repo "gluster-9-el8": mirror "partner": url "https:///gluster-9-el8/": no host: want https://HOST/PATH`},
	{"bad-url-query.yaml", `testdata/bad-url-query.yaml:4: repo "gluster-9-el8": origin "https://download.gluster.org/pub/?arch=x86_64": a query (?...) is not allowed`},
	{"bad-url-fragment.yaml", `testdata/bad-url-fragment.yaml:7: repo "gluster-9-el8": mirror "partner": url "https://mirror.partner.example/gluster#el8": a fragment (#...) is not allowed`},
	{"bad-url-credentials.yaml", `testdata/bad-url-credentials.yaml:7: repo "gluster-9-el8": mirror "partner": url "https://mirror:xxxxx@mirror.partner.example/gluster/": credentials must not be written in the URL: a mirror's URL is published in the mirrorlist and metalink for every client to read`},
	{"bad-origin-credentials.yaml", `testdata/bad-origin-credentials.yaml:4: repo "gluster-9-el8": origin "https://partner:xxxxx@download.gluster.org/pub/": credentials must not be written in the URL: put them in a file and name it with origin_auth_file`},
	{"bad-url-file-mirror.yaml", `testdata/bad-url-file-mirror.yaml:8: repo "gluster-9-el8": mirror "local": url "file:///srv/mirror/x/": scheme file is not supported here: want http:// or https://`},
	{"bad-url-invalid.yaml", `testdata/bad-url-invalid.yaml:7: repo "gluster-9-el8": mirror "partner": url "http://mirror partner.example/": not a valid URL: invalid character " " in host name`},

	{"bad-prune-after-unit.yaml", `testdata/bad-prune-after-unit.yaml:5: repo "gluster-9-el8": prune_after "1d": unknown unit "d" (valid units: ns, us, ms, s, m, h; for example 90s, 15m, 24h)`},
	{"bad-prune-after-no-unit.yaml", `testdata/bad-prune-after-no-unit.yaml:5: repo "gluster-9-el8": prune_after "24": missing unit (valid units: ns, us, ms, s, m, h; for example 90s, 15m, 24h)`},
	{"bad-snapshots-keep.yaml", `testdata/bad-snapshots-keep.yaml:6: repo "ovirt-master": snapshots: keep 0: out of range 1..100000`},
	{"bad-snapshots-keep-for.yaml", `testdata/bad-snapshots-keep-for.yaml:6: repo "ovirt-master": snapshots: keep_for "14d": unknown unit "d" (valid units: ns, us, ms, s, m, h; for example 90s, 15m, 24h)`},
	{"bad-snapshots-pinned.yaml", `testdata/bad-snapshots-pinned.yaml:9: repo "ovirt-master": snapshots: pinned "2026-11-26": not a snapshot name: want the UTC time it was taken, as 20261126T120000Z`},
	{"bad-snapshots-pinned-twice.yaml", `testdata/bad-snapshots-pinned-twice.yaml:6: repo "ovirt-master": snapshots: pinned "20261126T120000Z" is listed twice (first at line 6)`},
	{"bad-snapshots-type.yaml", `testdata/bad-snapshots-type.yaml:5: repo "ovirt-master": snapshots: expected a mapping of keep, keep_for, pinned, found "14"`},
	{"bad-max-lag.yaml", `testdata/bad-max-lag.yaml:5: repo "gluster-9-el8": max_lag "1d": unknown unit "d" (valid units: ns, us, ms, s, m, h; for example 90s, 15m, 24h)`},
	{"bad-prune-after-negative.yaml", `testdata/bad-prune-after-negative.yaml:5: repo "gluster-9-el8": prune_after "-1h": must not be negative`},
	{"bad-timeout-zero.yaml", `testdata/bad-timeout-zero.yaml:3: download: connect_timeout "0s": must be greater than zero`},
	{"bad-concurrency-range.yaml", `testdata/bad-concurrency-range.yaml:3: download: concurrency 100: out of range 1..64`},

	{"bad-schedule-fields.yaml", `testdata/bad-schedule-fields.yaml:5: repo "gluster-9-el8": schedule "*/15 * *": expected 5 fields, found 3 (minute hour day-of-month month day-of-week)`},
	{"bad-schedule-every-ms.yaml", `testdata/bad-schedule-every-ms.yaml:5: repo "gluster-9-el8": schedule "@every 500ms": the @every interval must be at least 1s`},
	{"bad-schedule-tz-only.yaml", `testdata/bad-schedule-tz-only.yaml:5: repo "gluster-9-el8": schedule "CRON_TZ=UTC": CRON_TZ=UTC must be followed by a schedule`},
	{"bad-schedule-range.yaml", `testdata/bad-schedule-range.yaml:5: repo "gluster-9-el8": schedule "0 25 * * *": end of range (25) above maximum (23): 25`},

	{"bad-gpgkeys-missing.yaml", `testdata/bad-gpgkeys-missing.yaml:5: repo "gluster-9-el8": gpgkeys "$TESTDATA/RPM-GPG-KEY-missing": no such file or directory`},
	{"bad-gpgkeys-not-a-key.yaml", `testdata/bad-gpgkeys-not-a-key.yaml:5: repo "gluster-9-el8": gpgkeys "$TESTDATA/not-a-key.asc": not a usable OpenPGP public key file: reading key: openpgp: invalid data: tag byte does not have MSB set`},
	{"bad-repo-gpgkeys-missing.yaml", `testdata/bad-repo-gpgkeys-missing.yaml:9: repo "gluster-9-el8": repo_gpgkeys "$TESTDATA/RPM-GPG-KEY-repomd-missing": no such file or directory`},
	{"bad-gpgkeys-url.yaml", `testdata/bad-gpgkeys-url.yaml:5: repo "gluster-9-el8": gpgkeys "https://download.gluster.org/pub/gluster/glusterfs/9/rsa.pub": write a local path, not a URL`},

	{"bad-vars-unknown.yaml", `testdata/bad-vars-unknown.yaml:5: repo "epel-${releasever}": origin: unknown variable ${basearch} (vars here: releasever)`},
	{"bad-vars-flow.yaml", `testdata/bad-vars-flow.yaml:6: invalid YAML: did not find expected ',' or ']' (inside [...] or {...}, quote a value holding ${...}, as in gpgkeys: ["/etc/pki/rpm-gpg/KEY-${releasever}"])`},
	{"bad-vars-without-vars.yaml", `testdata/bad-vars-without-vars.yaml:4: repo "epel-9": origin: unknown variable ${releasever}: this repo has no vars`},
	{"bad-vars-name.yaml", `testdata/bad-vars-name.yaml:4: repo "epel-${releasever}": vars: basearch has 2 values but the name does not use ${basearch}: each repo needs its own name`},
	{"bad-vars-type.yaml", `testdata/bad-vars-type.yaml:4: repo "epel-${releasever}": vars: expected a mapping of variable names to lists of values, such as {releasever: [8, 9]}, found a list`},
	{"bad-vars-value.yaml", `testdata/bad-vars-value.yaml:5: repo "epel-${releasever}": vars: releasever: value "8" is listed twice`},
	{"bad-list-name-duplicate.yaml", `testdata/bad-list-name-duplicate.yaml:4: repo "epel-9-aarch64": mirrorlist_name "epel-9" is also that of repo "epel-9-x86_64" (line 3): clients could not tell them apart`},
	{"bad-arch.yaml", `testdata/bad-arch.yaml:5: repo "epel-9": arch "x86 64": may only hold letters, digits, '.', '_' and '-'`},
	{"bad-networks.yaml", `testdata/bad-networks.yaml:8: repo "gluster-9-el8": mirror "ci": networks: "10.21.3.4/16": has bits set after the first 16: did you mean 10.21.0.0/16?`},
	{"bad-networks-scalar.yaml", `testdata/bad-networks-scalar.yaml:8: repo "gluster-9-el8": mirror "ci": networks: expected a list of networks, found "10.20.0.0/16": write networks: ["10.20.0.0/16"]`},
	{"bad-country.yaml", `testdata/bad-country.yaml:8: repo "gluster-9-el8": mirror "london": country "UK": not an ISO 3166-1 alpha-2 code: did you mean GB?`},
	{"bad-private.yaml", `testdata/bad-private.yaml:8: repo "gluster-9-el8": mirror "ci": private: true needs networks: a private mirror is listed only to clients inside its networks`},
	{"bad-weight.yaml", `testdata/bad-weight.yaml:8: repo "gluster-9-el8": mirror "partner": weight 0: out of range 1..1000000`},
	{"bad-trusted-proxies.yaml", `testdata/bad-trusted-proxies.yaml:2: trusted_proxies: "localhost": not an IP network: want ADDRESS/BITS, such as 10.20.0.0/16 or 2001:db8::/32`},
	{"bad-geoip-db.yaml", `testdata/bad-geoip-db.yaml:2: geoip_db "$TESTDATA/test-key.asc": not a MaxMind DB (.mmdb) file`},
	{"bad-access-log.yaml", `testdata/bad-access-log.yaml:2: access_log "$TESTDATA/test-key.asc/access.log": directory "$TESTDATA/test-key.asc": exists and is not a directory`},

	{"bad-filter-unknown-key.yaml", `testdata/bad-filter-unknown-key.yaml:6: repo "el9-baseos": filter: unknown key "arches" (did you mean "arch"? valid keys here: arch, include, exclude, newest)`},
	{"bad-filter-glob.yaml", `testdata/bad-filter-glob.yaml:6: repo "el9-baseos": filter: include "glusterfs[": not a valid glob: want *, ? and [...] as in "glusterfs*", with every [ closed and no \ at the end`},
	{"bad-filter-newest.yaml", `testdata/bad-filter-newest.yaml:7: repo "el9-baseos": filter: newest -1: out of range 0..10000`},
	{"bad-filter-arch.yaml", strings.Join([]string{
		`testdata/bad-filter-arch.yaml:8: repo "el9-baseos": filter: arch: empty entry: want an arch such as x86_64, noarch or src`,
		`testdata/bad-filter-arch.yaml:10: repo "el9-baseos": filter: arch "x86_64" is listed twice (first at line 7)`,
	}, "\n")},
	{"bad-filter-type.yaml", `testdata/bad-filter-type.yaml:5: repo "el9-baseos": filter: expected a mapping of arch, include, exclude, newest, found "x86_64"`},
	{"bad-filter-exclude-scalar.yaml", `testdata/bad-filter-exclude-scalar.yaml:6: repo "el9-baseos": filter: exclude: expected a list of name globs, found "*-debuginfo": write exclude: ["*-debuginfo"]`},
	{"bad-filter-null.yaml", `testdata/bad-filter-null.yaml:5: repo "el9-baseos": filter has no value: write filter: {} to keep every package with rpmirror writing the metadata, or remove the key to mirror the origin whole`},
	{"bad-filter-arch-empty.yaml", `testdata/bad-filter-arch-empty.yaml:6: repo "el9-baseos": filter: arch is an empty list, which would keep nothing: list the arches to keep, or leave arch out to keep every arch`},
	{"bad-sign-with-public.yaml", `testdata/bad-sign-with-public.yaml:6: repo "el9-baseos": sign_with "$TESTDATA/test-key.asc": holds no OpenPGP secret key (export one with gpg --export-secret-keys --armor KEYID)`},
	{"bad-sign-with-protected.yaml", `testdata/bad-sign-with-protected.yaml:6: repo "el9-baseos": sign_with "$TESTDATA/sign-key-protected.asc": the secret key is protected by a passphrase, which rpmirror cannot type: use a key without one, readable only by rpmirror`},
	{"bad-sign-with-no-filter.yaml", `testdata/bad-sign-with-no-filter.yaml:5: repo "el9-baseos": sign_with is set but filter is not: rpmirror signs only the repomd.xml it writes for a filtered mirror (add a filter, or leave sign_with out)`},

	{"bad-s3.yaml", strings.Join([]string{
		`testdata/bad-s3.yaml:2: lease_ttl "1s": must be at least 3s (object stores date writes in whole seconds)`,
		`testdata/bad-s3.yaml:9: repo "gluster-9-el8": mirror "scheme": s3: endpoint "ftp://s3.example.org": want an http or https URL such as https://s3.example.org`,
		`testdata/bad-s3.yaml:13: repo "gluster-9-el8": mirror "userinfo": s3: endpoint "https://AKID:xxxxx@s3.example.org": must not hold credentials: use credentials_file or the environment`,
		`testdata/bad-s3.yaml:17: repo "gluster-9-el8": mirror "path": s3: endpoint "https://s3.example.org/mirrors": want the store's URL without a path: put the bucket in bucket and the directory in prefix`,
		`testdata/bad-s3.yaml:18: repo "gluster-9-el8": mirror "path": s3: bucket "Mirrors_1": want 3 to 63 lowercase letters, digits, '.' and '-', beginning and ending with a letter or digit`,
		`testdata/bad-s3.yaml:19: repo "gluster-9-el8": mirror "path": s3: prefix "gluster": must end with "/" (write "gluster/"), or be "" for the bucket's root`,
		`testdata/bad-s3.yaml:24: repo "gluster-9-el8": mirror "dotdot": s3: prefix "a/../b/": want a relative path of names, with no empty, "." or ".." element`,
		`testdata/bad-s3.yaml:25: repo "gluster-9-el8": mirror "dotdot": s3: region "US East": want a region name such as us-east-1`,
		`testdata/bad-s3.yaml:26: repo "gluster-9-el8": mirror "dotdot": s3: profile "mirror" is set but credentials_file is not: the profile would not be used (the environment's AWS_ACCESS_KEY_ID is)`,
		`testdata/bad-s3.yaml:28: repo "gluster-9-el8": mirror "missing": s3: missing endpoint: the store's http(s) URL, such as https://s3.example.org`,
		`testdata/bad-s3.yaml:28: repo "gluster-9-el8": mirror "missing": s3: missing bucket: the bucket the mirror is in (it must exist: rpmirror never creates buckets)`,
		`testdata/bad-s3.yaml:32: repo "gluster-9-el8": mirror "both": both path and s3: a written mirror is a directory or a place in object storage, not both`,
	}, "\n")},
	{"bad-s3-overlap.yaml", strings.Join([]string{
		`testdata/bad-s3-overlap.yaml:17: repo "gluster-9-el9": mirror "objstore": s3: bucket "mirrors" prefix "gluster/el9/" is inside prefix "gluster/" of repo "gluster-9-el8" mirror "objstore" (line 9)`,
		`testdata/bad-s3-overlap.yaml:22: repo "gluster-9-el9": mirror "root": s3: bucket "mirrors" prefix "" contains prefix "gluster/" of repo "gluster-9-el8" mirror "objstore" (line 9)`,
		`testdata/bad-s3-overlap.yaml:22: repo "gluster-9-el9": mirror "root": s3: bucket "mirrors" prefix "" contains prefix "gluster/el9/" of repo "gluster-9-el9" mirror "objstore" (line 17)`,
	}, "\n")},
	{"bad-s3-credentials.yaml", strings.Join([]string{
		`testdata/bad-s3-credentials.yaml:10: repo "gluster-9-el8": mirror "objstore": s3: credentials_file: credentials file $TESTDATA/s3-credentials has no profile [mirror]: no access key`,
		`testdata/bad-s3-credentials.yaml:16: repo "gluster-9-el8": mirror "nofile": s3: credentials_file "$TESTDATA/s3-none": no such file or directory`,
	}, "\n")},

	{"bad-several.yaml", strings.Join([]string{
		`testdata/bad-several.yaml:4: download: concurrency 0: out of range 1..64`,
		`testdata/bad-several.yaml:5: download: stall_timeout "soon": not a duration (for example 90s, 15m, 24h, 1h30m)`,
		`testdata/bad-several.yaml:8: repo "gluster-9-el8": origin "ftp://download.gluster.org/pub/gluster/glusterfs/9/LATEST/EPEL.repo/epel-8/x86_64/": scheme "ftp" is not supported: want http://, https:// or file://`,
		`testdata/bad-several.yaml:9: repo "gluster-9-el8": schedule "*/15 * *": expected 5 fields, found 3 (minute hour day-of-month month day-of-week)`,
		`testdata/bad-several.yaml:10: repo "gluster-9-el8": prune_after "1d": unknown unit "d" (valid units: ns, us, ms, s, m, h; for example 90s, 15m, 24h)`,
		`testdata/bad-several.yaml:14: repo "gluster-9-el8": mirror "partner": neither path nor url: a mirror rpmirror writes needs a path (or s3), one it only probes needs a url`,
		`testdata/bad-several.yaml:15: repo name "gluster-9-el8" is already used at line 7`,
		`testdata/bad-several.yaml:17: repo "gluster-9-el8": unknown key "mirror" (did you mean "mirrors"? valid keys here: name, mirrorlist_name, arch, vars, origin, origin_metalink, origin_mirrorlist, schedule, gpgkeys, repo_gpgcheck, repo_gpgkeys, allow_rollback, prune_after, max_lag, min_checksum, follow_xml_base, origin_auth_file, tls, snapshots, filter, sign_with, mirrors)`,
	}, "\n")},
}

func TestLoadBadFiles(t *testing.T) {
	td := copyTestdata(t)
	for _, tc := range badFiles {
		t.Run(tc.file, func(t *testing.T) {
			c, err := Load(filepath.Join("testdata", tc.file))
			if err == nil {
				t.Fatalf("Load succeeded, want:\n%s", tc.want)
			}
			if c != nil {
				t.Errorf("Load returned a config along with an error")
			}
			if got := strings.ReplaceAll(err.Error(), td, "$TESTDATA"); got != tc.want {
				t.Errorf("wrong message\ngot:\n%s\nwant:\n%s", got, tc.want)
			}
			var errs *Errors
			if !errors.As(err, &errs) || len(*errs) != strings.Count(tc.want, "\n")+1 {
				t.Errorf("error is not a *Errors with one entry per line: %#v", err)
			}
		})
	}
}

// Every bad file has its message pinned.
func TestBadFilesAllListed(t *testing.T) {
	files, err := filepath.Glob("testdata/bad-*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		if !slices.ContainsFunc(badFiles, func(b struct{ file, want string }) bool { return b.file == name }) {
			t.Errorf("%s has no entry in badFiles", f)
		}
	}
}

func TestLoadGoodFiles(t *testing.T) {
	td := copyTestdata(t)
	defaults := Download{Concurrency: 4, Retries: 3, ConnectTimeout: 10 * time.Second, StallTimeout: 30 * time.Second, MaxMetadataSize: DefaultMaxMetadataSize}
	tests := []struct {
		file string
		want Config
	}{
		{"good-minimal.yaml", Config{
			StateDir: td + "/state",
			Download: defaults,
			Repos: []Repo{{
				Name:        "gluster-9-el8",
				Origin:      "https://download.gluster.org/pub/gluster/glusterfs/9/LATEST/EPEL.repo/epel-8/x86_64/",
				Schedule:    "@every 1h",
				PruneAfter:  24 * time.Hour,
				MaxLag:      24 * time.Hour,
				MinChecksum: "sha1",
				Line:        4,
				Mirrors:     []Mirror{{Name: "local", Path: td + "/mirror/gluster-9-el8", Priority: 100, Line: 7}},
			}},
		}},
		{"good-nulls.yaml", Config{
			StateDir: td + "/state",
			Download: defaults,
			Repos: []Repo{{
				Name:        "gluster-9-el8",
				Origin:      "https://download.gluster.org/pub/gluster/glusterfs/9/LATEST/EPEL.repo/epel-8/x86_64/",
				Schedule:    "@every 1h",
				PruneAfter:  24 * time.Hour,
				MaxLag:      24 * time.Hour,
				MinChecksum: "sha1",
				Line:        5,
				Mirrors:     []Mirror{{Name: "local", Path: td + "/mirror/gluster-9-el8", Priority: 100, Line: 11}},
			}},
		}},
		{"good-no-repos.yaml", Config{
			StateDir: td + "/state",
			Download: defaults,
		}},
		{"good-full.yaml", Config{
			StateDir: "/tmp/rpmirror-config-test-state",
			Download: Download{Concurrency: 8, Retries: 0, ConnectTimeout: 5 * time.Second, StallTimeout: 150 * time.Second, MaxMetadataSize: DefaultMaxMetadataSize},
			Repos: []Repo{{
				Name:          "gluster-9-el8",
				Origin:        "https://download.gluster.org/pub/gluster/glusterfs/9/LATEST/EPEL.repo/epel-8/x86_64/",
				Schedule:      "CRON_TZ=UTC 30 */6 * * *",
				GPGKeys:       []string{td + "/test-key.asc"},
				RepoGPGKeys:   []string{td + "/test-key.asc"},
				RepoGPGCheck:  true,
				AllowRollback: true,
				PruneAfter:    0,
				MaxLag:        24 * time.Hour,
				MinChecksum:   "sha1",
				Line:          9,
				Mirrors: []Mirror{
					{Name: "local", Path: td + "/mirror/gluster-9-el8", URL: "http://mirror1.example.org/gluster-9-el8/", Priority: 100, Line: 17},
					{Name: "partner", URL: "https://mirror.partner.example/gluster-9-el8/", Priority: 100, Line: 20},
				},
			}, {
				Name:        "Gluster_9.el9",
				Origin:      "http://[::1]:8080/el9/",
				Schedule:    "@daily",
				GPGKeys:     []string{td + "/test-key.asc"},
				RepoGPGKeys: []string{td + "/test-key.asc"},
				PruneAfter:  36 * time.Hour,
				MaxLag:      0,
				MinChecksum: "sha1",
				Line:        22,
				Mirrors:     []Mirror{{Name: "local-2", Path: td + "/mirror/gluster-9-el9", Priority: 100, Line: 30}},
			}},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("testdata", tc.file)
			c, err := Load(path)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			tc.want.File = path
			compareConfig(t, c, &tc.want)
		})
	}
}

// compareConfig compares the exported fields of two configurations.
func compareConfig(t *testing.T, got, want *Config) {
	t.Helper()
	if got.File != want.File || got.StateDir != want.StateDir || got.Download != want.Download {
		t.Errorf("got File %q StateDir %q Download %+v\nwant File %q StateDir %q Download %+v",
			got.File, got.StateDir, got.Download, want.File, want.StateDir, want.Download)
	}
	if len(got.Repos) != len(want.Repos) {
		t.Fatalf("got %d repos, want %d", len(got.Repos), len(want.Repos))
	}
	for i, g := range got.Repos {
		w := want.Repos[i]
		if g.Name != w.Name || g.Origin != w.Origin || g.Schedule != w.Schedule || g.PruneAfter != w.PruneAfter || g.MaxLag != w.MaxLag ||
			g.Line != w.Line || !slices.Equal(g.GPGKeys, w.GPGKeys) || g.MinChecksum != w.MinChecksum || g.FollowXMLBase != w.FollowXMLBase ||
			g.RepoGPGCheck != w.RepoGPGCheck || !slices.Equal(g.RepoGPGKeys, w.RepoGPGKeys) || g.AllowRollback != w.AllowRollback {
			t.Errorf("repo %d:\ngot  %+v\nwant %+v", i, g, w)
		}
		if len(g.Mirrors) != len(w.Mirrors) {
			t.Errorf("repo %d: got %d mirrors, want %d", i, len(g.Mirrors), len(w.Mirrors))
			continue
		}
		for j, gm := range g.Mirrors {
			wm := w.Mirrors[j]
			if gm.Name != wm.Name || gm.Path != wm.Path || gm.URL != wm.URL || gm.Line != wm.Line || gm.Priority != wm.Priority {
				t.Errorf("repo %d mirror %d:\ngot  %+v\nwant %+v", i, j, gm, wm)
			}
		}
	}
}

// The example at the root of the repository is valid; its paths are for a
// real mirror host, so the filesystem is not consulted.
func TestExampleConfig(t *testing.T) {
	c, err := LoadWith("../mirrors.yaml", LoadOptions{SkipFilesystem: true})
	if err != nil {
		t.Fatalf("LoadWith: %v", err)
	}
	if len(c.Repos) != 3 {
		t.Fatalf("got %d repos, want 3 (one, and one entry with vars for two)", len(c.Repos))
	}
	if _, ok := c.Repo("gluster-9-el9-aarch64"); !ok {
		t.Error(`no repo "gluster-9-el9-aarch64" expanded from vars`)
	}
	r, ok := c.Repo("gluster-9-el8")
	if !ok {
		t.Fatal(`no repo "gluster-9-el8"`)
	}
	local, ok := r.Mirror("local")
	if !ok || !local.Written() || local.Path != "/srv/mirror/gluster-9-el8" {
		t.Errorf(`mirror "local" = %+v, want written to /srv/mirror/gluster-9-el8`, local)
	}
	partner, ok := r.Mirror("partner")
	if !ok || partner.Written() || partner.URL == "" {
		t.Errorf(`mirror "partner" = %+v, want probe-only with a url`, partner)
	}
	if _, ok := c.Repo("nope"); ok {
		t.Error(`Repo("nope") found something`)
	}
	if _, ok := r.Mirror("nope"); ok {
		t.Error(`Mirror("nope") found something`)
	}

	// The example sets every key; the documentation describes every key.
	example, err := os.ReadFile("../mirrors.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, keys := range [][]string{keysOf[Config](), keysOf[Alerts](), keysOf[Download](), keysOf[Repo](), keysOf[TLS](), keysOf[Snapshots](), keysOf[Filter](), keysOf[Mirror](), keysOf[S3]()} {
		for _, k := range keys {
			if !strings.Contains(string(example), k+":") {
				t.Errorf("../mirrors.yaml does not show the key %s", k)
			}
			if !strings.Contains(string(doc), "`"+k+"`") {
				t.Errorf("docs/configuration.md does not document the key %s", k)
			}
		}
	}
}

func TestParseResolvesRelativePaths(t *testing.T) {
	data := []byte(`
state_dir: state
repos:
  - name: r
    origin: file:///srv/upstream/r
    gpgkeys: [keys/RPM-GPG-KEY, /etc/pki/rpm-gpg/RPM-GPG-KEY-x]
    mirrors:
      - name: m
        path: ../www/r
`)
	opts := LoadOptions{SkipFilesystem: true}
	c, err := ParseWith(data, "/etc/rpmirror/mirrors.yaml", opts)
	if err != nil {
		t.Fatal(err)
	}
	r := c.Repos[0]
	if c.StateDir != "/etc/rpmirror/state" || r.Mirrors[0].Path != "/etc/www/r" ||
		!slices.Equal(r.GPGKeys, []string{"/etc/rpmirror/keys/RPM-GPG-KEY", "/etc/pki/rpm-gpg/RPM-GPG-KEY-x"}) {
		t.Errorf("relative to /etc/rpmirror: got state_dir %q, path %q, gpgkeys %q", c.StateDir, r.Mirrors[0].Path, r.GPGKeys)
	}
	if r.Origin != "file:///srv/upstream/r/" {
		t.Errorf("origin %q, want file:///srv/upstream/r/", r.Origin)
	}

	// Without a file name, relative to the current directory.
	c, err = ParseWith(data, "", opts)
	if err != nil {
		t.Fatal(err)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(wd, "state"); c.StateDir != want {
		t.Errorf("with no file name: state_dir %q, want %q", c.StateDir, want)
	}
}

func TestFileOriginOverlap(t *testing.T) {
	data := []byte(`
state_dir: /var/lib/rpmirror
repos:
  - name: r
    origin: file:///srv/mirror/upstream/
    mirrors:
      - name: m
        path: /srv/mirror
`)
	_, err := ParseWith(data, "m.yaml", LoadOptions{SkipFilesystem: true})
	want := `m.yaml:8: repo "r": mirror "m": path "/srv/mirror" overlaps the origin "file:///srv/mirror/upstream" of repo "r" (line 5)`
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

func TestCheckPaths(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	upstream := filepath.Join(dir, "upstream")
	if err := os.Mkdir(upstream, 0o755); err != nil {
		t.Fatal(err)
	}
	readOnly := filepath.Join(dir, "read-only")
	if err := os.Mkdir(readOnly, 0o555); err != nil {
		t.Fatal(err)
	}
	key, err := filepath.Abs("testdata/test-key.asc")
	if err != nil {
		t.Fatal(err)
	}
	root := os.Geteuid() == 0

	tests := []struct {
		name     string
		stateDir string
		origin   string
		gpgkey   string
		path     string
		want     string // "" for no problem
		skipRoot bool   // access(2) lets root write anywhere
	}{
		{name: "existing directories", stateDir: dir, origin: "file://" + upstream + "/", gpgkey: key, path: upstream + "2"},
		{name: "directories to create", stateDir: dir + "/a/b/state", path: dir + "/x/y/z"},
		{name: "state_dir is a file", stateDir: file, want: `m.yaml: state_dir "$DIR/file": exists and is not a directory`},
		{name: "mirror under a file", path: file + "/m", want: `m.yaml: repo "r": mirror "m": path "$DIR/file/m": cannot be created: "$DIR/file" is not a directory`},
		{name: "origin missing", origin: "file://" + dir + "/nope/", want: `m.yaml: repo "r": origin "file://$DIR/nope/": no such file or directory`},
		{name: "origin is a file", origin: "file://" + file + "/", want: `m.yaml: repo "r": origin "file://$DIR/file/": "$DIR/file" is not a directory`},
		{name: "key is a directory", gpgkey: dir, want: `m.yaml: repo "r": gpgkeys "$DIR": not a regular file`},
		{name: "key is empty", gpgkey: file, want: `m.yaml: repo "r": gpgkeys "$DIR/file": not a usable OpenPGP public key file: no OpenPGP public key found`},
		{name: "read-only directory", path: readOnly, want: `m.yaml: repo "r": mirror "m": path "$DIR/read-only": directory is not writable (permission denied)`, skipRoot: true},
		{name: "under a read-only directory", stateDir: readOnly + "/state", want: `m.yaml: state_dir "$DIR/read-only/state": cannot be created: "$DIR/read-only" is not writable (permission denied)`, skipRoot: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.skipRoot && root {
				t.Skip("running as root: every directory on a writable filesystem is writable")
			}
			// Built by hand, without the lines Parse records: problems
			// are reported against the file.
			c := &Config{File: "m.yaml", StateDir: tc.stateDir}
			r := Repo{Name: "r", Origin: tc.origin}
			if tc.gpgkey != "" {
				r.GPGKeys = []string{tc.gpgkey}
			}
			if tc.path != "" {
				r.Mirrors = []Mirror{{Name: "m", Path: tc.path}}
			}
			c.Repos = []Repo{r}
			errs := c.CheckPaths()
			got := strings.ReplaceAll(errs.Error(), dir, "$DIR")
			if got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
			if tc.want == "" && errs != nil {
				t.Errorf("CheckPaths returned an empty non-nil list")
			}
		})
	}
}

// Passwords in URLs never reach a message, however the URL is broken.
func TestCredentialsRedacted(t *testing.T) {
	for _, u := range []string{
		"https://user:s3cret@mirror.example/x/",
		"https://s3cret@mirror.example/x/",
		"https://user:s3cret@mirror.example:port/x/",
		"https://user:s3/cret@mirror.example/x/",
		"https://user:s3cret@mirror example/x/",
		"https://user:s3cret@mirror.example/x/?q=1",
		"ftp://user:s3cret@mirror.example/x/",
		"user:s3cret@mirror.example/x/",
		"//user:s3cret@mirror.example/x/",
	} {
		for _, field := range []string{"origin", "url"} {
			origin, url := "https://o.example/", "https://m.example/"
			if field == "origin" {
				origin = u
			} else {
				url = u
			}
			data := fmt.Appendf(nil, "state_dir: /var/lib/rpmirror\nrepos:\n  - name: r\n    origin: %s\n    mirrors:\n      - name: m\n        url: %s\n", origin, url)
			_, err := ParseWith(data, "m.yaml", LoadOptions{SkipFilesystem: true})
			if err == nil {
				t.Errorf("%s %s: no error", field, u)
				continue
			}
			if strings.Contains(err.Error(), "s3") || strings.Contains(err.Error(), "cret") {
				t.Errorf("%s %s: password in message: %s", field, u, err)
			}
		}
	}
	// A URL where a list was expected is shown redacted too.
	data := []byte("state_dir: /x\nrepos: https://user:s3cret@mirror.example/\n")
	_, err := ParseWith(data, "m.yaml", LoadOptions{SkipFilesystem: true})
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("got %v, want an error without the password", err)
	}
}

func TestCheckURL(t *testing.T) {
	tests := []struct {
		in, want  string
		allowFile bool
	}{
		{in: "https://example.org", want: "https://example.org/"},
		{in: "HTTP://Example.org/a/b", want: "http://Example.org/a/b/"},
		{in: "https://example.org/a%20b/", want: "https://example.org/a%20b/"},
		{in: "https://example.org/a b", want: "https://example.org/a%20b/"},
		{in: "http://[::1]:8080", want: "http://[::1]:8080/"},
		{in: "file:///srv/x", want: "file:///srv/x/", allowFile: true},
		{in: "file://localhost/srv/x/../y", want: "file:///srv/y/", allowFile: true},
	}
	for _, tc := range tests {
		got, problem := checkURL(tc.in, tc.allowFile)
		if got != tc.want || problem != "" {
			t.Errorf("checkURL(%q) = %q, %q; want %q", tc.in, got, problem, tc.want)
		}
	}
	for _, bad := range []string{"", "http:foo", "https://", "https://:80/", "file:relative", "mailto:x@y"} {
		if got, problem := checkURL(bad, true); problem == "" {
			t.Errorf("checkURL(%q) = %q, want a problem", bad, got)
		}
	}
}

func TestErrors(t *testing.T) {
	es := Errors{
		{File: "m.yaml", Line: 3, Msg: "a"},
		{File: "m.yaml", Msg: "b"},
		{Line: 4, Msg: "c"},
		{Msg: "d"},
	}
	if got, want := es.Error(), "m.yaml:3: a\nm.yaml: b\nline 4: c\nd"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}

	// errors.As finds the list as *Errors and as Errors, and each entry
	// as *Error.
	_, err := Parse([]byte("state_dir: /x\nrepos: {}\nfoo: 1\n"), "m.yaml")
	var ptr *Errors
	if !errors.As(err, &ptr) || len(*ptr) != 2 {
		t.Errorf("errors.As(*Errors) failed on %#v", err)
	}
	var list Errors
	if !errors.As(err, &list) || len(list) != 2 {
		t.Errorf("errors.As(Errors) failed on %#v", err)
	}
	var one *Error
	if !errors.As(err, &one) || one.Line != 2 {
		t.Errorf("errors.As(*Error) = %v, want the line-2 problem first", one)
	}

	// A file that cannot be read is a problem like any other, and still
	// says why to errors.Is.
	_, err = Load("testdata/does-not-exist.yaml")
	if err == nil || err.Error() != "testdata/does-not-exist.yaml: cannot read: no such file or directory" {
		t.Errorf("got %v", err)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("errors.Is(%v, fs.ErrNotExist) = false", err)
	}
}

// The documented YAML parser quirks are turned into the right lines.
func TestYAMLErrorLines(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a: b: c\n", "m.yaml:1: invalid YAML: mapping values are not allowed in this context"},
		{"state_dir: /x\nrepos: [x, y\nc: 2\n", "m.yaml:2: invalid YAML: did not find expected ',' or ']'"},
		{"state_dir: /x\nrepos:\n  - x\n y: 2\n", "m.yaml:4: invalid YAML: did not find expected key (check this line's indentation against the lines above it)"},
		// The library names the line where the mapping or list began.
		{"state_dir: /x\nrepos:\n  - name: a\n    origin: b\n    schedule: c\n   mirrors: []\n", "m.yaml:6: invalid YAML: did not find expected '-' indicator (check this line's indentation against the lines above it)"},
		{"state_dir: /x\nrepos:\n  - name: a\n    mirrors:\n      - name: l\n        path: /x\n     url: http://x/\n", "m.yaml:7: invalid YAML: did not find expected key (check this line's indentation against the lines above it)"},
		{"state_dir: /x\nrepos: \"x\nc: 2\n", "m.yaml:2: invalid YAML: found unexpected end of stream"},
		{"state_dir: /x\nrepos:\n  - *r\n", "m.yaml:3: invalid YAML: unknown anchor 'r' referenced (a value starting with * must be quoted, as in schedule: \"*/15 * * * *\")"},
		{"state_dir: /x\nrepos:\n  - name: r\n    schedule: */5 * * * *\n", "m.yaml:4: invalid YAML: did not find expected alphabetic or numeric character (a value starting with * must be quoted, as in schedule: \"*/15 * * * *\")"},
		{"# only a comment\n", "m.yaml:1: file is empty: want at least state_dir and repos"},
		{"~\n", "m.yaml:1: file is empty: want at least state_dir and repos"},
	}
	for _, tc := range tests {
		_, err := ParseWith([]byte(tc.in), "m.yaml", LoadOptions{SkipFilesystem: true})
		if err == nil || err.Error() != tc.want {
			t.Errorf("Parse(%q):\ngot  %v\nwant %s", tc.in, err, tc.want)
		}
	}
}

// TestProbeTimeoutFollowsInterval: without probe_timeout, the timeout is
// half the interval, at most 10s, so any valid probe_interval alone is
// accepted; a probe_timeout is only refused when the file sets it, and an
// invalid probe_interval is reported once, not again through the timeout.
func TestProbeTimeoutFollowsInterval(t *testing.T) {
	const rest = `state_dir: /tmp/rpmirror-config-test-state
repos:
  - name: r
    origin: https://origin.example/r/
    mirrors:
      - name: m
        path: /tmp/rpmirror-config-test-mirror
`
	for _, tc := range []struct {
		name              string
		head              string
		interval, timeout time.Duration
		wantErr           string
	}{
		{name: "defaults", interval: 60 * time.Second, timeout: 10 * time.Second},
		{name: "a short interval alone", head: "probe_interval: 2s\n", interval: 2 * time.Second, timeout: time.Second},
		{name: "the shortest interval alone", head: "probe_interval: 1s\n", interval: time.Second, timeout: 500 * time.Millisecond},
		{name: "a long interval alone", head: "probe_interval: 5m\n", interval: 5 * time.Minute, timeout: 10 * time.Second},
		{name: "both set", head: "probe_interval: 2s\nprobe_timeout: 2s\n", interval: 2 * time.Second, timeout: 2 * time.Second},
		{name: "timeout alone, within the default interval", head: "probe_timeout: 45s\n", interval: 60 * time.Second, timeout: 45 * time.Second},
		{name: "timeout longer than the interval", head: "probe_interval: 2s\nprobe_timeout: 3s\n", wantErr: "t.yaml:2: probe_timeout 3s: must not be longer than probe_interval 2s (line 1)"},
		{name: "an invalid interval is blamed once", head: "probe_interval: 500ms\nprobe_timeout: 3s\n", wantErr: `t.yaml:1: probe_interval "500ms": must be at least 1s`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseWith([]byte(tc.head+rest), "t.yaml", LoadOptions{SkipFilesystem: true})
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.ProbeInterval != tc.interval || c.ProbeTimeout != tc.timeout {
				t.Errorf("probe_interval %s, probe_timeout %s; want %s, %s", c.ProbeInterval, c.ProbeTimeout, tc.interval, tc.timeout)
			}
		})
	}
}

func TestS3Mirror(t *testing.T) {
	const file = `state_dir: /var/lib/rpmirror
lease_ttl: 45s
repos:
  - name: r
    origin: https://example.org/r/
    mirrors:
      - name: objstore
        s3:
          endpoint: https://s3.example.org/
          bucket: mirrors
          prefix: r/el9/
          region: eu-central-1
          credentials_file: s3-credentials
          profile: mirror
          virtual_host: true
        url: https://cdn.example.org/r/el9/
      - name: root
        s3:
          endpoint: http://127.0.0.1:7070
          bucket: other
          prefix: ""
`
	c, err := ParseWith([]byte(file), "/etc/rpmirror/mirrors.yaml", LoadOptions{SkipFilesystem: true})
	if err != nil {
		t.Fatal(err)
	}
	if c.LeaseTTL != 45*time.Second {
		t.Errorf("LeaseTTL = %s, want 45s", c.LeaseTTL)
	}
	for _, tc := range []struct {
		name string
		want S3
	}{
		{"objstore", S3{Endpoint: "https://s3.example.org", Bucket: "mirrors", Prefix: "r/el9/", Region: "eu-central-1",
			CredentialsFile: "/etc/rpmirror/s3-credentials", Profile: "mirror", VirtualHost: true, LeaseTTL: 45 * time.Second,
			Line: 8, EndpointLine: 9, BucketLine: 10, RegionLine: 12, CredentialsLine: 13}},
		{"root", S3{Endpoint: "http://127.0.0.1:7070", Bucket: "other", LeaseTTL: 45 * time.Second, Line: 18, EndpointLine: 19, BucketLine: 20}},
	} {
		m, ok := c.Repos[0].Mirror(tc.name)
		if !ok || m.S3 == nil {
			t.Fatalf("mirror %s: %+v", tc.name, m)
		}
		if *m.S3 != tc.want {
			t.Errorf("mirror %s: s3 =\n%+v, want\n%+v", tc.name, *m.S3, tc.want)
		}
		if m.Kind() != "s3" || !m.Written() {
			t.Errorf("mirror %s: Kind %q, Written %v; want s3, true", tc.name, m.Kind(), m.Written())
		}
	}
}
