//go:build linux

package spawn

import (
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Arena layout. Every offset is fixed, so that programs can be verified
// against it in the parent and addressed relative to the header in the
// child.
//
//	0          guard page (PROT_NONE)
//	stack1Off  the child's stack, 16 KiB, growing down from stack1Top
//	stack1Top  guard page
//	stack2Off  the second stack (the command's, under a pid-1 reaper)
//	headerOff  header: fake TLS, clone_args, masks, registers, records
//	dataOff    the program's data, then its steps, then per-spawn tables
const (
	pageSize   = 4096
	stackSize  = 16 << 10
	stack1Off  = pageSize
	stack1Top  = stack1Off + stackSize
	stack2Off  = stack1Top + pageSize
	stack2Top  = stack2Off + stackSize
	headerOff  = stack2Top
	headerSize = pageSize
	dataOff    = headerOff + headerSize

	// stackReserve bytes stay free above the child's initial stack
	// pointer: ABIInternal functions spill register arguments into their
	// caller's frame, just above the return address.
	stackReserve = 64

	minArena   = 64 << 10
	maxPooled  = 4 << 20
	poolPerCls = 32
)

// cloneArgs is struct clone_args from include/uapi/linux/sched.h,
// CLONE_ARGS_SIZE_VER2 (Linux 5.7, which added the cgroup field).
type cloneArgs struct {
	flags      uint64
	pidfd      uint64
	childTid   uint64
	parentTid  uint64
	exitSignal uint64
	stack      uint64
	stackSize  uint64
	tls        uint64
	setTid     uint64
	setTidSize uint64
	cgroup     uint64
}

// header is the fixed part of an arena that the trampoline and the
// interpreter use. It holds no Go pointers: the child runs without a g, and
// a write barrier or a GC scan of child-written memory would corrupt the
// parent.
type header struct {
	// tls is the child's fake thread-local block. The thread pointer is
	// &tls[8], so Go's load of g from TLS (FS:-8 on amd64) reads zero: any
	// accidental entry into the runtime faults in the child.
	tls     [16]uint64
	clone   cloneArgs
	allMask uint64 // all signals: blocked by the trampoline around clone3
	oldMask uint64 // the parent thread's mask, saved by the trampoline
	pidfd   int32  // written by clone3 (CLONE_PIDFD), or by the child (pidfdState)
	_       int32

	entry      uint64 // ABIInternal PC of childMain (for the reaper's clone)
	statusFd   uint64 // where failures go: the parent's number, then statusSlot
	statusSlot uint64
	syncSlot   uint64
	stepsRel   uint64 // offsets from the header
	nsteps     uint64
	closeRel   uint64
	nclose     uint64
	closeFlags uint64 // flags of the first close_range (CLOSE_RANGE_UNSHARE)
	dupRel     uint64
	ndup       uint64
	startPc    uint64

	regs [NumRegs]uint64
	rec  [4]uint32 // sync record being written to the status pipe
	buf  [8]byte   // sync reply

	// ctid is the word CLONE_CHILD_CLEARTID names: the kernel zeroes it and
	// wakes it as a futex when the child execs or exits (mm_release, the
	// same point that releases a vfork parent). A synchronous start sleeps
	// on it instead of reading a status pipe.
	ctid uint32
	// execMark is set by OpMarkExec, just before the exec.
	execMark uint32
	// fail is {recFail, step, errno, aux} once a step failed. The parent
	// reads fail and execMark when the child can no longer write them.
	fail [4]uint32

	// A child on the parent's descriptor table (CLONE_FILES) does two
	// things for the parent before its first step, so that they cost the
	// parent no time. It opens its own pidfd (pidfd_open on the shared
	// table, instead of clone3's CLONE_PIDFD): pidfdState is 1 when asked,
	// 2 while the call runs, 3 once pidfd (or pidfdErr) holds the result.
	// And with watchEpfd (the package's exit set plus one; 0: none) it adds
	// that pidfd to the set with watchEv: watchDone is 1 once it tried,
	// watchErr the errno.
	pidfdState uint32
	pidfdErr   uint32
	selfPid    int32 // the child's pid, written by clone3 (CLONE_PARENT_SETTID), or 0
	_          int32
	watchEpfd  uint64
	watchEv    unix.EpollEvent
	watchDone  uint32
	watchErr   uint32

	// Private to a pid-1 reaper after it cloned the command; the parent
	// reads reapStatus once the reaper has been reaped.
	reapPid    uint64
	reapDone   uint64 // 1 once the command was reaped
	reapStatus uint32 // the command's wait status
	reapTmp    uint32
	reapBuf    [16]uint64 // struct signalfd_siginfo
	reapOwnNS  uint64     // 1: pid 1 of a new pid namespace (kill(-1) is the tree)
}

// Status records, {kind, step, errno, aux}: a failure is recorded in the
// arena (header.fail); a sync point is written to the status pipe.
const (
	recFail = 1 // step failed with errno; aux is the table entry for fd steps
	recSync = 2 // waiting at sync point aux
	recSize = 16
)

// Descriptor ops of OpDupFds, solved in the parent (see layout.go).
const (
	dupOpDup       = 1 // dup3(a, b, c)
	dupOpSetFd     = 2 // fcntl(a, F_SETFD, c)
	dupOpClose     = 3 // close(a); EBADF is fine
	dupOpCloseFrom = 4 // close_range(a, ~0, 0)
)

var (
	stepSize = unsafe.Sizeof(Step{})

	hdrOldMask = Addr(headerOff + unsafe.Offsetof(header{}.oldMask))

	headerNames = map[Addr]string{hdrOldMask: "&saved_sigmask"}
)

func init() {
	if unsafe.Sizeof(header{}) > headerSize {
		panic("spawn: internal error: header larger than its page")
	}
	if unsafe.Sizeof(cloneArgs{}) != 88 {
		panic("spawn: internal error: clone_args is not CLONE_ARGS_SIZE_VER2")
	}
}

// childMainFn holds the interpreter as a func value; its first word is the
// ABIInternal entry the trampoline calls.
var childMainFn = childMain

func childEntry() uintptr { return **(**uintptr)(unsafe.Pointer(&childMainFn)) }

// arena is an mmap'd region outside the Go heap: the child's stacks, the
// header, and a loaded program. It is reused only once the child can no
// longer touch it: once the kernel cleared header.ctid (mm_release, when
// the child execs or exits), after EOF on the status pipe (the kernel
// switches mm before closing close-on-exec descriptors, and exit_mm runs
// before exit_files), or, for a reaper program, once the reaper was reaped.
type arena struct {
	mem    []byte
	cls    int    // pool class; -1 when not pooled
	progID uint64 // program whose image is loaded, 0 if none
}

func (a *arena) base() uintptr        { return uintptr(unsafe.Pointer(&a.mem[0])) }
func (a *arena) hdr() *header         { return (*header)(unsafe.Pointer(&a.mem[headerOff])) }
func (a *arena) addr(off int) uintptr { return a.base() + uintptr(off) }

var pool struct {
	mu   sync.Mutex
	free [8][]*arena // classes minArena << i
	live atomic.Int64
}

// LiveArenas reports arenas currently mapped, pooled or in use; tests use
// it to prove nothing leaks.
func LiveArenas() int64 { return pool.live.Load() }

// PooledArenas reports arenas waiting in the free lists.
func PooledArenas() int {
	pool.mu.Lock()
	defer pool.mu.Unlock()
	n := 0
	for _, l := range pool.free {
		n += len(l)
	}
	return n
}

func getArena(size int, progID uint64) (*arena, error) {
	cls, csize := -1, size
	for i := range pool.free {
		if minArena<<i >= size {
			cls, csize = i, minArena<<i
			break
		}
	}
	if cls >= 0 {
		pool.mu.Lock()
		l := pool.free[cls]
		if n := len(l); n > 0 {
			// Prefer an arena that already holds this program's image.
			pick := n - 1
			for i := n - 1; i >= 0 && i >= n-4; i-- {
				if l[i].progID == progID {
					pick = i
					break
				}
			}
			a := l[pick]
			l[pick] = l[n-1]
			pool.free[cls] = l[:n-1]
			pool.mu.Unlock()
			return a, nil
		}
		pool.mu.Unlock()
	}
	csize = (csize + pageSize - 1) &^ (pageSize - 1)
	mem, err := unix.Mmap(-1, 0, csize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return nil, fmt.Errorf("spawn: mmap arena of %d bytes: %w", csize, err)
	}
	if err := unix.Mprotect(mem[:pageSize], unix.PROT_NONE); err != nil {
		unix.Munmap(mem)
		return nil, fmt.Errorf("spawn: guard page: %w", err)
	}
	if err := unix.Mprotect(mem[stack1Top:stack2Off], unix.PROT_NONE); err != nil {
		unix.Munmap(mem)
		return nil, fmt.Errorf("spawn: guard page: %w", err)
	}
	pool.live.Add(1)
	return &arena{mem: mem, cls: cls}, nil
}

// putArena returns a to its free list, or unmaps it.
//
// Precondition: no child can touch a any more (see arena).
func putArena(a *arena) {
	if a.cls >= 0 && len(a.mem) <= maxPooled {
		pool.mu.Lock()
		if len(pool.free[a.cls]) < poolPerCls {
			pool.free[a.cls] = append(pool.free[a.cls], a)
			pool.mu.Unlock()
			return
		}
		pool.mu.Unlock()
	}
	unix.Munmap(a.mem)
	a.mem = nil
	pool.live.Add(-1)
}

// arenaSize is the bytes a program needs with its per-spawn tables.
func arenaSize(p *Program, nclose, ndup int) int {
	return dataOff + align8(len(p.data)) + len(p.steps)*int(stepSize) + 8*nclose + 16*ndup
}

func align8(n int) int { return (n + 7) &^ 7 }

// load copies p into a (unless a already holds p's image and p never
// writes to it), relocates its addresses, and fills the header and the
// per-spawn descriptor tables. statusFd is the status pipe's write end, or
// -1 for a start that sleeps on header.ctid, where the child starts on
// this process's descriptor table and, with watch, adds its pidfd to the
// exit set with that event.
func (a *arena) load(p *Program, plan *fdPlan, statusFd int, watch *unix.EpollEvent) {
	closeTab, dupTab := plan.closeTab, plan.dupTab
	cleartid := statusFd < 0
	base := uint64(a.base())
	stepsOff := dataOff + align8(len(p.data))
	if a.progID != p.id || p.mutable {
		copy(a.mem[dataOff:], p.data)
		for _, r := range p.relocs {
			w := a.mem[dataOff+int(r):]
			binary.NativeEndian.PutUint64(w, binary.NativeEndian.Uint64(w)+base)
		}
		steps := unsafe.Slice((*Step)(unsafe.Pointer(&a.mem[stepsOff])), len(p.steps))
		copy(steps, p.steps)
		for i := range steps {
			if f := steps[i].Flags & flagAddrMask; f != 0 {
				for j := 0; j < 6; j++ {
					if f&(1<<(flagAddrShift+uint(j))) != 0 {
						steps[i].Args[j] += base
					}
				}
			}
		}
		a.progID = p.id
	}
	off := stepsOff + len(p.steps)*int(stepSize)
	closeOff := off
	for _, c := range closeTab {
		binary.NativeEndian.PutUint32(a.mem[off:], c[0])
		binary.NativeEndian.PutUint32(a.mem[off+4:], c[1])
		off += 8
	}
	dupOff := off
	for _, d := range dupTab {
		for j, v := range d {
			binary.NativeEndian.PutUint32(a.mem[off+4*j:], uint32(v))
		}
		off += 16
	}

	h := a.hdr()
	*h = header{}
	h.clone = cloneArgs{
		flags:      unix.CLONE_VM | unix.CLONE_CLEAR_SIGHAND | unix.CLONE_PIDFD | unix.CLONE_SETTLS | p.cloneFlags,
		pidfd:      uint64(uintptr(unsafe.Pointer(&h.pidfd))),
		exitSignal: uint64(unix.SIGCHLD),
		stack:      base + stack1Off,
		stackSize:  stackSize - stackReserve,
		tls:        uint64(uintptr(unsafe.Pointer(&h.tls[8]))),
	}
	if cleartid {
		// The child starts on this process's descriptor table and copies
		// the part it keeps in its first step (see Start); on that table it
		// opens its own pidfd, and adds it to the exit set.
		h.clone.flags |= unix.CLONE_FILES
		h.closeFlags = unix.CLOSE_RANGE_UNSHARE
		h.clone.flags |= unix.CLONE_CHILD_CLEARTID
		h.clone.childTid = uint64(uintptr(unsafe.Pointer(&h.ctid)))
		h.ctid = 1
		h.clone.flags &^= unix.CLONE_PIDFD
		h.clone.pidfd = 0
		h.pidfdState = 1
		if p.cloneFlags&unix.CLONE_NEWPID == 0 {
			// The pid clone3 reports is the child's own: no getpid in
			// the child.
			h.clone.flags |= unix.CLONE_PARENT_SETTID
			h.clone.parentTid = uint64(uintptr(unsafe.Pointer(&h.selfPid)))
		}
		if watch != nil {
			h.watchEpfd = uint64(exits.epfd) + 1
			h.watchEv = *watch
		}
	}
	h.allMask = ^uint64(0)
	if p.cloneFlags&unix.CLONE_NEWPID != 0 {
		h.reapOwnNS = 1
	}
	h.pidfd = -1
	h.entry = uint64(childEntry())
	h.statusFd = uint64(statusFd)
	h.statusSlot = uint64(p.numFiles)
	h.syncSlot = uint64(p.numFiles + 1)
	h.stepsRel = uint64(stepsOff - headerOff)
	h.nsteps = uint64(len(p.steps))
	h.closeRel = uint64(closeOff - headerOff)
	h.nclose = uint64(len(closeTab))
	h.dupRel = uint64(dupOff - headerOff)
	h.ndup = uint64(len(dupTab))
}

// clone runs the trampoline on a loaded arena.
func (a *arena) clone(cgroupFd int) (pid int, pidfd int, err error) {
	h := a.hdr()
	if cgroupFd >= 0 {
		h.clone.flags |= unix.CLONE_INTO_CGROUP
		h.clone.cgroup = uint64(cgroupFd)
	}
	r, errno := trampoline(&h.clone, unsafe.Sizeof(h.clone), uintptr(h.entry), uintptr(unsafe.Pointer(h)), &h.allMask, &h.oldMask)
	if errno != 0 {
		return 0, -1, unix.Errno(errno)
	}
	return int(r), int(h.pidfd), nil
}

// closeEntry and dupEntry read back entry i of the loaded descriptor
// tables, to name a failed descriptor step.
func (a *arena) closeEntry(i uint32) ([2]uint32, bool) {
	h := a.hdr()
	if uint64(i) >= h.nclose {
		return [2]uint32{}, false
	}
	return *(*[2]uint32)(unsafe.Add(unsafe.Pointer(h), h.closeRel+8*uint64(i))), true
}

func (a *arena) dupEntry(i uint32) ([4]int32, bool) {
	h := a.hdr()
	if uint64(i) >= h.ndup {
		return [4]int32{}, false
	}
	return *(*[4]int32)(unsafe.Add(unsafe.Pointer(h), h.dupRel+16*uint64(i))), true
}

// outcome returns what the child recorded: the failed step's record, if
// any, and whether it reached OpMarkExec. Call it only once the child can
// no longer write to a (see arena).
func (a *arena) outcome() (fail [4]uint32, failed, marked bool) {
	h := a.hdr()
	return h.fail, h.fail[0] == recFail, h.execMark != 0
}

// watched reports whether the child added its pidfd to the exit set.
// Call it only once the child left the arena.
func (a *arena) watched() bool {
	h := a.hdr()
	return h.watchDone == 1 && h.watchErr == 0
}

// childPidfd returns the pidfd the child opened for itself (see header),
// or opens one for pid when the child could not; the child is this
// process's unreaped child, so pid names it. Call it only once the child
// left the arena.
func (a *arena) childPidfd(pid int) (int, error) {
	h := a.hdr()
	switch h.pidfdState {
	case 3:
		if h.pidfdErr == 0 {
			return int(h.pidfd), nil
		}
	case 2:
		// Killed inside pidfd_open: a pidfd may be in the table, under a
		// number it could not record.
		closeStrayPidfds(pid)
	}
	return unix.PidfdOpen(pid, 0)
}

// awaitCleared sleeps until the kernel cleared header.ctid: the child
// exec'd or exited, and no longer touches a. See waitCleared.
func (a *arena) awaitCleared(pid int, hold bool) {
	waitCleared(&a.hdr().ctid, pid, hold)
}

// reaped returns the command's wait status recorded by a pid-1 reaper.
func (a *arena) reaped() (unix.WaitStatus, bool) {
	h := a.hdr()
	return unix.WaitStatus(h.reapStatus), h.reapDone == 1
}

// trampoline blocks all signals on the calling thread (saving the mask in
// *old), calls clone3(args, size), and restores the mask in the parent. The
// child, on the stack given in args, zeroes the g register and calls fn
// (an ABIInternal entry) with arg; fn must never return.
//
//go:noescape
func trampoline(args *cloneArgs, size uintptr, fn uintptr, arg uintptr, all *uint64, old *uint64) (pid uintptr, errno uintptr)

// rawClone is clone(flags, stack) for the reaper: the child calls fn(arg)
// with no g, on the given stack.
//
//go:noescape
func rawClone(flags uintptr, stack uintptr, fn uintptr, arg uintptr) (pid uintptr, errno uintptr)

// rawSyscall6 is the only function the child calls: a bare syscall
// instruction, no g, no stack check, no errno boxing.
//
//go:noescape
func rawSyscall6(nr, a1, a2, a3, a4, a5, a6 uintptr) (r1, errno uintptr)
