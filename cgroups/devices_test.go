package cgroups

import (
	"encoding/hex"
	"strings"
	"testing"
)

// runDeviceProgram interprets the few eBPF instructions deviceProgram
// emits, as the kernel would run them on struct bpf_cgroup_dev_ctx.
func runDeviceProgram(t *testing.T, p []bpfInsn, typ, access, major, minor uint32) int64 {
	t.Helper()
	ctx := [3]uint32{access<<16 | typ, major, minor}
	var reg [11]uint64
	for pc, steps := 0, 0; ; pc, steps = pc+1, steps+1 {
		if pc >= len(p) || steps > len(p) {
			t.Fatalf("the program runs off its end or loops at %d", pc)
		}
		in := p[pc]
		switch in.code {
		case opLdxW:
			if in.src != rCtx || in.off%4 != 0 || in.off < 0 || in.off > 8 {
				t.Fatalf("insn %d: load outside the context", pc)
			}
			reg[in.dst] = uint64(ctx[in.off/4])
		case opMovReg:
			reg[in.dst] = reg[in.src]
		case opMovImm:
			reg[in.dst] = uint64(int64(in.imm))
		case opMov32Reg:
			reg[in.dst] = uint64(uint32(reg[in.src]))
		case opXor32Imm:
			reg[in.dst] = uint64(uint32(reg[in.dst]) ^ uint32(in.imm))
		case opOrReg:
			reg[in.dst] |= reg[in.src]
		case opAddImm:
			reg[in.dst] += uint64(int64(in.imm))
		case opAndImm:
			reg[in.dst] &= uint64(int64(in.imm))
		case opRshImm:
			reg[in.dst] >>= uint(in.imm)
		case opJneImm:
			if reg[in.dst] != uint64(int64(in.imm)) {
				pc += int(in.off)
			}
		case opExit:
			return int64(reg[rRet])
		default:
			t.Fatalf("insn %d: opcode %#x", pc, in.code)
		}
	}
}

// allowedByRules is the reference: the last rule that matches decides;
// none matching allows.
func allowedByRules(rules []DeviceRule, typ byte, access int32, major, minor int64) bool {
	for i := len(rules) - 1; i >= 0; i-- {
		r := rules[i]
		if r.Type != 'a' && r.Type != typ || r.Major != AnyDevice && r.Major != major || r.Minor != AnyDevice && r.Minor != minor {
			continue
		}
		acc := accessBits(r.Access)
		if r.Allow && access&^acc == 0 || !r.Allow && access&acc != 0 {
			return r.Allow
		}
	}
	return true
}

// TestDeviceProgram runs the compiled program of several rule lists on
// every kind of request and compares it with the rules' meaning.
func TestDeviceProgram(t *testing.T) {
	lists := [][]DeviceRule{
		nil,
		{{false, 'a', AnyDevice, AnyDevice, "rwm"}},
		{{true, 'a', AnyDevice, AnyDevice, "rwm"}},
		{{false, 'a', AnyDevice, AnyDevice, "rwm"}, {true, 'c', 1, 3, "rwm"}, {true, 'c', 136, AnyDevice, "rw"}, {true, 'b', 8, 0, "r"}},
		{{false, 'c', 10, 229, "w"}},
		{{false, 'a', AnyDevice, AnyDevice, "rwm"}, {true, 'c', AnyDevice, AnyDevice, "m"}, {false, 'c', 1, AnyDevice, "m"}, {true, 'c', 1, 5, "rw"}},
		{{true, 'c', 1, 3, "r"}, {false, 'a', AnyDevice, AnyDevice, "rwm"}, {true, 'c', 1, 3, "rw"}},
		{{false, 'c', 4294967295, 4294967294, "rwm"}},
	}
	for _, rules := range lists {
		p := deviceProgram(rules)
		for _, typ := range []byte{'c', 'b'} {
			bpfType := uint32(devcgDevChar)
			if typ == 'b' {
				bpfType = devcgDevBlock
			}
			for access := int32(1); access <= devcgAccAll; access++ {
				for _, major := range []int64{1, 8, 10, 136, 4294967295} {
					for _, minor := range []int64{0, 3, 5, 229, 4294967294} {
						want := allowedByRules(rules, typ, access, major, minor)
						got := runDeviceProgram(t, p, bpfType, uint32(access), uint32(major), uint32(minor))
						if got != 0 != want {
							t.Fatalf("rules %v: %c %d:%d access %03b: program says %d, rules say %v", rules, typ, major, minor, access, got, want)
						}
					}
				}
			}
		}
	}
}

