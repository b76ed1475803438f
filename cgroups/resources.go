package cgroups

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Resources are the limits of one sandbox's cgroup. The zero value sets no
// limit; each field's zero value leaves the kernel default (unlimited, or
// the inherited share).
type Resources struct {
	// MemoryMax caps the group's memory in bytes (anonymous memory, page
	// cache and kernel memory): memory.max on v2, memory.limit_in_bytes on
	// v1. The OOM killer acts inside the group when it is reached. Zero: no
	// limit.
	MemoryMax int64

	// MemorySwapMax caps the swap the group may use beyond MemoryMax, in
	// bytes: memory.swap.max on v2, memory.memsw.limit_in_bytes =
	// MemoryMax+MemorySwapMax on v1 (which needs swap accounting). It needs
	// MemoryMax. Zero leaves swap as inherited (usually unlimited); NoSwap
	// forbids it, so MemoryMax is the real ceiling.
	MemorySwapMax int64

	// PidsMax caps the tasks (processes and threads) in the group: pids.max.
	// Zero: no limit.
	PidsMax int64

	// CPUQuota is the CPU time the group may use in each CPUPeriod:
	// cpu.max on v2, cpu.cfs_quota_us on v1. Twice CPUPeriod allows two
	// CPUs. Zero: no limit; otherwise at least 1ms.
	CPUQuota time.Duration
	// CPUPeriod is the quota's period, 1ms to 1s; zero means 100ms.
	CPUPeriod time.Duration

	// CPUWeight is the group's share of contended CPU, 1 to 10000 (v2
	// cpu.weight, whose default is 100). On v1 it is converted to cpu.shares
	// (2 to 262144) with the mapping crun and systemd use, under which the
	// two defaults (100 and 1024) do not correspond. Zero: inherited.
	CPUWeight uint64

	// Devices are the group's device rules, in order: the last rule that
	// matches an access decides, and an access none matches is allowed. A
	// BPF program attached to the cgroup2 directory enforces them (on
	// hybrid hosts too; cgroup v1's devices controller is not used). Nil:
	// no device rules.
	Devices []DeviceRule
}

// Any reports whether r asks for any limit.
func (r *Resources) Any() bool {
	return r.MemoryMax != 0 || r.MemorySwapMax != 0 || r.PidsMax != 0 || r.CPUQuota != 0 || r.CPUPeriod != 0 ||
		r.CPUWeight != 0 || len(r.Devices) > 0
}

// MinMemory is the smallest memory limit a sandbox accepts. Until it
// execs, a sandbox's first process shares its parent's memory (clone3
// with CLONE_VM), so a limit that its setup could reach would have the OOM
// killer take the parent, the supervisor, with it.
const MinMemory = 1 << 20

// maxQuota is the kernel's largest CPU quota, in µs (cpu.max, and
// cpu.cfs_quota_us): 2^44-1.
const maxQuota = 1<<44 - 1

// NoSwap as Resources.MemorySwapMax forbids swap.
const NoSwap = -1

// DefaultCPUPeriod is the period used when Resources.CPUPeriod is zero.
const DefaultCPUPeriod = 100 * time.Millisecond

// MaxPids is the largest PidsMax: the kernel's PID_MAX_LIMIT, beyond which
// pids.max refuses a number.
const MaxPids = 4 << 20

// Validate reports every invalid field.
func (r *Resources) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf("cgroups: "+format, a...)) }
	if r.MemoryMax < 0 || (r.MemoryMax > 0 && r.MemoryMax < MinMemory) {
		bad("MemoryMax %d: at least %d (1 MiB), or 0 for none", r.MemoryMax, MinMemory)
	}
	if r.MemorySwapMax < NoSwap {
		bad("MemorySwapMax %d: negative (NoSwap is %d)", r.MemorySwapMax, NoSwap)
	}
	if r.MemorySwapMax != 0 && r.MemoryMax == 0 {
		bad("MemorySwapMax needs MemoryMax")
	}
	if r.PidsMax < 0 || r.PidsMax > MaxPids {
		bad("PidsMax %d: must be between 0 and %d", r.PidsMax, MaxPids)
	}
	if r.CPUPeriod != 0 && (r.CPUPeriod < time.Millisecond || r.CPUPeriod > time.Second) {
		bad("CPUPeriod %v: must be between 1ms and 1s", r.CPUPeriod)
	}
	if r.CPUQuota < 0 || (r.CPUQuota > 0 && r.CPUQuota < time.Millisecond) || r.CPUQuota > maxQuota*time.Microsecond {
		bad("CPUQuota %v: must be between 1ms and %v", r.CPUQuota, maxQuota*time.Microsecond)
	}
	if r.CPUPeriod != 0 && r.CPUQuota == 0 {
		bad("CPUPeriod needs CPUQuota")
	}
	if r.CPUWeight > 10000 {
		bad("CPUWeight %d: must be between 1 and 10000", r.CPUWeight)
	}
	if len(r.Devices) > MaxDeviceRules {
		bad("Devices: %d rules, at most %d", len(r.Devices), MaxDeviceRules)
	}
	for i, d := range r.Devices {
		if err := d.validate(); err != nil {
			bad("Devices[%d]: %v", i, err)
		}
	}
	return errors.Join(errs...)
}

