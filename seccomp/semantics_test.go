//go:build linux && cgo

package seccomp

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// These tests run compiled filters in the interpreter: no kernel, no
// privileges.

type decision struct {
	name string
	data *seccompData
	want string
}

func checkDecisions(t *testing.T, f *Filter, table []decision) {
	t.Helper()
	for _, d := range table {
		if got := decide(t, f, d.data); got != d.want {
			t.Errorf("%s: %s, want %s", d.name, got, d.want)
		}
	}
	if t.Failed() {
		t.Logf("program:\n%s", disasm(f.Insns))
	}
}

func TestDefaultProfileDecisions(t *testing.T) {
	f := mustCompile(t, DefaultProfile())
	const (
		eperm      = "ERRNO(EPERM)"
		enosys     = "ERRNO(ENOSYS)"
		eio        = "ERRNO(EIO)"
		eafnosp    = "ERRNO(EAFNOSUPPORT)"
		eprotonosp = "ERRNO(EPROTONOSUPPORT)"
		allow      = "ALLOW"
	)
	s := func(nr uintptr, args ...uint64) *seccompData { return sys(t, nr, args...) }
	table := []decision{
		{"read", s(unix.SYS_READ), allow},
		{"write", s(unix.SYS_WRITE), allow},
		{"openat", s(unix.SYS_OPENAT), allow},
		{"execve", s(unix.SYS_EXECVE), allow},
		{"futex", s(unix.SYS_FUTEX), allow},
		{"exit_group", s(unix.SYS_EXIT_GROUP), allow},
		{"rt_sigreturn", s(unix.SYS_RT_SIGRETURN), allow},

		{"mount", s(unix.SYS_MOUNT), eperm},
		{"umount2", s(unix.SYS_UMOUNT2), eperm},
		{"fsopen", s(unix.SYS_FSOPEN), eperm},
		{"fsconfig", s(unix.SYS_FSCONFIG), eperm},
		{"fsmount", s(unix.SYS_FSMOUNT), eperm},
		{"fspick", s(unix.SYS_FSPICK), eperm},
		{"move_mount", s(unix.SYS_MOVE_MOUNT), eperm},
		{"open_tree", s(unix.SYS_OPEN_TREE), eperm},
		{"mount_setattr", s(unix.SYS_MOUNT_SETATTR), eperm},
		{"pivot_root", s(unix.SYS_PIVOT_ROOT), eperm},
		{"chroot", s(unix.SYS_CHROOT), eperm},
		{"unshare(0)", s(unix.SYS_UNSHARE, 0), eperm},
		{"unshare(NEWUSER)", s(unix.SYS_UNSHARE, unix.CLONE_NEWUSER), eperm},
		{"setns", s(unix.SYS_SETNS, 3, 0), eperm},
		{"keyctl", s(unix.SYS_KEYCTL), eperm},
		{"add_key", s(unix.SYS_ADD_KEY), eperm},
		{"request_key", s(unix.SYS_REQUEST_KEY), eperm},
		{"bpf", s(unix.SYS_BPF), eperm},
		{"perf_event_open", s(unix.SYS_PERF_EVENT_OPEN), eperm},
		{"ptrace", s(unix.SYS_PTRACE), eperm},
		{"process_vm_readv", s(unix.SYS_PROCESS_VM_READV), eperm},
		{"process_vm_writev", s(unix.SYS_PROCESS_VM_WRITEV), eperm},
		{"kexec_load", s(unix.SYS_KEXEC_LOAD), eperm},
		{"init_module", s(unix.SYS_INIT_MODULE), eperm},
		{"finit_module", s(unix.SYS_FINIT_MODULE), eperm},
		{"delete_module", s(unix.SYS_DELETE_MODULE), eperm},
		{"reboot", s(unix.SYS_REBOOT), eperm},
		{"swapon", s(unix.SYS_SWAPON), eperm},
		{"swapoff", s(unix.SYS_SWAPOFF), eperm},
		{"userfaultfd", s(unix.SYS_USERFAULTFD), eperm},
		{"io_uring_setup", s(unix.SYS_IO_URING_SETUP), eperm},
		{"io_uring_enter", s(unix.SYS_IO_URING_ENTER), eperm},
		{"io_uring_register", s(unix.SYS_IO_URING_REGISTER), eperm},
		{"open_by_handle_at", s(unix.SYS_OPEN_BY_HANDLE_AT), eperm},
		{"name_to_handle_at", s(unix.SYS_NAME_TO_HANDLE_AT), eperm},
		{"kcmp", s(unix.SYS_KCMP), eperm},
		{"pidfd_getfd", s(unix.SYS_PIDFD_GETFD), eperm},
		{"mbind", s(unix.SYS_MBIND), eperm},
		{"memfd_secret", s(unix.SYS_MEMFD_SECRET), eperm},
		{"syslog", s(unix.SYS_SYSLOG), eperm},
		{"settimeofday", s(unix.SYS_SETTIMEOFDAY), eperm},
		{"clock_settime", s(unix.SYS_CLOCK_SETTIME), eperm},
		{"fanotify_init", s(unix.SYS_FANOTIFY_INIT), eperm},

		// clone: threads and processes yes, namespaces no, whatever other
		// bits come along.
		{"clone(SIGCHLD)", s(unix.SYS_CLONE, uint64(unix.SIGCHLD)), allow},
		{"clone(thread)", s(unix.SYS_CLONE, unix.CLONE_VM|unix.CLONE_FS|unix.CLONE_FILES|unix.CLONE_SIGHAND|
			unix.CLONE_THREAD|unix.CLONE_SYSVSEM|unix.CLONE_SETTLS|unix.CLONE_PARENT_SETTID|unix.CLONE_CHILD_CLEARTID), allow},
		{"clone(NEWUSER)", s(unix.SYS_CLONE, unix.CLONE_NEWUSER|uint64(unix.SIGCHLD)), eperm},
		{"clone(NEWNS)", s(unix.SYS_CLONE, unix.CLONE_NEWNS), eperm},
		{"clone(NEWNET|high bits)", s(unix.SYS_CLONE, 0xffffffff00000000|unix.CLONE_NEWNET), eperm},
		{"clone(NEWPID)", s(unix.SYS_CLONE, unix.CLONE_NEWPID), eperm},
		{"clone(NEWCGROUP)", s(unix.SYS_CLONE, unix.CLONE_NEWCGROUP), eperm},
		{"clone(NEWIPC|NEWUTS)", s(unix.SYS_CLONE, unix.CLONE_NEWIPC|unix.CLONE_NEWUTS), eperm},
		{"clone3", s(unix.SYS_CLONE3), enosys},
		{"clone3 with args", s(unix.SYS_CLONE3, 0x7000, 88), enosys},

		// personality: the safe values only.
		{"personality(0)", s(unix.SYS_PERSONALITY, 0), allow},
		{"personality(query)", s(unix.SYS_PERSONALITY, 0xffffffff), allow},
		{"personality(PER_LINUX32)", s(unix.SYS_PERSONALITY, 8), allow},
		{"personality(UNAME26)", s(unix.SYS_PERSONALITY, 0x20000), allow},
		{"personality(ADDR_NO_RANDOMIZE)", s(unix.SYS_PERSONALITY, 0x40000), eperm},
		{"personality(READ_IMPLIES_EXEC)", s(unix.SYS_PERSONALITY, 0x400000), eperm},
		{"personality(high bits)", s(unix.SYS_PERSONALITY, 0x100000000), eperm},

		// ioctl: TIOCSTI, TIOCLINUX, TIOCSETD and TIOCEXCL on the low 32 bits.
		{"ioctl(TCGETS)", s(unix.SYS_IOCTL, 0, unix.TCGETS), allow},
		{"ioctl(TIOCGWINSZ)", s(unix.SYS_IOCTL, 1, unix.TIOCGWINSZ), allow},
		{"ioctl(FIONREAD 0x541b)", s(unix.SYS_IOCTL, 1, 0x541b), allow},
		{"ioctl(TIOCSTI)", s(unix.SYS_IOCTL, 0, unix.TIOCSTI), eio},
		{"ioctl(TIOCSTI|1<<32)", s(unix.SYS_IOCTL, 0, 0x100005412), eio},
		{"ioctl(sign-extended TIOCSTI)", s(unix.SYS_IOCTL, 0, 0xffffffff00005412), eio},
		{"ioctl(TIOCSTI|1<<63)", s(unix.SYS_IOCTL, 0, 0x8000000000005412), eio},
		{"ioctl(TIOCLINUX)", s(unix.SYS_IOCTL, 0, unix.TIOCLINUX), eio},
		{"ioctl(TIOCLINUX|high)", s(unix.SYS_IOCTL, 0, 0xdead00000000541c), eio},
		{"ioctl(TIOCSETD)", s(unix.SYS_IOCTL, 0, unix.TIOCSETD), eio},
		{"ioctl(TIOCSETD|high)", s(unix.SYS_IOCTL, 0, 0x7700000000005423), eio},
		{"ioctl(TIOCEXCL)", s(unix.SYS_IOCTL, 0, unix.TIOCEXCL), eio},
		{"ioctl(TIOCNXCL)", s(unix.SYS_IOCTL, 0, unix.TIOCNXCL), allow},
		{"ioctl(TIOCSTI+1<<16)", s(unix.SYS_IOCTL, 0, 0x15412), allow},

		// socket: no vsock, no AF_ALG.
		{"socket(AF_INET)", s(unix.SYS_SOCKET, unix.AF_INET, unix.SOCK_STREAM), allow},
		{"socket(AF_UNIX)", s(unix.SYS_SOCKET, unix.AF_UNIX, unix.SOCK_DGRAM), allow},
		{"socket(AF_VSOCK)", s(unix.SYS_SOCKET, unix.AF_VSOCK), eafnosp},
		{"socket(AF_VSOCK|1<<32)", s(unix.SYS_SOCKET, 0x100000000|unix.AF_VSOCK), eafnosp},
		{"socket(AF_ALG)", s(unix.SYS_SOCKET, unix.AF_ALG), eafnosp},
		// netlink, but not the host's device events.
		{"socket(AF_NETLINK, ROUTE)", s(unix.SYS_SOCKET, unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_ROUTE), allow},
		{"socket(AF_NETLINK, KOBJECT_UEVENT)", s(unix.SYS_SOCKET, unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_KOBJECT_UEVENT), eprotonosp},
		{"socket(AF_NETLINK|1<<32, KOBJECT_UEVENT|1<<32)", s(unix.SYS_SOCKET, 1<<32|unix.AF_NETLINK, unix.SOCK_DGRAM, 1<<32|unix.NETLINK_KOBJECT_UEVENT), eprotonosp},
		{"socket(AF_INET, 15)", s(unix.SYS_SOCKET, unix.AF_INET, unix.SOCK_RAW, 15), allow},

		// Newer than the profile: ENOSYS, so libraries fall back.
		{"fchmodat2 (452)", s(452), enosys},
		{"future 500", s(500), enosys},
		{"future 1000", s(1000), enosys},
		{"largest non-x32", s(x32SyscallBit - 1), enosys},
		{"nr -1", &seccompData{Nr: -1, Arch: nativeAudit(t)}, enosys},

		// Foreign architectures: killed.
		{"unknown arch", &seccompData{Nr: unix.SYS_GETPID, Arch: 0x12345678}, "KILL_PROCESS"},
		{"arch 0", &seccompData{Nr: unix.SYS_GETPID}, "KILL_PROCESS"},
	}
	checkDecisions(t, f, table)
}

