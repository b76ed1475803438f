//go:build linux

package seccomp

import (
	"runtime"
	"slices"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// DefaultProfile returns the profile `sandbox run` uses, as a fresh value
// the caller may change.
//
// It is an allowlist: every syscall not named answers EPERM, or ENOSYS when
// it is newer than the list (the compiler's stub), so C libraries and Go
// fall back from clone3, fchmodat2 and the like. Only the native ABI is
// allowed: i386 through int 0x80 and x32 on amd64, arm on arm64, are killed
// (SECCOMP_RET_KILL_PROCESS).
//
// It is written for unprivileged workloads (compilers, interpreters,
// shells, test suites) and is tighter than the usual container defaults.
// Besides everything a capability would be needed for anyway, it refuses:
//   - mounts and the new mount API (mount, umount2, fsopen, fsconfig,
//     fsmount, fspick, move_mount, open_tree, mount_setattr), pivot_root,
//     chroot;
//   - namespaces: unshare, setns, clone with any CLONE_NEW* flag; clone3
//     answers ENOSYS (its flags sit behind a pointer, which BPF cannot read)
//     so glibc falls back to clone, whose flags are checked;
//   - kernel keyrings, bpf, perf_event_open, userfaultfd, io_uring, fanotify;
//   - ptrace, process_vm_readv/writev, kcmp, pidfd_getfd, process_madvise;
//   - kexec, modules, reboot, swap, iopl/ioperm, modify_ldt, clock and
//     time setting, quotas, acct, syslog;
//   - open_by_handle_at and name_to_handle_at;
//   - personality other than the values programs query or use for
//     compatibility (0, PER_LINUX32, UNAME26 and their combination, and
//     0xffffffff to read it): no ADDR_NO_RANDOMIZE, no READ_IMPLIES_EXEC;
//   - the TIOCSTI and TIOCLINUX ioctls, which push input into a terminal,
//     and TIOCSETD and TIOCEXCL, which would change the caller's terminal
//     for good (its line discipline, which may load a kernel module; its
//     exclusive mode), all EIO, compared on the low 32 bits of the
//     command, as the kernel reads it: 0x100005412 is TIOCSTI too;
//   - socket(AF_VSOCK) and socket(AF_ALG) (EAFNOSUPPORT), and netlink's
//     NETLINK_KOBJECT_UEVENT, the host's device events
//     (EPROTONOSUPPORT);
//   - NUMA policy (mbind, set_mempolicy, migrate_pages, move_pages) and
//     memfd_secret.
//
// GrantCaps opens some of these for a sandbox granted the capability they
// exist for (chroot for CAP_SYS_CHROOT, for instance).
func DefaultProfile() *specs.LinuxSeccomp { return cloneProfile(defaultProfile()) }

// defaultProfile builds the default profile once; DefaultProfile hands out
// copies, so no caller can change another's.
var defaultProfile = sync.OnceValue(buildDefaultProfile)

func buildDefaultProfile() *specs.LinuxSeccomp {
	names := slices.Clone(defaultAllowed)
	names = append(names, archAllowed[runtime.GOARCH]...)
	slices.Sort(names)
	eperm := uint(unix.EPERM)
	enosys := uint(unix.ENOSYS)
	eio := uint(unix.EIO)
	eafnosupport := uint(unix.EAFNOSUPPORT)
	eprotonosupport := uint(unix.EPROTONOSUPPORT)
	allow := specs.ActAllow
	p := &specs.LinuxSeccomp{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: &eperm,
		Syscalls: []specs.LinuxSyscall{
			{Names: names, Action: allow},
			{
				// Threads and fork, but no new namespaces. Exit signals sit
				// in the low byte, so CLONE_NEWTIME (0x80) cannot be asked
				// for through clone.
				Names:  []string{"clone"},
				Action: allow,
				Args:   []specs.LinuxSeccompArg{{Index: cloneFlagsArg(), Value: cloneNamespaceFlags, ValueTwo: 0, Op: specs.OpMaskedEqual}},
			},
			{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: &enosys},
			{
				// The argument is an unsigned int; an exact 64-bit match only
				// refuses more, never less.
				Names:  []string{"personality"},
				Action: allow,
				Args: []specs.LinuxSeccompArg{
					{Index: 0, Value: 0x0, Op: specs.OpEqualTo},
					{Index: 0, Value: 0x0008, Op: specs.OpEqualTo},     // PER_LINUX32
					{Index: 0, Value: 0x0020000, Op: specs.OpEqualTo},  // UNAME26
					{Index: 0, Value: 0x0020008, Op: specs.OpEqualTo},  // UNAME26|PER_LINUX32
					{Index: 0, Value: 0xffffffff, Op: specs.OpEqualTo}, // query
				},
			},
			// ioctl: every request but TIOCSTI, TIOCLINUX, TIOCSETD and
			// TIOCEXCL (the caller's terminal may be stdin). The kernel
			// reads the request as a 32-bit int, so compare the low 32 bits
			// only. libseccomp evaluates these masked comparisons before the
			// always-true one below, whatever their order; the tests hold it
			// to that. EIO is what TIOCSTI answers on kernels that disable it
			// (dev.tty.legacy_tiocsti=0), and differs from the default EPERM,
			// which libseccomp could not express next to an allow.
			{Names: []string{"ioctl"}, Action: specs.ActErrno, ErrnoRet: &eio,
				Args: []specs.LinuxSeccompArg{{Index: 1, Value: 0xffffffff, ValueTwo: unix.TIOCSTI, Op: specs.OpMaskedEqual}}},
			{Names: []string{"ioctl"}, Action: specs.ActErrno, ErrnoRet: &eio,
				Args: []specs.LinuxSeccompArg{{Index: 1, Value: 0xffffffff, ValueTwo: unix.TIOCLINUX, Op: specs.OpMaskedEqual}}},
			{Names: []string{"ioctl"}, Action: specs.ActErrno, ErrnoRet: &eio,
				Args: []specs.LinuxSeccompArg{{Index: 1, Value: 0xffffffff, ValueTwo: unix.TIOCSETD, Op: specs.OpMaskedEqual}}},
			{Names: []string{"ioctl"}, Action: specs.ActErrno, ErrnoRet: &eio,
				Args: []specs.LinuxSeccompArg{{Index: 1, Value: 0xffffffff, ValueTwo: unix.TIOCEXCL, Op: specs.OpMaskedEqual}}},
			{Names: []string{"ioctl"}, Action: allow,
				Args: []specs.LinuxSeccompArg{{Index: 1, Value: 0, Op: specs.OpGreaterEqual}}},
			// socket: every family but vsock (host–guest channels) and
			// AF_ALG (kernel crypto, a rich attack surface), the same way.
			{Names: []string{"socket"}, Action: specs.ActErrno, ErrnoRet: &eafnosupport,
				Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0xffffffff, ValueTwo: unix.AF_VSOCK, Op: specs.OpMaskedEqual}}},
			{Names: []string{"socket"}, Action: specs.ActErrno, ErrnoRet: &eafnosupport,
				Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0xffffffff, ValueTwo: unix.AF_ALG, Op: specs.OpMaskedEqual}}},
			// The kernel's device events (NETLINK_KOBJECT_UEVENT): a root
			// caller's network namespace belongs to the host's user
			// namespace, which receives the host's hotplug events.
			{Names: []string{"socket"}, Action: specs.ActErrno, ErrnoRet: &eprotonosupport,
				Args: []specs.LinuxSeccompArg{
					{Index: 0, Value: 0xffffffff, ValueTwo: unix.AF_NETLINK, Op: specs.OpMaskedEqual},
					{Index: 2, Value: 0xffffffff, ValueTwo: unix.NETLINK_KOBJECT_UEVENT, Op: specs.OpMaskedEqual},
				}},
			{Names: []string{"socket"}, Action: allow,
				Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0, Op: specs.OpGreaterEqual}}},
		},
	}
	return p
}

