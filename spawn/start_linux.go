//go:build linux

package spawn

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Attr holds what changes from one spawn of a program to the next.
type Attr struct {
	// Files become descriptors 0 … len-1 in the child; the length must
	// equal Program.NumFiles. A nil entry leaves that descriptor closed.
	// Start does not take ownership: the child holds its own copies by the
	// time Start or StartAsync returns (it copies them at clone, or, on this
	// process's descriptor table, in its first step, which Start waits
	// for), so the caller may close the files then. They must stay open
	// while Start runs. Descriptors are put in blocking mode (os.File.Fd).
	Files []*os.File

	// Inputs supplies the descriptors the program declared with
	// Builder.Input, in declaration order.
	Inputs []*os.File

	// Cgroup, when not nil, is a cgroup v2 directory the child starts in
	// (CLONE_INTO_CGROUP, Linux 5.7): it is never outside its limits.
	Cgroup *os.File

	// OnSync is called at each sync point of the program (Builder.Sync)
	// with the child waiting, the point's id and the value it sent. The
	// child continues when it returns nil and fails with ECANCELED
	// otherwise; the error is then Start's. It runs on the goroutine that
	// awaits the start (Start's caller, or the watcher of StartAsync) and
	// must not call Wait.
	OnSync func(p *Process, id uint32, val uint32) error
}

var (
	progIDs      atomic.Uint64
	dumpableOnce sync.Once
)

// setDumpablePolicy makes a privileged parent non-dumpable once, before
// its first child. The child shares the parent's mm until exec, so its
// credential changes flip the parent's dumpable flag anyway (commit_creds);
// fixing it up front makes the state deterministic, and keeps /proc/<pid>
// of a child that has not exec'd (or of a pid-1 reaper) out of reach of
// anything but host root. An unprivileged parent stays dumpable: its
// children write their own id maps through /proc/self, which a
// non-dumpable mm would make root-owned.
func setDumpablePolicy() {
	if os.Geteuid() == 0 {
		unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	}
}

// ParentDumpable reports whether this process's memory stays dumpable
// while it has children: true for an unprivileged parent, which
// setDumpablePolicy leaves dumpable. Every child that shares the memory (a
// CLONE_VM child until it execs, a pid-1 reaper for good) is then open,
// through /proc/PID/mem, to any process with the same uid that holds
// CAP_SYS_PTRACE in the child's user namespace, or every capability the
// child holds: such a process could write this process's memory.
func ParentDumpable() bool {
	if os.Geteuid() == 0 {
		return false // made non-dumpable before the first child
	}
	d, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	return err != nil || d != 0
}

// Start spawns a child running p and returns once it has exec'd, or with
// the error of the step that failed. The calling goroutine sleeps in the
// kernel until then, which lets the kernel run the child at once, as it
// runs a vfork child.
//
// For most programs the sleep is a futex wait on a word of the arena that
// the kernel clears when the child execs or exits (CLONE_CHILD_CLEARTID),
// and the child starts on this process's descriptor table, copying only
// the descriptors it keeps. A program that creates no namespace reaches
// exec within microseconds: like os/exec's vfork, Start keeps its P for
// that time (at most 10 ms, then the P goes to other goroutines); a
// program with namespaces releases the P at once. Programs with sync
// points or a pid-1 reaper wait on a status pipe instead, keeping the P
// for at most 10 ms in all (a sandbox's setup takes about a millisecond),
// then in read(2) with it released.
//
// Errors: *VerifyError never (programs are verified when built);
// *CloneError when clone3 fails; *StepError when a step fails;
// ErrDiedBeforeExec when the child was killed before exec.
func Start(p *Program, attr *Attr) (*Process, error) {
	proc, err := start(p, attr, false)
	if err != nil {
		return nil, err
	}
	if proc.status < 0 {
		err = proc.settle(nil) // start waited for the cleartid word
	} else {
		err = proc.awaitStart()
	}
	if err != nil {
		return nil, err
	}
	return proc, nil
}

// StartAsync spawns a child running p and returns as soon as it is cloned,
// without waiting for its setup: the status pipe is watched through the
// netpoller. Started reports when the child exec'd or failed; StartErr
// then gives the outcome. Wait waits for the start first.
func StartAsync(p *Program, attr *Attr) (*Process, error) {
	proc, err := start(p, attr, true)
	if err != nil {
		return nil, err
	}
	if proc.statusF != nil {
		go proc.awaitStart()
	}
	return proc, nil
}

// closedChan is Started for a start that settled before Start returned.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// Sizes of the per-spawn scratch space that start keeps on its stack; more
// descriptors spill to the heap.
const (
	stackFds   = 8
	stackClose = 8
	stackDup   = 16
)

