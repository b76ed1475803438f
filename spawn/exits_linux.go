//go:build linux

package spawn

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Exit notification. A pidfd polls readable once its process has exited.
// Rather than registering every pidfd with Go's netpoller (an os.File per
// child: fcntl calls, two epoll_ctl, a finalizer), the package keeps one
// epoll set of its own, which the netpoller watches through an os.File of
// its descriptor. Each pidfd is added once, with EPOLLONESHOT (a pidfd is
// ready only once) and a registration id as its data; closing the pidfd
// removes it from the set. No OS thread is parked per child.
//
// A child that starts on the parent's descriptor table (CLONE_FILES) adds
// its own pidfd to the set before its first step, so that the parent does
// not spend the system call (see arena.load).
//
// One goroutine at a time polls the set (a read on its os.File, parked in
// the netpoller): the first waiter that finds nobody polling does it
// itself, so that a lone Wait is woken by the netpoller directly; others
// sleep until the poller collects their events. A poller that leaves hands
// the role to a sleeping waiter, or, when only StartAsync status pipes are
// registered, to a dispatcher goroutine (see dispatchExits).
var exits struct {
	once sync.Once
	err  error
	epfd int
	file *os.File
	rc   syscall.RawConn

	mu      sync.Mutex // guards the rest, and the exitWaiters' fields so marked
	next    uint64
	waiters map[uint64]*exitWaiter
	polling bool // a goroutine reads the set
	nsleep  int  // waiters asleep on their wake
	nasync  int  // registered StartAsync status pipes
}

// exitWaiter is one registration in the set, and what a goroutine waiting
// for it sleeps on; a Process embeds one, so that waiting allocates
// nothing.
type exitWaiter struct {
	id    uint64 // registration in exits.waiters, 0 if none (exits.mu)
	armed bool   // in the set and not collected (the owner's)

	fired    bool // its event was collected (exits.mu)
	sleeping bool // its goroutine sleeps on wake (exits.mu)
	turn     bool // woken to poll the set (exits.mu)
	wake     sync.WaitGroup

	// eof, when set, is a StartAsync whose status pipe this registration
	// watches: its event settles the start (Process.asyncEOF) instead of
	// waking a goroutine.
	eof *Process
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
	exits.epfd, exits.file, exits.rc = fd, f, rc
	exits.waiters = make(map[uint64]*exitWaiter)
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
	id := exits.next
	w.id = id
	w.fired = false
	exits.waiters[id] = w
	if w.eof != nil {
		exits.nasync++
	}
	exits.mu.Unlock()
	return unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: int32(uint32(id)), Pad: int32(uint32(id >> 32))}
}

// unregister drops w's registration; an event that still comes for it is
// ignored.
func (w *exitWaiter) unregister() {
	exits.mu.Lock()
	if w.id != 0 {
		delete(exits.waiters, w.id)
		if w.eof != nil {
			exits.nasync--
		}
		w.id = 0
	}
	exits.mu.Unlock()
	w.armed = false
}

// watch adds fd (a pidfd, or a status pipe for an eof registration) to
// the set under a fresh registration.
func (w *exitWaiter) watch(fd int) error {
	if !exitsReady() {
		return exits.err
	}
	ev := w.register()
	err := epollCtl(exits.epfd, unix.EPOLL_CTL_ADD, fd, &ev)
	if errors.Is(err, unix.EEXIST) {
		// Watched before (EPOLLONESHOT keeps it, disarmed once collected).
		err = epollCtl(exits.epfd, unix.EPOLL_CTL_MOD, fd, &ev)
	}
	if err != nil {
		w.unregister()
		return os.NewSyscallError("epoll_ctl", err)
	}
	w.armed = true
	if w.eof != nil {
		exits.mu.Lock()
		if !exits.polling {
			exits.polling = true
			go dispatchExits()
		}
		exits.mu.Unlock()
	}
	return nil
}

// collectLocked marks the registrations of a batch of events fired, wakes
// their sleeping goroutines, and returns the StartAsync starts to settle.
func collectLocked(evs []unix.EpollEvent, eofs []*Process) []*Process {
	for _, ev := range evs {
		id := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
		w, ok := exits.waiters[id]
		if !ok {
			continue // unregistered since
		}
		fireLocked(w)
		if w.eof != nil {
			eofs = append(eofs, w.eof)
		}
	}
	return eofs
}

func fireLocked(w *exitWaiter) {
	delete(exits.waiters, w.id)
	w.id = 0
	if w.eof != nil {
		exits.nasync--
		return
	}
	w.fired = true
	if w.sleeping {
		w.sleeping = false
		exits.nsleep--
		w.wake.Done()
	}
}

// drain collects every event of the set (fd) and settles the StartAsync
// starts among them.
func drain(fd uintptr) {
	var (
		evs     [32]unix.EpollEvent
		eofsBuf [32]*Process
	)
	for {
		n, err := epollPoll(int(fd), evs[:])
		if err == unix.EINTR {
			continue
		}
		if n <= 0 {
			return
		}
		exits.mu.Lock()
		eofs := collectLocked(evs[:n], eofsBuf[:0])
		exits.mu.Unlock()
		for _, p := range eofs {
			p.asyncEOF()
		}
		if n < len(evs) {
			return
		}
	}
}

