package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"
)

// Defaults for keys left out of the file (or given no value).
const (
	DefaultConcurrency    = 4
	DefaultRetries        = 3
	DefaultConnectTimeout = 10 * time.Second
	DefaultStallTimeout   = 30 * time.Second // librepo's low-speed window
	DefaultSchedule       = "@every 1h"
	DefaultPruneAfter     = 24 * time.Hour
	DefaultMaxLag         = 24 * time.Hour
	DefaultListen         = "127.0.0.1:8080"
	DefaultProbeInterval  = 60 * time.Second
	// DefaultMaxParallelSyncs bounds the syncs rpmirror serve runs at
	// once; DefaultMaxParallelProbes the probes (HTTP checks of a mirror
	// or an origin) in flight at once.
	DefaultMaxParallelSyncs  = 4
	DefaultMaxParallelProbes = 16
	// DefaultProbeTimeout is the longest default probe_timeout; see
	// ProbeTimeoutFor.
	DefaultProbeTimeout = 10 * time.Second
	DefaultPriority     = 100
	DefaultWeight       = 100
	// DefaultMinChecksum refuses md5 and accepts sha1 ("sha"), which old
	// repositories still use.
	DefaultMinChecksum     = "sha1"
	DefaultMaxMetadataSize = 4 << 30
	// DefaultLeaseTTL is how long the lease on a mirror in object storage
	// lasts unless its holder renews it; MinLeaseTTL the shortest
	// lease_ttl accepted (stores date objects in whole seconds).
	DefaultLeaseTTL = 30 * time.Second
	MinLeaseTTL     = 3 * time.Second
)

// ProbeTimeoutFor is the probe_timeout of a file that does not set one:
// half of probe_interval, and at most DefaultProbeTimeout (10s for the
// default interval of 60s, 1s for an interval of 2s). Half, so that a
// probe that times out still ends well before the next round begins.
func ProbeTimeoutFor(interval time.Duration) time.Duration {
	return min(DefaultProbeTimeout, interval/2)
}

// Limits of the numeric download settings, inclusive.
const (
	MinConcurrency = 1
	MaxConcurrency = 64
	MinRetries     = 0
	MaxRetries     = 20
	MinPriority    = 1
	MaxPriority    = 1000
	MinWeight      = 1
	MaxWeight      = 1000000
)

// Config is a loaded and validated mirrors.yaml.
type Config struct {
	File     string // path it was loaded from, as given to Load or Parse
	StateDir string `yaml:"state_dir" kind:"dir" required:"the directory for rpmirror's state and download cache"` // absolute: embedded state and download cache
	// Listen is the address rpmirror serve answers HTTP on.
	Listen string `yaml:"listen" check:"listen" default:"127.0.0.1:8080"`
	// ProbeInterval is how often rpmirror serve probes every mirror, and
	// ProbeTimeout how long one probe may take (by default
	// ProbeTimeoutFor(ProbeInterval)).
	ProbeInterval time.Duration `yaml:"probe_interval" positive:"" min:"1s" default:"60s"`
	ProbeTimeout  time.Duration `yaml:"probe_timeout" positive:""`
	// MaxParallelSyncs is how many repositories rpmirror serve syncs at
	// once (a burst of origin changes queues); MaxParallelProbes how many
	// probes are in flight at once, over every repository.
	MaxParallelSyncs  int `yaml:"max_parallel_syncs" range:"1..1024" default:"4"`
	MaxParallelProbes int `yaml:"max_parallel_probes" range:"1..4096" default:"16"`
	// APITokenFile holds the token that POST /sync requires (see
	// APIToken); "" leaves the HTTP API read-only.
	APITokenFile string   `yaml:"api_token_file" kind:"path"`
	Alerts       Alerts   `yaml:"alerts"`
	Download     Download `yaml:"download"`
	// GeoIPDB is a MaxMind-format database (.mmdb) that places clients
	// in a country for mirror selection; "" places none.
	GeoIPDB string `yaml:"geoip_db" kind:"path"`
	// TrustedProxies are the networks of the reverse proxies in front of
	// rpmirror serve: only a request from one of them has its client
	// address taken from X-Forwarded-For.
	TrustedProxies []netip.Prefix `yaml:"trusted_proxies"`
	// AccessLog is where rpmirror serve writes one JSON line per request:
	// a file, "-" for standard output, or "" for none.
	AccessLog string `yaml:"access_log" kind:"log"`
	// LeaseTTL is how long the lease a writer holds on a mirror in object
	// storage lasts unless renewed (see S3.LeaseTTL).
	LeaseTTL time.Duration `yaml:"lease_ttl" positive:"" min:"3s" why:"object stores date writes in whole seconds" default:"30s"`
	// LeaseHolder names this rpmirror in the leases it takes on mirrors
	// in object storage, shown by /status and /metrics of every daemon
	// sharing them; "" names it HOST/PID.
	LeaseHolder string `yaml:"lease_holder"`
	Repos       []Repo `yaml:"repos" kind:"custom" required:"the list of repositories to mirror; write \"repos: []\" for none yet"`

	stateDirLine  int
	apiTokenLine  int
	geoIPLine     int
	accessLogLine int
}