func TestDefaultProfileCompatABIs(t *testing.T) {
	needAmd64(t)
	f := mustCompile(t, DefaultProfile())
	const kill = "KILL_PROCESS"
	checkDecisions(t, f, []decision{
		{"int 0x80 getpid", i386(i386Getpid), kill},
		{"int 0x80 exit", i386(i386Exit), kill},
		{"int 0x80 mount", i386(i386Mount), kill},
		{"int 0x80 ioctl TIOCSTI", i386(i386Ioctl, 0, unix.TIOCSTI), kill},
		{"x32 getpid", x32(unix.SYS_GETPID), kill},
		{"x32 read", x32(unix.SYS_READ), kill},
		{"x32 0", x32(0), kill},
		{"x32 ioctl (514)", x32(514, 0, unix.TIOCSTI), kill},
		{"x32 bit only, large", &seccompData{Nr: 0x7fffffff, Arch: auditArchX86_64}, kill},
		{"aarch64 on amd64", &seccompData{Nr: 1, Arch: auditArchAARCH64}, kill},
	})
}

func TestActions(t *testing.T) {
	tests := []struct {
		act      specs.LinuxSeccompAction
		errnoRet *uint
		want     string
	}{
		{specs.ActAllow, nil, "ALLOW"},
		{specs.ActErrno, nil, "ERRNO(EPERM)"},
		{specs.ActErrno, uintp(uint(unix.EACCES)), "ERRNO(EACCES)"},
		{specs.ActErrno, uintp(0), "ERRNO(0)"},
		{specs.ActKill, nil, "KILL_THREAD"},
		{specs.ActKillThread, nil, "KILL_THREAD"},
		{specs.ActKillProcess, nil, "KILL_PROCESS"},
		{specs.ActTrap, nil, "TRAP"},
		{specs.ActLog, nil, "LOG"},
		{specs.ActTrace, nil, "TRACE(1)"},
		{specs.ActTrace, uintp(777), "TRACE(777)"},
		{specs.ActNotify, nil, "NOTIFY"},
	}
	for _, def := range []specs.LinuxSeccompAction{specs.ActAllow, specs.ActLog, specs.ActErrno} {
		for _, tt := range tests {
			p := &specs.LinuxSeccomp{DefaultAction: def, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"getppid"}, Action: tt.act, ErrnoRet: tt.errnoRet},
				{Names: []string{"read", "write", "exit_group"}, Action: specs.ActAllow},
			}}
			f := mustCompile(t, p)
			if got := decide(t, f, sys(t, unix.SYS_GETPPID)); got != tt.want {
				t.Errorf("default %s, rule %s: %s, want %s", def, tt.act, got, tt.want)
			}
			if tt.act == specs.ActNotify != f.Notify {
				t.Errorf("rule %s: Notify %v", tt.act, f.Notify)
			}
		}
	}
	// Every action as the default. exit_group makes getppid older than
	// the profile, so the ENOSYS stub leaves it alone.
	for _, tt := range tests {
		if tt.act == specs.ActNotify {
			continue
		}
		p := &specs.LinuxSeccomp{DefaultAction: tt.act, DefaultErrnoRet: tt.errnoRet, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read", "exit_group"}, Action: specs.ActAllow},
		}}
		if tt.act == specs.ActAllow {
			p.Syscalls[0].Action = specs.ActKillProcess
		}
		f := mustCompile(t, p)
		if got := decide(t, f, sys(t, unix.SYS_GETPPID)); got != tt.want {
			t.Errorf("default %s: %s, want %s", tt.act, got, tt.want)
		}
	}
}