// soleLocked reports whether w is the only registration: an event of the
// set can then only be its own.
func soleLocked(w *exitWaiter) bool {
	return len(exits.waiters) == 1 && w.id != 0 && exits.waiters[w.id] == w
}

// handoffLocked runs when a poller leaves: a sleeping waiter takes the
// role, or, for StartAsync status pipes only, the dispatcher goroutine.
func handoffLocked() {
	if exits.polling {
		return
	}
	if exits.nsleep > 0 {
		for _, w := range exits.waiters {
			if w.sleeping {
				w.sleeping = false
				exits.nsleep--
				w.turn = true
				exits.polling = true
				w.wake.Done()
				return
			}
		}
	}
	if exits.nasync > 0 {
		exits.polling = true
		go dispatchExits()
	}
}

// dispatchExits polls the set while StartAsync status pipes are registered
// and no waiter polls; it hands the role to a waiter that comes to sleep.
// exits.polling is set for it.
func dispatchExits() {
	exits.rc.Read(func(fd uintptr) bool {
		drain(fd)
		exits.mu.Lock()
		stop := exits.nasync == 0 || exits.nsleep > 0
		exits.mu.Unlock()
		return stop
	})
	exits.mu.Lock()
	exits.polling = false
	handoffLocked()
	exits.mu.Unlock()
}

// wait returns once waitid(options) on pidfd succeeds (options is
// WEXITED, with WNOWAIT to leave the zombie), filling st: the child has
// exited. It waits through the package's epoll set, or, should that be
// unavailable, in a blocking waitid that parks this goroutine's thread.
// The caller keeps pidfd open.
func (w *exitWaiter) wait(pidfd int, st *State, options int) error {
	if !exitsReady() {
		_, err := waitPidfd(pidfd, options, st)
		return err
	}
	for {
		if !w.armed {
			if done, err := waitPidfd(pidfd, options|unix.WNOHANG, st); done || err != nil {
				return err
			}
			if err := w.watch(pidfd); err != nil {
				_, err = waitPidfd(pidfd, options, st)
				return err
			}
		}
		exits.mu.Lock()
		switch {
		case w.turn || !exits.polling:
			w.turn = false
			exits.polling = true
			exits.mu.Unlock()
			done, err := w.pollSet(pidfd, st, options)
			exits.mu.Lock()
			exits.polling = false
			handoffLocked()
			exits.mu.Unlock()
			if done || err != nil {
				return err
			}
			continue
		case w.fired:
			// Another poller collected the event (and woke us).
			w.fired = false
			exits.mu.Unlock()
			w.armed = false
			if done, err := waitPidfd(pidfd, options|unix.WNOHANG, st); done || err != nil {
				return err
			}
			continue // not an exit after all (see pollSet): watch again
		}
		// Another goroutine polls: sleep until it collects this event or
		// hands over the role.
		w.sleeping = true
		exits.nsleep++
		w.wake.Add(1)
		exits.mu.Unlock()
		w.wake.Wait()
	}
}

// pollSet reads the set as its poller until w's child has exited (done),
// collecting the events of others on the way. exits.polling is set for
// it. It returns with !done when w's event was collected but the child
// still runs (a stale wake, see below).
func (w *exitWaiter) pollSet(pidfd int, st *State, options int) (done bool, err error) {
	first := true
	stale := false
	rerr := exits.rc.Read(func(fd uintptr) bool {
		exits.mu.Lock()
		sole := soleLocked(w)
		if !first && sole {
			// The readiness can only be w's: skip collecting it. The
			// uncollected event stays in the set's ready list until the
			// pidfd is closed, and later events still wake the netpoller
			// (it watches the set edge-triggered). If it was in fact the
			// event of a pidfd unregistered but not closed yet, waitid
			// below finds the child running, and w waits again.
			fireLocked(w)
		}
		exits.mu.Unlock()
		// On the first call, collect what came before this read began
		// (the netpoller's readiness was reset by it), or, when w is
		// alone, check w's own exit with waitid. After a collection, an
		// exit not collected yet wakes the netpoller again.
		if !sole {
			drain(fd)
		}
		exits.mu.Lock()
		check := first && sole || w.fired
		if w.fired {
			w.fired = false
			w.armed = false
		}
		exits.mu.Unlock()
		first = false
		if !check {
			return false
		}
		done, err = waitPidfd(pidfd, options|unix.WNOHANG, st)
		if done || err != nil {
			return true
		}
		if !w.armed {
			stale = true // w's registration is gone: wait watches again
			return true
		}
		return false
	})
	if rerr != nil && err == nil && !done && !stale {
		// The set is unusable (it is never closed; this is defensive).
		_, err = waitPidfd(pidfd, options, st)
		done = err == nil
	}
	return done, err
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
