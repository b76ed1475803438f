//go:build linux

package oci_test

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	sandbox "github.com/gosandbox/sandbox"
	"github.com/gosandbox/sandbox/internal/testutil"
	"github.com/gosandbox/sandbox/oci"
)

// The default sandbox, seen from inside: these run as root and, in the
// unprivileged pass, as an ordinary user (the spec then maps only the
// caller's ids).

func TestDefaultSandboxIdentity(t *testing.T) {
	requireUserNS(t)
	p := getProbe(t, defaultSpec(t, "probe"))
	if p.Pid != 2 || p.Ppid != 1 {
		t.Errorf("pid %d ppid %d: the command should be pid 2 under the pid-1 reaper", p.Pid, p.Ppid)
	}
	// No sandbox id maps to host root.
	for _, line := range strings.Split(p.UidMap+"\n"+p.GidMap, "\n") {
		f := strings.Fields(line)
		if len(f) == 3 {
			host, _ := strconv.Atoi(f[1])
			size, _ := strconv.Atoi(f[2])
			if host == 0 || (host < 1 && host+size > 0) {
				t.Errorf("map line %q reaches host id 0", line)
			}
		}
	}
	if p.Uid != [3]int{0, 0, 0} {
		t.Errorf("uids %v, want root inside", p.Uid)
	}
	for _, k := range []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"} {
		if p.Status[k] != "0000000000000000" {
			t.Errorf("%s = %s, want no capabilities", k, p.Status[k])
		}
	}
	if p.Status["NoNewPrivs"] != "1" {
		t.Errorf("NoNewPrivs = %s", p.Status["NoNewPrivs"])
	}
	if p.Hostname != "sandbox" {
		t.Errorf("hostname %q", p.Hostname)
	}
	if want := slices.Sorted(slices.Values(sandbox.DefaultEnv)); !slices.Equal(p.Env, want) {
		t.Errorf("env %q, want exactly %q", p.Env, want)
	}
	if p.Cwd != "/" {
		t.Errorf("cwd %q", p.Cwd)
	}
	for _, ns := range []string{"user", "mnt", "pid", "net", "ipc", "uts", "cgroup"} {
		self, _ := os.Readlink("/proc/self/ns/" + ns)
		if p.Namespaces[ns] == "" || p.Namespaces[ns] == self {
			t.Errorf("%s namespace %q: want a new one (host %s)", ns, p.Namespaces[ns], self)
		}
	}
	if p.Rlimits["NOFILE"][1] != 1024 {
		t.Errorf("NOFILE %v", p.Rlimits["NOFILE"])
	}
}

// TestDefaultSandboxFds lists the descriptors a shell inherits: only stdio.
func TestDefaultSandboxFds(t *testing.T) {
	requireUserNS(t)
	spec := sandbox.DefaultSpec(sandbox.DefaultOptions{Args: []string{"/bin/sh", "-c", "ls /proc/$$/fd; true"}})
	keep, _ := os.Open("/etc/hostname")
	defer keep.Close()
	out, st := run(t, spec, oci.Options{})
	if st.ExitCode() != 0 {
		t.Fatalf("%v: %s", st, out)
	}
	if got := strings.Fields(string(out)); !slices.Equal(got, []string{"0", "1", "2"}) && !slices.Equal(got, []string{"1", "2"}) {
		t.Errorf("inherited descriptors %v, want only stdio", got)
	}
}

func TestDefaultSandboxMounts(t *testing.T) {
	requireUserNS(t)
	p := getProbe(t, defaultSpec(t, "probe"))
	want := map[string]struct{ fstype, opt string }{
		"/":         {"tmpfs", "ro"},
		"/usr":      {"", "ro"},
		"/etc":      {"", "ro"},
		"/tmp":      {"tmpfs", "rw"},
		"/proc":     {"proc", "rw"},
		"/proc/sys": {"proc", "ro"},
		"/dev":      {"tmpfs", ""},
		"/dev/pts":  {"devpts", ""},
		"/dev/shm":  {"tmpfs", ""},
	}
	for point, w := range want {
		opts, fstype, ok := p.mount(point)
		if !ok {
			t.Errorf("no mount on %s", point)
			continue
		}
		if w.fstype != "" && fstype != w.fstype {
			t.Errorf("%s is %s, want %s", point, fstype, w.fstype)
		}
		if w.opt != "" && !slices.Contains(strings.Split(opts, ","), w.opt) {
			t.Errorf("%s options %s, want %s", point, opts, w.opt)
		}
	}
	for _, m := range p.Mounts {
		for _, hostOnly := range []string{"/home", "/root", "/var", "/boot", "/srv", "/work"} {
			if m.Point == hostOnly || strings.HasPrefix(m.Point, hostOnly+"/") {
				t.Errorf("host path %s is mounted in the sandbox", m.Point)
			}
		}
	}
	if _, _, ok := p.mount("/proc/kcore"); !ok {
		if _, err := os.Stat("/proc/kcore"); err == nil {
			t.Errorf("/proc/kcore is not masked")
		}
	}
}