func TestOperators(t *testing.T) {
	const hi = 1 << 32
	tests := []struct {
		op       specs.LinuxSeccompOperator
		val, two uint64
		match    []uint64
		nomatch  []uint64
	}{
		{specs.OpEqualTo, 5, 0, []uint64{5}, []uint64{4, 6, hi + 5, 1<<63 | 5}},
		{specs.OpEqualTo, hi + 5, 0, []uint64{hi + 5}, []uint64{5, hi}},
		{specs.OpNotEqual, 5, 0, []uint64{0, 4, hi + 5, 1 << 63}, []uint64{5}},
		{specs.OpLessThan, 10, 0, []uint64{0, 9}, []uint64{10, 11, hi, hi + 1}},
		{specs.OpLessThan, hi + 10, 0, []uint64{0, 0xffffffff, hi, hi + 9}, []uint64{hi + 10, 2 * hi}},
		{specs.OpLessEqual, 10, 0, []uint64{0, 10}, []uint64{11, hi + 10}},
		{specs.OpGreaterThan, 10, 0, []uint64{11, hi, hi + 1, 1 << 63}, []uint64{0, 10}},
		{specs.OpGreaterThan, hi + 10, 0, []uint64{hi + 11, 2 * hi}, []uint64{10, hi + 10, 0xffffffff}},
		{specs.OpGreaterEqual, 10, 0, []uint64{10, 11, hi}, []uint64{0, 9}},
		{specs.OpMaskedEqual, 0xff00, 0x1200, []uint64{0x1200, 0x12ff, hi + 0x1234}, []uint64{0x1300, 0x2200, 0}},
		{specs.OpMaskedEqual, 0xffffffff00000000, hi, []uint64{hi, hi + 0xffff}, []uint64{0, 2 * hi}},
		{specs.OpMaskedEqual, 0x7e020000, 0, []uint64{0, 0x11, 0x3d0f00}, []uint64{unix.CLONE_NEWUSER, unix.CLONE_NEWNS}},
	}
	for _, tt := range tests {
		for argIdx := uint(0); argIdx < 6; argIdx += 5 {
			p := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"getppid"}, Action: specs.ActErrno, ErrnoRet: uintp(uint(unix.EACCES)),
					Args: []specs.LinuxSeccompArg{{Index: argIdx, Value: tt.val, ValueTwo: tt.two, Op: tt.op}}},
			}}
			f := mustCompile(t, p)
			try := func(v uint64, want string) {
				d := sys(t, unix.SYS_GETPPID)
				d.Args[argIdx] = v
				if got := decide(t, f, d); got != want {
					t.Errorf("arg%d %s %#x/%#x on %#x: %s, want %s", argIdx, tt.op, tt.val, tt.two, v, got, want)
				}
			}
			for _, v := range tt.match {
				try(v, "ERRNO(EACCES)")
			}
			for _, v := range tt.nomatch {
				try(v, "ALLOW")
			}
		}
	}
}