// value is one control file write: the pure result of compiling Resources
// for a hierarchy version. One writer applies the list in order.
type value struct {
	ctrl string // the controller that owns the file
	file string
	data string
}

func (r *Resources) period() time.Duration {
	if r.CPUPeriod == 0 {
		return DefaultCPUPeriod
	}
	return r.CPUPeriod
}

func usec(d time.Duration) string { return strconv.FormatInt(d.Microseconds(), 10) }

// v2Values compiles r for cgroup v2.
func (r *Resources) v2Values() []value {
	var vs []value
	if r.MemoryMax > 0 {
		vs = append(vs, value{"memory", "memory.max", strconv.FormatInt(r.MemoryMax, 10)})
	}
	switch {
	case r.MemorySwapMax == NoSwap:
		vs = append(vs, value{"memory", "memory.swap.max", "0"})
	case r.MemorySwapMax > 0:
		vs = append(vs, value{"memory", "memory.swap.max", strconv.FormatInt(r.MemorySwapMax, 10)})
	}
	if r.PidsMax > 0 {
		vs = append(vs, value{"pids", "pids.max", strconv.FormatInt(r.PidsMax, 10)})
	}
	if r.CPUQuota > 0 {
		vs = append(vs, value{"cpu", "cpu.max", usec(r.CPUQuota) + " " + usec(r.period())})
	}
	if r.CPUWeight > 0 {
		vs = append(vs, value{"cpu", "cpu.weight", strconv.FormatUint(r.CPUWeight, 10)})
	}
	return vs
}

// v1Values compiles r for cgroup v1. The order matters: the memory limit
// before memory+swap (the kernel keeps memsw ≥ limit), the period before
// the quota.
func (r *Resources) v1Values() []value {
	var vs []value
	if r.MemoryMax > 0 {
		vs = append(vs, value{"memory", "memory.limit_in_bytes", strconv.FormatInt(r.MemoryMax, 10)})
		switch {
		case r.MemorySwapMax == NoSwap:
			vs = append(vs, value{"memory", "memory.memsw.limit_in_bytes", strconv.FormatInt(r.MemoryMax, 10)})
		case r.MemorySwapMax > 0:
			vs = append(vs, value{"memory", "memory.memsw.limit_in_bytes", strconv.FormatInt(r.MemoryMax+r.MemorySwapMax, 10)})
		}
	}
	if r.PidsMax > 0 {
		vs = append(vs, value{"pids", "pids.max", strconv.FormatInt(r.PidsMax, 10)})
	}
	if r.CPUQuota > 0 {
		vs = append(vs, value{"cpu", "cpu.cfs_period_us", usec(r.period())})
		vs = append(vs, value{"cpu", "cpu.cfs_quota_us", usec(r.CPUQuota)})
	}
	if r.CPUWeight > 0 {
		vs = append(vs, value{"cpu", "cpu.shares", strconv.FormatUint(weightToShares(r.CPUWeight), 10)})
	}
	return vs
}

// weightToShares maps cgroup v2 cpu.weight [1, 10000] linearly onto v1
// cpu.shares [2, 262144], the inverse of the shares→weight conversion in
// the OCI runtimes.
func weightToShares(w uint64) uint64 {
	return 2 + (w-1)*262142/9999
}

// controllers lists the controllers r needs, in a fixed order.
func (r *Resources) controllers() []string {
	var cs []string
	if r.MemoryMax > 0 || r.MemorySwapMax != 0 {
		cs = append(cs, "memory")
	}
	if r.PidsMax > 0 {
		cs = append(cs, "pids")
	}
	if r.CPUQuota > 0 || r.CPUWeight > 0 {
		cs = append(cs, "cpu")
	}
	return cs
}

// limitFiles names the limits r sets that ctrl would enforce, for reports.
func (r *Resources) limitFiles(ctrl string, v2 bool) []string {
	vs := r.v1Values()
	if v2 {
		vs = r.v2Values()
	}
	var files []string
	for _, v := range vs {
		if v.ctrl == ctrl && (len(files) == 0 || files[len(files)-1] != v.file) {
			files = append(files, v.file)
		}
	}
	return files
}
