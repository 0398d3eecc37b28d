// Package badorigin is an HTTP(S) origin for tests that misbehaves on
// purpose, the way real origins, proxies and networks do: error statuses,
// connections closed or reset in the middle of a body, bodies that stall
// or trickle, Range requests ignored, Content-Length headers that lie,
// redirect loops, and a repository that is republished while a client is
// reading it.
//
// An Origin serves a directory (a repository built by testrepo, for
// example) over loopback, counts every request with the Range header it
// carried, and applies the faults of the rules that match it. Rules are
// added and removed at run time, so a test can let a first sync through and
// break the second:
//
//	srv := badorigin.Start(t, dir)
//	srv.On(badorigin.Glob("Packages/*/*.rpm"), badorigin.ResetAfter(1000)).Times(1)
//	srv.SwapOn(badorigin.Glob("Packages/*/*.rpm"), v2dir)
//
// StartTLS serves the same over HTTPS with a self-signed certificate whose
// PEM encoding is Server.CAPEM.
package badorigin