func TestConditionsCombine(t *testing.T) {
	p := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
		// Distinct arguments: AND.
		{Names: []string{"getppid"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{
			{Index: 0, Value: 1, Op: specs.OpEqualTo}, {Index: 2, Value: 3, Op: specs.OpEqualTo}}},
		// Same argument twice: OR, one rule each.
		{Names: []string{"getpid"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{
			{Index: 1, Value: 7, Op: specs.OpEqualTo}, {Index: 1, Value: 9, Op: specs.OpEqualTo}}},
		// All six arguments.
		{Names: []string{"gettid"}, Action: specs.ActKillProcess, Args: []specs.LinuxSeccompArg{
			{Index: 0, Value: 1, Op: specs.OpEqualTo}, {Index: 1, Value: 2, Op: specs.OpLessThan},
			{Index: 2, Value: 3, Op: specs.OpGreaterThan}, {Index: 3, Value: 4, Op: specs.OpNotEqual},
			{Index: 4, Value: 0xf, ValueTwo: 5, Op: specs.OpMaskedEqual}, {Index: 5, Value: 6, Op: specs.OpGreaterEqual}}},
	}}
	f := mustCompile(t, p)
	checkDecisions(t, f, []decision{
		{"AND both", sys(t, unix.SYS_GETPPID, 1, 0, 3), "ERRNO(EPERM)"},
		{"AND one", sys(t, unix.SYS_GETPPID, 1, 0, 4), "ALLOW"},
		{"AND other", sys(t, unix.SYS_GETPPID, 0, 0, 3), "ALLOW"},
		{"OR first", sys(t, unix.SYS_GETPID, 0, 7), "ERRNO(EPERM)"},
		{"OR second", sys(t, unix.SYS_GETPID, 0, 9), "ERRNO(EPERM)"},
		{"OR neither", sys(t, unix.SYS_GETPID, 0, 8), "ALLOW"},
		{"six match", sys(t, unix.SYS_GETTID, 1, 1, 4, 5, 0x35, 6), "KILL_PROCESS"},
		{"six, arg5 fails", sys(t, unix.SYS_GETTID, 1, 1, 4, 5, 0x35, 5), "ALLOW"},
		{"six, arg3 fails", sys(t, unix.SYS_GETTID, 1, 1, 4, 4, 0x35, 6), "ALLOW"},
		{"six, arg4 fails", sys(t, unix.SYS_GETTID, 1, 1, 4, 5, 0x36, 6), "ALLOW"},
	})
}

