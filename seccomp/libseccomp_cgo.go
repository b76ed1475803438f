//go:build linux && cgo

package seccomp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// This file is the only one that uses cgo: it turns a validated plan into
// BPF with libseccomp, in the parent.

var scmpArches = map[specs.Arch]libseccomp.ScmpArch{
	specs.ArchX86:         libseccomp.ArchX86,
	specs.ArchX86_64:      libseccomp.ArchAMD64,
	specs.ArchX32:         libseccomp.ArchX32,
	specs.ArchARM:         libseccomp.ArchARM,
	specs.ArchAARCH64:     libseccomp.ArchARM64,
	specs.ArchMIPS:        libseccomp.ArchMIPS,
	specs.ArchMIPS64:      libseccomp.ArchMIPS64,
	specs.ArchMIPS64N32:   libseccomp.ArchMIPS64N32,
	specs.ArchMIPSEL:      libseccomp.ArchMIPSEL,
	specs.ArchMIPSEL64:    libseccomp.ArchMIPSEL64,
	specs.ArchMIPSEL64N32: libseccomp.ArchMIPSEL64N32,
	specs.ArchPPC:         libseccomp.ArchPPC,
	specs.ArchPPC64:       libseccomp.ArchPPC64,
	specs.ArchPPC64LE:     libseccomp.ArchPPC64LE,
	specs.ArchS390:        libseccomp.ArchS390,
	specs.ArchS390X:       libseccomp.ArchS390X,
	specs.ArchPARISC:      libseccomp.ArchPARISC,
	specs.ArchPARISC64:    libseccomp.ArchPARISC64,
	specs.ArchRISCV64:     libseccomp.ArchRISCV64,
	specs.ArchLOONGARCH64: libseccomp.ArchLOONGARCH64,
	specs.ArchM68K:        libseccomp.ArchM68K,
	specs.ArchSH:          libseccomp.ArchSH,
	specs.ArchSHEB:        libseccomp.ArchSHEB,
}

var scmpOps = map[opKind]libseccomp.ScmpCompareOp{
	opNE:       libseccomp.CompareNotEqual,
	opLT:       libseccomp.CompareLess,
	opLE:       libseccomp.CompareLessOrEqual,
	opEQ:       libseccomp.CompareEqual,
	opGE:       libseccomp.CompareGreaterEqual,
	opGT:       libseccomp.CompareGreater,
	opMaskedEQ: libseccomp.CompareMaskedEqual,
}

func scmpAction(a action) libseccomp.ScmpAction {
	switch a.kind {
	case actKillThread:
		return libseccomp.ActKillThread
	case actKillProcess:
		return libseccomp.ActKillProcess
	case actTrap:
		return libseccomp.ActTrap
	case actErrno:
		return libseccomp.ActErrno.SetReturnCode(int16(a.data))
	case actTrace:
		return libseccomp.ActTrace.SetReturnCode(int16(a.data))
	case actAllow:
		return libseccomp.ActAllow
	case actLog:
		return libseccomp.ActLog
	case actNotify:
		return libseccomp.ActNotify
	}
	panic("seccomp: internal error: invalid action")
}

// badArchAction answers syscalls of ABIs the profile does not list.
var badArchAction = action{kind: actKillProcess}

// optimizeMinRules is the rule count from which libseccomp builds a binary
// tree (SCMP_FLTATR_CTL_OPTIMIZE=2, libseccomp 2.5) instead of a linear
// list. libseccomp up to 2.5.4 generates a broken tree for a filter without
// rules, and a short list is as fast.
const optimizeMinRules = 8

