package main

import (
	"os/signal"

	"golang.org/x/sys/unix"
)

// savedTTY is the state of one of the caller's stdin, stdout and stderr,
// taken before the command runs: its open file status flags, and its
// terminal settings when it is a terminal.
type savedTTY struct {
	fd    int
	flags int
	tty   bool
	t     unix.Termios
}

// saveTTYs records the state of stdin, stdout and stderr. The command
// shares their open file descriptions: it can make them non-blocking
// (the caller's next read then fails with EAGAIN, or looks like the end
// of input). And on a terminal, it runs in a session of its own, with no
// controlling terminal, so job control does not stop it from changing the
// terminal's settings (echo off, raw mode); a command that is killed or
// hostile would leave them so.
func saveTTYs() []savedTTY {
	var out []savedTTY
	for fd := 0; fd <= 2; fd++ {
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		if err != nil {
			continue // closed
		}
		s := savedTTY{fd: fd, flags: flags}
		if t, err := unix.IoctlGetTermios(fd, unix.TCGETS); err == nil {
			s.tty, s.t = true, *t
		}
		out = append(out, s)
	}
	return out
}

// restoreTTYs puts back the state saveTTYs recorded where the command
// changed it, and restarts output the command may have suspended
// (tcflow TCOOFF: every later write to the terminal, the caller's shell's
// included, would block). sandbox run may be a background job by then,
// which changing its own terminal would stop (SIGTTOU): the signal is
// ignored first then (a round trip to the runtime's signal thread, so only
// then), as the command has exited and nothing else is spawned. The
// window size is left as it is: the caller's terminal may have been
// resized meanwhile, which looks the same.
func restoreTTYs(saved []savedTTY) {
	ignored := false
	for _, s := range saved {
		if flags, err := unix.FcntlInt(uintptr(s.fd), unix.F_GETFL, 0); err == nil && flags != s.flags {
			unix.FcntlInt(uintptr(s.fd), unix.F_SETFL, s.flags)
		}
		if !s.tty {
			continue
		}
		if pgrp, err := unix.IoctlGetInt(s.fd, unix.TIOCGPGRP); !ignored && (err != nil || pgrp != unix.Getpgrp()) {
			signal.Ignore(unix.SIGTTOU)
			ignored = true
		}
		unix.IoctlSetInt(s.fd, unix.TCXONC, unix.TCOON)
		t, err := unix.IoctlGetTermios(s.fd, unix.TCGETS)
		if err != nil || *t == s.t {
			continue
		}
		unix.IoctlSetTermios(s.fd, unix.TCSETS, &s.t)
	}
}

// makeRaw puts terminal fd in raw mode (cfmakeraw), when it is one: no
// echo, no line editing, no signals from keys, no output processing (the
// command's own terminal does that).
func makeRaw(fd int) {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	unix.IoctlSetTermios(fd, unix.TCSETS, t)
}
