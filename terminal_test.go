//go:build linux

package sandbox_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	sandbox "github.com/gosandbox/sandbox"
	"github.com/gosandbox/sandbox/internal/testutil"
	"github.com/gosandbox/sandbox/oci"
	"github.com/gosandbox/sandbox/spawn"
)

func ttyCommand(script string) *sandbox.Cmd {
	c := sandbox.Command("sh", "-c", script)
	c.Spec = sandbox.DefaultSpec(sandbox.DefaultOptions{Args: c.Args})
	c.Spec.Process.Terminal = true
	return c
}

// TestTerminal: with process.terminal the command's stdio is a terminal
// of its own, its controlling terminal, of the default size; Stdin is
// typed into it (with the terminal's echo) and ends with VEOF.
func TestTerminal(t *testing.T) {
	testutil.RequireUserNS(t)
	c := ttyCommand(`test -t 0 && test -t 1 && test -t 2 && echo tty; read x; echo "got $x"; stty size; ` +
		`: </dev/tty && echo ctty; cat; echo eof`)
	c.Stdin = strings.NewReader("hello\n")
	var out bytes.Buffer
	c.Stdout = &out
	var errOut bytes.Buffer
	c.Stderr = &errOut
	res, err := c.Run()
	if err != nil || res.Status != sandbox.StatusOK {
		t.Fatalf("%v %v\n%s", res, err, out.String())
	}
	// The echo of the typed line is a line of its own.
	got := strings.Split(strings.ReplaceAll(out.String(), "\r\n", "\n"), "\n")
	for _, want := range []string{"tty", "hello", "got hello", "24 80", "ctty", "eof"} {
		if !slices.Contains(got, want) {
			t.Errorf("output lacks the line %q: %q", want, got)
		}
	}
	if errOut.Len() != 0 {
		t.Errorf("Stderr got %q: the terminal carries both streams", errOut.String())
	}

	// No Stdin reads as an empty input.
	c = ttyCommand("cat; echo done")
	out.Reset()
	c.Stdout = &out
	if res, err := c.Run(); err != nil || !strings.Contains(out.String(), "done") {
		t.Errorf("nil Stdin: %v %v %q", res, err, out.String())
	}

	// Input that ends in a partial line still ends.
	c = ttyCommand("cat; echo; echo done")
	c.Stdin = strings.NewReader("abc")
	c.WaitDelay = 10 * time.Second
	out.Reset()
	c.Stdout = &out
	if res, err := c.Run(); err != nil || strings.Count(out.String(), "abc") != 2 || !strings.Contains(out.String(), "done") {
		t.Errorf("partial last line: %v %v %q", res, err, out.String())
	}
}

// TestTerminalWaitDelay: WaitDelay bounds the wait for the terminal's
// output when a process outside the pid namespace's end (a spec without
// one) keeps the terminal open.
func TestTerminalWaitDelay(t *testing.T) {
	testutil.RequireUserNS(t)
	c := ttyCommand(`trap '' HUP; sleep 61.7 & echo started`)
	lx := c.Spec.Linux
	lx.Namespaces = slices.DeleteFunc(lx.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.PIDNamespace })
	delete(c.Spec.Annotations, oci.AnnotationInit)
	// Without a pid namespace of its own an unprivileged caller may not
	// mount a proc filesystem: none, and nothing under it.
	c.Spec.Mounts = slices.DeleteFunc(c.Spec.Mounts, func(m specs.Mount) bool { return m.Destination == "/proc" })
	underProc := func(p string) bool { return strings.HasPrefix(p, "/proc/") }
	lx.MaskedPaths = slices.DeleteFunc(lx.MaskedPaths, underProc)
	lx.ReadonlyPaths = slices.DeleteFunc(lx.ReadonlyPaths, underProc)
	c.WaitDelay = 300 * time.Millisecond
	start := time.Now()
	res, err := c.Run()
	if !errors.Is(err, sandbox.ErrWaitDelay) || res == nil || time.Since(start) > 30*time.Second {
		t.Errorf("Run: %v %v after %v, want ErrWaitDelay long before the sleeper ends", res, err, time.Since(start))
	}
	for _, pid := range testutil.Processes(func(cmdline string) bool { return cmdline == "sleep\x0061.7\x00" }) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// TestTerminalSignals: ^C typed into the terminal interrupts the command
