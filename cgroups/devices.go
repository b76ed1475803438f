package cgroups

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// DeviceRule is one rule of a device cgroup, as the OCI runtime-spec and
// cgroup v1's devices.allow/devices.deny state them: which nodes (Type 'a'
// for any, 'c' or 'b'; Major and Minor AnyDevice for any number) and which
// access (a subset of "rwm": read, write, mknod) it allows or denies.
type DeviceRule struct {
	Allow        bool
	Type         byte
	Major, Minor int64
	Access       string
}

// AnyDevice as DeviceRule.Major or Minor matches every number.
const AnyDevice = -1

// String renders the rule as cgroup v1 writes it, with its verdict:
// "deny a *:* rwm", "allow c 1:3 rw".
func (r DeviceRule) String() string {
	num := func(n int64) string {
		if n == AnyDevice {
			return "*"
		}
		return fmt.Sprint(n)
	}
	verdict := "deny"
	if r.Allow {
		verdict = "allow"
	}
	return fmt.Sprintf("%s %c %s:%s %s", verdict, r.Type, num(r.Major), num(r.Minor), r.Access)
}

func (r DeviceRule) validate() error {
	switch r.Type {
	case 'a':
		// cgroup v1 ignores the numbers and access of an 'a' rule: one that
		// names them would mean something else there.
		if r.Major != AnyDevice || r.Minor != AnyDevice || r.Access != "rwm" {
			return fmt.Errorf("%v: a rule for every device type covers every number and access (*:* rwm)", r)
		}
	case 'b', 'c':
	default:
		return fmt.Errorf("device rule type %q: want a, b or c", r.Type)
	}
	for _, n := range []int64{r.Major, r.Minor} {
		if n < AnyDevice || n > 1<<32-1 {
			return fmt.Errorf("%v: device number %d out of range", r, n)
		}
	}
	if r.Access == "" || strings.Trim(r.Access, "rwm") != "" || strings.Count(r.Access, "r") > 1 ||
		strings.Count(r.Access, "w") > 1 || strings.Count(r.Access, "m") > 1 {
		return fmt.Errorf("device rule access %q: want letters of rwm, each once", r.Access)
	}
	return nil
}

// The kernel's struct bpf_cgroup_dev_ctx: access_type holds the access in
// its upper 16 bits and the device type in the lower.
const (
	devcgDevBlock = 1 // BPF_DEVCG_DEV_BLOCK
	devcgDevChar  = 2 // BPF_DEVCG_DEV_CHAR
	devcgAccMknod = 1 // BPF_DEVCG_ACC_MKNOD
	devcgAccRead  = 2 // BPF_DEVCG_ACC_READ
	devcgAccWrite = 4 // BPF_DEVCG_ACC_WRITE
	devcgAccAll   = devcgAccMknod | devcgAccRead | devcgAccWrite
)

func accessBits(access string) int32 {
	var a int32
	for _, c := range access {
		switch c {
		case 'm':
			a |= devcgAccMknod
		case 'r':
			a |= devcgAccRead
		case 'w':
			a |= devcgAccWrite
		}
	}
	return a
}

// bpfInsn is one eBPF instruction (struct bpf_insn).
type bpfInsn struct {
	code     uint8
	dst, src uint8
	off      int16
	imm      int32
}

// eBPF opcodes the device program uses.
const (
	opLdxW   = 0x61 // BPF_LDX | BPF_MEM | BPF_W: dst = *(u32 *)(src + off)
	opMovReg = 0xbf // BPF_ALU64 | BPF_MOV | BPF_X
	opMovImm = 0xb7 // BPF_ALU64 | BPF_MOV | BPF_K
	opAndImm = 0x57 // BPF_ALU64 | BPF_AND | BPF_K
	opRshImm = 0x77 // BPF_ALU64 | BPF_RSH | BPF_K
	opJne32  = 0x56 // BPF_JMP32 | BPF_JNE | BPF_K
	opJeq32  = 0x16 // BPF_JMP32 | BPF_JEQ | BPF_K
	opExit   = 0x95 // BPF_JMP | BPF_EXIT
)