// TestDefaultSandboxDenials: what hostile code must not be able to do.
func TestDefaultSandboxDenials(t *testing.T) {
	requireUserNS(t)
	cases := []struct {
		args []string
		want []string // any of
	}{
		{[]string{"write", "/usr/pwned", "x"}, []string{"EROFS"}},
		{[]string{"write", "/pwned", "x"}, []string{"EROFS"}},
		{[]string{"write", "/etc/passwd", "x"}, []string{"EROFS"}},
		{[]string{"write", "/proc/sys/kernel/core_pattern", "|/tmp/x"}, []string{"EROFS"}},
		{[]string{"write", "/proc/sysrq-trigger", "c"}, []string{"EROFS", "ENOENT"}},
		{[]string{"write", "/tmp/ok", "x"}, []string{"ok"}},
		{[]string{"syscall", "mount-tmpfs", "/tmp"}, []string{"EPERM"}},
		{[]string{"syscall", "remount-rw", "/usr"}, []string{"EPERM"}},
		{[]string{"syscall", "remount-rw", "/"}, []string{"EPERM"}},
		{[]string{"syscall", "umount", "/usr"}, []string{"EPERM"}},
		{[]string{"syscall", "sethostname", "x"}, []string{"EPERM"}},
		{[]string{"syscall", "chroot", "/tmp"}, []string{"EPERM"}},
		{[]string{"syscall", "ptrace-attach", "1"}, []string{"EPERM"}},
		{[]string{"syscall", "setuid", "1000"}, []string{"EPERM", "EINVAL"}},
		// The host's device events (a root caller's network namespace
		// belongs to the host's user namespace, which receives them).
		{[]string{"syscall", "raw", strconv.Itoa(unix.SYS_SOCKET), strconv.Itoa(unix.AF_NETLINK), strconv.Itoa(unix.SOCK_RAW), strconv.Itoa(unix.NETLINK_KOBJECT_UEVENT)}, []string{"EPROTONOSUPPORT"}},
		{[]string{"ls", "/root"}, []string{"error ENOENT"}},
		{[]string{"ls", "/home"}, []string{"error ENOENT"}},
		{[]string{"ls", "/var"}, []string{"error ENOENT"}},
		{[]string{"cat", "/etc/shadow"}, []string{"error EACCES"}},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			got := check(t, defaultSpec(t, c.args...))
			if !slices.Contains(c.want, got) {
				t.Errorf("got %q, want one of %q", got, c.want)
			}
		})
	}
}

// TestDefaultSandboxHostPids: /proc shows only the sandbox's processes.
func TestDefaultSandboxHostPids(t *testing.T) {
	requireUserNS(t)
	got := check(t, defaultSpec(t, "ls", "/proc"))
	var pids []string
	for _, e := range strings.Fields(got) {
		if _, err := strconv.Atoi(e); err == nil {
			pids = append(pids, e)
		}
	}
	if !slices.Equal(pids, []string{"1", "2"}) {
		t.Errorf("pids visible in the sandbox %v, want [1 2]", pids)
	}
}

// TestReaperSurvivesKill: the command cannot kill pid 1 from inside.
func TestReaperSurvivesKill(t *testing.T) {
	requireUserNS(t)
	spec := sandbox.DefaultSpec(sandbox.DefaultOptions{Args: []string{"/bin/sh", "-c", "kill -9 1; echo alive"}})
	out, st := run(t, spec, oci.Options{})
	if st.ExitCode() != 0 || strings.TrimSpace(string(out)) != "alive" {
		t.Errorf("%v %q", st, out)
	}
}

