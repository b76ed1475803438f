//go:build linux

package sandbox

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/gosandbox/sandbox/cgroups"
	"github.com/gosandbox/sandbox/spawn"
)

// cgStats is the cgroup accounting the Result needs.
type cgStats struct {
	cpu      time.Duration
	hasCPU   bool
	peak     uint64
	oomKills uint64
	pidsHits uint64
}

func readStats(cg *cgroups.Cgroup) *cgStats {
	st, err := cg.Stats()
	if err != nil {
		return nil
	}
	s := &cgStats{cpu: st.CPU, peak: st.MemoryPeak, oomKills: st.OOMKills, pidsHits: st.PidsLimitHits, hasCPU: true}
	for _, m := range st.Missing {
		if len(m) >= 3 && (m[:3] == "cpu") {
			s.hasCPU = false
		}
	}
	return s
}

// cpuSpent reports whether a failed run used up its CPU time: the tree's
// reached the limit, or, for a death by SIGXCPU (xcpu) where RLIMIT_CPU
// is the enforcement (no cgroup that counts CPU), came within what
// separates the accountings. RLIMIT_CPU fires on a process's sampled CPU
// time (in ticks, which over-charge a process that shares its CPU), the
// reported time is exact: under load the signal came 7 % early by the
// latter. A SIGXCPU the command sends itself before it used three
// quarters of its time is only a signal.
func cpuSpent(used, limit time.Duration, xcpu bool) bool {
	if used >= limit {
		return true
	}
	return xcpu && used >= limit-max(50*time.Millisecond, limit/4)
}

// xcpu reports a death by SIGXCPU, of the command or of a process whose
// shell passed it on as exit status 128+SIGXCPU.
func xcpu(r *Result) bool {
	return unix.Signal(r.Signal) == unix.SIGXCPU || (r.Signal == 0 && r.ExitCode == 128+int(unix.SIGXCPU))
}

// result attributes the end of the run, in the order the Status constants
// list: a limit the supervisor enforced, then what the kernel and the
// accounting say. A kill of the supervisor's, an OOM kill or refused forks
// count only when the command failed: one that exited 0 on its own (before
// a timer's kill landed, or after a child of its was killed) is ok, so that
// the status never contradicts the exit code. The output limit is the
// exception: output past it was dropped, so the caller did not get what
// the command wrote, whatever its exit.
func (c *Cmd) result(st *spawn.State, stats *cgStats, killed Status, wall time.Duration) *Result {
	r := &Result{ExitCode: -1, WallTime: Duration(wall), Unenforced: c.unenf}
	if r.Unenforced == nil {
		r.Unenforced = []string{}
	}
	if st != nil {
		if sig, ok := st.Signaled(); ok {
			r.Signal = int(sig)
		} else {
			r.ExitCode = st.ExitCode()
		}
		// PeakMemory stays 0 without a cgroup: ru_maxrss measures this
		// process's memory, not the command's (see spawn.State.Rusage).
		r.CPUTime = Duration(st.UserTime() + st.SystemTime())
	}
	if stats != nil {
		if stats.hasCPU {
			r.CPUTime = Duration(stats.cpu)
		}
		if stats.peak > 0 {
			r.PeakMemory = stats.peak
		}
	}
	sig := unix.Signal(r.Signal)
	failed := r.Signal != 0 || r.ExitCode != 0
	switch {
	case killed != "" && failed:
		r.Status = killed
	case killed == StatusOutputLimit:
		// Output past the limit was dropped: whatever the exit, the
		// caller did not get it all.
		r.Status = killed
	case stats != nil && stats.oomKills > 0 && c.res.MemoryMax > 0 && failed:
		r.Status = StatusMemoryLimit
	case stats != nil && stats.oomKills > 0 && failed:
		r.Status = StatusOOM
	case c.Limits.CPUTime > 0 && failed && cpuSpent(time.Duration(r.CPUTime), c.Limits.CPUTime, xcpu(r) && (stats == nil || !stats.hasCPU)):
		// A failure at or past the budget is its end, whoever saw it
		// first: the watcher's kill, a process's RLIMIT_CPU (SIGXCPU, or
		// a shell's exit status 152 after it), or the command giving up.
		// A SIGXCPU the command sent itself early is a plain signal.
		r.Status = StatusTimeLimit
	case sig == unix.SIGSYS:
		r.Status = StatusSeccompViolation
	case stats != nil && stats.pidsHits > 0 && failed:
		r.Status = StatusPidsLimit
	case r.Signal != 0:
		r.Status = StatusSignal
	case r.ExitCode != 0:
		r.Status = StatusExit
	default:
		r.Status = StatusOK
	}
	return r
}