func TestArchitectures(t *testing.T) {
	needAmd64(t)
	eacces := uint(unix.EACCES)
	base := func(arches ...specs.Arch) *specs.LinuxSeccomp {
		return &specs.LinuxSeccomp{
			DefaultAction: specs.ActErrno,
			Architectures: arches,
			Syscalls: []specs.LinuxSyscall{
				{Names: []string{"read", "write", "exit", "exit_group", "getpid", "clone"}, Action: specs.ActAllow},
				{Names: []string{"getppid"}, Action: specs.ActErrno, ErrnoRet: &eacces},
			},
		}
	}
	t.Run("native only", func(t *testing.T) {
		f := mustCompile(t, base())
		checkDecisions(t, f, []decision{
			{"getpid", sys(t, unix.SYS_GETPID), "ALLOW"},
			{"i386 getpid", i386(i386Getpid), "KILL_PROCESS"},
			{"x32 getpid", x32(unix.SYS_GETPID), "KILL_PROCESS"},
		})
	})
	t.Run("native listed", func(t *testing.T) {
		f := mustCompile(t, base(specs.ArchX86_64))
		checkDecisions(t, f, []decision{
			{"getpid", sys(t, unix.SYS_GETPID), "ALLOW"},
			{"i386 getpid", i386(i386Getpid), "KILL_PROCESS"},
			{"x32 getpid", x32(unix.SYS_GETPID), "KILL_PROCESS"},
		})
	})
	t.Run("i386", func(t *testing.T) {
		f := mustCompile(t, base(specs.ArchX86_64, specs.ArchX86))
		checkDecisions(t, f, []decision{
			{"getpid", sys(t, unix.SYS_GETPID), "ALLOW"},
			{"i386 getpid", i386(i386Getpid), "ALLOW"},
			{"i386 getppid", i386(i386Getppid), "ERRNO(EACCES)"},
			{"i386 mount", i386(i386Mount), "ERRNO(EPERM)"},
			{"i386 newer", i386(470), "ERRNO(ENOSYS)"},
			{"x32 getpid", x32(unix.SYS_GETPID), "KILL_PROCESS"},
		})
	})
	t.Run("x32", func(t *testing.T) {
		f := mustCompile(t, base(specs.ArchX32))
		checkDecisions(t, f, []decision{
			{"getpid", sys(t, unix.SYS_GETPID), "ALLOW"},
			{"x32 getpid", x32(unix.SYS_GETPID), "ALLOW"},
			{"x32 getppid", x32(unix.SYS_GETPPID), "ERRNO(EACCES)"},
			{"x32 mount", x32(unix.SYS_MOUNT), "ERRNO(EPERM)"},
			{"x32 newer", x32(470), "ERRNO(ENOSYS)"},
			{"x32 private range", x32(520), "ERRNO(EPERM)"},
			{"native newer", sys(t, 470), "ERRNO(ENOSYS)"},
			{"i386 getpid", i386(i386Getpid), "KILL_PROCESS"},
		})
	})
	t.Run("foreign arch listed", func(t *testing.T) {
		f := mustCompile(t, base(specs.ArchAARCH64))
		checkDecisions(t, f, []decision{
			{"getpid", sys(t, unix.SYS_GETPID), "ALLOW"},
			{"i386 getpid", i386(i386Getpid), "KILL_PROCESS"},
		})
	})
}

