package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rpmirror/rpmirror/internal/s3test"
)

// TestCheckObjectStore: check asks the store of every s3 mirror and
// reports what is wrong at the line of the key to fix, never showing a
// secret; --offline asks nothing.
func TestCheckObjectStore(t *testing.T) {
	srv := s3test.Start(t, "mirrors")
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	os.WriteFile(good, []byte("[default]\naws_access_key_id = "+s3test.Access+"\naws_secret_access_key = "+s3test.Secret+"\n"), 0o600)
	wrong := filepath.Join(dir, "wrong")
	os.WriteFile(wrong, []byte("[default]\naws_access_key_id = "+s3test.Access+"\naws_secret_access_key = not-the-secret-at-all\n"), 0o600)
	mirror := func(name, bucket, prefix, region, creds string) string {
		s := "      - name: " + name + "\n        s3:\n          endpoint: " + srv.Endpoint + "\n          bucket: " + bucket + "\n          prefix: " + prefix + "\n"
		if region != "" {
			s += "          region: " + region + "\n"
		}
		return s + "          credentials_file: " + creds + "\n"
	}
	conf := filepath.Join(dir, "mirrors.yaml")
	os.WriteFile(conf, []byte("state_dir: "+dir+"/state\nrepos:\n  - name: x\n    origin: https://example.org/repo/\n    mirrors:\n"+
		mirror("ok", "mirrors", "a/", "us-east-1", good)+ // lines 6-12
		mirror("nobucket", "absent", "b/", "", good)+ // lines 13-18: bucket at 16
		mirror("badcreds", "mirrors", "c/", "", wrong)+ // lines 19-24: credentials_file at 24
		mirror("region", "mirrors", "d/", "eu-north-1", good)), // lines 25-31: region at 30
		0o644)

	code, out, errOut := rpmirror(t, "check", "-c", conf)
	want := []string{
		conf + `:16: repo "x": mirror "nobucket": s3: bucket "absent": `,
		conf + `:24: repo "x": mirror "badcreds": s3: credentials from credentials_file ` + wrong + `: `,
		conf + `:30: repo "x": mirror "region": s3: region "eu-north-1": `,
	}
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if code != 2 || out != "" || len(lines) != len(want) {
		t.Fatalf("check: exit %d, stdout %q, stderr:\n%s\nwant exit 2 and %d lines", code, out, errOut, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d:\n%s\nwant it to begin\n%s", i+1, lines[i], w)
		}
	}
	for _, secret := range []string{s3test.Secret, "not-the-secret-at-all"} {
		if strings.Contains(errOut, secret) {
			t.Errorf("check shows a secret:\n%s", errOut)
		}
	}
	if code, out, errOut := rpmirror(t, "check", "--offline", "-c", conf); code != 0 || !strings.Contains(out, "ok") {
		t.Errorf("check --offline: exit %d\n%s%s", code, out, errOut)
	}

	// Without credentials_file, the environment's keys.
	env := filepath.Join(dir, "env.yaml")
	os.WriteFile(env, []byte("state_dir: "+dir+"/state\nrepos:\n  - name: x\n    origin: https://example.org/repo/\n    mirrors:\n"+
		"      - name: ok\n        s3:\n          endpoint: "+srv.Endpoint+"\n          bucket: mirrors\n"), 0o644)
	t.Setenv("AWS_ACCESS_KEY_ID", s3test.Access)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3test.Secret)
	if code, out, errOut := rpmirror(t, "check", "-c", env); code != 0 || !strings.Contains(out, "ok") {
		t.Errorf("check with the keys in the environment: exit %d\n%s%s", code, out, errOut)
	}
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	if code, _, errOut := rpmirror(t, "check", "-c", env); code != 2 || !strings.HasPrefix(errOut, env+":7: ") || !strings.Contains(errOut, "AWS_SECRET_ACCESS_KEY") {
		t.Errorf("check without keys: exit %d\n%s\nwant FILE:7 naming AWS_SECRET_ACCESS_KEY", code, errOut)
	}
}

// TestServeNamesStoreProblems: rpmirror serve with credentials the store
// refuses says so once, as rpmirror check does, at the line of the key to
// fix and naming the credentials file; it used to show only the store's
// "signature does not match" in each sync's failure and in warnings every
// probe round.
func TestServeNamesStoreProblems(t *testing.T) {
	srv := s3test.Start(t, "mirrors")
	dir := t.TempDir()
	wrong := filepath.Join(dir, "wrong")
	os.WriteFile(wrong, []byte("[default]\naws_access_key_id = "+s3test.Access+"\naws_secret_access_key = not-the-secret-at-all\n"), 0o600)
	conf := filepath.Join(dir, "mirrors.yaml")
	os.WriteFile(conf, []byte("state_dir: "+dir+"/state\nlisten: "+freeAddr(t)+"\nprobe_interval: 1s\nrepos:\n  - name: x\n    origin: http://127.0.0.1:1/repo/\n    mirrors:\n"+
		"      - name: obj\n        s3:\n          endpoint: "+srv.Endpoint+"\n          bucket: mirrors\n          prefix: x/\n          credentials_file: "+wrong+"\n"), 0o644)
	cmd := child("serve", "-c", conf)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	want := conf + `:13: repo \"x\": mirror \"obj\": s3: credentials from credentials_file ` + wrong + ": "
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("serve never said, at the line of credentials_file, that the store refused the credentials; want a line with\n%s\n%s", want, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if strings.Contains(out.String(), "not-the-secret-at-all") {
		t.Errorf("serve shows the secret:\n%s", out.String())
	}
}
