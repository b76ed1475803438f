// Package seccomp compiles OCI seccomp profiles (specs.LinuxSeccomp) into
// classic BPF in the parent, and emits the spawn steps that install the
// result in the child, last, just before exec.
//
// # Pipeline
//
//	specs.LinuxSeccomp ─validate─► rules ─libseccomp─► BPF ─ENOSYS patch─► Filter ─Install─► spawn steps
//	  (all errors, field paths)    (cgo, parent only)          (cached by profile hash)
//
// Compile validates the whole profile first and reports every problem at
// once, each with its field path ("linux.seccomp.syscalls[3].action: …").
// It then builds the filter with libseccomp (github.com/seccomp/libseccomp-
// golang), exports it, and patches it so that syscalls newer than the
// profile answer ENOSYS instead of the default errno (see below). Results
// are cached by the SHA-256 of the profile's JSON encoding, so compiling
// the same profile again costs a hash and a copy.
//
// The child never runs libseccomp: Filter.Install appends
// prctl(PR_SET_NO_NEW_PRIVS) and seccomp(SECCOMP_SET_MODE_FILTER) steps
// that load the ready-made program from the spawn arena.
//
// # Invariants
//
//   - Fail closed. A profile that cannot be compiled exactly as written
//     is an error, never a weaker filter. Without cgo every Compile fails
//     (ErrNoLibseccomp). A nil *Filter installs a step the spawn verifier
//     refuses, so a program cannot be built "without the filter it asked
//     for" by accident.
//   - Architectures. The native ABI is always filtered; compat ABIs (i386
//     through int 0x80 and x32 on amd64, arm on arm64) are allowed only
//     when the profile lists them. Any other architecture, and an x32
//     syscall number (bit 0x40000000) on amd64 when x32 is not listed, hits
//     the bad-architecture action, SECCOMP_RET_KILL_PROCESS.
//   - Unknown syscall names are skipped with a warning in Filter.Warnings,
//     as runc and crun do: the name may be newer than this libseccomp.
//   - ENOSYS for newer syscalls. When the default action denies (errno,
//     trap, kill), a syscall numbered above the highest syscall the profile
//     names (per architecture) answers ENOSYS, so glibc and Go fall back
//     (clone3 → clone, fchmodat2 → fchmodat…). The check costs nothing on
//     the allowed path: libseccomp's "return the default action"
//     instructions are rewritten into a jump to a short stub appended to
//     the program, which is only reached by denied syscalls.
//
// This package imports cgo only in libseccomp_cgo.go; everything else is
// pure Go, and the child-side steps use only package spawn.
package seccomp
