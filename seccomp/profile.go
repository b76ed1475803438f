//go:build linux

package seccomp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// fieldPrefix starts every field path in errors and warnings.
const fieldPrefix = "linux.seccomp"

// LoadProfile reads a seccomp profile: the JSON of an OCI
// specs.LinuxSeccomp (what `sandbox run --seccomp FILE.json` takes).
// Unknown fields are errors, so a misspelt key cannot silently weaken the
// profile. The profile is not validated here; Compile does that.
func LoadProfile(path string) (*specs.LinuxSeccomp, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("seccomp profile: %w", err)
	}
	p, err := ParseProfile(data)
	if err != nil {
		return nil, fmt.Errorf("seccomp profile %s: %w", path, err)
	}
	return p, nil
}

// ParseProfile decodes a profile from JSON, refusing unknown fields and
// trailing data.
func ParseProfile(data []byte) (*specs.LinuxSeccomp, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var p specs.LinuxSeccomp
	if err := dec.Decode(&p); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data after the profile")
	}
	return &p, nil
}

// actKind is an action without its data.
type actKind uint8

const (
	actInvalid actKind = iota
	actKillThread
	actKillProcess
	actTrap
	actErrno
	actTrace
	actAllow
	actLog
	actNotify
)

// action is a validated OCI action: its kind and, for errno and trace, the
// 16-bit data.
type action struct {
	kind actKind
	data uint16
}

var actionNames = map[specs.LinuxSeccompAction]actKind{
	specs.ActKill:        actKillThread, // libseccomp's SCMP_ACT_KILL is KILL_THREAD
	specs.ActKillThread:  actKillThread,
	specs.ActKillProcess: actKillProcess,
	specs.ActTrap:        actTrap,
	specs.ActErrno:       actErrno,
	specs.ActTrace:       actTrace,
	specs.ActAllow:       actAllow,
	specs.ActLog:         actLog,
	specs.ActNotify:      actNotify,
}

// ret is the kernel's SECCOMP_RET_* value for a.
func (a action) ret() uint32 {
	switch a.kind {
	case actKillThread:
		return unix.SECCOMP_RET_KILL_THREAD
	case actKillProcess:
		return unix.SECCOMP_RET_KILL_PROCESS
	case actTrap:
		return unix.SECCOMP_RET_TRAP
	case actErrno:
		return unix.SECCOMP_RET_ERRNO | uint32(a.data)
	case actTrace:
		return unix.SECCOMP_RET_TRACE | uint32(a.data)
	case actAllow:
		return unix.SECCOMP_RET_ALLOW
	case actLog:
		return unix.SECCOMP_RET_LOG
	case actNotify:
		return unix.SECCOMP_RET_USER_NOTIF
	}
	panic("seccomp: internal error: invalid action")
}

// denies reports whether a default action of this kind refuses unknown
// syscalls, so that newer syscalls should answer ENOSYS instead. Allow and
// log permit them; a tracer or a notify supervisor sees them and decides.
func (a action) denies() bool {
	switch a.kind {
	case actErrno:
		return a.data != uint16(unix.ENOSYS)
	case actKillThread, actKillProcess, actTrap:
		return true
	}
	return false
}

// maxErrno is the largest errno the kernel returns (MAX_ERRNO); larger
// SECCOMP_RET_ERRNO data is clamped to it.
const maxErrno = 4095

// parseAction validates an action and its errnoRet at path (the action's
// field path) and errPath (the errnoRet field's).
func parseAction(a specs.LinuxSeccompAction, errnoRet *uint, path, errPath string) (action, []error) {
	var errs []error
	kind, ok := actionNames[a]
	if !ok {
		if a == "" {
			return action{}, []error{fmt.Errorf("%s: missing", path)}
		}
		return action{}, []error{fmt.Errorf("%s: unknown action %q", path, a)}
	}
	act := action{kind: kind}
	switch kind {
	case actErrno:
		act.data = uint16(unix.EPERM)
		if errnoRet != nil {
			if *errnoRet > maxErrno {
				errs = append(errs, fmt.Errorf("%s: %d, at most %d", errPath, *errnoRet, maxErrno))
			}
			act.data = uint16(*errnoRet)
		}
	case actTrace:
		// The data is the message a tracer reads with PTRACE_GETEVENTMSG.
		act.data = uint16(unix.EPERM)
		if errnoRet != nil {
			if *errnoRet > 0xffff {
				errs = append(errs, fmt.Errorf("%s: %d, at most 65535", errPath, *errnoRet))
			}
			act.data = uint16(*errnoRet)
		}
	default:
		if errnoRet != nil {
			errs = append(errs, fmt.Errorf("%s: set, but %s returns no errno (only SCMP_ACT_ERRNO and SCMP_ACT_TRACE do)", errPath, a))
		}
	}
	return act, errs
}

