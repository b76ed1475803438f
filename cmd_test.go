//go:build linux

package sandbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	sandbox "github.com/gosandbox/sandbox"
	"github.com/gosandbox/sandbox/internal/testutil"
	"github.com/gosandbox/sandbox/spawn"
)

func TestOutputAndCombinedOutput(t *testing.T) {
	testutil.RequireUserNS(t)
	out, err := sandbox.Command("sh", "-c", "echo out; echo err >&2").Output()
	if err != nil || string(out) != "out\n" {
		t.Errorf("Output: %q %v", out, err)
	}
	// One pipe for both streams, as os/exec: the command's order is kept
	// (with Limits.Output too), and a shared writer is written by one
	// goroutine (-race).
	want := ""
	for i := 1; i <= 100; i++ {
		want += strconv.Itoa(2*i-1) + "\n" + strconv.Itoa(2*i) + "\n"
	}
	script := "i=1; while [ $i -le 100 ]; do echo $((2*i-1)); echo $((2*i)) >&2; i=$((i+1)); done"
	out, err = sandbox.Command("sh", "-c", script).CombinedOutput()
	if err != nil || string(out) != want {
		t.Errorf("CombinedOutput out of order: %q %v", out, err)
	}
	var shared bytes.Buffer
	c := sandbox.Command("sh", "-c", script)
	c.Stdout, c.Stderr = &shared, &shared
	c.Limits.Output = 1 << 20
	if _, err := c.Run(); err != nil || shared.String() != want {
		t.Errorf("one buffer for both, counted: %q %v", shared.String(), err)
	}
	c = sandbox.Command("sh", "-c", "exit 7")
	_, err = c.Output()
	var ee *sandbox.ExitError
	if !errors.As(err, &ee) || ee.ExitCode != 7 || c.Result.Status != sandbox.StatusExit {
		t.Errorf("exit 7: %v %+v", err, c.Result)
	}
}

