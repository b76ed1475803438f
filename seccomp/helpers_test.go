//go:build linux && cgo

package seccomp

import (
	"runtime"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gosandbox/sandbox/internal/testutil"
)

// nativeAudit is AUDIT_ARCH_* of the machine running the tests.
func nativeAudit(t testing.TB) uint32 {
	switch runtime.GOARCH {
	case "amd64":
		return auditArchX86_64
	case "arm64":
		return auditArchAARCH64
	}
	testutil.SkipAlways(t, "the tests know the AUDIT_ARCH of amd64 and arm64 only, not "+runtime.GOARCH)
	return 0
}

// sys is a native syscall.
func sys(t testing.TB, nr uintptr, args ...uint64) *seccompData {
	d := &seccompData{Nr: int32(nr), Arch: nativeAudit(t)}
	copy(d.Args[:], args)
	return d
}

// i386 is a syscall through int 0x80 on amd64.
func i386(nr int32, args ...uint64) *seccompData {
	d := &seccompData{Nr: nr, Arch: auditArchI386}
	copy(d.Args[:], args)
	return d
}

// x32 is a syscall with the x32 bit (amd64).
func x32(nr int32, args ...uint64) *seccompData {
	d := &seccompData{Nr: nr | x32SyscallBit, Arch: auditArchX86_64}
	copy(d.Args[:], args)
	return d
}

func needAmd64(t testing.TB) {
	t.Helper()
	if runtime.GOARCH != "amd64" {
		testutil.SkipAlways(t, "tests amd64's compat ABIs (int 0x80, x32); runs on amd64")
	}
}

func mustCompile(t testing.TB, p *specs.LinuxSeccomp) *Filter {
	t.Helper()
	f, err := Compile(p)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return f
}

// decide runs f on d in the interpreter and names the action.
func decide(t testing.TB, f *Filter, d *seccompData) string {
	t.Helper()
	ret, _, err := runBPF(f.Insns, d)
	if err != nil {
		t.Fatalf("interpreter: %v\n%s", err, disasm(f.Insns))
	}
	return actionString(ret)
}

func uintp(v uint) *uint { return &v }

// i386 syscall numbers used by the tests (arch/x86/entry/syscalls/syscall_32.tbl).
const (
	i386Exit    = 1
	i386Getpid  = 20
	i386Mount   = 21
	i386Ioctl   = 54
	i386Clone   = 120
	i386Getppid = 64
)
