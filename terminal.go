//go:build linux

package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// A spec with process.terminal runs the command on a pseudo-terminal of
// its own: its stdin, stdout and stderr are the pty's slave, its
// controlling terminal; Start relays Stdin to the pty's master and the
// master to Stdout (counted against Limits.Output), and Stderr gets
// nothing, as with any terminal. The caller's own terminal never reaches
// the sandbox. Input that is not a terminal's is typed in as keys: the
// terminal echoes it (into Stdout), and in canonical mode cuts lines
// longer than 4095 bytes.

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

// ttyStdio is stdio for a command on a terminal: the slave three times,
// then ExtraFiles. The master is relayed once the command runs.
func (c *Cmd) ttyStdio() ([]*os.File, error) {
	master, slave, err := openPTY()
	if err != nil {
		return nil, err
	}
	c.ptmx = master
	c.readers = append(c.readers, master) // closed once the output drained
	c.closers = append(c.closers, slave)  // the command holds its own
	// The caller's terminal's size, when Stdin is one; 24x80 otherwise.
	ws := &unix.Winsize{Row: 24, Col: 80}
	if f, ok := c.Stdin.(*os.File); ok {
		if w, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil && w.Row > 0 && w.Col > 0 {
			ws = w
		}
	}
	if err := withFd(master, func(fd int) error { return unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, ws) }); err != nil {
		return nil, fmt.Errorf("sandbox: terminal: setting its size: %w", err)
	}
	c.pending = append(c.pending, func() {
		c.copiers.Add(1)
		go c.copyOut(master, c.Stdout)
	})
	switch in := c.Stdin.(type) {
	case nil:
		// As /dev/null: the first read ends at once.
		c.pending = append(c.pending, func() { writeEOF(master, '\n') })
	case *os.File:
		// Polled beside a stop pipe, so that no input is taken once the
		// command is gone.
		relay, err := newStdinRelay(in, master)
		if err != nil {
			return nil, err
		}
		relay.tty = true
		c.relay = relay
		c.pending = append(c.pending, func() { go relay.run() })
	default:
		c.pending = append(c.pending, func() {
			c.copiers.Add(1)
			go func() {
				defer c.copiers.Done()
				w := &lastByteWriter{w: master, last: '\n'}
				if _, err := io.Copy(w, in); err == nil {
					writeEOF(master, w.last)
				} else if !errors.Is(err, unix.EIO) && !errors.Is(err, os.ErrClosed) {
					c.setCopyErr(err)
				}
			}()
		})
	}
	files := []*os.File{slave, slave, slave}
	return append(files, c.ExtraFiles...), nil
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
