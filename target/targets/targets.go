// Package targets opens the target.Target a mirror's configuration
// describes, by its kind: the one place that knows which kinds exist
// (restic's location registry, distribution's storage driver factory).
// Nothing else in rpmirror names a target implementation.
package targets

import (
	"context"
	"fmt"

	"github.com/rpmirror/rpmirror/config"
	"github.com/rpmirror/rpmirror/target"
	"github.com/rpmirror/rpmirror/target/local"
)

// Opener opens the target of a written mirror.
type Opener func(ctx context.Context, m config.Mirror) (target.Target, error)

// registry maps config.Mirror.Kind to its opener.
var registry = map[string]Opener{
	"local": func(_ context.Context, m config.Mirror) (target.Target, error) { return local.New(m.Path) },
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