func start(p *Program, attr *Attr, async bool) (*Process, error) {
	if attr == nil {
		attr = &Attr{}
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.steps == nil {
		return nil, errors.New("spawn: program is closed")
	}
	if len(attr.Files) != p.numFiles {
		return nil, fmt.Errorf("spawn: %d files given, the program was built for %d", len(attr.Files), p.numFiles)
	}
	if n := p.Inputs(); len(attr.Inputs) != n {
		return nil, fmt.Errorf("spawn: %d inputs given, the program declares %d", len(attr.Inputs), n)
	}
	dumpableOnce.Do(setDumpablePolicy)

	var filesBuf, extraBuf [stackFds]int
	files, extra := filesBuf[:0], extraBuf[:0]
	for _, f := range attr.Files {
		fd := -1
		if f != nil {
			fd = int(f.Fd())
		}
		files = append(files, fd)
	}
	in := 0
	for _, s := range p.slots {
		switch {
		case s.input:
			f := attr.Inputs[in]
			in++
			if f == nil {
				return nil, fmt.Errorf("spawn: input %q is nil", s.name)
			}
			extra = append(extra, int(f.Fd()))
		default:
			extra = append(extra, int(s.file.Fd()))
		}
	}

	// A synchronous start of a program without sync points or a reaper
	// needs no status pipe: it sleeps on the arena's cleartid word, and
	// the child records failures in the arena.
	statusR, statusW := -1, -1
	if async || p.hasSync || p.reaper {
		var sp [2]int
		flags := unix.O_CLOEXEC
		if async {
			flags |= unix.O_NONBLOCK
		}
		if err := unix.Pipe2(sp[:], flags); err != nil {
			return nil, fmt.Errorf("spawn: status pipe: %w", err)
		}
		statusR, statusW = sp[0], sp[1]
	}
	syncR, syncW := -1, -1
	if p.hasSync {
		var sp [2]int
		if err := unix.Pipe2(sp[:], unix.O_CLOEXEC); err != nil {
			closeFds(statusR, statusW)
			return nil, fmt.Errorf("spawn: sync pipe: %w", err)
		}
		syncR, syncW = sp[0], sp[1]
	}

	var closeBuf [stackClose][2]uint32
	var dupBuf [stackDup][4]int32
	plan := planFdsInto(fdPlan{closeTab: closeBuf[:0], dupTab: dupBuf[:0]}, files, statusW, syncR, extra)
	if statusW < 0 {
		// CLONE_FILES: the child's first close_range unshares the table,
		// copying only the descriptors below its first descriptor; make
		// that the range above the keep-set, so that it copies no more
		// than it keeps.
		ct := plan.closeTab
		last := ct[len(ct)-1]
		copy(ct[1:], ct[:len(ct)-1])
		ct[0] = last
	}
	a, err := getArena(arenaSize(p, len(plan.closeTab), len(plan.dupTab)), p.id)
	if err != nil {
		closeFds(statusR, statusW, syncR, syncW)
		return nil, err
	}
	proc := &Process{
		prog:   p,
		arena:  a,
		attr:   attr,
		status: statusR,
		syncW:  syncW,
	}
	// A child on this process's descriptor table adds its pidfd to the
	// exit set itself, under a registration made now: it may exit before
	// clone3 returns here.
	var watch *unix.EpollEvent
	if statusW < 0 && exitsReady() {
		ev := proc.exit.register()
		watch = &ev
	}
	a.load(p, &plan, statusW, watch)
	cg := -1
	if attr.Cgroup != nil {
		cg = int(attr.Cgroup.Fd())
	}
	pid, pidfd, err := a.clone(cg)
	// The child holds its own copies of every descriptor now.
	closeFds(statusW, syncR)
	keepAlive(attr)
	if err != nil {
		closeFds(statusR, syncW)
		proc.exit.unregister()
		putArena(a) // no child exists
		return nil, &CloneError{Flags: p.cloneFlags | a.hdr().clone.flags&unix.CLONE_INTO_CGROUP, Errno: err.(unix.Errno)}
	}
	proc.Pid, proc.pidfd = pid, pidfd
	switch {
	case async:
		proc.started = make(chan struct{})
		// Without sync points nothing is read from the pipe: its EOF,
		// seen in the exit set, settles the start.
		proc.statusWait.eof = proc
		if p.hasSync || proc.statusWait.watch(statusR) != nil {
			proc.statusWait.eof = nil
			proc.statusF = os.NewFile(uintptr(statusR), "spawn-status")
			proc.status = -1
		}
	case statusR >= 0:
		proc.started = make(chan struct{})
	default:
		proc.started = closedChan
		// Sleep until the child exec'd or died. Until its first step it
		// shares this process's descriptor table (CLONE_FILES), so the
		// descriptors it keeps must stay open until then: the program's
		// lock and the caller's files are held across the sleep.
		a.awaitCleared(pid, p.cloneFlags == 0)
		keepAlive(attr)
		fd, err := a.childPidfd(pid)
		if err != nil {
			// No way to hold the child: end it.
			proc.exit.unregister()
			unix.Kill(pid, unix.SIGKILL)
			var st State
			waitPid(pid, &st)
			putArena(a)
			return nil, fmt.Errorf("spawn: pidfd_open: %w", err)
		}
		proc.pidfd = fd
		if watch != nil {
			if a.watched() {
				proc.exit.armed = true
			} else {
				proc.exit.unregister() // Wait adds the pidfd itself
			}
		}
	}
	return proc, nil
}

// closeFds closes the descriptors that are not -1.
func closeFds(fds ...int) {
	for _, fd := range fds {
		if fd >= 0 {
			closeFd(fd)
		}
	}
}

// holdPipe bounds, over a whole start, how long Start keeps its P while it
// waits on the status pipe (as waitCleared's holdBound does on the futex).
const holdPipe = 10 * time.Millisecond

// awaitStart reads sync records from the status pipe until EOF, answering
// them, then settles the start.
func (p *Process) awaitStart() error {
	var (
		buf     [8 * recSize]byte
		pending []byte
		syncErr error
		left    = holdPipe
	)
	for {
		var n int
		var err error
		if p.statusF != nil {
			n, err = p.statusF.Read(buf[:])
		} else {
			// Keep the P while the child sets up, up to holdPipe in all;
			// then read(2) releases it.
			pollHeld(p.status, &left)
			n, err = unix.Read(p.status, buf[:])
			if err == unix.EINTR {
				continue
			}
		}
		if n <= 0 || err != nil {
			break
		}
		pending = append(pending, buf[:n]...)
		for len(pending) >= recSize {
			var rec [4]uint32
			for i := range rec {
				rec[i] = binary.NativeEndian.Uint32(pending[4*i:])
			}
			pending = pending[recSize:]
			if rec[0] != recSync {
				continue
			}
			reply := []byte{0}
			if p.attr.OnSync == nil {
				syncErr = fmt.Errorf("spawn: step %d: sync point %d reached with no Attr.OnSync", rec[1], rec[3])
			} else if err := p.attr.OnSync(p, rec[3], rec[2]); err != nil {
				syncErr = err
			}
			if syncErr != nil {
				reply[0] = 1
			}
			unix.Write(p.syncW, reply)
		}
	}
	if p.statusF != nil {
		p.statusF.Close()
	} else {
		unix.Close(p.status)
	}
	p.status = -1
	if p.syncW >= 0 {
		unix.Close(p.syncW)
		p.syncW = -1
	}
	return p.settle(syncErr)
}

// asyncEOF settles a StartAsync once its status pipe reached EOF; the
// dispatcher of the exit set calls it. A failed start is settled on a
// goroutine of its own: it reaps the child.
func (p *Process) asyncEOF() {
	closeFd(p.status)
	p.status = -1
	if _, failed, marked := p.arena.outcome(); failed || !marked {
		go p.settle(nil)
		return
	}
	p.settle(nil)
}

// settle decides the start once the child can no longer write to its arena
// (the cleartid word was cleared, or EOF on the status pipe): it reaps a
// child that failed, releases the arena, and closes Started.
func (p *Process) settle(syncErr error) error {
	p.attr = nil
	fail, failed, marked := p.arena.outcome()
	var err error
	switch {
	case failed && syncErr != nil && unix.Errno(fail[2]) == unix.ECANCELED:
		err = syncErr
	case failed:
		err = p.stepError(fail)
	case !marked:
		err = ErrDiedBeforeExec
	}
	if err != nil {
		// The child is gone or going: reap it so no zombie remains.
		st, werr := p.reap()
		if errors.Is(err, ErrDiedBeforeExec) && werr == nil {
			err = fmt.Errorf("%w (%v)", ErrDiedBeforeExec, st)
		}
		p.startErr = err
		if p.started != closedChan {
			close(p.started)
		}
		return err
	}
	if !p.prog.reaper {
		putArena(p.arena)
		p.arena = nil
	}
	if p.started != closedChan {
		close(p.started)
	}
	return nil
}

// stepError names the failed step; its arena is still held.
func (p *Process) stepError(rec [4]uint32) error {
	i := int(rec[1])
	e := &StepError{Step: i, Errno: unix.Errno(rec[2])}
	p.prog.mu.RLock()
	defer p.prog.mu.RUnlock()
	if i >= 0 && i < len(p.prog.info) && i < len(p.prog.steps) {
		e.Op, e.Target = p.prog.info[i].Op, p.prog.info[i].Target
		switch p.prog.steps[i].Nr {
		case OpDupFds:
			if d, ok := p.arena.dupEntry(rec[3]); ok {
				e.Target = describeDup(d)
			}
		case OpCloseFds:
			if c, ok := p.arena.closeEntry(rec[3]); ok {
				e.Target = fmt.Sprintf("fds %d to %d", c[0], c[1])
			}
		}
	}
	return e
}

// Started is closed once the child has exec'd or its start failed.
func (p *Process) Started() <-chan struct{} { return p.started }

// StartErr returns the outcome of the start; it is only meaningful once
// Started is closed.
func (p *Process) StartErr() error {
	select {
	case <-p.started:
		return p.startErr
	default:
		return errors.New("spawn: start still in progress")
	}
}

// AwaitStart waits for the start to settle. When ctx ends first it kills
// the child, waits for the start to settle, and returns ctx.Err().
func (p *Process) AwaitStart(ctx context.Context) error {
	select {
	case <-p.started:
		return p.startErr
	case <-ctx.Done():
		p.Signal(unix.SIGKILL)
		<-p.started
		return ctx.Err()
	}
}
