//go:build linux

package spawn

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Process is a spawned child, held through its pidfd (no pid reuse races).
// Its methods are safe for concurrent use, except that Wait may be called
// once.
type Process struct {
	Pid int

	prog     *Program
	attr     *Attr // until the start settles
	plan     fdPlan
	statusFd int      // blocking status pipe (Start)
	statusF  *os.File // non-blocking status pipe (StartAsync)
	syncW    int

	started  chan struct{}
	startErr error

	// mu guards arena, pidfd and state.
	mu    sync.Mutex
	arena *arena // until the child cannot touch it
	pidfd *os.File
	state procState
}

type procState uint8

const (
	procRunning procState = iota
	procWaiting
	procDone
	procReleased
)

// State is the outcome of a child, as waitid(2) reported it.
type State struct {
	Pid    int
	Status unix.WaitStatus
	Rusage unix.Rusage
}

// Exited reports whether the child called exit.
func (s *State) Exited() bool { return s.Status.Exited() }

// ExitCode is the exit status, or -1 when the child was killed by a signal.
func (s *State) ExitCode() int {
	if s.Status.Exited() {
		return s.Status.ExitStatus()
	}
	return -1
}

// Signaled reports whether a signal ended the child, and which.
func (s *State) Signaled() (unix.Signal, bool) {
	if s.Status.Signaled() {
		return s.Status.Signal(), true
	}
	return 0, false
}

// UserTime and SystemTime are the child's CPU times (its waited-for
// descendants included).
func (s *State) UserTime() time.Duration   { return time.Duration(s.Rusage.Utime.Nano()) }
func (s *State) SystemTime() time.Duration { return time.Duration(s.Rusage.Stime.Nano()) }

func (s *State) String() string {
	if sig, ok := s.Signaled(); ok {
		return "signal: " + sig.String() + " (" + unix.SignalName(sig) + ")"
	}
	return fmt.Sprintf("exit status %d", s.ExitCode())
}

func newPidfd(fd int) *os.File {
	// O_NONBLOCK makes os.NewFile register the pidfd with the netpoller:
	// it becomes readable when the child exits (Linux 5.3), so Wait parks a
	// goroutine, not a thread.
	unix.SetNonblock(fd, true)
	return os.NewFile(uintptr(fd), "pidfd")
}

// ErrWaited is returned by a second Wait.
var ErrWaited = errors.New("spawn: Wait already called")

// Wait waits for the child to exit, reaps it and releases its resources.
// It waits for the start first; if the start failed, it returns that error
// (the child was already reaped). For a program with a pid-1 reaper the
// status is the command's, as the reaper recorded it.
func (p *Process) Wait() (*State, error) {
	<-p.started
	if p.startErr != nil {
		return nil, p.startErr
	}
	p.mu.Lock()
	if p.state != procRunning {
		p.mu.Unlock()
		return nil, ErrWaited
	}
	p.state = procWaiting
	p.mu.Unlock()
	return p.reap()
}

// reap waits for exit through the netpoller, then releases the pidfd and
// the arena.
func (p *Process) reap() (*State, error) {
	st := &State{Pid: p.Pid}
	rc, err := p.pidfd.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("spawn: wait: %w", err)
	}
	var werr error
	err = rc.Read(func(fd uintptr) bool {
		var done bool
		done, werr = waitPidfd(int(fd), unix.WEXITED|unix.WNOHANG, st)
		return done || werr != nil
	})
	if err == nil {
		err = werr
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("spawn: waitid: %w", err)
	}
	if p.arena != nil {
		if ws, ok := p.arena.reaped(); ok {
			st.Status = ws
		}
		putArena(p.arena)
		p.arena = nil
	}
	p.pidfd.Close()
	p.state = procDone
	return st, nil
}

// Signal sends sig to the child through its pidfd. It returns
// os.ErrProcessDone once the child was reaped.
func (p *Process) Signal(sig unix.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state == procDone || p.state == procReleased {
		return os.ErrProcessDone
	}
	rc, err := p.pidfd.SyscallConn()
	if err != nil {
		return os.ErrProcessDone
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.PidfdSendSignal(int(fd), sig, nil, 0)
	}); err != nil {
		return os.ErrProcessDone
	}
	if serr == unix.ESRCH {
		return os.ErrProcessDone
	}
	if serr != nil {
		return fmt.Errorf("spawn: pidfd_send_signal %v: %w", sig, serr)
	}
	return nil
}

// Kill sends SIGKILL.
func (p *Process) Kill() error { return p.Signal(unix.SIGKILL) }

// Pidfd returns the child's pidfd. It stays owned by p: valid until Wait or
// Release.
func (p *Process) Pidfd() *os.File { return p.pidfd }

// Release gives up the child without waiting for it: the pidfd is closed
// and the child is left for whoever reaps it. A pid-1 reaper's arena is
// released once the reaper has exited.
func (p *Process) Release() error {
	<-p.started
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state != procRunning {
		return nil
	}
	p.state = procReleased
	if p.startErr != nil {
		return nil
	}
	if a := p.arena; a != nil {
		p.arena = nil
		f := p.pidfd
		go func() {
			// The reaper still runs on a; free it once it exits. WNOWAIT
			// leaves the zombie for its reaper.
			rc, err := f.SyscallConn()
			if err == nil {
				rc.Read(func(fd uintptr) bool {
					var st State
					done, err := waitPidfd(int(fd), unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, &st)
					return done || err != nil
				})
			}
			putArena(a)
			f.Close()
		}()
		return nil
	}
	return p.pidfd.Close()
}

// keepAlive keeps the caller's files reachable until the child holds its
// copies: a finalizer must not close a descriptor number the child is about
// to inherit.
func keepAlive(a *Attr) {
	runtime.KeepAlive(a.Files)
	runtime.KeepAlive(a.Inputs)
	runtime.KeepAlive(a.Cgroup)
}