// build compiles a validated plan with libseccomp, exports the program and
// adds the ENOSYS stub.
func build(pl *plan) (*Filter, error) {
	native, err := libseccomp.GetNativeArch()
	if err != nil {
		return nil, fmt.Errorf("seccomp: libseccomp: %w", err)
	}
	sf, err := libseccomp.NewFilter(scmpAction(pl.def))
	if err != nil {
		return nil, fmt.Errorf("seccomp: libseccomp: %w", err)
	}
	defer sf.Release()
	if err := sf.SetBadArchAction(scmpAction(badArchAction)); err != nil {
		return nil, fmt.Errorf("seccomp: libseccomp: bad-arch action: %w", err)
	}
	// The filter is exported, not loaded: no_new_privs is Install's job.
	if err := sf.SetNoNewPrivsBit(false); err != nil {
		return nil, fmt.Errorf("seccomp: libseccomp: %w", err)
	}

	var errs []error
	warnings := append([]string(nil), pl.warnings...)
	inFilter := []libseccomp.ScmpArch{native}
	for i, a := range pl.arches {
		sa := scmpArches[a]
		if sa == native {
			continue
		}
		if err := sf.AddArch(sa); err != nil {
			if errors.Is(err, unix.EDOM) {
				err = fmt.Errorf("cannot share a filter with the native %s (another byte order): %w", native, err)
			}
			errs = append(errs, fmt.Errorf("%s.architectures[%d]: %s: %w", fieldPrefix, i, a, err))
			continue
		}
		inFilter = append(inFilter, sa)
	}

	added := 0
	known := map[string]bool{}
	for _, r := range pl.rules {
		for j, name := range r.names {
			nr, err := libseccomp.GetSyscallFromName(name)
			if err != nil {
				if _, seen := known[name]; !seen {
					warnings = append(warnings, fmt.Sprintf("%s.names[%d]: unknown syscall %q skipped (not known to libseccomp %s)", r.path(), j, name, libVersion()))
				}
				known[name] = false
				continue
			}
			known[name] = true
			if r.act == pl.def {
				continue // libseccomp refuses rules with the default action
			}
			if err := addRule(sf, nr, &r); err != nil {
				errs = append(errs, fmt.Errorf("%s: %q: %w", r.path(), name, err))
				continue
			}
			added++
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if added >= optimizeMinRules {
		if err := sf.SetOptimize(2); err != nil {
			warnings = append(warnings, fmt.Sprintf("%s: binary-tree dispatch unavailable, using a linear filter: %v", fieldPrefix, err))
		}
	}

	prog, err := exportBPF(sf)
	if err != nil {
		return nil, err
	}
	if pl.def.denies() {
		prog, err = patchENOSYS(prog, pl.def.ret(), badArchAction.ret(), stubArches(pl, native, inFilter, known))
		if err != nil {
			return nil, err
		}
	}
	if err := checkProgram(prog); err != nil {
		return nil, err
	}
	f := &Filter{
		Insns:            prog,
		Flags:            pl.flags,
		Notify:           pl.notify,
		Warnings:         warnings,
		ListenerPath:     pl.listenerPath,
		ListenerMetadata: pl.listenerMetadata,
	}
	if f.Notify {
		f.Flags |= unix.SECCOMP_FILTER_FLAG_NEW_LISTENER
	}
	return f, nil
}

// addRule adds r for syscall nr. Conditions on distinct arguments form one
// rule (AND); when an argument is tested twice, each condition becomes a
// rule of its own (OR), the convention of OCI runtimes.
func addRule(sf *libseccomp.ScmpFilter, nr libseccomp.ScmpSyscall, r *rule) error {
	act := scmpAction(r.act)
	if len(r.conds) == 0 {
		return sf.AddRule(nr, act)
	}
	conds := make([]libseccomp.ScmpCondition, 0, len(r.conds))
	for _, c := range r.conds {
		vals := []uint64{c.value}
		if c.op == opMaskedEQ {
			vals = append(vals, c.valueTwo)
		}
		sc, err := libseccomp.MakeCondition(c.index, scmpOps[c.op], vals...)
		if err != nil {
			return err
		}
		conds = append(conds, sc)
	}
	if !r.sameArgTwice() {
		return sf.AddRuleConditional(nr, act, conds)
	}
	for _, c := range conds {
		if err := sf.AddRuleConditional(nr, act, []libseccomp.ScmpCondition{c}); err != nil {
			return err
		}
	}
	return nil
}

// stubArches lists, for the ABIs this machine runs, the highest syscall
// number the profile names. Names count whatever their rule's action (a
// rule with the default action still says "the profile knows this call").
func stubArches(pl *plan, native libseccomp.ScmpArch, inFilter []libseccomp.ScmpArch, known map[string]bool) []stubArch {
	has := func(a libseccomp.ScmpArch) bool {
		for _, x := range inFilter {
			if x == a {
				return true
			}
		}
		return false
	}
	highest := func(arch libseccomp.ScmpArch, below uint32) (uint32, bool) {
		var max uint32
		found := false
		for _, r := range pl.rules {
			for _, n := range r.names {
				if !known[n] {
					continue
				}
				nr, err := libseccomp.GetSyscallFromNameByArch(n, arch)
				if err != nil || nr < 0 || uint32(nr) >= below {
					continue // not on this ABI (libseccomp's negative pseudo numbers)
				}
				if !found || uint32(nr) > max {
					max, found = uint32(nr), true
				}
			}
		}
		return max, found
	}
	var out []stubArch
	switch native {
	case libseccomp.ArchAMD64:
		if max, ok := highest(libseccomp.ArchAMD64, x32SyscallBit); ok {
			s := stubArch{audit: auditArchX86_64, max: max}
			if has(libseccomp.ArchX32) {
				s.x32 = true
				s.x32Max = x32SyscallBit - 1 // nothing named: every common x32 number is "newer"
				if m, ok := highest(libseccomp.ArchX32, x32Private); ok {
					s.x32Max = m
				}
			}
			out = append(out, s)
		}
		if has(libseccomp.ArchX86) {
			if max, ok := highest(libseccomp.ArchX86, 0xffffffff); ok {
				out = append(out, stubArch{audit: auditArchI386, max: max})
			}
		}
	case libseccomp.ArchARM64:
		if max, ok := highest(libseccomp.ArchARM64, 0xffffffff); ok {
			out = append(out, stubArch{audit: auditArchAARCH64, max: max})
		}
		if has(libseccomp.ArchARM) {
			const armPrivate = 0xf0000
			if max, ok := highest(libseccomp.ArchARM, armPrivate); ok {
				out = append(out, stubArch{audit: auditArchARM, max: max, private: armPrivate})
			}
		}
	}
	return out
}

// exportBPF writes the program to a memfd (libseccomp 2.5 has no export to
// memory) and decodes it.
func exportBPF(sf *libseccomp.ScmpFilter) ([]unix.SockFilter, error) {
	fd, err := unix.MemfdCreate("seccomp-bpf", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("seccomp: export: memfd_create: %w", err)
	}
	mf := os.NewFile(uintptr(fd), "seccomp-bpf")
	defer mf.Close()
	if err := sf.ExportBPF(mf); err != nil {
		return nil, fmt.Errorf("seccomp: libseccomp: export: %w", err)
	}
	if _, err := mf.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("seccomp: export: %w", err)
	}
	data, err := io.ReadAll(mf)
	if err != nil {
		return nil, fmt.Errorf("seccomp: export: %w", err)
	}
	if len(data)%8 != 0 {
		return nil, fmt.Errorf("seccomp: export: %d bytes is not a whole number of instructions", len(data))
	}
	prog := make([]unix.SockFilter, len(data)/8)
	for i := range prog {
		b := data[8*i:]
		prog[i] = unix.SockFilter{
			Code: binary.NativeEndian.Uint16(b),
			Jt:   b[2],
			Jf:   b[3],
			K:    binary.NativeEndian.Uint32(b[4:]),
		}
	}
	return prog, nil
}

func libVersion() string {
	maj, min, mic := libseccomp.GetLibraryVersion()
	return fmt.Sprintf("%d.%d.%d", maj, min, mic)
}

// LibraryVersion reports the libseccomp this binary uses, and its API level.
func LibraryVersion() (version string, api uint) {
	api, _ = libseccomp.GetAPI()
	return libVersion(), api
}
