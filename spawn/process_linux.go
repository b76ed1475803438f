//go:build linux

package spawn

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Process is a spawned child, held through its pidfd (no pid reuse races).
// Its methods are safe for concurrent use, except that Wait may be called
// once. Every Process must be waited for or released: until then it holds
// its pidfd and, once exited, a zombie.
type Process struct {
	Pid int

	prog    *Program
	attr    *Attr    // until the start settles
	status  int      // blocking status pipe's read end (Start with a pipe)
	statusF *os.File // non-blocking status pipe (StartAsync with sync points)
	syncW   int

	started  chan struct{}
	startErr error

	// mu guards arena, pidfd, pidfdF and state.
	mu     sync.Mutex
	arena  *arena // until the child cannot touch it
	pidfd  int    // -1 once closed
	pidfdF *os.File
	state  procState

	exit       exitWaiter
	exitSt     State      // what Wait returns
	statusWait exitWaiter // StartAsync without sync points: the status pipe
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
	// Rusage is the child's: under a pid-1 reaper, the reaper's, whose
	// times include everything it reaped. Its ru_maxrss is no measure of
	// the command: a CLONE_VM child's includes this process's resident
	// set (the kernel folds the old mm's peak in at exec), and a reaper's
	// is this process's own.
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

// awaitStarted waits until the start settled. A synchronous start settled
// before Start returned: its channel is the shared closed one, which is
// better left untouched by many goroutines.
func (p *Process) awaitStarted() {
	if p.started != closedChan {
		<-p.started
	}
}

// ErrWaited is returned by a second Wait.
var ErrWaited = errors.New("spawn: Wait already called")

// Wait waits for the child to exit, reaps it and releases its resources.
// It waits for the start first; if the start failed, it returns that error
// (the child was already reaped). For a program with a pid-1 reaper the
// status is the command's, as the reaper recorded it.
func (p *Process) Wait() (*State, error) {
	p.awaitStarted()
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

// reap waits for exit through the netpoller (see exits_linux.go), then
// releases the pidfd and the arena.
func (p *Process) reap() (*State, error) {
	st := &p.exitSt
	st.Pid = p.Pid
	fd := p.pidfd // only reap and Release close it, never concurrently
	err := p.exit.wait(fd, st, unix.WEXITED)
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
	p.exit.unregister()
	p.closePidfd()
	p.state = procDone
	return st, nil
}

// closePidfd closes the pidfd, through its os.File if Pidfd made one.
// p.mu is held.
func (p *Process) closePidfd() error {
	fd := p.pidfd
	p.pidfd = -1
	switch {
	case p.pidfdF != nil:
		return p.pidfdF.Close()
	case fd >= 0:
		return closeFd(fd)
	}
	return nil
}

// Signal sends sig to the child through its pidfd. It returns
// os.ErrProcessDone once the child was reaped.
func (p *Process) Signal(sig unix.Signal) error {
	return p.send(sig.String(), func(fd int) error { return unix.PidfdSendSignal(fd, sig, nil, 0) })
}

// send runs a pidfd_send_signal call on the child's pidfd while it is
// held: os.ErrProcessDone once the child was reaped (or is gone: ESRCH).
func (p *Process) send(what string, call func(pidfd int) error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state == procDone || p.state == procReleased || p.pidfd < 0 {
		return os.ErrProcessDone
	}
	err := call(p.pidfd)
	if err == unix.ESRCH {
		return os.ErrProcessDone
	}
	if err != nil {
		return fmt.Errorf("spawn: pidfd_send_signal %s: %w", what, err)
	}
	return nil
}

// Kill sends SIGKILL.
func (p *Process) Kill() error { return p.Signal(unix.SIGKILL) }

// KillTree ends the child and everything it started. A pid-1 reaper of a
// new pid namespace is asked to do it (SIGRTMAX, SI_QUEUE, with a value
// only this package sends): it sends SIGKILL to every other process of the
// namespace and reaps them, so that their CPU time reaches Wait's rusage
// (when the kernel ends a namespace whose pid 1 died, it drops it).
// Any other child gets SIGKILL. The request is not a kill: a caller that
// needs one whatever the reaper does follows up with Kill.
func (p *Process) KillTree() error {
	if !p.prog.reaper || p.prog.cloneFlags&unix.CLONE_NEWPID == 0 {
		return p.Kill()
	}
	return p.send("kill-tree request", sendKillTree)
}

// Pidfd returns the child's pidfd, in blocking mode. It stays owned by p:
// valid until Wait or Release, which close it. The *os.File is made on the
// first call; Wait does not need it.
func (p *Process) Pidfd() *os.File {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pidfdF == nil && p.pidfd >= 0 {
		p.pidfdF = os.NewFile(uintptr(p.pidfd), "pidfd")
	}
	return p.pidfdF
}

// Release gives up the child without waiting for it: the pidfd is closed
// and the child is left for whoever reaps it. A pid-1 reaper's arena is
// released once the reaper has exited.
func (p *Process) Release() error {
	p.awaitStarted()
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
		fd, f := p.pidfd, p.pidfdF
		p.pidfd = -1
		go func() {
			// The reaper still runs on a; free it once it exits, leaving
			// the zombie for its reaper.
			var st State
			p.exit.wait(fd, &st, unix.WEXITED|unix.WNOWAIT)
			p.exit.unregister()
			putArena(a)
			if f != nil {
				f.Close()
			} else {
				closeFd(fd)
			}
		}()
		return nil
	}
	p.exit.unregister()
	return p.closePidfd()
}

// closeStrayPidfds closes this process's pidfds for pid: a child killed
// while opening its own pidfd (see arena.childPidfd) may have left one
// whose number it could not record. The child was cloned microseconds ago
// and Start has not returned it: no other pidfd for it can exist here.
func closeStrayPidfds(pid int) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	want := "Pid:\t" + strconv.Itoa(pid) + "\n"
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if l, _ := os.Readlink("/proc/self/fd/" + e.Name()); l != "anon_inode:[pidfd]" {
			continue
		}
		if b, _ := os.ReadFile("/proc/self/fdinfo/" + e.Name()); strings.Contains(string(b), want) {
			closeFd(fd)
		}
	}
}

// keepAlive keeps the caller's files reachable until the child holds its
// copies: a finalizer must not close a descriptor number the child is about
// to inherit.
func keepAlive(a *Attr) {
	runtime.KeepAlive(a.Files)
	runtime.KeepAlive(a.Inputs)
	runtime.KeepAlive(a.Cgroup)
}
