package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The seccomp command makes one raw system call through a chosen ABI and
// prints its result, for filter tests:
//
//	checker seccomp call NR A1…A6    native syscall; NR may carry the x32 bit
//	checker seccomp int80 NR A1…A5   i386 ABI through int 0x80 (amd64 only)
//
// It prints "ret=N" (N in decimal) on success or the errno name, and exits
// 0. A filter that kills or traps ends the process instead.
func init() {
	commands["seccomp"] = func(a []string) error {
		if len(a) < 2 {
			return errors.New("seccomp call|int80 NR ARG…")
		}
		nr, err := parseNum(a[1])
		if err != nil {
			return err
		}
		var args [6]uintptr
		for i := range args {
			if 2+i < len(a) {
				v, err := parseNum(a[2+i])
				if err != nil {
					return err
				}
				args[i] = v
			}
		}
		var r uintptr
		var e syscall.Errno
		switch a[0] {
		case "call":
			r, _, e = unix.RawSyscall6(nr, args[0], args[1], args[2], args[3], args[4], args[5])
		case "int80":
			if runtime.GOARCH != "amd64" {
				return errors.New("int80 needs amd64")
			}
			r, e = int80(uint32(nr), args)
		default:
			return fmt.Errorf("unknown seccomp mode %q", a[0])
		}
		if e != 0 {
			report(e)
			return nil
		}
		fmt.Printf("ret=%d\n", int64(r))
		return nil
	}
}

// parseNum reads a number in any base strconv accepts; a leading minus is
// the two's complement ("-1" is all ones).
func parseNum(s string) (uintptr, error) {
	if v, err := strconv.ParseInt(s, 0, 64); err == nil {
		return uintptr(v), nil
	}
	v, err := strconv.ParseUint(s, 0, 64)
	if err != nil {
		return 0, fmt.Errorf("bad number %q", s)
	}
	return uintptr(v), nil
}

// int80 runs "int $0x80" with eax=nr and ebx, ecx, edx, esi, edi = args,
// from a small machine-code routine in an executable page: a 64-bit
// process enters the i386 syscall table this way (AUDIT_ARCH_I386 in
// seccomp_data). Go code cannot emit the instruction, and this program
// has no assembly files. The routine touches only rax, rbx, rcx, rdx, rsi
// and rdi, which Go's internal ABI lets a callee clobber, and leaves the
// result in the page.
func int80(nr uint32, args [6]uintptr) (uintptr, syscall.Errno) {
	mem, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE|unix.PROT_EXEC, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return 0, err.(syscall.Errno)
	}
	defer unix.Munmap(mem)
	const resultOff = 2048
	code := mem[:0]
	mov := func(op byte, v uint32) {
		code = append(code, op)
		code = binary.LittleEndian.AppendUint32(code, v)
	}
	mov(0xb8, nr)                   // mov eax, nr
	mov(0xbb, uint32(args[0]))      // mov ebx, a1
	mov(0xb9, uint32(args[1]))      // mov ecx, a2
	mov(0xba, uint32(args[2]))      // mov edx, a3
	mov(0xbe, uint32(args[3]))      // mov esi, a4
	mov(0xbf, uint32(args[4]))      // mov edi, a5
	code = append(code, 0xcd, 0x80) // int 0x80
	code = append(code, 0xa3)       // mov [moffs64], eax
	code = binary.LittleEndian.AppendUint64(code, uint64(uintptr(unsafe.Pointer(&mem[resultOff]))))
	code = append(code, 0xc3) // ret
	// A func value points at a word holding the code address.
	entry := uintptr(unsafe.Pointer(&mem[0]))
	fv := &entry
	fn := *(*func())(unsafe.Pointer(&fv))
	fn()
	r := int32(binary.LittleEndian.Uint32(mem[resultOff:]))
	if r < 0 && r > -4096 {
		return 0, syscall.Errno(-r)
	}
	return uintptr(uint32(r)), 0
}
