//go:build linux

package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/gosandbox/sandbox/oci"
	"github.com/gosandbox/sandbox/spawn"
)

// A spec with process.terminal runs the command on a pseudo-terminal of
// its own: its stdin, stdout and stderr are the pty's slave, its
// controlling terminal; Start relays Stdin to the pty's master and the
// master to Stdout (counted against Limits.Output), and Stderr gets
// nothing, as with any terminal. The caller's own terminal never reaches
// the sandbox. Input that is not a terminal's is typed in as keys: the
// terminal echoes it (into Stdout), and in canonical mode cuts lines
// longer than 4095 bytes.
//
// Where the spec mounts a devpts at /dev/pts (the default sandbox does),
// the command makes the pty there itself, as its own user, and sends the
// master back before exec (oci.Options.Console): the terminal is
// /dev/pts/0 inside, as tty(1) and ttyname(3) report, and belongs to the
// command's user. Otherwise the pty comes from this process's /dev/ptmx
// and has no name inside.

// openPTY opens a new pseudo-terminal: its master, and its slave opened
// through the master (TIOCGPTPEER, Linux 4.13), so that no path under
// /dev/pts is looked up. Both are close-on-exec, the slave not a
// controlling terminal of this process. The master is non-blocking, read
// and written through the netpoller, so that closing it ends a read in
// progress (WaitDelay): callers must not call its Fd, which would make it
// blocking again, but use withFd.
func openPTY() (master, slave *os.File, err error) {
	m, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("sandbox: terminal: open /dev/ptmx: %w", err)
	}
	if err := unix.IoctlSetPointerInt(m, unix.TIOCSPTLCK, 0); err != nil { // unlockpt
		unix.Close(m)
		return nil, nil, fmt.Errorf("sandbox: terminal: unlocking the pty: %w", err)
	}
	s, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(m), unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
	if errno != 0 {
		unix.Close(m)
		return nil, nil, fmt.Errorf("sandbox: terminal: opening the pty's slave (TIOCGPTPEER): %w", errno)
	}
	return os.NewFile(uintptr(m), "/dev/ptmx"), os.NewFile(s, "pty slave"), nil
}

// consoleSize is the terminal's first size: the spec's
// process.consoleSize, else the caller's terminal's when Stdin is one,
// else 24x80.
func (c *Cmd) consoleSize(spec *specs.Spec) unix.Winsize {
	if cs := spec.Process.ConsoleSize; cs != nil && cs.Height > 0 && cs.Width > 0 && cs.Height <= 0xffff && cs.Width <= 0xffff {
		return unix.Winsize{Row: uint16(cs.Height), Col: uint16(cs.Width)}
	}
	if f, ok := c.Stdin.(*os.File); ok {
		if w, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil && w.Row > 0 && w.Col > 0 {
			return *w
		}
	}
	return unix.Winsize{Row: 24, Col: 80}
}

// ttyStdio is stdio for a command on a terminal: the slave three times,
// then ExtraFiles; or, when the command makes its pty (ConsoleInside),
// the sandbox's end of the console socket three times, which the slave
// replaces. The master is relayed once the command runs (c.ptmx then).
func (c *Cmd) ttyStdio(spec *specs.Spec) ([]*os.File, error) {
	var std *os.File
	if oci.ConsoleInside(spec) {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("sandbox: terminal: console socket: %w", err)
		}
		c.console = os.NewFile(uintptr(fds[0]), "console socket")
		c.consolePeer = os.NewFile(uintptr(fds[1]), "console socket (the sandbox's end)")
		c.closers = append(c.closers, c.console, c.consolePeer)
		std = c.consolePeer
	} else {
		master, slave, err := openPTY()
		if err != nil {
			return nil, err
		}
		c.ptmx = master
		c.readers = append(c.readers, master) // closed once the output drained
		c.closers = append(c.closers, slave)  // the command holds its own
		ws := c.consoleSize(spec)
		if err := withFd(master, func(fd int) error { return unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &ws) }); err != nil {
			return nil, fmt.Errorf("sandbox: terminal: setting its size: %w", err)
		}
		std = slave
	}
	// The closures below run once the command runs, c.ptmx set.
	c.pending = append(c.pending, func() {
		c.copiers.Add(1)
		go func() {
			c.copyOut(c.ptmx, c.Stdout)
			c.closeOwnedOut(c.Stdout)
		}()
	})
	in := c.Stdin
	if f, ok := in.(*os.File); ok {
		if _, mine := c.owned[f]; mine {
			// StdinPipe's: copied until its writer closes it (by the
			// command's exit at the latest), not polled as a caller's.
			in = struct{ io.Reader }{f}
		}
	}
	switch in := in.(type) {
	case nil:
		// As /dev/null: the first read ends at once.
		c.pending = append(c.pending, func() { writeEOF(c.ptmx, '\n') })
	case *os.File:
		// Polled beside a stop pipe, so that no input is taken once the
		// command is gone.
		relay, err := newStdinRelay(in, nil)
		if err != nil {
			return nil, err
		}
		relay.tty = true
		c.relay = relay
		c.pending = append(c.pending, func() {
			relay.w = c.ptmx
			go relay.run()
		})
	default:
		c.pending = append(c.pending, func() {
			master := c.ptmx
			c.copiers.Add(1)
			go func() {
				defer c.copiers.Done()
				w := &lastByteWriter{w: master, last: '\n'}
				// Ends at EOF, or once the command exited with input
				// left (supervise's write deadline).
				if _, err := io.Copy(w, in); err == nil {
					writeEOF(master, w.last)
				} else if !errors.Is(err, unix.EIO) && !errors.Is(err, os.ErrClosed) && !errors.Is(err, os.ErrDeadlineExceeded) {
					c.setCopyErr(err)
				}
			}()
		})
	}
	files := []*os.File{std, std, std}
	return append(files, c.ExtraFiles...), nil
}