// opKind is a comparison operator.
type opKind uint8

const (
	opInvalid opKind = iota
	opNE
	opLT
	opLE
	opEQ
	opGE
	opGT
	opMaskedEQ
)

var opNames = map[specs.LinuxSeccompOperator]opKind{
	specs.OpNotEqual:     opNE,
	specs.OpLessThan:     opLT,
	specs.OpLessEqual:    opLE,
	specs.OpEqualTo:      opEQ,
	specs.OpGreaterEqual: opGE,
	specs.OpGreaterThan:  opGT,
	specs.OpMaskedEqual:  opMaskedEQ,
}

// cond is one validated argument comparison. For opMaskedEQ, value is the
// mask and valueTwo the datum: (arg & value) == valueTwo.
type cond struct {
	index           uint
	op              opKind
	value, valueTwo uint64
}

// archInfo describes an architecture the OCI profile may name.
type archInfo struct {
	audit uint32 // AUDIT_ARCH_* as seccomp_data.arch reports it; 0 when not needed here
	// x32 marks SCMP_ARCH_X32: AUDIT_ARCH_X86_64 with syscall numbers that
	// carry bit 0x40000000.
	x32 bool
}

// AUDIT_ARCH_* values of the ABIs this package patches for ENOSYS.
const (
	auditArchI386    = 0x40000003
	auditArchX86_64  = 0xc000003e
	auditArchARM     = 0x40000028
	auditArchAARCH64 = 0xc00000b7

	x32SyscallBit = 0x40000000
)

var archNames = map[specs.Arch]archInfo{
	specs.ArchX86:         {audit: auditArchI386},
	specs.ArchX86_64:      {audit: auditArchX86_64},
	specs.ArchX32:         {audit: auditArchX86_64, x32: true},
	specs.ArchARM:         {audit: auditArchARM},
	specs.ArchAARCH64:     {audit: auditArchAARCH64},
	specs.ArchMIPS:        {},
	specs.ArchMIPS64:      {},
	specs.ArchMIPS64N32:   {},
	specs.ArchMIPSEL:      {},
	specs.ArchMIPSEL64:    {},
	specs.ArchMIPSEL64N32: {},
	specs.ArchPPC:         {},
	specs.ArchPPC64:       {},
	specs.ArchPPC64LE:     {},
	specs.ArchS390:        {},
	specs.ArchS390X:       {},
	specs.ArchPARISC:      {},
	specs.ArchPARISC64:    {},
	specs.ArchRISCV64:     {},
	specs.ArchLOONGARCH64: {},
	specs.ArchM68K:        {},
	specs.ArchSH:          {},
	specs.ArchSHEB:        {},
}

// flagTsync is accepted and ignored: the filter is installed by a
// single-threaded child right before exec, and TSYNC would forbid
// NEW_LISTENER.
const flagTsync specs.LinuxSeccompFlag = "SECCOMP_FILTER_FLAG_TSYNC"

var flagNames = map[specs.LinuxSeccompFlag]uint{
	flagTsync:                              0,
	specs.LinuxSeccompFlagLog:              unix.SECCOMP_FILTER_FLAG_LOG,
	specs.LinuxSeccompFlagSpecAllow:        unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW,
	specs.LinuxSeccompFlagWaitKillableRecv: unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
}

// rule is one validated syscalls[] entry.
type rule struct {
	index int // in the profile's syscalls
	names []string
	act   action
	conds []cond
}

func (r *rule) path() string { return fmt.Sprintf("%s.syscalls[%d]", fieldPrefix, r.index) }

// plan is a validated profile, ready for libseccomp.
type plan struct {
	def      action
	arches   []specs.Arch // listed, deduplicated, in order
	flags    uint         // seccomp(2) flags, NEW_LISTENER not included
	notify   bool
	rules    []rule
	warnings []string

	listenerPath, listenerMetadata string
}

