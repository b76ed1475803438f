//go:build linux

package sandbox_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"time"

	sandbox "github.com/gosandbox/sandbox"
	"github.com/gosandbox/sandbox/spawn"
)

// Run a command in the default sandbox and read its output.
func ExampleCommand() {
	out, err := sandbox.Command("sh", "-c", "echo hello from $(hostname)").Output()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(string(out))
	// Output: hello from sandbox
}

// Limits end a run; the Result says which one.
func ExampleCmd_Run_limits() {
	c := sandbox.Command("sleep", "10")
	c.Limits = sandbox.Limits{WallTime: 200 * time.Millisecond}
	res, err := c.Run()
	var le *sandbox.LimitError
	fmt.Println(res.Status, errors.As(err, &le))
	// Output: wall-limit true
}

// A setup failure names the step that failed.
func ExampleCmd_Start_setupError() {
	err := sandbox.Command("/no/such/program").Start()
	var se *spawn.StepError
	if errors.As(err, &se) {
		fmt.Println(se.Op, se.Target, se.Errno)
	}
	// Output: execve /no/such/program no such file or directory
}

// Stream a command's output as it comes, os/exec style: the pipe reads
// to its end when the command's output ends.
func ExampleCmd_StdoutPipe() {
	c := sandbox.Command("sh", "-c", "for i in 1 2 3; do echo line $i; done")
	out, err := c.StdoutPipe()
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := c.Start(); err != nil {
		fmt.Println(err)
		return
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		fmt.Println("got", sc.Text())
	}
	if _, err := c.Wait(); err != nil {
		fmt.Println(err)
	}
	// Output:
	// got line 1
	// got line 2
	// got line 3
}

// Cancelling the context kills the whole tree.
func ExampleCommandContext() {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := sandbox.CommandContext(ctx, "sh", "-c", "sleep 10 & sleep 10").Run()
	fmt.Println(err)
	// Output: context deadline exceeded
}

// A root caller's concurrent sandboxes each get host ids of their own:
// none shares another's per-user quotas or files (sandbox run --host-ids
// auto). The range is held from Start until the sandbox is gone.
func ExampleCmd_ownHostIDs() {
	c := sandbox.Command("id", "-u")
	c.OwnHostIDs = true
	out, err := c.Output()
	fmt.Printf("%s%v\n", out, err)
}
