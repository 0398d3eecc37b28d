package main

import (
	"context"
	"fmt"
	"io"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/rpmirror/rpmirror/sync"
	"github.com/rpmirror/rpmirror/target/targets"
	"github.com/rpmirror/rpmirror/verify"
)

func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flags("verify", stderr)
	rf := addRepoFlags(fs, "verify")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	_, sel, err := rf.load()
	if err != nil {
		return err
	}
	bad := 0
	for _, r := range sel {
		var keyring, repoKeyring openpgp.EntityList
		if len(r.GPGKeys) > 0 {
			if keyring, err = verify.LoadKeyring(r.GPGKeys...); err != nil {
				return fmt.Errorf("%s: %w", r.Name, err)
			}
		}
		if r.RepoGPGCheck {
			if repoKeyring, err = verify.LoadKeyring(r.RepoGPGKeys...); err != nil {
				return fmt.Errorf("%s: repo_gpgkeys: %w", r.Name, err)
			}
		}
		for _, m := range r.Mirrors {
			if !m.Written() {
				continue
			}
			tg, err := targets.Open(ctx, m)
			if err != nil {
				fmt.Fprintf(stdout, "%s/%s: %s\n", r.Name, m.Name, err)
				bad++
				continue
			}
			problems, st, err := sync.CheckMirrorWith(ctx, tg, sync.CheckOptions{Keyring: keyring, RepoKeyring: repoKeyring})
			if err != nil {
				fmt.Fprintf(stdout, "%s/%s: %s\n", r.Name, m.Name, err)
				bad++
				continue
			}
			for _, p := range problems {
				fmt.Fprintf(stdout, "%s/%s: %s: %s\n", r.Name, m.Name, p.Path, p.Err)
			}
			bad += len(problems)
			verdict := "ok"
			if len(problems) > 0 {
				verdict = fmt.Sprintf("%d problems", len(problems))
			}
			sigs := "signatures not checked (no gpgkeys)"
			if len(keyring) > 0 {
				sigs = "signatures checked"
			}
			if len(repoKeyring) > 0 {
				sigs += ", repomd.xml signature checked"
			}
			fmt.Fprintf(stdout, "%s/%s: revision %s: %d metadata files, %d packages, %s: %s\n", r.Name, m.Name, st.Revision, st.Metadata, st.Packages, sigs, verdict)
		}
	}
	if bad > 0 {
		return errFailed
	}
	return nil
}