// cloneNamespaceFlags are the CLONE_NEW* flags clone(2) can carry:
// NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET.
const cloneNamespaceFlags = unix.CLONE_NEWNS | unix.CLONE_NEWCGROUP | unix.CLONE_NEWUTS |
	unix.CLONE_NEWIPC | unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET

// cloneFlagsArg is the index of clone's flags argument (the second on
// s390, the first elsewhere).
func cloneFlagsArg() uint {
	if runtime.GOARCH == "s390x" {
		return 1
	}
	return 0
}

// defaultAllowed are the syscalls every architecture allows
// unconditionally. Names missing on an architecture are ignored there.
var defaultAllowed = []string{
	// Files and descriptors.
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2", "pwritev2",
	"lseek", "close", "close_range", "openat", "openat2", "faccessat", "faccessat2",
	"fstat", "newfstatat", "statx", "statfs", "fstatfs", "fcntl", "flock", "fsync", "fdatasync",
	"sync", "syncfs", "sync_file_range", "truncate", "ftruncate", "fallocate", "fadvise64", "readahead",
	"getdents64", "getcwd", "chdir", "fchdir", "renameat", "renameat2", "mkdirat", "linkat", "unlinkat",
	"symlinkat", "readlinkat", "fchmod", "fchmodat", "fchown", "fchownat", "umask", "utimensat",
	"mknodat", "dup", "dup3", "pipe2", "splice", "tee", "vmsplice", "sendfile", "copy_file_range",
	"getxattr", "lgetxattr", "fgetxattr", "setxattr", "lsetxattr", "fsetxattr",
	"listxattr", "llistxattr", "flistxattr", "removexattr", "lremovexattr", "fremovexattr",
	"inotify_init1", "inotify_add_watch", "inotify_rm_watch", "memfd_create",
	// Memory.
	"brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "mincore", "msync",
	"mlock", "mlock2", "munlock", "mlockall", "munlockall", "membarrier", "remap_file_pages",
	"pkey_alloc", "pkey_free", "pkey_mprotect", "get_mempolicy",
	// Processes, threads, identity (changes still need capabilities).
	"execve", "execveat", "exit", "exit_group", "wait4", "waitid", "kill", "tkill", "tgkill",
	"getpid", "getppid", "gettid", "getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid",
	"getgroups", "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups",
	"setfsuid", "setfsgid", "getpgid", "setpgid", "getsid", "setsid", "capget", "capset",
	"prctl", "prlimit64", "getrlimit", "setrlimit", "getrusage", "getpriority", "setpriority",
	"sched_yield", "sched_getaffinity", "sched_setaffinity", "sched_getparam", "sched_setparam",
	"sched_getscheduler", "sched_setscheduler", "sched_get_priority_max", "sched_get_priority_min",
	"sched_rr_get_interval", "sched_getattr", "sched_setattr", "getcpu",
	"set_tid_address", "set_robust_list", "get_robust_list", "rseq", "futex", "futex_waitv",
	"restart_syscall", "seccomp", "pidfd_open", "pidfd_send_signal", "process_mrelease",
	"landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self",
	"ioprio_get", "ioprio_set", "times", "uname", "sysinfo", "getrandom",
	// Signals.
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending", "rt_sigsuspend",
	"rt_sigtimedwait", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "sigaltstack",
	"signalfd4",
	// Time (reading it, sleeping, timers).
	"clock_gettime", "clock_getres", "clock_nanosleep", "gettimeofday", "nanosleep",
	"getitimer", "setitimer", "timer_create", "timer_settime", "timer_gettime", "timer_getoverrun",
	"timer_delete", "timerfd_create", "timerfd_settime", "timerfd_gettime",
	"adjtimex", "clock_adjtime",
	// Waiting for events.
	"epoll_create1", "epoll_ctl", "epoll_pwait", "epoll_pwait2", "ppoll", "pselect6", "eventfd2",
	// Asynchronous I/O (not io_uring).
	"io_setup", "io_destroy", "io_submit", "io_cancel", "io_getevents", "io_pgetevents",
	// System V and POSIX IPC (scoped by the IPC namespace).
	"msgget", "msgsnd", "msgrcv", "msgctl", "semget", "semop", "semtimedop", "semctl",
	"shmget", "shmat", "shmdt", "shmctl",
	"mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify", "mq_getsetattr",
	// Sockets (socket itself is filtered by family).
	"socketpair", "bind", "listen", "accept", "accept4", "connect", "getsockname", "getpeername",
	"sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "shutdown",
	"setsockopt", "getsockopt",
}

