//go:build linux

package seccomp

import (
	"slices"

	"golang.org/x/sys/unix"
)

// precompiled is a Filter compiled when the package was generated, so the
// default profile loads without libseccomp (and without the cgo start-up
// cost) in a fresh process: a CLI sandbox compiles it on every run
// otherwise. TestPrecompiledDefault fails when it drifts from what
// libseccomp compiles now (go test ./seccomp -run PrecompiledDefault
// -update-precompiled rewrites it).
type precompiled struct {
	hash       [32]byte
	flags      uint
	insns      []unix.SockFilter
	libseccomp string // the version that compiled it
}

// fromPrecompiled returns the embedded filter for a profile with this
// hash, if there is one for this architecture.
func fromPrecompiled(key [32]byte) *Filter {
	p := precompiledDefault
	if p == nil || p.hash != key {
		return nil
	}
	return &Filter{Insns: slices.Clone(p.insns), Flags: p.flags, Hash: key}
}
