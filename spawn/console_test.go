//go:build linux

package spawn

import (
	"bytes"
	"errors"
	"os"
	"regexp"
	"testing"

	"golang.org/x/sys/unix"
)

// consoleProgram runs script under sh on a terminal the child makes from
// ptmx and sends back over its one input.
func consoleProgram(t *testing.T, ptmx, script string) *Program {
	t.Helper()
	b := NewBuilder(3)
	in := b.Input("console socket")
	b.Setsid()
	b.Console(ptmx, in, &unix.Winsize{Row: 7, Col: 33}, 1, 2)
	b.RestoreSigmask()
	b.MarkExec()
	b.Exec("/bin/sh", []string{"sh", "-c", script}, []string{"PATH=/usr/bin:/bin"})
	p, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// consolePair is a console socket: this end and the child's.
func consolePair(t *testing.T) (sock, peer *os.File) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	return os.NewFile(uintptr(fds[0]), "console"), os.NewFile(uintptr(fds[1]), "console peer")
}

// TestConsole: the Console steps give the command a terminal it made:
// descriptors 0, 1 and 2 are its slave and nothing else is left open, it
// is the controlling terminal, of the size given, and the master arrives
// over the socket (which exercises OpStore: the master's number is only
// known in the child).
func TestConsole(t *testing.T) {
	leakCheck(t)
	prog := consoleProgram(t, "/dev/ptmx", `stty size; tty; : </dev/tty && echo ctty; echo $(ls /proc/self/fd)`)
	sock, peer := consolePair(t)
	defer sock.Close()
	p, err := Start(prog, &Attr{Files: []*os.File{peer, peer, peer}, Inputs: []*os.File{peer}})
	peer.Close()
	if err != nil {
		t.Fatal(err)
	}
	buf, oob := make([]byte, 4), make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), buf, oob, unix.MSG_DONTWAIT|unix.MSG_CMSG_CLOEXEC)
	if err != nil || n != 1 {
		p.Signal(unix.SIGKILL)
		p.Wait()
		t.Fatalf("recvmsg: %d bytes, %v", n, err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		t.Fatalf("control messages: %v %v", msgs, err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		t.Fatalf("rights: %v %v", fds, err)
	}
	master := os.NewFile(uintptr(fds[0]), "master")
	var out bytes.Buffer
	out.ReadFrom(master) // until EIO: the last slave closed
	master.Close()
	st, err := p.Wait()
	if err != nil || st.ExitCode() != 0 {
		t.Fatalf("exit: %v %v\n%s", st, err, out.String())
	}
	got := out.String()
	for _, want := range []string{`(?m)^7 33\r$`, `(?m)^/dev/pts/[0-9]+\r$`, `(?m)^ctty\r$`, `(?m)^0 1 2 3\r$`} {
		if !regexp.MustCompile(want).MatchString(got) {
			t.Errorf("output lacks %s:\n%q", want, got)
		}
	}
}

// TestConsoleFails: a ptmx that is no pty master fails at the unlock,
// named, and nothing stays open.
func TestConsoleFails(t *testing.T) {
	leakCheck(t)
	prog := consoleProgram(t, "/dev/null", "exit 0")
	sock, peer := consolePair(t)
	defer sock.Close()
	_, err := Start(prog, &Attr{Files: []*os.File{peer, peer, peer}, Inputs: []*os.File{peer}})
	peer.Close()
	var se *StepError
	if !errors.As(err, &se) || se.Op != "ioctl TIOCSPTLCK" || !errors.Is(err, unix.ENOTTY) {
		t.Fatalf("err = %v, want the unlock's ENOTTY", err)
	}
}