func TestDevices(t *testing.T) {
	requireUserNS(t)
	spec := sandbox.DefaultSpec(sandbox.DefaultOptions{Args: []string{"/bin/sh", "-c",
		`echo x > /dev/null && head -c 4 /dev/zero | od -An -tx1 && head -c 1 /dev/urandom >/dev/null && ls -l /dev | awk '{print $1, $NF}' | sort`}})
	out, st := run(t, spec, oci.Options{})
	if st.ExitCode() != 0 {
		t.Fatalf("%v: %s", st, out)
	}
	s := string(out)
	for _, want := range []string{" 00 00 00 00", "crw-rw-rw- null", "crw-rw-rw- zero", "crw-rw-rw- full", "crw-rw-rw- random",
		"crw-rw-rw- urandom", "crw-rw-rw- tty", "lrwxrwxrwx /proc/self/fd", "lrwxrwxrwx pts/ptmx", "lrwxrwxrwx /proc/self/fd/0"} {
		if !strings.Contains(s, want) {
			t.Errorf("/dev lacks %q:\n%s", want, s)
		}
	}
	// A device from linux.devices.
	spec = sandbox.DefaultSpec(sandbox.DefaultOptions{Args: []string{"/bin/sh", "-c", "echo x > /dev/extra/null2 && ls -l /dev/extra/null2"}})
	zero := os.FileMode(0o600)
	spec.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/extra/null2", Type: "c", Major: 1, Minor: 3, FileMode: &zero}}
	if os.Geteuid() != 0 {
		// Without privilege devices are bound from the host's same path.
		spec.Linux.Devices[0].Path = "/dev/null"
		spec.Process.Args[2] = "echo x > /dev/null && ls -l /dev/null"
	}
	out, st = run(t, spec, oci.Options{})
	if st.ExitCode() != 0 || !strings.HasPrefix(string(out), "c") {
		t.Errorf("extra device: %v %s", st, out)
	}
}

func TestLoopback(t *testing.T) {
	requireUserNS(t)
	got := check(t, defaultSpec(t, "net"))
	if !strings.Contains(got, "loopback ok") || !strings.Contains(got, "lo(up|loopback") {
		t.Errorf("got %q, want lo up and a working 127.0.0.1", got)
	}
	if strings.Count(got, "(") != 1 {
		t.Errorf("interfaces besides lo: %q", got)
	}
	// Sharing the host network keeps its interfaces.
	s := sandbox.DefaultSpec(sandbox.DefaultOptions{Args: []string{"/checker", "net"}, ShareNet: true})
	got = check(t, withChecker(t, s))
	if !strings.Contains(got, "loopback ok") {
		t.Errorf("shared network: %q", got)
	}
}

func TestHostnameDomainname(t *testing.T) {
	requireUserNS(t)
	s := defaultSpec(t, "probe")
	s.Hostname, s.Domainname = "box-7", "example.test"
	p := getProbe(t, s)
	if p.Hostname != "box-7" || p.Domainname != "example.test" {
		t.Errorf("hostname %q domainname %q", p.Hostname, p.Domainname)
	}
}

func TestCredentials(t *testing.T) {
	testutil.RequireRoot(t)
	s := defaultSpec(t, "probe")
	mask := uint32(0o027)
	s.Process.User = specs.User{UID: 1000, GID: 1001, AdditionalGids: []uint32{10, 20}, Umask: &mask}
	s.Process.Cwd = "/tmp"
	caps := []string{"CAP_NET_BIND_SERVICE"}
	s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps, Inheritable: caps, Ambient: caps}
	s.Process.NoNewPrivileges = false
	adj := 500
	s.Process.OOMScoreAdj = &adj
	s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_CPU", Soft: 30, Hard: 60})
	p := getProbe(t, s)
	if p.Uid != [3]int{1000, 1000, 1000} || p.Gid != [3]int{1001, 1001, 1001} || !slices.Equal(p.Groups, []int{10, 20}) {
		t.Errorf("uid %v gid %v groups %v", p.Uid, p.Gid, p.Groups)
	}
	if p.Umask != 0o027 || p.Cwd != "/tmp" {
		t.Errorf("umask %#o cwd %q", p.Umask, p.Cwd)
	}
	const bit = "0000000000000400" // CAP_NET_BIND_SERVICE
	for _, k := range []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"} {
		if p.Status[k] != bit {
			t.Errorf("%s = %s, want %s", k, p.Status[k], bit)
		}
	}
	if p.Status["NoNewPrivs"] != "0" || p.OOMScoreAdj != "500" || p.Rlimits["CPU"] != [2]uint64{30, 60} {
		t.Errorf("NoNewPrivs %s oom %s cpu %v", p.Status["NoNewPrivs"], p.OOMScoreAdj, p.Rlimits["CPU"])
	}
}

