package cgroups

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Bounds on waiting for the kernel. They are generous: a killed process
// exits within milliseconds unless it is stuck in the kernel.
const (
	emptyWait  = 10 * time.Second // Destroy: for the group to empty
	freezeWait = time.Second      // for a freeze to complete
	killWait   = 10 * time.Second // Kill without cgroup.kill: for stragglers
)

// Kill sends SIGKILL to every process in the sandbox, including those
// forked while it runs, and those that double-forked or changed session.
// It does not wait for them to exit; Destroy does.
//
//   - cgroup2 with cgroup.kill (Linux 5.14; on hybrid hosts, the unified
//     twin): one write. The kernel also kills tasks forked meanwhile.
//   - otherwise, with a freezer (cgroup2 cgroup.freeze, Linux 5.2; v1
//     freezer.state): freeze, signal every member, thaw, until the group
//     is empty. Frozen tasks cannot fork, so no member escapes.
//   - otherwise: signal every member until the group is empty. A fork bomb
//     can delay this; the pids limit bounds it.
//
// Members are signalled through pidfds after checking, by
// /proc/<pid>/cgroup, that they are still members, so a recycled pid is
// never hit.
func (c *Cgroup) Kill() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.destroyed {
		return ErrDestroyed
	}
	return c.killLocked()
}

func (c *Cgroup) killLocked() error {
	if c.v2 != nil {
		err := c.l.writeFile(c.v2.dir, "cgroup.kill", "1")
		if err == nil || !errors.Is(err, unix.ENOENT) {
			return err
		}
		return c.freezeKill(c.v2, "cgroup.freeze")
	}
	for _, n := range c.v1 {
		if n.h.Has("freezer") {
			return c.freezeKill(n, "freezer.state")
		}
	}
	if len(c.v1) > 0 {
		return c.freezeKill(c.v1[0], "")
	}
	return nil
}

// freezeKill freezes n with file (none when empty), signals its members
// and thaws it, until n is empty.
func (c *Cgroup) freezeKill(n *node, file string) error {
	deadline := time.Now().Add(killWait)
	delay := time.Millisecond
	for {
		pids, err := readTreePids(n.dir)
		if err != nil || len(pids) == 0 {
			return err
		}
		if file != "" {
			if err := c.freeze(n, file, true); err != nil && !errors.Is(err, unix.ENOENT) {
				return err
			}
			if pids, err = readTreePids(n.dir); err != nil {
				return err
			}
		}
		for _, pid := range pids {
			signalMember(pid, n)
		}
		if file != "" {
			if err := c.freeze(n, file, false); err != nil && !errors.Is(err, unix.ENOENT) {
				return err
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroups: kill %s: %d processes remain after %v", n.dir, len(pids), killWait)
		}
		time.Sleep(delay)
		delay = min(2*delay, 50*time.Millisecond)
	}
}

// freeze freezes or thaws n and, when freezing, waits (bounded) until the
// kernel reports every member frozen. A freeze that does not complete in
// time is not an error: members that are not frozen are signalled anyway,
// and the caller loops.
func (c *Cgroup) freeze(n *node, file string, on bool) error {
	data := map[bool]string{true: "FROZEN", false: "THAWED"}[on]
	if file == "cgroup.freeze" {
		data = map[bool]string{true: "1", false: "0"}[on]
	}
	if err := c.l.writeFile(n.dir, file, data); err != nil || !on {
		return err
	}
	deadline := time.Now().Add(freezeWait)
	for delay := 100 * time.Microsecond; time.Now().Before(deadline); delay = min(2*delay, 10*time.Millisecond) {
		var done bool
		if file == "cgroup.freeze" {
			b, err := readFile(n.dir, "cgroup.events")
			v, ok := keyed(b, "frozen")
			done = err != nil || (ok && v == 1)
		} else {
			b, err := readFile(n.dir, "freezer.state")
			done = err != nil || strings.TrimSpace(string(b)) == "FROZEN"
		}
		if done {
			return nil
		}
		time.Sleep(delay)
	}
	return nil
}

// signalMember sends SIGKILL to pid if it is still in n's cgroup (or
// below). The pidfd pins the process between the check and the signal.
func signalMember(pid int, n *node) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return // gone
	}
	defer unix.Close(fd)
	if !isMember(pid, n) {
		return
	}
	unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
}

