//go:build linux

package sandbox_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	sandbox "github.com/gosandbox/sandbox"
	"github.com/gosandbox/sandbox/internal/testutil"
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
		`ps -o tty= -p $$ | grep -q pts && echo ctty; cat; echo eof`)
	c.Stdin = strings.NewReader("hello\n")
	var out bytes.Buffer
	c.Stdout = &out
	var errOut bytes.Buffer
	c.Stderr = &errOut
	res, err := c.Run()
	if err != nil || res.Status != sandbox.StatusOK {
		t.Fatalf("%v %v\n%s", res, err, out.String())
	}
	got := strings.ReplaceAll(out.String(), "\r\n", "\n")
	for _, want := range []string{"tty\n", "hello\n", "got hello\n", "24 80\n", "eof\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
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
	lines := make(chan string, 16)
	go func() {
		s := bufio.NewScanner(outR)
		for s.Scan() {
			lines <- strings.TrimRight(s.Text(), "\r")
		}
		close(lines)
	}()
	expect := func(want string) {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("output ended before %q", want)
				}
				// The terminal echoes what is typed: ^C before INT.
				if strings.HasSuffix(l, want) {
					return
				}
			case <-timeout:
				t.Fatalf("no %q", want)
			}
		}
	}
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
