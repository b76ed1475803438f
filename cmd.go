//go:build linux

package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/gosandbox/sandbox/cgroups"
	"github.com/gosandbox/sandbox/hostids"
	"github.com/gosandbox/sandbox/oci"
	"github.com/gosandbox/sandbox/rootfs"
	"github.com/gosandbox/sandbox/spawn"
)

// Limits bound a run. The zero value of each field means no limit. Memory,
// Pids and the CPU time of the whole tree need a cgroup; the rest work
// everywhere. What a host cannot enforce is listed in Result.Unenforced
// (and refused with Cmd.Strict).
type Limits struct {
	// CPUTime is the CPU time the whole tree may use, checked against the
	// cgroup's accounting, with RLIMIT_CPU for each process as a backstop
	// (a second above it, rounded up to whole seconds); without a cgroup,
	// RLIMIT_CPU alone (rounded up), for each process. A run that fails
	// with its CPU time used up ends as time-limit, whatever saw it first.
	CPUTime time.Duration
	// WallTime is how long the command may run, from its exec (the
	// sandbox's setup does not count).
	WallTime time.Duration
	// Memory caps the tree's memory in bytes, swap included.
	Memory int64
	// Pids caps the tree's processes and threads.
	Pids int64
	// CPUs caps the tree's CPU bandwidth: it may use CPUs × 100ms of CPU
	// time in each 100ms (cpu.max; cpu.cfs_quota_us on v1), so 0.5 is half
	// of one CPU and 2 two whole CPUs. Zero: no limit; otherwise at least
	// 0.01.
	CPUs float64
	// Output caps the bytes written to stdout and stderr together.
	Output int64
	// FileSize caps the size of any file the command writes (RLIMIT_FSIZE).
	FileSize int64
	// OpenFiles caps each process's descriptors (RLIMIT_NOFILE).
	OpenFiles uint64
}

