//go:build linux

package spawn

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Exit notification. A pidfd polls readable once its process has exited.
// Rather than registering every pidfd with Go's netpoller (an os.File per
// child: fcntl calls, two epoll_ctl, a finalizer), the package keeps one
// epoll set of its own. The netpoller watches that set through an os.File
// of its descriptor, and a single dispatcher goroutine collects whatever is
// ready and wakes the goroutines that wait. Each pidfd is added once, with
// EPOLLONESHOT (a pidfd is ready only once) and a registration id as its
// data; closing the pidfd removes it from the set. No OS thread is parked
// per child.
//
// A child that starts on the parent's descriptor table (CLONE_FILES) adds
// its own pidfd to the set before its first step, so that the parent does
// not spend the system call (see arena.load).
var exits struct {
	once sync.Once
	err  error
	epfd int

	mu      sync.Mutex
	next    uint64
	waiters map[uint64]*exitWaiter
}

// exitWaiter is a process's registration in the set; a Process embeds
// one, so that waiting allocates nothing. Only the goroutine that waits
// touches id and armed; state is shared with the dispatcher.
type exitWaiter struct {
	id    uint64 // registration in exits.waiters, 0 if none
	armed bool   // the pidfd is in the set with id and has not fired
	state atomic.Uint32
	wg    sync.WaitGroup

	// eof, when set, is a StartAsync whose status pipe this waiter
	// watches: the dispatcher settles it (see Process.asyncEOF) instead of
	// waking a goroutine.
	eof *Process
}

// exitWaiter states.
const (
	exitIdle    = iota
	exitWaiting // a goroutine sleeps on wg
	exitFired   // the dispatcher saw the event
)

func initExits() {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		exits.err = os.NewSyscallError("epoll_create1", err)
		return
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		exits.err = os.NewSyscallError("fcntl", err)
		return
	}
	// O_NONBLOCK makes os.NewFile register the set with the netpoller;
	// SetReadDeadline fails on a file it could not register.
	f := os.NewFile(uintptr(fd), "spawn-exits")
	if err := f.SetReadDeadline(time.Time{}); err != nil {
		f.Close()
		exits.err = err
		return
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		exits.err = err
		return
	}
	exits.epfd = fd
	exits.waiters = make(map[uint64]*exitWaiter)
	go dispatchExits(f, rc)
}

// dispatchExits runs for the life of the process: it drains the epoll set
// each time the netpoller reports it readable, and wakes the waiters.
func dispatchExits(f *os.File, rc syscall.RawConn) {
	var (
		evs  [64]unix.EpollEvent
		eofs [64]*Process
	)
	for {
		first := true
		rc.Read(func(fd uintptr) bool {
			if !first && fireSole() {
				return false
			}
			first = false
			for {
				n, err := epollPoll(int(fd), evs[:])
				if err == unix.EINTR {
					continue
				}
				if n > 0 {
					neof := 0
					exits.mu.Lock()
					for _, ev := range evs[:n] {
						id := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
						w, ok := exits.waiters[id]
						if !ok {
							continue
						}
						delete(exits.waiters, id)
						if w.eof != nil {
							eofs[neof] = w.eof
							neof++
						} else if w.state.Swap(exitFired) == exitWaiting {
							w.wg.Done()
						}
					}
					exits.mu.Unlock()
					for i, p := range eofs[:neof] {
						p.asyncEOF()
						eofs[i] = nil
					}
				}
				if n < len(evs) {
					return false // wait for the netpoller
				}
			}
		})
		runtime.KeepAlive(f) // the set is never closed
	}
}

// fireSole handles a readiness of the set while a single process is
// registered: the event can only be its own, so the dispatcher skips
// collecting it (epoll_wait) and wakes the waiter at once. The uncollected
// event stays in the set's ready list until the pidfd is closed, and later
// events still notify the netpoller (it watches the set edge-triggered, and
// every new event wakes it). A wake that was not that process's exit (an
// event of a pidfd unregistered but not yet closed) is harmless: the
// waiter finds its child running and waits again.
func fireSole() bool {
	exits.mu.Lock()
	defer exits.mu.Unlock()
	if len(exits.waiters) != 1 {
		return false
	}
	for id, w := range exits.waiters {
		if w.eof != nil {
			return false // a status pipe: EOF must be certain
		}
		delete(exits.waiters, id)
		if w.state.Swap(exitFired) == exitWaiting {
			w.wg.Done()
		}
	}
	return true
}

// exitsReady initializes the set once and reports whether it works.
func exitsReady() bool {
	exits.once.Do(initExits)
	return exits.err == nil
}

// register gives w a fresh registration id (the data of its epoll event).
// The set must be ready.
func (w *exitWaiter) register() unix.EpollEvent {
	exits.mu.Lock()
	exits.next++
	w.id = exits.next
	exits.waiters[w.id] = w
	exits.mu.Unlock()
	w.state.Store(exitIdle)
	return unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: int32(uint32(w.id)), Pad: int32(uint32(w.id >> 32))}
}

// unregister drops w's registration; an event that still comes for it is
// ignored.
func (w *exitWaiter) unregister() {
	if w.id != 0 {
		exits.mu.Lock()
		delete(exits.waiters, w.id)
		exits.mu.Unlock()
		w.id = 0
	}
	w.armed = false
}

// watch adds pidfd to the set under a fresh registration.
func (w *exitWaiter) watch(pidfd int) error {
	if !exitsReady() {
		return exits.err
	}
	ev := w.register()
	err := epollCtl(exits.epfd, unix.EPOLL_CTL_ADD, pidfd, &ev)
	if errors.Is(err, unix.EEXIST) {
		// Watched before and fired (EPOLLONESHOT keeps it, disarmed).
		err = epollCtl(exits.epfd, unix.EPOLL_CTL_MOD, pidfd, &ev)
	}
	if err != nil {
		w.unregister()
		return os.NewSyscallError("epoll_ctl", err)
	}
	w.armed = true
	return nil
}

// await returns once the process behind pidfd has exited: through the
// package's epoll set, or, should that be unavailable, in a blocking
// waitid(WNOWAIT) that parks this goroutine's thread. The caller keeps
// pidfd open.
func (w *exitWaiter) await(pidfd int) error {
	if !w.armed {
		if err := w.watch(pidfd); err != nil {
			var st State
			_, err := waitPidfd(pidfd, unix.WEXITED|unix.WNOWAIT, &st)
			return err
		}
	}
	w.wg.Add(1)
	if w.state.CompareAndSwap(exitIdle, exitWaiting) {
		w.wg.Wait()
	} else {
		w.wg.Done() // it fired already
	}
	// The dispatcher dropped the registration when it fired.
	w.id, w.armed = 0, false
	return nil
}

// clearMayFail reports whether this kernel may leave a CLONE_CHILD_CLEARTID
// word set when the child dies: before Linux 5.17, mm_release skipped the
// clear for a core-dumping process (SIGNAL_GROUP_COREDUMP).
var clearMayFail = sync.OnceValue(func() bool {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return true
	}
	var major, minor int
	if _, err := fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &major, &minor); err != nil {
		return true
	}
	return major < 5 || major == 5 && minor < 17
})
