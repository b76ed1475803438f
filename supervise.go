//go:build linux

package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/gosandbox/sandbox/spawn"
)

// stdio returns the sandbox's descriptors 0, 1, 2 and the extra files,
// making pipes where the caller's streams are not files or the output must
// be counted. The pipes' copier goroutines go to c.pending: Start runs them
// once the command runs, and cleanup closes their ends otherwise.
func (c *Cmd) stdio(spec *specs.Spec) ([]*os.File, error) {
	if spec.Process.Terminal {
		return c.ttyStdio(spec)
	}
	files := make([]*os.File, 0, 3+len(c.ExtraFiles))
	null := func(flag int) (*os.File, error) {
		f, err := os.OpenFile(os.DevNull, flag, 0)
		if err == nil {
			c.closers = append(c.closers, f)
		}
		return f, err
	}
	counted := c.Limits.Output > 0
	// stdin
	switch in := c.Stdin.(type) {
	case nil:
		f, err := null(os.O_RDONLY)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	case *os.File:
		if counted && writableInput(in) {
			r, w, err := os.Pipe()
			if err != nil {
				return nil, err
			}
			relay, err := newStdinRelay(in, w)
			if err != nil {
				r.Close()
				w.Close()
				return nil, err
			}
			c.closers = append(c.closers, r)
			files = append(files, r)
			c.relay = relay
			c.pending = append(c.pending, func() { go relay.run() })
			break
		}
		files = append(files, in)
		if _, ok := c.owned[in]; ok {
			c.closers = append(c.closers, in) // StdinPipe's: the command holds its own
		}
	default:
		r, w, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		c.closers = append(c.closers, r)
		files = append(files, r)
		c.stdinW = w
		c.pending = append(c.pending, func() {
			c.copiers.Add(1)
			go func() {
				defer c.copiers.Done()
				_, err := io.Copy(w, in)
				w.Close()
				if err != nil && !errors.Is(err, unix.EPIPE) && !errors.Is(err, os.ErrClosed) {
					c.setCopyErr(err)
				}
			}()
		})
	}
	for i, out := range []io.Writer{c.Stdout, c.Stderr} {
		f, isFile := out.(*os.File)
		switch {
		case i == 1 && sameWriter(c.Stdout, c.Stderr) && len(c.readers) > 0 && (!isFile || counted):
			// One pipe for both, as os/exec: one copier writes, in the
			// order the command wrote.
			files = append(files, files[1])
		case out == nil && !counted:
			nf, err := null(os.O_WRONLY)
			if err != nil {
				return nil, err
			}
			files = append(files, nf)
		case isFile && !counted:
			files = append(files, f)
			if _, ok := c.owned[f]; ok {
				c.closers = append(c.closers, f) // a pipe method's: the command holds its own
			}
		default:
			r, w, err := os.Pipe()
			if err != nil {
				return nil, err
			}
			c.closers = append(c.closers, w)
			c.readers = append(c.readers, r)
			files = append(files, w)
			c.pending = append(c.pending, func() {
				c.copiers.Add(1)
				go func() {
					c.copyOut(r, out)
					c.closeOwnedOut(out)
				}()
			})
		}
	}
	files = append(files, c.ExtraFiles...)
	return files, nil
}

// sameWriter reports whether stdout and stderr are one comparable writer
// (os/exec's rule for sharing a pipe).
func sameWriter(a, b io.Writer) (same bool) {
	if a == nil || b == nil {
		return false
	}
	defer func() {
		if recover() != nil {
			same = false // an uncomparable dynamic type
		}
	}()
	return a == b
}

// writableInput reports whether the command could write through an input
// file around Limits.Output: a terminal or another character device (but
// the null device), or a socket. Pipes and regular files are passed as
// they are.
func writableInput(f *os.File) bool {
	var st unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) != nil {
		return true
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFSOCK:
		return true
	case unix.S_IFCHR:
		return st.Rdev != unix.Mkdev(1, 3) // /dev/null
	}
	return false
}

// stdinRelay feeds a writable input (see writableInput) to the command
// through a pipe when its output is counted: given the terminal itself, the
// command could write to it, or reopen it through /proc/self/fd/0, around
// the limit. It is not waited for: it polls the input beside a stop pipe,
// so it never reads input once the command is gone (what is typed then
// stays for the caller), and it ends at EOF, when the command's pipe
// closes, or at stop.
type stdinRelay struct {
	in           *os.File
	w            *os.File // the command's stdin, write end
	stopR, stopW int
	once         sync.Once
	// tty: w is a pty's master, which the relay does not own; it types
	// VEOF at the end of the input instead of closing it.
	tty bool
}

func newStdinRelay(in, w *os.File) (*stdinRelay, error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return nil, err
	}
	return &stdinRelay{in: in, w: w, stopR: p[0], stopW: p[1]}, nil
}