// Cmd is a command to run in a sandbox, shaped like os/exec.Cmd. It is
// used once. Start never parks an OS thread for the sandbox's setup; Wait
// supervises the limits and returns the Result.
type Cmd struct {
	// Path is the program; without a slash it is searched in the
	// sandbox's $PATH (inside the sandbox's root).
	Path string
	// Args holds argv, Args[0] included. Command sets {name, arg…}.
	Args []string
	// Env is added to the spec's environment (DefaultEnv for the default
	// sandbox); nothing comes from the caller's own environment.
	Env []string
	// Dir is the working directory inside the sandbox; empty keeps the
	// spec's.
	Dir string

	// Stdin, Stdout and Stderr are as for os/exec: nil is the null device;
	// an *os.File is passed as it is (unless Limits.Output needs to count
	// what passes); anything else is served through a pipe. With
	// Limits.Output, a Stdin the command could write to (a terminal, a
	// socket) is relayed through a pipe as well; ExtraFiles are always
	// passed as they are.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// ExtraFiles become descriptors 3, 4, … in the sandbox.
	ExtraFiles []*os.File

	// Spec is the sandbox; nil means DefaultSpec. Path, Args, Env and Dir
	// override its process fields. Cmd copies it, so the caller's value is
	// not changed — unless SpecOwned is set.
	Spec *specs.Spec
	// SpecOwned hands Spec over to the Cmd, which then changes it in place
	// instead of copying it (a deep copy costs more than the rest of the
	// setup's Go work in a fresh process).
	SpecOwned bool
	// Limits bound the run.
	Limits Limits
	// Strict makes Start fail when a limit cannot be enforced on this host
	// instead of running with it listed in Result.Unenforced.
	Strict bool
	// DieWithParent kills the sandbox when the thread that started it
	// exits (PR_SET_PDEATHSIG on its pid-1 reaper). Without it a sandbox
	// outlives a program that dies without canceling it: the sandbox is
	// in sessions of its own, so a terminal's Ctrl-C or a kill of the
	// program's process group does not reach it either.
	DieWithParent bool
	// OwnHostIDs maps a root caller's sandbox onto a range of host ids
	// that no other running sandbox holds (hostids.DefaultPool), from
	// Start until the sandbox is gone, instead of the spec's: sandboxes
	// that share host ids share the kernel's per-user quotas (inotify
	// instances, pending signals, message queue bytes), and what one
	// leaves in a bind they both have. The spec needs a new pid namespace,
	// and one id mapping of 65536 from id 0 each for uids and gids, as
	// DefaultSpec's. What `sandbox run --host-ids auto` does.
	OwnHostIDs bool

	// Cancel is called when the context of CommandContext is done; nil
	// kills the whole tree. If the command has not exited WaitDelay after
	// Cancel, the tree is killed anyway. What Wait returns then: the
	// context's error, with status canceled when the command failed (so
	// unlike os/exec, which returns the command's own exit error); when
	// Cancel returns an error, that error, wrapped; when it returns
	// os.ErrProcessDone, the command's own result, as if no cancel came.
	// Without Cancel, a context that ended after the command exited on
	// its own (it did not die of the kill) leaves its result as it is.
	Cancel func() error
	// WaitDelay bounds the wait, once the command exited, for its output
	// to drain, and the wait after Cancel; zero waits without bound.
	WaitDelay time.Duration

	// Process is the running sandbox (its pid-1 reaper in the default
	// sandbox), after Start.
	Process *spawn.Process
	// Result is set by Wait.
	Result *Result
	// Warnings lists, once Start has returned, what the spec asked for
	// that is ignored, and what it leaves unprotected (a tree without a
	// pid namespace or a cgroup cannot be killed whole).
	Warnings []string

	ctx      context.Context
	started  bool
	proc     *spawn.Process // set by Start before any goroutine that kills
	cg       *cgroups.Cgroup
	compiled *oci.Compiled
	closers  []io.Closer // parent's ends, closed after Start
	copiers  sync.WaitGroup
	copyErr  error
	copyMu   sync.Mutex
	readers  []*os.File // pipe read ends the copiers drain
	// pending are the copiers, started only once the command runs, and
	// stdinW the stdin pipe's write end until its copier owns it: a failed
	// Start leaves no goroutine blocked on the caller's Reader.
	pending  []func()
	stdinW   *os.File
	relay    *stdinRelay // a writable stdin's relay, with Limits.Output or a terminal
	ptmx     *os.File    // the master of the command's pty (process.terminal)
	output   outputCounter
	start    time.Time
	killed   chan Status // the reason, once a limit or cancel killed the tree
	unenf    []string
	done     chan struct{}
	waitErr  error
	state    *spawn.State
	waitOnce sync.Once
	// hostRange is the range OwnHostIDs reserved, until the sandbox is
	// gone.
	hostRange *hostids.Reservation
	// res are the cgroup limits of the effective spec (Limits.Memory,
	// Pids and CPUs, or the spec's linux.resources).
	res cgroups.Resources

	// owned are the pipe ends the pipe methods made for the streams, and
	// afterWait the ends they returned, which Wait closes.
	owned     map[*os.File]bool
	afterWait []io.Closer
	stdinPipe *closeOnce // StdinPipe's end, closed once the command exited

	// console is the socket the command sends its pty's master over
	// (oci.Options.Console), and consolePeer the sandbox's end, until Start
	// has the master.
	console, consolePeer *os.File
}

// Command returns the Cmd to run name with args in the default sandbox.
func Command(name string, arg ...string) *Cmd {
	return &Cmd{Path: name, Args: append([]string{name}, arg...)}
}

// CommandContext is Command with a context: when ctx is done before the
// command exits, Cancel runs (by default, killing the whole tree).
func CommandContext(ctx context.Context, name string, arg ...string) *Cmd {
	if ctx == nil {
		panic("sandbox: nil Context")
	}
	c := Command(name, arg...)
	c.ctx = ctx
	return c
}