// archAllowed adds the syscalls only some architectures have: the legacy
// path-based and descriptor calls amd64 keeps (arm64 has only the *at
// forms), and arch_prctl, which the amd64 C and Go runtimes need for TLS.
var archAllowed = map[string][]string{
	"amd64": {
		"open", "creat", "stat", "lstat", "access", "getdents", "rename", "mkdir", "rmdir", "link",
		"unlink", "symlink", "readlink", "chmod", "chown", "lchown", "utime", "utimes", "futimesat",
		"mknod", "dup2", "pipe", "poll", "select", "epoll_create", "epoll_wait", "epoll_ctl_old",
		"epoll_wait_old", "eventfd", "signalfd", "inotify_init", "alarm", "pause", "time", "getpgrp",
		"fork", "vfork", "arch_prctl",
	},
}

// cloneProfile deep-copies p.
func cloneProfile(p *specs.LinuxSeccomp) *specs.LinuxSeccomp {
	c := *p
	if p.DefaultErrnoRet != nil {
		v := *p.DefaultErrnoRet
		c.DefaultErrnoRet = &v
	}
	c.Architectures = slices.Clone(p.Architectures)
	c.Flags = slices.Clone(p.Flags)
	c.Syscalls = make([]specs.LinuxSyscall, len(p.Syscalls))
	for i, sc := range p.Syscalls {
		c.Syscalls[i] = sc
		c.Syscalls[i].Names = slices.Clone(sc.Names)
		c.Syscalls[i].Args = slices.Clone(sc.Args)
		if sc.ErrnoRet != nil {
			v := *sc.ErrnoRet
			c.Syscalls[i].ErrnoRet = &v
		}
	}
	return &c
}