func TestDeviceRuleValidate(t *testing.T) {
	for _, c := range []struct {
		rule DeviceRule
		want string
	}{
		{DeviceRule{false, 'a', AnyDevice, AnyDevice, "rwm"}, ""},
		{DeviceRule{true, 'c', 1, 3, "rw"}, ""},
		{DeviceRule{true, 'a', 1, AnyDevice, "rwm"}, "covers every number"},
		{DeviceRule{true, 'a', AnyDevice, AnyDevice, "r"}, "covers every number"},
		{DeviceRule{true, 'x', 1, 3, "r"}, "want a, b or c"},
		{DeviceRule{true, 'c', -2, 3, "r"}, "out of range"},
		{DeviceRule{true, 'c', 1, 1 << 32, "r"}, "out of range"},
		{DeviceRule{true, 'c', 1, 3, ""}, "access"},
		{DeviceRule{true, 'c', 1, 3, "rx"}, "access"},
		{DeviceRule{true, 'c', 1, 3, "rr"}, "access"},
	} {
		err := c.rule.validate()
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%v: %v, want %q", c.rule, err, c.want)
		}
	}
}

// TestDeviceProgramEncoding pins the bytes of one small program, written
// out by hand from the eBPF instruction set (linux/bpf_common.h, bpf.h),
// so that a wrong opcode constant cannot pass with the interpreter above,
// which shares them.
func TestDeviceProgramEncoding(t *testing.T) {
	got := hex.EncodeToString(encode(deviceProgram([]DeviceRule{{false, 'c', 1, 3, "w"}})))
	want := "" +
		"6112000000000000" + // r2 = *(u32 *)(r1 + 0): access_type
		"bf23000000000000" + // r3 = r2
		"57030000ffff0000" + // r3 &= 0xffff: the device type
		"7702000010000000" + // r2 >>= 16: the access
		"6114040000000000" + // r4 = *(u32 *)(r1 + 4): major
		"6115080000000000" + // r5 = *(u32 *)(r1 + 8): minor
		"b706000000000000" + // r6 = 0: no mismatch yet
		"bc37000000000000" + // w7 = w3
		"a407000002000000" + // w7 ^= 2 (char)
		"4f76000000000000" + // r6 |= r7
		"bf27000000000000" + // r7 = r2
		"5707000004000000" + // r7 &= 4 (write)
		"07070000ffffffff" + // r7 += -1
		"770700003f000000" + // r7 >>= 63: 1 when no write was asked for
		"4f76000000000000" + // r6 |= r7
		"bc47000000000000" + // w7 = w4
		"a407000001000000" + // w7 ^= 1 (major)
		"4f76000000000000" + // r6 |= r7
		"bc57000000000000" + // w7 = w5
		"a407000003000000" + // w7 ^= 3 (minor)
		"4f76000000000000" + // r6 |= r7
		"5506020000000000" + // if r6 != 0 goto +2
		"b700000000000000" + // r0 = 0: deny
		"9500000000000000" + // exit
		"b700000001000000" + // r0 = 1: no rule matched
		"9500000000000000" //   exit
	if got != want {
		t.Errorf("encoding:\n got %s\nwant %s", got, want)
	}
}
