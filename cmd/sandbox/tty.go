package main

import (
	"os/signal"

	"golang.org/x/sys/unix"
)

// savedTTY is the settings of one of the caller's terminals, taken before
// the command runs.
type savedTTY struct {
	fd int
	t  unix.Termios
}

// saveTTYs records the settings of whichever of stdin, stdout and stderr
// are terminals. The command runs in a session of its own, with no
// controlling terminal, so job control does not stop it from changing
// them (echo off, raw mode), and a command that is killed or hostile
// would leave the caller's terminal so.
func saveTTYs() []savedTTY {
	var out []savedTTY
	for fd := 0; fd <= 2; fd++ {
		if t, err := unix.IoctlGetTermios(fd, unix.TCGETS); err == nil {
			out = append(out, savedTTY{fd, *t})
		}
	}
	return out
}

// restoreTTYs puts back the settings saveTTYs recorded where the command
// changed them, and restarts output the command may have suspended
// (tcflow TCOOFF: every later write to the terminal, the caller's shell's
// included, would block). sandbox run may be a background job by then,
// which changing its own terminal would stop (SIGTTOU): the signal is
// ignored first then (a round trip to the runtime's signal thread, so only
// then), as the command has exited and nothing else is spawned.
func restoreTTYs(saved []savedTTY) {
	ignored := false
	for _, s := range saved {
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
