package main

import (
	"fmt"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The syscall command tries one named operation and prints "ok" or the
// errno: the negative side of isolation tests.
func init() {
	commands["syscall"] = func(a []string) error {
		if len(a) == 0 {
			return fmt.Errorf("syscall NAME ARG…")
		}
		report(trySyscall(a[0], a[1:]))
		return nil
	}
}

func num(a []string, i int) uintptr {
	if i >= len(a) {
		return 0
	}
	v, _ := strconv.ParseUint(a[i], 0, 64)
	return uintptr(v)
}

func trySyscall(name string, a []string) error {
	switch name {
	case "mount-tmpfs": // mount-tmpfs TARGET
		return unix.Mount("none", arg(a, 0, "/tmp"), "tmpfs", 0, "")
	case "remount-ro": // remount-ro TARGET
		return unix.Mount("", arg(a, 0, "/"), "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, "")
	case "remount-rw":
		return unix.Mount("", arg(a, 0, "/"), "", unix.MS_REMOUNT|unix.MS_BIND, "")
	case "umount":
		return unix.Unmount(arg(a, 0, "/"), unix.MNT_DETACH)
	case "unshare": // unshare FLAGS
		return unix.Unshare(int(num(a, 0)))
	case "setuid":
		return unix.Setresuid(int(num(a, 0)), int(num(a, 0)), int(num(a, 0)))
	case "chroot":
		return unix.Chroot(arg(a, 0, "/"))
	case "ptrace-attach":
		pid, _ := strconv.Atoi(arg(a, 0, "1"))
		return unix.PtraceAttach(pid)
	case "kill":
		pid, _ := strconv.Atoi(arg(a, 0, "1"))
		return unix.Kill(pid, syscall.Signal(num(a, 1)))
	case "open": // open PATH FLAGS: only whether open(2) succeeds
		fd, err := unix.Open(arg(a, 0, "/"), int(num(a, 1))|unix.O_CLOEXEC, 0)
		if err == nil {
			unix.Close(fd)
		}
		return err
	case "sethostname":
		return unix.Sethostname([]byte(arg(a, 0, "x")))
	case "raw": // raw NR A1…A6: any syscall with integer arguments
		_, _, e := unix.RawSyscall6(num(a, 0), num(a, 1), num(a, 2), num(a, 3), num(a, 4), num(a, 5), num(a, 6))
		if e != 0 {
			return e
		}
		return nil
	case "ioctl": // ioctl FD REQ ARG (ARG as a pointer to a byte when "ptr")
		var b byte = 'x'
		p := num(a, 2)
		if arg(a, 2, "") == "ptr" {
			p = uintptr(unsafe.Pointer(&b))
		}
		_, _, e := unix.Syscall(unix.SYS_IOCTL, num(a, 0), num(a, 1), p)
		if e != 0 {
			return e
		}
		return nil
	}
	return fmt.Errorf("unknown syscall name %q", name)
}
