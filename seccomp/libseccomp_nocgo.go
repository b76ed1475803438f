//go:build linux && !cgo

package seccomp

// build fails closed without cgo: there is no libseccomp to compile with,
// and a sandbox must never start without the filter it asked for. The
// profile is still validated first, so its own errors come first.
func build(pl *plan) (*Filter, error) { return nil, ErrNoLibseccomp }

// LibraryVersion reports that no libseccomp is linked.
func LibraryVersion() (version string, api uint) { return "", 0 }
