//go:build linux

package integration

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gosandbox/sandbox/internal/testutil"
)

// TestTTY: sandbox run --tty on a terminal: the command gets a terminal of
// its own, /dev/pts/0 inside; sandbox run's is raw meanwhile, so ^C reaches the command as a
// key (its terminal makes it SIGINT); a window change reaches it as
// SIGWINCH with the new size; the caller's terminal is restored after.
func TestTTY(t *testing.T) {
	testutil.RequireUserNS(t)
	master, slave := testutil.OpenPty(t)
	unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 33, Col: 99})
	cmd := exec.Command(sandboxBin(t), "run", "--tty", "--", "sh", "-c",
		`test -t 0 && test -t 1 && echo tty; tty; stty size; trap 'stty size' WINCH; trap 'echo INT; exit 7' INT; echo ready; while :; do sleep 0.05; done`)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	// The pty is sandbox run's controlling terminal, it the foreground.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			cmd.Process.Kill()
		}
	}()
	expect := testutil.Lines(t, master)
	expect("tty")
	expect("/dev/pts/0") // made in the sandbox's devpts: it has a name there
	expect("33 99")      // the caller's size, taken at start
	expect("ready")
	if tio, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS); err != nil || tio.Lflag&(unix.ICANON|unix.ECHO|unix.ISIG) != 0 {
		t.Errorf("the caller's terminal is not raw while the command runs: %+v %v", tio, err)
	}
	unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: 120})
	expect("40 120")
	// Stopped (kill -TSTP: ^Z is a key now), sandbox run leaves the
	// terminal as it found it for the shell; continued, raw again, and
	// the size that changed meanwhile follows.
	raw := func() bool {
		tio, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
		return err == nil && tio.Lflag&(unix.ICANON|unix.ECHO|unix.ISIG) == 0
	}
	cmd.Process.Signal(unix.SIGTSTP)
	for deadline := time.Now().Add(10 * time.Second); raw() && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if raw() {
		t.Errorf("the terminal stayed raw while sandbox run was stopped")
	}
	// As a shell does (it continues a job it saw stop), wait until
	// sandbox run has stopped itself: a SIGCONT before that would be
	// lost, and it would then stop for good.
	for deadline := time.Now().Add(10 * time.Second); procState(cmd.Process.Pid) != "T"; {
		if time.Now().After(deadline) {
			t.Fatalf("sandbox run did not stop itself after SIGTSTP (state %q)", procState(cmd.Process.Pid))
		}
		time.Sleep(10 * time.Millisecond)
	}
	unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 41, Col: 121})
	cmd.Process.Signal(unix.SIGCONT)
	expect("41 121")
	if !raw() {
		t.Errorf("the terminal is not raw again after SIGCONT")
	}
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

// TestTTYPiped: --tty wants a terminal on stdin (piped input would be
// echoed and cut, as a terminal's line editing does); a spec's
// process.terminal runs with piped input, with a warning, its input typed
// in and ended with VEOF.
func TestTTYPiped(t *testing.T) {
	testutil.RequireUserNS(t)
	r := sandbox(t, "--tty", "--", "true")
	if r.code != 125 || !strings.Contains(r.stderr, "--tty: stdin is not a terminal") || r.rec == nil || r.rec.Status != "setup-error" {
		t.Errorf("--tty without a terminal: %s", r)
	}
	spec := printedSpec(t, "--tty")
	if spec["process"].(map[string]any)["terminal"] != true {
		t.Fatalf("--print-spec of --tty: %v", spec["process"])
	}
	cmd := exec.Command(sandboxBin(t), "run", "--spec", writeSpec(t, spec), "--", "sh", "-c", `test -t 0 && echo tty; cat; echo; echo end`)
	cmd.Stdin = strings.NewReader("line\npartial")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	got := strings.ReplaceAll(string(out), "\r\n", "\n")
	if err != nil || !strings.Contains(got, "tty\n") || strings.Count(got, "line\n") != 2 || strings.Count(got, "partial") != 2 || !strings.HasSuffix(got, "end\n") {
		t.Errorf("%v: %q (want tty, the echo and cat's copy of each line, end)", err, got)
	}
	if !strings.Contains(stderr.String(), "warning: process.terminal: stdin is not a terminal") {
		t.Errorf("no warning for piped input: %q", stderr.String())
	}
	out, _ = exec.Command(sandboxBin(t), "explain", "--tty", "--", "true").Output()
	if !strings.Contains(string(out), "ioctl TIOCSCTTY") {
		t.Errorf("explain --tty has no TIOCSCTTY step:\n%s", out)
	}
}

// TestStdioFlagsRestored: the command shares the caller's open file
// descriptions; sandbox run puts back their status flags, so that a
// command making stdin non-blocking does not break the caller's next read
// (EAGAIN, or what looks like the end of input).
func TestStdioFlagsRestored(t *testing.T) {
	testutil.RequireUserNS(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	args := append(checker(t), "--", "/checker", "syscall", "raw", strconv.Itoa(unix.SYS_FCNTL), "0",
		strconv.Itoa(unix.F_SETFL), strconv.Itoa(unix.O_NONBLOCK))
	cmd := exec.Command(sandboxBin(t), append([]string{"run"}, args...)...)
	cmd.Stdin = r // passed as it is: blocking, the description shared
	out, err := cmd.Output()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("the command's fcntl: %v %q", err, out)
	}
	rc, err := r.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var flags int
	rc.Control(func(fd uintptr) { flags, err = unix.FcntlInt(fd, unix.F_GETFL, 0) })
	if err != nil || flags&unix.O_NONBLOCK != 0 {
		t.Errorf("stdin's flags after the run: %#x %v: still non-blocking", flags, err)
	}
}