// Registers of the device program: r1 is the context on entry.
const (
	rRet, rCtx, rAccess, rType, rMajor, rMinor = 0, 1, 2, 3, 4, 5
)

// deviceProgram compiles rules into a BPF_PROG_TYPE_CGROUP_DEVICE program
// with cgroup v1's semantics: the last rule that matches a request
// decides, and a request no rule matches is allowed (as in a cgroup whose
// rules start empty). An allow rule matches when the request's access is
// all within the rule's; a deny rule when they share any bit. The program
// returns 1 to allow and 0 to deny.
func deviceProgram(rules []DeviceRule) []bpfInsn {
	p := []bpfInsn{
		{code: opLdxW, dst: rAccess, src: rCtx, off: 0},
		{code: opMovReg, dst: rType, src: rAccess},
		{code: opAndImm, dst: rType, imm: 0xffff},
		{code: opRshImm, dst: rAccess, imm: 16},
		{code: opLdxW, dst: rMajor, src: rCtx, off: 4},
		{code: opLdxW, dst: rMinor, src: rCtx, off: 8},
	}
	for i := len(rules) - 1; i >= 0; i-- {
		r := rules[i]
		// Tests that skip to the next rule; their offsets are set once the
		// block's length is known.
		var block []bpfInsn
		skip := func(in bpfInsn) { block = append(block, in) }
		switch r.Type {
		case 'c':
			skip(bpfInsn{code: opJne32, dst: rType, imm: devcgDevChar})
		case 'b':
			skip(bpfInsn{code: opJne32, dst: rType, imm: devcgDevBlock})
		}
		if acc := accessBits(r.Access); acc != devcgAccAll {
			block = append(block, bpfInsn{code: opMovReg, dst: rRet, src: rAccess})
			if r.Allow {
				// Any access outside the rule's: not this rule.
				block = append(block, bpfInsn{code: opAndImm, dst: rRet, imm: ^acc & devcgAccAll})
				skip(bpfInsn{code: opJne32, dst: rRet, imm: 0})
			} else {
				// No access the rule denies: not this rule.
				block = append(block, bpfInsn{code: opAndImm, dst: rRet, imm: acc})
				skip(bpfInsn{code: opJeq32, dst: rRet, imm: 0})
			}
		}
		if r.Major != AnyDevice {
			skip(bpfInsn{code: opJne32, dst: rMajor, imm: int32(uint32(r.Major))})
		}
		if r.Minor != AnyDevice {
			skip(bpfInsn{code: opJne32, dst: rMinor, imm: int32(uint32(r.Minor))})
		}
		verdict := int32(0)
		if r.Allow {
			verdict = 1
		}
		block = append(block, bpfInsn{code: opMovImm, dst: rRet, imm: verdict}, bpfInsn{code: opExit})
		tests := 0
		for j := range block {
			if c := block[j].code; c == opJne32 || c == opJeq32 {
				block[j].off = int16(len(block) - j - 1)
				tests++
			}
		}
		p = append(p, block...)
		if tests == 0 {
			// The rule matches every request: the rules before it, and
			// the default, are never reached (the verifier refuses
			// unreachable code).
			return p
		}
	}
	return append(p, bpfInsn{code: opMovImm, dst: rRet, imm: 1}, bpfInsn{code: opExit})
}

// encode lays the program out as the kernel reads it (struct bpf_insn,
// little-endian fields on the little-endian hosts this runs on).
func encode(p []bpfInsn) []byte {
	b := make([]byte, 0, 8*len(p))
	for _, in := range p {
		b = append(b, in.code, in.dst&0xf|in.src<<4)
		b = binary.LittleEndian.AppendUint16(b, uint16(in.off))
		b = binary.LittleEndian.AppendUint32(b, uint32(in.imm))
	}
	return b
}
