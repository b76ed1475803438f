package cgroups

import (
	"errors"
	"fmt"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// FromOCI translates an OCI spec's linux.resources into Resources: memory
// (limit, swap), pids (limit), cpu (quota, period, shares) and device
// rules. Every other field that would ask for a limit is refused with its
// path in the spec, as are values out of range, so that nothing a spec
// asks for is dropped silently. Device rules are taken as they are: the
// nodes the runtime itself makes are the caller's to allow after them.
// Warnings name fields accepted without effect.
//
// Semantics, as in the runtime-spec: an empty device type, or "a", is
// every type, a missing major or minor any number, an empty access "rwm".
// memory.swap is memory plus swap, so swap equal to the limit forbids swap
// and -1 leaves it unlimited. Unlike runc, a limit without memory.swap (or
// with 0) forbids swap too: the limit is then the tree's real ceiling. A
// quota, pids limit or memory limit of -1 sets no limit; a pids limit of 0
// is refused (no process could start), as is a memory limit below
// MinMemory. cpu.shares (v1, 2 to 262144) becomes CPUWeight by the OCI
// runtimes' linear mapping, and back to shares on v1, which may round it
// by a few shares.
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
			case l > 0 && l < MinMemory:
				bad("memory.limit", "%d bytes: at least %d (1 MiB)", l, MinMemory)
			case l > 0:
				res.MemoryMax = l
			case l != -1 && l != 0:
				bad("memory.limit", "%d: must be positive, or -1 for none", l)
			}
		}
		if m.Swap != nil {
			switch s := *m.Swap; {
			case s == 0:
				// As if absent (runc's reading too): no swap with a limit.
				if res.MemoryMax > 0 {
					res.MemorySwapMax = NoSwap
				}
			case s == -1:
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
		if m.UseHierarchy != nil && !*m.UseHierarchy {
			warnings = append(warnings, "linux.resources.memory.useHierarchy: ignored (memory cgroups are always hierarchical)")
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
			case q > maxQuota:
				bad("cpu.quota", "%d µs: at most %d (the kernel's largest)", q, maxQuota)
			case q > 0:
				res.CPUQuota = time.Duration(q) * time.Microsecond
			case q != -1 && q != 0:
				bad("cpu.quota", "%d: must be positive, or -1 for none", q)
			}
		}
		if c.Period != nil && *c.Period != 0 {
			switch p := *c.Period; {
			case p < 1000 || p > 1000000:
				bad("cpu.period", "%d µs: must be between 1000 and 1000000", p)
			case res.CPUQuota > 0:
				res.CPUPeriod = time.Duration(p) * time.Microsecond
			}
			// A period without a quota changes nothing that is enforced.
		}
		if c.Shares != nil && *c.Shares != 0 {
			if s := *c.Shares; s < 2 || s > 262144 {
				bad("cpu.shares", "%d: must be between 2 and 262144", s)
			} else {
				res.CPUWeight = 1 + (s-2)*9999/262142
			}
		}
		if c.Burst != nil && *c.Burst != 0 {
			unsupported("cpu.burst")
		}
		if (c.RealtimeRuntime != nil && *c.RealtimeRuntime != 0) || (c.RealtimePeriod != nil && *c.RealtimePeriod != 0) {
			unsupported("cpu.realtimeRuntime and realtimePeriod")
		}
		if c.Cpus != "" {
			unsupported("cpu.cpus")
		}
		if c.Mems != "" {
			unsupported("cpu.mems")
		}
		if c.Idle != nil && *c.Idle != 0 {
			unsupported("cpu.idle")
		}
	}

	if p := r.Pids; p != nil && p.Limit != nil {
		switch l := *p.Limit; {
		case l == -1:
		case l == 0:
			bad("pids.limit", "0 allows no process, not even the command (-1: no limit)")
		case l < -1:
			bad("pids.limit", "%d: must be positive, or -1 for none", l)
		case l > MaxPids:
			bad("pids.limit", "%d: at most %d (the kernel's limit on pids)", l, MaxPids)
		default:
			res.PidsMax = l
		}
	}

	if len(r.Devices) > MaxDeviceRules {
		bad("devices", "%d rules, at most %d", len(r.Devices), MaxDeviceRules)
	}
	for i, d := range r.Devices {
		rule := DeviceRule{Allow: d.Allow, Type: 'a', Major: AnyDevice, Minor: AnyDevice, Access: d.Access}
		switch d.Type {
		case "", "a":
		case "c", "b":
			rule.Type = d.Type[0]
		default:
			bad(fmt.Sprintf("devices[%d].type", i), "%q: want a, b or c", d.Type)
			continue
		}
		if d.Major != nil {
			rule.Major = *d.Major
		}
		if d.Minor != nil {
			rule.Minor = *d.Minor
		}
		if rule.Access == "" {
			rule.Access = "rwm"
		}
		if err := rule.validate(); err != nil {
			bad(fmt.Sprintf("devices[%d]", i), "%v", err)
			continue
		}
		res.Devices = append(res.Devices, rule)
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