func TestStdinAndExtraFiles(t *testing.T) {
	testutil.RequireUserNS(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c := sandbox.Command("sh", "-c", "tr a-z A-Z; echo extra >&3")
	c.Stdin = strings.NewReader("hello\n")
	var out bytes.Buffer
	c.Stdout = &out
	c.ExtraFiles = []*os.File{w}
	_, err = c.Run()
	w.Close()
	if err != nil || out.String() != "HELLO\n" {
		t.Errorf("stdin: %q %v", out.String(), err)
	}
	b := make([]byte, 100)
	n, _ := r.Read(b)
	if string(b[:n]) != "extra\n" {
		t.Errorf("fd 3: %q", b[:n])
	}
}

func TestEnvDirPath(t *testing.T) {
	testutil.RequireUserNS(t)
	c := sandbox.Command("sh", "-c", `echo "$0 $FOO $(pwd)"`)
	c.Env = []string{"FOO=bar"}
	c.Dir = "/tmp"
	c.Path = "/bin/sh"
	c.Args[0] = "argv0"
	out, err := c.Output()
	if err != nil || string(out) != "argv0 bar /tmp\n" {
		t.Errorf("%q %v", out, err)
	}
}

func TestErrorsAs(t *testing.T) {
	testutil.RequireUserNS(t)
	c := sandbox.Command("/nonexistent/program")
	err := c.Start()
	var se *spawn.StepError
	if !errors.As(err, &se) || se.Op != "execve" {
		t.Errorf("missing program: %v", err)
	}
	if c.Result == nil || c.Result.Status != sandbox.StatusSetupError || c.Result.ExitStatus() != 127 {
		t.Errorf("result %+v", c.Result)
	}
	if _, err := c.Wait(); err == nil {
		t.Error("Wait after a failed Start succeeded")
	}
	c = sandbox.Command("yes")
	c.Limits.Output = 1 << 10
	res, err := c.Run()
	var le *sandbox.LimitError
	if !errors.As(err, &le) || le.Limit != "output-limit" || res.Status != sandbox.StatusOutputLimit {
		t.Errorf("output limit: %v %+v", err, res)
	}
	// A command that writes past the limit and exits 0 before the kill
	// lands still lost output: output-limit, never ok.
	for i := range 20 {
		var b bytes.Buffer
		c = sandbox.Command("head", "-c", "5000", "/dev/zero")
		c.Stdout = &b
		c.Limits.Output = 4096
		res, err = c.Run()
		if !errors.As(err, &le) || res.Status != sandbox.StatusOutputLimit || b.Len() != 4096 {
			t.Fatalf("run %d: %v %+v, %d bytes", i, err, res, b.Len())
		}
	}
}

func TestCancelKillsTree(t *testing.T) {
	testutil.RequireUserNS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	c := sandbox.CommandContext(ctx, "sh", "-c", "sleep 30 & sleep 30 & wait")
	res, err := c.Run()
	if !errors.Is(err, context.DeadlineExceeded) || res == nil || res.Signal != 9 || res.Status != sandbox.StatusCanceled {
		t.Errorf("cancel: %v %+v", err, res)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("cancel took %v", d)
	}
}

// TestAccountingWithoutCgroup: without a cgroup (no memory, pids or CPU
// limit) the tree's CPU time still counts what a wall limit killed and
// what the command left running when it exited (pid 1 kills and reaps
// them itself), and the peak memory, which only a cgroup measures, is 0.
func TestAccountingWithoutCgroup(t *testing.T) {
	testutil.RequireUserNS(t)
	c := sandbox.Command("sh", "-c", "while :; do :; done & while :; do :; done")
	c.Limits.WallTime = 500 * time.Millisecond
	res, _ := c.Run()
	if res == nil || res.Status != sandbox.StatusWallLimit || time.Duration(res.CPUTime) < 300*time.Millisecond {
		t.Errorf("wall-killed spinners: %+v", res)
	}
	res, err := sandbox.Command("sh", "-c", "(while :; do :; done &); sleep 0.5").Run()
	if err != nil || time.Duration(res.CPUTime) < 300*time.Millisecond {
		t.Errorf("a spinner left behind: %v %+v", err, res)
	}
	if res.PeakMemory != 0 {
		t.Errorf("peak memory without a cgroup: %d", res.PeakMemory)
	}
}

// TestNoPidNamespaceWarning: a spec without a pid namespace, run without
// a cgroup, cannot have its whole tree killed; Warnings says so.
func TestNoPidNamespaceWarning(t *testing.T) {
	testutil.RequireUserNS(t)
	s := sandbox.DefaultSpec(sandbox.DefaultOptions{})
	s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.PIDNamespace })
	s.Mounts = slices.DeleteFunc(s.Mounts, func(m specs.Mount) bool { return m.Destination == "/proc" })
	s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
	delete(s.Annotations, "org.gosandbox.init")
	c := sandbox.Command("true")
	c.Spec = s
	if _, err := c.Run(); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(c.Warnings, func(w string) bool { return strings.Contains(w, "no new pid namespace and no cgroup") }) {
		t.Errorf("warnings %q", c.Warnings)
	}
}

// TestCanceledBeforeStart: a context done before Start runs nothing and
// is a cancel, not a setup failure.
func TestCanceledBeforeStart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := sandbox.CommandContext(ctx, "true").Run()
	if !errors.Is(err, context.Canceled) || res == nil || res.Status != sandbox.StatusCanceled || res.ExitStatus() != -1 || res.String() != "canceled" {
		t.Errorf("got %v, %+v (%s)", err, res, res)
	}
}

// TestCancelOutcomes: what Cancel returns decides, as with os/exec: an
// error is Wait's, wrapped (the tree still ends after WaitDelay);
// os.ErrProcessDone says the command ended on its own, whose result
// stands. A context that ends during the setup cancels it: the result is
// a cancel or a whole run, never a setup error.
func TestCancelOutcomes(t *testing.T) {
	testutil.RequireUserNS(t)
	failed := errors.New("cancel failed")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	c := sandbox.CommandContext(ctx, "sleep", "30")
	c.Cancel = func() error { return failed }
	c.WaitDelay = 200 * time.Millisecond
	res, err := c.Run()
	if !errors.Is(err, failed) || res == nil || res.Status != sandbox.StatusCanceled {
		t.Errorf("a failing Cancel: %v %+v", err, res)
	}

	ctx2, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	c = sandbox.CommandContext(ctx2, "sleep", "0.5")
	c.Cancel = func() error { return os.ErrProcessDone }
	if res, err := c.Run(); err != nil || res == nil || res.Status != sandbox.StatusOK {
		t.Errorf("Cancel saying the command is done: %v %+v", err, res)
	}

	for i := range 12 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i)*time.Millisecond)
		res, err := sandbox.CommandContext(ctx, "true").Run()
		canceled := errors.Is(err, ctx.Err()) && ctx.Err() != nil && res != nil && res.Status == sandbox.StatusCanceled
		if !canceled && (err != nil || res == nil || res.Status != sandbox.StatusOK) {
			t.Errorf("timeout %d ms: %v %+v, want a cancel or a whole run", i, err, res)
		}
		cancel()
	}
}