// (the terminal's line discipline, not a signal from the caller), and a
// resize reaches it as SIGWINCH with the new size.
func TestTerminalSignals(t *testing.T) {
	testutil.RequireUserNS(t)
	c := ttyCommand(`trap 'stty size' WINCH; trap 'echo INT; exit 7' INT; echo ready; while :; do sleep 0.05; done`)
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	c.Stdin, c.Stdout = inR, outW
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			c.Process.Kill()
		}
	}()
	expect := testutil.Lines(t, outR)
	expect("ready")
	if err := c.ResizeTerminal(30, 100); err != nil {
		t.Fatal(err)
	}
	expect("30 100")
	inW.Write([]byte{3}) // ^C
	expect("INT")
	inW.Close() // Wait waits for the copy of Stdin, as os/exec's does
	res, err := c.Wait()
	outW.Close()
	if res == nil || res.ExitCode != 7 {
		t.Errorf("after ^C: %v %v", res, err)
	}
	if err := c.ResizeTerminal(1, 1); !errors.Is(err, sandbox.ErrNoTerminal) {
		t.Errorf("resize after the end: %v", err)
	}
	if err := sandbox.Command("true").ResizeTerminal(1, 1); !errors.Is(err, sandbox.ErrNoTerminal) {
		t.Errorf("resize without a terminal: %v", err)
	}
}

// TestTerminalOutputLimit: output through the terminal counts.
func TestTerminalOutputLimit(t *testing.T) {
	testutil.RequireUserNS(t)
	c := ttyCommand("yes")
	c.Limits.Output = 10000
	var out bytes.Buffer
	c.Stdout = &out
	res, _ := c.Run()
	if res == nil || res.Status != sandbox.StatusOutputLimit || out.Len() > 10000 {
		t.Errorf("%v, %d bytes", res, out.Len())
	}
}

// TestTerminalInside: in a sandbox that mounts a devpts at /dev/pts, the
// command's terminal is made there: it has a name inside (tty), belongs to
// the command's user, has the spec's consoleSize, and no descriptor of the
// console socket reaches the command. A spec without that devpts still
// gets a terminal (the host's, nameless inside); a ptmx the spec masks
// fails the setup at the step that found it.
func TestTerminalInside(t *testing.T) {
	testutil.RequireUserNS(t)
	uid := 0
	if os.Geteuid() == 0 {
		uid = 1000 // mapped by a privileged caller's sandbox
	}
	c := ttyCommand(`tty; stat -c %u "$(tty)"; stty size; echo $(ls /proc/self/fd)`)
	c.Spec.Process.User.UID = uint32(uid)
	c.Spec.Process.ConsoleSize = &specs.Box{Height: 40, Width: 120}
	var out bytes.Buffer
	c.Stdout = &out
	if res, err := c.Run(); err != nil || res.Status != sandbox.StatusOK {
		t.Fatalf("%v %v\n%s", res, err, out.String())
	}
	got := strings.Split(strings.ReplaceAll(out.String(), "\r\n", "\n"), "\n")
	for _, want := range []string{"/dev/pts/0", strconv.Itoa(uid), "40 120", "0 1 2 3"} {
		if !slices.Contains(got, want) {
			t.Errorf("output lacks the line %q: %q", want, got)
		}
	}

	c = ttyCommand(`test -t 0 && test -t 1 && echo terminal; tty`)
	c.Spec.Mounts = slices.DeleteFunc(c.Spec.Mounts, func(m specs.Mount) bool { return m.Destination == "/dev/pts" })
	out.Reset()
	c.Stdout = &out
	if res, _ := c.Run(); res == nil || !strings.Contains(out.String(), "terminal") || !strings.Contains(out.String(), "not a tty") {
		t.Errorf("without a devpts at /dev/pts: %v %q", res, out.String())
	}

	c = noPtyCommand()
	res, err := c.Run()
	var se *spawn.StepError
	if !errors.As(err, &se) || se.Op != "ioctl TIOCSPTLCK" || !errors.Is(err, syscall.ENOTTY) || res == nil || res.Status != sandbox.StatusSetupError {
		t.Errorf("a masked ptmx: %v %v, want a setup error at the unlock", res, err)
	}
}

// noPtyCommand is a terminal command whose spec masks /dev/pts/ptmx
// (/dev/null in its place): its setup fails at the pty's unlock.
func noPtyCommand() *sandbox.Cmd {
	c := ttyCommand("true")
	c.Spec.Linux.MaskedPaths = append(c.Spec.Linux.MaskedPaths, "/dev/pts/ptmx")
	return c
}
