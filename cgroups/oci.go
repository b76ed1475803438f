package cgroups

import (
	"errors"
	"fmt"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// FromOCI translates an OCI spec's linux.resources into Resources: memory
// (limit, swap), pids (limit) and cpu (quota, period, shares). Every other
// field that would ask for a limit is refused with its path in the spec,
// as are values out of range, so that nothing a spec asks for is dropped
// silently. Devices are not read: device rules are not cgroup Resources
// here, and the caller decides about them. Warnings name fields accepted
// without effect (the kernel memory limits, which kernels since 5.4 on v1,
// and v2 always, no longer have).
//
// Semantics, as in the runtime-spec: memory.swap is memory plus swap, so
// swap equal to the limit forbids swap and -1 leaves it unlimited. Unlike
// runc, a limit without memory.swap forbids swap too: the limit is then the
// tree's real ceiling. A quota of -1, a pids limit of 0 or below and a
// memory limit of -1 set no limit. cpu.shares (v1, 2 to 262144) becomes
// CPUWeight by the OCI runtimes' linear mapping, and back to shares on v1,
// which may round it by a few shares.
func FromOCI(r *specs.LinuxResources) (Resources, []string, error) {
	var res Resources
	var errs []error
	var warnings []string
	if r == nil {
		return res, nil, nil
	}
	bad := func(field, format string, a ...any) {
		errs = append(errs, fmt.Errorf("linux.resources.%s: "+format, append([]any{field}, a...)...))
	}
	unsupported := func(field string) { bad(field, "not supported yet") }

	if m := r.Memory; m != nil {
		if m.Limit != nil {
			switch l := *m.Limit; {
			case l > 0:
				res.MemoryMax = l
			case l != -1 && l != 0:
				bad("memory.limit", "%d: must be positive, or -1 for none", l)
			}
		}
		if m.Swap != nil {
			switch s := *m.Swap; {
			case s == -1 || s == 0:
				// Unlimited swap: MemorySwapMax 0 leaves it as inherited.
			case s < 0:
				bad("memory.swap", "%d: must be positive, or -1 for none", s)
			case res.MemoryMax == 0:
				bad("memory.swap", "%d needs memory.limit", s)
			case s < res.MemoryMax:
				bad("memory.swap", "%d is below memory.limit %d (swap counts memory plus swap)", s, res.MemoryMax)
			case s == res.MemoryMax:
				res.MemorySwapMax = NoSwap
			default:
				res.MemorySwapMax = s - res.MemoryMax
			}
		} else if res.MemoryMax > 0 {
			res.MemorySwapMax = NoSwap
		}
		if m.Reservation != nil {
			unsupported("memory.reservation")
		}
		if m.Swappiness != nil {
			unsupported("memory.swappiness")
		}
		if m.DisableOOMKiller != nil && *m.DisableOOMKiller {
			unsupported("memory.disableOOMKiller")
		}
		if m.Kernel != nil {
			warnings = append(warnings, "linux.resources.memory.kernel: ignored (kernel memory is counted in memory.limit)")
		}
		if m.KernelTCP != nil {
			warnings = append(warnings, "linux.resources.memory.kernelTCP: ignored (kernel memory is counted in memory.limit)")
		}
	}

	if c := r.CPU; c != nil {
		if c.Quota != nil {
			switch q := *c.Quota; {
			case q > 0 && q < 1000:
				bad("cpu.quota", "%d µs: at least 1000", q)
			case q > 0:
				res.CPUQuota = time.Duration(q) * time.Microsecond
			case q != -1 && q != 0:
				bad("cpu.quota", "%d: must be positive, or -1 for none", q)
			}
		}
		// A period without a quota changes nothing that is enforced.
		if c.Period != nil && *c.Period != 0 && res.CPUQuota > 0 {
			if p := *c.Period; p < 1000 || p > 1000000 {
				bad("cpu.period", "%d µs: must be between 1000 and 1000000", p)
			} else {
				res.CPUPeriod = time.Duration(*c.Period) * time.Microsecond
			}
		}
		if c.Shares != nil && *c.Shares != 0 {
			if s := *c.Shares; s < 2 || s > 262144 {
				bad("cpu.shares", "%d: must be between 2 and 262144", s)
			} else {
				res.CPUWeight = 1 + (s-2)*9999/262142
			}
		}
		if c.Burst != nil {
			unsupported("cpu.burst")
		}
		if c.RealtimeRuntime != nil || c.RealtimePeriod != nil {
			unsupported("cpu.realtimeRuntime and realtimePeriod")
		}
		if c.Cpus != "" {
			unsupported("cpu.cpus")
		}
		if c.Mems != "" {
			unsupported("cpu.mems")
		}
		if c.Idle != nil {
			unsupported("cpu.idle")
		}
	}

	if p := r.Pids; p != nil && p.Limit != nil && *p.Limit > 0 {
		if *p.Limit > MaxPids {
			bad("pids.limit", "%d: at most %d (the kernel's limit on pids)", *p.Limit, MaxPids)
		} else {
			res.PidsMax = *p.Limit
		}
	}

	if r.BlockIO != nil {
		unsupported("blockIO")
	}
	if len(r.HugepageLimits) > 0 {
		unsupported("hugepageLimits")
	}
	if r.Network != nil {
		unsupported("network")
	}
	if len(r.Rdma) > 0 {
		unsupported("rdma")
	}
	if len(r.Unified) > 0 {
		unsupported("unified")
	}
	if len(errs) == 0 {
		if err := res.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("linux.resources: %w", err))
		}
	}
	return res, warnings, errors.Join(errs...)
}
