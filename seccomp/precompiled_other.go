//go:build linux && !amd64

package seccomp

// precompiledDefault is generated for amd64 only; elsewhere the default
// profile is compiled at run time.
var precompiledDefault *precompiled
