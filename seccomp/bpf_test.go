//go:build linux

package seccomp

import (
	"encoding/binary"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// A classic-BPF interpreter for seccomp filters, the way the kernel runs
// them: 32-bit loads from struct seccomp_data in native byte order (the
// golang.org/x/net/bpf VM loads big-endian), 16 scratch words, every
// opcode seccomp_check_filter accepts. It counts executed instructions.

// seccompData is struct seccomp_data.
type seccompData struct {
	Nr   int32
	Arch uint32
	IP   uint64
	Args [6]uint64
}

func (d *seccompData) bytes() []byte {
	b := make([]byte, 64)
	binary.NativeEndian.PutUint32(b[0:], uint32(d.Nr))
	binary.NativeEndian.PutUint32(b[4:], d.Arch)
	binary.NativeEndian.PutUint64(b[8:], d.IP)
	for i, a := range d.Args {
		binary.NativeEndian.PutUint64(b[16+8*i:], a)
	}
	return b
}

// runBPF runs prog on d and returns the filter's return value and the
// number of instructions executed.
func runBPF(prog []unix.SockFilter, d *seccompData) (uint32, int, error) {
	data := d.bytes()
	var a, x uint32
	var mem [16]uint32
	steps := 0
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		steps++
		k := in.K
		switch in.Code {
		case 0x20: // ld w abs
			if k%4 != 0 || k+4 > uint32(len(data)) {
				return 0, steps, fmt.Errorf("pc %d: load at %d", pc, k)
			}
			a = binary.NativeEndian.Uint32(data[k:])
		case 0x80: // ld w len
			a = uint32(len(data))
		case 0x81: // ldx w len
			x = uint32(len(data))
		case 0x00: // ld imm
			a = k
		case 0x01: // ldx imm
			x = k
		case 0x60: // ld mem
			a = mem[k&15]
		case 0x61: // ldx mem
			x = mem[k&15]
		case 0x02: // st
			mem[k&15] = a
		case 0x03: // stx
			mem[k&15] = x
		case 0x06: // ret k
			return k, steps, nil
		case 0x16: // ret a
			return a, steps, nil
		case 0x07: // tax
			x = a
		case 0x87: // txa
			a = x
		case 0x05: // ja
			pc += int(k)
		default:
			class := in.Code & 0x07
			src := k
			if in.Code&0x08 != 0 {
				src = x
			}
			switch class {
			case 0x04: // alu
				switch in.Code & 0xf0 {
				case 0x00:
					a += src
				case 0x10:
					a -= src
				case 0x20:
					a *= src
				case 0x30:
					if src == 0 {
						return 0, steps, nil // the kernel returns 0: kill
					}
					a /= src
				case 0x40:
					a |= src
				case 0x50:
					a &= src
				case 0x60:
					a <<= src & 31
				case 0x70:
					a >>= src & 31
				case 0x80:
					a = -a
				case 0x90:
					if src == 0 {
						return 0, steps, nil
					}
					a %= src
				case 0xa0:
					a ^= src
				default:
					return 0, steps, fmt.Errorf("pc %d: bad alu op %#x", pc, in.Code)
				}
			case 0x05: // conditional jumps
				var t bool
				switch in.Code & 0xf0 {
				case 0x10:
					t = a == src
				case 0x20:
					t = a > src
				case 0x30:
					t = a >= src
				case 0x40:
					t = a&src != 0
				default:
					return 0, steps, fmt.Errorf("pc %d: bad jump %#x", pc, in.Code)
				}
				if t {
					pc += int(in.Jt)
				} else {
					pc += int(in.Jf)
				}
			default:
				return 0, steps, fmt.Errorf("pc %d: bad opcode %#x", pc, in.Code)
			}
		}
	}
	return 0, steps, fmt.Errorf("fell off the end")
}

// actionString names a filter return value: ALLOW, ERRNO(EPERM), KILL_PROCESS…
func actionString(ret uint32) string {
	data := ret & unix.SECCOMP_RET_DATA
	switch ret & unix.SECCOMP_RET_ACTION_FULL {
	case unix.SECCOMP_RET_KILL_PROCESS:
		return "KILL_PROCESS"
	case unix.SECCOMP_RET_KILL_THREAD:
		return "KILL_THREAD"
	case unix.SECCOMP_RET_TRAP:
		return "TRAP"
	case unix.SECCOMP_RET_ERRNO:
		if n := unix.ErrnoName(unix.Errno(data)); n != "" {
			return "ERRNO(" + n + ")"
		}
		return fmt.Sprintf("ERRNO(%d)", data)
	case unix.SECCOMP_RET_USER_NOTIF:
		return "NOTIFY"
	case unix.SECCOMP_RET_TRACE:
		return fmt.Sprintf("TRACE(%d)", data)
	case unix.SECCOMP_RET_LOG:
		return "LOG"
	case unix.SECCOMP_RET_ALLOW:
		return "ALLOW"
	}
	return fmt.Sprintf("UNKNOWN(%#x)", ret)
}

// disasm renders a program for failure messages.
func disasm(prog []unix.SockFilter) string {
	var sb strings.Builder
	for i, in := range prog {
		fmt.Fprintf(&sb, "%4d: code=%#04x jt=%d jf=%d k=%#x\n", i, in.Code, in.Jt, in.Jf, in.K)
	}
	return sb.String()
}