// isMember reads /proc/<pid>/cgroup and reports whether pid's cgroup in
// n's hierarchy is n or one of its descendants.
func isMember(pid int, n *node) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return false
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		f := strings.SplitN(string(line), ":", 3)
		if len(f) != 3 {
			continue
		}
		match := f[0] == "0" && f[1] == "" && n.h.Version == 2
		if n.h.Version == 1 {
			for _, ctrl := range strings.Split(f[1], ",") {
				match = match || (len(n.h.Controllers) > 0 && ctrl == n.h.Controllers[0])
			}
		}
		if match {
			p := path.Clean(f[2])
			return p == n.cgPath || strings.HasPrefix(p, n.cgPath+"/")
		}
	}
	return false
}

// Pids lists the processes in the sandbox: those of the cgroup2 directory
// when there is one, else of the first v1 hierarchy.
func (c *Cgroup) Pids() ([]int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.destroyed {
		return nil, ErrDestroyed
	}
	ns := c.nodes()
	if len(ns) == 0 {
		return nil, nil
	}
	return readPids(ns[0].dir)
}

// Destroy kills every process in the sandbox, waits until the group is
// empty, closes Dir and Inputs, and removes the leaf in each hierarchy,
// then the parent directories no other sandbox uses (see Config.Parent). Waits are bounded (about ten seconds for the group to empty, five
// for the kernel to release a busy directory); on failure the error names
// what remains and Destroy may be called again. Once it has succeeded it
// returns nil.
func (c *Cgroup) Destroy() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.destroyed {
		return nil
	}
	var errs []error
	if err := c.killLocked(); err != nil {
		errs = append(errs, err)
	}
	if err := c.waitEmpty(); err != nil {
		errs = append(errs, err)
	}
	c.closeFiles()
	if err := c.removeDirs(true); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		c.destroyed = true
	}
	return errors.Join(errs...)
}

// waitEmpty waits, bounded, until no hierarchy of c holds a process. The
// cgroup2 directory is watched through cgroup.events ("populated 0",
// notified with POLLPRI); v1 directories are polled, and any member still
// there is signalled again (one that joined v1 but not the cgroup2 twin).
func (c *Cgroup) waitEmpty() error {
	deadline := time.Now().Add(emptyWait)
	if c.v2 != nil {
		if err := waitPopulated(c.v2.dir, deadline); err != nil {
			return err
		}
	}
	for _, n := range c.v1 {
		delay := 100 * time.Microsecond
		for {
			pids, err := readPids(n.dir)
			if err != nil {
				return err
			}
			if len(pids) == 0 {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("cgroups: %s still holds processes %v after %v", n.dir, pids, emptyWait)
			}
			for _, pid := range pids {
				signalMember(pid, n)
			}
			time.Sleep(delay)
			delay = min(2*delay, 20*time.Millisecond)
		}
	}
	return nil
}

// waitPopulated waits until dir's cgroup.events says "populated 0". A
// kernfs file signals changes with POLLPRI after it has been read.
func waitPopulated(dir string, deadline time.Time) error {
	fd, err := openRetry(dir+"/cgroup.events", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err == unix.ENOENT {
		return nil
	}
	if err != nil {
		return fileError("open", dir, "cgroup.events", err)
	}
	defer unix.Close(fd)
	buf := make([]byte, 256)
	for {
		n, err := unix.Pread(fd, buf, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fileError("read", dir, "cgroup.events", err)
		}
		if v, ok := keyed(buf[:n], "populated"); !ok || v == 0 {
			return nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			pids, _ := readPids(dir)
			return fmt.Errorf("cgroups: %s still holds processes %v after %v", dir, pids, emptyWait)
		}
		// Wake up at least every 100ms: a missed notification only delays.
		ms := int(min(left, 100*time.Millisecond) / time.Millisecond)
		unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLPRI}}, max(ms, 1))
	}
}