// TestUserNamespaceFirst runs an OCI-style sandbox (user namespace first,
// the command pid 1): its root holds capabilities over its own namespaces.
func TestUserNamespaceFirst(t *testing.T) {
	requireUserNS(t)
	s := defaultSpec(t, "probe")
	delete(s.Annotations, oci.AnnotationUsernsLast)
	delete(s.Annotations, oci.AnnotationInit)
	caps := []string{"CAP_SYS_ADMIN", "CAP_NET_ADMIN"}
	s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
	p := getProbe(t, s)
	if p.Pid != 1 {
		t.Errorf("pid %d, want 1 without the reaper", p.Pid)
	}
	if p.Status["CapEff"] != "0000000000201000" {
		t.Errorf("CapEff %s", p.Status["CapEff"])
	}
	// With CAP_SYS_ADMIN over its own mount namespace it may mount (once
	// the default seccomp profile, which forbids mount, is taken away).
	s.Linux.Seccomp = nil
	s.Process.Args = []string{"/checker", "syscall", "mount-tmpfs", "/tmp"}
	if got := check(t, s); got != "ok" {
		t.Errorf("mount with CAP_SYS_ADMIN in a user-namespace-first sandbox: %s", got)
	}
}

// TestUsernsLastLocksEverything keeps CAP_SYS_ADMIN and CAP_NET_ADMIN in a
// user-namespace-last sandbox: the namespaces belong to the caller, so the
// capabilities buy nothing.
func TestUsernsLastLocksEverything(t *testing.T) {
	testutil.RequireRoot(t)
	caps := []string{"CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_SYS_CHROOT"}
	for _, args := range [][]string{
		{"syscall", "mount-tmpfs", "/tmp"}, {"syscall", "remount-rw", "/usr"}, {"syscall", "umount", "/usr"},
		{"syscall", "sethostname", "x"},
	} {
		s := defaultSpec(t, args...)
		s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
		s.Linux.Seccomp = nil // the namespaces alone must hold
		if got := check(t, s); got != "EPERM" {
			t.Errorf("%v with CAP_SYS_ADMIN: %s, want EPERM", args, got)
		}
	}
}

