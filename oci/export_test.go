//go:build linux

package oci

// SetParentDumpable makes Compile see f as spawn.ParentDumpable until the
// returned function restores it.
func SetParentDumpable(f func() bool) (restore func()) {
	old := parentDumpable
	parentDumpable = f
	return func() { parentDumpable = old }
}