func (r *stdinRelay) run() {
	defer unix.Close(r.stopR)
	if !r.tty {
		defer r.w.Close()
	}
	fd := int(r.in.Fd())
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(r.stopR), Events: unix.POLLIN}}
	buf := make([]byte, 32<<10)
	last := byte('\n') // the last byte relayed (writeEOF's partial line)
	for {
		fds[0].Revents, fds[1].Revents = 0, 0
		if _, err := unix.Poll(fds, -1); err != nil {
			if err == unix.EINTR {
				continue
			}
			return
		}
		if fds[1].Revents != 0 {
			return
		}
		if fds[0].Revents == 0 {
			continue
		}
		n, err := unix.Read(fd, buf)
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		if n <= 0 {
			if r.tty && n == 0 {
				writeEOF(r.w, last)
			}
			return // EOF, or an error: the command sees EOF
		}
		if _, err := r.w.Write(buf[:n]); err != nil {
			return
		}
		last = buf[n-1]
	}
}

// stop ends the relay (and, before it ran, closes what it holds).
func (r *stdinRelay) stop(started bool) {
	r.once.Do(func() {
		unix.Close(r.stopW)
		if !started {
			unix.Close(r.stopR)
			if !r.tty {
				r.w.Close()
			}
		}
	})
}

// outputCounter counts bytes written to stdout and stderr together.
type outputCounter struct {
	n atomic.Int64
}

// copyOut drains r into w, counting against Limits.Output: past it, the
// rest is dropped and the tree killed. When w fails (a reader that went
// away: EPIPE), it stops and closes r, as os/exec does: the command's next
// write fails the same way (SIGPIPE), as if it wrote to w itself.
func (c *Cmd) copyOut(r *os.File, w io.Writer) {
	defer c.copiers.Done()
	buf := make([]byte, 32<<10)
	limit := c.Limits.Output
	for {
		n, err := r.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			if limit > 0 {
				total := c.output.n.Add(int64(n))
				if over := total - limit; over > 0 {
					keep := int64(n) - over
					if keep < 0 {
						keep = 0
					}
					chunk = chunk[:keep]
					c.kill(StatusOutputLimit)
				}
			}
			if w != nil && len(chunk) > 0 {
				if _, werr := w.Write(chunk); werr != nil {
					c.setCopyErr(werr)
					r.Close()
					return
				}
			}
		}
		if err != nil {
			// A pty's master reads EIO once no slave is open: its EOF.
			eof := errors.Is(err, io.EOF) || errors.Is(err, os.ErrClosed) || (r == c.ptmx && errors.Is(err, unix.EIO))
			if !eof {
				c.setCopyErr(err)
			}
			return
		}
	}
}

func (c *Cmd) setCopyErr(err error) {
	c.copyMu.Lock()
	defer c.copyMu.Unlock()
	if c.copyErr == nil {
		c.copyErr = err
	}
}

func (c *Cmd) closeReaders() {
	for _, r := range c.readers {
		r.Close()
	}
}

// kill ends the whole tree once, recording why: the cgroup's kill (every
// process in it, daemons included) and SIGKILL to the sandbox's pid 1,
// whose death ends its pid namespace.
func (c *Cmd) kill(reason Status) {
	select {
	case c.killed <- reason:
	default:
		return // already killed
	}
	c.killTree()
}

// killTree runs only once the process exists: the copiers, the timers and
// the context's watcher all start after Start has it.
func (c *Cmd) killTree() {
	if c.cg != nil {
		c.cg.Kill()
		c.proc.Kill()
		return
	}
	// Without a cgroup, pid 1 ends the tree and reaps it, so that the
	// tree's CPU time is counted; SIGKILL follows if it has not exited
	// soon (it may be stopped). When the request cannot be queued at once
	// (the command, which may share pid 1's ids, lowered its
	// RLIMIT_SIGPENDING), SIGKILL goes now: no limit may depend on what
	// the command leaves of pid 1.
	if c.proc.KillTree() != nil {
		c.proc.Kill()
		return
	}
	time.AfterFunc(killTreeGrace, func() { c.proc.Kill() })
}

// killTreeGrace is how long pid 1 has to end the tree before SIGKILL.
const killTreeGrace = 250 * time.Millisecond

