//go:build linux

package sandbox_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	sandbox "github.com/gosandbox/sandbox"
	"github.com/gosandbox/sandbox/internal/testutil"
)

// TestPipes: StdoutPipe, StderrPipe and StdinPipe as os/exec's: the
// readers see the command's streams and then EOF (also when the output
// is counted, through the relay), the input ends when its writer closes
// it, or when the command exits if it never does; the pipes cannot be
// had twice or after Start, and nothing is left open.
func TestPipes(t *testing.T) {
	testutil.RequireUserNS(t)
	sandbox.Command("true").Run() // warm up: the runtime opens its own descriptors once
	fds := countFds(t)

	c := sandbox.Command("sh", "-c", "cat; echo err >&2")
	in, err := c.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	errPipe, err := c.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.StdoutPipe(); err == nil {
		t.Error("a second StdoutPipe")
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.StderrPipe(); err == nil {
		t.Error("StderrPipe after Start")
	}
	io.WriteString(in, "hello\n")
	in.Close()
	got, _ := io.ReadAll(out)
	gotErr, _ := io.ReadAll(errPipe)
	if res, err := c.Wait(); err != nil || string(got) != "hello\n" || string(gotErr) != "err\n" {
		t.Errorf("stdout %q, stderr %q: %v %v", got, gotErr, res, err)
	}
	if _, err := out.Read(make([]byte, 1)); err == nil || err == io.EOF {
		t.Errorf("StdoutPipe after Wait: %v, want it closed", err)
	}

	// Counted output goes through the relay into the pipe, then EOF.
	c = sandbox.Command("sh", "-c", "yes | head -c 200000")
	c.Limits.Output = 1 << 20
	out, _ = c.StdoutPipe()
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, out)
	if res, err := c.Wait(); err != nil || n != 200000 {
		t.Errorf("counted: %d bytes, %v %v", n, res, err)
	}

	// An input never closed ends with the command: Wait returns.
	c = sandbox.Command("head", "-c", "3")
	in, _ = c.StdinPipe()
	out, _ = c.StdoutPipe()
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	io.WriteString(in, "abcdef")
	got, _ = io.ReadAll(out)
	done := make(chan error, 1)
	go func() { _, err := c.Wait(); done <- err }()
	select {
	case err := <-done:
		if err != nil || string(got) != "abc" {
			t.Errorf("head: %q %v", got, err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Wait hung on a StdinPipe its caller never closed")
	}
	if _, err := io.WriteString(in, "x"); err == nil {
		t.Error("StdinPipe still writable after the command exited")
	}

	// On a terminal of its own: typed in, echoed back with the output.
	c = ttyCommand("cat")
	in, _ = c.StdinPipe()
	out, _ = c.StdoutPipe()
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	io.WriteString(in, "typed\n")
	in.Close()
	got, _ = io.ReadAll(out)
	if _, err := c.Wait(); err != nil || strings.Count(strings.ReplaceAll(string(got), "\r\n", "\n"), "typed\n") != 2 {
		t.Errorf("terminal: %q %v, want the line echoed and then cat's", got, err)
	}

	// Counted output: each stream's reader sees EOF when that stream
	// ends, not when both have (stdout read to its end first, as os/exec
	// allows, while stderr still fills its pipe).
	c = sandbox.Command("sh", "-c", "echo out; exec 1>&-; head -c 300000 /dev/zero >&2")
	c.Limits.Output = 1 << 20
	out, _ = c.StdoutPipe()
	errPipe, _ = c.StderrPipe()
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	got = readWithin(t, out, "stdout, counted, before stderr")
	n, _ = io.Copy(io.Discard, errPipe)
	if res, err := c.Wait(); err != nil || string(got) != "out\n" || n != 300000 {
		t.Errorf("counted, two streams: %q, %d bytes: %v %v", got, n, res, err)
	}

	// A failed Start closes them, early or late: a reader does not hang.
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	bad := []*sandbox.Cmd{sandbox.Command("/nonexistent"), sandbox.CommandContext(canceled, "true"), sandbox.Command("true")}
	bad[2].Limits.CPUTime = -1
	for _, c := range bad {
		out, _ = c.StdoutPipe()
		c.StdinPipe()
		if err := c.Start(); err == nil {
			t.Fatalf("%v started", c.Args)
		}
		if b := readWithin(t, out, "StdoutPipe after a failed Start"); len(b) != 0 {
			t.Errorf("StdoutPipe after a failed Start: %q", b)
		}
	}

	// On a terminal, input left unread when the command exits (more
	// than the terminal and the pipe hold) does not hold Wait.
	c = ttyCommand("stty -echo; head -c 3 >/dev/null; echo done")
	in, _ = c.StdinPipe()
	out, _ = c.StdoutPipe()
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	go io.Copy(in, io.LimitReader(zeros{}, 1<<20)) // never closed by its writer
	got = readWithin(t, out, "terminal, input left")
	if _, err := c.Wait(); err != nil || !strings.Contains(string(got), "done") {
		t.Errorf("terminal, input left: %q %v", got, err)
	}

	var buf bytes.Buffer
	c = sandbox.Command("true")
	c.Stdout = &buf
	if _, err := c.StdoutPipe(); err == nil {
		t.Error("StdoutPipe with Stdout set")
	}

	deadline := time.Now().Add(5 * time.Second)
	for countFds(t) > fds && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := countFds(t); n > fds {
		t.Errorf("descriptors %d → %d", fds, n)
	}
}

// readWithin reads r to its end, failing the test after 20 s.
func readWithin(t *testing.T, r io.Reader, what string) []byte {
	t.Helper()
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := io.ReadAll(r)
		done <- result{b, err}
	}()
	select {
	case res := <-done:
		return res.b
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: no EOF in 20 s", what)
		return nil
	}
}

// zeros reads as an endless run of 'x' lines.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
		if i%64 == 63 {
			p[i] = '\n'
		}
	}
	return len(p), nil
}