// EffectiveSpec returns the spec Start will run, with Limits applied: as
// rlimits, and Memory, Pids and CPUs as linux.resources (memory.limit and
// swap, pids.limit, cpu.quota and period, replacing the spec's values of
// those alone). It does not start anything. Start changes two values
// more, which depend on what it finds then: with a cgroup that counts CPU
// time, RLIMIT_CPU goes a second above CPUTime (the cgroup's watcher
// enforces it), and a terminal made in the sandbox gets consoleSize.
func (c *Cmd) EffectiveSpec() (*specs.Spec, error) {
	var spec *specs.Spec
	switch {
	case c.Spec == nil:
		spec = DefaultSpec(DefaultOptions{Args: c.Args})
	case c.SpecOwned:
		spec = c.Spec
	default:
		b, err := json.Marshal(c.Spec)
		if err != nil {
			return nil, fmt.Errorf("sandbox: copying the spec: %w", err)
		}
		spec = new(specs.Spec)
		if err := json.Unmarshal(b, spec); err != nil {
			return nil, fmt.Errorf("sandbox: copying the spec: %w", err)
		}
	}
	// With SpecOwned the fields below apply in place; applying them twice
	// (EffectiveSpec, then Start) changes nothing more: each is set, or
	// merged by key.
	if spec.Process == nil {
		spec.Process = &specs.Process{Cwd: "/"}
	}
	if len(c.Args) > 0 {
		spec.Process.Args = append([]string(nil), c.Args...)
	} else if c.Path != "" {
		spec.Process.Args = []string{c.Path}
	}
	spec.Process.Env = mergeEnv(spec.Process.Env, c.Env)
	if c.Dir != "" {
		spec.Process.Cwd = c.Dir
	}
	l := c.Limits
	if l.CPUTime > 0 {
		secs := uint64((l.CPUTime + time.Second - 1) / time.Second)
		setRlimit(spec, "RLIMIT_CPU", secs, secs+1)
	}
	if l.FileSize > 0 {
		setRlimit(spec, "RLIMIT_FSIZE", uint64(l.FileSize), uint64(l.FileSize))
	}
	if l.OpenFiles > 0 {
		setRlimit(spec, "RLIMIT_NOFILE", l.OpenFiles, l.OpenFiles)
	}
	if l.Memory > 0 || l.Pids > 0 || l.CPUs > 0 {
		if spec.Linux == nil {
			spec.Linux = &specs.Linux{}
		}
		if spec.Linux.Resources == nil {
			spec.Linux.Resources = &specs.LinuxResources{}
		}
		// Only the values a limit names change: the spec's other memory
		// and cpu fields stay, to be applied or refused.
		r := spec.Linux.Resources
		if l.Memory > 0 {
			var m specs.LinuxMemory
			if r.Memory != nil {
				m = *r.Memory
			}
			// swap counts memory plus swap: equal, it forbids swap.
			m.Limit, m.Swap = &l.Memory, &l.Memory
			r.Memory = &m
		}
		if l.Pids > 0 {
			r.Pids = &specs.LinuxPids{Limit: &l.Pids}
		}
		if l.CPUs > 0 {
			var cpu specs.LinuxCPU
			if r.CPU != nil {
				cpu = *r.CPU
			}
			quota, period := cpuQuota(l.CPUs), uint64(cgroups.DefaultCPUPeriod/time.Microsecond)
			cpu.Quota, cpu.Period = &quota, &period
			r.CPU = &cpu
		}
	}
	return spec, nil
}

// MaxCPUs bounds Limits.CPUs: a quota above what any host could use is a
// mistake, not a limit.
const MaxCPUs = 1024

// cpuQuota is the quota of Limits.CPUs in µs per default period.
func cpuQuota(cpus float64) int64 {
	return int64(math.Round(cpus * float64(cgroups.DefaultCPUPeriod/time.Microsecond)))
}

func setRlimit(spec *specs.Spec, typ string, soft, hard uint64) {
	for i, r := range spec.Process.Rlimits {
		if r.Type == typ {
			spec.Process.Rlimits[i].Soft, spec.Process.Rlimits[i].Hard = soft, hard
			return
		}
	}
	spec.Process.Rlimits = append(spec.Process.Rlimits, specs.POSIXRlimit{Type: typ, Soft: soft, Hard: hard})
}

