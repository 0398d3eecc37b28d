package targettest

import (
	"context"

	"github.com/rpmirror/rpmirror/target"
)

// Sequential wraps tg into a target without an atomic commit, as object
// storage is: Commit stores its files one after another, in the order
// given, then removes. Tests use it to run the engine's publish order for
// such targets against a real directory, where every intermediate state
// can be inspected.
func Sequential(tg target.Target) target.Target { return sequential{tg} }

type sequential struct{ target.Target }

func (s sequential) Commit(ctx context.Context, files []target.File, remove []string) error {
	for _, f := range files {
		if err := s.Put(ctx, f); err != nil {
			return err
		}
	}
	for _, p := range remove {
		if err := s.Remove(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

func (s sequential) Properties() target.Properties {
	p := s.Target.Properties()
	p.AtomicCommit = false
	return p
}
