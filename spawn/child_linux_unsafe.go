//go:build linux

package spawn

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// This file holds the only code that runs between clone3 and execve.
//
// The child shares the parent's address space (CLONE_VM) but not its
// thread: it runs on an arena stack with g = nil and a zeroed fake TLS, with
// all signals blocked. So the code below must not:
//   - grow the stack, allocate, or touch the runtime (//go:nosplit, and a
//     test disassembles childMain and fails on any call but the stubs);
//   - be instrumented (//go:norace //go:nocheckptr);
//   - bounds-check, panic, defer, call through interfaces or closures;
//   - read or write Go memory: only the arena, reached through h.
// Every failure goes through the one fail label: a {step, errno} record in
// the arena's header, then exit_group(125).

// Kernel constants the interpreter needs, typed for the raw calls.
const (
	childExitFailed = 125
	wall            = 0x40000000 // __WALL
)

// groupSignals are the signals a pid-1 reaper passes on to the command's
// process group rather than to the command alone: those a terminal sends
// to its foreground group (bit n-1 for signal n).
const groupSignals = 1<<(unix.SIGINT-1) | 1<<(unix.SIGQUIT-1) | 1<<(unix.SIGHUP-1) |
	1<<(unix.SIGTSTP-1) | 1<<(unix.SIGCONT-1) | 1<<(unix.SIGWINCH-1)

