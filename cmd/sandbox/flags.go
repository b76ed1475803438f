package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	sandbox "github.com/gosandbox/sandbox"
	"github.com/gosandbox/sandbox/cgroups"
	"github.com/gosandbox/sandbox/creds"
	"github.com/gosandbox/sandbox/hostids"
	"github.com/gosandbox/sandbox/oci"
	"github.com/gosandbox/sandbox/rootfs"
	"github.com/gosandbox/sandbox/seccomp"
	"github.com/gosandbox/sandbox/spawn"
)

// runFlags are the flags `run` and `explain` share: everything that shapes
// the sandbox and its limits.
type runFlags struct {
	mounts     []mountArg // --bind, --ro-bind and --tmpfs, in command-line order
	env        listFlag
	capAdd     listFlag
	capDrop    listFlag
	chdir      string
	hostname   string
	shareNet   bool
	uid, gid   idFlag
	seccompArg string
	specPath   string
	rootDir    string
	printSpec  bool

	cpuTime, wallTime     durationFlag
	memory, output, fsize sizeFlag
	pids                  int64
	cpus                  float64
	nofile                uint64
	dieWithParent, strict bool
	tty                   bool
	statusJSON            string
	hostIDs               hostIDsFlag

	// dryRun is set for a command that starts nothing (explain).
	dryRun bool

	warnings []string // what the flags leave weaker than the default sandbox
}

// hostIDsFlag is --host-ids: "auto", or the first host id of the range.
type hostIDsFlag struct {
	auto bool
	base uint32
}

// maxHostIDBase is the last base whose 65536 ids end below the kernel's
// "no id" (2^32-1).
const maxHostIDBase = math.MaxUint32 - hostids.RangeSize

func (f *hostIDsFlag) String() string {
	switch {
	case f.auto:
		return "auto"
	case f.base != 0:
		return strconv.FormatUint(uint64(f.base), 10)
	}
	return ""
}

func (f *hostIDsFlag) Set(v string) error {
	if v == "auto" {
		f.auto, f.base = true, 0
		return nil
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n == 0 || n > maxHostIDBase {
		return fmt.Errorf("%q: want auto, or a first host id from 1 to %d", v, maxHostIDBase)
	}
	f.auto, f.base = false, uint32(n)
	return nil
}

type listFlag []string

// mountArg is one --bind, --ro-bind or --tmpfs, kept in the order given:
// a mount inside another's destination must come after it, as in bwrap.
type mountArg struct{ flag, arg string }

// mountFlag appends its flag's values to the shared, ordered list.
type mountFlag struct {
	name string
	list *[]mountArg
}

func (m mountFlag) String() string { return "" }
func (m mountFlag) Set(v string) error {
	*m.list = append(*m.list, mountArg{m.name, v})
	return nil
}

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// idFlag is a uid or gid inside the sandbox: 0 … 4294967294 (the last
// 32-bit value is the kernel's "no id"); unset until given.
type idFlag struct {
	id  uint32
	set bool
}

func (f *idFlag) String() string {
	if !f.set {
		return ""
	}
	return strconv.FormatUint(uint64(f.id), 10)
}

func (f *idFlag) Set(v string) error {
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n == math.MaxUint32 {
		return fmt.Errorf("%q: want an id from 0 to %d", v, uint32(math.MaxUint32-1))
	}
	f.id, f.set = uint32(n), true
	return nil
}

// maxSeconds is the longest limit a time.Duration holds, in seconds.
const maxSeconds = float64(math.MaxInt64 / int64(time.Second))

// durationFlag takes seconds ("1.5") or a Go duration ("1500ms").
type durationFlag time.Duration

func (d *durationFlag) String() string { return time.Duration(*d).String() }
func (d *durationFlag) Set(v string) error {
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if math.IsNaN(s) || s < 0 || s > maxSeconds {
			return fmt.Errorf("%q: want seconds from 0 to %.0f", v, maxSeconds)
		}
		t := time.Duration(s * float64(time.Second))
		if s > 0 && t < time.Microsecond {
			// 0 means no limit: a tiny limit must not become none.
			return fmt.Errorf("%q: want 0 (no limit) or at least a microsecond", v)
		}
		*d = durationFlag(t)
		return nil
	}
	t, err := time.ParseDuration(v)
	if err != nil || t < 0 {
		return fmt.Errorf("%q: want seconds (1.5) or a duration (1500ms)", v)
	}
	if t > 0 && t < time.Microsecond {
		return fmt.Errorf("%q: want 0 (no limit) or at least a microsecond", v)
	}
	*d = durationFlag(t)
	return nil
}