// validate checks every field of p and returns the plan, or all problems
// joined. It needs no libseccomp: syscall names are resolved later.
func validate(p *specs.LinuxSeccomp) (*plan, error) {
	if p == nil {
		return nil, fmt.Errorf("%s: no profile", fieldPrefix)
	}
	var errs []error
	pl := &plan{listenerPath: p.ListenerPath, listenerMetadata: p.ListenerMetadata}

	def, e := parseAction(p.DefaultAction, p.DefaultErrnoRet, fieldPrefix+".defaultAction", fieldPrefix+".defaultErrnoRet")
	errs = append(errs, e...)
	pl.def = def
	if def.kind == actNotify {
		// The child reports the listener to the parent with write(2), which
		// a default notify action would hold until a supervisor that does
		// not have the listener yet answers.
		errs = append(errs, fmt.Errorf("%s.defaultAction: SCMP_ACT_NOTIFY cannot be the default action (the listener hand-off itself would be notified)", fieldPrefix))
	}

	seen := map[specs.Arch]bool{}
	for i, a := range p.Architectures {
		if _, ok := archNames[a]; !ok {
			errs = append(errs, fmt.Errorf("%s.architectures[%d]: unknown architecture %q", fieldPrefix, i, a))
			continue
		}
		if !seen[a] {
			seen[a] = true
			pl.arches = append(pl.arches, a)
		}
	}

	waitKillable := false
	for i, f := range p.Flags {
		v, ok := flagNames[f]
		if !ok {
			errs = append(errs, fmt.Errorf("%s.flags[%d]: unknown flag %q", fieldPrefix, i, f))
			continue
		}
		if v == unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV {
			waitKillable = true
			continue
		}
		pl.flags |= v
	}

	if p.ListenerMetadata != "" && p.ListenerPath == "" {
		errs = append(errs, fmt.Errorf("%s.listenerMetadata: set without listenerPath", fieldPrefix))
	}

	for i, sc := range p.Syscalls {
		r, e := validateRule(i, &sc)
		errs = append(errs, e...)
		if r == nil {
			continue
		}
		if r.act.kind == actNotify {
			pl.notify = true
		}
		pl.rules = append(pl.rules, *r)
	}

	if waitKillable {
		switch {
		case !pl.notify:
			pl.warnings = append(pl.warnings, fmt.Sprintf("%s.flags: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV ignored: the profile uses no SCMP_ACT_NOTIFY", fieldPrefix))
		case !kernelHasFlag(unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV | unix.SECCOMP_FILTER_FLAG_NEW_LISTENER):
			pl.warnings = append(pl.warnings, fmt.Sprintf("%s.flags: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV ignored: this kernel does not support it (Linux 5.19)", fieldPrefix))
		default:
			pl.flags |= unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
		}
	}
	for _, f := range []struct {
		bit  uint
		name specs.LinuxSeccompFlag
		ver  string
	}{
		{unix.SECCOMP_FILTER_FLAG_LOG, specs.LinuxSeccompFlagLog, "4.14"},
		{unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW, specs.LinuxSeccompFlagSpecAllow, "4.17"},
	} {
		if pl.flags&f.bit != 0 && !kernelHasFlag(f.bit) {
			errs = append(errs, fmt.Errorf("%s.flags: %s is not supported by this kernel (Linux %s)", fieldPrefix, f.name, f.ver))
		}
	}

	pl.warnings = append(pl.warnings, overlapWarnings(pl)...)
	pl.warnings = append(pl.warnings, socketcallWarnings(pl)...)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return pl, nil
}