// Start builds the sandbox and starts the command in it. It returns once
// the command exec'd, or with the setup's error (errors.As finds the
// *spawn.StepError naming the failed step); the setup itself never holds
// an OS thread, only this goroutine.
func (c *Cmd) Start() (err error) {
	if c.started {
		return errors.New("sandbox: already started")
	}
	c.started = true
	defer func() {
		if err != nil {
			c.closePipes() // as os/exec: a reader of a pipe method's sees EOF
		}
		switch {
		case err == nil || c.Result != nil:
		case c.ctx != nil && c.ctx.Err() != nil && errors.Is(err, c.ctx.Err()):
			c.Result = &Result{Status: StatusCanceled, ExitCode: -1, Unenforced: slices.Clone(c.unenf)}
		default:
			c.Result = setupResult(err, c.unenf)
		}
	}()
	c.killed = make(chan Status, 1)
	c.done = make(chan struct{})
	if c.ctx != nil {
		if err := c.ctx.Err(); err != nil {
			// Canceled before anything ran: not a setup failure.
			c.Result = &Result{Status: StatusCanceled, ExitCode: -1, Unenforced: []string{}}
			return err
		}
	}
	if len(c.Args) == 0 && c.Path == "" && c.Spec == nil {
		return errors.New("sandbox: no command")
	}
	if err := c.Limits.validate(); err != nil {
		return err
	}
	spec, err := c.EffectiveSpec()
	if err != nil {
		return err
	}
	if err := c.makeCgroup(spec); err != nil {
		return err
	}
	if l := c.Limits.CPUTime; l > 0 && c.cg != nil && c.cg.AccountsCPU() {
		// The tree's limit is the watcher's, on the cgroup's exact count;
		// RLIMIT_CPU only backs it, a second later, so that its SIGXCPU
		// (on a process's tick-sampled time, ahead of that count under
		// load) does not end the run first as a plain failure.
		secs := uint64((l+time.Second-1)/time.Second) + 1
		setRlimit(spec, "RLIMIT_CPU", secs, secs+1)
	}
	if c.OwnHostIDs {
		if err := c.ownHostIDs(spec); err != nil {
			c.cleanup()
			return err
		}
	}
	opts := c.CompileOptions(spec)
	if c.cg != nil {
		opts.Extra = c.cg.JoinSteps
	}
	compiled, err := oci.Compile(spec, opts)
	if err != nil {
		c.cleanup()
		return err
	}
	c.compiled = compiled
	c.Warnings = append(c.Warnings, compiled.Warnings...)
	if c.cg == nil && !newPidNS(spec) {
		c.Warnings = append(c.Warnings, "no new pid namespace and no cgroup: processes the command leaves running "+
			"(daemons, a process group of their own) survive its end, a limit's kill and a cancel")
	}

	files, err := c.stdio(spec)
	if err != nil {
		c.cleanup()
		return err
	}
	attr := &spawn.Attr{Files: files}
	if c.cg != nil {
		attr.Inputs = slices.Clone(c.cg.Inputs())
		attr.Cgroup = c.cg.Dir()
	}
	if c.consolePeer != nil {
		attr.Inputs = append(attr.Inputs, c.consolePeer) // the program's last input
	}
	p, err := compiled.StartAsync(attr)
	if err == nil {
		c.proc = p
		if c.ctx != nil {
			// A setup stuck on a hung filesystem ends with the context.
			if err = p.AwaitStart(c.ctx); err != nil && p.StartErr() == nil {
				c.abort(p) // canceled right after the exec
			}
		} else {
			<-p.Started()
			err = p.StartErr()
		}
		// The wall clock runs from the exec: the setup's time, which
		// grows with the host's load, is not the command's.
		c.start = time.Now()
		if err == nil && c.console != nil {
			if err = c.receiveConsole(); err != nil {
				c.abort(p)
			}
		}
	}
	for _, cl := range c.closers {
		cl.Close()
	}
	c.closers = nil
	if err != nil {
		c.cleanup()
		return err
	}
	c.Process = p
	c.holdHostIDs(p.Pid)
	for _, run := range c.pending {
		run()
	}
	c.pending, c.stdinW = nil, nil
	go c.supervise()
	return nil
}

// CompileOptions returns the options Start compiles spec (EffectiveSpec's
// result) with, but for the join steps of the sandbox's cgroup, which only
// Start makes: what `sandbox explain` lists. With a terminal made inside
// the sandbox it sets spec.Process.ConsoleSize, as Start does.
func (c *Cmd) CompileOptions(spec *specs.Spec) oci.Options {
	opts := oci.Options{Files: 3 + len(c.ExtraFiles), ResourcesApplied: true}
	if c.Path != "" && (len(c.Args) == 0 || c.Path != c.Args[0]) {
		opts.Path = c.Path
	}
	if c.DieWithParent {
		opts.Pdeathsig = unix.SIGKILL
	}
	if spec.Process != nil && spec.Process.Terminal && oci.ConsoleInside(spec) {
		// The command makes its terminal (ttyStdio), of this size.
		opts.Console = true
		ws := c.consoleSize(spec)
		spec.Process.ConsoleSize = &specs.Box{Height: uint(ws.Row), Width: uint(ws.Col)}
	}
	return opts
}

