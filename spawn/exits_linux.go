//go:build linux

package spawn

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Exit notification. A pidfd polls readable once its process has exited.
// Rather than registering every pidfd with Go's netpoller (an os.File per
// child: fcntl calls, two epoll_ctl, a finalizer), the package keeps one
// epoll set of its own. The netpoller watches that set through an os.File
// of its descriptor, and a single dispatcher goroutine collects whatever is
// ready and wakes the goroutines that wait. Waiting for a child costs one
// epoll_ctl (EPOLLONESHOT: a pidfd is ready only once); closing the pidfd
// removes it from the set. No OS thread is parked per child.
var exits struct {
	once sync.Once
	err  error
	epfd int

	mu      sync.Mutex
	next    uint64
	waiters map[uint64]*exitWaiter
}

// exitWaiter is what a goroutine waiting for an exit sleeps on; a Process
// embeds one, so that waiting allocates nothing.
type exitWaiter struct {
	wg sync.WaitGroup
}

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
	var evs [64]unix.EpollEvent
	for {
		rc.Read(func(fd uintptr) bool {
			for {
				n, err := epollPoll(int(fd), evs[:])
				if err == unix.EINTR {
					continue
				}
				if n > 0 {
					exits.mu.Lock()
					for _, ev := range evs[:n] {
						id := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
						if w, ok := exits.waiters[id]; ok {
							delete(exits.waiters, id)
							w.wg.Done()
						}
					}
					exits.mu.Unlock()
				}
				if n < len(evs) {
					return false // wait for the netpoller
				}
			}
		})
		runtime.KeepAlive(f) // the set is never closed
	}
}

// watchExit arranges for w to be woken once the process behind pidfd has
// exited (or at once if it has). The caller must keep pidfd open until
// then.
func watchExit(pidfd int, w *exitWaiter) error {
	exits.once.Do(initExits)
	if exits.err != nil {
		return exits.err
	}
	w.wg.Add(1)
	exits.mu.Lock()
	exits.next++
	id := exits.next
	exits.waiters[id] = w
	exits.mu.Unlock()
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: int32(uint32(id)), Pad: int32(uint32(id >> 32))}
	err := epollCtl(exits.epfd, unix.EPOLL_CTL_ADD, pidfd, &ev)
	if errors.Is(err, unix.EEXIST) {
		// Watched before and fired (EPOLLONESHOT keeps it, disarmed).
		err = epollCtl(exits.epfd, unix.EPOLL_CTL_MOD, pidfd, &ev)
	}
	if err != nil {
		// No event can come for id.
		exits.mu.Lock()
		delete(exits.waiters, id)
		exits.mu.Unlock()
		w.wg.Done()
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

// awaitExit returns once the process behind pidfd has exited: through the
// package's epoll set, or, should that be unavailable, in a blocking
// waitid(WNOWAIT) that parks this goroutine's thread.
func awaitExit(pidfd int, w *exitWaiter) error {
	if err := watchExit(pidfd, w); err == nil {
		w.wg.Wait()
		return nil
	}
	var st State
	_, err := waitPidfd(pidfd, unix.WEXITED|unix.WNOWAIT, &st)
	return err
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
