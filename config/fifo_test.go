package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestFIFOWhereAFileIsRead: a FIFO where the configuration names a file
// rpmirror reads whole is "not a regular file", as for gpgkeys and
// sign_with; for geoip_db, api_token_file, origin_auth_file and ca_file
// rpmirror check waited for a writer for ever, and for an s3 mirror's
// credentials_file.
func TestFIFOWhereAFileIsRead(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	const repo = "repos:\n  - name: r\n    origin: http://o.example/\n    %s\n    mirrors:\n      - name: m\n        path: $DIR/m\n"
	for _, tc := range []struct {
		key, top, inRepo, want string
		s3                     bool // add an s3 mirror whose credentials_file is the FIFO
	}{
		{key: "geoip_db", top: "geoip_db: $DIR/fifo\n", want: `m.yaml:2: geoip_db "$DIR/fifo": not a regular file`},
		{key: "api_token_file", top: "api_token_file: $DIR/fifo\n", want: `m.yaml:2: api_token_file "$DIR/fifo": not a regular file`},
		{key: "origin_auth_file", inRepo: "origin_auth_file: $DIR/fifo", want: `m.yaml:5: repo "r": origin_auth_file "$DIR/fifo": not a regular file`},
		{key: "ca_file", inRepo: "tls: {ca_file: $DIR/fifo}", want: `m.yaml:5: repo "r": tls: ca_file "$DIR/fifo": not a regular file`},
		{key: "gpgkeys", inRepo: "gpgkeys: [$DIR/fifo]", want: `m.yaml:5: repo "r": gpgkeys "$DIR/fifo": not a regular file`},
		{key: "credentials_file", inRepo: "gpgkeys: []", s3: true, want: `m.yaml:13: repo "r": mirror "s": s3: credentials_file "$DIR/fifo": not a regular file`},
	} {
		t.Run(tc.key, func(t *testing.T) {
			data := "state_dir: $DIR/state\n" + tc.top
			if tc.inRepo != "" {
				data += strings.Replace(repo, "%s", tc.inRepo, 1)
			} else {
				data += strings.Replace(repo, "    %s\n", "", 1)
			}
			if tc.s3 {
				data += "      - name: s\n        s3:\n          endpoint: http://127.0.0.1:9\n          bucket: bkt\n          credentials_file: $DIR/fifo\n"
			}
			data = strings.ReplaceAll(data, "$DIR", dir)
			done := make(chan error, 1)
			go func() {
				_, err := Parse([]byte(data), filepath.Join(dir, "m.yaml"))
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(time.Minute):
				if w, err := os.OpenFile(fifo, os.O_WRONLY|unix.O_NONBLOCK, 0); err == nil {
					w.Close() // let the blocked read go
				}
				t.Fatalf("loading the configuration waited on the FIFO")
			}
			got := ""
			if err != nil {
				got = strings.TrimPrefix(strings.ReplaceAll(err.Error(), dir, "$DIR"), "$DIR/")
			}
			if got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

// TestLoadRefusesHugeFiles: a -c that names something far larger than
// any configuration (a log file, /dev/zero, which never ends) is refused
// after MaxFileSize bytes with ErrTooLarge; it was read into memory whole
// (for /dev/zero, until rpmirror ran out of memory).
func TestLoadRefusesHugeFiles(t *testing.T) {
	big := filepath.Join(t.TempDir(), "big.yaml")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxFileSize + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, p := range []string{"/dev/zero", big} {
		if _, err := os.Stat(p); err != nil {
			t.Skip(err)
		}
		_, err := Load(p)
		if !errors.Is(err, ErrTooLarge) {
			t.Errorf("Load(%s): %v, want ErrTooLarge", p, err)
		} else if want := p + ": cannot read: larger than 16 MiB: not a configuration file"; err.Error() != want {
			t.Errorf("Load(%s): %q, want %q", p, err, want)
		}
	}
}
