//go:build linux

package sandbox

import (
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gosandbox/sandbox/oci"
	"github.com/gosandbox/sandbox/rootfs"
	"github.com/gosandbox/sandbox/seccomp"
)

// DefaultPath is the PATH of the default environment.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// DefaultEnv is the whole environment a command gets in the default
// sandbox, unless the caller adds to it: nothing leaks in from the caller's
// own environment.
var DefaultEnv = []string{"PATH=" + DefaultPath, "HOME=/"}

// DefaultBinds are the host paths the default sandbox binds read-only at
// the same place, when they exist on the host.
var DefaultBinds = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"}

// DefaultHostIDBase is the first host id the default sandbox maps to, for
// a privileged caller: ids 0…65535 inside are DefaultHostIDBase… outside,
// the conventional first subordinate id (useradd's SUB_UID_MIN), so the
// sandbox's root is never host root.
const DefaultHostIDBase = 100000

// DefaultOptions adjust the default sandbox.
type DefaultOptions struct {
	// Args is the command and its arguments.
	Args []string
	// Env is added to DefaultEnv (a later KEY=… replaces an earlier one).
	Env []string
	// Binds replaces DefaultBinds when not nil.
	Binds []string
	// Root, when set, is a directory to use as the sandbox's root (an
	// image unpacked by the caller), instead of an empty tmpfs with the
	// host's /usr, /bin, /lib* and /etc bound in: Binds then defaults to
	// none. It is bound read-only, nosuid and nodev, submounts included
	// (rootfs.AnnotationLockedRoot), and nothing is written to it: it
	// must have /proc, /dev and /tmp (and each mount's destination).
	Root string
	// Hostname defaults to "sandbox".
	Hostname string
	// ShareNet keeps the host's network namespace.
	ShareNet bool
	// HostIDBase replaces DefaultHostIDBase when not zero.
	HostIDBase uint32
	// Unprivileged builds the spec for a caller without privilege (its own
	// uid and gid mapped to root inside, one id each); by default the
	// effective uid decides.
	Unprivileged bool
}

// DefaultSpec returns the spec `sandbox run` uses: new user, mount, pid,
// ipc, uts, net and cgroup namespaces; ids that never map to host root;
// read-only binds of the host's system directories on an empty read-only
// tmpfs root; a tmpfs /tmp; a fresh /proc with the usual masked and
// read-only paths; a minimal /dev; no capabilities; no_new_privs; the
// default seccomp profile; hostname "sandbox"; a pid-1 reaper; and a
// cleared environment.
func DefaultSpec(o DefaultOptions) *specs.Spec {
	privileged := os.Geteuid() == 0 && !o.Unprivileged
	hostname := o.Hostname
	if hostname == "" {
		hostname = "sandbox"
	}
	base := o.HostIDBase
	if base == 0 {
		base = DefaultHostIDBase
	}
	uidMap := []specs.LinuxIDMapping{{ContainerID: 0, HostID: base, Size: 65536}}
	gidMap := uidMap
	if !privileged {
		uidMap = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(os.Geteuid()), Size: 1}}
		gidMap = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(os.Getegid()), Size: 1}}
	}
	namespaces := []specs.LinuxNamespace{
		{Type: specs.UserNamespace}, {Type: specs.MountNamespace}, {Type: specs.PIDNamespace},
		{Type: specs.IPCNamespace}, {Type: specs.UTSNamespace}, {Type: specs.CgroupNamespace},
	}
	if !o.ShareNet {
		namespaces = append(namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace})
	}
	devpts := []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}
	if privileged {
		devpts = append(devpts, "gid=5") // the tty group, mapped in the sandbox
	}
	mounts := []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: devpts},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=1777"}},
	}
	binds := o.Binds
	if binds == nil && o.Root == "" {
		binds = DefaultBinds
	}
	var links []string
	for _, p := range binds {
		p = filepath.Clean(p)
		if _, err := os.Stat(p); err != nil {
			continue
		}
		// A merged-/usr host's /bin → usr/bin: the same link inside, when
		// it points into another bound directory, instead of a bind.
		if target, ok := linkInto(p, binds); ok {
			links = append(links, p+":"+target)
			continue
		}
		mounts = append(mounts, specs.Mount{Destination: p, Type: "bind", Source: p, Options: []string{"rbind", "ro", "nosuid", "nodev"}})
	}
	env := mergeEnv(DefaultEnv, o.Env)
	annotations := map[string]string{oci.AnnotationInit: "true"}
	if o.Root == "" {
		annotations[rootfs.AnnotationTmpfsRoot] = "size=1m"
	} else {
		annotations[rootfs.AnnotationLockedRoot] = "true"
	}
	if len(links) > 0 {
		annotations[rootfs.AnnotationSymlinks] = strings.Join(links, ",")
	}
	if privileged {
		annotations[oci.AnnotationUsernsLast] = "true"
	}
	return &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			Args:            o.Args,
			Env:             env,
			Cwd:             "/",
			User:            specs.User{UID: 0, GID: 0},
			Capabilities:    &specs.LinuxCapabilities{},
			NoNewPrivileges: true,
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 1024}},
		},
		Root:        &specs.Root{Path: o.Root, Readonly: true},
		Hostname:    hostname,
		Mounts:      mounts,
		Annotations: annotations,
		Linux: &specs.Linux{
			Namespaces:        namespaces,
			UIDMappings:       uidMap,
			GIDMappings:       gidMap,
			RootfsPropagation: "rprivate",
			MaskedPaths: []string{
				"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
				"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
				"/sys/firmware", "/sys/devices/virtual/powercap",
			},
			ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
			Seccomp:       seccomp.DefaultProfile(),
		},
	}
}

// linkInto reports whether p is a relative symlink whose target lies in
// another of the bound directories, and returns the link's text.
func linkInto(p string, binds []string) (string, bool) {
	target, err := os.Readlink(p)
	if err != nil || filepath.IsAbs(target) || strings.ContainsAny(target, ",:") {
		return "", false
	}
	resolved := filepath.Join(filepath.Dir(p), target)
	for _, b := range binds {
		b = filepath.Clean(b)
		if b == p {
			continue
		}
		if fi, err := os.Lstat(b); err != nil || !fi.IsDir() {
			continue
		}
		if resolved == b || strings.HasPrefix(resolved, b+"/") {
			return target, true
		}
	}
	return "", false
}

// mergeEnv appends add to base; a later KEY=… replaces an earlier one.
func mergeEnv(base, add []string) []string {
	out := append([]string(nil), base...)
	for _, kv := range add {
		k := kv
		for i := 0; i < len(kv); i++ {
			if kv[i] == '=' {
				k = kv[:i]
				break
			}
		}
		replaced := false
		for i, e := range out {
			if len(e) > len(k) && e[:len(k)] == k && e[len(k)] == '=' {
				out[i] = kv
				replaced = true
				break
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	return out
}