// sizeFlag takes bytes with an optional k, m, g suffix (powers of 1024).
type sizeFlag int64

func (s *sizeFlag) String() string { return strconv.FormatInt(int64(*s), 10) }
func (s *sizeFlag) Set(v string) error {
	n, err := parseSize(v)
	if err != nil {
		return err
	}
	*s = sizeFlag(n)
	return nil
}

func parseSize(v string) (int64, error) {
	mult := int64(1)
	t := strings.ToLower(strings.TrimSuffix(strings.TrimSuffix(v, "b"), "B"))
	switch {
	case strings.HasSuffix(t, "k"):
		mult, t = 1<<10, t[:len(t)-1]
	case strings.HasSuffix(t, "m"):
		mult, t = 1<<20, t[:len(t)-1]
	case strings.HasSuffix(t, "g"):
		mult, t = 1<<30, t[:len(t)-1]
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q: want a size in bytes, optionally with k, m or g", v)
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q: larger than %d bytes", v, int64(math.MaxInt64))
	}
	return n * mult, nil
}

func (f *runFlags) register(fs *flag.FlagSet) {
	fs.Var(mountFlag{"--bind", &f.mounts}, "bind", "bind `SRC:DST[:ro]` into the sandbox (repeatable; mount flags apply in the order given)")
	fs.Var(mountFlag{"--ro-bind", &f.mounts}, "ro-bind", "bind `SRC:DST` read-only (repeatable)")
	fs.Var(mountFlag{"--ro-bind-try", &f.mounts}, "ro-bind-try", "as --ro-bind, skipped when `SRC:DST`'s source does not exist (repeatable)")
	fs.Var(mountFlag{"--dev-bind", &f.mounts}, "dev-bind", "as --bind, device nodes under `SRC:DST` usable (no nodev; repeatable)")
	fs.Var(mountFlag{"--tmpfs", &f.mounts}, "tmpfs", "mount a tmpfs at `DST[:size=N,mode=M]` (repeatable)")
	fs.Var(&f.env, "env", "set `K=V` in the environment, or pass on sandbox run's own K (repeatable)")
	fs.Var(&f.capAdd, "cap-add", "grant a capability `CAP`, e.g. CHOWN (repeatable; ALL for every one); with the default seccomp profile, SYS_CHROOT, SYS_NICE and SYS_PTRACE also allow the syscalls they exist for")
	fs.Var(&f.capDrop, "cap-drop", "remove a capability `CAP` (repeatable; ALL for every one)")
	fs.StringVar(&f.chdir, "chdir", "", "working directory `DIR` inside the sandbox")
	fs.StringVar(&f.hostname, "hostname", "", "`NAME` of the host inside the sandbox (default sandbox)")
	fs.BoolVar(&f.shareNet, "share-net", false, "keep the host's network namespace")
	fs.Var(&f.uid, "uid", "uid inside the sandbox: `N` (default 0)")
	fs.Var(&f.gid, "gid", "gid inside the sandbox: `N` (default 0)")
	fs.StringVar(&f.seccompArg, "seccomp", "", "seccomp profile `default|unconfined|FILE.json`: the default profile (the default, but for a --spec, which keeps its own), none, or an OCI profile")
	fs.StringVar(&f.rootDir, "root", "", "use `DIR` as the sandbox's root, read-only, instead of an empty one with the host's /usr, /bin, /lib* and /etc")
	fs.StringVar(&f.specPath, "spec", "", "start from this OCI `config.json` instead of the default sandbox")
	fs.BoolVar(&f.printSpec, "print-spec", false, "print the effective spec as JSON and exit")
	fs.Var(&f.cpuTime, "time", "CPU time limit of the whole tree, in `SECONDS` (0: none)")
	fs.Var(&f.wallTime, "wall-time", "wall-clock limit, in `SECONDS` (0: none)")
	fs.Var(&f.memory, "memory", "memory limit (`SIZE`: bytes, or with k, m, g; 0: none)")
	fs.Int64Var(&f.pids, "pids", 0, "limit on processes and threads: `N` (0: none)")
	fs.Float64Var(&f.cpus, "cpus", 0, "CPU bandwidth of the whole tree, in CPUs: `N` (0.5: half of one CPU's time; 0: none)")
	fs.Var(&f.output, "output-limit", "limit on bytes written to stdout and stderr together (`SIZE`; 0: none)")
	fs.Var(&f.fsize, "fsize", "largest file the command may write (`SIZE`; 0: none)")
	fs.Uint64Var(&f.nofile, "nofile", 0, "limit on open descriptors per process: `N` (0: the default, 1024)")
	fs.BoolVar(&f.dieWithParent, "die-with-parent", false, "kill the sandbox when the process that started sandbox run dies (the sandbox always dies with sandbox run itself)")
	fs.BoolVar(&f.tty, "tty", false, "run the command on a terminal of its own (process.terminal), relayed to sandbox run's stdin and stdout; a terminal on stdin is put in raw mode meanwhile")
	fs.BoolVar(&f.strict, "strict", false, "refuse to run when a limit cannot be enforced on this host")
	fs.StringVar(&f.statusJSON, "status-json", "", "write the result record as JSON to `PATH` (- or /dev/stderr for stderr, /dev/stdout for stdout)")
	fs.Var(&f.hostIDs, "host-ids", "root caller: where the sandbox's 65536 ids map on the host: `auto|BASE`; auto for a range no other running sandbox holds, or the first host id (default "+strconv.Itoa(sandbox.DefaultHostIDBase)+")")
}

