//go:build linux

package spawn

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// sigchldInfo is the head of siginfo_t as waitid(2) fills it for a child:
// unix.Siginfo hides the fields past si_code.
type sigchldInfo struct {
	signo, errno, code, _ int32
	pid                   int32
	uid                   uint32
	status                int32
	_                     [100]byte
}

// waitPidfd calls waitid(P_PIDFD, fd, options) and fills st when the child
// has exited. It reports false when WNOHANG found nothing yet.
func waitPidfd(fd int, options int, st *State) (bool, error) {
	var info sigchldInfo
	for {
		_, _, e := unix.Syscall6(unix.SYS_WAITID, unix.P_PIDFD, uintptr(fd), uintptr(unsafe.Pointer(&info)),
			uintptr(options), uintptr(unsafe.Pointer(&st.Rusage)), 0)
		if e == unix.EINTR {
			continue
		}
		if e == unix.EAGAIN {
			return false, nil
		}
		if e != 0 {
			return false, e
		}
		break
	}
	if info.pid == 0 {
		return false, nil
	}
	switch info.code {
	case cldExited:
		st.Status = unix.WaitStatus(info.status&0xff) << 8
	case cldKilled:
		st.Status = unix.WaitStatus(info.status & 0x7f)
	case cldDumped:
		st.Status = unix.WaitStatus(info.status&0x7f) | 0x80
	}
	return true, nil
}

// si_code values for SIGCHLD (include/uapi/asm-generic/siginfo.h).
const (
	cldExited = 1
	cldKilled = 2
	cldDumped = 3
)