// TestCPUTimeAttribution: a run that fails with its CPU time used up is a
// time-limit, even when a process's RLIMIT_CPU (a whole-second limit
// fires with the tree's) ended a child and the shell around it exited
// with 152; a SIGXCPU the command sends itself early is only a signal.
func TestCPUTimeAttribution(t *testing.T) {
	testutil.RequireUserNS(t)
	c := sandbox.Command("sh", "-c", `sh -c 'while :; do :; done'; exit $?`)
	c.Limits.CPUTime = time.Second
	res, err := c.Run()
	var le *sandbox.LimitError
	if res == nil || res.Status != sandbox.StatusTimeLimit || !errors.As(err, &le) || le.Limit != "time" {
		t.Errorf("a spinner under a shell, 1s: %v %#v", err, res)
	}
	c = sandbox.Command("sh", "-c", "kill -XCPU $$")
	c.Limits.CPUTime = 10 * time.Second
	if res, _ := c.Run(); res == nil || res.Status != sandbox.StatusSignal {
		t.Errorf("a SIGXCPU of the command's own: %+v", res)
	}
}

// TestCancelWaitDelay: a custom Cancel that the command ignores; after
// WaitDelay the tree is killed anyway.
func TestCancelWaitDelay(t *testing.T) {
	testutil.RequireUserNS(t)
	ctx, cancel := context.WithCancel(context.Background())
	c := sandbox.CommandContext(ctx, "sh", "-c", "trap '' TERM; echo ready; sleep 30")
	out := &syncWriter{mu: make(chan struct{}, 1)}
	c.Stdout = out
	c.Cancel = func() error { return c.Process.Signal(15) }
	c.WaitDelay = 300 * time.Millisecond
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(out.String(), "ready") {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	res, err := c.Wait()
	if !errors.Is(err, context.Canceled) || res.Signal != 9 || res.Status != sandbox.StatusCanceled {
		t.Errorf("%v %+v", err, res)
	}
}

type syncWriter struct {
	mu  chan struct{}
	buf bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu <- struct{}{}
	defer func() { <-w.mu }()
	return w.buf.Write(p)
}

func (w *syncWriter) String() string {
	w.mu <- struct{}{}
	defer func() { <-w.mu }()
	return w.buf.String()
}

func TestResultRecord(t *testing.T) {
	testutil.RequireUserNS(t)
	c := sandbox.Command("true")
	res, err := c.Run()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(res)
	var m map[string]any
	json.Unmarshal(b, &m)
	for _, k := range []string{"status", "exit_code", "signal", "cpu_time", "wall_time", "peak_memory", "unenforced"} {
		if _, ok := m[k]; !ok {
			t.Errorf("record lacks %q: %s", k, b)
		}
	}
	if m["status"] != "ok" || m["exit_code"].(float64) != 0 {
		t.Errorf("%s", b)
	}
}

func TestStartTwiceAndNoCommand(t *testing.T) {
	c := sandbox.Command("true")
	c.Start()
	if err := c.Start(); err == nil {
		t.Error("second Start succeeded")
	}
	if res, err := c.Run(); res != nil || err == nil {
		t.Errorf("Run after Start: %v %v", res, err)
	}
	c.Wait()
	if err := (&sandbox.Cmd{}).Start(); err == nil {
		t.Error("empty Cmd started")
	}
}

func TestStrictUnenforced(t *testing.T) {
	testutil.RequireNonRoot(t)
	c := sandbox.Command("true")
	c.Limits.Memory = 64 << 20
	c.Strict = true
	err := c.Start()
	if !errors.Is(err, sandbox.ErrUnenforced) {
		t.Errorf("--strict without a cgroup: %v", err)
	}
}

// TestNoLeaks runs every kind of ending and checks the process is left as
// it was: no descriptor, arena or child.
func TestNoLeaks(t *testing.T) {
	testutil.RequireUserNS(t)
	sandbox.Command("true").Run() // warm up: the runtime opens its own descriptors once
	fds := countFds(t)
	arenas := spawn.LiveArenas() - int64(spawn.PooledArenas())
	goroutines := runtime.NumGoroutine()
	// A reader that never returns: a failed Start must not leave a copier
	// blocked on it (nor the pipe it would feed).
	never, neverW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer never.Close()
	defer neverW.Close()
	fds += 2
	runs := []func(){
		func() {
			c := sandbox.Command("/nonexistent")
			c.Stdin = struct{ io.Reader }{never}
			var out bytes.Buffer
			c.Stdout = &out
			c.Start()
		},
		func() { sandbox.Command("true").Run() },
		func() { sandbox.Command("sh", "-c", "exit 3").Run() },
		func() { sandbox.Command("/nonexistent").Run() },
		func() { c := sandbox.Command("true"); c.Dir = "relative"; c.Run() },
		func() { c := sandbox.Command("yes"); c.Limits.Output = 100; c.Run() },
		func() { c := sandbox.Command("sleep", "10"); c.Limits.WallTime = 50 * time.Millisecond; c.Run() },
		func() {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			sandbox.CommandContext(ctx, "sleep", "10").Run()
		},
		func() { sandbox.Command("sh", "-c", "cat").CombinedOutput() },
		func() { c := sandbox.Command("true"); c.Limits.CPUs = 0.001; c.Run() },
		func() { ttyCommand("true").Run() },
		func() {
			c := noPtyCommand() // fails at the console's unlock
			c.Stdin = struct{ io.Reader }{never}
			c.Run()
		},
		func() {
			c := sandbox.Command("true")
			c.Spec = sandbox.DefaultSpec(sandbox.DefaultOptions{Args: c.Args})
			c.Spec.Linux.Resources = &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{}}
			c.Run()
		},
	}
	if os.Geteuid() == 0 {
		runs = append(runs, func() {
			c := sandbox.Command("sh", "-c", "x=$(head -c 100000000 /dev/zero | tr '\\0' a)")
			c.Limits.Memory = 16 << 20
			c.Run()
		})
	}
	for _, r := range runs {
		r()
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		kids, _ := os.ReadFile("/proc/self/task/" + strconv.Itoa(os.Getpid()) + "/children")
		gotFds, gotArenas := countFds(t), spawn.LiveArenas()-int64(spawn.PooledArenas())
		gotG := runtime.NumGoroutine()
		if gotFds <= fds && gotArenas <= arenas && gotG <= goroutines && len(strings.TrimSpace(string(kids))) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("leak: descriptors %d → %d, arenas in use %d → %d, goroutines %d → %d, children %q",
				fds, gotFds, arenas, gotArenas, goroutines, gotG, kids)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func countFds(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestLimitsAsResources: Limits.Memory, Pids and CPUs become the effective
// spec's linux.resources, replacing the spec's own; a spec's resources are
// enforced like the limits (root: a cgroup); bad values are refused before
// anything starts, by name.
func TestLimitsAsResources(t *testing.T) {
	c := sandbox.Command("true")
	pids := int64(5)
	c.Spec = sandbox.DefaultSpec(sandbox.DefaultOptions{Args: c.Args})
	c.Spec.Linux.Resources = &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &pids}}
	c.Limits = sandbox.Limits{Memory: 64 << 20, CPUs: 1.5}
	spec, err := c.EffectiveSpec()
	if err != nil {
		t.Fatal(err)
	}
	r := spec.Linux.Resources
	if r == nil || r.Memory == nil || *r.Memory.Limit != 64<<20 || *r.Memory.Swap != 64<<20 ||
		r.CPU == nil || *r.CPU.Quota != 150000 || *r.CPU.Period != 100000 || r.Pids == nil || *r.Pids.Limit != 5 {
		t.Errorf("effective resources: %+v", r)
	}
	if *c.Spec.Linux.Resources.Pids.Limit != 5 || c.Spec.Linux.Resources.Memory != nil {
		t.Error("EffectiveSpec changed the caller's spec")
	}
	// A limit replaces only the values it names: the spec's other memory
	// and cpu fields stay, here to be refused.
	swappiness, shares := uint64(10), uint64(512)
	c.Spec.Linux.Resources.Memory = &specs.LinuxMemory{Swappiness: &swappiness}
	c.Spec.Linux.Resources.CPU = &specs.LinuxCPU{Shares: &shares}
	if spec, _ = c.EffectiveSpec(); spec.Linux.Resources.Memory.Swappiness == nil || *spec.Linux.Resources.CPU.Shares != 512 {
		t.Errorf("Limits dropped the spec's other fields: %+v %+v", spec.Linux.Resources.Memory, spec.Linux.Resources.CPU)
	}
	if err := c.Start(); err == nil || !strings.Contains(err.Error(), "linux.resources.memory.swappiness") {
		t.Errorf("memory.swappiness beside Limits.Memory: %v", err)
	}

	for _, cpus := range []float64{-1, 0.001, 5000} {
		c := sandbox.Command("true")
		c.Limits.CPUs = cpus
		if err := c.Start(); err == nil || !strings.Contains(err.Error(), "Limits.CPUs") {
			t.Errorf("CPUs %v: %v", cpus, err)
			if err == nil {
				c.Wait()
			}
		}
	}
	c = sandbox.Command("true")
	c.Spec = sandbox.DefaultSpec(sandbox.DefaultOptions{Args: c.Args})
	c.Spec.Linux.Resources = &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0"}}
	if err := c.Start(); err == nil || !strings.Contains(err.Error(), "linux.resources.cpu.cpus: not supported yet") {
		t.Errorf("cpu.cpus: %v", err)
	} else if c.Result == nil || c.Result.Status != sandbox.StatusSetupError {
		t.Errorf("cpu.cpus: result %+v", c.Result)
	}

	testutil.RequireUserNS(t)
	testutil.RequireRoot(t) // a cgroup
	c = sandbox.Command("sh", "-c", "for i in 1 2 3 4 5 6 7 8; do sleep 1 & done; wait")
	c.Spec = sandbox.DefaultSpec(sandbox.DefaultOptions{Args: c.Args})
	c.Spec.Linux.Resources = &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &pids}}
	res, err := c.Run()
	if res == nil || res.Status != sandbox.StatusPidsLimit {
		t.Errorf("a spec's pids.limit: %+v, %v", res, err)
	}
}

