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

// MaxDeviceRules bounds Resources.Devices: the program of that many rules
// stays far below the kernel's limits on a program's size and on the
// verifier's work.
const MaxDeviceRules = 4096

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
	opLdxW     = 0x61 // BPF_LDX | BPF_MEM | BPF_W: dst = *(u32 *)(src + off)
	opMovReg   = 0xbf // BPF_ALU64 | BPF_MOV | BPF_X
	opMovImm   = 0xb7 // BPF_ALU64 | BPF_MOV | BPF_K
	opMov32Reg = 0xbc // BPF_ALU | BPF_MOV | BPF_X: 32 bits, zero-extended
	opXor32Imm = 0xa4 // BPF_ALU | BPF_XOR | BPF_K
	opOrReg    = 0x4f // BPF_ALU64 | BPF_OR | BPF_X
	opAddImm   = 0x07 // BPF_ALU64 | BPF_ADD | BPF_K
	opAndImm   = 0x57 // BPF_ALU64 | BPF_AND | BPF_K
	opRshImm   = 0x77 // BPF_ALU64 | BPF_RSH | BPF_K
	opJneImm   = 0x55 // BPF_JMP | BPF_JNE | BPF_K
	opExit     = 0x95 // BPF_JMP | BPF_EXIT
)

// Registers of the device program: r1 is the context on entry; r6 gathers
// a rule's mismatches, r7 computes each.
const (
	rRet, rCtx, rAccess, rType, rMajor, rMinor, rMiss, rTmp = 0, 1, 2, 3, 4, 5, 6, 7
)

// deviceProgram compiles rules into a BPF_PROG_TYPE_CGROUP_DEVICE program
// with cgroup v1's semantics: the last rule that matches a request
// decides, and a request no rule matches is allowed (as in a cgroup whose
// rules start empty). An allow rule matches when the request's access is
// all within the rule's; a deny rule when they share any bit. The program
// returns 1 to allow and 0 to deny.
//
// Each rule is one block with a single conditional jump: it loads the
// request afresh, ORs into r6 a non-zero value for each part that does
// not match (type, access, major, minor), and skips to the next block when
// r6 is not zero. One jump per block keeps the verifier's stack of
// pending branches at one entry, and the same register state at each
// block's entry lets it prune there: its work grows with the number of
// rules, not their square, and MaxDeviceRules load.
func deviceProgram(rules []DeviceRule) []bpfInsn {
	var p []bpfInsn
	for i := len(rules) - 1; i >= 0; i-- {
		r := rules[i]
		block := []bpfInsn{
			{code: opLdxW, dst: rAccess, src: rCtx, off: 0},
			{code: opMovReg, dst: rType, src: rAccess},
			{code: opAndImm, dst: rType, imm: 0xffff},
			{code: opRshImm, dst: rAccess, imm: 16},
			{code: opLdxW, dst: rMajor, src: rCtx, off: 4},
			{code: opLdxW, dst: rMinor, src: rCtx, off: 8},
			{code: opMovImm, dst: rMiss, imm: 0},
		}
		tests := 0
		// differs ORs (reg ^ v) into the mismatches: zero only when equal.
		differs := func(reg uint8, v uint32) {
			block = append(block,
				bpfInsn{code: opMov32Reg, dst: rTmp, src: reg},
				bpfInsn{code: opXor32Imm, dst: rTmp, imm: int32(v)},
				bpfInsn{code: opOrReg, dst: rMiss, src: rTmp})
			tests++
		}
		switch r.Type {
		case 'c':
			differs(rType, devcgDevChar)
		case 'b':
			differs(rType, devcgDevBlock)
		}
		if acc := accessBits(r.Access); acc != devcgAccAll {
			block = append(block, bpfInsn{code: opMovReg, dst: rTmp, src: rAccess})
			if r.Allow {
				// Any access outside the rule's is a mismatch.
				block = append(block, bpfInsn{code: opAndImm, dst: rTmp, imm: ^acc & devcgAccAll})
			} else {
				// No access the rule denies is a mismatch: (x-1)>>63 is 1
				// for x == 0 and 0 for x in 1..7.
				block = append(block,
					bpfInsn{code: opAndImm, dst: rTmp, imm: acc},
					bpfInsn{code: opAddImm, dst: rTmp, imm: -1},
					bpfInsn{code: opRshImm, dst: rTmp, imm: 63})
			}
			block = append(block, bpfInsn{code: opOrReg, dst: rMiss, src: rTmp})
			tests++
		}
		if r.Major != AnyDevice {
			differs(rMajor, uint32(r.Major))
		}
		if r.Minor != AnyDevice {
			differs(rMinor, uint32(r.Minor))
		}
		verdict := int32(0)
		if r.Allow {
			verdict = 1
		}
		if tests == 0 {
			// The rule matches every request: the rules before it, and
			// the default, are never reached (the verifier refuses
			// unreachable code).
			return append(p, bpfInsn{code: opMovImm, dst: rRet, imm: verdict}, bpfInsn{code: opExit})
		}
		block = append(block,
			bpfInsn{code: opJneImm, dst: rMiss, imm: 0, off: 2},
			bpfInsn{code: opMovImm, dst: rRet, imm: verdict},
			bpfInsn{code: opExit})
		p = append(p, block...)
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