// supervise enforces the wall and CPU limits and the context while the
// command runs, then reaps it, reads the accounting, destroys the cgroup
// and settles the Result.
func (c *Cmd) supervise() {
	defer close(c.done)
	exited := make(chan struct{})
	var wall *time.Timer
	if d := c.Limits.WallTime; d > 0 {
		wall = time.AfterFunc(d-time.Since(c.start), func() { c.kill(StatusWallLimit) })
	}
	if c.Limits.CPUTime > 0 && c.cg != nil {
		go c.watchCPU(exited)
	}
	// canceled is closed once the context ended before the command;
	// cancelErr is then Cancel's error, set before cancelDone closes.
	canceled, cancelDone := make(chan struct{}), make(chan struct{})
	var cancelErr error
	if c.ctx != nil {
		go func() {
			select {
			case <-c.ctx.Done():
			case <-exited:
				return
			}
			close(canceled)
			if c.Cancel != nil {
				cancelErr = c.Cancel()
				close(cancelDone)
				if c.WaitDelay > 0 {
					select {
					case <-time.After(c.WaitDelay):
						c.killTree()
					case <-exited:
					}
				}
			} else {
				c.killTree()
				close(cancelDone)
			}
		}()
	}

	st, err := c.proc.Wait()
	close(exited)
	if c.relay != nil {
		c.relay.stop(true)
	}
	if c.stdinPipe != nil {
		c.stdinPipe.Close() // as os/exec's Wait does once the command exited
	}
	if c.ptmx != nil {
		// Input still being typed into the terminal has no reader now:
		// its copier ends (a full terminal would hold it for good).
		c.ptmx.SetWriteDeadline(time.Now())
	}
	if wall != nil {
		wall.Stop()
	}
	wallTime := time.Since(c.start)
	// The command is gone; anything it left (daemons outside a pid
	// namespace) goes with the cgroup.
	var stats *cgStats
	if c.cg != nil {
		stats = readStats(c.cg)
		c.cg.Destroy()
	}
	c.compiled.Close()
	// Every process with the sandbox's ids is gone: its pid 1 is reaped,
	// and the pid namespace's others died before it.
	c.releaseHostIDs()

	// Output drains once every writer is gone; WaitDelay bounds it.
	drained := make(chan struct{})
	go func() { c.copiers.Wait(); close(drained) }()
	var drainErr error
	if c.WaitDelay > 0 {
		select {
		case <-drained:
		case <-time.After(c.WaitDelay):
			c.closeReaders()
			<-drained
			drainErr = ErrWaitDelay
		}
	} else {
		<-drained
	}
	c.closeReaders()
	c.closeOwned() // the output drained into them: their readers see EOF

	// A limit's kill names the end; failing that, a cancel does, unless
	// it came too late: the command had ended on its own (the default
	// cancel kills, so a command it ended died of SIGKILL), or Cancel
	// said so (os.ErrProcessDone), as with os/exec.
	var reason Status
	var cancelFailed error
	select {
	case reason = <-c.killed:
	default:
		select {
		case <-canceled:
			<-cancelDone
			switch {
			case c.Cancel == nil && !killedBy(st, unix.SIGKILL):
			case errors.Is(cancelErr, os.ErrProcessDone):
			case cancelErr != nil:
				cancelFailed = fmt.Errorf("sandbox: canceling the command: %w", cancelErr)
				reason = StatusCanceled
			default:
				reason = StatusCanceled
			}
		default:
		}
	}
	c.state = st
	res := c.result(st, stats, reason, wallTime)
	c.Result = res
	switch {
	case cancelFailed != nil:
		c.waitErr = cancelFailed
		return
	case reason == StatusCanceled:
		c.waitErr = c.ctx.Err()
		return
	}
	switch {
	case err != nil:
		c.waitErr = err
	case res.Status == StatusOK:
		c.waitErr = drainErr
		if c.waitErr == nil {
			c.copyMu.Lock()
			c.waitErr = c.copyErr
			c.copyMu.Unlock()
		}
	case res.Status == StatusExit || res.Status == StatusSignal || res.Status == StatusSeccompViolation:
		c.waitErr = &ExitError{Result: res}
	default:
		c.waitErr = &LimitError{Result: res, Limit: limitName(res.Status)}
	}
}

// ErrWaitDelay is Wait's error when the command exited but its output
// was still open WaitDelay later (a process it left holds it), as
// os/exec's.
var ErrWaitDelay = errors.New("sandbox: output not drained within WaitDelay")

func limitName(s Status) string {
	switch s {
	case StatusTimeLimit:
		return "time"
	case StatusWallLimit:
		return "wall-time"
	case StatusMemoryLimit, StatusOOM:
		return "memory"
	case StatusOutputLimit:
		return "output-limit"
	case StatusPidsLimit:
		return "pids"
	}
	return string(s)
}

// watchCPU polls the cgroup's CPU accounting and kills the tree when it
// passes the limit: RLIMIT_CPU alone bounds each process, not the tree.
func (c *Cmd) watchCPU(exited <-chan struct{}) {
	limit := c.Limits.CPUTime
	every := min(max(limit/20, 5*time.Millisecond), 100*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-exited:
			return
		case <-t.C:
			st, err := c.cg.Stats()
			if err != nil {
				return
			}
			if st.CPU >= limit {
				c.kill(StatusTimeLimit)
				return
			}
		}
	}
}

// killedBy reports whether st is a death by sig.
func killedBy(st *spawn.State, sig unix.Signal) bool {
	if st == nil {
		return false
	}
	s, ok := st.Signaled()
	return ok && s == sig
}