// TestReaperCmdline: the sandbox's pid 1 shares this process's memory,
// command line included; the command cannot read it (a runner's arguments
// may hold its secrets): it is masked, its one thread's too, in every
// procfs of the spec's, whatever its hidepid (gid= shows pid 1 to that
// group anyway). A procfs with hidepid=invisible alone hides pid 1 whole.
func TestReaperCmdline(t *testing.T) {
	testutil.RequireUserNS(t)
	script := `cat /proc/1/cmdline /proc/1/task/1/cmdline 2>/dev/null; echo "[$(ls -d /proc/1 2>/dev/null)]"`
	out, err := sandbox.Command("sh", "-c", script).Output()
	if err != nil || string(out) != "[/proc/1]\n" {
		t.Errorf("default sandbox: %q %v, want pid 1's command lines empty", out, err)
	}
	c := sandbox.Command("sh", "-c", script)
	c.Spec = sandbox.DefaultSpec(sandbox.DefaultOptions{Args: c.Args})
	for i, m := range c.Spec.Mounts {
		if m.Type == "proc" {
			c.Spec.Mounts[i].Options = append(slices.Clone(m.Options), "hidepid=invisible")
		}
	}
	out, err = c.Output()
	if err != nil || string(out) != "[]\n" {
		t.Errorf("hidepid=invisible: %q %v, want pid 1 out of sight", out, err)
	}

	script = `cat /proc/1/cmdline /proc/1/task/1/cmdline /proc2/1/cmdline /proc2/1/task/1/cmdline 2>/dev/null; echo "[$(ls -d /proc/1 /proc2/1 2>/dev/null)]"`
	c = sandbox.Command("sh", "-c", script)
	c.Spec = sandbox.DefaultSpec(sandbox.DefaultOptions{Args: c.Args})
	for i, m := range c.Spec.Mounts {
		if m.Type == "proc" {
			c.Spec.Mounts[i].Options = append(slices.Clone(m.Options), "hidepid=invisible", "gid=0")
		}
	}
	c.Spec.Mounts = append(c.Spec.Mounts, specs.Mount{Destination: "/proc2", Type: "proc", Source: "proc"})
	out, err = c.Output()
	if err != nil || string(out) != "[/proc/1\n/proc2/1]\n" {
		t.Errorf("hidepid=invisible with gid=0, and a second procfs: %q %v, want pid 1 seen, its command lines empty", out, err)
	}
}

