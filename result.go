//go:build linux

package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gosandbox/sandbox/spawn"
)

// Status says why a sandboxed command ended.
type Status string

// The statuses, in the order they are attributed: a setup failure first,
// then the limit the supervisor enforced, then what the kernel reported.
const (
	StatusOK               Status = "ok"                // exited 0
	StatusExit             Status = "exit"              // exited non-zero
	StatusSignal           Status = "signal"            // killed by a signal nobody in the sandbox's supervision sent
	StatusTimeLimit        Status = "time-limit"        // used its CPU time (Limits.CPUTime)
	StatusWallLimit        Status = "wall-limit"        // ran past Limits.WallTime
	StatusMemoryLimit      Status = "memory-limit"      // the OOM killer acted at the memory limit (Limits.Memory, or the spec's)
	StatusOOM              Status = "oom"               // the OOM killer acted without a memory limit of ours
	StatusOutputLimit      Status = "output-limit"      // wrote more than Limits.Output to stdout and stderr
	StatusPidsLimit        Status = "pids-limit"        // failed after forks were refused at the pids limit (Limits.Pids, or the spec's)
	StatusSeccompViolation Status = "seccomp-violation" // killed by its seccomp filter (SIGSYS)
	StatusSetupError       Status = "setup-error"       // the sandbox could not be built; the command never ran
	StatusCanceled         Status = "canceled"          // the library's context was done and its Cancel (by default a kill) ended the command
)

// Result is the record of one run: `sandbox run --status-json` writes it.
type Result struct {
	Status Status `json:"status"`
	// ExitCode is the command's exit status, or -1 when it did not exit
	// (signal, setup failure).
	ExitCode int `json:"exit_code"`
	// Signal is the number of the signal that ended the command, or 0.
	Signal int `json:"signal"`
	// CPUTime is the CPU time of the whole tree; WallTime the time from
	// the command's exec to its exit.
	CPUTime  Duration `json:"cpu_time"`
	WallTime Duration `json:"wall_time"`
	// PeakMemory is the tree's highest memory use in bytes, from its
	// cgroup; 0 when the run had none (no memory, pids or CPU limit, or
	// no cgroup to use): the kernel's per-process peaks of a sandbox's
	// processes include the memory of the process that started them.
	PeakMemory uint64 `json:"peak_memory"`
	// Unenforced lists the requested protections this host could not
	// enforce, with the fix for each.
	Unenforced []string `json:"unenforced"`
	// SetupError is the failed step, for StatusSetupError.
	SetupError *SetupError `json:"setup_error,omitempty"`
}

// SetupError is the step that failed while the sandbox was built.
type SetupError struct {
	Step    int    `json:"step"`
	Op      string `json:"op"`
	Target  string `json:"target"`
	Errno   string `json:"errno"`
	Message string `json:"message"`
}

// Duration marshals as seconds (a JSON number).
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).Seconds())
}

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s float64
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*d = Duration(s * float64(time.Second))
	return nil
}

// ExitStatus is the exit code `sandbox run` uses for this result: the
// command's own; 125 when the setup failed; 126 when the command was not
// executable; 127 when it was not found; 128+n when signal n ended it;
// -1 when it never ran, its context done before Start.
func (r *Result) ExitStatus() int {
	switch {
	case r.Status == StatusSetupError && r.SetupError != nil && r.SetupError.Op == "execve":
		if r.SetupError.Errno == "ENOENT" {
			return 127
		}
		return 126
	case r.Status == StatusSetupError:
		return 125
	case r.Signal != 0:
		return 128 + r.Signal
	}
	return r.ExitCode
}

func (r *Result) String() string {
	switch {
	case r.Status == StatusSetupError && r.SetupError != nil:
		return fmt.Sprintf("setup-error: %s", r.SetupError.Message)
	case r.Status == StatusExit:
		return fmt.Sprintf("exit status %d", r.ExitCode)
	case r.Status == StatusSignal:
		return "killed by " + unix.SignalName(unix.Signal(r.Signal))
	case r.Signal != 0:
		return fmt.Sprintf("%s: killed by %s", r.Status, unix.SignalName(unix.Signal(r.Signal)))
	case r.ExitCode > 0:
		return fmt.Sprintf("%s: exit status %d", r.Status, r.ExitCode)
	}
	return string(r.Status)
}

// ExitError reports a command that ran and did not succeed.
type ExitError struct {
	*Result
	// Stderr holds the command's standard error when Output collected it
	// (Cmd.Stderr was nil), as os/exec's: its first and last 32 KiB at
	// most, with a line saying how much was left out between them.
	Stderr []byte
}

func (e *ExitError) Error() string { return "sandbox: " + e.Result.String() }

// LimitError reports a command that a limit ended. errors.As finds it.
type LimitError struct {
	*Result
	Limit string // the limit flag: "memory", "time", "wall-time", "pids", "output-limit"
	// Stderr is as ExitError's: what Output kept of standard error.
	Stderr []byte
}

func (e *LimitError) Error() string { return "sandbox: " + e.Result.String() }

// ErrUnenforced is matched (errors.Is) by a Start refused because
// Cmd.Strict asks for every limit and the host cannot enforce one.
var ErrUnenforced = errors.New("sandbox: a limit cannot be enforced on this host")

// UnenforcedError lists what Cmd.Strict refused to run without.
type UnenforcedError struct {
	Unenforced []string
}

func (e *UnenforcedError) Error() string {
	return "sandbox: strict, and cannot enforce: " + strings.Join(e.Unenforced, "; ")
}

func (e *UnenforcedError) Is(target error) bool { return target == ErrUnenforced }

// SetupResult is the record of a run refused before its command started,
// such as one with bad flags: status setup-error, with the step when err
// wraps a *spawn.StepError.
func SetupResult(err error) *Result { return setupResult(err, nil) }

// setupResult records a setup failure.
func setupResult(err error, unenforced []string) *Result {
	if unenforced == nil {
		unenforced = []string{}
	}
	r := &Result{Status: StatusSetupError, ExitCode: -1, Unenforced: unenforced, SetupError: &SetupError{Step: -1, Message: err.Error()}}
	var ue *UnenforcedError
	if errors.As(err, &ue) {
		r.Unenforced = ue.Unenforced
	}
	var se *spawn.StepError
	if errors.As(err, &se) {
		r.SetupError.Step = se.Step
		r.SetupError.Op = se.Op
		r.SetupError.Target = se.Target
		r.SetupError.Errno = unix.ErrnoName(se.Errno)
	}
	return r
}