// childMain interprets the loaded program. Entered from the trampoline
// (and, for the command under a pid-1 reaper, from rawClone) at its
// ABIInternal entry with h in the first argument register.
//
//go:nosplit
//go:norace
//go:nocheckptr
func childMain(h *header) {
	var (
		pc, n, i uint64
		s        *Step
		t        *[4]int32
		c        *[2]uint32
		a0, a1   uintptr
		a2, a3   uintptr
		a4, a5   uintptr
		r1, e    uintptr
		aux      uint64
	)
	n = h.nsteps
	pc = h.startPc
	if pc == 0 && h.pidfdState == 1 {
		// Still on the parent's descriptor table: open our pidfd there,
		// and add it to the parent's exit set (see header). A failure
		// only costs the parent the calls.
		h.pidfdState = 2
		r1 = uintptr(h.selfPid)
		if r1 == 0 {
			r1, _ = rawSyscall6(unix.SYS_GETPID, 0, 0, 0, 0, 0, 0)
		}
		r1, e = rawSyscall6(unix.SYS_PIDFD_OPEN, r1, 0, 0, 0, 0, 0)
		if e == 0 {
			h.pidfd = int32(r1)
		} else {
			h.pidfdErr = uint32(e)
		}
		h.pidfdState = 3
		if e == 0 && h.watchEpfd != 0 {
			_, e = rawSyscall6(unix.SYS_EPOLL_CTL, uintptr(h.watchEpfd-1), unix.EPOLL_CTL_ADD, uintptr(h.pidfd),
				uintptr(unsafe.Pointer(&h.watchEv)), 0, 0)
			h.watchErr = uint32(e)
			h.watchDone = 1
		}
	}
	for pc < n {
		s = (*Step)(unsafe.Add(unsafe.Pointer(h), h.stepsRel+pc*uint64(unsafe.Sizeof(Step{}))))
		a0, a1, a2 = uintptr(s.Args[0]), uintptr(s.Args[1]), uintptr(s.Args[2])
		a3, a4, a5 = uintptr(s.Args[3]), uintptr(s.Args[4]), uintptr(s.Args[5])
		if s.Flags&flagArgRegMask != 0 {
			if s.Flags&1 != 0 {
				a0 = uintptr(h.regs[s.Args[0]&(NumRegs-1)])
			}
			if s.Flags&2 != 0 {
				a1 = uintptr(h.regs[s.Args[1]&(NumRegs-1)])
			}
			if s.Flags&4 != 0 {
				a2 = uintptr(h.regs[s.Args[2]&(NumRegs-1)])
			}
			if s.Flags&8 != 0 {
				a3 = uintptr(h.regs[s.Args[3]&(NumRegs-1)])
			}
			if s.Flags&16 != 0 {
				a4 = uintptr(h.regs[s.Args[4]&(NumRegs-1)])
			}
			if s.Flags&32 != 0 {
				a5 = uintptr(h.regs[s.Args[5]&(NumRegs-1)])
			}
		}
		r1, e, aux = 0, 0, 0

		switch s.Nr {
		case OpCloseFds:
			for i = 0; i < h.nclose; i++ {
				c = (*[2]uint32)(unsafe.Add(unsafe.Pointer(h), h.closeRel+8*i))
				a2 = 0
				if i == 0 {
					a2 = uintptr(h.closeFlags)
				}
				_, e = rawSyscall6(unix.SYS_CLOSE_RANGE, uintptr(c[0]), uintptr(c[1]), a2, 0, 0, 0)
				if e != 0 {
					aux = i
					goto fail
				}
			}
		case OpDupFds:
			for i = 0; i < h.ndup; i++ {
				t = (*[4]int32)(unsafe.Add(unsafe.Pointer(h), h.dupRel+16*i))
				switch t[0] {
				case dupOpDup:
					_, e = rawSyscall6(unix.SYS_DUP3, uintptr(t[1]), uintptr(t[2]), uintptr(t[3]), 0, 0, 0)
				case dupOpSetFd:
					_, e = rawSyscall6(unix.SYS_FCNTL, uintptr(t[1]), unix.F_SETFD, uintptr(t[3]), 0, 0, 0)
				case dupOpClose:
					_, e = rawSyscall6(unix.SYS_CLOSE, uintptr(t[1]), 0, 0, 0, 0, 0)
					if e == uintptr(unix.EBADF) {
						e = 0
					}
				case dupOpCloseFrom:
					_, e = rawSyscall6(unix.SYS_CLOSE_RANGE, uintptr(t[1]), ^uintptr(0)>>32, 0, 0, 0, 0)
				}
				if e != 0 {
					aux = i
					goto fail
				}
			}
			h.statusFd = h.statusSlot
		case OpSync:
			h.rec[0], h.rec[1], h.rec[2], h.rec[3] = recSync, uint32(pc), uint32(a1), uint32(a0)
			r1, e = rawSyscall6(unix.SYS_WRITE, uintptr(h.statusFd), uintptr(unsafe.Pointer(&h.rec)), recSize, 0, 0, 0)
			if e == 0 && r1 != recSize {
				e = uintptr(unix.EIO)
			}
			if e != 0 {
				goto fail
			}
			h.buf[0] = 0xff
			r1, e = rawSyscall6(unix.SYS_READ, uintptr(h.syncSlot), uintptr(unsafe.Pointer(&h.buf)), 1, 0, 0, 0)
			if e == 0 && r1 != 1 {
				e = uintptr(unix.EPIPE) // the parent gave up
			}
			if e == 0 && h.buf[0] != 0 {
				e = uintptr(unix.ECANCELED)
			}
			r1 = 0
		case OpMarkExec:
			h.execMark = 1
		case OpStore:
			// Args[0] was relocated to an absolute address of the data,
			// which lies above the header: address it from h.
			at := unsafe.Add(unsafe.Pointer(h), uintptr(s.Args[0])-uintptr(unsafe.Pointer(h)))
			if s.Args[2] == 8 {
				*(*uint64)(at) = h.regs[s.Args[1]&(NumRegs-1)]
			} else {
				*(*uint32)(at) = uint32(h.regs[s.Args[1]&(NumRegs-1)])
			}
		case OpReaper:
			// Become pid 1's reaper: a signalfd for every signal (all are
			// blocked already), then the command as our CLONE_VM child on
			// the second stack, continuing at the next step.
			r1, e = rawSyscall6(unix.SYS_SIGNALFD4, ^uintptr(0), uintptr(unsafe.Pointer(&h.allMask)), 8, unix.SFD_CLOEXEC, 0, 0)
			if e != 0 {
				goto fail
			}
			a5 = r1 // the signalfd, in a local: the command reuses the registers
			h.startPc = pc + 1
			r1, e = rawClone(unix.CLONE_VM|uintptr(unix.SIGCHLD), uintptr(unsafe.Add(unsafe.Pointer(h), stack2Top-stackReserve-headerOff)), uintptr(h.entry), uintptr(unsafe.Pointer(h)))
			if e != 0 {
				goto fail
			}
			h.reapPid = uint64(r1)
			// The command has its own copies of every descriptor: keep
			// none but the signalfd. Holding the status pipe would delay
			// the EOF that tells the parent the command exec'd; holding
			// its stdio, a reader's EOF when the command closes its
			// output, or a writer's EPIPE when it closes its input.
			if a5 > 0 {
				rawSyscall6(unix.SYS_CLOSE_RANGE, 0, a5-1, 0, 0, 0, 0)
			}
			rawSyscall6(unix.SYS_CLOSE_RANGE, a5+1, ^uintptr(0), 0, 0, 0, 0)
			for {
				r1, e = rawSyscall6(unix.SYS_READ, a5, uintptr(unsafe.Pointer(&h.reapBuf)), unsafe.Sizeof(h.reapBuf), 0, 0, 0)
				if e != 0 && e != uintptr(unix.EINTR) {
					rawSyscall6(unix.SYS_EXIT_GROUP, childExitFailed, 0, 0, 0, 0, 0)
				}
				if e != 0 {
					continue
				}
				// ssi_signo is the first field of struct signalfd_siginfo.
				if sig := uintptr(uint32(h.reapBuf[0])); sig != uintptr(unix.SIGCHLD) {
					// KillTree's request (ssi_code, ssi_int): SIGKILL for
					// the whole namespace but this process, which then
					// reaps it below and so counts its CPU time.
					if sig == killTreeSignal && int32(uint32(h.reapBuf[1])) == siQueue &&
						int32(uint32(h.reapBuf[5]>>32)) == killTreeValue && h.reapOwnNS == 1 {
						rawSyscall6(unix.SYS_KILL, ^uintptr(0), uintptr(unix.SIGKILL), 0, 0, 0, 0)
						continue
					}
					// A terminal's signals go to the command's process
					// group, as a terminal sends them to its foreground
					// group (a command in its own session leads a group
					// whose id is its pid; before its setsid, or without
					// one, there is no such group: ESRCH); the others to
					// the command alone. The command's group is orphaned
					// (its parent, this reaper, is in another session), so
					// the kernel discards a SIGTSTP sent to it: a stop is
					// passed on as SIGSTOP.
					e = 1
					if groupSignals>>((sig-1)&63)&1 != 0 {
						if sig == uintptr(unix.SIGTSTP) {
							sig = uintptr(unix.SIGSTOP)
						}
						_, e = rawSyscall6(unix.SYS_KILL, -uintptr(h.reapPid), sig, 0, 0, 0, 0)
					}
					if e != 0 {
						rawSyscall6(unix.SYS_KILL, uintptr(h.reapPid), sig, 0, 0, 0, 0)
					}
					continue
				}
				for {
					r1, e = rawSyscall6(unix.SYS_WAIT4, ^uintptr(0), uintptr(unsafe.Pointer(&h.reapTmp)), unix.WNOHANG|wall, 0, 0, 0)
					if e != 0 || r1 == 0 {
						break
					}
					if uint64(r1) == h.reapPid {
						h.reapStatus = h.reapTmp
						h.reapDone = 1
					}
				}
				if h.reapDone == 1 {
					// The command is gone: end what it left behind in
					// this namespace and reap it, so that its CPU time
					// counts (the kernel's own end of a namespace drops
					// it).
					if h.reapOwnNS == 1 {
						rawSyscall6(unix.SYS_KILL, ^uintptr(0), uintptr(unix.SIGKILL), 0, 0, 0, 0)
						for {
							_, e = rawSyscall6(unix.SYS_WAIT4, ^uintptr(0), uintptr(unsafe.Pointer(&h.reapTmp)), wall, 0, 0, 0)
							if e != uintptr(unix.EINTR) && e != 0 {
								break
							}
						}
					}
					// Exit as the command did. A signal cannot be re-raised
					// by pid 1, so the parent reads reapStatus for the truth.
					if h.reapStatus&0x7f == 0 {
						rawSyscall6(unix.SYS_EXIT_GROUP, uintptr(h.reapStatus>>8&0xff), 0, 0, 0, 0, 0)
					}
					rawSyscall6(unix.SYS_EXIT_GROUP, uintptr(128+h.reapStatus&0x7f), 0, 0, 0, 0, 0)
				}
			}
		default:
			r1, e = rawSyscall6(uintptr(s.Nr), a0, a1, a2, a3, a4, a5)
		}

		if e == 0 && s.Flags&FlagCheck != 0 && uint64(r1) != s.Args[5] {
			e = uintptr(s.CheckErrno)
			if e == 0 {
				e = uintptr(unix.EIO)
			}
		}
		if e == 0 {
			if s.Flags&FlagSave != 0 {
				h.regs[s.Dst&(NumRegs-1)] = uint64(r1)
			}
			pc += 1 + uint64(s.Jt)
			continue
		}
		if e == uintptr(s.Errnos[0]) || e == uintptr(s.Errnos[1]) {
			pc += 1 + uint64(s.Jf)
			continue
		}
		goto fail
	}
	// Unreachable for a verified program: the last step is an exec, which
	// either succeeds or fails.
	e = uintptr(unix.ENOEXEC)

fail:
	// The parent reads the record once the child is gone from the arena:
	// the kernel clears ctid, or closes the status pipe, only at exit.
	h.fail[1], h.fail[2], h.fail[3] = uint32(pc), uint32(e), uint32(aux)
	h.fail[0] = recFail
	rawSyscall6(unix.SYS_EXIT_GROUP, childExitFailed, 0, 0, 0, 0, 0)
}