// OriginURLs returns the upstreams origin lists, primary first: Origins,
// or Origin alone when only it is set (a Repo built in code); none for
// origin_metalink and origin_mirrorlist, whose upstreams are fetched.
func (r *Repo) OriginURLs() []string {
	if len(r.Origins) > 0 {
		return r.Origins
	}
	if r.Origin != "" {
		return []string{r.Origin}
	}
	return nil
}

// OriginDesc says where the repo's upstreams come from, for messages and
// status: the primary upstream, or the metalink or mirrorlist URL
// (not redacted: callers redact).
func (r *Repo) OriginDesc() string {
	switch {
	case r.OriginMetalink != "":
		return r.OriginMetalink
	case r.OriginMirrorlist != "":
		return r.OriginMirrorlist
	}
	return r.Origin
}

// OriginAuth reads the repo's origin credentials: the first line of
// origin_auth_file, "user:password". It returns empty strings when there
// is no file. Errors never include the file's content.
func (r *Repo) OriginAuth() (user, password string, err error) {
	if r.OriginAuthFile == "" {
		return "", "", nil
	}
	b, err := os.ReadFile(r.OriginAuthFile)
	if err != nil {
		return "", "", fmt.Errorf("reading origin_auth_file: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	user, password, ok := strings.Cut(strings.TrimSpace(line), ":")
	if !ok || user == "" {
		return "", "", fmt.Errorf("origin_auth_file %s: want one line user:password", r.OriginAuthFile)
	}
	return user, password, nil
}

// APITokenEnv names the environment variable that may hold the API token
// instead of api_token_file.
const APITokenEnv = "RPMIRROR_API_TOKEN"

// MinAPITokenLength is the shortest token accepted.
const MinAPITokenLength = 16

// APIToken returns the token that changing endpoints require: the content
// of api_token_file (surrounding white space trimmed), else the
// environment variable RPMIRROR_API_TOKEN, else "" (no changing endpoint
// is available).
func (c *Config) APIToken() (string, error) {
	tok := ""
	// Every problem names where the token came from, as the other keys'
	// problems name their key.
	from := fmt.Sprintf("api_token_file %q", c.APITokenFile)
	if c.APITokenFile != "" {
		b, err := os.ReadFile(c.APITokenFile)
		if err != nil {
			return "", fmt.Errorf("%s: %s", from, errText(err))
		}
		tok = strings.TrimSpace(string(b))
		if tok == "" {
			return "", fmt.Errorf("%s: the file is empty: write the token in it", from)
		}
	} else {
		from = APITokenEnv
		tok = strings.TrimSpace(os.Getenv(APITokenEnv))
	}
	if tok != "" && len(tok) < MinAPITokenLength {
		return "", fmt.Errorf("%s: the token is %d characters long; use at least %d", from, len(tok), MinAPITokenLength)
	}
	return tok, nil
}

// Alerts says where rpmirror serve sends state changes.
type Alerts struct {
	// Webhook receives a JSON POST on every change of a mirror's or a
	// sync's state; "" sends none.
	Webhook string `yaml:"webhook" check:"webhook"`
}

// Download holds the settings shared by every repo's downloads.
type Download struct {
	Concurrency    int           `yaml:"concurrency" range:"1..64" default:"4"`     // packages downloaded at once per repo
	Retries        int           `yaml:"retries" range:"0..20" default:"3"`         // attempts after the first for a failed download
	ConnectTimeout time.Duration `yaml:"connect_timeout" positive:"" default:"10s"` // TCP+TLS connect and response-header timeout
	StallTimeout   time.Duration `yaml:"stall_timeout" positive:"" default:"30s"`   // abort a transfer that receives no byte for this long
	// MaxMetadataSize caps the uncompressed size of any metadata file
	// rpmirror reads, whatever the file declares: a decompression bomb
	// stops there.
	MaxMetadataSize int64 `yaml:"max_metadata_size" kind:"size" range:"1MiB..1TiB" default:"4GiB"`
}

// Repo is one origin repository and the mirrors it is copied to.
type Repo struct {
	Name string `yaml:"name" kind:"custom" required:"a name of letters, digits, '.', '_' and '-'"`
	// MirrorlistName and Arch are what clients ask /mirrorlist and
	// /metalink for (?repo=MirrorlistName&arch=Arch); MirrorlistName is
	// Name unless set, Arch may be "".
	MirrorlistName string `yaml:"mirrorlist_name" check:"name"`
	Arch           string `yaml:"arch" check:"name"`
	// Vars are the template variables' values this repo was expanded
	// with, in the order the entry's vars lists them; nil for a repo
	// written out.
	Vars []Var `yaml:"vars" kind:"custom"`
	// Origin is the primary upstream: the first URL of origin (an
	// absolute http, https or file URL ending in "/"), or "" when the
	// upstreams come from OriginMetalink or OriginMirrorlist.
	Origin string `yaml:"origin" kind:"custom"`
	// Origins are every upstream origin lists, primary first (Origin
	// alone for a single URL); nil with OriginMetalink or
	// OriginMirrorlist.
	Origins []string
	// OriginMetalink and OriginMirrorlist name a metalink or mirrorlist
	// (http, https or file URL, a query allowed) the upstreams are taken
	// from at each sync and probe. At most one of Origin,
	// OriginMetalink and OriginMirrorlist is set.
	OriginMetalink   string   `yaml:"origin_metalink" kind:"custom"`
	OriginMirrorlist string   `yaml:"origin_mirrorlist" kind:"custom"`
	Schedule         string   `yaml:"schedule,omitempty" check:"schedule" default:"'@every 1h'"` // cron spec as written, DefaultSchedule when absent; valid for ValidateCron
	GPGKeys          []string `yaml:"gpgkeys" kind:"path" items:"key files" line:"GPGKeyLines"`  // absolute paths of key files; empty means signatures are not checked
	GPGKeyLines      []int    // line of each of GPGKeys, for messages
	// RepoGPGCheck requires repodata/repomd.xml.asc to be a valid detached
	// signature over repomd.xml by one of RepoGPGKeys (dnf's
	// repo_gpgcheck); a revision without one is refused.
	RepoGPGCheck bool `yaml:"repo_gpgcheck"`
	// RepoGPGKeys are the key files repomd.xml's signature is checked
	// with: GPGKeys unless repo_gpgkeys is set; RepoGPGKeyLines their
	// lines.
	RepoGPGKeys     []string `yaml:"repo_gpgkeys" kind:"path" items:"key files" line:"RepoGPGKeyLines" emptylist:"empty: list the key files repomd.xml is signed with, or leave it out to use gpgkeys"`
	RepoGPGKeyLines []int
	// AllowRollback accepts an origin revision older than the one the
	// mirrors hold; by default it is refused.
	AllowRollback bool          `yaml:"allow_rollback"`
	PruneAfter    time.Duration `yaml:"prune_after" default:"24h"` // how long unreferenced files are kept; 0 deletes them at once
	// MaxLag is how long after a verified revision is superseded a mirror
	// still serving it stays listed (as behind); 0 lists only mirrors
	// serving the current revision.
	MaxLag time.Duration `yaml:"max_lag" default:"24h"`
	// MinChecksum is the weakest checksum type accepted in the repo's
	// metadata ("md5", "sha1", "sha224", "sha256", "sha384", "sha512").
	MinChecksum string `yaml:"min_checksum" check:"checksum" default:"sha1"`
	// FollowXMLBase allows packages whose location has an xml:base (a
	// URL elsewhere) to be fetched from there; by default they are
	// refused.
	FollowXMLBase bool `yaml:"follow_xml_base"`
	// OriginAuthFile holds "user:password" for HTTP basic authentication
	// at the origin (and only there: never sent to other hosts); "" for
	// none. See OriginAuth.
	OriginAuthFile string `yaml:"origin_auth_file" kind:"path"`
	// TLS changes how the origin's certificate is checked.
	TLS TLS `yaml:"tls"`
	// Snapshots keeps every published revision under snapshots/ of each
	// written mirror; nil (the key left out) keeps none.
	Snapshots *Snapshots `yaml:"snapshots"`
	// Filter keeps only some of the origin's packages, and makes
	// rpmirror write the repository's metadata itself; nil (the key left
	// out) mirrors the origin whole. The key with no value is an error,
	// not a whole mirror: it is what is left when every line under it is
	// commented out.
	Filter *Filter `yaml:"filter" null:"write filter: {} to keep every package with rpmirror writing the metadata, or remove the key to mirror the origin whole"`
	// SignWith is an OpenPGP secret key file (not protected by a
	// passphrase) that signs the repomd.xml rpmirror writes for a
	// filtered mirror, as repodata/repomd.xml.asc; "" signs nothing. Only
	// set with Filter.
	SignWith string   `yaml:"sign_with" kind:"path"`
	Mirrors  []Mirror `yaml:"mirrors" kind:"custom"`
	Line     int      // line of the repo in the file, for messages

	originLine   int
	originLines  []int // line of each URL of Origins
	listLine     int   // line of mirrorlist_name or arch, for messages
	authLine     int
	signWithLine int
}

// Filter says which of the origin's packages a filtered mirror keeps. A
// package is kept when its arch is one of Arch (any arch when Arch is
// empty), its name matches one of Include (any name when Include is
// empty) and none of Exclude, and it is among the Newest newest versions
// of its name.arch (all of them when Newest is 0). Globs are path.Match
// patterns matched against the package name alone.
type Filter struct {
	Arch    []string `yaml:"arch" check:"name" items:"arches" unique:"" empty:"an arch such as x86_64, noarch or src" emptylist:"an empty list, which would keep nothing: list the arches to keep, or leave arch out to keep every arch"`
	Include []string `yaml:"include" check:"glob" items:"name globs" unique:"" empty:"a name glob such as \"glusterfs*\"" emptylist:"an empty list, which would keep nothing: list name globs, or leave include out to keep every name"`
	Exclude []string `yaml:"exclude" check:"glob" items:"name globs" unique:"" empty:"a name glob such as \"*-debuginfo\""`
	Newest  int      `yaml:"newest" range:"0..10000"`
	// Line is the line of the filter key, for messages.
	Line int `keyline:""`
}

// MaxNewest bounds filter's newest.
const MaxNewest = 10000

// Snapshots says which snapshots of a repo rpmirror keeps on each of its
// written mirrors. A snapshot is kept while it is one of the newest Keep,
// or younger than KeepFor, or pinned (here or by rpmirror snapshot pin).
type Snapshots struct {
	Keep    int           `yaml:"keep" range:"1..100000" default:"14"`
	KeepFor time.Duration `yaml:"keep_for" default:"336h"`
	// Pinned are names of snapshots never removed, as the file lists
	// them; PinnedLines their lines.
	Pinned      []string `yaml:"pinned" check:"snapshot" items:"snapshot names" unique:"" line:"PinnedLines"`
	PinnedLines []int
	Line        int `keyline:""` // line of the snapshots key, for messages
}

// Defaults and limits of snapshots' settings: the newest 14, and every
// snapshot of the last 14 days (oVirt's CI mirrors keep as much).
const (
	DefaultSnapshotKeep    = 14
	DefaultSnapshotKeepFor = 14 * 24 * time.Hour
	MinSnapshotKeep        = 1
	MaxSnapshotKeep        = 100000
)

// SnapshotTimeFormat is the time.Format layout of a snapshot's name: the
// UTC time it was published, as 20261126T120000Z.
const SnapshotTimeFormat = "20060102T150405Z"

// ValidSnapshotName reports whether name can name a snapshot: a time in
// SnapshotTimeFormat, optionally followed by "-N" (N from 2 up) when two
// revisions were published within the same second.
func ValidSnapshotName(name string) bool {
	ts, n, hasN := strings.Cut(name, "-")
	if _, err := time.Parse(SnapshotTimeFormat, ts); err != nil || len(ts) != len(SnapshotTimeFormat) {
		return false
	}
	if !hasN {
		return true
	}
	if n == "" || n[0] == '0' || len(n) > 6 {
		return false
	}
	for _, c := range n {
		if c < '0' || c > '9' {
			return false
		}
	}
	return n != "1"
}

// PinnedInConfig reports whether the file pins the snapshot called name.
func (s *Snapshots) PinnedInConfig(name string) bool {
	return s != nil && slices.Contains(s.Pinned, name)
}

// TLS says how an origin's TLS certificate is verified.
type TLS struct {
	// CAFile holds PEM certificates of the authorities trusted for the
	// origin, instead of the system's; CALine is its line in the file.
	CAFile string `yaml:"ca_file" kind:"path" line:"CALine"`
	CALine int
	// Insecure turns certificate verification off. rpmirror says so
	// loudly on every sync; checksums and signatures are still checked.
	Insecure bool `yaml:"insecure"`
}

// Mirror is one place a repo is published. A mirror with a Path is written
// by rpmirror; one without is only probed through its URL.
type Mirror struct {
	Name string `yaml:"name" kind:"custom" required:"a name of letters, digits, '.', '_' and '-'"`
	Path string `yaml:"path" kind:"dir"` // absolute directory rpmirror writes; "" for probe-only mirrors
	// S3 is where a mirror in object storage lives, instead of Path; nil
	// for other mirrors.
	S3  *S3    `yaml:"s3"`
	URL string `yaml:"url" kind:"url"` // http or https URL ending in "/" where clients reach it; may be "" for a written mirror
	// Priority orders healthy mirrors in the mirrorlist and metalink:
	// lower first; mirrors of equal priority are ordered by latency.
	Priority int `yaml:"priority" range:"1..1000" default:"100"`
	// Networks are client networks served by this mirror first.
	Networks []netip.Prefix `yaml:"networks"`
	// Country is the ISO 3166-1 alpha-2 code of where the mirror is, or "".
	Country string `yaml:"country" check:"country"`
	// Private mirrors are listed only to clients inside Networks.
	Private bool `yaml:"private"`
	// Weight is the mirror's share of the clients among mirrors equal to
	// it (DefaultWeight when not set).
	Weight int `yaml:"weight" range:"1..1000000" default:"100"`
	Line   int // line of the mirror in the file, for messages

	pathLine int
}

// S3 is a mirror's place in an S3-compatible object store: the s3 key of
// a mirror.
type S3 struct {
	// Endpoint is the store's http or https URL, without a path.
	Endpoint string `yaml:"endpoint" check:"endpoint" line:"EndpointLine" required:"the store's http(s) URL, such as https://s3.example.org"`
	// Bucket must exist: rpmirror never creates or deletes buckets.
	Bucket string `yaml:"bucket" check:"bucket" line:"BucketLine" required:"the bucket the mirror is in (it must exist: rpmirror never creates buckets)"`
	// Prefix is where the repository's root is in the bucket: "" or a
	// relative path ending in "/".
	Prefix string `yaml:"prefix" check:"prefix"`
	// Region is "" when not set: the store is asked.
	Region string `yaml:"region" check:"region" line:"RegionLine"`
	// CredentialsFile is an AWS shared-credentials file, read for
	// Profile ("default" when ""); when "", AWS_ACCESS_KEY_ID and
	// AWS_SECRET_ACCESS_KEY are taken from the environment.
	CredentialsFile string `yaml:"credentials_file" kind:"path" line:"CredentialsLine"`
	Profile         string `yaml:"profile" kind:"custom"`
	// VirtualHost addresses the bucket as a host name rather than a path.
	VirtualHost bool `yaml:"virtual_host"`
	// LeaseTTL is the top-level lease_ttl, copied here so that a target
	// opened from the mirror alone has it.
	LeaseTTL time.Duration
	// Holder is the top-level lease_holder, copied here likewise.
	Holder string

	// Lines of the keys in the file, for messages (0: not given).
	Line                                                  int `keyline:""`
	EndpointLine, BucketLine, RegionLine, CredentialsLine int
}

// Written reports whether rpmirror writes this mirror (it has a path or
// an s3 place), as opposed to only probing it.
func (m Mirror) Written() bool { return m.Kind() != "" }

// Kind names the kind of target a written mirror is stored in ("local":
// a directory on this machine; "s3": a bucket in object storage), or ""
// for a probe-only mirror. The package target/targets opens a target by
// its kind.
func (m Mirror) Kind() string {
	switch {
	case m.Path != "":
		return "local"
	case m.S3 != nil:
		return "s3"
	}
	return ""
}

// Repo returns the repo called name.
func (c *Config) Repo(name string) (*Repo, bool) {
	for i := range c.Repos {
		if c.Repos[i].Name == name {
			return &c.Repos[i], true
		}
	}
	return nil, false
}

// Mirror returns the repo's mirror called name.
func (r *Repo) Mirror(name string) (*Mirror, bool) {
	for i := range r.Mirrors {
		if r.Mirrors[i].Name == name {
			return &r.Mirrors[i], true
		}
	}
	return nil, false
}

// LoadOptions changes what LoadWith and ParseWith check.
type LoadOptions struct {
	// SkipFilesystem leaves out every check that looks at the filesystem:
	// that state_dir and mirror paths are (or can be created as) writable
	// directories, that a file:// origin is a readable directory, and that
	// gpgkeys files hold OpenPGP keys. Everything else (syntax, keys,
	// types, names, URLs, durations, schedules, overlapping paths) is still
	// checked. It is meant for checking a file written for another machine,
	// such as the example mirrors.yaml, for fuzzing, and for commands that
	// only read (rpmirror status, on a state_dir it may not write).
	SkipFilesystem bool
}

// Load reads the configuration file at path, decodes it strictly, applies
// defaults and validates it, including the filesystem checks of CheckPaths.
// When anything is wrong it returns a nil *Config and a *Errors holding
// every problem found, one per offending key, in line order.
func Load(path string) (*Config, error) {
	return LoadWith(path, LoadOptions{})
}

// LoadWith is Load with options.
func LoadWith(path string, opts LoadOptions) (*Config, error) {
	data, err := readConfig(path)
	if err != nil {
		msg := err.Error()
		var pe *fs.PathError
		if errors.As(err, &pe) {
			msg = pe.Err.Error()
		}
		return nil, Errors{{File: path, Msg: "cannot read: " + msg, err: err}}.asError()
	}
	return ParseWith(data, path, opts)
}

// MaxFileSize bounds a configuration file: far more than any real one (a
// thousand repos take about a megabyte), and a mistaken -c (a log file, a
// device such as /dev/zero, which never ends) is refused instead of read
// into memory whole.
const MaxFileSize = 16 << 20

// ErrTooLarge is the error of a configuration file over MaxFileSize.
var ErrTooLarge = fmt.Errorf("larger than %d MiB: not a configuration file", MaxFileSize>>20)

// readConfig reads the file at path, at most MaxFileSize bytes of it.
func readConfig(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, ErrTooLarge
	}
	return data, nil
}

// Parse is Load for a file already read into data. file names it in
// messages, and relative paths in it are resolved against file's directory
// (the current directory when file is "").
func Parse(data []byte, file string) (*Config, error) {
	return ParseWith(data, file, LoadOptions{})
}

// ParseWith is Parse with options.
func ParseWith(data []byte, file string, opts LoadOptions) (*Config, error) {
	c, errs := decode(data, file)
	if c != nil && !opts.SkipFilesystem {
		errs = append(errs, c.CheckPaths()...)
	}
	if err := errs.asError(); err != nil {
		return nil, err
	}
	return c, nil
}