func TestJoinNamespace(t *testing.T) {
	testutil.RequireRoot(t)
	// A holder process with its own network and uts namespaces.
	holder := sandbox.DefaultSpec(sandbox.DefaultOptions{Args: []string{"/bin/sleep", "60"}, Hostname: "holder"})
	c, err := oci.Compile(holder, oci.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	hp, err := c.Start(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { hp.Kill(); hp.Wait() }()
	// The reaper is pid 1; the sleeper, which entered nothing new since,
	// shares its net and uts namespaces.
	netPath := "/proc/" + strconv.Itoa(hp.Pid) + "/ns/net"
	want, err := os.Readlink(netPath)
	if err != nil {
		t.Fatal(err)
	}
	s := sandbox.DefaultSpec(sandbox.DefaultOptions{Args: []string{"/checker", "probe"}})
	s = withChecker(t, s)
	for i, ns := range s.Linux.Namespaces {
		if ns.Type == specs.NetworkNamespace {
			s.Linux.Namespaces[i].Path = netPath
		}
	}
	p := getProbe(t, s)
	if p.Namespaces["net"] != want {
		t.Errorf("net namespace %s, want the joined %s", p.Namespaces["net"], want)
	}
}

func TestMaskedAndReadonlyPaths(t *testing.T) {
	requireUserNS(t)
	s := sandbox.DefaultSpec(sandbox.DefaultOptions{Args: []string{"/bin/sh", "-c",
		"cat /etc/hostname; echo; ls /etc/ssl | wc -l; touch /tmp/sub/x 2>&1 | grep -o 'Read-only' ; echo done"}})
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/tmp/sub", Type: "tmpfs", Options: []string{"mode=1777"}})
	s.Linux.MaskedPaths = append(s.Linux.MaskedPaths, "/etc/hostname", "/etc/ssl", "/nonexistent/path")
	s.Linux.ReadonlyPaths = append(s.Linux.ReadonlyPaths, "/tmp/sub")
	out, st := run(t, s, oci.Options{})
	if st.ExitCode() != 0 {
		t.Fatalf("%v: %s", st, out)
	}
	if got := string(out); got != "\n0\nRead-only\ndone\n" {
		t.Errorf("got %q: want an empty /etc/hostname, an empty /etc/ssl and a read-only /tmp/sub", got)
	}
}

func TestSysctl(t *testing.T) {
	requireUserNS(t)
	s := sandbox.DefaultSpec(sandbox.DefaultOptions{Args: []string{"/bin/cat", "/proc/sys/net/ipv4/ip_default_ttl", "/proc/sys/kernel/shmmni"}})
	s.Linux.Sysctl = map[string]string{"net.ipv4.ip_default_ttl": "42", "kernel.shmmni": "1234"}
	out, st := run(t, s, oci.Options{})
	if st.ExitCode() != 0 || string(out) != "42\n1234\n" {
		t.Errorf("%v %q", st, out)
	}
}

// TestOCIRootPath runs a bundle-style sandbox: root.path is a directory
// bound as the new root, read-only.
func TestOCIRootPath(t *testing.T) {
	requireUserNS(t)
	root := t.TempDir()
	os.Chmod(root, 0o755)
	for _, d := range []string{"usr", "proc", "dev", "etc"} {
		os.Mkdir(root+"/"+d, 0o755)
	}
	os.WriteFile(root+"/etc/marker", []byte("from-bundle\n"), 0o644)
	s := sandbox.DefaultSpec(sandbox.DefaultOptions{Args: []string{"/bin/sh", "-c", "cat /etc/marker; ls /"}, Binds: []string{"/usr", "/bin", "/lib", "/lib64"}})
	delete(s.Annotations, "org.gosandbox.rootfs.tmpfs")
	s.Root = &specs.Root{Path: root, Readonly: true}
	out, st := run(t, s, oci.Options{})
	if st.ExitCode() != 0 || !strings.HasPrefix(string(out), "from-bundle\n") {
		t.Errorf("%v %q", st, out)
	}
}

// TestDefaultSandboxSeccomp: the default sandbox runs under the default
// profile; without it (unconfined) the same calls reach the kernel.
func TestDefaultSandboxSeccomp(t *testing.T) {
	requireUserNS(t)
	p := getProbe(t, defaultSpec(t, "probe"))
	if p.Status["Seccomp"] != "2" || p.Status["Seccomp_filters"] != "1" {
		t.Errorf("Seccomp %q filters %q, want one filter", p.Status["Seccomp"], p.Status["Seccomp_filters"])
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"seccomp", "call", strconv.Itoa(unix.SYS_KEYCTL), "0"}, "EPERM"},
		{[]string{"seccomp", "call", strconv.Itoa(unix.SYS_BPF), "0"}, "EPERM"},
		{[]string{"seccomp", "call", strconv.Itoa(unix.SYS_UNSHARE), strconv.Itoa(unix.CLONE_NEWUSER)}, "EPERM"},
		{[]string{"seccomp", "call", strconv.Itoa(unix.SYS_CLONE3), "0", "0"}, "ENOSYS"},
		{[]string{"seccomp", "call", "1000"}, "ENOSYS"},
		{[]string{"seccomp", "call", strconv.Itoa(unix.SYS_IOCTL), "0", strconv.Itoa(unix.TIOCSTI), "0"}, "EIO"},
		{[]string{"seccomp", "call", strconv.Itoa(unix.SYS_IOCTL), "0", strconv.Itoa(unix.TIOCSETD), "0"}, "EIO"},
		{[]string{"seccomp", "call", strconv.Itoa(unix.SYS_IOCTL), "0", strconv.Itoa(unix.TIOCEXCL), "0"}, "EIO"},
	} {
		if got := check(t, defaultSpec(t, c.args...)); got != c.want {
			t.Errorf("%v: %q, want %q", c.args, got, c.want)
		}
	}
	s := defaultSpec(t, "probe")
	s.Linux.Seccomp = nil
	if p := getProbe(t, s); p.Status["Seccomp"] != "0" {
		t.Errorf("unconfined sandbox has Seccomp %q", p.Status["Seccomp"])
	}
}

// TestSessionKeyring: even without seccomp, the sandbox does not possess
// the caller's session keyring.
func TestSessionKeyring(t *testing.T) {
	requireUserNS(t)
	mine, err := unix.KeyctlGetKeyringID(unix.KEY_SPEC_SESSION_KEYRING, true)
	if err != nil {
		testutil.Skip(t, "no session keyring here: "+err.Error())
	}
	s := defaultSpec(t, "keyring")
	s.Linux.Seccomp = nil
	got := check(t, s)
	if got == strconv.Itoa(mine) {
		t.Errorf("the sandbox shares the caller's session keyring %d", mine)
	}
	if _, err := strconv.Atoi(got); err != nil {
		t.Errorf("no session keyring inside: %s", got)
	}
	// With the default profile the keyring syscalls are refused outright.
	if got := check(t, defaultSpec(t, "keyring")); got != "EPERM" {
		t.Errorf("keyctl under the default profile: %s", got)
	}
}
