//go:build linux

package seccomp

import (
	"fmt"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// capSyscalls are the syscalls the default profile refuses that a
// capability exists to use. A capability granted to the sandbox is no use
// while the filter still answers EPERM, so GrantCaps opens the ones whose
// syscalls reach no further than the sandbox's own namespaces, and names
// the others as still refused.
var capSyscalls = []struct {
	cap   string
	names []string
	// open: granting the capability opens these syscalls. ptrace opens
	// only when the caller said tracing is safe (see GrantCaps).
	open, ptrace bool
}{
	// chroot changes only the calling process's root, inside the
	// sandbox's mount namespace, under no_new_privs.
	{cap: "CAP_SYS_CHROOT", names: []string{"chroot"}, open: true},
	// NUMA placement of the sandbox's own memory, or of processes it can
	// see (its pid namespace).
	{cap: "CAP_SYS_NICE", names: []string{"mbind", "set_mempolicy", "set_mempolicy_home_node", "migrate_pages", "move_pages"}, open: true},
	// Debuggers and tracers of the sandbox's own processes.
	{cap: "CAP_SYS_PTRACE", names: []string{"ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd", "process_madvise"}, ptrace: true},
	// What these grant reaches the host kernel or the filesystem beyond the
	// sandbox: they stay refused whatever the capability.
	{cap: "CAP_SYS_ADMIN", names: []string{"mount", "umount2", "pivot_root", "unshare", "setns", "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr", "quotactl", "quotactl_fd", "sethostname", "setdomainname", "fanotify_init", "swapon", "swapoff"}},
	{cap: "CAP_SYS_MODULE", names: []string{"init_module", "finit_module", "delete_module"}},
	{cap: "CAP_SYS_BOOT", names: []string{"reboot", "kexec_load", "kexec_file_load"}},
	{cap: "CAP_SYS_TIME", names: []string{"settimeofday", "clock_settime"}},
	{cap: "CAP_SYS_RAWIO", names: []string{"iopl", "ioperm"}},
	{cap: "CAP_SYSLOG", names: []string{"syslog"}},
	{cap: "CAP_SYS_PACCT", names: []string{"acct"}},
	{cap: "CAP_DAC_READ_SEARCH", names: []string{"open_by_handle_at"}},
	{cap: "CAP_BPF", names: []string{"bpf"}},
	{cap: "CAP_PERFMON", names: []string{"perf_event_open"}},
}

// GrantCaps adapts p, a copy of DefaultProfile, to a sandbox that was
// granted caps (names as in the OCI spec, "CAP_CHOWN"): for CAP_SYS_CHROOT
// and CAP_SYS_NICE it allows the syscalls they exist for, and for
// CAP_SYS_PTRACE the tracing syscalls when ptraceSafe is set. It returns a
// warning for each granted capability whose syscalls stay refused, naming
// them.
//
// ptraceSafe must be false when a process inside the sandbox could trace
// one that shares the caller's memory: an unprivileged caller's pid-1
// reaper shares its mm and stays dumpable (spawn.ParentDumpable), so a
// tracer with CAP_SYS_PTRACE in the sandbox's user namespace could write
// into the caller.
func GrantCaps(p *specs.LinuxSeccomp, caps []string, ptraceSafe bool) (warnings []string) {
	var allow []string
	for _, c := range capSyscalls {
		if !slices.Contains(caps, c.cap) {
			continue
		}
		switch {
		case c.open, c.ptrace && ptraceSafe:
			allow = append(allow, c.names...)
		case c.ptrace:
			warnings = append(warnings, fmt.Sprintf("%s: the default seccomp profile still refuses %s: "+
				"run by an unprivileged user, the sandbox's pid 1 shares this process's memory, which a tracer inside could write "+
				"(--seccomp unconfined lifts this at that risk)", c.cap, strings.Join(c.names, ", ")))
		default:
			warnings = append(warnings, fmt.Sprintf("%s: the default seccomp profile still refuses %s "+
				"(--seccomp unconfined or a profile of your own allows them)", c.cap, strings.Join(c.names, ", ")))
		}
	}
	if len(allow) > 0 {
		p.Syscalls = append(p.Syscalls, specs.LinuxSyscall{Names: allow, Action: specs.ActAllow})
	}
	return warnings
}