// hostBase is the first host id of the default sandbox's range: 0 for the
// default (and for auto, whose range Start reserves), else what
// --host-ids names. For a command that runs nothing (explain,
// --print-spec), auto shows the pool's first range.
func (f *runFlags) hostBase(dryRun bool) (uint32, error) {
	if !f.hostIDs.auto && f.hostIDs.base == 0 {
		return 0, nil
	}
	if f.specPath != "" {
		return 0, errors.New("--host-ids: not with --spec, whose linux.uidMappings and linux.gidMappings say where its ids go")
	}
	if os.Geteuid() != 0 {
		return 0, errors.New("--host-ids: only for a root caller: an unprivileged caller's sandbox maps its own uid and gid alone")
	}
	pool := hostids.DefaultPool()
	if f.hostIDs.auto {
		if dryRun {
			f.warnings = append(f.warnings, fmt.Sprintf("--host-ids auto: the range is chosen when the sandbox runs; shown here from %d", pool.First))
			return pool.First, nil
		}
		return 0, nil
	}
	// An explicit range must be nobody's: the host id it starts at owns
	// the sandbox's user namespace, and with it every capability there.
	base := uint64(f.hostIDs.base)
	poolEnd := uint64(pool.First) + uint64(pool.Ranges)*hostids.RangeSize
	if base < poolEnd && uint64(pool.First) < base+hostids.RangeSize {
		return 0, fmt.Errorf("--host-ids %d: host ids %d-%d are for --host-ids auto, which locks each range it hands out; use auto, or a range outside them",
			base, pool.First, poolEnd-1)
	}
	if def := uint64(sandbox.DefaultHostIDBase); base != def && base < def+hostids.RangeSize && def < base+hostids.RangeSize {
		return 0, fmt.Errorf("--host-ids %d: overlaps host ids %d-%d, the default sandboxes' (whose root, id %d, would be one of this sandbox's users); use %d itself, auto, or a range apart",
			base, def, def+hostids.RangeSize-1, def, def)
	}
	if who := hostids.Conflicts(base, hostids.RangeSize, pool.Passwd, pool.Group, pool.SubUID, pool.SubGID); len(who) > 0 {
		if len(who) > 3 {
			who = append(who[:3], fmt.Sprintf("%d more", len(who)-3))
		}
		return 0, fmt.Errorf("--host-ids %d: host ids %d-%d also belong to %s: they would own what the sandbox writes and could signal its processes, "+
			"and the owner of id %d its user namespace; use auto, or a range nobody has",
			base, base, base+hostids.RangeSize-1, strings.Join(who, ", "), base)
	}
	return f.hostIDs.base, nil
}

