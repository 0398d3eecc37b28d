// Package targets opens the target.Target a mirror's configuration
// describes, by its kind: the one place that knows which kinds exist
// (restic's location registry, distribution's storage driver factory).
// Nothing else in rpmirror names a target implementation.
package targets

import (
	"context"
	"fmt"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/internal/s3creds"
	"github.com/rpmirror/rpmirror/target"
	"github.com/rpmirror/rpmirror/target/local"
	"github.com/rpmirror/rpmirror/target/s3"
)

// Opener opens the target of a written mirror.
type Opener func(ctx context.Context, m config.Mirror) (target.Target, error)

// registry maps config.Mirror.Kind to its opener.
var registry = map[string]Opener{
	"local": func(_ context.Context, m config.Mirror) (target.Target, error) { return local.New(m.Path) },
	"s3":    openS3,
}

// openS3 opens a mirror in object storage, with the access key from its
// credentials_file or, without one, from the environment.
func openS3(_ context.Context, m config.Mirror) (target.Target, error) {
	c := m.S3
	var (
		creds s3creds.Credentials
		err   error
	)
	if c.CredentialsFile != "" {
		creds, err = s3creds.Load(c.CredentialsFile, c.Profile)
	} else {
		creds, err = s3creds.FromEnv()
	}
	if err != nil {
		return nil, err
	}
	return s3.New(s3.Config{
		Endpoint:    c.Endpoint,
		Bucket:      c.Bucket,
		Prefix:      c.Prefix,
		Region:      c.Region,
		VirtualHost: c.VirtualHost,
		Credentials: creds,
		LeaseTTL:    c.LeaseTTL,
		Holder:      c.Holder,
	})
}

// Open opens m's target. A probe-only mirror, or a kind no opener is
// registered for, is an error naming the mirror.
func Open(ctx context.Context, m config.Mirror) (target.Target, error) {
	kind := m.Kind()
	if kind == "" {
		return nil, fmt.Errorf("mirror %s is probe-only: rpmirror does not write it", m.Name)
	}
	open, ok := registry[kind]
	if !ok {
		return nil, fmt.Errorf("mirror %s: no target of kind %q", m.Name, kind)
	}
	tg, err := open(ctx, m)
	if err != nil {
		return nil, fmt.Errorf("opening mirror %s: %w", m.Name, err)
	}
	return tg, nil
}