// TestOpenFilesChecked: a Limits.OpenFiles the setup's prlimit would
// refuse (above fs.nr_open) is refused by Start, by name, before anything
// runs.
func TestOpenFilesChecked(t *testing.T) {
	c := sandbox.Command("true")
	c.Limits.OpenFiles = 1 << 40
	err := c.Start()
	if err == nil || !strings.Contains(err.Error(), "Limits.OpenFiles 1099511627776: at most") {
		t.Errorf("OpenFiles 2^40: %v", err)
	}
	if c.Process != nil {
		t.Error("a process was started")
	}
}

// TestOutputKeepsStderr: Output keeps the command's standard error for an
// *ExitError or *LimitError when Stderr was nil, its first and last 32 KiB
// of a longer one, as os/exec's; not when the caller set Stderr.
func TestOutputKeepsStderr(t *testing.T) {
	testutil.RequireUserNS(t)
	_, err := sandbox.Command("sh", "-c", "echo oops >&2; exit 3").Output()
	var ee *sandbox.ExitError
	if !errors.As(err, &ee) || string(ee.Stderr) != "oops\n" {
		t.Errorf("%v, Stderr %q", err, stderrOf(ee))
	}
	_, err = sandbox.Command("sh", "-c", "head -c 100000 /dev/zero | tr '\\0' a >&2; echo END >&2; exit 1").Output()
	want := strings.Repeat("a", 32<<10) + "\n... omitting 34468 bytes ...\n" + strings.Repeat("a", 32<<10-4) + "END\n"
	if !errors.As(err, &ee) || string(ee.Stderr) != want {
		t.Errorf("long stderr: %v, %d bytes kept, want %d", err, len(stderrOf(ee)), len(want))
	}
	// Many small writes (the tail is a ring), and a limit's error.
	c := sandbox.Command("sh", "-c", "seq 0 9999 | while read i; do echo line$i; done >&2; sleep 10")
	c.Limits.WallTime = 3 * time.Second
	_, err = c.Output()
	var le *sandbox.LimitError
	if !errors.As(err, &le) || !bytes.HasPrefix(le.Stderr, []byte("line0\nline1\n")) || !bytes.HasSuffix(le.Stderr, []byte("\nline9998\nline9999\n")) ||
		!bytes.Contains(le.Stderr, []byte("\n... omitting ")) || len(le.Stderr) > 64<<10+40 {
		t.Errorf("a limit's error: %v, Stderr of %d bytes", err, len(le.Stderr))
	}
	c = sandbox.Command("sh", "-c", "echo oops >&2; exit 3")
	var own bytes.Buffer
	c.Stderr = &own
	_, err = c.Output()
	if !errors.As(err, &ee) || ee.Stderr != nil || own.String() != "oops\n" {
		t.Errorf("Stderr set: %v, ExitError.Stderr %q, own %q", err, stderrOf(ee), own.String())
	}
}