// receiveConsole takes the pty's master that the command sent over the
// console socket. The command sent it before exec, so once the start has
// succeeded it is queued: nothing waits here.
func (c *Cmd) receiveConsole() error {
	buf := make([]byte, 1)
	oob := make([]byte, unix.CmsgSpace(4*4)) // room to see a wrong message whole
	var n, oobn, flags int
	err := withFd(c.console, func(fd int) (err error) {
		n, oobn, flags, _, err = unix.Recvmsg(fd, buf, oob, unix.MSG_DONTWAIT|unix.MSG_CMSG_CLOEXEC)
		return err
	})
	if err != nil {
		return fmt.Errorf("sandbox: terminal: receiving the pty's master: %w", err)
	}
	var fds []int
	if msgs, perr := unix.ParseSocketControlMessage(oob[:oobn]); perr == nil {
		for i := range msgs {
			if r, perr := unix.ParseUnixRights(&msgs[i]); perr == nil {
				fds = append(fds, r...)
			}
		}
	}
	if n != 1 || len(fds) != 1 || flags&unix.MSG_CTRUNC != 0 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		if flags&unix.MSG_CTRUNC != 0 {
			return errors.New("sandbox: terminal: receiving the pty's master: its descriptors were cut off (MSG_CTRUNC: too many, or none free here)")
		}
		return fmt.Errorf("sandbox: terminal: the console socket carried %d bytes and %d descriptors, not the pty's master", n, len(fds))
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		return fmt.Errorf("sandbox: terminal: the pty's master: %w", err)
	}
	c.ptmx = os.NewFile(uintptr(fds[0]), "/dev/pts/ptmx (the sandbox's)")
	c.readers = append(c.readers, c.ptmx) // closed once the output drained
	return nil
}

// abort ends a sandbox whose start succeeded but that Start gives up on:
// the whole tree is killed and its pid 1 reaped.
func (c *Cmd) abort(p *spawn.Process) {
	if c.cg != nil {
		c.cg.Kill()
	}
	p.Signal(unix.SIGKILL)
	p.Wait()
}

// writeEOF types the terminal's end-of-file character (VEOF, ^D), which
// ends the command's read as an end of input does (in canonical mode,
// where the command has not turned it off). After a partial line (last
// is not a newline) the first VEOF only hands that line over: a second
// one is the end.
func writeEOF(master *os.File, last byte) {
	eof := byte(4)
	withFd(master, func(fd int) error {
		if t, err := unix.IoctlGetTermios(fd, unix.TCGETS); err == nil && t.Cc[unix.VEOF] != 0 {
			eof = t.Cc[unix.VEOF]
		}
		return nil
	})
	if last != '\n' {
		master.Write([]byte{eof, eof})
		return
	}
	master.Write([]byte{eof})
}

// lastByteWriter remembers the last byte written through it.
type lastByteWriter struct {
	w    io.Writer
	last byte
}

func (l *lastByteWriter) Write(p []byte) (int, error) {
	n, err := l.w.Write(p)
	if n > 0 {
		l.last = p[n-1]
	}
	return n, err
}

// withFd runs f on file's descriptor without making it blocking (as Fd
// would), and without racing a Close (then it fails, f not run).
func withFd(file *os.File, f func(fd int) error) error {
	rc, err := file.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = f(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// ErrNoTerminal is ResizeTerminal's error for a command without a
// terminal (a spec without process.terminal), or one that has ended.
var ErrNoTerminal = errors.New("sandbox: the command has no terminal")

// ResizeTerminal sets the size of the command's terminal, as a terminal
// emulator does when its window changes: the kernel sends SIGWINCH to the
// command's foreground process group. It may be called from any goroutine
// once Start has returned.
func (c *Cmd) ResizeTerminal(rows, cols uint16) error {
	if c.ptmx == nil {
		return ErrNoTerminal
	}
	rc, err := c.ptmx.SyscallConn()
	if err != nil {
		return ErrNoTerminal
	}
	var ierr error
	if err := rc.Control(func(fd uintptr) {
		ierr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
	}); err != nil {
		return ErrNoTerminal // closed: the command has ended
	}
	if ierr != nil {
		return fmt.Errorf("sandbox: resizing the terminal: %w", ierr)
	}
	return nil
}
