//go:build linux

// Package oci turns an OCI runtime spec (github.com/opencontainers/
// runtime-spec, v1.3.0) into a spawn program: it validates the spec, reports
// every problem with its field path, and assembles the steps of the
// namespaces, rootfs and creds compilers in the one order that works:
//
//	0  close_fds, dup_fds                 (spawn)
//	   setns for joined namespaces        (namespaces; user first)
//	   reaper                             (pid 1 of a new pid namespace, or
//	                                       the waiter that puts the command
//	                                       in a joined one)
//	   enter the user namespace           (userns-first: maps, root inside)
//	   oom_score_adj, rlimits, a new session keyring (creds)
//	   cgroup joins (Options.Extra), then the new cgroup namespace
//	   root, mounts, devices              (rootfs, before pivot_root)
//	   hostname, loopback up              (namespaces)
//	   pivot_root, sysctls, masks, ro     (rootfs)
//	   enter the user namespace           (userns-last: unshare, maps)
//	   RLIMIT_NOFILE                      (creds; the setup needs its fds)
//	   setsid; cwd, caps, ids, umask      (creds)
//	   restore sigmask, mark exec, no_new_privs, seccomp, execve
//
// Seccomp loads last, right before the exec; a process without
// no_new_privs loads it before its identity change instead, while it still
// holds CAP_SYS_ADMIN (the profile must then allow the rest of the setup).
//
// The package is pure in the sense that matters for tests: Compile opens
// files (namespaces to join, the command's binary is not among them) but
// starts nothing; Start spawns.
package oci

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/gosandbox/sandbox/creds"
	"github.com/gosandbox/sandbox/namespaces"
	"github.com/gosandbox/sandbox/rootfs"
	"github.com/gosandbox/sandbox/seccomp"
	"github.com/gosandbox/sandbox/spawn"
)

// Annotations this package reads. Everything else in annotations is
// ignored, as the runtime spec asks.
const (
	// AnnotationInit runs a pid-1 reaper ("true") in a new pid namespace:
	// it reaps orphans, forwards signals and exits with the command's
	// status. Without it the command is pid 1, as runc does.
	AnnotationInit = "org.gosandbox.init"
	// AnnotationUsernsLast ("true") creates every other namespace before
	// the user namespace, for a privileged caller: mounts, hostname and
	// network are set up as the caller and then belong to it, so nothing
	// in the sandbox can change them whatever capabilities it holds.
	AnnotationUsernsLast = "org.gosandbox.userns-last"
	// AnnotationSetgroups ("allow" or "deny") for a new user namespace;
	// the default allows it for a privileged caller.
	AnnotationSetgroups = "org.gosandbox.setgroups"
)

// Options are the facts a spec does not hold.
type Options struct {
	// BundleDir resolves relative paths in the spec.
	BundleDir string
	// Files is how many descriptors the command receives (stdin, stdout,
	// stderr, extra files); 0 means 3. With process.terminal and no
	// Console, descriptor 0 must be a terminal no session owns (the slave
	// of a pty the runner made): it becomes the command's controlling
	// terminal, and the step "ioctl TIOCSCTTY" fails otherwise.
	Files int
	// Console, with process.terminal, makes the command's terminal inside
	// the sandbox, in the devpts instance the spec mounts at /dev/pts
	// (ConsoleInside must hold): the command opens /dev/pts/ptmx as its
	// own user, sizes it by process.consoleSize, sends the master over a
	// console socket and takes the slave as descriptors 0, 1 and 2 and
	// its controlling terminal, so that the terminal has a name inside
	// (tty, ttyname) and belongs to the command's user. The console
	// socket is the program's last input (spawn.Attr.Inputs): an AF_UNIX
	// socket whose peer receives one byte with the master in SCM_RIGHTS,
	// as the OCI console socket does. Descriptors 0, 1 and 2 must be open
	// at the spawn, whatever they are (the slave replaces them).
	Console bool
	// Unprivileged compiles for a caller without privilege even when it is
	// root (tests use it); by default the effective uid decides.
	Unprivileged bool
	// Extra, when set, is called to emit steps before the rootfs is built
	// and the cgroup namespace created, while the setup still runs as the
	// caller: the cgroup join steps of the runner.
	Extra func(b *spawn.Builder)
	// ContainerID names the container in the state sent to a seccomp
	// agent at linux.seccomp.listenerPath.
	ContainerID string
	// OnListener receives the listener of a notify filter when the profile
	// has no listenerPath; it owns the file. Required for such profiles.
	OnListener func(p *spawn.Process, listener *os.File) error
	// Path, when set, is the program to execute instead of
	// process.args[0] (which stays argv[0]); without a slash it is searched
	// in the command's $PATH inside the sandbox.
	Path string
	// Pdeathsig, when not zero, is sent to the sandbox when the thread that
	// started it exits (see spawn.Builder.Pdeathsig): to the pid-1 reaper,
	// whose death ends the whole pid namespace, or else to the command.
	Pdeathsig unix.Signal
	// ResourcesApplied tells Compile that the caller applies
	// linux.resources itself (cgroups.FromOCI and the cgroup whose join
	// steps Extra emits). Without it a spec with linux.resources is
	// refused: nothing would enforce them.
	ResourcesApplied bool
}

