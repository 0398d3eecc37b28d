package s3

import (
	"context"
	"errors"
)

// StopRenewing makes the holder stall: it stops renewing the lease
// without releasing it, as a hung or killed process would.
func (s *S3) StopRenewing() {
	s.mu.Lock()
	h := s.held
	s.mu.Unlock()
	if h != nil {
		h.halt()
	}
}

// RenewNow renews the lease once, as the background renewal does, and
// reports whether it found the lease lost.
func (s *S3) RenewNow(ctx context.Context) (lost bool, err error) {
	s.mu.Lock()
	h := s.held
	s.mu.Unlock()
	if h == nil {
		return false, errors.New("not locked")
	}
	return s.renew(ctx, h), nil
}