// command builds the Cmd for argv from the flags.
func (f *runFlags) command(argv []string) (*sandbox.Cmd, error) {
	dryRun := f.dryRun || f.printSpec
	hostBase, err := f.hostBase(dryRun)
	if err != nil {
		return nil, err
	}
	var spec *specs.Spec
	var errs []error
	if f.specPath != "" && f.rootDir != "" {
		return nil, errors.New("--root: not with --spec, whose root.path says where its root is")
	}
	if f.specPath != "" {
		b, err := os.ReadFile(f.specPath)
		if err != nil {
			return nil, fmt.Errorf("--spec: %w", err)
		}
		spec = new(specs.Spec)
		if err := json.Unmarshal(b, spec); err != nil {
			return nil, fmt.Errorf("--spec %s: %w", f.specPath, err)
		}
		if spec.Root != nil && spec.Root.Path != "" && !filepath.IsAbs(spec.Root.Path) {
			spec.Root.Path = filepath.Join(filepath.Dir(f.specPath), spec.Root.Path)
		}
		if spec.Process == nil {
			spec.Process = &specs.Process{Cwd: "/"}
		}
		if f.hostname != "" {
			spec.Hostname = f.hostname
		}
		if f.shareNet && spec.Linux != nil {
			spec.Linux.Namespaces = slices.DeleteFunc(spec.Linux.Namespaces, func(n specs.LinuxNamespace) bool {
				return n.Type == specs.NetworkNamespace
			})
		}
	} else {
		root := f.rootDir
		if root != "" {
			var err error
			if root, err = rootDir(root); err != nil {
				return nil, fmt.Errorf("--root %s: %w", f.rootDir, err)
			}
		}
		spec = sandbox.DefaultSpec(sandbox.DefaultOptions{Args: argv, Hostname: f.hostname, ShareNet: f.shareNet, HostIDBase: hostBase, Root: root})
	}
	if len(argv) == 0 && (spec.Process == nil || len(spec.Process.Args) == 0) {
		name := "run"
		if f.dryRun && !f.printSpec {
			name = "explain"
		}
		return nil, fmt.Errorf("no command: sandbox %s [flags] -- CMD [ARG…]", name)
	}
	// Destinations the flags name, each once: a second mount on the same
	// path would hide the first without a word.
	dsts := map[string]string{}
	var order []string // destinations, in the order given
	// The root's own links (a merged-/usr host's /lib → usr/lib): two
	// destinations that name one place through them are one. (Links in
	// a --root image or in a bound directory are not read.)
	var rootLinks [][2]string
	if v := spec.Annotations[rootfs.AnnotationSymlinks]; v != "" {
		for _, pair := range strings.Split(v, ",") {
			if link, target, ok := strings.Cut(pair, ":"); ok {
				link = filepath.Clean(link)
				if !filepath.IsAbs(target) {
					target = filepath.Join(filepath.Dir(link), target)
				}
				rootLinks = append(rootLinks, [2]string{link, filepath.Clean(target)})
			}
		}
	}
	claim := func(flag, arg, dst string) error {
		dst = filepath.Clean(dst)
		for range 40 { // links to links, as the kernel's bound
			changed := false
			for _, l := range rootLinks {
				if dst == l[0] || strings.HasPrefix(dst, l[0]+"/") {
					dst, changed = filepath.Join(l[1], strings.TrimPrefix(dst, l[0])), true
					break
				}
			}
			if !changed {
				break
			}
		}
		if prev, ok := dsts[dst]; ok {
			return fmt.Errorf("destination %s is already mounted by %s", dst, prev)
		}
		// A mount over an earlier one's parent would hide it without a
		// word (a --bind over the directory of a --ro-bind made inside
		// it would make that path writable again).
		for _, d := range order {
			if strings.HasPrefix(d, dst+"/") || dst == "/" {
				return fmt.Errorf("it would hide %s, given before it: mount flags apply in order, so give the outer one first", dsts[d])
			}
		}
		dsts[dst] = flag + " " + arg
		order = append(order, dst)
		return nil
	}
	// In the order given: a later mount may go inside an earlier one's
	// destination (a writable bind in a read-only one, a bind in a tmpfs).
	var rwBinds []mountArg
	for _, ma := range f.mounts {
		m, err := f.mount(ma)
		if err == errSkipMount {
			continue
		}
		if err == nil {
			err = claim(ma.flag, ma.arg, m.Destination)
		}
		if err == nil && f.rootDir != "" && f.specPath == "" {
			err = inImage(spec.Root.Path, m.Destination, order[:len(order)-1])
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", ma.flag, ma.arg, err))
			continue
		}
		if err := tmpfsIDsMapped(spec, m); err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", ma.flag, ma.arg, err))
			continue
		}
		spec.Mounts = append(spec.Mounts, m)
		if m.Type == "bind" && !slices.Contains(m.Options, "ro") {
			rwBinds = append(rwBinds, ma)
		}
	}
	// --env K=V sets K; --env K passes on sandbox run's own K, if set.
	var env []string
	for _, e := range f.env {
		k, _, ok := strings.Cut(e, "=")
		switch {
		case k == "" || strings.ContainsRune(k, 0):
			errs = append(errs, fmt.Errorf("--env %s: want K=V or K, with a non-empty K", e))
		case ok:
			env = append(env, e)
		default:
			if v, set := os.LookupEnv(k); set {
				env = append(env, k+"="+v)
			} else {
				f.warnings = append(f.warnings, "--env "+k+": not set here, nothing passed on")
			}
		}
	}
	if f.tty {
		spec.Process.Terminal = true
	}
	if spec.Process.Terminal && !hasEnv(spec.Process.Env, "TERM") && !hasEnv(env, "TERM") {
		// Programs on a terminal want its type: the caller's, as docker
		// -t gives xterm.
		term := os.Getenv("TERM")
		if term == "" || term == "dumb" {
			term = "xterm"
		}
		env = append(env, "TERM="+term)
	}
	if f.uid.set {
		spec.Process.User.UID = f.uid.id
	}
	if f.gid.set {
		spec.Process.User.GID = f.gid.id
	}
	if created, _ := oci.Namespaces(spec); created[specs.UserNamespace] {
		for _, id := range []struct {
			flag string
			set  bool
			id   uint32
			maps []specs.LinuxIDMapping
		}{{"--uid", f.uid.set, f.uid.id, spec.Linux.UIDMappings}, {"--gid", f.gid.set, f.gid.id, spec.Linux.GIDMappings}} {
			if id.set && !mapped(id.maps, id.id) {
				errs = append(errs, fmt.Errorf("%s %d: not mapped in the sandbox's user namespace (%s)", id.flag, id.id, mappedRanges(id.maps)))
			}
		}
	}
	if f.chdir != "" && !filepath.IsAbs(f.chdir) {
		errs = append(errs, fmt.Errorf("--chdir %s: not an absolute path", f.chdir))
	}
	if f.pids < 0 || f.pids > cgroups.MaxPids {
		errs = append(errs, fmt.Errorf("--pids %d: must be between 0 (no limit) and %d", f.pids, cgroups.MaxPids))
	}
	if f.memory > 0 && f.memory < cgroups.MinMemory {
		errs = append(errs, fmt.Errorf("--memory %d: at least 1m (a smaller limit would take the sandbox's setup, which shares sandbox run's memory)", f.memory))
	}
	if err := sandbox.CheckOpenFiles(f.nofile); err != nil {
		errs = append(errs, fmt.Errorf("--nofile %d: %w", f.nofile, err))
	}
	if f.cpus != 0 && !(f.cpus >= 0.01 && f.cpus <= sandbox.MaxCPUs) {
		errs = append(errs, fmt.Errorf("--cpus %g: must be between 0.01 and %d, or 0 (no limit)", f.cpus, sandbox.MaxCPUs))
	}
	added, err := f.applyCaps(spec)
	if err != nil {
		errs = append(errs, err)
	}
	// Without --seccomp, a --spec keeps its own profile (or none); the
	// default sandbox gets the default profile.
	seccompArg := f.seccompArg
	if seccompArg == "" && f.specPath == "" {
		seccompArg = "default"
	}
	switch seccompArg {
	case "":
	case "default":
		if spec.Linux == nil {
			spec.Linux = &specs.Linux{}
		}
		spec.Linux.Seccomp = seccomp.DefaultProfile()
		// Capabilities asked for by name open the syscalls they exist
		// for, where those stay inside the sandbox; the rest are named.
		// Tracing stays away from pid 1, which shares this process's
		// memory, only for a root caller (the memory is not dumpable) and
		// a new user namespace (the capability held there, not in the
		// host's); oci.Compile refuses CAP_SYS_PTRACE otherwise.
		created, _ := oci.Namespaces(spec)
		ptraceSafe := !spawn.ParentDumpable() && created[specs.UserNamespace]
		for _, w := range seccomp.GrantCaps(spec.Linux.Seccomp, added, ptraceSafe) {
			f.warnings = append(f.warnings, "--cap-add "+w)
		}
	case "unconfined":
		if spec.Linux != nil {
			spec.Linux.Seccomp = nil
		}
	default:
		p, err := seccomp.LoadProfile(f.seccompArg)
		if err != nil {
			errs = append(errs, fmt.Errorf("--seccomp: %w", err))
		} else {
			if spec.Linux == nil {
				spec.Linux = &specs.Linux{}
			}
			spec.Linux.Seccomp = p
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if base := hostBase; f.specPath == "" && os.Geteuid() == 0 && !f.hostIDs.auto {
		// A root caller's sandbox runs as other host ids: a writable bind
		// its command cannot write is the first surprise (bwrap keeps the
		// caller's ids).
		if base == 0 {
			base = sandbox.DefaultHostIDBase
		}
		uid, gid := base+spec.Process.User.UID, base+spec.Process.User.GID
		for _, ma := range rwBinds {
			src, _, _ := strings.Cut(ma.arg, ":")
			if w := unwritableBy(src, uid, gid); w != "" {
				f.warnings = append(f.warnings, fmt.Sprintf("%s %s: %s; the command runs as host uid %d there, so it cannot write it (chown %d:%d it, or --ro-bind)",
					ma.flag, ma.arg, w, uid, uid, gid))
			}
		}
	}
	if f.specPath != "" {
		f.warnings = append(f.warnings, specWarnings(spec, f.seccompArg == "")...)
	}
	c := &sandbox.Cmd{Spec: spec, SpecOwned: true, Env: env, Dir: f.chdir, Strict: f.strict, DieWithParent: true,
		// --host-ids auto: Start reserves the range and holds it until
		// the sandbox is gone.
		OwnHostIDs: f.hostIDs.auto && !dryRun}
	if len(argv) > 0 {
		c.Path, c.Args = argv[0], argv
	}
	c.Limits = sandbox.Limits{
		CPUTime: time.Duration(f.cpuTime), WallTime: time.Duration(f.wallTime),
		Memory: int64(f.memory), Pids: f.pids, CPUs: f.cpus, Output: int64(f.output),
		FileSize: int64(f.fsize), OpenFiles: f.nofile,
	}
	return c, nil
}

// specWarnings names the protections of the default sandbox that a --spec
// leaves out, so that running one is never quietly weaker.
func specWarnings(spec *specs.Spec, seccompUnset bool) []string {
	var w []string
	have, _ := oci.Namespaces(spec)
	var missing []string
	for _, t := range []specs.LinuxNamespaceType{specs.UserNamespace, specs.MountNamespace, specs.PIDNamespace,
		specs.NetworkNamespace, specs.IPCNamespace, specs.UTSNamespace, specs.CgroupNamespace} {
		if !have[t] {
			missing = append(missing, string(t))
		}
	}
	if len(missing) > 0 {
		w = append(w, fmt.Sprintf("--spec: the command shares the host's %s namespace(s)", strings.Join(missing, ", ")))
	}
	if spec.Linux != nil && have[specs.UserNamespace] {
		for _, m := range []struct {
			field string
			maps  []specs.LinuxIDMapping
		}{{"linux.uidMappings", spec.Linux.UIDMappings}, {"linux.gidMappings", spec.Linux.GIDMappings}} {
			for i, e := range m.maps {
				if e.HostID == 0 && e.Size > 0 {
					w = append(w, fmt.Sprintf("--spec: %s[%d] maps id %d to the host's root: the sandbox runs as host root", m.field, i, e.ContainerID))
				}
			}
		}
	}
	if seccompUnset && (spec.Linux == nil || spec.Linux.Seccomp == nil) {
		w = append(w, "--spec: no seccomp profile (--seccomp default adds the default one)")
	}
	if spec.Process != nil && !spec.Process.NoNewPrivileges {
		w = append(w, "--spec: process.noNewPrivileges is false: setuid and file-capability binaries can gain privileges")
	}
	// The default sandbox's masked and read-only paths (under /proc and
	// /sys) that the spec leaves open.
	def := sandbox.DefaultSpec(sandbox.DefaultOptions{}).Linux
	var masked, readonly []string
	if spec.Linux != nil {
		masked, readonly = spec.Linux.MaskedPaths, spec.Linux.ReadonlyPaths
	}
	w = appendLeftOut(w, "linux.maskedPaths", def.MaskedPaths, masked)
	w = appendLeftOut(w, "linux.readonlyPaths", def.ReadonlyPaths, readonly)
	return w
}

// appendLeftOut warns when given leaves out paths of want.
func appendLeftOut(w []string, field string, want, given []string) []string {
	var out []string
	for _, p := range want {
		if !slices.Contains(given, p) {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return w
	}
	return append(w, fmt.Sprintf("--spec: %s leaves out %s", field, strings.Join(out, ", ")))
}

// tmpfsFlags are the options without a value --tmpfs takes.
var tmpfsFlags = []string{"noexec", "ro", "noatime", "relatime", "strictatime", "nodiratime"}

// mount is the spec's mount for one mount flag.
// errSkipMount is mount's answer for a --ro-bind-try whose source is
// missing: nothing to mount, and no error.
var errSkipMount = errors.New("source missing")

func (f *runFlags) mount(ma mountArg) (specs.Mount, error) {
	switch ma.flag {
	case "--bind":
		return bindMount(ma.arg, false, false)
	case "--ro-bind":
		return bindMount(ma.arg, true, false)
	case "--dev-bind":
		return bindMount(ma.arg, false, true)
	case "--ro-bind-try":
		m, err := bindMount(ma.arg, true, false)
		if errors.Is(err, os.ErrNotExist) {
			return m, errSkipMount
		}
		return m, err
	}
	dst, opts, _ := strings.Cut(ma.arg, ":")
	if !filepath.IsAbs(dst) {
		return specs.Mount{}, fmt.Errorf("%q is not an absolute path", dst)
	}
	if err := checkDestination(dst); err != nil {
		return specs.Mount{}, err
	}
	m := specs.Mount{Destination: dst, Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=1777"}}
	if opts == "" {
		return m, nil
	}
	for _, o := range strings.Split(opts, ",") {
		k, v, hasV := strings.Cut(o, "=")
		switch {
		case k == "size" && hasV:
			n, err := parseSize(v)
			if err != nil {
				return specs.Mount{}, err
			}
			o = "size=" + strconv.FormatInt(n, 10)
		case k == "mode" && hasV:
			if n, err := strconv.ParseUint(v, 8, 32); err != nil || n > 0o7777 {
				return specs.Mount{}, fmt.Errorf("mode %q: want octal permissions (0755)", v)
			}
		case (k == "uid" || k == "gid" || k == "nr_inodes" || k == "nr_blocks") && hasV:
			if _, err := strconv.ParseUint(v, 10, 32); err != nil {
				return specs.Mount{}, fmt.Errorf("%s %q: want a number", k, v)
			}
		case !hasV && slices.Contains(tmpfsFlags, k):
		default:
			// suid, dev and exec among them: they would undo nosuid and
			// nodev, which every --tmpfs gets.
			return specs.Mount{}, fmt.Errorf("unknown option %q: want size=, mode=, uid=, gid=, nr_inodes=, nr_blocks= or one of %s",
				o, strings.Join(tmpfsFlags, ", "))
		}
		m.Options = append(m.Options, o)
	}
	return m, nil
}

// bindMount is the spec's mount of a --bind (ro: --ro-bind; dev: without
// nodev, --dev-bind).
func bindMount(arg string, ro, dev bool) (specs.Mount, error) {
	parts := strings.Split(arg, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		if ro {
			return specs.Mount{}, errors.New("want SRC:DST, one argument (bwrap's SRC DST is two)")
		}
		return specs.Mount{}, errors.New("want SRC:DST[:ro|:rw], one argument (bwrap's SRC DST is two)")
	}
	if len(parts) == 3 {
		if ro {
			return specs.Mount{}, errors.New("want SRC:DST (always read-only)")
		}
		if parts[2] != "ro" && parts[2] != "rw" {
			return specs.Mount{}, fmt.Errorf("unknown mode %q, want ro or rw", parts[2])
		}
		ro = parts[2] == "ro"
	}
	// The destination first: a --ro-bind-try skipped for its source must
	// not pass a destination no mount may have.
	if !filepath.IsAbs(parts[1]) {
		return specs.Mount{}, fmt.Errorf("destination %q is not absolute", parts[1])
	}
	if err := checkDestination(parts[1]); err != nil {
		return specs.Mount{}, err
	}
	src, err := filepath.Abs(parts[0])
	if err != nil {
		return specs.Mount{}, err
	}
	if _, err := os.Stat(src); err != nil {
		return specs.Mount{}, err
	}
	opts := []string{"rbind", "nosuid", "nodev"}
	if dev {
		opts = opts[:2]
	}
	if ro {
		opts = append(opts, "ro")
	}
	return specs.Mount{Destination: parts[1], Type: "bind", Source: src, Options: opts}, nil
}

// checkDestination refuses the two destinations a flag must not replace:
// "/" (the sandbox's root; --spec with root.path chooses another) and
// "/proc" (the sandbox's own procfs, which confines the command's view to
// its pid namespace; files under /proc may still be covered).
func checkDestination(dst string) error {
	switch filepath.Clean(dst) {
	case "/":
		return errors.New("destination / is the sandbox's root (a --spec with root.path chooses another root)")
	case "/proc":
		return errors.New("destination /proc is the sandbox's own procfs and cannot be replaced")
	}
	return nil
}

// applyCaps adds and drops capabilities in every set: for root inside the
// sandbox the bounding set decides, for any other uid the ambient set. It
// returns the capabilities --cap-add granted that --cap-drop left.
func (f *runFlags) applyCaps(spec *specs.Spec) ([]string, error) {
	if len(f.capAdd) == 0 && len(f.capDrop) == 0 {
		return nil, nil
	}
	if spec.Process.Capabilities == nil {
		spec.Process.Capabilities = &specs.LinuxCapabilities{}
	}
	c := spec.Process.Capabilities
	sets := []*[]string{&c.Bounding, &c.Effective, &c.Permitted, &c.Inheritable, &c.Ambient}
	names := func(list []string) ([]string, error) {
		var out []string
		for _, item := range list {
			for _, n := range strings.Split(item, ",") {
				if strings.EqualFold(n, "ALL") {
					out = append(out, creds.CapNames()...)
					continue
				}
				i, ok := creds.CapByName(n)
				if !ok {
					return nil, fmt.Errorf("unknown capability %q", n)
				}
				out = append(out, creds.CapNames()[i])
			}
		}
		return out, nil
	}
	add, err := names(f.capAdd)
	if err != nil {
		return nil, fmt.Errorf("--cap-add: %w", err)
	}
	drop, err := names(f.capDrop)
	if err != nil {
		return nil, fmt.Errorf("--cap-drop: %w", err)
	}
	for _, s := range sets {
		for _, n := range add {
			if !slices.Contains(*s, n) {
				*s = append(*s, n)
			}
		}
		*s = slices.DeleteFunc(*s, func(n string) bool { return slices.Contains(drop, n) })
	}
	return slices.DeleteFunc(add, func(n string) bool { return slices.Contains(drop, n) }), nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// hasEnv reports whether env (K=V entries) sets k.
func hasEnv(env []string, k string) bool {
	return slices.ContainsFunc(env, func(e string) bool { return strings.HasPrefix(e, k+"=") })
}

// unwritableBy says why host uid:gid cannot write the bind source src
// (judged by its mode bits alone), or "" when it can.
func unwritableBy(src string, uid, gid uint32) string {
	var st unix.Stat_t
	if unix.Stat(src, &st) != nil {
		return ""
	}
	switch {
	case st.Uid == uid && st.Mode&0o200 != 0, st.Gid == gid && st.Mode&0o020 != 0, st.Mode&0o002 != 0:
		return ""
	}
	return fmt.Sprintf("it belongs to %d:%d, mode %o", st.Uid, st.Gid, st.Mode&0o7777)
}

// mapped reports whether maps give container id id a host id.
func mapped(maps []specs.LinuxIDMapping, id uint32) bool {
	return slices.ContainsFunc(maps, func(m specs.LinuxIDMapping) bool { return id >= m.ContainerID && id-m.ContainerID < m.Size })
}

// mappedRanges lists the container ids maps cover: "ids 0-65535".
func mappedRanges(maps []specs.LinuxIDMapping) string {
	if len(maps) == 0 {
		return "no ids"
	}
	var r []string
	for _, m := range maps {
		if m.Size == 1 {
			r = append(r, fmt.Sprint(m.ContainerID))
		} else {
			r = append(r, fmt.Sprintf("%d-%d", m.ContainerID, m.ContainerID+m.Size-1))
		}
	}
	return "ids " + strings.Join(r, ", ")
}

// tmpfsIDsMapped refuses a tmpfs owner (uid=, gid=) that the sandbox's
// user namespace does not map: the kernel would answer EINVAL.
func tmpfsIDsMapped(spec *specs.Spec, m specs.Mount) error {
	if created, _ := oci.Namespaces(spec); m.Type != "tmpfs" || !created[specs.UserNamespace] {
		return nil
	}
	for _, o := range m.Options {
		k, v, _ := strings.Cut(o, "=")
		maps := spec.Linux.UIDMappings
		if k == "gid" {
			maps = spec.Linux.GIDMappings
		} else if k != "uid" {
			continue
		}
		id, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			continue // refused by the option check
		}
		if !mapped(maps, uint32(id)) {
			return fmt.Errorf("%s %d is not mapped in the sandbox's user namespace (%s)", k, id, mappedRanges(maps))
		}
	}
	return nil
}

// inImage refuses a destination that --root's read-only image lacks
// (the setup could not make it there) unless a tmpfs of the sandbox's
// (/dev, /tmp) or a mount given before it (earlier) holds it.
func inImage(root, dst string, earlier []string) error {
	dst = filepath.Clean(dst)
	for _, d := range append([]string{"/dev", "/tmp"}, earlier...) {
		if strings.HasPrefix(dst, d+"/") {
			return nil
		}
	}
	if _, err := os.Lstat(filepath.Join(root, dst)); err != nil {
		return fmt.Errorf("destination %s is not in --root %s, which is read-only: make it there", dst, root)
	}
	return nil
}

// rootDir is --root's directory, absolute, checked as
// rootfs.CheckImageRoot does: not the host's own root (by device and
// inode: /proc/self/root is "/" too), with the mount points the default
// sandbox needs as real directories (its root is read-only: nothing can
// be made in it), and that nobody but root and the caller can change.
func rootDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	// Links are resolved here only to check the directory they lead to;
	// the spec keeps abs, whose links the compiler follows only when
	// root or the caller owns them, and checks again.
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", err
	}
	if err := rootfs.CheckImageRoot(real); err != nil {
		return "", err
	}
	return abs, nil
}
