//go:build linux

package spawn

import (
	"sync/atomic"
	"time"
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
		var e unix.Errno
		if options&unix.WNOHANG != 0 {
			_, _, e = unix.RawSyscall6(unix.SYS_WAITID, unix.P_PIDFD, uintptr(fd), uintptr(unsafe.Pointer(&info)),
				uintptr(options), uintptr(unsafe.Pointer(&st.Rusage)), 0)
		} else {
			_, _, e = unix.Syscall6(unix.SYS_WAITID, unix.P_PIDFD, uintptr(fd), uintptr(unsafe.Pointer(&info)),
				uintptr(options), uintptr(unsafe.Pointer(&st.Rusage)), 0)
		}
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

// futexWait is FUTEX_WAIT, shared (see waitCleared).
const futexWait = 0

// holdBound bounds the part of waitCleared that keeps the P.
var holdBound = unix.Timespec{Nsec: 10e6}

// clearedPoll bounds each futex sleep of waitCleared on kernels that may
// never wake it (see waitCleared). Read-only; globals so that the kernel's
// pointers to them need no allocation.
var clearedPoll = unix.Timespec{Nsec: 100e6}

// waitCleared sleeps on the CLONE_CHILD_CLEARTID word *w until the kernel
// zeroes it: the child exec'd or exited. The sleep is a futex wait, so the
// kernel runs the child at once, as it runs a vfork child.
//
// With hold, the first holdBound of the sleep is a raw system call that
// keeps this goroutine's P, as os/exec's vfork keeps it until the child
// execs: a system call through the scheduler would wake the runtime's
// monitor thread, which retakes the P and starts another thread to run it
// — several µs of CPU per spawn, more than the child needs to reach exec.
// After holdBound, or without hold, the sleep goes through the scheduler
// and the P serves other goroutines.
//
// The kernel wakes the word without FUTEX_PRIVATE_FLAG, so the wait uses a
// shared key too. Kernels before 5.17 leave the word alone when the child
// dies dumping core; there the sleep wakes every clearedPoll to look at
// the child.
func waitCleared(w *uint32, pid int, hold bool) {
	if hold {
		tp := uintptr(unsafe.Pointer(&holdBound))
		for atomic.LoadUint32(w) != 0 {
			_, _, e := unix.RawSyscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(w)), futexWait, 1, tp, 0, 0)
			if e == unix.ETIMEDOUT {
				break
			}
		}
	}
	var tp uintptr
	if clearMayFail() {
		tp = uintptr(unsafe.Pointer(&clearedPoll))
	}
	for atomic.LoadUint32(w) != 0 {
		_, _, e := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(w)), futexWait, 1, tp, 0, 0)
		if e == unix.ETIMEDOUT && atomic.LoadUint32(w) != 0 {
			// The child is this process's and unreaped: its pid is its own.
			var info sigchldInfo
			_, _, e := unix.RawSyscall6(unix.SYS_WAITID, unix.P_PID, uintptr(pid), uintptr(unsafe.Pointer(&info)),
				unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, 0, 0)
			if e != 0 || info.pid != 0 {
				return
			}
		}
	}
}

// pollHeld waits until fd is readable with a raw ppoll that keeps this
// goroutine's P, for at most *left in all, and charges the time spent to
// *left; it reports whether fd became readable. It is the status pipe's
// counterpart of waitCleared's held sleep: a read(2) through the scheduler
// lets the monitor thread retake the P every 20 µs and start another
// thread, which on a busy or pinned CPU competes with the child's setup.
func pollHeld(fd int, left *time.Duration) bool {
	for *left > 0 {
		start := time.Now()
		ts := unix.NsecToTimespec(int64(*left))
		pfd := unix.PollFd{Fd: int32(fd), Events: unix.POLLIN}
		n, _, e := unix.RawSyscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&pfd)), 1, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
		*left -= time.Since(start)
		if e == 0 && n > 0 {
			return true
		}
		if e != 0 && e != unix.EINTR {
			return false
		}
	}
	return false
}

// epollCtl is epoll_ctl(2) without entering the scheduler: it never blocks.
func epollCtl(epfd, op, fd int, ev *unix.EpollEvent) error {
	_, _, e := unix.RawSyscall6(unix.SYS_EPOLL_CTL, uintptr(epfd), uintptr(op), uintptr(fd), uintptr(unsafe.Pointer(ev)), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// epollPoll is epoll_pwait(2) with a zero timeout: it collects what is
// ready and never blocks.
func epollPoll(epfd int, evs []unix.EpollEvent) (int, error) {
	n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&evs[0])), uintptr(len(evs)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// closeFd closes a descriptor that cannot block on close (a pidfd, a
// pipe): a raw system call, which skips the scheduler's syscall
// bookkeeping and does not wake its monitor thread.
func closeFd(fd int) error {
	_, _, e := unix.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// waitPid reaps pid, this process's child, blocking: for a child that has
// no pidfd (see arena.childPidfd) and was killed.
func waitPid(pid int, st *State) error {
	var info sigchldInfo
	for {
		_, _, e := unix.Syscall6(unix.SYS_WAITID, unix.P_PID, uintptr(pid), uintptr(unsafe.Pointer(&info)),
			unix.WEXITED, uintptr(unsafe.Pointer(&st.Rusage)), 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return e
		}
		return nil
	}
}

// killTreeSignal and killTreeValue make the request KillTree sends to a
// pid-1 reaper: the signal with si_code SI_QUEUE and this si_int. Anyone
// may send it (a process inside the sandbox could too), but it only ends
// the sandbox's own tree, which its processes can do anyway.
const (
	killTreeSignal = 64 // SIGRTMAX
	killTreeValue  = 0x74626b73
	siQueue        = -1
)

// sendKillTree sends the kill-tree request through pidfd.
func sendKillTree(pidfd int) error {
	// siginfo_t: signo, errno, code, then for SI_QUEUE pid, uid and the
	// sigval at byte 24.
	var info [128]byte
	*(*int32)(unsafe.Pointer(&info[0])) = killTreeSignal
	*(*int32)(unsafe.Pointer(&info[8])) = siQueue
	*(*int32)(unsafe.Pointer(&info[16])) = int32(unix.Getpid())
	*(*uint32)(unsafe.Pointer(&info[20])) = uint32(unix.Getuid())
	*(*int32)(unsafe.Pointer(&info[24])) = killTreeValue
	_, _, e := unix.Syscall6(unix.SYS_PIDFD_SEND_SIGNAL, uintptr(pidfd), killTreeSignal, uintptr(unsafe.Pointer(&info[0])), 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}