// Namespaces reports the namespace types spec creates (listed without a
// path) and those it joins (listed with one).
func Namespaces(spec *specs.Spec) (created, joined map[specs.LinuxNamespaceType]bool) {
	created = map[specs.LinuxNamespaceType]bool{}
	joined = map[specs.LinuxNamespaceType]bool{}
	if spec.Linux != nil {
		for _, ns := range spec.Linux.Namespaces {
			if ns.Path == "" {
				created[ns.Type] = true
			} else {
				joined[ns.Type] = true
			}
		}
	}
	return created, joined
}

// Compiled is a spec compiled for spawning: the program and the parent's
// half of the setup. It may be started any number of times; Close releases
// its descriptors.
type Compiled struct {
	Program  *spawn.Program
	Warnings []string

	ns              *namespaces.Plan
	usernsLast      bool
	reaper          bool
	mapsAfterReaper bool
	filter          *seccomp.Filter // nil without linux.seccomp
	opts            Options
}

// Compile validates spec and compiles it. The error joins every problem
// found, each naming its field path.
func Compile(spec *specs.Spec, opts Options) (*Compiled, error) {
	if spec == nil {
		return nil, errors.New("oci: no spec")
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	var warnings []string
	errs = append(errs, checkTopLevel(spec, opts, &warnings)...)

	privileged := os.Geteuid() == 0 && !opts.Unprivileged
	usernsLast := false
	if v, ok := spec.Annotations[AnnotationUsernsLast]; ok {
		switch v {
		case "true":
			usernsLast = privileged
			if !privileged {
				warnings = append(warnings, fmt.Sprintf("annotations[%q]: needs a privileged caller; the user namespace is created first", AnnotationUsernsLast))
			}
		case "false":
		default:
			bad("annotations[%q]: %q, want true or false", AnnotationUsernsLast, v)
		}
	}
	setgroups := privileged
	if v, ok := spec.Annotations[AnnotationSetgroups]; ok {
		switch v {
		case "allow":
			if !privileged {
				bad("annotations[%q]: an unprivileged caller's user namespace must deny setgroups", AnnotationSetgroups)
			}
		case "deny":
			setgroups = false
		default:
			bad("annotations[%q]: %q, want allow or deny", AnnotationSetgroups, v)
		}
	}
	init := false
	if v, ok := spec.Annotations[AnnotationInit]; ok {
		switch v {
		case "true":
			init = true
		case "false":
		default:
			bad("annotations[%q]: %q, want true or false", AnnotationInit, v)
		}
	}

	nsPlan, err := namespaces.Compile(spec, namespaces.Options{
		Privileged: privileged, Euid: os.Geteuid(), Egid: os.Getegid(),
		UsernsLast: usernsLast, Setgroups: setgroups,
	})
	if err != nil {
		errs = append(errs, err)
	}
	have, _ := Namespaces(spec)
	if init && !have[specs.PIDNamespace] {
		bad("annotations[%q]: a pid-1 reaper needs a new pid namespace", AnnotationInit)
	}
	ids := func(id uint32, gid bool) (uint32, bool) { return id, true }
	mapped := func(uint32, bool) bool { return true }
	if nsPlan != nil {
		ids = nsPlan.ToHost
		mapped = func(id uint32, gid bool) bool { _, ok := nsPlan.ToHost(id, gid); return ok }
	}
	setupAsCaller := nsPlan == nil || nsPlan.SetupAsCaller()
	var masked []string
	if init {
		// The reaper shares this process's memory, and with it the
		// command line: the embedding program's arguments (a CI runner's
		// token, say) would show at /proc/1/cmdline, and at its one
		// thread's /proc/1/task/1/cmdline (the reaper makes no other),
		// in every procfs the spec mounts. Masked whatever the mount's
		// options (hidepid has exceptions: gid=, and a later hidepid=
		// wins); a path that does not show (hidden) is skipped.
		for _, m := range spec.Mounts {
			if m.Type == "proc" {
				d := path.Clean(m.Destination)
				masked = append(masked, path.Join(d, "1/cmdline"), path.Join(d, "1/task/1/cmdline"))
			}
		}
	}
	rootPlan, err := rootfs.Compile(spec, rootfs.Options{
		BundleDir: opts.BundleDir, SetupAsCaller: setupAsCaller, Privileged: privileged,
		ToHost: ids, Namespaces: have, Masked: masked,
	})
	if err != nil {
		errs = append(errs, err)
	}
	credPlan, err := creds.Compile(spec, creds.Options{Mapped: mapped, Setgroups: setgroups})
	if err != nil {
		errs = append(errs, err)
	}
	// A reaper is pid 1 of a new pid namespace, or the waiter that puts
	// the command in a joined one.
	reaper := init || (nsPlan != nil && nsPlan.JoinsPid())
	if credPlan != nil && reaper {
		switch {
		case parentDumpable():
			if err := reaperReach(credPlan, "an unprivileged caller's sandbox with a pid-1 reaper",
				"run as root, where the caller's memory is out of the sandbox's reach, or leave it out"); err != nil {
				errs = append(errs, err)
			}
		case nsPlan == nil || !nsPlan.NewUser():
			// Held in the host's user namespace (or one joined), it
			// reaches the reaper whatever its memory's dumpable flag.
			if err := reaperReach(credPlan, "a sandbox with a pid-1 reaper and no user namespace of its own",
				"give the sandbox a new user namespace, or leave it out"); err != nil {
				errs = append(errs, err)
			}
		}
	}
	var filter *seccomp.Filter
	if spec.Linux != nil && spec.Linux.Seccomp != nil {
		// The seccomp package's errors carry their field paths.
		f, err := seccomp.Compile(spec.Linux.Seccomp)
		if err != nil {
			errs = append(errs, err)
		} else {
			filter = f
			if f.Notify && f.ListenerPath == "" && opts.OnListener == nil {
				bad("linux.seccomp.listenerPath: a profile with SCMP_ACT_NOTIFY needs a listener path (or oci.Options.OnListener)")
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		nsPlan.Close()
		return nil, err
	}
	warnings = append(warnings, credPlan.Warnings()...)
	if rootPlan != nil {
		warnings = append(warnings, rootPlan.Warnings()...)
	}
	if usernsLast {
		warnings = append(warnings, nsBoundCaps(credPlan)...)
	} else if filter == nil && credPlan.MayHold()&(1<<unix.CAP_SYS_ADMIN) != 0 && have[specs.MountNamespace] {
		// The mounts were made in the command's own user namespace, so
		// the kernel does not lock their flags; the default profile
		// refuses mount(2), but there is no profile.
		warnings = append(warnings, "process.capabilities: CAP_SYS_ADMIN without a seccomp profile: the command can remount "+
			"read-only mounts read-write (an unprivileged caller's mounts are made in the command's own user namespace)")
	}
	if filter != nil {
		warnings = append(warnings, filter.Warnings...)
	}

	files := opts.Files
	if files == 0 {
		files = 3
	}
	c := &Compiled{ns: nsPlan, usernsLast: usernsLast, Warnings: warnings, filter: filter, opts: opts}
	b := spawn.NewBuilder(files)
	b.Grow(sandboxSteps)
	b.CloneFlags(nsPlan.CloneFlags())
	nsPlan.EmitJoins(b)
	if reaper {
		if opts.Pdeathsig != 0 {
			b.Pdeathsig(opts.Pdeathsig)
		}
		// pid 1 leaves the caller's session: a session is an autogroup,
		// whose niceness anyone with pid 1's ids may set through
		// /proc/1/autogroup, and the caller's shell must not be slowed
		// from inside.
		b.Setsid()
		b.Reaper()
		c.reaper = true
	}
	const scratch = 14 // seccomp.DefaultListenerReg is 15
	if !usernsLast {
		nsPlan.EmitUser(b, scratch)
	}
	credPlan.EmitPrivileged(b, scratch)
	creds.EmitSessionKeyring(b)
	// The cgroup joins, then the cgroup namespace rooted where they put
	// the child; before the mounts, since mounting cgroup2 needs that
	// namespace.
	if opts.Extra != nil {
		opts.Extra(b)
	}
	nsPlan.EmitCgroup(b)
	rootPlan.EmitBuild(b)
	nsPlan.EmitUTS(b)
	nsPlan.EmitLoopback(b, scratch)
	rootPlan.EmitPivot(b)
	if usernsLast {
		nsPlan.EmitUser(b, scratch)
		c.mapsAfterReaper = c.reaper
	} else {
		// The sync ran in the command's process, which shares the user
		// namespace the clone created: the reaper's /proc entry serves.
		c.mapsAfterReaper = false
	}
	credPlan.EmitNofile(b)
	// Without no_new_privs the kernel loads a filter only for a holder of
	// CAP_SYS_ADMIN, which the identity change may drop: load it before,
	// as runc does (the profile must then allow the remaining setup).
	early := filter != nil && !credPlan.NoNewPrivs()
	if early {
		filter.InstallWith(b, seccomp.InstallOptions{AllowNewPrivs: true})
	}
	// A session of its own, as runc gives every container: no controlling
	// terminal of the caller's to push input into (TIOCSTI). With
	// process.terminal, descriptor 0 (the slave of a pty the runner made)
	// becomes the session's controlling terminal, or with Options.Console
	// the slave of a pty the command makes once it has its identity.
	b.Setsid()
	console := -1
	if spec.Process != nil && spec.Process.Terminal {
		if opts.Console {
			console = b.Input("console socket")
		} else {
			b.Ctty(0)
		}
	}
	credPlan.EmitIdentity(b)
	if console >= 0 {
		var ws *unix.Winsize
		if cs := spec.Process.ConsoleSize; cs != nil {
			ws = &unix.Winsize{Row: uint16(cs.Height), Col: uint16(cs.Width)} // checked ≤ 65535
		}
		b.Console("/dev/pts/ptmx", console, ws, 13, scratch) // 15 is the listener's; nothing lives in 13 or 14 here
	}
	if opts.Pdeathsig != 0 && !c.reaper {
		b.Pdeathsig(opts.Pdeathsig) // after the identity change, which clears it
	}
	b.RestoreSigmask()
	b.MarkExec()
	credPlan.EmitNoNewPrivs(b)
	if filter != nil && !early {
		// Last before exec: the filter may forbid the setup's syscalls.
		filter.InstallWith(b, seccomp.InstallOptions{AllowNewPrivs: true})
	}
	emitExec(b, spec.Process, opts.Path)
	prog, err := b.Build()
	nsPlan.Close() // the program holds its own copies
	if err != nil {
		return nil, fmt.Errorf("oci: %w", err)
	}
	c.Program = prog
	return c, nil
}

// parentDumpable is spawn.ParentDumpable; tests replace it.
var parentDumpable = spawn.ParentDumpable

// reaperReach refuses a command that could reach the pid-1 reaper's
// memory. The reaper shares this process's memory (CLONE_VM, no exec);
// when that memory is dumpable (an unprivileged caller), the kernel lets a
// process with the reaper's uid open /proc/1/mem if it holds
// CAP_SYS_PTRACE in the reaper's user namespace, or a superset of the
// reaper's capabilities, which are all of them: either way CAP_SYS_PTRACE.
// Writing there runs code in the caller, outside every namespace, seccomp
// filter and limit.
//
// The same holds, whoever the caller, for a command that keeps
// CAP_SYS_PTRACE in the reaper's own user namespace: one without a new user
// namespace.
func reaperReach(p *creds.Plan, which, fix string) error {
	if p.MayHold()&(1<<unix.CAP_SYS_PTRACE) == 0 {
		return nil
	}
	return fmt.Errorf("process.capabilities: CAP_SYS_PTRACE is refused for %s: "+
		"the reaper shares the caller's memory, which the command could then write through /proc/1/mem (%s)", which, fix)
}

// nsBoundCaps warns about capabilities that act on the network, mount, uts
// or ipc namespace: with userns-last those belong to the host's user
// namespace, so the capability, held in the sandbox's, has no effect there.
func nsBoundCaps(p *creds.Plan) []string {
	var names []string
	for _, c := range []struct {
		bit  uint
		name string
	}{{unix.CAP_NET_BIND_SERVICE, "CAP_NET_BIND_SERVICE"}, {unix.CAP_NET_ADMIN, "CAP_NET_ADMIN"},
		{unix.CAP_NET_RAW, "CAP_NET_RAW"}, {unix.CAP_SYS_ADMIN, "CAP_SYS_ADMIN"}} {
		if p.MayHold()&(1<<c.bit) != 0 {
			names = append(names, c.name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("process.capabilities: %s: no effect on the sandbox's network, mount, uts and ipc namespaces, "+
		"which a privileged caller's sandbox creates before its user namespace (annotation %s), so they belong to the host's",
		strings.Join(names, ", "), AnnotationUsernsLast)}
}

// checkTopLevel refuses what this runtime does not implement and warns
// about what it accepts but ignores.
func checkTopLevel(spec *specs.Spec, opts Options, warnings *[]string) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if spec.Version != "" && !strings.HasPrefix(spec.Version, "1.") {
		bad("ociVersion: %q is not a 1.x version", spec.Version)
	}
	if spec.Windows != nil {
		bad("windows: not a Linux container")
	}
	if spec.Solaris != nil {
		bad("solaris: not a Linux container")
	}
	if spec.VM != nil {
		bad("vm: virtual-machine containers are not supported")
	}
	if spec.ZOS != nil {
		bad("zos: not a Linux container")
	}
	if spec.Hooks != nil {
		bad("hooks: not supported yet")
	}
	if p := spec.Process; p != nil {
		if len(p.Args) == 0 {
			bad("process.args: empty")
		} else if p.Args[0] == "" {
			bad("process.args[0]: empty")
		}
		if p.CommandLine != "" {
			bad("process.commandLine: Windows only")
		}
		if p.IOPriority != nil {
			bad("process.ioPriority: not supported yet")
		}
		if p.Scheduler != nil {
			bad("process.scheduler: not supported yet")
		}
		if p.ExecCPUAffinity != nil {
			bad("process.execCPUAffinity: not supported yet")
		}
		if p.ApparmorProfile != "" {
			*warnings = append(*warnings, "process.apparmorProfile: ignored (AppArmor profiles are not applied)")
		}
		if p.SelinuxLabel != "" {
			*warnings = append(*warnings, "process.selinuxLabel: ignored (SELinux labels are not applied)")
		}
		for i, e := range p.Env {
			if !strings.Contains(e, "=") {
				bad("process.env[%d]: %q is not KEY=VALUE", i, e)
			}
		}
		if p.Terminal && opts.Console && !ConsoleInside(spec) {
			bad("process.terminal: the terminal is made in the sandbox's devpts, and no mount of type devpts with ptmxmode=0666 is at /dev/pts (see ConsoleInside)")
		}
		if p.Terminal && opts.Console && opts.Files > 0 && opts.Files < 3 {
			bad("process.terminal: the terminal becomes descriptors 0, 1 and 2, and Options.Files is %d", opts.Files)
		}
		if cs := p.ConsoleSize; cs != nil && (cs.Height > 0xffff || cs.Width > 0xffff) {
			bad("process.consoleSize: %dx%d: at most 65535 rows and columns", cs.Height, cs.Width)
		}
	}
	if l := spec.Linux; l != nil {
		if l.Resources != nil && !opts.ResourcesApplied {
			bad("linux.resources: nothing here applies them: run the spec through sandbox run or sandbox.Cmd")
		}
		if l.CgroupsPath != "" {
			bad("linux.cgroupsPath: not supported yet")
		}
		if l.IntelRdt != nil {
			bad("linux.intelRdt: not supported")
		}
		if l.Personality != nil {
			bad("linux.personality: not supported yet")
		}
		if l.MemoryPolicy != nil {
			bad("linux.memoryPolicy: not supported yet")
		}
		if len(l.NetDevices) > 0 {
			bad("linux.netDevices: not supported yet")
		}
		if l.MountLabel != "" {
			*warnings = append(*warnings, "linux.mountLabel: ignored (SELinux labels are not applied)")
		}
	}
	return errs
}

// ConsoleInside reports whether spec mounts a devpts instance at /dev/pts
// whose ptmx anyone may open (ptmxmode=0666, as runc's specs and the
// default sandbox's have), with no later mount on it, over it or inside
// it, in a mount namespace of its own: where Options.Console makes the
// command's terminal.
func ConsoleInside(spec *specs.Spec) bool {
	if created, _ := Namespaces(spec); !created[specs.MountNamespace] {
		return false
	}
	inside := false
	for _, m := range spec.Mounts {
		switch d := path.Clean(m.Destination); {
		case d == "/dev/pts":
			inside = m.Type == "devpts" && ptmxOpen(m.Options)
		case d == "/dev" || d == "/" || strings.HasPrefix(d, "/dev/pts/"):
			inside = false // hides it, or what it holds
		}
	}
	return inside
}

// ptmxOpen reports whether devpts options give its ptmx mode o+rw (the
// last ptmxmode= counts, as with the kernel's; 0000 without one).
func ptmxOpen(options []string) bool {
	open := false
	for _, o := range options {
		if v, ok := strings.CutPrefix(o, "ptmxmode="); ok {
			mode, err := strconv.ParseUint(v, 8, 32)
			open = err == nil && mode&0o666 == 0o666
		}
	}
	return open
}

// sandboxSteps is about how many steps a sandbox's program has (the
// default sandbox's has 440): Compile reserves room for them at once.
const sandboxSteps = 512

// defaultPath is searched when process.env has no PATH, as runc does.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// emitExec execs args[0]: directly when it holds a slash, else through
// each $PATH directory of the command's environment in turn, inside the
// new root. As with execvp, ENOENT and EACCES pass the search on to the
// next directory; unlike execvp, any other error (ENOTDIR of a $PATH entry
// that is a file, for one) ends it (a step jumps on at most two errnos),
// and the error reported is the last directory's, even when an earlier one
// answered EACCES.
func emitExec(b *spawn.Builder, p *specs.Process, execPath string) {
	arg0 := p.Args[0]
	if execPath != "" {
		arg0 = execPath
	}
	if strings.Contains(arg0, "/") {
		b.Exec(arg0, p.Args, p.Env)
		return
	}
	if arg0 == "." || arg0 == ".." {
		b.Exec(arg0, p.Args, p.Env) // a directory: execve reports EACCES
		return
	}
	search := defaultPath
	for _, e := range p.Env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			search = v
		}
	}
	var dirs []string
	for _, d := range strings.Split(search, ":") {
		if d == "" {
			d = "."
		}
		dirs = append(dirs, d)
	}
	argv := b.StringArray(p.Args)
	envp := b.StringArray(p.Env)
	for i, d := range dirs {
		full := path.Join(d, arg0)
		c := spawn.Call{Nr: unix.SYS_EXECVE, Args: []spawn.Arg{b.String(full).Arg(), argv.Arg(), envp.Arg()}, Op: "execve", Target: full}
		if i < len(dirs)-1 {
			c.OnErrno = []unix.Errno{unix.ENOENT, unix.EACCES}
		} else if len(dirs) > 1 {
			// Its failure ends the search: name the command and the
			// search, not only the last directory.
			c.Target = arg0 + " in $PATH (" + search + ")"
		}
		b.Call(c)
	}
}

// Start spawns the compiled sandbox. attr is as for spawn.Start (nil Files
// leave every descriptor closed); Start adds the parent's half of the setup
// (the id maps) to its OnSync.
func (c *Compiled) Start(attr *spawn.Attr) (*spawn.Process, error) {
	return spawn.Start(c.Program, c.attr(attr))
}

// StartAsync is Start without waiting for the exec.
func (c *Compiled) StartAsync(attr *spawn.Attr) (*spawn.Process, error) {
	return spawn.StartAsync(c.Program, c.attr(attr))
}

func (c *Compiled) attr(a *spawn.Attr) *spawn.Attr {
	if a == nil {
		a = &spawn.Attr{}
	}
	n := *a
	if n.Files == nil {
		n.Files = make([]*os.File, c.Program.NumFiles())
	}
	user := a.OnSync
	n.OnSync = func(p *spawn.Process, id, val uint32) error {
		if id == seccomp.SyncListener && c.filter != nil {
			return c.takeListener(p, val)
		}
		if id == namespaces.SyncMaps {
			pid := p.Pid
			if c.mapsAfterReaper {
				var err error
				if pid, err = onlyChild(pid); err != nil {
					return err
				}
			}
			return c.ns.WriteMaps(pid)
		}
		if user != nil {
			return user(p, id, val)
		}
		return fmt.Errorf("oci: unexpected sync point %d", id)
	}
	return &n
}

// takeListener hands a notify filter's listener to its seccomp agent
// (linux.seccomp.listenerPath, with the container state, as runtime-spec
// config-linux.md says) or to Options.OnListener.
func (c *Compiled) takeListener(p *spawn.Process, fd uint32) error {
	var l *os.File
	var err error
	pid := p.Pid
	if c.reaper {
		// The filter is the command's, behind the reaper.
		if pid, err = onlyChild(p.Pid); err != nil {
			return err
		}
		l, err = getfd(pid, fd)
	} else {
		l, err = seccomp.TakeListener(p, fd)
	}
	if err != nil {
		return err
	}
	if c.filter.ListenerPath == "" {
		return c.opts.OnListener(p, l)
	}
	defer l.Close()
	st := specs.ContainerProcessState{
		Pid:      pid,
		Metadata: c.filter.ListenerMetadata,
		State: specs.State{Version: specs.Version, ID: c.opts.ContainerID, Status: specs.StateCreating,
			Pid: pid, Bundle: c.opts.BundleDir},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return seccomp.SendListener(ctx, c.filter.ListenerPath, l, st)
}

// getfd copies descriptor fd of process pid with pidfd_getfd (Linux 5.6);
// the process waits at a sync point meanwhile.
func getfd(pid int, fd uint32) (*os.File, error) {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, fmt.Errorf("oci: pidfd_open %d: %w", pid, err)
	}
	defer unix.Close(pidfd)
	n, err := unix.PidfdGetfd(pidfd, int(fd), 0)
	if err != nil {
		return nil, fmt.Errorf("oci: pidfd_getfd fd %d of pid %d: %w", fd, pid, err)
	}
	return os.NewFile(uintptr(n), "seccomp-listener"), nil
}

// onlyChild returns the single child of a reaper: the command, which
// entered the user namespace after the reaper split off.
func onlyChild(pid int) (int, error) {
	path := "/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(pid) + "/children"
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("oci: the reaper's child: %w", err)
	}
	var buf [64]byte
	n, err := unix.Read(fd, buf[:])
	unix.Close(fd)
	if err != nil {
		return 0, fmt.Errorf("oci: the reaper's child: read %s: %w", path, err)
	}
	f := strings.Fields(string(buf[:max(n, 0)]))
	if len(f) != 1 {
		return 0, fmt.Errorf("oci: the reaper has %d children, want 1", len(f))
	}
	return strconv.Atoi(f[0])
}

// Close releases the program's descriptors.
func (c *Compiled) Close() error { return c.Program.Close() }
