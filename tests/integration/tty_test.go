//go:build linux

package integration

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gosandbox/sandbox/internal/testutil"
)

// outerPTY opens a pty for sandbox run to run on, as a terminal emulator
// would give it.
func outerPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetPointerInt(m, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	s, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(m), unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
	if errno != 0 {
		t.Fatal(errno)
	}
	master, slave = os.NewFile(uintptr(m), "ptmx"), os.NewFile(s, "pts")
	t.Cleanup(func() { master.Close(); slave.Close() })
	return master, slave
}

// TestTTY: sandbox run --tty on a terminal: the command gets a terminal of
// its own; sandbox run's is raw meanwhile, so ^C reaches the command as a
// key (its terminal makes it SIGINT); a window change reaches it as
// SIGWINCH with the new size; the caller's terminal is restored after.
func TestTTY(t *testing.T) {
	testutil.RequireUserNS(t)
	master, slave := outerPTY(t)
	unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 33, Col: 99})
	cmd := exec.Command(sandboxBin(t), "run", "--tty", "--", "sh", "-c",
		`test -t 0 && test -t 1 && echo tty; stty size; trap 'stty size' WINCH; trap 'echo INT; exit 7' INT; echo ready; while :; do sleep 0.05; done`)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	// The pty is sandbox run's controlling terminal, it the foreground.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 64)
	go func() {
		s := bufio.NewScanner(master)
		for s.Scan() {
			lines <- strings.TrimRight(s.Text(), "\r")
		}
		close(lines)
	}()
	var seen []string
	expect := func(want string) {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("output ended before %q: %q", want, seen)
				}
				seen = append(seen, l)
				if strings.HasSuffix(l, want) {
					return
				}
			case <-timeout:
				cmd.Process.Kill()
				t.Fatalf("no %q: %q", want, seen)
			}
		}
	}
	expect("tty")
	expect("33 99") // the caller's size, taken at start
	expect("ready")
	if tio, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS); err != nil || tio.Lflag&(unix.ICANON|unix.ECHO|unix.ISIG) != 0 {
		t.Errorf("the caller's terminal is not raw while the command runs: %+v %v", tio, err)
	}
	unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: 120})
	expect("40 120")
	master.Write([]byte{3}) // ^C, typed
	expect("INT")
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 7 {
		t.Errorf("exit: %v, want 7 (the command's, after its INT trap)", err)
	}
	if tio, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS); err != nil || tio.Lflag&unix.ICANON == 0 || tio.Lflag&unix.ECHO == 0 {
		t.Errorf("the caller's terminal is not restored: %+v %v", tio, err)
	}
}

// TestTTYPiped: --tty with piped input types it into the command's
// terminal and ends it with VEOF; --spec's process.terminal does the same.
func TestTTYPiped(t *testing.T) {
	testutil.RequireUserNS(t)
	cmd := exec.Command(sandboxBin(t), "run", "--tty", "--", "sh", "-c", `test -t 0 && echo tty; cat; echo end`)
	cmd.Stdin = strings.NewReader("line\n")
	out, err := cmd.Output()
	got := strings.ReplaceAll(string(out), "\r\n", "\n")
	if err != nil || !strings.Contains(got, "tty\n") || strings.Count(got, "line\n") != 2 || !strings.HasSuffix(got, "end\n") {
		t.Errorf("%v: %q (want tty, the echo and cat's copy of line, end)", err, got)
	}
	out, _ = exec.Command(sandboxBin(t), "run", "--tty", "--print-spec", "--", "true").Output()
	if !strings.Contains(string(out), `"terminal": true`) {
		t.Errorf("--print-spec of --tty:\n%s", out)
	}
	out, _ = exec.Command(sandboxBin(t), "explain", "--tty", "--", "true").Output()
	if !strings.Contains(string(out), "ioctl TIOCSCTTY") {
		t.Errorf("explain --tty has no TIOCSCTTY step:\n%s", out)
	}
}
