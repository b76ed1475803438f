//go:build linux

package seccomp

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Classic BPF opcodes used by the stub and the checks (linux/filter.h).
const (
	bpfLD   = 0x00
	bpfJMP  = 0x05
	bpfRET  = 0x06
	bpfW    = 0x00
	bpfABS  = 0x20
	bpfK    = 0x00
	bpfJA   = 0x00
	bpfJEQ  = 0x10
	bpfJGT  = 0x20
	bpfJGE  = 0x30
	bpfJSET = 0x40

	opLdAbsW = bpfLD | bpfW | bpfABS
	opRetK   = bpfRET | bpfK
	opJa     = bpfJMP | bpfJA
)

// Offsets in struct seccomp_data.
const (
	offNr   = 0
	offArch = 4
)

// stubArch is one ABI the ENOSYS stub knows: syscalls numbered above max
// answer ENOSYS. Numbers are as seccomp_data.nr carries them (x32 numbers
// include the x32 bit).
type stubArch struct {
	audit uint32
	max   uint32
	// For AUDIT_ARCH_X86_64: whether x32 is allowed, and the highest x32
	// number the profile names (below x32Private).
	x32    bool
	x32Max uint32
	// private, when non-zero, starts a range of old arch-private syscalls
	// (ARM's 0xf0000…) that keeps the default action.
	private uint32
}

// x32Private starts the x32-only syscalls (512…547): old, never ENOSYS.
const x32Private = x32SyscallBit + 512

// patchENOSYS rewrites every "return the default action" of prog into a
// jump to a stub appended at its end. The stub returns ENOSYS for syscall
// numbers above the profile's highest (per ABI), and the default action
// otherwise; nr -1 (no syscall, set by tracers) also answers ENOSYS. Only
// denied syscalls reach the stub, so the allowed path does not get longer.
//
// When the bad-architecture action equals the default, libseccomp may share
// one return for both; the stub then also sees foreign ABIs, which it
// answers with the default (= bad-arch) action, and x32 numbers when x32 is
// not allowed, which it answers with badArch.
//
// Jumps keep their targets (instructions change in place, the stub only
// appends), so prog's control flow is otherwise untouched.
func patchENOSYS(prog []unix.SockFilter, defRet, badArchRet uint32, arches []stubArch) ([]unix.SockFilter, error) {
	if len(arches) == 0 {
		return prog, nil
	}
	stub, err := enosysStub(defRet, badArchRet, arches)
	if err != nil {
		return nil, err
	}
	start := len(prog)
	out := make([]unix.SockFilter, 0, len(prog)+len(stub))
	patched := 0
	for i, in := range prog {
		if in.Code == opRetK && in.K == defRet {
			in = unix.SockFilter{Code: opJa, K: uint32(start - i - 1)}
			patched++
		}
		out = append(out, in)
	}
	if patched == 0 {
		return nil, fmt.Errorf("seccomp: internal error: libseccomp's program never returns the default action %#x", defRet)
	}
	return append(out, stub...), nil
}

func enosysStub(defRet, badArchRet uint32, arches []stubArch) ([]unix.SockFilter, error) {
	var a asm
	enosys := unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
	a.op(opLdAbsW, offArch)
	for i, s := range arches {
		a.jump(bpfJEQ, s.audit, fmt.Sprintf("arch%d", i), "")
	}
	a.jump(bpfJA, 0, "default", "")
	for i, s := range arches {
		a.label(fmt.Sprintf("arch%d", i))
		a.op(opLdAbsW, offNr)
		if s.audit == auditArchX86_64 {
			a.jump(bpfJEQ, 0xffffffff, "enosys", "")
			if s.x32 {
				a.jump(bpfJSET, x32SyscallBit, fmt.Sprintf("x32_%d", i), "")
			} else {
				a.jump(bpfJSET, x32SyscallBit, "badarch", "")
			}
		}
		if s.private != 0 {
			a.jump(bpfJGE, s.private, "default", "")
		}
		a.jump(bpfJGT, s.max, "enosys", "default")
		if s.audit == auditArchX86_64 && s.x32 {
			a.label(fmt.Sprintf("x32_%d", i))
			a.jump(bpfJGE, x32Private, "default", "")
			a.jump(bpfJGT, s.x32Max, "enosys", "default")
		}
	}
	a.label("default")
	a.op(opRetK, defRet)
	a.label("enosys")
	a.op(opRetK, enosys)
	a.label("badarch")
	a.op(opRetK, badArchRet)
	return a.assemble()
}

// asm assembles a short classic BPF program with forward jumps to labels.
type asm struct {
	ins    []unix.SockFilter
	jt, jf []string // per instruction; "" falls through
	labels map[string]int
}

func (a *asm) op(code uint16, k uint32) {
	a.ins = append(a.ins, unix.SockFilter{Code: code, K: k})
	a.jt = append(a.jt, "")
	a.jf = append(a.jf, "")
}

// jump appends a conditional jump (bpfJEQ…) or, for bpfJA, an unconditional
// one to jt.
func (a *asm) jump(cond uint16, k uint32, jt, jf string) {
	a.ins = append(a.ins, unix.SockFilter{Code: bpfJMP | cond | bpfK, K: k})
	a.jt = append(a.jt, jt)
	a.jf = append(a.jf, jf)
}

func (a *asm) label(name string) {
	if a.labels == nil {
		a.labels = map[string]int{}
	}
	a.labels[name] = len(a.ins)
}

func (a *asm) assemble() ([]unix.SockFilter, error) {
	out := make([]unix.SockFilter, len(a.ins))
	copy(out, a.ins)
	for i := range out {
		off := func(l string) (int, error) {
			if l == "" {
				return 0, nil
			}
			at, ok := a.labels[l]
			if !ok || at <= i {
				return 0, fmt.Errorf("seccomp: internal error: stub jump %d to %q", i, l)
			}
			return at - i - 1, nil
		}
		t, err := off(a.jt[i])
		if err != nil {
			return nil, err
		}
		f, err := off(a.jf[i])
		if err != nil {
			return nil, err
		}
		if out[i].Code == opJa {
			out[i].K = uint32(t)
			continue
		}
		if t > 255 || f > 255 {
			return nil, fmt.Errorf("seccomp: internal error: stub jump %d too long", i)
		}
		out[i].Jt, out[i].Jf = uint8(t), uint8(f)
	}
	return out, nil
}

// checkProgram verifies what the kernel's checker would refuse, so the
// error appears in the parent with context: size, jump targets inside the
// program, and a return at the end.
func checkProgram(prog []unix.SockFilter) error {
	if len(prog) == 0 || len(prog) > maxInsns {
		return fmt.Errorf("%s: the filter has %d instructions; the kernel accepts 1 to %d", fieldPrefix, len(prog), maxInsns)
	}
	for i, in := range prog {
		if in.Code&0x07 != bpfJMP {
			continue
		}
		var targets []int
		if in.Code&0xf0 == bpfJA {
			targets = []int{i + 1 + int(in.K)}
		} else {
			targets = []int{i + 1 + int(in.Jt), i + 1 + int(in.Jf)}
		}
		for _, t := range targets {
			if t >= len(prog) || t < 0 {
				return fmt.Errorf("seccomp: internal error: instruction %d jumps out of the program", i)
			}
		}
	}
	if last := prog[len(prog)-1]; last.Code&0x07 != bpfRET {
		return fmt.Errorf("seccomp: internal error: the program does not end with a return")
	}
	return nil
}