// validateRule checks syscalls[i]. It returns nil when the rule is
// unusable.
func validateRule(i int, sc *specs.LinuxSyscall) (*rule, []error) {
	var errs []error
	r := &rule{index: i}
	path := r.path()
	if len(sc.Names) == 0 {
		errs = append(errs, fmt.Errorf("%s.names: empty", path))
	}
	for j, n := range sc.Names {
		if n == "" || strings.ContainsAny(n, " \t\n\x00") {
			errs = append(errs, fmt.Errorf("%s.names[%d]: invalid syscall name %q", path, j, n))
			continue
		}
		r.names = append(r.names, n)
	}
	act, e := parseAction(sc.Action, sc.ErrnoRet, path+".action", path+".errnoRet")
	errs = append(errs, e...)
	r.act = act
	if act.kind == actNotify {
		for j, n := range sc.Names {
			if n == "write" {
				errs = append(errs, fmt.Errorf("%s.names[%d]: SCMP_ACT_NOTIFY cannot apply to write (the child reports the listener to the parent with write)", path, j))
			}
		}
	}
	if len(sc.Args) > 6 {
		errs = append(errs, fmt.Errorf("%s.args: %d arguments, at most 6", path, len(sc.Args)))
	}
	for j, a := range sc.Args {
		ap := fmt.Sprintf("%s.args[%d]", path, j)
		op, ok := opNames[a.Op]
		switch {
		case a.Op == "":
			errs = append(errs, fmt.Errorf("%s.op: missing", ap))
		case !ok:
			errs = append(errs, fmt.Errorf("%s.op: unknown operator %q", ap, a.Op))
		}
		if a.Index > 5 {
			errs = append(errs, fmt.Errorf("%s.index: %d, at most 5", ap, a.Index))
		}
		r.conds = append(r.conds, cond{index: a.Index, op: op, value: a.Value, valueTwo: a.ValueTwo})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return r, nil
}

// sameArgTwice reports whether two of r's conditions test the same
// argument. OCI runtimes then add each condition as a rule of its own, so
// they combine with OR instead of AND (libseccomp refuses two checks of one
// argument in a rule); profiles rely on it to list allowed values.
func (r *rule) sameArgTwice() bool {
	var seen [6]bool
	for _, c := range r.conds {
		if seen[c.index] {
			return true
		}
		seen[c.index] = true
	}
	return false
}

// overlapWarnings reports rule combinations libseccomp cannot express as
// written. libseccomp keeps one action per syscall for an unconditional
// rule and drops conditional rules with other actions next to it, and it
// refuses rules whose action is the default one, so a "deny this argument"
// rule with the default errno next to a broader allow disappears.
func overlapWarnings(pl *plan) []string {
	type use struct {
		rule        int // index in pl.rules
		conditional bool
	}
	byName := map[string][]use{}
	var order []string
	for i, r := range pl.rules {
		for _, n := range r.names {
			if _, ok := byName[n]; !ok {
				order = append(order, n)
			}
			byName[n] = append(byName[n], use{i, len(r.conds) > 0})
		}
	}
	var warns []string
	for _, n := range order {
		uses := byName[n]
		if len(uses) < 2 {
			continue
		}
		var uncond *use
		for k := range uses {
			u := &uses[k]
			r := &pl.rules[u.rule]
			if !u.conditional {
				if uncond == nil {
					uncond = u
				} else if first := &pl.rules[uncond.rule]; first.act != r.act {
					warns = append(warns, fmt.Sprintf("%s: %q already has an unconditional rule in syscalls[%d] with another action; this rule is ignored", r.path(), n, first.index))
				}
			}
		}
		for k := range uses {
			u := &uses[k]
			r := &pl.rules[u.rule]
			if !u.conditional {
				continue
			}
			if uncond != nil && pl.rules[uncond.rule].act != r.act {
				warns = append(warns, fmt.Sprintf("%s: conditional rule for %q is shadowed by the unconditional rule in syscalls[%d] and ignored", r.path(), n, pl.rules[uncond.rule].index))
				continue
			}
			if r.act == pl.def {
				for l := range uses {
					if o := &pl.rules[uses[l].rule]; o.act != pl.def {
						warns = append(warns, fmt.Sprintf("%s: conditional rule for %q has the default action, which libseccomp cannot express next to syscalls[%d]; it is ignored", r.path(), n, o.index))
						break
					}
				}
			}
		}
	}
	return warns
}

// socketCalls are the calls i386 also reaches through socketcall(2), whose
// arguments sit behind a pointer that BPF cannot read.
var socketCalls = map[string]bool{
	"socket": true, "socketpair": true, "bind": true, "connect": true, "listen": true, "accept": true,
	"accept4": true, "getsockname": true, "getpeername": true, "send": true, "sendto": true, "recv": true,
	"recvfrom": true, "shutdown": true, "setsockopt": true, "getsockopt": true, "sendmsg": true,
	"recvmsg": true, "sendmmsg": true, "recvmmsg": true,
}

// socketcallWarnings flags argument checks on socket calls when the i386
// ABI is allowed: libseccomp also allows socketcall(SYS_SOCKET…) for them,
// and there the arguments cannot be checked (moby's AF_ALG bypass).
func socketcallWarnings(pl *plan) []string {
	if !slices.Contains(pl.arches, specs.ArchX86) {
		return nil
	}
	var warns []string
	for _, r := range pl.rules {
		if len(r.conds) == 0 {
			continue
		}
		for _, n := range r.names {
			if socketCalls[n] {
				warns = append(warns, fmt.Sprintf("%s: argument checks on %q do not apply to i386 socketcall(2), whose arguments BPF cannot read; deny socketcall to close the gap", r.path(), n))
			}
		}
	}
	return warns
}
