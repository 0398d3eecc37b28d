package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAPITokenProblems: each problem with the API token names where the
// token comes from (the key, or the environment variable), as every other
// problem names its key; "m.yaml:4: the API token is 5 characters long"
// named neither.
func TestAPITokenProblems(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	short := write("short", "abcde\n")
	empty := write("empty", " \n")
	good := write("good", "abcdefghijklmnop\n")
	for _, tc := range []struct {
		name, file, env, want string
	}{
		{name: "short", file: short, want: `m.yaml:2: api_token_file "$DIR/short": the token is 5 characters long; use at least 16`},
		{name: "empty", file: empty, want: `m.yaml:2: api_token_file "$DIR/empty": the file is empty: write the token in it`},
		{name: "missing", file: filepath.Join(dir, "nope"), want: `m.yaml:2: api_token_file "$DIR/nope": no such file or directory`},
		{name: "a directory", file: dir, want: `m.yaml:2: api_token_file "$DIR": not a regular file`},
		{name: "good", file: good},
		{name: "short in the environment", env: "abcde", want: "RPMIRROR_API_TOKEN: the token is 5 characters long; use at least 16"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(APITokenEnv, tc.env)
			data := "state_dir: " + filepath.Join(dir, "state") + "\n"
			if tc.file != "" {
				data += "api_token_file: " + tc.file + "\n"
			}
			data += "repos: []\n"
			c, err := Parse([]byte(data), filepath.Join(dir, "m.yaml"))
			got := ""
			if err != nil {
				got = strings.ReplaceAll(err.Error(), dir, "$DIR")
			} else if _, err := c.APIToken(); err != nil {
				got = err.Error() // the environment: read when serve starts
			}
			got = strings.TrimPrefix(got, "$DIR/")
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}
