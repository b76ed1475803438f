//go:build linux

package sandbox_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	sandbox "github.com/gosandbox/sandbox"
	"github.com/gosandbox/sandbox/hostids"
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
// auto). The range is held until Release, once the sandbox is gone, and
// past this program's death while the sandbox recorded with Hold lives.
func ExampleDefaultOptions_hostIDBase() {
	r, err := hostids.DefaultPool().Reserve()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Release()
	c := sandbox.Command("id")
	c.Spec = sandbox.DefaultSpec(sandbox.DefaultOptions{Args: c.Args, HostIDBase: r.Base})
	c.SpecOwned = true
	var out strings.Builder
	c.Stdout = &out
	if err := c.Start(); err != nil {
		fmt.Println(err)
		return
	}
	r.Hold(c.Process.Pid) // the range stays taken while the sandbox lives
	_, err = c.Wait()
	fmt.Print(out.String(), err)
}
