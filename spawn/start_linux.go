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

	"golang.org/x/sys/unix"
)

// Attr holds what changes from one spawn of a program to the next.
type Attr struct {
	// Files become descriptors 0 … len-1 in the child; the length must
	// equal Program.NumFiles. A nil entry leaves that descriptor closed.
	// Start does not take ownership: the child receives copies when it is
	// cloned, so the caller may close the files as soon as Start returns.
	// Descriptors are put in blocking mode (os.File.Fd).
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

// Start spawns a child running p and returns once it has exec'd, or with
// the error of the step that failed. The calling goroutine blocks in read(2)
// on the status pipe — in a system call, so the runtime hands its P to
// other goroutines — which lets the kernel run the child at once.
//
// Errors: *VerifyError never (programs are verified when built);
// *CloneError when clone3 fails; *StepError when a step fails;
// ErrDiedBeforeExec when the child was killed before exec.
func Start(p *Program, attr *Attr) (*Process, error) {
	proc, err := start(p, attr, false)
	if err != nil {
		return nil, err
	}
	if err := proc.awaitStart(); err != nil {
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
	go proc.awaitStart()
	return proc, nil
}

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

	files := make([]int, len(attr.Files))
	for i, f := range attr.Files {
		files[i] = -1
		if f != nil {
			files[i] = int(f.Fd())
		}
	}
	extra := make([]int, 0, len(p.slots))
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

	var status [2]int
	flags := unix.O_CLOEXEC
	if async {
		flags |= unix.O_NONBLOCK
	}
	if err := unix.Pipe2(status[:], flags); err != nil {
		return nil, fmt.Errorf("spawn: status pipe: %w", err)
	}
	syncR, syncW := -1, -1
	if p.hasSync {
		var sp [2]int
		if err := unix.Pipe2(sp[:], unix.O_CLOEXEC); err != nil {
			unix.Close(status[0])
			unix.Close(status[1])
			return nil, fmt.Errorf("spawn: sync pipe: %w", err)
		}
		syncR, syncW = sp[0], sp[1]
	}
	closeAll := func() {
		for _, fd := range []int{status[0], status[1], syncR, syncW} {
			if fd >= 0 {
				unix.Close(fd)
			}
		}
	}

	plan := planFds(files, status[1], syncR, extra)
	a, err := getArena(arenaSize(p, len(plan.closeTab), len(plan.dupTab)), p.id)
	if err != nil {
		closeAll()
		return nil, err
	}
	a.load(p, plan.closeTab, plan.dupTab, status[1])
	cg := -1
	if attr.Cgroup != nil {
		cg = int(attr.Cgroup.Fd())
	}
	pid, pidfd, err := a.clone(cg)
	// The child holds its own copies of every descriptor now.
	unix.Close(status[1])
	if syncR >= 0 {
		unix.Close(syncR)
	}
	keepAlive(attr)
	if err != nil {
		unix.Close(status[0])
		if syncW >= 0 {
			unix.Close(syncW)
		}
		putArena(a) // no child exists
		return nil, &CloneError{Flags: p.cloneFlags | a.hdr().clone.flags&unix.CLONE_INTO_CGROUP, Errno: err.(unix.Errno)}
	}

	proc := &Process{
		Pid:     pid,
		prog:    p,
		arena:   a,
		attr:    attr,
		plan:    plan,
		started: make(chan struct{}),
		syncW:   syncW,
	}
	proc.pidfd = newPidfd(pidfd)
	if async {
		proc.statusF = os.NewFile(uintptr(status[0]), "spawn-status")
	} else {
		proc.statusFd = status[0]
	}
	return proc, nil
}

// awaitStart reads status records until EOF and settles the start. It
// reaps a child that failed, and releases the arena once the child can no
// longer touch it.
func (p *Process) awaitStart() error {
	var (
		buf     [8 * recSize]byte
		pending []byte
		failed  *[4]uint32
		marked  bool
		syncErr error
	)
	for {
		var n int
		var err error
		if p.statusF != nil {
			n, err = p.statusF.Read(buf[:])
		} else {
			n, err = unix.Read(p.statusFd, buf[:])
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
			switch rec[0] {
			case recFail:
				failed = &rec
			case recExec:
				marked = true
			case recSync:
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
	}
	if p.statusF != nil {
		p.statusF.Close()
	} else {
		unix.Close(p.statusFd)
	}
	if p.syncW >= 0 {
		unix.Close(p.syncW)
		p.syncW = -1
	}
	p.attr = nil

	var err error
	switch {
	case failed != nil && syncErr != nil && unix.Errno(failed[2]) == unix.ECANCELED:
		err = syncErr
	case failed != nil:
		err = p.stepError(failed)
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
		close(p.started)
		return err
	}
	if !p.prog.reaper {
		putArena(p.arena)
		p.arena = nil
	}
	close(p.started)
	return nil
}

func (p *Process) stepError(rec *[4]uint32) error {
	i := int(rec[1])
	e := &StepError{Step: i, Errno: unix.Errno(rec[2])}
	if i >= 0 && i < len(p.prog.info) {
		e.Op, e.Target = p.prog.info[i].Op, p.prog.info[i].Target
		switch p.prog.steps[i].Nr {
		case OpDupFds:
			if int(rec[3]) < len(p.plan.dupTab) {
				e.Target = describeDup(p.plan.dupTab[rec[3]])
			}
		case OpCloseFds:
			if int(rec[3]) < len(p.plan.closeTab) {
				c := p.plan.closeTab[rec[3]]
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