func stderrOf(ee *sandbox.ExitError) []byte {
	if ee == nil {
		return nil
	}
	return ee.Stderr
}

// TestRuncSpecQuirks: what `runc spec` writes runs, with warnings: a mount
// of type "cgroup" is mounted as cgroup2, and ambient capabilities that
// are not both permitted and inheritable are left out (the kernel would
// refuse them), as runc does.
func TestRuncSpecQuirks(t *testing.T) {
	testutil.RequireUserNS(t)
	c := sandbox.Command("sh", "-c", "grep CapAmb /proc/self/status; stat -f -c %T /sys/fs/cgroup")
	c.Spec = sandbox.DefaultSpec(sandbox.DefaultOptions{Args: c.Args})
	c.Spec.Mounts = append(c.Spec.Mounts, specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup",
		Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}})
	c.Spec.Process.Capabilities = &specs.LinuxCapabilities{Bounding: []string{"CAP_KILL"}, Permitted: []string{"CAP_KILL"},
		Effective: []string{"CAP_KILL"}, Ambient: []string{"CAP_KILL"}}
	out, err := c.Output()
	if err != nil || string(out) != "CapAmb:\t0000000000000000\ncgroup2fs\n" {
		t.Errorf("%q %v", out, err)
	}
	for _, want := range []string{"type: cgroup mounted as cgroup2", "process.capabilities.ambient: CAP_KILL not in both"} {
		if !slices.ContainsFunc(c.Warnings, func(w string) bool { return strings.Contains(w, want) }) {
			t.Errorf("no warning %q in %q", want, c.Warnings)
		}
	}
}