func TestENOSYS(t *testing.T) {
	allowSome := func(def specs.LinuxSeccompAction, errnoRet *uint) *specs.LinuxSeccomp {
		return &specs.LinuxSeccomp{DefaultAction: def, DefaultErrnoRet: errnoRet, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read", "write", "openat", "getpid"}, Action: specs.ActAllow},
			{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: uintp(uint(unix.EPERM))},
		}}
	}
	tests := []struct {
		name          string
		p             *specs.LinuxSeccomp
		below, beyond string
	}{
		{"errno EPERM", allowSome(specs.ActErrno, nil), "ERRNO(EPERM)", "ERRNO(ENOSYS)"},
		{"errno EACCES", allowSome(specs.ActErrno, uintp(uint(unix.EACCES))), "ERRNO(EACCES)", "ERRNO(ENOSYS)"},
		{"kill process", allowSome(specs.ActKillProcess, nil), "KILL_PROCESS", "ERRNO(ENOSYS)"},
		{"kill thread", allowSome(specs.ActKillThread, nil), "KILL_THREAD", "ERRNO(ENOSYS)"},
		{"trap", allowSome(specs.ActTrap, nil), "TRAP", "ERRNO(ENOSYS)"},
		{"errno ENOSYS", allowSome(specs.ActErrno, uintp(uint(unix.ENOSYS))), "ERRNO(ENOSYS)", "ERRNO(ENOSYS)"},
		// Permissive defaults: no stub; newer calls get the default.
		{"allow", allowSome(specs.ActAllow, nil), "ALLOW", "ALLOW"},
		{"log", allowSome(specs.ActLog, nil), "LOG", "LOG"},
		{"trace", allowSome(specs.ActTrace, nil), "TRACE(1)", "TRACE(1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustCompile(t, tt.p)
			// clone3 (435) is the profile's highest syscall.
			checkDecisions(t, f, []decision{
				{"mount (below)", sys(t, unix.SYS_MOUNT), tt.below},
				{"close_range (436, beyond)", sys(t, unix.SYS_CLOSE_RANGE), tt.beyond},
				{"future (beyond)", sys(t, 600), tt.beyond},
				{"getpid", sys(t, unix.SYS_GETPID), "ALLOW"},
				{"clone3 (named)", sys(t, unix.SYS_CLONE3), "ERRNO(EPERM)"},
			})
		})
	}
	t.Run("no known names", func(t *testing.T) {
		f := mustCompile(t, &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"not_a_syscall"}, Action: specs.ActAllow},
		}})
		checkDecisions(t, f, []decision{{"anything", sys(t, unix.SYS_GETPID), "ERRNO(EPERM)"}})
	})
}