// Unenforced lists the requested limits this host cannot enforce, with
// the fix for each, once Start has returned (Result.Unenforced holds the
// same). Cmd.Strict refuses to start instead.
func (c *Cmd) Unenforced() []string { return slices.Clone(c.unenf) }

// Wait waits for the command to exit and its output to drain, and returns
// the Result. The error is nil for StatusOK; an *ExitError for a non-zero
// exit or a signal; a *LimitError when a limit ended the run; the
// context's error after a cancel. Every error but a setup failure comes
// with the Result.
func (c *Cmd) Wait() (*Result, error) {
	if c.Process == nil {
		if c.Result != nil {
			return c.Result, errors.New("sandbox: Start failed: " + c.Result.String())
		}
		return nil, errors.New("sandbox: not started")
	}
	<-c.done
	c.closePipes()
	return c.Result, c.waitErr
}

// Run starts the command and waits for it.
func (c *Cmd) Run() (*Result, error) {
	if c.started {
		return nil, errors.New("sandbox: already started") // c.Result is Wait's
	}
	if err := c.Start(); err != nil {
		return c.Result, err
	}
	return c.Wait()
}

// Output runs the command and returns its standard output. With Stderr
// nil, an *ExitError or *LimitError it returns holds the command's
// standard error (its first and last 32 KiB), as os/exec's ExitError.
func (c *Cmd) Output() ([]byte, error) {
	if c.Stdout != nil {
		return nil, errors.New("sandbox: Stdout already set")
	}
	var b strings.Builder
	c.Stdout = &b
	var stderr *headTail
	if c.Stderr == nil {
		stderr = &headTail{n: 32 << 10}
		c.Stderr = stderr
	}
	_, err := c.Run()
	if stderr != nil {
		var ee *ExitError
		var le *LimitError
		switch {
		case errors.As(err, &ee):
			ee.Stderr = stderr.Bytes()
		case errors.As(err, &le):
			le.Stderr = stderr.Bytes()
		}
	}
	return []byte(b.String()), err
}

// headTail keeps the first and the last n bytes written to it; the last
// in a ring once n are there, so that small writes copy no more than
// themselves.
type headTail struct {
	n          int
	head, tail []byte
	tailOff    int // the oldest byte of a full tail
	skipped    int64
}

func (h *headTail) Write(p []byte) (int, error) {
	written := len(p)
	p = h.fill(&h.head, p)
	// Of what is left only the last n bytes can stay.
	if over := len(p) - h.n; over > 0 {
		h.skipped += int64(over)
		p = p[over:]
	}
	p = h.fill(&h.tail, p)
	for len(p) > 0 { // the tail is full: p replaces its oldest bytes
		k := copy(h.tail[h.tailOff:], p)
		p = p[k:]
		h.skipped += int64(k)
		if h.tailOff += k; h.tailOff == h.n {
			h.tailOff = 0
		}
	}
	return written, nil
}

// fill appends to *dst what of p fits in n bytes, and returns the rest.
func (h *headTail) fill(dst *[]byte, p []byte) []byte {
	if room := h.n - len(*dst); room > 0 {
		k := min(room, len(p))
		*dst = append(*dst, p[:k]...)
		p = p[k:]
	}
	return p
}

// Bytes is the head, then the tail, with a line saying how many bytes
// were left out between them, as os/exec's.
func (h *headTail) Bytes() []byte {
	out := slices.Clone(h.head)
	if h.skipped > 0 {
		out = fmt.Appendf(out, "\n... omitting %d bytes ...\n", h.skipped)
	}
	out = append(out, h.tail[h.tailOff:]...)
	return append(out, h.tail[:h.tailOff]...)
}

// CombinedOutput runs the command and returns its standard output and
// standard error together.
func (c *Cmd) CombinedOutput() ([]byte, error) {
	if c.Stdout != nil || c.Stderr != nil {
		return nil, errors.New("sandbox: Stdout or Stderr already set")
	}
	var b syncBuffer
	c.Stdout, c.Stderr = &b, &b
	_, err := c.Run()
	return b.Bytes(), err
}

type syncBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b = append(s.b, p...)
	return len(p), nil
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.b...)
}

func (l *Limits) validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    int64
		show any
	}{
		{"CPUTime", int64(l.CPUTime), l.CPUTime}, {"WallTime", int64(l.WallTime), l.WallTime}, {"Memory", l.Memory, l.Memory},
		{"Pids", l.Pids, l.Pids}, {"Output", l.Output, l.Output}, {"FileSize", l.FileSize, l.FileSize},
	} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("sandbox: Limits.%s is %v: must not be negative", f.name, f.show))
		}
	}
	if l.Memory > 0 && l.Memory < cgroups.MinMemory {
		errs = append(errs, fmt.Errorf("sandbox: memory limit %d bytes: at least %d (1 MiB)", l.Memory, cgroups.MinMemory))
	}
	if l.Pids > cgroups.MaxPids {
		errs = append(errs, fmt.Errorf("sandbox: pids limit %d: at most %d (the kernel's limit on pids)", l.Pids, cgroups.MaxPids))
	}
	if err := CheckOpenFiles(l.OpenFiles); err != nil {
		errs = append(errs, fmt.Errorf("sandbox: Limits.OpenFiles %d: %w", l.OpenFiles, err))
	}
	if l.CPUs != 0 && !(l.CPUs >= 0.01 && l.CPUs <= MaxCPUs) { // NaN too
		errs = append(errs, fmt.Errorf("sandbox: Limits.CPUs is %g: must be between 0.01 and %d, or 0 for none", l.CPUs, MaxCPUs))
	}
	return errors.Join(errs...)
}

// CheckOpenFiles refuses a limit on open descriptors (Limits.OpenFiles)
// that the setup's prlimit would: above the kernel's fs.nr_open, or above
// this process's hard limit without CAP_SYS_RESOURCE to raise it. Zero
// (the default) passes.
func CheckOpenFiles(n uint64) error {
	if n == 0 {
		return nil
	}
	if b, err := os.ReadFile("/proc/sys/fs/nr_open"); err == nil {
		if max, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil && n > max {
			return fmt.Errorf("at most %d (fs.nr_open)", max)
		}
	}
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) != nil || n <= rl.Max {
		return nil
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err == nil && data[unix.CAP_SYS_RESOURCE/32].Effective&(1<<(unix.CAP_SYS_RESOURCE%32)) != 0 {
		return nil
	}
	return fmt.Errorf("above this process's hard limit of %d, which only CAP_SYS_RESOURCE may raise", rl.Max)
}

// makeCgroup creates the run's cgroup when the spec's linux.resources
// (Limits.Memory, Pids and CPUs among them) or the CPU time accounting
// need one. Without one (no cgroup hierarchy this caller may write), the
// limits that need it are listed as unenforced.
func (c *Cmd) makeCgroup(spec *specs.Spec) error {
	var specRes *specs.LinuxResources
	if spec.Linux != nil {
		specRes = spec.Linux.Resources
	}
	res, warnings, err := cgroups.FromOCI(specRes)
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	if len(res.Devices) > 0 {
		res.Devices = append(res.Devices, sandboxDevices(spec)...)
		if len(res.Devices) > cgroups.MaxDeviceRules {
			return fmt.Errorf("sandbox: linux.resources.devices: %d rules with those allowing the sandbox's own nodes (linux.devices and /dev's), at most %d",
				len(res.Devices), cgroups.MaxDeviceRules)
		}
	}
	c.Warnings = append(c.Warnings, warnings...)
	c.res = res
	requested := requestedCgroupLimits(res, c.Limits.CPUTime)
	devicesUnenforced := false
	if len(requested) > 0 {
		// A supervisor SIGKILLed before its Destroy leaves its cgroup:
		// collect such leftovers once per process, before making ours.
		sweepOnce.Do(func() { cgroups.Sweep(nil, "") })
		cg, err := cgroups.New(cgroups.Config{Resources: res, BestEffort: true, Supervisor: hasReaper(spec)})
		var ue *cgroups.UnenforcedError
		if err != nil && (errors.Is(err, unix.EINVAL) || errors.As(err, &ue)) {
			// The kernel refused a value (a bad limit), or a limit failed
			// for a reason BestEffort does not pass over: not a host
			// without cgroups, which BestEffort notes and goes on.
			return fmt.Errorf("sandbox: cgroup: %w", err)
		}
		if err != nil {
			for _, lim := range requested {
				c.unenf = append(c.unenf, fmt.Sprintf("%s: no usable cgroup: %v", lim, err))
			}
			devicesUnenforced = len(res.Devices) > 0
		} else {
			c.cg = cg
			for _, u := range cg.Unenforced() {
				c.unenf = append(c.unenf, u.String())
				devicesUnenforced = devicesUnenforced || u.Limit == cgroups.DeviceRulesLimit
			}
		}
	}
	if created, _ := oci.Namespaces(spec); devicesUnenforced && !created[specs.UserNamespace] {
		c.cleanup()
		return errors.New("sandbox: linux.resources.devices: the device rules cannot be enforced here, " +
			"and without a user namespace nothing else keeps the command from device nodes: " + strings.Join(c.unenf, "; "))
	}
	if c.Strict && len(c.unenf) > 0 {
		c.cleanup()
		return &UnenforcedError{Unenforced: c.unenf}
	}
	return nil
}

// sandboxDevices are the device rules that let the command use the nodes
// the sandbox makes, after the spec's own (runc adds the same): /dev's
// defaults, linux.devices, the devpts ptmx and its terminals.
func sandboxDevices(spec *specs.Spec) []cgroups.DeviceRule {
	devs := rootfs.DefaultDevices()
	if spec.Linux != nil {
		devs = append(devs, spec.Linux.Devices...)
	}
	rules := []cgroups.DeviceRule{
		{Allow: true, Type: 'c', Major: 5, Minor: 2, Access: "rwm"},                   // /dev/pts/ptmx
		{Allow: true, Type: 'c', Major: 136, Minor: cgroups.AnyDevice, Access: "rwm"}, // its terminals
	}
	for _, d := range devs {
		switch d.Type {
		case "c", "u":
			rules = append(rules, cgroups.DeviceRule{Allow: true, Type: 'c', Major: d.Major, Minor: d.Minor, Access: "rwm"})
		case "b":
			rules = append(rules, cgroups.DeviceRule{Allow: true, Type: 'b', Major: d.Major, Minor: d.Minor, Access: "rwm"})
		}
	}
	return rules
}

var sweepOnce sync.Once

func requestedCgroupLimits(r cgroups.Resources, cpuTime time.Duration) []string {
	var out []string
	if r.MemoryMax > 0 {
		out = append(out, "memory")
	}
	if r.PidsMax > 0 {
		out = append(out, "pids")
	}
	if r.CPUQuota > 0 {
		out = append(out, "cpu bandwidth")
	}
	if r.CPUWeight > 0 {
		out = append(out, "cpu weight")
	}
	if len(r.Devices) > 0 {
		out = append(out, cgroups.DeviceRulesLimit)
	}
	if cpuTime > 0 {
		out = append(out, "cpu time of the whole tree (each process still has RLIMIT_CPU, in whole seconds rounded up)")
	}
	return out
}

func (c *Cmd) cleanup() {
	if c.compiled != nil {
		c.compiled.Close()
		c.compiled = nil
	}
	if c.cg != nil {
		c.cg.Destroy()
	}
	for _, cl := range c.closers {
		cl.Close()
	}
	c.closers = nil
	c.closeReaders()
	if c.stdinW != nil {
		c.stdinW.Close()
	}
	if c.relay != nil {
		c.relay.stop(false)
	}
	c.pending, c.stdinW = nil, nil
	c.releaseHostIDs()
	c.closePipes()
}

// hasReaper reports whether the sandbox's first process stays as a
// pid-1 reaper (oci.AnnotationInit), or as the waiter that puts the
// command into a joined pid namespace: it is not one of the command's
// processes.
func hasReaper(spec *specs.Spec) bool {
	_, joined := oci.Namespaces(spec)
	return spec.Annotations[oci.AnnotationInit] == "true" || joined[specs.PIDNamespace]
}

// newPidNS reports whether spec gives the command a pid namespace of its
// own, whose end (with its pid 1) ends the whole tree.
func newPidNS(spec *specs.Spec) bool {
	created, _ := oci.Namespaces(spec)
	return created[specs.PIDNamespace]
}
